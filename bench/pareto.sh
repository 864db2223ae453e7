#!/bin/bash
# The multi-objective quality bench (docs/benchmarks.md, "Several objectives"): hpt's bayesian and
# sobol through the Strategy API (hpt-strategy-bench pareto), Optuna 3.1's NSGA-II and
# multi-objective TPE (peers.py pareto), on the same problems, budgets and seeds. Writes the runs to
# bench/results/pareto-DATE.jsonl (replacing a file of the same day) and prints report.py's table.
#
#   bench/pareto.sh [BUILD_DIR]        SEEDS=20 BUDGET=100 PROBLEMS=all by default
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-rel}
seeds=${SEEDS:-20}
budget=${BUDGET:-100}
problems=${PROBLEMS:-all}
out=bench/results/pareto-$(date -u +%F).jsonl
start=$(date +%s)
# The two sides run at once, one core each.
"$build/bin/hpt-strategy-bench" pareto --problems "$problems" --strategies bayesian,sobol --seeds "$seeds" \
  --budget "$budget" > "$out.hpt" &
/usr/bin/python3 bench/peers.py pareto --problems "$problems" --seeds "$seeds" --budget "$budget" > "$out.optuna"
wait
cat "$out.hpt" "$out.optuna" > "$out"
rm "$out.hpt" "$out.optuna"
echo "$(wc -l < "$out") runs in $(( $(date +%s) - start )) s -> $out"
/usr/bin/python3 bench/report.py pareto "$out"
