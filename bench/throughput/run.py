#!/usr/bin/python3
"""Throughput bench: how many trials per second one hpt coordinator records, and what each costs.

For every configuration it starts a real `hpt coordinator` on a fresh SQLite file in a temp dir
(durable: WAL, synchronous=FULL, results acknowledged only after commit), W simulated workers
(`hpt-sim-worker` processes speaking the real protocol over tcp loopback; their trials end at
once or after --sleep-ms), submits a spec, and waits for the experiment to complete. Printed as
JSON lines, one per configuration:

  trials_per_s        completed trials / (last trial end - first trial creation), store clocks
  coord_cpu_us_per_trial  the coordinator's user+system CPU time over the run / trials
  dispatch_p50_us, dispatch_p99_us  slot free (finished sent) -> next assignment received
  store_bytes_per_trial   (database + WAL) / trials
  lost_workers        workers the coordinator declared lost (should be 0)
  leaderboard_ms      wall time of `hpt leaderboard --db` (a fresh process) at the end

With --optuna it also runs bench/throughput/optuna_throughput.py (Debian's python3-optuna) on
the same machine in the same run, so that the comparison is a ratio.

  run.py [--hpt build/bin/hpt] [--workers 1,8] [--trials 20000] [--strategy random]
         [--sleep-ms 0] [--slots 1] [--connections-per-process 1] [--heartbeat-ms 1000]
         [--optuna sqlite,journal,inmemory] [--optuna-trials 2000] [--out FILE]
Examples (docs/benchmarks.md has the ones behind the published table):
  run.py --workers 8 --trials 50000 --optuna sqlite,journal,inmemory
  run.py --workers 1000 --connections-per-process 125 --trials 20000 --sleep-ms 2000
  run.py --workers 8 --trials 1000,100000
"""
import argparse
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# Three parameters as a small real search would have; the grid's sizes come from the trial count.
SPEC = """
name: throughput
objective: {{metric: loss, goal: minimize}}
strategy: {strategy}
parameters:
  - {{name: lr, type: float, min: 1.0e-5, max: 0.1, scale: log{lr_grid}}}
  - {{name: width, type: int, min: {width_min}, max: {width_max}}}
  - {{name: opt, type: categorical, values: [sgd, adam, adamw]}}
limits: {{max_trials: {trials}}}
trial:
  command: [train, "--lr={{lr}}", "--width={{width}}", "--opt={{opt}}"]
"""
STRATEGIES = ("random", "grid", "bayesian")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """(user, system) CPU seconds of a process, all its threads."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / ticks, int(fields[12]) / ticks


def percentile(sorted_values, q):
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def spec_text(strategy, trials):
    if strategy == "grid":
        # A grid as large as the trial count asks for: 10 lr x width x 3 opt.
        points = 10
        return SPEC.format(strategy="{type: grid}", lr_grid=f", grid_points: {points}", width_min=1,
                           width_max=-(-trials // (points * 3)), trials=trials)
    return SPEC.format(strategy=f"{{type: {strategy}, seed: 1}}", lr_grid="", width_min=16, width_max=512,
                       trials=trials)


def run_hpt(args, workers, trials, tmp):
    db = os.path.join(tmp, "hpt.db")
    spec = os.path.join(tmp, "spec.yaml")
    with open(spec, "w") as f:
        f.write(spec_text(args.strategy, trials))
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    log = open(os.path.join(tmp, "coordinator.log"), "w")
    coordinator = subprocess.Popen(
        args.wrap.split() + [args.hpt, "coordinator", "--db", db, "--bind", endpoint, "--log-level", "info",
         "--heartbeat-ms", str(args.heartbeat_ms)],
        stdout=log, stderr=subprocess.STDOUT)
    sims = []
    try:
        per_process = args.connections_per_process
        processes = -(-workers // per_process)
        for p in range(processes):
            connections = min(per_process, workers - p * per_process)
            out = os.path.join(tmp, f"sim-{p}.json")
            sims.append((out, subprocess.Popen(
                [args.sim, "--endpoint", endpoint, "--connections", str(connections),
                 "--slots", str(args.slots), "--sleep-ms", str(args.sleep_ms),
                 "--heartbeat-ms", str(args.heartbeat_ms), "--metric", "loss",
                 "--id-prefix", f"sim{p}", "--out", out])))
        # Every worker registered before the clock starts.
        wait_for(lambda: registered(db) >= workers, 120, "workers to register")
        cpu_before = cpu_seconds(coordinator.pid)
        sims_cpu_before = sum(sum(cpu_seconds(sim.pid)) for _, sim in sims)
        wall_before = time.time()
        subprocess.run([args.hpt, "submit", "--coordinator", endpoint, spec], check=True,
                       stdout=subprocess.DEVNULL)
        wait_for(lambda: finished(db), args.timeout, "the experiment to finish", poll=0.05)
        wall = time.time() - wall_before
        user, system = (after - before for after, before in zip(cpu_seconds(coordinator.pid), cpu_before))
        sims_cpu = sum(sum(cpu_seconds(sim.pid)) for _, sim in sims) - sims_cpu_before
        start = time.perf_counter()
        subprocess.run([args.hpt, "leaderboard", "throughput", "--db", db, "--top", "10"],
                       check=True, stdout=subprocess.DEVNULL)
        leaderboard_ms = (time.perf_counter() - start) * 1000
    finally:
        for _, sim in sims:
            sim.send_signal(signal.SIGTERM)
        for _, sim in sims:
            sim.wait(30)
        coordinator.send_signal(signal.SIGTERM)
        coordinator.wait(30)
        log.close()
    batches = None
    with open(os.path.join(tmp, "coordinator.log")) as f:
        for line in f:
            if "coordinator stopping:" in line:
                batches = int(line.split(" messages in ")[1].split()[0])
    latencies, assigned = [], 0
    for out, _ in sims:
        with open(out) as f:
            data = json.load(f)
        latencies.extend(data["latency_us"])
        assigned += data["assigned"]
    latencies.sort()
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    completed, first, last = con.execute(
        "SELECT COUNT(*), MIN(created_at), MAX(ended_at) FROM trials WHERE status = 'completed'").fetchone()
    status, reason = con.execute("SELECT status, reason FROM experiments").fetchone()
    lost = con.execute("SELECT COUNT(*) FROM workers WHERE status = 'lost'").fetchone()[0]
    con.close()
    size = sum(os.path.getsize(p) for p in (db, db + "-wal") if os.path.exists(p))
    span = (last - first) if completed else float("nan")
    return {
        "system": "hpt", "strategy": args.strategy, "workers": workers, "slots_per_worker": args.slots,
        "sleep_ms": args.sleep_ms, "trials": trials, "completed": completed,
        "experiment": f"{status}: {reason}",
        "trials_per_s": round(completed / span, 1) if completed else 0,
        "wall_s": round(wall, 3),
        "coord_cpu_us_per_trial": round((user + system) / max(completed, 1) * 1e6, 1),
        "coord_sys_share": round(system / max(user + system, 1e-9), 2),
        "sim_workers_cpu_us_per_trial": round(sims_cpu / max(completed, 1) * 1e6, 1),
        "dispatch_p50_us": percentile(latencies, 0.50),
        "dispatch_p99_us": percentile(latencies, 0.99),
        "dispatch_max_us": latencies[-1] if latencies else None,
        "dispatch_samples": len(latencies),
        "assigned": assigned,
        "commits": batches,
        "store_bytes_per_trial": round(size / max(completed, 1)),
        "lost_workers": lost,
        "leaderboard_ms": round(leaderboard_ms, 1),
    }


def registered(db):
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return con.execute("SELECT COUNT(*) FROM workers WHERE status = 'alive'").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def finished(db):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        row = con.execute("SELECT status FROM experiments").fetchone()
        return row is not None and row[0] != "running"
    finally:
        con.close()


def wait_for(predicate, timeout, what, poll=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(poll)
    raise SystemExit(f"run.py: timed out after {timeout} s waiting for {what}")


def run_optuna(variant, workers, trials, sleep_ms):
    command = [sys.executable if sys.executable.startswith("/usr/bin/") else "/usr/bin/python3",
               os.path.join(HERE, "optuna_throughput.py"), "--variant", variant,
               "--workers", str(workers), "--trials", str(trials), "--sleep-ms", str(sleep_ms)]
    result = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hpt", default=os.path.join(ROOT, "build/bin/hpt"))
    parser.add_argument("--sim", default=None, help="hpt-sim-worker (default: next to --hpt)")
    parser.add_argument("--workers", default="8", help="comma-separated worker counts")
    parser.add_argument("--trials", default="20000", help="comma-separated trial counts")
    parser.add_argument("--strategy", default="random", choices=STRATEGIES)
    parser.add_argument("--slots", type=int, default=1, help="slots per simulated worker")
    parser.add_argument("--sleep-ms", type=int, default=0, help="how long each simulated trial runs")
    parser.add_argument("--connections-per-process", type=int, default=1,
                        help="simulated workers per hpt-sim-worker process")
    parser.add_argument("--heartbeat-ms", type=int, default=1000)
    parser.add_argument("--optuna", default="", help="comma-separated: sqlite,journal,inmemory")
    parser.add_argument("--optuna-trials", type=int, default=2000)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--wrap", default="",
                        help="a profiler to run the coordinator under, e.g. 'valgrind --tool=callgrind'"
                             " (its CPU figure then counts the profiler)")
    parser.add_argument("--keep", help="keep each run's store and logs in a new folder under this one")
    parser.add_argument("--out", help="append the JSON lines to this file too")
    args = parser.parse_args()
    args.sim = args.sim or os.path.join(os.path.dirname(args.hpt), "hpt-sim-worker")
    for path in (args.hpt, args.sim):
        if not os.access(path, os.X_OK):
            parser.error(f"{path} is not an executable (build with -DHPT_BUILD_BENCH=ON)")

    def emit(record):
        line = json.dumps(record)
        print(line, flush=True)
        if args.out:
            with open(args.out, "a") as f:
                f.write(line + "\n")

    for workers in (int(w) for w in args.workers.split(",")):
        for trials in (int(n) for n in args.trials.split(",")):
            if args.keep:
                tmp = tempfile.mkdtemp(prefix="hpt-throughput-", dir=args.keep)
                emit(run_hpt(args, workers, trials, tmp))
                continue
            with tempfile.TemporaryDirectory(prefix="hpt-throughput-") as tmp:
                emit(run_hpt(args, workers, trials, tmp))
        for variant in filter(None, args.optuna.split(",")):
            emit(run_optuna(variant, 1 if variant == "inmemory" else workers, args.optuna_trials, args.sleep_ms))


if __name__ == "__main__":
    main()
