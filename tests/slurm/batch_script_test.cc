// The batch script `hpt slurm workers` and `hpt run --slurm` submit, and the checks before it.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "slurm/slurm.h"

namespace hpt {
namespace {

SlurmWorkers Workers() {
  SlurmWorkers w;
  w.hpt = "/opt/hpt/bin/hpt";
  w.connect = "tcp://10.0.0.5:40000";
  w.count = 4;
  w.work_dir = "/shared/it's runs";
  return w;
}

bool Has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST_CASE("slurm: the batch script is one array of count workers that exec hpt worker --gpus auto") {
  SlurmWorkers w = Workers();
  w.gpus_per_worker = 2;
  w.partition = "gpu";
  w.time = "1-12:00:00";
  w.sbatch_args = {"--account=ml", "--qos=low"};
  w.curve_dir = "/shared/keys";
  w.curve_key = "worker";
  const std::string s = BatchScript(w);
  CHECK(s.starts_with("#!/bin/bash\n"));
  CHECK(Has(s, "\n#SBATCH --array=0-3\n"));
  CHECK(Has(s, "\n#SBATCH --gres=gpu:2\n"));
  CHECK(Has(s, "\n#SBATCH --partition=gpu\n"));
  CHECK(Has(s, "\n#SBATCH --time=1-12:00:00\n"));
  CHECK(Has(s, "\n#SBATCH --signal=B:TERM@60\n"));
  CHECK(Has(s, "\n#SBATCH --account=ml\n#SBATCH --qos=low\n"));
  // exec: the worker is the batch step's process, so Slurm's signals reach it.
  CHECK(Has(s, "\nexec '/opt/hpt/bin/hpt' worker --connect 'tcp://10.0.0.5:40000' --gpus auto "));
  CHECK(Has(s, " --work-dir '/shared/it'\\''s runs' "));
  CHECK(Has(s, " --curve '/shared/keys' --key 'worker'\n"));
  // Every #SBATCH line comes before the first command, or sbatch would ignore it.
  CHECK(s.rfind("#SBATCH") < s.find("\nset -eu"));
}

TEST_CASE("slurm: CPU workers ask for no GPU, and no partition or time unless given") {
  const std::string s = BatchScript(Workers());
  CHECK_FALSE(Has(s, "--gres"));
  CHECK_FALSE(Has(s, "--partition"));
  CHECK_FALSE(Has(s, "--time"));
  CHECK_FALSE(Has(s, "--curve"));
}

TEST_CASE("slurm: bad input is refused naming its flag") {
  struct Case {
    const char* flag;
    void (*spoil)(SlurmWorkers&);
  };
  const Case cases[] = {
      {"--count", [](SlurmWorkers& w) { w.count = 0; }},
      {"--gpus-per-worker", [](SlurmWorkers& w) { w.gpus_per_worker = -1; }},
      {"--connect", [](SlurmWorkers& w) { w.connect = "inproc://x"; }},
      {"--connect", [](SlurmWorkers& w) { w.connect = "tcp://"; }},
      {"--partition", [](SlurmWorkers& w) { w.partition = "gpu; rm -rf /"; }},
      {"--time", [](SlurmWorkers& w) { w.time = "1h"; }},
      {"--time", [](SlurmWorkers& w) { w.time = "1:2:3:4"; }},
      {"--time", [](SlurmWorkers& w) { w.time = "12:"; }},
      {"--sbatch-arg", [](SlurmWorkers& w) { w.sbatch_args = {"account=ml"}; }},
      {"--sbatch-arg", [](SlurmWorkers& w) { w.sbatch_args = {"--comment=a\nrm -rf /"}; }},
      {"--sbatch-arg", [](SlurmWorkers& w) { w.sbatch_args = {"--array=0-9"}; }},
  };
  for (const Case& c : cases) {
    SlurmWorkers w = Workers();
    c.spoil(w);
    CAPTURE(c.flag);
    try {
      BatchScript(w);
      FAIL("accepted");
    } catch (const Error& e) {
      CHECK(e.kind() == ErrorKind::kInvalidInput);
      CHECK(std::string(e.what()).starts_with(std::string(c.flag) + ": "));
    }
  }
  for (const char* ok : {"30", "30:00", "2:30:00", "2-0", "2-12:30", "2-12:30:00", "UNLIMITED"}) {
    SlurmWorkers w = Workers();
    w.time = ok;
    CAPTURE(ok);
    CHECK_NOTHROW(BatchScript(w));
  }
}

TEST_CASE("slurm: submitting runs sbatch --parsable with the script on stdin and returns the job id") {
  // A fake sbatch first on the PATH: records its arguments and input, answers like Slurm does.
  char tmpl[] = "/tmp/hpt-slurm-test-XXXXXX";
  const std::filesystem::path dir = mkdtemp(tmpl);
  const std::filesystem::path fake = dir / "sbatch";
  std::ofstream(fake) << "#!/bin/sh\necho \"$@\" > '" << (dir / "args").string() << "'\ncat > '"
                      << (dir / "script").string() << "'\necho '4242;cluster'\n";
  std::filesystem::permissions(fake, std::filesystem::perms::owner_all);
  const std::string path = std::getenv("PATH");
  ::setenv("PATH", (dir.string() + ":" + path).c_str(), 1);
  const std::string id = SubmitWorkers(Workers());
  std::ofstream(fake) << "#!/bin/sh\necho 'sbatch: error: invalid partition specified: nope' >&2\nexit 1\n";
  std::string refused;
  try {
    SubmitWorkers(Workers());
  } catch (const Error& e) {
    refused = e.what();
  }
  ::setenv("PATH", path.c_str(), 1);
  CHECK(id == "4242");
  std::ifstream args(dir / "args"), script(dir / "script");
  std::string line;
  std::getline(args, line);
  CHECK(line == "--parsable");
  std::string submitted, text;
  while (std::getline(script, text)) submitted += text + "\n";
  CHECK(submitted == BatchScript(Workers()));
  CHECK(Has(refused, "invalid partition specified: nope"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace hpt
