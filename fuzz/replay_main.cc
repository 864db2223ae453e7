// main() for the regression replays: runs a fuzz target's LLVMFuzzerTestOneInput over every file
// named on the command line, or found (recursively, dotfiles skipped) in a named directory.
// A finding aborts, so ctest reports the failing input as a failed test. Built with any compiler
// and without libFuzzer, so the normal (gcc) build replays every kept crash on every run.

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define HPT_REPLAY_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HPT_REPLAY_ASAN 1
#endif
#endif

namespace {

// What libFuzzer's -timeout and -rss_limit_mb do for the fuzzers: an input that hangs or eats
// memory (a known class of findings) fails the test instead of stalling or exhausting the machine.
constexpr unsigned kSecondsPerInput = 60;
constexpr rlim_t kAddressSpaceBytes = rlim_t{4} << 30;

const char* g_current = "";

void OnAlarm(int) {
  static const char kMessage[] = "\nFUZZ FINDING: an input ran for more than 60 s: ";
  [[maybe_unused]] ssize_t n = write(2, kMessage, sizeof(kMessage) - 1);
  n = write(2, g_current, std::char_traits<char>::length(g_current));
  n = write(2, "\n", 1);
  _exit(3);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv);
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  LLVMFuzzerInitialize(&argc, &argv);
#ifndef HPT_REPLAY_ASAN  // ASan reserves terabytes of address space; it has its own limits
  const rlimit limit{kAddressSpaceBytes, kAddressSpaceBytes};
  setrlimit(RLIMIT_AS, &limit);  // beyond it allocations throw std::bad_alloc: a finding
#endif
  signal(SIGALRM, OnAlarm);
  namespace fs = std::filesystem;
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    const fs::path arg(argv[i]);
    if (fs::is_directory(arg)) {
      for (const auto& entry : fs::recursive_directory_iterator(arg)) {
        const std::string name = entry.path().filename().string();
        if (entry.is_regular_file() && !name.starts_with(".") && name != "README.md") {
          files.push_back(entry.path());
        }
      }
    } else if (fs::is_regular_file(arg)) {
      files.push_back(arg);
    } else {
      std::fprintf(stderr, "replay: %s is neither a file nor a directory\n", argv[i]);
      return 2;
    }
  }
  std::sort(files.begin(), files.end());
  for (const fs::path& file : files) {
    // Exactly the file's size, so that ASan sees any read past its end.
    std::vector<uint8_t> data(fs::file_size(file));
    std::ifstream in(file, std::ios::binary);
    in.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(data.size()));
    std::fprintf(stderr, "replay: %s (%zu bytes)\n", file.c_str(), data.size());
    g_current = file.c_str();
    alarm(kSecondsPerInput);
    LLVMFuzzerTestOneInput(data.empty() ? nullptr : data.data(), data.size());
  }
  alarm(0);
  std::fprintf(stderr, "replay: %zu input(s), no finding\n", files.size());
  return 0;
}
