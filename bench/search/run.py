#!/usr/bin/env python3
"""hpt search on a large store: wall time of `hpt search --db` (process start included) for a few
representative queries, p50 and max of --repeat runs each, as JSON lines (docs/cli.md quotes them).

  build-rel/bin/hpt-plot-bench --db /tmp/s.db --trials 100000 --params 10 --fill-only 1
  python3 bench/search/run.py --hpt build-rel/bin/hpt --db /tmp/s.db

The store hpt-plot-bench fills: one experiment `bench`, params p0..p9 (floats, ints, categoricals
a/b/c), one metric `score` with 5 steps per trial, every trial completed.
"""
import argparse
import json
import statistics
import subprocess
import time

# Each filter is selective (well under 1% of the trials match), so every query reads every trial:
# a LIMIT cannot stop it early. The sorted ones keep --top rows of a sort over all matches.
QUERIES = [
    ("param", "params.p0 < 1.1e-5", None),
    ("metric last", "metrics.score.last > 99.9", None),
    ("issue example", "metrics.score.last > 99 and params.p0 < 1e-2 and status = completed", None),
    ("or, not, categorical", "(params.p2 = a or params.p5 = 'b') and not params.p1 > 2 and params.p4 < 3", None),
    ("metric avg, sort by metric max, top", "metrics.score.avg > 10", "metrics.score.max desc"),
    ("all, sort by objective, top", "status = completed", "objective desc"),
    ("component, sort by param, top", "component = static", "params.p3"),
]

p = argparse.ArgumentParser()
p.add_argument("--hpt", required=True)
p.add_argument("--db", required=True)
p.add_argument("--repeat", type=int, default=7)
p.add_argument("--top", type=int, default=10)
a = p.parse_args()

for name, expr, sort in QUERIES:
    args = [a.hpt, "search", expr, "--db", a.db, "--format", "json"]
    if sort:
        args += ["--sort", sort, "--top", str(a.top)]
    times = []
    rows = None
    for _ in range(a.repeat):
        start = time.perf_counter()
        r = subprocess.run(args, capture_output=True, text=True, check=True)
        times.append(time.perf_counter() - start)
        rows = len(json.loads(r.stdout))
    print(json.dumps({"query": name, "expr": expr, "sort": sort, "top": a.top if sort else None, "rows": rows,
                      "p50_ms": round(statistics.median(times) * 1000, 1), "max_ms": round(max(times) * 1000, 1)}),
          flush=True)
