// hpt-impostor: a peer that tries to act as the workers of a running coordinator, for the chaos
// run (bench/chaos.py --impostor) and the integration tests. It knows the worker ids (as anyone
// reading `hpt workers` does) and the trial ids, but none of the session tokens.
//
//   hpt-impostor --connect tcp://127.0.0.1:PORT --ids w0,w1 --trials 200 --seconds 30
//
// Every round it (1) registers as one of the ids from a fresh connection with a made-up token,
// (2) connects with the id as its routing id (what took a worker's connection over before
// issue 15) and (3) sends, from both, forged metrics (objective 999) and results (log path
// /forged) for random trials and attempts under made-up tokens, with heartbeats. Should a
// registration be welcomed (an id that was free: its worker had just died), it says goodbye at
// once and forges nothing with it. Prints one JSON line: what it sent and what it was given.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "proto/messages.h"
#include "proto/transport.h"

namespace {

using namespace std::chrono_literals;
using hpt::Channel;
using hpt::Message;

struct Args {
  std::string connect;
  std::vector<std::string> ids;
  int64_t trials = 100;
  double seconds = 10;
};

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--connect") {
      a.connect = value;
    } else if (flag == "--ids") {
      std::stringstream list(value);
      for (std::string id; std::getline(list, id, ',');) a.ids.push_back(id);
    } else if (flag == "--trials") {
      a.trials = std::stoll(value);
    } else if (flag == "--seconds") {
      a.seconds = std::stod(value);
    } else {
      std::fprintf(stderr, "hpt-impostor: unknown flag %s\n", flag.c_str());
      std::exit(2);
    }
  }
  if (a.connect.empty() || a.ids.empty() || a.trials < 1) {
    std::fprintf(stderr, "usage: hpt-impostor --connect EP --ids ID[,ID...] [--trials N] [--seconds S]\n");
    std::exit(2);
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = Parse(argc, argv);
  hpt::Network network;
  std::mt19937_64 rng(std::random_device{}());
  auto pick = [&](int64_t n) { return static_cast<int64_t>(rng() % static_cast<uint64_t>(n)); };
  int64_t sent = 0, registrations = 0, welcomed = 0, assigned = 0;
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(a.seconds);
  while (std::chrono::steady_clock::now() < end) {
    const std::string id = a.ids[static_cast<size_t>(pick(static_cast<int64_t>(a.ids.size())))];
    hpt::ChannelOptions plain;
    auto registering = Channel::Connect(network, a.connect, plain);
    hpt::ChannelOptions named;
    named.identity = id;
    auto same_name = Channel::Connect(network, a.connect, named);
    ++registrations;
    registering->Send(hpt::RegisterMsg{id, "impostor", {{0, -1}}, {}, {}, rng() | 1});
    ++sent;
    for (Channel* channel : {registering.get(), same_name.get()}) {
      for (int k = 0; k < 4; ++k) {
        const int64_t trial = 1 + pick(a.trials);
        const int64_t attempt = 1 + pick(3);
        const uint64_t token = rng() | 1;
        channel->Send(hpt::MetricsMsg{trial, attempt, {{"score", 1, 999.0, 1.0}}, 1, token, {}});
        channel->Send(hpt::FinishedMsg{trial, attempt, hpt::FinishCause::kExited, 0, "", "/forged", token});
        channel->Send(hpt::HeartbeatMsg{{{trial, attempt, {0}}}, token});
        sent += 3;
      }
    }
    // Whatever comes back within a moment: a Welcome would mean the id was free.
    const auto listen_until = std::chrono::steady_clock::now() + 150ms;
    while (std::chrono::steady_clock::now() < listen_until) {
      registering->Wait(20ms);
      while (auto in = registering->TryReceive()) {
        if (const auto* welcome = std::get_if<hpt::WelcomeMsg>(&in->message)) {
          ++welcomed;
          registering->Send(hpt::GoodbyeMsg{welcome->token});
        } else if (std::holds_alternative<hpt::AssignMsg>(in->message)) {
          ++assigned;
        }
      }
    }
    std::this_thread::sleep_for(100ms);
  }
  std::printf("{\"sent\": %lld, \"registrations\": %lld, \"welcomed\": %lld, \"assigned\": %lld}\n",
              static_cast<long long>(sent), static_cast<long long>(registrations),
              static_cast<long long>(welcomed), static_cast<long long>(assigned));
  return 0;
}
