#!/usr/bin/python3
"""Optuna 3.1's HyperbandPruner and SuccessiveHalvingPruner on the multi-fidelity benchmark.

The same curve families as hpt-mf-bench (curves.h: the synthetic family is reimplemented here
bit for bit, the recorded family is replayed from the same JSON with the same lookup), the same
targets (read from `hpt-mf-bench families`), the same seeds and budgets (min 1, max R, eta 3).
Each trial reports its value at every step 1..R and asks should_prune() after each report; a
pruned trial stops there. Resource = steps reported; Optuna runs one trial at a time, so the
simulated time equals the resource. One JSON object per run on stdout, like hpt-mf-bench reach.

  /usr/bin/python3 bench/multi_fidelity/optuna_mf.py --families families.jsonl \
      --real fashion-mnist-mlp=bench/multi_fidelity/data/fashion_mnist_mlp.json --seeds 20
"""
import argparse
import json
import math
import struct
import sys

import optuna

MASK = (1 << 64) - 1
A6 = [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]]
P6 = [[0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886], [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
      [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650], [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381]]
ALPHA = [1.0, 1.2, 3.0, 3.2]


def splitmix64(x):
    z = (x + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def noise(seed, u, r):
    h = splitmix64(seed)
    for v in u:
        h = splitmix64(h ^ struct.unpack("<Q", struct.pack("<d", v))[0])
    h = splitmix64(h ^ r)
    u1 = (splitmix64(h) >> 11) * 2.0 ** -53
    u2 = (splitmix64((h + 1) & MASK) >> 11) * 2.0 ** -53
    return math.sqrt(-2 * math.log(1 - u1)) * math.cos(2 * math.pi * u2)


def hartmann6(x):
    total = 0.0
    for i in range(4):
        inner = 0.0
        for j in range(6):
            inner += A6[i][j] * (x[j] - P6[i][j]) * (x[j] - P6[i][j])
        total += ALPHA[i] * math.exp(-inner)
    return -total


class Synthetic:
    """curves.h MakeSyntheticFamily."""
    name = "synthetic-hartmann6"
    dims = 6
    max_resource = 81

    def value(self, u, r, seed):
        h = hartmann6(u) / -3.32237
        f = 1 - 0.013 * h
        amplitude = 0.02 * (0.25 + 0.6 * h + 0.4 * (1 + math.sin(2 * math.pi * (u[0] * u[3] + u[5]))) / 2)
        rate = 0.3 + 1.2 * (1 + math.cos(2 * math.pi * (u[1] + u[4] / 2))) / 2
        clean = f + amplitude * math.pow(r, -rate)
        return clean + 0.002 / math.sqrt(r) * noise(seed, u, r)


class Recorded:
    """curves.h LoadRecordedFamily: u0 picks curve min(N - 1, floor(u0 N))."""
    dims = 1

    def __init__(self, name, path):
        with open(path) as f:
            data = json.load(f)
        self.name = name
        self.max_resource = data["max_epochs"]
        self.curves = [c["val_error"] for c in data["curves"]]

    def value(self, u, r, seed):
        n = len(self.curves)
        return self.curves[min(n - 1, int(math.floor(u[0] * n)))][min(max(r, 1), self.max_resource) - 1]


class Stop(Exception):
    pass


def run_one(family, target, pruner_name, sampler_name, seed, cap):
    R = family.max_resource
    if pruner_name == "hyperband":
        pruner = optuna.pruners.HyperbandPruner(min_resource=1, max_resource=R, reduction_factor=3)
    else:
        pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3,
                                                        min_early_stopping_rate=0)
    if sampler_name == "random":
        sampler = optuna.samplers.RandomSampler(seed=seed)
    else:
        sampler = optuna.samplers.TPESampler(seed=seed)
    study = optuna.create_study(direction="minimize", sampler=sampler, pruner=pruner)
    state = {"resource": 0, "trials": 0, "reached": False, "at": None, "trials_at": None, "best_full": None}

    def objective(trial):
        state["trials"] += 1
        u = [trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(family.dims)]
        y = None
        for step in range(1, R + 1):
            y = family.value(u, step, seed)
            state["resource"] += 1
            trial.report(y, step)
            if step == R:
                if state["best_full"] is None or y < state["best_full"]:
                    state["best_full"] = y
                if y <= target and not state["reached"]:
                    state["reached"] = True
                    state["at"] = state["resource"]
                    state["trials_at"] = state["trials"]
            elif trial.should_prune():
                raise optuna.TrialPruned()
        return y

    def callback(study_, _trial):
        if state["reached"] or state["resource"] >= cap * R:
            study_.stop()

    study.optimize(objective, callbacks=[callback])
    return {
        "mode": "reach", "family": family.name, "method": f"optuna-{pruner_name}+{sampler_name}", "slots": 1,
        "seed": seed, "max_resource": R, "target": target, "reached": state["reached"],
        "resource": state["at"], "time": state["at"], "trials_at_target": state["trials_at"],
        "total_resource": state["resource"], "makespan": state["resource"], "utilization": 1.0,
        "trials": state["trials"], "best_full": state["best_full"],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--families", required=True, help="output of `hpt-mf-bench families`")
    ap.add_argument("--real", default="", help="NAME=FILE.json[,...], as for hpt-mf-bench")
    ap.add_argument("--only", default="", help="comma-separated family names (default: all)")
    ap.add_argument("--pruners", default="hyperband,sha")
    ap.add_argument("--samplers", default="random,tpe")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--cap", type=float, default=400, help="stop after cap * R resource")
    ap.add_argument("--check", default="", help="print the values of one configuration (comma list) and exit")
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    families = [Synthetic()]
    for spec in filter(None, args.real.split(",")):
        name, path = spec.split("=", 1)
        families.append(Recorded(name, path))
    if args.only:
        families = [f for f in families if f.name in args.only.split(",")]
    if args.check:
        u = [float(v) for v in args.check.split(",")]
        for f in families:
            if len(u) == f.dims:
                print(json.dumps({"family": f.name, "values": [f.value(u, r, 1) for r in range(1, f.max_resource + 1)]}))
        return
    targets = {}
    with open(args.families) as f:
        for line in f:
            d = json.loads(line)
            targets[d["family"]] = d["target"]
    for family in families:
        for pruner in args.pruners.split(","):
            for sampler in args.samplers.split(","):
                for seed in range(args.first_seed, args.first_seed + args.seeds):
                    print(json.dumps(run_one(family, targets[family.name], pruner, sampler, seed, args.cap)), flush=True)


if __name__ == "__main__":
    sys.exit(main())
