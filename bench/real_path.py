#!/usr/bin/python3
"""Strategy quality through the real path: spec -> `hpt run` (coordinator, local worker, trial
processes, SQLite) -> `hpt trials --format json`, for the functions of peers.py.

  real_path.py --hpt build/bin/hpt [--functions branin] [--seeds 20] [--budget 50]
               [--strategy bayesian] [--slots 1]

Each (function, seed) is one `hpt run` of a spec with `strategy: {type: STRATEGY, seed: SEED}`
whose trial is `python3 bench/peers.py evaluate FUNCTION {x0} {x1} ...` (it prints
`hpt: value=...`). The trials' objectives, in trial-number order, give the best-so-far curve.
Prints one JSON object per run in the format of `hpt-strategy-bench quality` (strategy named
`hpt-STRATEGY (real path)`), so bench/report.py reads both.

  real_path.py --hpt build/bin/hpt --pareto [--functions zdt1,binh_korn] [--seeds 20] [--budget 100]

The same for the multi-objective problems of peers.py (PARETO): a spec with `objectives:` f0, f1..
and `constraints:` c0, c1.., the trial `peers.py evaluate-pareto PROBLEM ...`; one JSON object per
run in the format of `hpt-strategy-bench pareto`, read back from `hpt trials --format json`.

  real_path.py --hpt build/bin/hpt --bench build/bin/hpt-strategy-bench --functions branin_noise20
               [--seeds 20] [--budget 50]

With --bench, the trial is `hpt-strategy-bench trial --function F --seed SEED --evaluation
{trial_id} --x ...` instead of peers.py: the function in C++, as the in-process loop computes it,
so a run with one slot sees the very values of `hpt-strategy-bench quality` (its row is named
`hpt-STRATEGY (real path, C++ trial)`). For a noisy function of peers.py's NOISY (--bench
required) the trial adds the noise draw the in-process loop gives that evaluation (a fresh store
per run, so the trial id is the trial's number) and prints the noise-free value as a second
metric, `clean`, and the spec declares `objective.noisy: true`. Two rows per noisy run, each
best_so_far the noise-free value of a recommendation after every evaluation:
`hpt-bayesian-observed (real path)` recommends the best observed value; `hpt-bayesian-posterior
(real path)` the trial `hpt best --format json` names, asked of a copy of the store in which the
trials after the k-th are set back to pending (so the leaderboard sees the first k completed).
"""
import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peers import CONDITIONAL, FUNCTIONS, NOISY, PARETO  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def conditional_spec_text(problem, strategy, seed, budget, slots):
    params = CONDITIONAL[problem][0]
    lines = [f"name: real-{problem}", "objective: {metric: value, goal: minimize}",
             f"strategy: {{type: {strategy}, seed: {seed}}}", "parameters:"]
    for name, kind, spec, when in params:
        if kind == "cat":
            fields = f"type: categorical, values: {json.dumps(spec)}"
        else:
            lo, hi, log = spec
            fields = f"type: {kind}, min: {lo!r}, max: {hi!r}, scale: {'log' if log else 'linear'}"
        if when is not None:
            fields += f", when: {{{when[0]}: {json.dumps(when[1])}}}"
        lines.append(f"  - {{name: {name}, {fields}}}")
    lines.append(f"limits: {{max_trials: {budget}, max_parallel: {slots}, trial_timeout: 1m}}")
    command = ["python3", os.path.join(ROOT, "bench", "peers.py"), "evaluate-conditional", problem]
    command += [f"{name}={{{name}}}" for name, *_ in params]
    lines.append("trial:")
    lines.append("  command: " + json.dumps(command))
    return "\n".join(lines) + "\n"


def bench_spec_text(function, strategy, seed, budget, slots, bench):
    params, _, _ = FUNCTIONS[function]
    noisy = ", noisy: true" if function in NOISY else ""
    lines = [f"name: real-{function}", f"objective: {{metric: value, goal: minimize{noisy}}}",
             f"strategy: {{type: {strategy}, seed: {seed}}}", "parameters:"]
    for name, lo, hi, log in params:
        lines.append(f"  - {{name: {name}, type: float, min: {lo!r}, max: {hi!r}, scale: {'log' if log else 'linear'}}}")
    lines.append(f"limits: {{max_trials: {budget}, max_parallel: {slots}, trial_timeout: 1m}}")
    command = [bench, "trial", "--function", function, "--seed", str(seed), "--evaluation", "{trial_id}",
               "--x", ",".join("{" + name + "}" for name, *_ in params)]
    lines.append("trial:")
    lines.append("  command: " + json.dumps(command))
    return "\n".join(lines) + "\n"


def hpt_best_curve(hpt, function, db, budget, scratch):
    """The trial `hpt best` recommends after each of the first `budget` evaluations: asked of a copy
    of the store whose trials after the k-th are set back to pending, for k = budget down to 1."""
    copy = os.path.join(scratch, "best-copy.db")
    shutil.copyfile(db, copy)
    con = sqlite3.connect(copy)
    chosen = []
    try:
        for k in range(budget, 0, -1):
            con.execute("UPDATE trials SET status = 'pending', objective = NULL WHERE number > ?", (k,))
            con.commit()
            out = subprocess.run([hpt, "best", f"real-{function}", "--db", copy, "--format", "json"],
                                 check=True, capture_output=True, text=True).stdout
            best = json.loads(out)
            if best["chosen_by"] != ("posterior_mean" if k >= 2 else "objective"):
                raise SystemExit(f"{function}: hpt best at {k} trials chose by {best['chosen_by']}")
            chosen.append(best["number"])
    finally:
        con.close()
        os.remove(copy)
    return chosen[::-1]


def run_bench_trial(hpt, bench, function, strategy, seed, budget, slots, scratch):
    spec = os.path.join(scratch, f"{function}-{seed}.yaml")
    db = os.path.join(scratch, f"{function}-{seed}.db")
    with open(spec, "w") as f:
        f.write(bench_spec_text(function, strategy, seed, budget, slots, bench))
    start = time.monotonic()
    run = subprocess.run([hpt, "run", spec, "--db", db, "--workers", str(slots), "--top", "0",
                          "--work-dir", os.path.join(scratch, "runs")], capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"{function} seed {seed}: hpt run exited {run.returncode}\n{run.stderr}")
    seconds = time.monotonic() - start
    out = subprocess.run([hpt, "export", f"real-{function}", "--db", db, "--format", "json", "--metrics", "clean"],
                         check=True, capture_output=True, text=True).stdout
    trials = sorted(json.loads(out), key=lambda t: t["number"])
    if len(trials) != budget or any(t["status"] != "completed" for t in trials):
        raise SystemExit(f"{function} seed {seed}: expected {budget} completed trials")
    common = {"function": function, "seed": seed, "slots": slots, "minimum": FUNCTIONS[function][1],
              "seconds": seconds, "values": [t["objective"] for t in trials]}
    if function not in NOISY:
        best, curve = float("inf"), []
        for t in trials:
            best = min(best, t["objective"])
            curve.append(best)
        return [dict(common, strategy=f"hpt-{strategy} (real path, C++ trial)", best_so_far=curve)]
    clean = {t["number"]: t["statistics"]["clean"]["last"] for t in trials}
    observed, best, incumbent = [], float("inf"), None
    for t in trials:
        if t["objective"] < best:
            best, incumbent = t["objective"], t["number"]
        observed.append(clean[incumbent])
    chosen = hpt_best_curve(hpt, function, db, budget, scratch)
    common["noise_sd"] = NOISY[function][1]
    return [dict(common, strategy=f"hpt-{strategy}-observed (real path)", best_so_far=observed),
            dict(common, strategy=f"hpt-{strategy}-posterior (real path)", best_so_far=[clean[n] for n in chosen],
                 chosen=chosen)]


def spec_text(function, strategy, seed, budget, slots):
    if function in CONDITIONAL:
        return conditional_spec_text(function, strategy, seed, budget, slots)
    if function in PARETO:
        params, m, constraints, _ = PARETO[function]
        head = ["objectives:"] + [f"  - {{metric: f{i}, goal: minimize}}" for i in range(m)]
        if constraints:
            head.append("constraints:")
            for i, (lo, hi) in enumerate(constraints):
                bounds = ([f"min: {lo!r}"] if lo is not None else []) + ([f"max: {hi!r}"] if hi is not None else [])
                head.append(f"  - {{metric: c{i}, {', '.join(bounds)}}}")
        program = "evaluate-pareto"
    else:
        params, _, _ = FUNCTIONS[function]
        head = ["objective: {metric: value, goal: minimize}"]
        program = "evaluate"
    lines = [f"name: real-{function}"] + head + [
             f"strategy: {{type: {strategy}, seed: {seed}}}",
             "parameters:"]
    for name, lo, hi, log in params:
        scale = "log" if log else "linear"
        lines.append(f"  - {{name: {name}, type: float, min: {lo!r}, max: {hi!r}, scale: {scale}}}")
    lines.append(f"limits: {{max_trials: {budget}, max_parallel: {slots}, trial_timeout: 1m}}")
    command = ["python3", os.path.join(ROOT, "bench", "peers.py"), program, function]
    command += ["{" + name + "}" for name, *_ in params]
    lines.append("trial:")
    lines.append("  command: " + json.dumps(command))
    return "\n".join(lines) + "\n"


def run_one(hpt, function, strategy, seed, budget, slots, scratch):
    spec = os.path.join(scratch, f"{function}-{seed}.yaml")
    db = os.path.join(scratch, f"{function}-{seed}.db")
    with open(spec, "w") as f:
        f.write(spec_text(function, strategy, seed, budget, slots))
    start = time.monotonic()
    run = subprocess.run([hpt, "run", spec, "--db", db, "--workers", str(slots), "--top", "0",
                          "--work-dir", os.path.join(scratch, "runs")],
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"{function} seed {seed}: hpt run exited {run.returncode}\n{run.stderr}")
    seconds = time.monotonic() - start
    out = subprocess.run([hpt, "trials", f"real-{function}", "--db", db, "--format", "json"],
                         check=True, capture_output=True, text=True).stdout
    trials = sorted(json.loads(out), key=lambda t: t["number"])
    if len(trials) != budget or any(t["status"] != "completed" for t in trials):
        raise SystemExit(f"{function} seed {seed}: expected {budget} completed trials, got "
                         f"{[(t['number'], t['status']) for t in trials]}")
    if function in PARETO:
        m = PARETO[function][1]
        return {"problem": function, "strategy": f"hpt-{strategy} (real path)", "seed": seed,
                "objectives": [[t["objectives"][f"f{i}"] for i in range(m)] for t in trials],
                "feasible": [t["feasible"] for t in trials], "seconds": seconds}
    best, best_so_far = float("inf"), []
    for t in trials:
        best = min(best, t["objective"])
        best_so_far.append(best)
    return {"function": function, "strategy": f"hpt-{strategy} (real path)", "seed": seed,
            "slots": slots, "minimum": (CONDITIONAL.get(function) or FUNCTIONS[function])[1], "best_so_far": best_so_far,
            "seconds": seconds}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hpt", required=True)
    parser.add_argument("--bench", help="hpt-strategy-bench, the trial program of the noisy functions")
    parser.add_argument("--functions", default="branin")
    parser.add_argument("--strategy", default="bayesian")
    parser.add_argument("--seeds", type=int, default=20, help="run seeds FIRST_SEED..SEEDS-1")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--budget", type=int, default=50)
    parser.add_argument("--slots", type=int, default=1)
    parser.add_argument("--pareto", action="store_true", help="the multi-objective problems (default zdt1,binh_korn)")
    parser.add_argument("--conditional", action="store_true",
                        help="the conditional problems (default two_models,mlp_layers)")
    args = parser.parse_args()
    if args.pareto and args.functions == "branin":
        args.functions = "zdt1,binh_korn"
    if args.conditional and args.functions == "branin":
        args.functions = ",".join(CONDITIONAL)
    hpt = os.path.abspath(args.hpt)
    with tempfile.TemporaryDirectory(prefix="hpt-real-path-") as scratch:
        for function in args.functions.split(","):
            for seed in range(args.first_seed, args.seeds):
                if function in NOISY and not args.bench:
                    raise SystemExit(f"{function} is noisy: --bench must name hpt-strategy-bench")
                if args.bench and function in FUNCTIONS:
                    for row in run_bench_trial(hpt, os.path.abspath(args.bench), function, args.strategy, seed,
                                         args.budget, args.slots, scratch):
                        print(json.dumps(row), flush=True)
                    continue
                row = run_one(hpt, function, args.strategy, seed, args.budget, args.slots, scratch)
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    sys.exit(main())
