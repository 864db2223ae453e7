#!/usr/bin/python3
"""Launch bench: how close `hpt run` gets to the OS's own rate of starting trivial processes.

Each round runs, on the same command and in the same run (so the machine's load is shared):
  bare  hpt-bare-spawn: N copies of the command, 4 at a time, and nothing else (the floor);
  hpt   `hpt run` on a spec of N trials of that command, max_parallel 4, --workers 4, on a fresh
        SQLite file and work dir in a temp dir;
  base  (with --baseline) the same `hpt run` with another hpt binary, e.g. one built from main.
Rounds alternate the systems, so a burst of load elsewhere hits them alike; the summary gives
medians over rounds. One JSON line per run, then one summary line per system:

  trials_per_s       hpt: completed trials / (last run end - first run start), store clocks
                     (trial_components, kind 'run'); bare: N / its wall time
  ratio_to_bare      trials_per_s / the bare rate of the same round
  worker_cpu_us_per_trial  CPU (user+sys) of the thread named hpt-worker / trials; null for a
                     binary that does not name it
  process_cpu_us_per_trial CPU of the whole `hpt run` process (coordinator, worker, client) / trials
  idle_gap_p50_ms, idle_gap_p99_ms  per worker and slot, the previous attempt's ended_at to the
                     next attempt's started_at (docs/store.md)

  run.py [--hpt build-rel/bin/hpt] [--baseline OTHER_HPT] [--trials 2000] [--rounds 5]
         [--bare-mode posix_spawn] [--tmp DIR] [--out FILE]
The command is `/bin/echo "hpt: value=X"` (X a parameter), so every trial completes.
"""
import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SLOTS = 4
COMMAND = ["/bin/echo", "hpt: value=1"]

SPEC = """
name: launch
objective: {{metric: value, goal: minimize}}
strategy: {{type: random, seed: 1}}
parameters:
  - {{name: x, type: float, min: 0.0, max: 1.0}}
limits: {{max_trials: {trials}, max_parallel: {slots}, max_failed: 1}}
trial:
  command: [/bin/echo, "hpt: value={{x}}"]
"""


def percentile(sorted_values, q):
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def thread_cpu(pid, name):
    """CPU seconds (user+sys) of the thread of `pid` named `name`, or None."""
    ticks = os.sysconf("SC_CLK_TCK")
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if f.read().strip() != name:
                    continue
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / ticks
    except OSError:
        pass
    return None


def process_cpu(pid):
    ticks = os.sysconf("SC_CLK_TCK")
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / ticks


def run_bare(args):
    out = subprocess.run([args.bare, "--mode", args.bare_mode, "--count", str(args.trials), "--parallel", str(SLOTS),
                          "--"] + COMMAND, check=True, stdout=subprocess.PIPE, text=True).stdout
    r = json.loads(out)
    return {"system": f"bare-{args.bare_mode}", "trials": args.trials, "trials_per_s": r["per_s"],
            "wall_s": r["wall_s"]}


def run_hpt(system, hpt, args):
    tmp = tempfile.mkdtemp(prefix=f"{system}-", dir=args.scratch)
    # Kept until the end of the whole run (main removes args.scratch).
    spec = os.path.join(tmp, "spec.yaml")
    db = os.path.join(tmp, "hpt.db")
    with open(spec, "w") as f:
        f.write(SPEC.format(trials=args.trials, slots=SLOTS))
    start = time.time()
    p = subprocess.Popen([hpt, "run", spec, "--db", db, "--workers", str(SLOTS), "--work-dir",
                          os.path.join(tmp, "runs"), "--top", "1"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp)
    # The thread's CPU can only be read while the process lives: sample until it exits.
    worker_cpu = total_cpu = None
    while p.poll() is None:
        w = thread_cpu(p.pid, "hpt-worker")
        try:
            total = process_cpu(p.pid)
        except OSError:
            total = None
        if p.poll() is None:
            worker_cpu = w if w is not None else worker_cpu
            total_cpu = total if total is not None else total_cpu
        time.sleep(0.02)
    err = p.stderr.read()
    if p.returncode != 0:
        raise SystemExit(f"run.py: {hpt} run exited {p.returncode}: {err}")
    wall = time.time() - start
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = con.execute("SELECT worker, slot, started_at, ended_at, status FROM trial_components "
                       "WHERE kind = 'run' ORDER BY worker, slot, started_at").fetchall()
    con.close()
    completed = sum(1 for r in rows if r[4] == "completed")
    first = min(r[2] for r in rows)
    last = max(r[3] for r in rows)
    gaps = []
    for prev, nxt in zip(rows, rows[1:]):
        if (prev[0], prev[1]) == (nxt[0], nxt[1]):
            gaps.append((nxt[2] - prev[3]) * 1000)
    gaps.sort()
    rate = completed / (last - first)
    return {
        "system": system, "hpt": hpt, "trials": args.trials, "completed": completed,
        "trials_per_s": round(rate, 1), "wall_s": round(wall, 3),
        "worker_cpu_us_per_trial": round(worker_cpu / completed * 1e6, 1) if worker_cpu is not None else None,
        "process_cpu_us_per_trial": round(total_cpu / completed * 1e6, 1) if total_cpu is not None else None,
        "idle_gap_p50_ms": round(percentile(gaps, 0.5), 3), "idle_gap_p99_ms": round(percentile(gaps, 0.99), 3),
        "idle_gap_samples": len(gaps),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hpt", default=os.path.join(ROOT, "build-rel/bin/hpt"))
    parser.add_argument("--bare", default=None, help="hpt-bare-spawn (default: next to --hpt)")
    parser.add_argument("--baseline", help="another hpt binary to run alongside (e.g. built from main)")
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--bare-mode", default="posix_spawn", choices=("posix_spawn", "clone_vfork", "fork"))
    parser.add_argument("--tmp", help="where each run's store and work dir go (default: $TMPDIR or /tmp); the"
                                      " file system matters: see docs/benchmarks.md")
    parser.add_argument("--out", help="append the JSON lines to this file too")
    args = parser.parse_args()
    if args.trials < 1 or args.rounds < 1:
        parser.error("--trials and --rounds must be at least 1")
    args.hpt = os.path.abspath(args.hpt)
    args.baseline = os.path.abspath(args.baseline) if args.baseline else None
    args.bare = os.path.abspath(args.bare or os.path.join(os.path.dirname(args.hpt), "hpt-bare-spawn"))
    for path in filter(None, (args.hpt, args.bare, args.baseline)):
        if not os.access(path, os.X_OK):
            parser.error(f"{path} is not an executable (build with -DHPT_BUILD_BENCH=ON)")

    def emit(record):
        line = json.dumps(record)
        print(line, flush=True)
        if args.out:
            with open(args.out, "a") as f:
                f.write(line + "\n")

    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    by_system = {}
    # Every run's store and work dir stay until the end: deleting thousands of trial dirs between
    # runs made the next run's mkdirs slower on ext4 (it skips recently deleted inodes when it
    # allocates), which is the bench's doing, not hpt's.
    args.scratch = tempfile.mkdtemp(prefix="hpt-launch-", dir=args.tmp)
    try:
        run_rounds(args, emit, by_system)
    finally:
        shutil.rmtree(args.scratch, ignore_errors=True)
    for system, rs in by_system.items():
        summary = {"summary": system, "at": stamp, "rounds": len(rs), "trials": args.trials,
                   "tmp": args.tmp or tempfile.gettempdir()}
        for key in ("trials_per_s", "ratio_to_bare", "worker_cpu_us_per_trial", "process_cpu_us_per_trial",
                    "idle_gap_p50_ms", "idle_gap_p99_ms"):
            values = [r[key] for r in rs if r.get(key) is not None]
            if values:
                summary[key + "_median"] = round(statistics.median(values), 3)
        emit(summary)


def run_rounds(args, emit, by_system):
    for round_ in range(args.rounds):
        bare = run_bare(args)
        bare["round"] = round_
        emit(bare)
        by_system.setdefault(bare["system"], []).append(bare)
        runs = [("hpt", args.hpt)] + ([("base", args.baseline)] if args.baseline else [])
        if round_ % 2:
            runs.reverse()
        for system, binary in runs:
            r = run_hpt(system, binary, args)
            r["round"] = round_
            r["ratio_to_bare"] = round(r["trials_per_s"] / bare["trials_per_s"], 3)
            emit(r)
            by_system.setdefault(system, []).append(r)


if __name__ == "__main__":
    main()
