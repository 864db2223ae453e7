#!/usr/bin/env python3
"""A trial that trains for HPT_BUDGET epochs in total, checkpointing to HPT_CHECKPOINT_DIR.

A promoted attempt loads the checkpoint and continues at the next epoch, so the steps it prints
continue the previous attempt's (1..r1, then r1+1..r2, ...). --implicit-steps prints lines without
`step=`, leaving the numbering to the worker. --mode bad reports a poor score (early stopping).
"""
import argparse
import json
import os
import time

p = argparse.ArgumentParser()
p.add_argument("--x", type=float, required=True)
p.add_argument("--epoch-seconds", type=float, default=0.02)
p.add_argument("--implicit-steps", action="store_true")
p.add_argument("--mode", default="good")
a = p.parse_args()

budget = int(float(os.environ.get("HPT_BUDGET") or 9))
ckpt = os.path.join(os.environ["HPT_CHECKPOINT_DIR"], "state.json")
epoch = 0
if os.path.exists(ckpt):
    with open(ckpt) as f:
        epoch = json.load(f)["epoch"]
with open(os.path.join(os.environ["HPT_TRIAL_DIR"], "starts.txt"), "a") as f:
    f.write("%d %d\n" % (epoch, budget))

while epoch < budget:
    epoch += 1
    time.sleep(a.epoch_seconds)
    score = 1.0 - (a.x - 0.3) ** 2 - 1.0 / (epoch + 1)
    if a.mode == "bad":
        score -= 0.5
    if a.implicit_steps:
        print("hpt: score=%.6f" % score, flush=True)
    else:
        print("hpt: step=%d score=%.6f" % (epoch, score), flush=True)
    with open(ckpt + ".tmp", "w") as f:
        json.dump({"epoch": epoch}, f)
    os.replace(ckpt + ".tmp", ckpt)
