#pragma once
// The one exception type of hpt. Third-party exceptions are translated into it at the adapter
// that calls the library (store/, proto/, worker/train/), so callers classify faults by kind alone.

#include <stdexcept>
#include <string>
#include <string_view>

namespace hpt {

// How the caller should react, after KJ's exception types.
enum class ErrorKind {
  kInvalidInput,  // the request itself is wrong (spec, argument, message); retrying will not help
  kNotFound,      // the named experiment, trial or file does not exist
  kOverloaded,    // a resource is exhausted (disk full, queue full); retry later
  kDisconnected,  // a peer went away; retry against another or after reconnecting
  kFailed,        // anything else: a bug or an environment fault
};
inline constexpr ErrorKind kErrorKinds[] = {ErrorKind::kInvalidInput, ErrorKind::kNotFound, ErrorKind::kOverloaded,
                                            ErrorKind::kDisconnected, ErrorKind::kFailed};

std::string_view ToString(ErrorKind kind);

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

}  // namespace hpt
