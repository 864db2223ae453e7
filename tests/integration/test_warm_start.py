"""warm_start (issue 20) through a real coordinator and worker processes: the parent trials an
experiment learned from are recorded with it (completed with an objective; for identical, those
inside its ranges), `hpt status` counts them and shows the parents' bests beside its own, its leaderboard
holds only its own trials, a restarted coordinator rebuilds the strategy from the same record, and
a parent that does not exist or does not match is refused with exit code 2, writing nothing."""
import json
import os
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TRIAL, ClusterTest, hpt, wait_for, write_spec  # noqa: E402

PARENT = f"""name: parent
objective: {{metric: score, goal: maximize}}
strategy: {{type: random, seed: 4}}
parameters:
  - {{name: x, type: float, min: 0.0, max: 2.0}}
  - {{name: y, type: float, min: 0.0, max: 4.0}}
limits: {{max_trials: 16, max_parallel: 4}}
trial:
  command: [python3, {TRIAL}, --steps, 1, "--x={{x}}", "--y={{y}}"]
"""

# The same model on narrower ranges: parent trials with x > 1.5 lie outside and are dropped.
CHILD = PARENT.replace("name: parent", "name: child") \
    .replace("strategy: {type: random, seed: 4}", "strategy: {type: bayesian, seed: 2}") \
    .replace("min: 0.0, max: 2.0", "min: 0.0, max: 1.5") \
    .replace("max_trials: 16, max_parallel: 4", "max_trials: 8, max_parallel: 2") \
    + "warm_start: {parents: [parent]}\n"


class WarmStartTest(ClusterTest):
    def start(self):
        c = self.cluster
        c.start_coordinator()
        c.start_worker("w1", "--slots", 2)
        c.start_worker("w2", "--slots", 2)

    def run_parent(self):
        exp = self.cluster.submit(write_spec(self.tmp, PARENT, "parent.yaml"))
        self.assertEqual(self.cluster.wait_done(exp)["status"], "completed")
        return exp

    def test_the_parent_trials_used_are_recorded_counted_and_kept_off_the_leaderboard(self):
        c = self.cluster
        self.start()
        parent = self.run_parent()
        parent_trials = json.loads(hpt("trials", parent, "--coordinator", c.endpoint, "--format", "json",
                                       check=True).stdout)
        inside = sorted(t["trial"] for t in parent_trials
                        if t["status"] == "completed" and t["params"]["x"] <= 1.5)
        self.assertLess(len(inside), len(parent_trials), "the seed should put some parent trials outside")
        self.assertGreater(len(inside), 2)

        child = c.submit(write_spec(self.tmp, CHILD, "child.yaml"))
        status = c.wait_done(child)
        self.assertEqual(status["status"], "completed")
        recorded = [r[0] for r in c.query("SELECT trial_id FROM warm_start_trials WHERE experiment_id = ? "
                                          "ORDER BY trial_id", int(child))]
        self.assertEqual(recorded, inside)
        warm = status["warm_start"]
        self.assertEqual(warm["type"], "identical")
        self.assertEqual(warm["observations"], len(inside))
        parent_best = max(t["objective"] for t in parent_trials if t["status"] == "completed")
        self.assertEqual([(p["id"], p["observations"]) for p in warm["parents"]], [(int(parent), len(inside))])
        self.assertAlmostEqual(warm["parents"][0]["best"], parent_best)
        # Its leaderboard and its best are its own trials only.
        board = json.loads(hpt("leaderboard", child, "--coordinator", c.endpoint, "--format", "json", "--top", "0",
                               check=True).stdout)
        self.assertEqual(len(board), 8)
        self.assertFalse({r["trial"] for r in board} & {t["trial"] for t in parent_trials})
        self.assertIn(status["best"]["trial"], {r["trial"] for r in board})
        text = hpt("status", child, "--coordinator", c.endpoint, check=True).stdout
        self.assertIn("warm start (identical): %d parent observations from 'parent'" % len(inside), text)

    def test_a_restarted_coordinator_rebuilds_the_strategy_from_the_recorded_parent_trials(self):
        c = self.cluster
        self.start()
        self.run_parent()
        child_spec = CHILD.replace("max_trials: 8, max_parallel: 2", "max_trials: 10, max_parallel: 1") \
            .replace("--steps, 1,", "--steps, 1, --sleep, 0.3,")
        child = c.submit(write_spec(self.tmp, child_spec, "child.yaml"))
        wait_for("two child trials", lambda: c.status(child)["trials"]["completed"] >= 2, timeout=60)
        before = c.query("SELECT trial_id FROM warm_start_trials WHERE experiment_id = ?", int(child))
        c.coordinator.send_signal(signal.SIGKILL)
        c.coordinator.wait()
        c.start_coordinator()
        status = c.wait_done(child, timeout=120)
        self.assertEqual(status["status"], "completed")
        self.assertEqual(status["trials"]["completed"], 10)
        self.assertEqual(c.query("SELECT trial_id FROM warm_start_trials WHERE experiment_id = ?", int(child)), before)
        with open(os.path.join(self.tmp, "coordinator.log")) as f:
            log = f.read()
        # Once at the submission and once after the restart.
        self.assertEqual(log.count("identical warm start, %d parent observations" % len(before)), 2, log[-3000:])

    def test_a_parent_that_does_not_exist_or_does_not_match_is_refused_and_nothing_is_written(self):
        c = self.cluster
        self.start()
        self.run_parent()
        cases = [
            (CHILD.replace("parents: [parent]", "parents: [parent, nosuch]"), "no experiment 'nosuch'"),
            (CHILD.replace("goal: maximize", "goal: minimize"), "an identical warm start needs the same objective"),
            (CHILD.replace("  - {name: y, type: float, min: 0.0, max: 4.0}\n", "").replace('"--y={y}"', '"--y=2"'),
             "also tunes 'y'"),
        ]
        for spec, message in cases:
            r = hpt("submit", write_spec(self.tmp, spec, "bad.yaml"), "--coordinator", c.endpoint)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(message, r.stderr)
        experiments = json.loads(hpt("status", "--coordinator", c.endpoint, "--format", "json", check=True).stdout)
        self.assertEqual([e["name"] for e in experiments], ["parent"])
        self.assertEqual(c.query("SELECT COUNT(*) FROM warm_start_trials"), [(0,)])

    def test_a_transfer_parent_may_tune_other_ranges_and_parameters(self):
        c = self.cluster
        self.start()
        parent = self.run_parent()
        # y is static here (the parent tuned it): parent trials are projected onto x alone.
        spec = CHILD.replace("  - {name: y, type: float, min: 0.0, max: 4.0}\n", "") \
            .replace("parents: [parent]", "parents: [parent], type: transfer") \
            .replace('"--y={y}"', '"--y=2"')
        child = c.submit(write_spec(self.tmp, spec, "transfer.yaml"))
        status = c.wait_done(child)
        self.assertEqual(status["status"], "completed")
        self.assertEqual(status["warm_start"]["type"], "transfer")
        parent_trials = json.loads(hpt("trials", parent, "--coordinator", c.endpoint, "--format", "json",
                                       check=True).stdout)
        # A transfer parent's trials outside this experiment's ranges are kept (its GP extends past them).
        completed = [t for t in parent_trials if t["status"] == "completed"]
        self.assertTrue(any(t["params"]["x"] > 1.5 for t in completed))
        self.assertEqual(status["warm_start"]["observations"], len(completed))


if __name__ == "__main__":
    unittest.main()
