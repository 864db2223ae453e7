"""The distributed path end to end: a coordinator and `hpt worker` processes on tcp loopback."""
import json
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TRIAL, ClusterTest, hpt, write_spec  # noqa: E402


def spec(name, strategy, params, limits, command_extra="", retries=0, metrics=""):
    return f"""
name: {name}
objective: {{metric: score, goal: maximize}}
strategy: {strategy}
parameters:
{params}
static: {{steps: 3}}
limits: {limits}
trial:
  command: [python3, {TRIAL}, "--x={{x}}", "--y={{y}}", "--steps={{steps}}"{command_extra}]
  retries: {retries}
{metrics}
"""


XY = """  - {name: x, type: float, min: -2.0, max: 4.0}
  - {name: y, type: float, min: 0.01, max: 100.0, scale: log}"""


class DistributedTest(ClusterTest):
    def test_two_workers_complete_a_30_trial_random_search_with_metrics_and_components(self):
        c = self.cluster
        c.start_coordinator()
        c.start_worker("w1", "--slots", "2")
        c.start_worker("w2", "--slots", "2")
        path = write_spec(self.tmp, spec("random30", "{type: random, seed: 3}", XY, "{max_trials: 30, max_parallel: 4}"))
        exp = c.submit(path)
        final = c.wait_done(exp)
        self.assertEqual(final["status"], "completed", final)
        self.assertEqual(final["trials"]["completed"], 30)
        self.assertEqual(final["trials"]["total"], 30)
        rows = c.query("SELECT id, status, objective FROM trials WHERE experiment_id = ?", int(exp))
        self.assertEqual(len(rows), 30)
        self.assertTrue(all(r[1] == "completed" and r[2] is not None for r in rows))
        for trial_id, _, objective in rows:
            series = c.query("SELECT step, value FROM metrics WHERE trial_id = ? AND name = 'score' ORDER BY step",
                             trial_id)
            self.assertEqual([s[0] for s in series], [1, 2, 3])
            self.assertAlmostEqual(series[-1][1], objective)  # the objective is the last reported value
            kinds = c.query("""SELECT c.kind, COUNT(*) FROM trial_component_links l
                               JOIN trial_components c ON c.id = l.component_id
                               WHERE l.trial_id = ? GROUP BY c.kind ORDER BY c.kind""", trial_id)
            self.assertEqual(kinds, [("parameters", 1), ("run", 1), ("static", 1)])
        # Both workers took part, and the static component is one row shared by all 30 trials.
        workers = c.query("""SELECT DISTINCT worker FROM trial_components WHERE kind = 'run'""")
        self.assertEqual(sorted(w[0] for w in workers), ["w1", "w2"])
        shared = c.query("""SELECT COUNT(DISTINCT l.trial_id) FROM trial_components c
                            JOIN trial_component_links l ON l.component_id = c.id
                            WHERE c.kind = 'static' AND c.experiment_id = ?""", int(exp))
        self.assertEqual(shared, [(30,)])
        # The leaderboard is sorted best first and matches the store.
        board = json.loads(hpt("leaderboard", exp, "--db", c.db, "--top", "5", "--format", "json", check=True).stdout)
        self.assertEqual(len(board), 5)
        best = max(r[2] for r in rows)
        self.assertAlmostEqual(board[0]["objective"], best)
        self.assertEqual([b["objective"] for b in board], sorted((b["objective"] for b in board), reverse=True))
        self.assertEqual(set(board[0]["params"]), {"x", "y"})

    def test_grid_over_categorical_and_int_runs_each_of_6_combinations_exactly_once(self):
        c = self.cluster
        c.start_coordinator()
        c.start_worker("w1", "--slots", "2")
        c.start_worker("w2", "--slots", "1")
        params = """  - {name: x, type: categorical, values: [0, 1]}
  - {name: y, type: int, min: 1, max: 3}"""
        path = write_spec(self.tmp, spec("grid6", "{type: grid}", params, "{max_parallel: 3}"))
        exp = c.submit(path)
        final = c.wait_done(exp)
        self.assertEqual(final["status"], "completed", final)
        rows = c.query("SELECT params, status FROM trials WHERE experiment_id = ?", int(exp))
        combos = sorted((json.loads(p)["x"], json.loads(p)["y"]) for p, _ in rows)
        self.assertEqual(combos, [(x, y) for x in (0, 1) for y in (1, 2, 3)])
        self.assertTrue(all(s == "completed" for _, s in rows))

    def test_a_worker_killed_mid_trial_has_its_trial_rerun_elsewhere_without_duplicates(self):
        c = self.cluster
        c.start_coordinator()
        victim = c.start_worker("victim", "--slots", "1")
        path = write_spec(self.tmp, spec("kill", "{type: random, seed: 5}", XY, "{max_trials: 6, max_parallel: 2}",
                                         command_extra=', "--sleep=1.5"'))
        exp = c.submit(path)
        deadline = time.time() + 30
        while time.time() < deadline:
            running = c.query("SELECT l.trial_id FROM trial_components c JOIN trial_component_links l "
                              "ON l.component_id = c.id WHERE c.kind='run' AND c.worker='victim' "
                              "AND c.status='running'")
            if running:
                break
            time.sleep(0.1)
        self.assertTrue(running, "no trial started on the victim")
        victim_trial = running[0][0]
        time.sleep(0.3)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        c.start_worker("survivor", "--slots", "2")
        final = c.wait_done(exp)
        self.assertEqual(final["status"], "completed", final)
        self.assertEqual(final["trials"]["completed"], 6)
        self.assertEqual(c.query("SELECT COUNT(*) FROM trials WHERE experiment_id=?", int(exp)), [(6,)])
        runs = c.query("SELECT attempt, worker, status FROM trial_components WHERE kind='run' AND "
                       "id IN (SELECT component_id FROM trial_component_links WHERE trial_id=?) ORDER BY attempt",
                       victim_trial)
        self.assertEqual(runs[0][1:], ("victim", "lost"))
        self.assertEqual(runs[-1][1:], ("survivor", "completed"))
        # Exactly one accepted result per trial.
        accepted = c.query("""SELECT l.trial_id, COUNT(*) FROM trial_components c
                              JOIN trial_component_links l ON l.component_id = c.id
                              WHERE c.kind='run' AND c.status='completed' GROUP BY l.trial_id""")
        self.assertEqual(len(accepted), 6)
        self.assertTrue(all(n == 1 for _, n in accepted))
        # The lost attempt did not charge the trial's retries.
        self.assertEqual(c.query("SELECT retries_used FROM trials WHERE id=?", victim_trial), [(0,)])

    def test_failing_timed_out_and_objectiveless_trials_are_failed_with_reasons_and_the_rest_go_on(self):
        c = self.cluster
        c.start_coordinator()
        c.start_worker("w1", "--slots", "3")
        params = """  - {name: x, type: categorical, values: [fail, hang, noobj, ok]}"""
        text = f"""
name: failures
objective: {{metric: score, goal: maximize}}
strategy: {{type: grid}}
parameters:
{params}
limits: {{trial_timeout: 2s, max_parallel: 4}}
trial:
  command: [python3, {TRIAL}, "--mode={{x}}"]
"""
        exp = c.submit(write_spec(self.tmp, text))
        final = c.wait_done(exp)
        self.assertEqual(final["status"], "completed", final)
        rows = c.query("SELECT params, status, reason FROM trials WHERE experiment_id=?", int(exp))
        by_mode = {json.loads(p)["x"]: (s, r) for p, s, r in rows}
        self.assertEqual(by_mode["ok"][0], "completed")
        self.assertEqual(by_mode["fail"][0], "failed")
        self.assertIn("exit code 3", by_mode["fail"][1])
        self.assertEqual(by_mode["hang"][0], "failed")
        self.assertIn("timed out", by_mode["hang"][1])
        self.assertEqual(by_mode["noobj"][0], "failed")
        self.assertIn("score", by_mode["noobj"][1])
        # The failing trial's stderr landed in its log, which the run component points to.
        log = c.query("""SELECT c.log_path FROM trial_components c JOIN trial_component_links l ON l.component_id=c.id
                         JOIN trials t ON t.id = l.trial_id WHERE c.kind='run' AND t.reason LIKE '%exit code 3%'""")
        self.assertTrue(log and log[0][0])

    def test_trials_get_placeholders_as_whole_arguments_and_the_documented_environment(self):
        c = self.cluster
        c.start_coordinator()
        c.start_worker("w1", "--slots", "1")
        params = """  - {name: x, type: categorical, values: ["two words; $(rm -rf nothing)"]}
  - {name: y, type: float, min: 0.001, max: 0.001001}"""
        text = f"""
name: env-check
objective: {{metric: score, goal: maximize}}
strategy: {{type: random, seed: 1}}
parameters:
{params}
static: {{steps: 2, note: hello}}
limits: {{max_trials: 1}}
trial:
  command: [python3, {TRIAL}, "--mode=regex", "--steps={{steps}}", "label={{x}}", "--trial={{trial_id}}"]
  metrics: [{{name: score, regex: "the score is ([-0-9.eE+]+)"}}]
"""
        exp = c.submit(write_spec(self.tmp, text))
        final = c.wait_done(exp)
        self.assertEqual(final["trials"]["completed"], 1, final)
        trial_id = c.query("SELECT id FROM trials WHERE experiment_id=?", int(exp))[0][0]
        trial_dir = os.path.join(self.tmp, "runs", "env-check-%s" % exp, "trial-%d" % trial_id)
        with open(os.path.join(trial_dir, "env-1.json")) as f:
            env = json.load(f)
        self.assertIn("label=two words; $(rm -rf nothing)", env["argv"])
        self.assertIn("--trial=%d" % trial_id, env["argv"])
        self.assertEqual(env["HPT_TRIAL_ID"], str(trial_id))
        self.assertEqual(env["HPT_EXPERIMENT"], "env-check")
        self.assertEqual(env["HPT_TRIAL_DIR"], trial_dir)
        self.assertEqual(env["HPT_CHECKPOINT_DIR"], os.path.join(trial_dir, "checkpoint"))
        self.assertEqual(env["CUDA_VISIBLE_DEVICES"], "")
        params = json.loads(env["HPT_PARAMS"])
        self.assertEqual(params["steps"], 2)
        self.assertEqual(params["note"], "hello")
        self.assertEqual(params["x"], "two words; $(rm -rf nothing)")
        series = c.query("SELECT step FROM metrics WHERE trial_id=? AND name='score' ORDER BY step", trial_id)
        self.assertEqual(series, [(1,), (2,)])


if __name__ == "__main__":
    unittest.main()
