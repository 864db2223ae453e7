"""Issue 15, the worker's side: what it records of a trial's output, what a trial sees, and which
files it leaves readable. Real coordinator and worker processes on tcp loopback."""
import json
import os
import stat
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HERE, ClusterTest, hpt, write_spec  # noqa: E402

PROBE = os.path.join(HERE, "programs", "worker_probe.py")


def probe_spec(name, mode, metrics=""):
    return f"""
name: {name}
objective: {{metric: score, goal: maximize}}
parameters:
  - {{name: x, type: float, min: 0.0, max: 1.0}}
limits: {{max_trials: 1}}
trial:
  command: [python3, {PROBE}, --mode, {mode}]
{metrics}
"""


class TrustWorkerTest(ClusterTest):
    def run_one(self, spec_text, *worker_args):
        """Runs a one-trial experiment on one worker; returns (final status, trial id)."""
        c = self.cluster
        c.start_coordinator()
        c.start_worker("w1", "--slots", "1", *worker_args)
        exp = c.submit(write_spec(self.tmp, spec_text))
        final = c.wait_done(exp, timeout=60)
        (trial_id,) = c.query("SELECT id FROM trials WHERE experiment_id = ?", int(exp))[0]
        return exp, final, trial_id

    def trial_dir(self, name, exp, trial_id):
        return os.path.join(self.tmp, "runs", "%s-%s" % (name, exp), "trial-%d" % trial_id)

    def test_a_49_kb_keras_epoch_line_still_yields_its_val_accuracy(self):
        spec = f"""
name: keras
objective: {{metric: val_accuracy, goal: maximize}}
parameters:
  - {{name: x, type: float, min: 0.0, max: 1.0}}
limits: {{max_trials: 1}}
trial:
  command: [python3, {PROBE}, --mode, keras]
  metrics: [{{name: val_accuracy, regex: "val_accuracy: ([0-9.]+)"}}]
"""
        exp, final, trial_id = self.run_one(spec)
        self.assertEqual(final["status"], "completed", final)
        # Epoch 1's redraws end in '\r' (a line end); epoch 2's only erase with '\b', so its line is
        # scanned whole, in windows.
        series = self.cluster.query(
            "SELECT step, value FROM metrics WHERE trial_id = ? AND name = 'val_accuracy' ORDER BY step", trial_id)
        self.assertEqual(series, [(1, 0.8123), (2, 0.8456)])
        (objective,) = self.cluster.query("SELECT objective FROM trials WHERE id = ?", trial_id)[0]
        self.assertEqual(objective, 0.8456)

    def test_refused_metric_values_are_never_recorded_and_the_trial_log_names_each_line(self):
        exp, final, trial_id = self.run_one(probe_spec("refused", "refused"))
        self.assertEqual(final["status"], "completed", final)
        series = self.cluster.query(
            "SELECT name, step, value FROM metrics WHERE trial_id = ? ORDER BY name, step", trial_id)
        self.assertEqual(series, [("loss", 1, 0.5), ("score", 4, 0.25)])
        with open(os.path.join(self.trial_dir("refused", exp, trial_id), "attempt-1.log")) as f:
            log = f.read()
        for note in [
                "[hpt] refused metric 'score' value 'nan' on line 2: not a finite number",
                "[hpt] refused metric 'score' value '0.7' on line 3: its line's step '-1' is negative",
                "[hpt] refused metric 'score' value '0.8' on line 4: its line's step '2.5' is not an integer",
                "[hpt] refused metric 'score' value 'inf' on line 5: not a finite number",
                "[hpt] refused metric 'score' value '1e999' on line 6: not a finite number "
                "(out of the range of a double)"]:
            self.assertIn(note + "\n", log)

    def test_trials_see_neither_the_workers_curve_variables_nor_the_dropped_ones(self):
        secrets = {"HPT_CURVE_KEY": "worker1", "HPT_CURVE_SERVER_KEY": "x", "AWS_SECRET_ACCESS_KEY": "s3cr3t",
                   "AWS_REGION": "eu-west-1", "GITHUB_TOKEN": "t0k3n", "HPT_PROBE_KEPT": "kept"}
        os.environ.update(secrets)
        try:
            exp, final, trial_id = self.run_one(probe_spec("env", "env"), "--trial-env-drop", "AWS_*",
                                                "--trial-env-drop", "GITHUB_TOKEN")
        finally:
            for name in secrets:
                os.environ.pop(name)
        self.assertEqual(final["status"], "completed", final)
        with open(os.path.join(self.trial_dir("env", exp, trial_id), "env.json")) as f:
            env = json.load(f)
        for name in ("HPT_CURVE_KEY", "HPT_CURVE_SERVER_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "GITHUB_TOKEN"):
            self.assertNotIn(name, env)
        self.assertEqual(env["HPT_PROBE_KEPT"], "kept")
        self.assertEqual(env["HPT_TRIAL_ID"], str(trial_id))
        self.assertEqual(env["CUDA_VISIBLE_DEVICES"], "")

    def test_hpt_run_takes_trial_env_drop_too(self):
        os.environ["AWS_SECRET_ACCESS_KEY"] = "s3cr3t"
        os.environ["HPT_CURVE_DIR"] = os.path.join(self.tmp, "no-keys-here")
        try:
            spec = write_spec(self.tmp, probe_spec("envrun", "env"))
            r = hpt("run", spec, "--db", os.path.join(self.tmp, "run.db"), "--workers", "1", "--trial-env-drop",
                    "AWS_*", cwd=self.tmp)
        finally:
            os.environ.pop("AWS_SECRET_ACCESS_KEY")
            os.environ.pop("HPT_CURVE_DIR")
        self.assertEqual(r.returncode, 0, r.stderr)
        runs = os.path.join(self.tmp, "hpt-runs")
        (exp_dir,) = os.listdir(runs)
        with open(os.path.join(runs, exp_dir, "trial-1", "env.json")) as f:
            env = json.load(f)
        self.assertNotIn("AWS_SECRET_ACCESS_KEY", env)
        self.assertNotIn("HPT_CURVE_DIR", env)

    def test_a_bad_trial_env_drop_pattern_is_bad_input(self):
        r = hpt("worker", "--connect", "tcp://127.0.0.1:1", "--work-dir", os.path.join(self.tmp, "runs"),
                "--trial-env-drop", "A=B", timeout=20)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("trial environment drop pattern 'A=B'", r.stderr)

    def test_work_dirs_and_trial_logs_are_private_whatever_the_umask(self):
        previous = os.umask(0)  # the worker inherits it
        try:
            exp, final, trial_id = self.run_one(probe_spec("private", "env"))
        finally:
            os.umask(previous)
        self.assertEqual(final["status"], "completed", final)
        trial_dir = self.trial_dir("private", exp, trial_id)

        def mode(path):
            return stat.S_IMODE(os.lstat(path).st_mode)

        for d in (os.path.join(self.tmp, "runs"), os.path.dirname(trial_dir), trial_dir,
                  os.path.join(trial_dir, "checkpoint")):
            self.assertEqual(mode(d), 0o700, d)
        self.assertEqual(mode(os.path.join(trial_dir, "attempt-1.log")), 0o600)


if __name__ == "__main__":
    unittest.main()
