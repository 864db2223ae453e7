#!/usr/bin/python3
"""Records the real learning-curve family of the multi-fidelity benchmark.

Runs build/worker/train/hpt-train (libtorch MLP, Fashion-MNIST) for N random configurations for
--epochs epochs each, on a small fixed subset (so that the whole recording takes minutes of CPU),
and writes every epoch's validation metrics to a JSON file that bench/multi_fidelity replays.
Configurations are drawn from a fixed seed; each run uses --seed 0 and --split-seed 0, so the
file is reproducible up to libtorch's CPU nondeterminism. Usage:

  nice -n 10 /usr/bin/python3 bench/multi_fidelity/record_real_curves.py \
      --trainer build/worker/train/hpt-train --out bench/multi_fidelity/data/fashion_mnist_mlp.json
"""
import argparse
import json
import math
import random
import re
import subprocess
import sys
import time

LINE = re.compile(r"^hpt: (.*)$")


def draw(rng):
    """One configuration; log-uniform where the scale matters."""
    return {
        "lr": 10 ** rng.uniform(-4.0, -0.5),
        "optimizer": rng.choice(["adam", "sgd"]),
        "batch_size": int(round(2 ** rng.uniform(5, 8))),      # 32..256
        "hidden": int(round(2 ** rng.uniform(4, 8))),          # 16..256
        "depth": rng.randint(1, 3),
        "dropout": round(rng.uniform(0.0, 0.5), 3),
        "weight_decay": 10 ** rng.uniform(-6.0, -2.0),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trainer", default="build/worker/train/hpt-train")
    ap.add_argument("--out", required=True)
    ap.add_argument("--configs", type=int, default=60)
    ap.add_argument("--epochs", type=int, default=27)
    ap.add_argument("--train-subset", type=int, default=2000)
    ap.add_argument("--val-subset", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument("--family", default="fashion-mnist-mlp")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    record = {
        "family": args.family,
        "objective": "val_error",  # 1 - val_accuracy, minimized
        "max_epochs": args.epochs,
        "trainer": "hpt-train --model mlp --data fashion-mnist",
        "train_subset": args.train_subset,
        "val_subset": args.val_subset,
        "config_seed": args.seed,
        "curves": [],
    }
    started = time.time()
    for i in range(args.configs):
        cfg = draw(rng)
        cmd = [args.trainer, "--model", "mlp", "--epochs", str(args.epochs), "--threads", "1",
               "--device", "cpu", "--seed", "0", "--split-seed", "0", "--checkpoint-dir=",
               "--train-subset", str(args.train_subset), "--val-subset", str(args.val_subset),
               "--lr", repr(cfg["lr"]), "--optimizer", cfg["optimizer"],
               "--batch-size", str(cfg["batch_size"]), "--hidden", str(cfg["hidden"]),
               "--depth", str(cfg["depth"]), "--dropout", str(cfg["dropout"]),
               "--weight-decay", repr(cfg["weight_decay"])]
        t0 = time.time()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"config {i}: exit {proc.returncode}: {proc.stderr[-500:]}")
        steps = []
        for line in proc.stdout.splitlines():
            m = LINE.match(line)
            if not m:
                continue
            kv = dict(tok.split("=", 1) for tok in m.group(1).split())
            steps.append(kv)
        val_error = [1.0 - float(s["val_accuracy"]) for s in steps]
        # JSON has no NaN: a diverged epoch's loss is recorded as 1e9.
        val_loss = [v if math.isfinite(v) else 1e9 for v in (float(s["val_loss"]) for s in steps)]
        diverged = len(steps) < args.epochs
        # A diverged run (NaN loss) stops early: it keeps its last value for the remaining epochs.
        while len(val_error) < args.epochs:
            val_error.append(val_error[-1] if val_error else 0.9)
            val_loss.append(val_loss[-1] if val_loss and math.isfinite(val_loss[-1]) else 1e9)
        record["curves"].append({
            "config": cfg, "val_error": val_error, "val_loss": val_loss, "diverged": diverged,
            "epoch_seconds": [float(s["epoch_seconds"]) for s in steps],
        })
        print(f"[{i + 1}/{args.configs}] {time.time() - t0:.1f}s final val_error {val_error[-1]:.4f} "
              f"best {min(val_error):.4f} {cfg}", flush=True)
        record["recording_seconds"] = round(time.time() - started, 1)
        with open(args.out, "w") as f:  # rewritten after each config: a stopped run keeps its curves
            json.dump(record, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
