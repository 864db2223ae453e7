"""GPU slots without a GPU: `hpt worker --gpus 0,1,2,3` takes the list at its word, so the placement
and CUDA_VISIBLE_DEVICES of each trial can be checked on any machine. Every trial records its
environment and the wall-clock interval it ran in; the tests then check, per GPU, that no more
trials overlapped in time than the GPU has slots."""
import glob
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ClusterTest, hpt, write_spec  # noqa: E402

# Records CUDA_VISIBLE_DEVICES and [start, end] of its own run into HPT_TRIAL_DIR, then reports.
RECORDER = r'''
import json, os, sys, time
start = time.time()
time.sleep(float(sys.argv[1]))
end = time.time()
record = {"trial": int(os.environ["HPT_TRIAL_ID"]), "experiment": os.environ["HPT_EXPERIMENT"],
          "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"), "start": start, "end": end}
with open(os.path.join(os.environ["HPT_TRIAL_DIR"], "gpu-%s.json" % os.environ["HPT_ATTEMPT"]), "w") as f:
    json.dump(record, f)
print("hpt: step=1 score=1", flush=True)
'''


def gpu_spec(tmp, name, gpus, trials, parallel, sleep):
    program = os.path.join(tmp, "recorder.py")
    if not os.path.exists(program):
        with open(program, "w") as f:
            f.write(RECORDER)
    return write_spec(tmp, f"""
name: {name}
objective: {{metric: score, goal: maximize}}
strategy: {{type: random, seed: 1}}
parameters:
  - {{name: x, type: float, min: 0.0, max: 1.0}}
limits: {{max_trials: {trials}, max_parallel: {parallel}, trial_timeout: 1m}}
trial:
  command: [python3, {program}, "{sleep}"]
  resources: {{gpus: {gpus}}}
""", name=name + ".yaml")


def max_overlap(intervals):
    """The largest number of [start, end] intervals that contain one instant (an end and a start at
    the same instant do not overlap)."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    most = now = 0
    for _, delta in events:
        now += delta
        most = max(most, now)
    return most


def running_at(records, instant):
    return [r for r in records if r["start"] <= instant < r["end"]]


class GpuSlotTest(ClusterTest):
    def records(self, experiment=None):
        out = []
        for path in glob.glob(os.path.join(self.tmp, "runs", "*", "trial-*", "gpu-*.json")):
            with open(path) as f:
                r = json.load(f)
            if experiment is None or r["experiment"] == experiment:
                r["gpus"] = [int(g) for g in r["cuda"].split(",")] if r["cuda"] else []
                out.append(r)
        return out

    def assert_gpus_never_oversubscribed(self, records, slots_per_gpu):
        for gpu in sorted({g for r in records for g in r["gpus"]}):
            on_gpu = [(r["start"], r["end"]) for r in records if gpu in r["gpus"]]
            self.assertLessEqual(max_overlap(on_gpu), slots_per_gpu,
                                 "GPU %d ran more than %d trial(s) at once: %s" % (gpu, slots_per_gpu, sorted(on_gpu)))

    def wait_running(self, n, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            running = self.cluster.query("SELECT COUNT(*) FROM trial_components WHERE kind='run' AND status='running'")
            if running[0][0] >= n:
                return
            time.sleep(0.05)
        self.fail("fewer than %d trials started" % n)

    def test_four_concurrent_trials_each_see_a_distinct_gpu_and_no_gpu_runs_two(self):
        c = self.cluster
        c.start_coordinator()
        c.start_worker("gpu-box", "--gpus", "0,1,2,3")
        # max_parallel 8 > 4 slots: the slots, not the limit, must hold the trials back.
        exp = c.submit(gpu_spec(self.tmp, "four", gpus=1, trials=8, parallel=8, sleep=1.5))
        final = c.wait_done(exp)
        self.assertEqual(final["trials"]["completed"], 8, final)
        records = self.records()
        self.assertEqual(len(records), 8)
        for r in records:
            self.assertEqual(len(r["gpus"]), 1, r)
            self.assertIn(r["gpus"][0], (0, 1, 2, 3))
        self.assertEqual(max_overlap([(r["start"], r["end"]) for r in records]), 4)
        # At an instant where four ran, they saw four different devices.
        for r in records:
            together = running_at(records, r["start"] + 1e-6)
            if len(together) == 4:
                self.assertEqual(sorted(t["gpus"][0] for t in together), [0, 1, 2, 3])
                break
        else:
            self.fail("no instant with four trials running")
        self.assert_gpus_never_oversubscribed(records, 1)
        # The store's run components name the same GPU as the trial saw.
        for r in records:
            gpus = c.query("""SELECT c.gpus FROM trial_components c JOIN trial_component_links l
                              ON l.component_id = c.id WHERE c.kind = 'run' AND l.trial_id = ?""", r["trial"])
            self.assertEqual(gpus, [(r["cuda"],)])
        # The worker registered its four GPUs (named "GPU i" when nvidia-smi does not know them).
        workers = json.loads(hpt("workers", "--coordinator", c.endpoint, "--format", "json", check=True).stdout)
        self.assertEqual(len(workers), 1)
        self.assertEqual(sorted(g["index"] for g in workers[0]["gpus"]), [0, 1, 2, 3])

    def test_a_two_gpu_trial_sees_two_gpus_and_waits_until_two_are_free(self):
        c = self.cluster
        c.start_coordinator()
        c.start_worker("gpu-box", "--gpus", "0,1,2,3")
        # Three one-GPU trials leave one GPU free, not enough for a two-GPU trial.
        busy = c.submit(gpu_spec(self.tmp, "busy", gpus=1, trials=3, parallel=3, sleep=2.5))
        self.wait_running(3)
        pair = c.submit(gpu_spec(self.tmp, "pair", gpus=2, trials=3, parallel=3, sleep=2.0))
        self.assertEqual(c.wait_done(busy)["trials"]["completed"], 3)
        self.assertEqual(c.wait_done(pair)["trials"]["completed"], 3)
        busy_records, pair_records = self.records("busy"), self.records("pair")
        self.assertEqual(len(busy_records), 3)
        self.assertEqual(len(pair_records), 3)
        first_busy_end = min(r["end"] for r in busy_records)
        for r in pair_records:
            self.assertEqual(len(r["gpus"]), 2, r)
            self.assertEqual(len(set(r["gpus"])), 2, r)
            # It waited: when it started, at most two GPUs were taken by other trials.
            self.assertGreaterEqual(r["start"], first_busy_end)
            others = [o for o in running_at(busy_records + pair_records, r["start"]) if o is not r]
            self.assertLessEqual(sum(len(o["gpus"]) for o in others), 2, others)
        # With four GPUs, two two-GPU trials can and did run side by side, but never three.
        self.assertEqual(max_overlap([(r["start"], r["end"]) for r in pair_records]), 2)
        self.assert_gpus_never_oversubscribed(busy_records + pair_records, 1)

    def test_slots_per_gpu_lets_exactly_that_many_trials_share_a_gpu(self):
        c = self.cluster
        c.start_coordinator()
        c.start_worker("gpu-box", "--gpus", "0,1", "--slots-per-gpu", "2")
        exp = c.submit(gpu_spec(self.tmp, "shared", gpus=1, trials=6, parallel=6, sleep=1.5))
        self.assertEqual(c.wait_done(exp)["trials"]["completed"], 6)
        records = self.records()
        self.assertEqual(len(records), 6)
        self.assertTrue(all(len(r["gpus"]) == 1 and r["gpus"][0] in (0, 1) for r in records), records)
        self.assertEqual(max_overlap([(r["start"], r["end"]) for r in records]), 4)
        for gpu in (0, 1):
            self.assertEqual(max_overlap([(r["start"], r["end"]) for r in records if gpu in r["gpus"]]), 2)
        self.assert_gpus_never_oversubscribed(records, 2)

    def test_a_multi_gpu_trial_takes_shared_gpus_only_when_they_are_otherwise_idle(self):
        c = self.cluster
        c.start_coordinator()
        c.start_worker("gpu-box", "--gpus", "0,1", "--slots-per-gpu", "2")
        # Two slots per GPU would fit two two-GPU trials at once; the coordinator must not do that.
        exp = c.submit(gpu_spec(self.tmp, "wide", gpus=2, trials=3, parallel=3, sleep=1.0))
        self.assertEqual(c.wait_done(exp)["trials"]["completed"], 3)
        records = self.records()
        self.assertEqual(len(records), 3)
        self.assertTrue(all(sorted(r["gpus"]) == [0, 1] for r in records), records)
        self.assertEqual(max_overlap([(r["start"], r["end"]) for r in records]), 1)


if __name__ == "__main__":
    unittest.main()
