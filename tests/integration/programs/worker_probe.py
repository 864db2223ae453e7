#!/usr/bin/env python3
"""A trial program for test_trust_worker: what a worker makes of a trial's output and environment.

--mode keras   two epochs as tf.keras prints them on a terminal: progress-bar redraws erased with
               backspaces, joined by carriage returns (epoch 1) or by backspaces only (epoch 2),
               one line of about 49 KB each, ending in `val_accuracy: 0.8123` and `0.8456`
--mode refused prints metric values hpt must refuse (nan, inf, 1e999, step=-1, step=2.5), then a
               valid objective value, and exits 0
--mode env     writes its whole environment as JSON to HPT_TRIAL_DIR/env.json, prints `score=1`
"""
import argparse
import json
import os
import sys

p = argparse.ArgumentParser()
p.add_argument("--mode", required=True)
a = p.parse_args()


def keras_epoch(joiner, batches, val_accuracy):
    """One epoch line (without its final newline) as Keras's Progbar redraws it."""
    out = []
    previous = 0
    for batch in range(1, batches + 1):
        done = batch * 30 // batches
        bar = "=" * done + (">" if done < 30 else "") + "." * max(0, 29 - done)
        text = "%4d/%d [%s] - ETA: %ds - loss: %.4f - accuracy: %.4f" % (
            batch, batches, bar, (batches - batch) // 50, 2.3 - batch * 0.006, 0.1 + batch * 0.0025)
        if batch > 1:
            out.append("\b" * previous + joiner)
        out.append(text)
        previous = len(text)
    out.append(" - 5s 17ms/step - val_loss: 0.5311 - val_accuracy: %.4f" % val_accuracy)
    return "".join(out)


if a.mode == "keras":
    for epoch, (joiner, value) in enumerate([("\r", 0.8123), ("", 0.8456)], start=1):
        line = keras_epoch(joiner, 290, value)
        assert len(line) > 48 * 1024, len(line)
        sys.stdout.write("Epoch %d/2\n%s\n" % (epoch, line))
        sys.stdout.flush()
elif a.mode == "refused":
    print("training starts", flush=True)                            # line 1
    print("hpt: step=1 score=nan loss=0.5", flush=True)             # line 2
    print("hpt: step=-1 score=0.7", flush=True)                     # line 3
    print("hpt: step=2.5 score=0.8", flush=True)                    # line 4
    print("hpt: step=2 score=inf", flush=True)                      # line 5
    print("hpt: step=3 score=1e999", flush=True)                    # line 6
    print("hpt: step=4 score=0.25", flush=True)                     # line 7
elif a.mode == "env":
    with open(os.path.join(os.environ["HPT_TRIAL_DIR"], "env.json"), "w") as f:
        json.dump(dict(os.environ), f)
    print("hpt: score=1", flush=True)
else:
    sys.exit("unknown mode " + a.mode)
