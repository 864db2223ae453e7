#!/usr/bin/python3
"""Markdown tables from the benchmark JSON lines (hpt-strategy-bench and peers.py output).

  report.py quality FILE...   median [q25, q75] of log10 simple regret per function, strategy, budget
  report.py latency FILE...   suggestion time per tool, n and d
"""
import json
import math
import sys
from collections import defaultdict

import numpy as np

BUDGETS = (25, 50, 100)
FLOOR = 1e-12  # regrets below this are counted as this (log10 = -12)


def load(paths):
    rows = []
    for path in paths:
        with open(path) as f:
            rows += [json.loads(line) for line in f if line.strip()]
    return rows


def quality(paths):
    runs = defaultdict(list)
    for r in load(paths):
        key = r["strategy"] + ("" if r.get("slots", 1) == 1 else f" ({r['slots']} slots)")
        runs[(r["function"], key)].append(r)
    functions = list(dict.fromkeys(f for f, _ in runs))
    strategies = list(dict.fromkeys(s for _, s in runs))

    def stats(rs, budget):
        v = [math.log10(max(r["best_so_far"][budget - 1] - r["minimum"], FLOOR)) for r in rs]
        return np.median(v), np.percentile(v, 25), np.percentile(v, 75), len(v)

    print("median log10 simple regret [25th, 75th percentile] over seeds; lower is better\n")
    print("| function | strategy | seeds | " + " | ".join(f"{b} evals" for b in BUDGETS) + " |")
    print("|---|---|---|" + "---|" * len(BUDGETS))
    for f in functions:
        for s in strategies:
            rs = runs.get((f, s))
            if not rs:
                continue
            cells = []
            for b in BUDGETS:
                m, lo, hi, _ = stats(rs, b)
                cells.append(f"{m:.2f} [{lo:.2f}, {hi:.2f}]")
            print(f"| {f} | {s} | {len(rs)} | " + " | ".join(cells) + " |")
    # Targets of issue 3 (against plain TPE), and the same count against multivariate TPE.
    for peer in ("optuna-tpe", "optuna-tpe_mv"):
        print(f"\nhpt-bayesian against {peer} (median log10 regret; wins = bayesian lower):\n")
        print("| budget | wins | functions lost |")
        print("|---|---|---|")
        for b in (50, 100):
            wins, lost = 0, []
            for f in functions:
                if (f, "hpt-bayesian") in runs and (f, peer) in runs:
                    if stats(runs[(f, "hpt-bayesian")], b)[0] < stats(runs[(f, peer)], b)[0]:
                        wins += 1
                    else:
                        lost.append(f)
            print(f"| {b} | {wins} of {len(functions)} | {', '.join(lost) or '-'} |")
    for f, b, limit, label in (("branin", 40, 1e-3, "Branin regret at 40 evaluations (target < 1e-3)"),
                               ("hartmann6", 80, 0.05, "Hartmann6 regret at 80 evaluations (target < 0.05)")):
        for s in ("hpt-bayesian", "hpt-bayesian (real path)"):
            if (f, s) in runs:
                v = [r["best_so_far"][b - 1] - r["minimum"] for r in runs[(f, s)]]
                print(f"\n{label}, {s}: median {np.median(v):.3g} "
                      f"(quartiles {np.percentile(v, 25):.3g}, {np.percentile(v, 75):.3g}; "
                      f"{sum(x < limit for x in v)} of {len(v)} seeds below the target)")


def latency(paths):
    rows = load(paths)
    print("| tool | d | n | p50 ms | p95 ms | CPU p50 ms | CPU p95 ms | fit p50 ms | acquisition p50 ms | cold ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    ms = lambda r, k: f"{1000 * r[k]:.1f}" if k in r else "-"
    for r in sorted(rows, key=lambda r: (r["tool"], r["d"], r["n"])):
        if "skipped" in r:
            print(f"| {r['tool']} | {r['d']} | {r['n']} | skipped: {r['skipped']} | | | | | | |")
            continue
        print(f"| {r['tool']} | {r['d']} | {r['n']} | {ms(r, 'p50_s')} | {ms(r, 'p95_s')} | {ms(r, 'cpu_p50_s')} | {ms(r, 'cpu_p95_s')} | {ms(r, 'fit_p50_s')} | "
              f"{ms(r, 'acq_p50_s')} | {ms(r, 'cold_s')} |")


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in ("quality", "latency"):
        sys.exit(__doc__)
    quality(sys.argv[2:]) if sys.argv[1] == "quality" else latency(sys.argv[2:])
