#!/usr/bin/python3
"""What objective.noisy costs a read: the time of `hpt best` and `hpt leaderboard --top 10` on a
store whose experiment has N completed trials in D dimensions, with objective.noisy (the GP of
strategies/incumbent.h is fitted at every such read) and without it (the SQL leaderboard alone).

  incumbent_cost.py --hpt build/bin/hpt --bench build/bin/hpt-strategy-bench
                    [--cases branin_noise20:100,hartmann6_in30:1000] [--reps 5]

Each case is FUNCTION:N: `hpt run` of a random-search spec with N trials of
`hpt-strategy-bench trial` (the function's values, with its noise when it is a noisy one), then
each read `reps` times; one JSON object per (case, noisy, command) with the median and maximum
wall-clock seconds of the whole process (start, spec parse, store read, fit, print).

With --through-coordinator, the same reads go to an `hpt coordinator` started on the store
("via": "coordinator"): its first read fits the model ("first_s"), and the later ones with the
same trials are answered from its memo of the last fit (store/views.cc, IncumbentMemo), so
median_s over the later reads against first_s is what the memo saves a polling dashboard.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peers import FUNCTIONS  # noqa: E402


def spec_text(function, n, noisy, bench):
    params, _, _ = FUNCTIONS[function]
    lines = [f"name: cost-{function}",
             "objective: {metric: value, goal: minimize" + (", noisy: true" if noisy else "") + "}",
             "strategy: {type: random, seed: 1}", "parameters:"]
    for name, lo, hi, log in params:
        lines.append(f"  - {{name: {name}, type: float, min: {lo!r}, max: {hi!r}, scale: {'log' if log else 'linear'}}}")
    lines.append(f"limits: {{max_trials: {n}, max_failed: 1}}")
    command = [bench, "trial", "--function", function, "--seed", "1", "--evaluation", "{trial_id}",
               "--x", ",".join("{" + name + "}" for name, *_ in params)]
    lines.append("trial:")
    lines.append("  command: " + json.dumps(command))
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hpt", required=True)
    parser.add_argument("--bench", required=True)
    parser.add_argument("--cases", default="branin_noise20:100,branin_noise20:1000,hartmann6_noise20:256,"
                                            "hartmann6_noise20:1000,hartmann6_in30:256,hartmann6_in30:1000")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--through-coordinator", action="store_true")
    args = parser.parse_args()
    hpt, bench = os.path.abspath(args.hpt), os.path.abspath(args.bench)
    with tempfile.TemporaryDirectory(prefix="hpt-incumbent-cost-") as scratch:
        for case in args.cases.split(","):
            function, n = case.split(":")
            for noisy in (False, True):
                spec = os.path.join(scratch, "spec.yaml")
                db = os.path.join(scratch, f"{function}-{n}-{noisy}.db")
                with open(spec, "w") as f:
                    f.write(spec_text(function, int(n), noisy, bench))
                subprocess.run([hpt, "run", spec, "--db", db, "--workers", str(args.workers), "--work-dir",
                                os.path.join(scratch, "runs")], check=True, capture_output=True)
                coordinator = None
                where = ["--db", db]
                if args.through_coordinator:
                    coordinator = subprocess.Popen([hpt, "coordinator", "--bind", "tcp://127.0.0.1:0", "--db", db],
                                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                    where = ["--coordinator", coordinator.stdout.readline().strip().split()[-1]]
                try:
                    for command in (["best", f"cost-{function}", "--format", "json"],
                                    ["leaderboard", f"cost-{function}", "--top", "10"]):
                        seconds = []
                        for _ in range(args.reps + (1 if coordinator else 0)):
                            start = time.monotonic()
                            subprocess.run([hpt, *command, *where], check=True, capture_output=True)
                            seconds.append(time.monotonic() - start)
                        row = {"function": function, "dims": len(FUNCTIONS[function][0]), "trials": int(n),
                               "noisy": noisy, "command": command[0],
                               "via": "coordinator" if coordinator else "file"}
                        if coordinator:
                            row["first_s"] = seconds.pop(0)
                        row.update({"median_s": statistics.median(seconds), "max_s": max(seconds), "reps": args.reps})
                        print(json.dumps(row), flush=True)
                finally:
                    if coordinator:
                        coordinator.terminate()
                        coordinator.wait()


if __name__ == "__main__":
    sys.exit(main())
