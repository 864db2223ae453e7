#!/bin/sh
# Issue 22's quality runs, cheapest first, one process at a time (docs/benchmarks.md, "Search
# quality against GP-EI and a random forest"). Usage: bench/quality22.sh BUILD_DIR DATE
# [GP_SEEDS_NOISY] [GP_SEEDS_HIGHDIM] [GP_BUDGET_HIGHDIM]. Each step writes its own file under
# bench/results/, one line per finished run, so a step cut short keeps the seeds it finished.
# gp-ei is the expensive one (scikit-learn's fit: 3 s a suggestion at d = 60, n = 100, 27 s at
# n = 190 on this machine), hence its own seed counts.
set -e
B=${1:-build-rel}/bin/hpt-strategy-bench
D=${2:-$(date +%F)}
R=bench/results/quality-$D
P="nice -n 10 /usr/bin/python3 bench/peers.py quality"
nice -n 10 $B quality --functions noisy --strategies bayesian,random --seeds 20 --budget 100 > $R-hpt-noisy.jsonl
nice -n 10 $B quality --functions highdim --strategies bayesian,random --seeds 20 --budget 200 > $R-hpt-highdim.jsonl
$P --functions noisy --samplers tpe,tpe_mv,random,rf-ei --seeds 20 --budget 100 > $R-peers-noisy.jsonl
$P --functions highdim --samplers tpe,tpe_mv,random,rf-ei --seeds 20 --budget 200 > $R-peers-highdim.jsonl
$P --functions all --samplers rf-ei --seeds 20 --budget 100 > $R-rfei-suite.jsonl
$P --functions noisy --samplers gp-ei --seeds ${3:-20} --budget 100 > $R-gpei-noisy.jsonl
$P --functions highdim --samplers gp-ei --seeds ${4:-20} --budget ${5:-200} > $R-gpei-highdim.jsonl
