#!/usr/bin/env python3
"""A small stand-in for a training run, used by configs/quickstart.yaml.

It "trains" for --epochs epochs and prints hpt metric lines. Its validation accuracy is a smooth
function of the hyperparameters (best near lr=0.02, momentum=0.95, batch_size=64, adam) plus
noise that shrinks as training goes on, so a tuner has something real to find.
"""
import argparse
import math
import os
import random
import sys
import time

p = argparse.ArgumentParser()
p.add_argument("--lr", type=float, required=True)
p.add_argument("--momentum", type=float, required=True)
p.add_argument("--batch-size", type=int, required=True)
p.add_argument("--optimizer", choices=["sgd", "adam"], required=True)
p.add_argument("--epochs", type=int, default=5)
p.add_argument("--epoch-seconds", type=float, default=0.05)
a = p.parse_args()

# Distance from the sweet spot in the spaces where these parameters act: log lr, log(1-momentum).
d_lr = (math.log10(a.lr) - math.log10(0.02)) / 1.5
d_mom = (math.log10(1 - a.momentum) - math.log10(0.05)) / 1.0
d_bs = (math.log2(a.batch_size) - 6) / 3.0
penalty = d_lr ** 2 + 0.5 * d_mom ** 2 + 0.3 * d_bs ** 2 + (0.0 if a.optimizer == "adam" else 0.15)
final_acc = 0.55 + 0.40 * math.exp(-penalty)

rng = random.Random(os.environ.get("HPT_TRIAL_ID", "0"))
for epoch in range(1, a.epochs + 1):
    time.sleep(a.epoch_seconds)
    progress = 1 - math.exp(-1.2 * epoch)
    acc = 0.1 + (final_acc - 0.1) * progress + rng.gauss(0, 0.01 / epoch)
    val_loss = -math.log(max(acc, 1e-6))
    train_loss = val_loss * 0.9
    print(f"hpt: step={epoch} train_loss={train_loss:.5f} val_loss={val_loss:.5f} val_accuracy={acc:.5f}",
          flush=True)
sys.exit(0)
