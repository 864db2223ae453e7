// hpt-sim-worker: simulated workers for the throughput bench (bench/throughput/run.py).
//
// One process holds --connections DEALER connections to a coordinator, each one a worker with
// --slots CPU slots that speaks the real protocol (register, heartbeats, metrics, finished, acks)
// but runs no process: an assigned trial "ends" at once (or after --sleep-ms +-50%), reporting one
// point of the objective metric and exit code 0. So the bench measures the coordinator, its
// store and the transport, not trial processes.
//
// Dispatch latency is measured here: from the moment a slot frees (the finished message is
// sent) to the moment the next assignment for that worker arrives. At exit (SIGTERM/SIGINT, or
// --idle-exit-ms without an assignment) it writes one JSON object to --out:
//   {"assigned": N, "reregistered": N, "latency_us": [every sample]}
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "proto/channel_poller.h"
#include "proto/transport.h"

namespace {

using Clock = std::chrono::steady_clock;

std::atomic<bool> g_stop{false};

struct Options {
  std::string endpoint = "tcp://127.0.0.1:5555";
  std::string metric = "loss";
  std::string out;
  std::string id_prefix;
  int connections = 1;
  int slots = 1;
  int sleep_ms = 0;
  int heartbeat_ms = 1000;
  int idle_exit_ms = 0;
};

struct Running {
  int64_t trial_id = 0, attempt = 0;
  std::vector<uint32_t> slots;
  Clock::time_point ends;
};

struct SimWorker {
  std::unique_ptr<hpt::Channel> channel;
  hpt::RegisterMsg registration;
  std::vector<Running> running;
  std::map<uint32_t, Clock::time_point> freed;  // slots freed and not yet given a new trial
  Clock::time_point next_heartbeat;
  size_t index = 0;  // in the poller
  uint64_t token = 0;  // the session token of its last Welcome, on every message it sends
};

double WallNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "hpt-sim-worker: %s\nusage: hpt-sim-worker --endpoint E [--connections C] [--slots S] "
               "[--sleep-ms MS] [--heartbeat-ms MS] [--metric NAME] [--id-prefix P] [--idle-exit-ms MS] "
               "--out FILE\n",
               why);
  std::exit(2);
}

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) Usage(("missing value for " + flag).c_str());
    const std::string value = argv[++i];
    if (flag == "--endpoint") o.endpoint = value;
    else if (flag == "--metric") o.metric = value;
    else if (flag == "--out") o.out = value;
    else if (flag == "--id-prefix") o.id_prefix = value;
    else if (flag == "--connections") o.connections = std::atoi(value.c_str());
    else if (flag == "--slots") o.slots = std::atoi(value.c_str());
    else if (flag == "--sleep-ms") o.sleep_ms = std::atoi(value.c_str());
    else if (flag == "--heartbeat-ms") o.heartbeat_ms = std::atoi(value.c_str());
    else if (flag == "--idle-exit-ms") o.idle_exit_ms = std::atoi(value.c_str());
    else Usage(("unknown flag " + flag).c_str());
  }
  if (o.out.empty()) Usage("--out is required");
  if (o.connections < 1 || o.slots < 1 || o.sleep_ms < 0 || o.heartbeat_ms < 1) Usage("bad counts");
  if (o.id_prefix.empty()) o.id_prefix = "sim-" + std::to_string(getpid());
  return o;
}

std::vector<hpt::RunningTrial> RunningList(const SimWorker& w) {
  std::vector<hpt::RunningTrial> list;
  for (const Running& r : w.running) list.push_back({r.trial_id, r.attempt, r.slots});
  return list;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = Parse(argc, argv);
  signal(SIGTERM, [](int) { g_stop = true; });
  signal(SIGINT, [](int) { g_stop = true; });

  hpt::Network network;
  std::vector<SimWorker> workers(static_cast<size_t>(options.connections));
  hpt::ChannelPoller poller;
  for (int c = 0; c < options.connections; ++c) {
    SimWorker& w = workers[static_cast<size_t>(c)];
    hpt::ChannelOptions channel_options;
    channel_options.identity = options.id_prefix + "-" + std::to_string(c);
    w.channel = hpt::Channel::Connect(network, options.endpoint, channel_options);
    w.registration.worker_id = channel_options.identity;
    w.registration.host = "sim";
    for (int s = 0; s < options.slots; ++s) w.registration.slots.push_back({static_cast<uint32_t>(s), -1});
    w.channel->Send(w.registration);
    // Spread heartbeats over the interval rather than sending them all at once.
    w.next_heartbeat = Clock::now() + std::chrono::milliseconds(options.heartbeat_ms) * (c + 1) / options.connections;
    w.index = poller.Add(w.channel.get());
  }

  std::mt19937_64 rng(static_cast<uint64_t>(getpid()));
  std::uniform_real_distribution<double> value(0.0, 1.0);
  std::vector<uint32_t> latency_us;
  uint64_t assigned = 0, reregistered = 0;
  auto last_assign = Clock::now();
  bool any_assigned = false;
  std::vector<size_t> ready;

  auto finish = [&](SimWorker& w, const Running& r, hpt::FinishCause how) {
    w.channel->Send(hpt::MetricsMsg{r.trial_id, r.attempt, {{options.metric, 1, value(rng), WallNow()}}, 1, w.token, {}});
    w.channel->Send(hpt::FinishedMsg{r.trial_id, r.attempt, how, 0, "", "", w.token});
    poller.Touched(w.index);
    const auto now = Clock::now();
    for (uint32_t slot : r.slots) w.freed[slot] = now;
  };

  while (!g_stop.load()) {
    auto now = Clock::now();
    // Wake for the nearest trial end or heartbeat.
    auto wake = now + std::chrono::milliseconds(100);
    for (const SimWorker& w : workers) {
      wake = std::min(wake, w.next_heartbeat);
      for (const Running& r : w.running) wake = std::min(wake, r.ends);
    }
    // Rounded up: a timeout truncated to 0 ms would spin until the next event is due.
    const auto timeout = std::chrono::ceil<std::chrono::milliseconds>(wake - now);
    poller.Wait(std::max(timeout, std::chrono::milliseconds(0)), ready);
    for (size_t c : ready) {
      SimWorker& w = workers[c];
      while (std::optional<hpt::Incoming> in = w.channel->TryReceive()) {
        if (const auto* assign = std::get_if<hpt::AssignMsg>(&in->message)) {
          const auto at = Clock::now();
          ++assigned;
          any_assigned = true;
          last_assign = at;
          for (uint32_t slot : assign->slots) {
            auto freed = w.freed.find(slot);
            if (freed == w.freed.end()) continue;  // a first assignment
            latency_us.push_back(static_cast<uint32_t>(
                std::chrono::duration_cast<std::chrono::microseconds>(at - freed->second).count()));
            w.freed.erase(freed);
          }
          // Trial lengths vary by +-50% around --sleep-ms, as real ones do; equal lengths would
          // keep every worker in lockstep, finishing in waves.
          const auto length = std::chrono::microseconds(static_cast<int64_t>(options.sleep_ms * 1000 * (0.5 + value(rng))));
          Running r{assign->trial_id, assign->attempt, assign->slots, at + length};
          if (options.sleep_ms == 0) {
            finish(w, r, hpt::FinishCause::kExited);
          } else {
            w.running.push_back(std::move(r));
          }
        } else if (const auto* stop = std::get_if<hpt::StopMsg>(&in->message)) {
          auto it = std::find_if(w.running.begin(), w.running.end(), [&](const Running& r) {
            return r.trial_id == stop->trial_id && r.attempt == stop->attempt;
          });
          if (it != w.running.end()) {
            finish(w, *it, hpt::FinishCause::kStopped);
            w.running.erase(it);
          }
        } else if (std::holds_alternative<hpt::ReregisterMsg>(in->message)) {
          ++reregistered;
          hpt::RegisterMsg again = w.registration;
          again.running = RunningList(w);
          again.token = w.token;
          w.channel->Send(again);
          poller.Touched(w.index);
        } else if (const auto* welcome = std::get_if<hpt::WelcomeMsg>(&in->message)) {
          w.token = welcome->token;
        }
        // Acks and heartbeat acks need nothing.
      }
    }
    now = Clock::now();
    for (SimWorker& w : workers) {
      for (size_t i = 0; i < w.running.size();) {
        if (w.running[i].ends <= now) {
          finish(w, w.running[i], hpt::FinishCause::kExited);
          w.running.erase(w.running.begin() + static_cast<std::ptrdiff_t>(i));
        } else {
          ++i;
        }
      }
      if (now >= w.next_heartbeat) {
        w.channel->Send(hpt::HeartbeatMsg{RunningList(w), w.token});
        poller.Touched(w.index);
        w.next_heartbeat = now + std::chrono::milliseconds(options.heartbeat_ms);
      }
    }
    if (options.idle_exit_ms > 0 && any_assigned &&
        now - last_assign > std::chrono::milliseconds(options.idle_exit_ms)) {
      break;
    }
  }

  std::ofstream out(options.out);
  out << "{\"assigned\": " << assigned << ", \"reregistered\": " << reregistered << ", \"latency_us\": [";
  for (size_t i = 0; i < latency_us.size(); ++i) out << (i ? "," : "") << latency_us[i];
  out << "]}\n";
  if (!out) {
    std::fprintf(stderr, "hpt-sim-worker: cannot write %s\n", options.out.c_str());
    return 1;
  }
  return 0;
}
