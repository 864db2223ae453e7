#!/usr/bin/env python3
"""A configurable trial program for the integration tests.

--mode ok      prints --steps metric lines (score = -(x-1)^2 - (y-2)^2 at the end) and exits 0
--mode fail    prints one line, then exits 3
--mode hang    prints one line, then sleeps far past any timeout
--mode noobj   prints only `loss`, never the objective `score`, and exits 0
--mode regex   prints `score` only in a free-form line for a regex metric
--mode multi   prints `error`, `latency_ms` and `memory_mb` (see multi_metrics) each step, the final
               values at the last step, and exits 0: two objectives that conflict, and a memory
               that grows with y
Also records its environment to HPT_TRIAL_DIR/env-ATTEMPT.json for the tests to inspect.
"""
import argparse
import json
import os
import sys
import time

p = argparse.ArgumentParser()
p.add_argument("--x", type=float, default=0.0)
p.add_argument("--y", type=float, default=0.0)
p.add_argument("--mode", default="ok")
p.add_argument("--steps", type=int, default=3)
p.add_argument("--sleep", type=float, default=0.0)
a, rest = p.parse_known_args()

trial_dir = os.environ.get("HPT_TRIAL_DIR")
if trial_dir:
    env = {k: v for k, v in os.environ.items() if k.startswith("HPT_") or k == "CUDA_VISIBLE_DEVICES"}
    env["argv"] = sys.argv[1:]
    env["cwd"] = os.getcwd()
    with open(os.path.join(trial_dir, "env-%s.json" % os.environ.get("HPT_ATTEMPT", "0")), "w") as f:
        json.dump(env, f)

score = -(a.x - 1.0) ** 2 - (a.y - 2.0) ** 2


def multi_metrics(x, y):
    """error falls as x and y grow, latency_ms grows with them; memory_mb = 100 y."""
    return {"error": (x - 2.0) ** 2 + (y - 8.0) ** 2 / 10.0, "latency_ms": 5.0 * x + y, "memory_mb": 100.0 * y}


if a.mode == "fail":
    print("hpt: step=1 loss=1.0", flush=True)
    print("something went wrong", file=sys.stderr, flush=True)
    sys.exit(3)
if a.mode == "hang":
    print("hpt: step=1 loss=1.0", flush=True)
    time.sleep(3600)
for step in range(1, a.steps + 1):
    time.sleep(a.sleep / max(a.steps, 1))
    frac = step / a.steps
    if a.mode == "noobj":
        print(f"hpt: step={step} loss={1 - frac:.4f}", flush=True)
    elif a.mode == "multi":
        # Earlier steps report other values: only the highest step's count.
        values = {k: (v if step == a.steps else v * 3 + 7) for k, v in multi_metrics(a.x, a.y).items()}
        print("hpt: step=%d %s" % (step, " ".join("%s=%.9g" % kv for kv in values.items())), flush=True)
    elif a.mode == "regex":
        print(f"epoch {step}: the score is {score * frac:.6f} today", flush=True)
    else:
        print(f"hpt: step={step} loss={1 - frac:.4f} score={score * frac + (1 - frac) * -50:.6f}", flush=True)
sys.exit(0)
