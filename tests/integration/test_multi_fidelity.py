"""Multi-fidelity and early stopping through real processes: promotions that continue from a
checkpoint, the median stopping rule, and completion criteria."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HERE, ClusterTest, write_spec  # noqa: E402

CHECKPOINTED = os.path.join(HERE, "programs", "checkpointed.py")


class MultiFidelityTest(ClusterTest):
    def run_asha(self, name, extra_args=""):
        c = self.cluster
        text = f"""
name: {name}
objective: {{metric: score, goal: maximize}}
strategy: {{type: asha, min_resource: 1, max_resource: 9, eta: 3, seed: 4}}
parameters:
  - {{name: x, type: float, min: 0.0, max: 1.0}}
limits: {{max_trials: 9, max_parallel: 2}}
trial:
  command: [python3, {CHECKPOINTED}, "--x={{x}}"{extra_args}]
"""
        exp = c.submit(write_spec(self.tmp, text, name + ".yaml"))
        final = c.wait_done(exp)
        self.assertEqual(final["status"], "completed", final)
        return exp

    def twice_promoted(self, exp):
        c = self.cluster
        rows = c.query("""SELECT l.trial_id, COUNT(*) FROM trial_components rc
                          JOIN trial_component_links l ON l.component_id = rc.id
                          JOIN trials t ON t.id = l.trial_id
                          WHERE rc.kind = 'run' AND t.experiment_id = ? GROUP BY l.trial_id
                          HAVING COUNT(*) = 3""", int(exp))
        self.assertTrue(rows, "no trial was promoted twice")
        return rows[0][0]

    def check_continued(self, exp, trial_id):
        c = self.cluster
        runs = c.query("""SELECT rc.attempt, rc.data, rc.status FROM trial_components rc
                          JOIN trial_component_links l ON l.component_id = rc.id
                          WHERE l.trial_id = ? AND rc.kind = 'run' ORDER BY rc.attempt""", trial_id)
        self.assertEqual([json.loads(d)["budget"] for _, d, _ in runs], [1, 3, 9])
        self.assertEqual([s for _, _, s in runs], ["completed"] * 3)
        steps = c.query("SELECT attempt, step FROM metrics WHERE trial_id = ? AND name = 'score' "
                        "ORDER BY attempt, step", trial_id)
        self.assertEqual(steps, [(1, 1), (2, 2), (2, 3)] + [(3, s) for s in range(4, 10)])
        trial_dir = os.path.join(self.tmp, "runs", "%s-%s" % (c.query(
            "SELECT name FROM experiments WHERE id = ?", int(exp))[0][0], exp), "trial-%d" % trial_id)
        with open(os.path.join(trial_dir, "starts.txt")) as f:
            self.assertEqual(f.read().split("\n")[:3], ["0 1", "1 3", "3 9"])
        status, objective = c.query("SELECT status, objective FROM trials WHERE id = ?", trial_id)[0]
        last = c.query("SELECT value FROM metrics WHERE trial_id = ? AND name = 'score' AND step = 9", trial_id)
        self.assertEqual(status, "completed")
        self.assertAlmostEqual(objective, last[0][0])

    def test_asha_promotes_a_checkpointing_trial_twice_and_its_steps_continue(self):
        self.cluster.start_coordinator()
        self.cluster.start_worker("w1", "--slots", "2")
        exp = self.run_asha("asha")
        self.check_continued(exp, self.twice_promoted(exp))
        # 9 configurations, no more: promotions reuse trials.
        self.assertEqual(self.cluster.query("SELECT COUNT(*) FROM trials WHERE experiment_id = ?", int(exp)), [(9,)])

    def test_steps_continue_across_promotions_when_the_program_prints_no_step(self):
        self.cluster.start_coordinator()
        self.cluster.start_worker("w1", "--slots", "2")
        exp = self.run_asha("asha-implicit", ', "--implicit-steps"')
        self.check_continued(exp, self.twice_promoted(exp))

    def test_the_median_rule_stops_trials_worse_than_the_median_and_keeps_their_last_value(self):
        c = self.cluster
        c.start_coordinator()
        c.start_worker("w1", "--slots", "1")
        text = f"""
name: median
objective: {{metric: score, goal: maximize}}
strategy: {{type: grid}}
parameters:
  - {{name: mode, type: categorical, values: [good, bad]}}
  - {{name: k, type: int, min: 1, max: 4}}
early_stopping: {{type: median, min_steps: 2, min_trials: 3}}
trial:
  command: [python3, {CHECKPOINTED}, "--x=0.3", "--mode={{mode}}", "--epoch-seconds=0.05"]
"""
        exp = c.submit(write_spec(self.tmp, text))
        final = c.wait_done(exp)
        self.assertEqual(final["status"], "completed", final)
        rows = c.query("SELECT id, params, status, reason, objective FROM trials WHERE experiment_id = ?", int(exp))
        good = [r for r in rows if json.loads(r[1])["mode"] == "good"]
        bad = [r for r in rows if json.loads(r[1])["mode"] == "bad"]
        self.assertEqual([r[2] for r in good], ["completed"] * 4)
        self.assertEqual([r[2] for r in bad], ["stopped"] * 4)
        for trial_id, _, _, reason, objective in bad:
            self.assertIn("median", reason)
            self.assertIsNotNone(objective)
            steps = c.query("SELECT MAX(step) FROM metrics WHERE trial_id = ? AND name = 'score'", trial_id)[0][0]
            self.assertGreaterEqual(steps, 2)
            self.assertLess(steps, 9)
        # Stopped trials still rank on the leaderboard by their last value.
        self.assertEqual(final["trials"]["stopped"], 4)

    def test_a_completion_target_ends_the_experiment_early_and_says_why(self):
        c = self.cluster
        c.start_coordinator()
        c.start_worker("w1", "--slots", "2")
        text = f"""
name: target
objective: {{metric: score, goal: maximize}}
strategy: {{type: random, seed: 11}}
parameters:
  - {{name: x, type: float, min: 0.0, max: 1.0}}
limits: {{max_trials: 50, max_parallel: 2}}
completion: {{target: 0.85}}
trial:
  command: [python3, {CHECKPOINTED}, "--x={{x}}"]
"""
        exp = c.submit(write_spec(self.tmp, text))
        final = c.wait_done(exp)
        self.assertEqual(final["status"], "completed", final)
        self.assertIn("target 0.85 reached", final["reason"])
        self.assertLess(final["trials"]["total"], 50)
        self.assertGreaterEqual(final["best"]["objective"], 0.85)


if __name__ == "__main__":
    unittest.main()
