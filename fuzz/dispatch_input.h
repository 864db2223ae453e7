#pragma once
// The input format of fuzz_dispatch, shared by the target (which reads it) and the seed
// generator (which writes it). An input is a sequence of records:
//
//   op (1 byte) | length (2 bytes, little endian) | payload (length bytes; fewer at the end)
//
// op % 8 says what the record does, op / 8 % kPeers which of the harness's DEALER peers does it:
//   kRaw     send the payload as one frame, unchanged (Cap'n Proto bytes, or garbage)
//   kFrames  send the payload as a multi-part message: split at payload[0] % length
//   kMessage build a Message field by field from the payload (MessageFields below), Encode, send
//   kSubmit  send a SubmitRequest whose spec YAML is the whole payload
//   kSync    wait until the coordinator has handled everything this peer sent (a query round
//            trip), so that assignments made meanwhile have arrived and can be referred to
// other ops are kMessage. The fields of kMessage are read in the fixed order MessageFields
// visits them; bytes past the end read as zeros. A trial reference (Ref) is one byte followed by
// trial id and attempt: when the byte is below kLiteralRef and the peer has been assigned
// trials, the ids are replaced by those of assignment (byte % count), so that metrics and
// results for live trials are easy to reach.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "proto/messages.h"

namespace hpt::fuzz {

enum class Op : uint8_t { kRaw = 0, kFrames = 1, kMessage = 2, kSubmit = 3, kSync = 4 };
inline constexpr int kPeers = 3;
inline constexpr uint8_t kLiteralRef = 0xC0;

struct Assignment {
  int64_t trial_id = 0, attempt = 0;
};

// Reads fields from a payload.
class FieldReader {
 public:
  static constexpr bool kReading = true;
  FieldReader(std::span<const uint8_t> bytes, const std::vector<Assignment>& assigned)
      : bytes_(bytes), assigned_(assigned) {}

  template <class T>
  void Int(T& v) {
    static_assert(std::is_integral_v<T>);
    v = 0;
    std::make_unsigned_t<T> u = 0;
    for (size_t i = 0; i < sizeof(T); ++i) u |= static_cast<std::make_unsigned_t<T>>(Next()) << (8 * i);
    v = static_cast<T>(u);
  }
  void Double(double& v) {
    uint64_t bits = 0;
    Int(bits);
    std::memcpy(&v, &bits, sizeof v);
  }
  void Str(std::string& s) {
    uint8_t n = 0;
    Int(n);
    s.clear();
    for (uint8_t i = 0; i < n && pos_ < bytes_.size(); ++i) s.push_back(static_cast<char>(Next()));
  }
  void Count(size_t& n, size_t max) {
    uint8_t c = 0;
    Int(c);
    n = c % (max + 1);
  }
  void Ref(int64_t& trial_id, int64_t& attempt) {
    uint8_t ref = 0;
    Int(ref);
    Int(trial_id);
    Int(attempt);
    if (ref < kLiteralRef && !assigned_.empty()) {
      const Assignment& a = assigned_[ref % assigned_.size()];
      trial_id = a.trial_id;
      attempt = a.attempt;
    }
  }

 private:
  uint8_t Next() { return pos_ < bytes_.size() ? bytes_[pos_++] : 0; }
  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
  const std::vector<Assignment>& assigned_;
};

// Writes fields so that FieldReader reads them back (the seed generator). In Ref, a negative
// trial id -k means "the peer's assignment k - 1".
class FieldWriter {
 public:
  static constexpr bool kReading = false;
  template <class T>
  void Int(T& v) {
    auto u = static_cast<std::make_unsigned_t<T>>(v);
    for (size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<uint8_t>(u >> (8 * i)));
  }
  void Double(double& v) {
    uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof v);
    Int(bits);
  }
  void Str(std::string& s) {
    uint8_t n = static_cast<uint8_t>(std::min<size_t>(s.size(), 255));
    Int(n);
    out.insert(out.end(), s.begin(), s.begin() + n);
  }
  void Count(size_t& n, size_t max) {
    uint8_t c = static_cast<uint8_t>(std::min(n, max));
    Int(c);
  }
  void Ref(int64_t& trial_id, int64_t& attempt) {
    uint8_t ref = trial_id < 0 ? static_cast<uint8_t>(-trial_id - 1) : 0xFF;
    Int(ref);
    Int(trial_id);
    Int(attempt);
  }
  std::vector<uint8_t> out;
};

template <class IO, class T, class F>
void List(IO& io, std::vector<T>& v, size_t max, F&& each) {
  size_t n = v.size();
  io.Count(n, max);
  if constexpr (IO::kReading) v.resize(n);
  for (size_t i = 0; i < n && i < v.size(); ++i) each(v[i]);
}

// Kinds without fields of interest here (and kinds added later): the kind alone.
template <class IO, class T>
void Fields(IO&, T&) {}

template <class IO>
void Fields(IO& io, std::vector<RunningTrial>& running) {
  List(io, running, 4, [&](RunningTrial& r) {
    io.Ref(r.trial_id, r.attempt);
    List(io, r.slots, 4, [&](uint32_t& s) { io.Int(s); });
  });
}
template <class IO>
void Fields(IO& io, RegisterMsg& m) {
  io.Str(m.worker_id);
  io.Str(m.host);
  List(io, m.slots, 8, [&](SlotInfo& s) {
    io.Int(s.index);
    io.Int(s.gpu);
  });
  List(io, m.gpus, 4, [&](GpuInfo& g) {
    io.Int(g.index);
    io.Str(g.name);
    io.Int(g.memory_mb);
  });
  Fields(io, m.running);
}
template <class IO>
void Fields(IO& io, HeartbeatMsg& m) { Fields(io, m.running); }
template <class IO>
void Fields(IO& io, MetricsMsg& m) {
  io.Ref(m.trial_id, m.attempt);
  List(io, m.points, 8, [&](MetricPoint& p) {
    io.Str(p.name);
    io.Int(p.step);
    io.Double(p.value);
    io.Double(p.time);
  });
  if constexpr (requires { m.seq; }) io.Int(m.seq);  // the batch number, when the protocol has one
}
template <class IO>
void Fields(IO& io, FinishedMsg& m) {
  io.Ref(m.trial_id, m.attempt);
  // The cause is written as its name, so that inputs kept from when it was text read the same; a
  // name this build does not know picks a cause by its first byte, so that mutations reach them all.
  std::string how(ToString(m.how));
  io.Str(how);
  if constexpr (IO::kReading) {
    const size_t pick = how.empty() ? 0 : static_cast<uint8_t>(how[0]) % std::size(kFinishCauses);
    m.how = ParseFinishCause(how).value_or(kFinishCauses[pick]);
  }
  io.Int(m.code);
  io.Str(m.message);
  io.Str(m.log_path);
}
template <class IO>
void Fields(IO& io, WelcomeMsg& m) { io.Int(m.heartbeat_interval_ms); }
template <class IO>
void Fields(IO& io, AssignMsg& m) {
  io.Ref(m.trial_id, m.attempt);
  io.Str(m.experiment_name);
  List(io, m.command, 4, [&](std::string& s) { io.Str(s); });
}
template <class IO>
void Fields(IO& io, StopMsg& m) {
  io.Ref(m.trial_id, m.attempt);
  io.Str(m.reason);
}
template <class IO>
void Fields(IO& io, RequestMsg& m) {
  io.Int(m.id);
  uint8_t kind = static_cast<uint8_t>(m.body.index());
  io.Int(kind);
  if constexpr (IO::kReading) {
    switch (kind % 3) {
      case 0: m.body = SubmitRequest{}; break;
      case 1: m.body = QueryRequest{}; break;
      default: m.body = CancelRequest{}; break;
    }
  }
  std::visit(
      [&](auto& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, SubmitRequest>) {
          io.Str(body.spec_yaml);
          io.Str(body.file);
        } else if constexpr (std::is_same_v<T, QueryRequest>) {
          uint8_t k = static_cast<uint8_t>(body.kind);
          io.Int(k);
          body.kind = static_cast<QueryKind>(k % 9);
          io.Str(body.experiment);
          io.Int(body.top_k);
          io.Int(body.trial_id);
          // The kinds with text (components, component, search) read it after the older fields,
          // so that the corpus of the older kinds keeps its meaning.
          if (static_cast<int>(body.kind) >= 6) {
            io.Str(body.text);
            io.Str(body.sort);
          }
        } else if constexpr (std::is_same_v<T, CancelRequest>) {
          io.Str(body.experiment);
        } else if constexpr (std::is_same_v<T, CreateComponentRequest>) {
          io.Str(body.name);
          io.Str(body.kind);
        } else if constexpr (std::is_same_v<T, TrackStartRequest>) {
          io.Str(body.experiment);
        } else if constexpr (std::is_same_v<T, TrackReportRequest>) {
          io.Int(body.trial_id);
          io.Int(body.lease);
          io.Int(body.seq);
        } else {
          io.Str(body.why);
        }
      },
      m.body);
}
template <class IO>
void Fields(IO& io, ReplyMsg& m) {
  io.Int(m.id);
  io.Str(m.json);
}

template <size_t... I>
Message MessageOfKind(size_t kind, std::index_sequence<I...>) {
  Message m;
  ((kind == I ? (m = std::variant_alternative_t<I, Message>{}, 0) : 0), ...);
  return m;
}

// The message kind (one byte, modulo the number of kinds), then that message's fields.
template <class IO>
void MessageFields(IO& io, Message& m) {
  uint8_t kind = static_cast<uint8_t>(m.index());
  io.Int(kind);
  if constexpr (IO::kReading) {
    m = MessageOfKind(kind % std::variant_size_v<Message>,
                      std::make_index_sequence<std::variant_size_v<Message>>{});
  }
  std::visit([&](auto& body) { Fields(io, body); }, m);
}

// Appends one record to an input.
inline void AppendRecord(std::vector<uint8_t>& input, Op op, int peer, std::span<const uint8_t> payload) {
  input.push_back(static_cast<uint8_t>(static_cast<int>(op) + 8 * peer));
  const size_t n = std::min<size_t>(payload.size(), 0xFFFF);
  input.push_back(static_cast<uint8_t>(n & 0xFF));
  input.push_back(static_cast<uint8_t>(n >> 8));
  input.insert(input.end(), payload.begin(), payload.begin() + n);
}

}  // namespace hpt::fuzz
