// Messages per second through a ROUTER/DEALER pair on tcp loopback, plain and with CURVE, in the
// same run. Prints one JSON object. Usage: hpt-transport-bench [messages]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "proto/transport.h"

namespace {

using Clock = std::chrono::steady_clock;

// Sends `n` metric batches from a worker-like DEALER and waits until the ROUTER got them all;
// returns messages per second.
double Run(bool curve, int n) {
  hpt::Network network;
  hpt::ChannelOptions server_options, client_options;
  client_options.identity = "bench-worker";
  if (curve) {
    const hpt::CurveKeys server = hpt::GenerateCurveKeys();
    const hpt::CurveKeys client = hpt::GenerateCurveKeys();
    server_options.curve = server;
    server_options.curve_allowed = {hpt::AllowedKey{client.public_key, hpt::KeyRole::kWorker, "bench"}};
    client_options.curve = client;
    client_options.curve_server_key = server.public_key;
  }
  auto router = hpt::Channel::Bind(network, "tcp://127.0.0.1:0", server_options);
  auto dealer = hpt::Channel::Connect(network, router->endpoint(), client_options);
  // Handshake first, so that only steady-state throughput is timed.
  dealer->Send(hpt::HeartbeatMsg{});
  while (!router->TryReceive()) router->Wait(std::chrono::milliseconds(10));
  hpt::MetricsMsg batch{42, 1, {{"val_loss", 1, 0.25, 1.7e9}, {"val_accuracy", 1, 0.93, 1.7e9}}, 0};
  const auto start = Clock::now();
  std::thread sender([&] {
    for (int i = 1; i <= n; ++i) {
      batch.seq = static_cast<uint64_t>(i);
      while (!dealer->Send(batch)) std::this_thread::yield();
    }
  });
  int received = 0;
  while (received < n) {
    if (router->TryReceive()) {
      ++received;
    } else {
      router->Wait(std::chrono::milliseconds(10));
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  sender.join();
  return n / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 200000;
  const double plain = Run(false, n);
  const double curve = Run(true, n);
  std::printf("{\"messages\": %d, \"plain_msgs_per_s\": %.0f, \"curve_msgs_per_s\": %.0f, \"curve_over_plain\": %.3f}\n",
              n, plain, curve, curve / plain);
  return 0;
}
