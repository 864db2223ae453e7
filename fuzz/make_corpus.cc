// Writes the seed corpora of the fuzz targets (run by `scripts/fuzz corpus`; the output is
// committed under fuzz/corpus/):
//   corpus/fuzz_decode/    one encoded frame of every message kind, with typical contents
//   corpus/fuzz_dispatch/  record sequences (fuzz/dispatch_input.h) for the coordinator's paths:
//                          a whole trial lifecycle, retries and failures, repeated and stale
//                          results, every query, cancel, raw and multi-part frames
//   corpus/fuzz_spec/      the specs under configs/ (the hand-written ones there are kept)
//
//   fuzz_make_corpus OUT_DIR CONFIGS_DIR

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fuzz/dispatch_input.h"
#include "proto/codec.h"

namespace {

namespace fs = std::filesystem;
using hpt::fuzz::AppendRecord;
using hpt::fuzz::Op;
using namespace hpt;

void Write(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}
void Write(const fs::path& path, const std::vector<uint8_t>& bytes) {
  Write(path, std::string(bytes.begin(), bytes.end()));
}
std::string Read(const fs::path& path) {
  std::string text(fs::file_size(path), '\0');
  std::ifstream(path, std::ios::binary).read(text.data(), static_cast<std::streamsize>(text.size()));
  return text;
}
std::span<const uint8_t> U8(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

RegisterMsg Register(int slots, int gpus) {
  RegisterMsg m{"host-a:4242:f00d", "host-a", {}, {}, {}};
  for (int i = 0; i < slots; ++i) m.slots.push_back({static_cast<uint32_t>(i), i < gpus ? i : -1});
  for (int i = 0; i < gpus; ++i) m.gpus.push_back({static_cast<uint32_t>(i), "NVIDIA H100", 81559});
  return m;
}

// The typical messages of every kind, as sent by workers, clients and the coordinator.
std::vector<std::pair<std::string, Message>> Examples(const std::string& spec) {
  RegisterMsg rerun = Register(4, 2);
  rerun.running.push_back({12, 2, {0, 1}});
  return {
      {"register", Register(2, 0)},
      {"register_gpus_running", rerun},
      {"heartbeat", HeartbeatMsg{{{12, 2, {0}}, {13, 1, {1}}}}},
      {"heartbeat_empty", HeartbeatMsg{}},
      {"metrics", MetricsMsg{1, 1, {{"val_accuracy", 1, 0.5, 1.7e9}, {"loss", 1, 0.7, 1.7e9}, {"val_accuracy", 2, 0.75, 1.7e9}}}},
      {"finished_ok", FinishedMsg{1, 1, FinishCause::kExited, 0, "", "/tmp/w/quickstart-1/trial-1/attempt-1.log"}},
      {"finished_signaled", FinishedMsg{2, 1, FinishCause::kSignaled, 9, "killed by signal 9", "/tmp/a.log"}},
      {"finished_timeout", FinishedMsg{3, 2, FinishCause::kTimeout, 0, "trial_timeout 60s", ""}},
      {"welcome", WelcomeMsg{1000}},
      {"assign", AssignMsg{1, 1, 1, "quickstart", {0}, {"python3", "train.py", "--lr=0.01"}, R"({"lr":0.01})",
                           {{"val_accuracy", "val_acc=([0-9.eE+-]+)"}}, 60, 0, 0}},
      {"stop", StopMsg{1, 1, "cancelled by user"}},
      {"submit", RequestMsg{1, SubmitRequest{spec, "quickstart.yaml"}}},
      {"query_experiments", RequestMsg{2, QueryRequest{QueryKind::kExperiments, "", 0, 0}}},
      {"query_leaderboard", RequestMsg{3, QueryRequest{QueryKind::kLeaderboard, "quickstart", 5, 0}}},
      {"query_trial", RequestMsg{4, QueryRequest{QueryKind::kTrial, "", 0, 1}}},
      {"cancel", RequestMsg{5, CancelRequest{"1"}}},
      {"reply", ReplyMsg{2, true, {}, "", R"([{"id":1,"name":"quickstart"}])"}},
      {"reply_error", ReplyMsg{3, false, ErrorKind::kNotFound, "no experiment 'x'", ""}},
      {"reregister", ReregisterMsg{}},
  };
}

std::vector<uint8_t> Fields(Message m) {
  hpt::fuzz::FieldWriter w;
  hpt::fuzz::MessageFields(w, m);
  return w.out;
}

// Record-building helpers for dispatch scenarios.
struct Script {
  std::vector<uint8_t> bytes;
  Script& Msg(int peer, const Message& m) {
    AppendRecord(bytes, Op::kMessage, peer, Fields(m));
    return *this;
  }
  Script& Raw(int peer, const std::string& frame) {
    AppendRecord(bytes, Op::kRaw, peer, U8(frame));
    return *this;
  }
  Script& Submit(int peer, const std::string& yaml) {
    AppendRecord(bytes, Op::kSubmit, peer, U8(yaml));
    return *this;
  }
  Script& Sync(int peer) {
    AppendRecord(bytes, Op::kSync, peer, {});
    return *this;
  }
  Script& Frames(int peer, const std::string& payload) {
    AppendRecord(bytes, Op::kFrames, peer, U8(payload));
    return *this;
  }
};

Message QueryMsg(QueryKind kind, std::string experiment, int64_t top_k = 0, int64_t trial = 0) {
  return RequestMsg{7, QueryRequest{kind, std::move(experiment), top_k, trial}};
}
// Metrics or a result of the peer's k-th assignment (k from 1).
MetricsMsg Points(int k, double value, int64_t step) {
  return MetricsMsg{-k, 0, {{"val_accuracy", step, value, 1.7e9}, {"loss", step, 1 - value, 1.7e9}}};
}
FinishedMsg Done(int k, FinishCause how, int32_t code) { return FinishedMsg{-k, 0, how, code, "", ""}; }

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: fuzz_make_corpus OUT_DIR CONFIGS_DIR\n");
    return 2;
  }
  const fs::path out(argv[1]), configs(argv[2]);
  const std::string quickstart = Read(configs / "quickstart.yaml");
  for (const char* d : {"fuzz_decode", "fuzz_dispatch", "fuzz_spec"}) fs::create_directories(out / d);

  for (const auto& [name, m] : Examples(quickstart)) Write(out / "fuzz_decode" / (name + ".bin"), Encode(m));
  // Every kind, default-constructed: also those added to the protocol after this was written.
  for (size_t kind = 0; kind < std::variant_size_v<Message>; ++kind) {
    Message m = hpt::fuzz::MessageOfKind(kind, std::make_index_sequence<std::variant_size_v<Message>>{});
    Write(out / "fuzz_decode" / ("kind_" + std::string(MessageName(m)) + ".bin"), Encode(m));
  }

  std::vector<std::string> specs;
  for (const auto& entry : fs::directory_iterator(configs)) {
    if (entry.path().extension() != ".yaml") continue;
    specs.push_back(Read(entry.path()));
    fs::copy_file(entry.path(), out / "fuzz_spec" / entry.path().filename(),
                  fs::copy_options::overwrite_existing);
  }

  const fs::path d = out / "fuzz_dispatch";
  // A worker with two slots runs two trials: one completes, one fails and is retried; then
  // every query and a cancel.
  Script life;
  life.Submit(1, quickstart).Msg(0, Register(2, 0)).Sync(0).Sync(1);
  life.Msg(0, Points(1, 0.5, 1)).Msg(0, Points(1, 0.8, 2)).Msg(0, Done(1, FinishCause::kExited, 0));
  life.Msg(0, Points(2, 0.3, 1)).Msg(0, Done(2, FinishCause::kExited, 1)).Sync(0);
  life.Msg(0, HeartbeatMsg{{{-3, 0, {0}}}}).Msg(0, Points(3, 0.9, 1)).Msg(0, Done(3, FinishCause::kTimeout, 0)).Sync(0);
  life.Msg(1, QueryMsg(QueryKind::kLeaderboard, "quickstart", 5)).Msg(1, QueryMsg(QueryKind::kTrials, "1"));
  life.Msg(1, QueryMsg(QueryKind::kTrial, "", 0, 1)).Msg(1, QueryMsg(QueryKind::kExperiment, "quickstart"));
  life.Msg(1, QueryMsg(QueryKind::kWorkers, "")).Msg(1, RequestMsg{8, CancelRequest{"quickstart"}}).Sync(1);
  life.Msg(0, Done(4, FinishCause::kExited, 0));
  Write(d / "lifecycle.bin", life.bytes);

  // Exactly-once: a result repeated, a stale attempt, a result from another peer, a worker
  // that registers again without its trials, a clean shutdown.
  Script replay;
  replay.Submit(1, quickstart).Msg(0, Register(1, 0)).Msg(2, Register(1, 0)).Sync(0).Sync(2);
  replay.Msg(0, Points(1, 0.7, 1)).Msg(0, Done(1, FinishCause::kExited, 0)).Msg(0, Done(1, FinishCause::kExited, 0));
  replay.Msg(2, Done(1, FinishCause::kExited, 0)).Msg(0, Points(1, 0.9, 2)).Sync(0);
  replay.Msg(2, Register(1, 0)).Msg(0, Done(2, FinishCause::kWorkerShutdown, 0)).Sync(0).Msg(0, Points(3, 0.1, 1));
  Write(d / "replay.bin", replay.bytes);

  // GPU placement: a spec that asks for 2 GPUs per trial on a worker with mixed slots.
  std::string gpu_spec = quickstart;
  if (auto at = gpu_spec.find("  retries:"); at != std::string::npos) {
    gpu_spec.insert(at, "  resources: {gpus: 2}\n");
  }
  Script gpus;
  gpus.Submit(1, gpu_spec).Msg(0, Register(4, 2)).Sync(0).Msg(0, Done(1, FinishCause::kExited, 0)).Sync(0);
  Write(d / "gpus.bin", gpus.bytes);

  // Every config submitted, then a worker takes trials of each.
  Script all;
  for (const std::string& spec : specs) all.Submit(1, spec);
  all.Msg(0, Register(3, 0)).Sync(0).Msg(0, Done(1, FinishCause::kExited, 0)).Msg(0, Done(2, FinishCause::kExecFailed, 127)).Sync(0);
  Write(d / "all_configs.bin", all.bytes);

  // The same messages as raw frames (so mutations work on Cap'n Proto bytes), and malformed ones.
  Script raw;
  for (const auto& [name, m] : Examples(quickstart)) raw.Raw(0, Encode(m));
  raw.Raw(1, "").Raw(1, "not a capnp frame").Frames(2, Encode(HeartbeatMsg{}));
  raw.Frames(2, "\x03" + Encode(Register(1, 0)));
  Write(d / "raw_frames.bin", raw.bytes);
  return 0;
}
