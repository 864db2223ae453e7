"""The CLI as users meet it: hpt run on the quick start, spec validation, read commands."""
import csv
import io
import json
import os
import sqlite3
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import REPO, TRIAL, ClusterTest, hpt, write_spec  # noqa: E402

GOOD = f"""name: good
objective: {{metric: score, goal: maximize}}
strategy: {{type: random, seed: 1}}
parameters:
  - {{name: x, type: float, min: -2.0, max: 4.0}}
  - {{name: y, type: float, min: 0.01, max: 100.0, scale: log}}
limits: {{max_trials: 6, max_parallel: 2}}
trial:
  command: [python3, {TRIAL}, "--x={{x}}", "--y={{y}}"]
"""

# (description, spec text, expected line, expected field). Each must be refused with exit code 2
# and a message naming the file, the line and the field.
MALFORMED = [
    ("yaml syntax error", "name: [unclosed\n", None, None),
    ("empty document", "", None, None),
    ("missing objective", GOOD.replace("objective: {metric: score, goal: maximize}\n", ""), None, "objective"),
    ("unknown top-level key", GOOD.replace("name: good", "name: good\nnmae: typo"), 2, "nmae"),
    ("unknown goal", GOOD.replace("goal: maximize", "goal: maximise"), 2, "objective.goal"),
    ("unknown strategy", GOOD.replace("type: random", "type: annealing"), 3, "strategy.type"),
    ("negative seed", GOOD.replace("seed: 1", "seed: -4"), 3, "strategy.seed"),
    ("inverted float range", GOOD.replace("min: -2.0, max: 4.0", "min: 4.0, max: -2.0"), 5, "parameters[0]"),
    ("empty float range", GOOD.replace("min: -2.0, max: 4.0", "min: 1.0, max: 1.0"), 5, "parameters[0]"),
    ("log range touching zero", GOOD.replace("min: 0.01, max: 100.0", "min: 0.0, max: 100.0"), 6, "parameters[1]"),
    ("negative log range", GOOD.replace("min: 0.01, max: 100.0", "min: -1.0, max: 100.0"), 6, "parameters[1]"),
    ("reverse_log reaching 1", GOOD.replace("min: 0.01, max: 100.0, scale: log", "min: 0.5, max: 1.0, scale: reverse_log"), 6, "parameters[1]"),
    ("unknown scale", GOOD.replace("scale: log", "scale: logarithmic"), 6, "parameters[1].scale"),
    ("unknown parameter type", GOOD.replace("type: float, min: -2.0", "type: double, min: -2.0"), 5, "parameters[0].type"),
    ("int range with no integer", GOOD.replace("type: float, min: -2.0, max: 4.0", "type: int, min: 0.2, max: 0.8"), 5, "parameters[0]"),
    ("duplicate parameter names", GOOD.replace("name: y,", "name: x,"), 6, "parameters[1].name"),
    ("categorical without values", GOOD.replace("{name: x, type: float, min: -2.0, max: 4.0}", "{name: x, type: categorical, values: []}"), 5, "parameters[0].values"),
    ("categorical with duplicates", GOOD.replace("{name: x, type: float, min: -2.0, max: 4.0}", "{name: x, type: categorical, values: [a, b, a]}"), 5, "parameters[0].values"),
    ("max_parallel zero", GOOD.replace("max_parallel: 2", "max_parallel: 0"), 7, "limits.max_parallel"),
    ("max_trials as text", GOOD.replace("max_trials: 6", "max_trials: many"), 7, "limits.max_trials"),
    ("bad duration", GOOD.replace("max_parallel: 2}", "max_parallel: 2, trial_timeout: soon}"), 7, "limits.trial_timeout"),
    ("placeholder naming nothing", GOOD.replace('"--y={y}"', '"--z={z}"'), 9, "trial.command"),
    ("unbalanced brace", GOOD.replace('"--y={y}"', '"--y={y"'), 9, "trial.command"),
    ("command not a list", GOOD.replace(f'command: [python3, {TRIAL}, "--x={{x}}", "--y={{y}}"]', "command: 7"), 9, "trial.command"),
    ("parameters not a list", GOOD.replace("parameters:\n", "parameters: {x: 1}\n").replace("  - {name: x, type: float, min: -2.0, max: 4.0}\n  - {name: y, type: float, min: 0.01, max: 100.0, scale: log}\n", ""), 4, "parameters"),
    ("grid float without grid_points", GOOD.replace("type: random, seed: 1", "type: grid"), 5, "parameters[0].grid_points"),
    ("negative retries", GOOD + "  retries: -1\n", 10, "trial.retries"),
    ("bad metric regex", GOOD + '  metrics: [{name: score, regex: "([0-9"}]\n', 10, "trial.metrics[0].regex"),
]


class SpecValidationTest(ClusterTest):
    def test_malformed_specs_exit_2_naming_line_and_field_and_store_nothing(self):
        self.assertGreaterEqual(len(MALFORMED), 20)
        c = self.cluster
        c.start_coordinator()
        for i, (what, text, line, field) in enumerate(MALFORMED):
            with self.subTest(what):
                path = write_spec(self.tmp, text, "bad%02d.yaml" % i)
                for cmd in (["validate", path], ["submit", path, "--coordinator", c.endpoint],
                            ["run", path, "--db", os.path.join(self.tmp, "run-%d.db" % i)]):
                    r = hpt(*cmd)
                    self.assertEqual(r.returncode, 2, (cmd, r.stdout, r.stderr))
                    self.assertIn(path, r.stderr)
                    if line is not None:
                        self.assertIn("%s:%d:" % (path, line), r.stderr)
                    if field is not None:
                        self.assertIn(field, r.stderr)
                self.assertFalse(os.path.exists(os.path.join(self.tmp, "run-%d.db" % i)),
                                 "hpt run created a store for a bad spec")
        con = sqlite3.connect(c.db)
        self.assertEqual(con.execute("SELECT COUNT(*) FROM experiments").fetchone(), (0,))
        self.assertEqual(con.execute("SELECT COUNT(*) FROM trials").fetchone(), (0,))
        con.close()

    def test_a_typo_in_a_key_gets_a_did_you_mean(self):
        path = write_spec(self.tmp, GOOD.replace("max_parallel", "max_paralel"))
        r = hpt("validate", path)
        self.assertEqual(r.returncode, 2)
        self.assertIn("max_parallel", r.stderr)
        self.assertIn("did you mean", r.stderr)

    def test_validate_prints_the_normalized_spec_which_validates_again(self):
        r = hpt("validate", write_spec(self.tmp, GOOD), check=True)
        self.assertIn("max_trials: 6", r.stdout)
        again = hpt("validate", write_spec(self.tmp, r.stdout, "normalized.yaml"), check=True)
        self.assertEqual(again.stdout, r.stdout)

    def test_every_shipped_config_validates(self):
        configs = os.path.join(REPO, "configs")
        names = sorted(n for n in os.listdir(configs) if n.endswith(".yaml"))
        self.assertIn("fashion-mnist-conditional.yaml", names)
        for name in names:
            with self.subTest(config=name):
                hpt("validate", os.path.join(configs, name), check=True)


class RunTest(ClusterTest):
    def test_hpt_run_tunes_the_quickstart_and_read_commands_show_the_result(self):
        db = os.path.join(self.tmp, "quick.db")
        work = os.path.join(self.tmp, "runs")
        r = hpt("run", os.path.join(REPO, "configs", "quickstart.yaml"), "--db", db, "--work-dir", work,
                "--workers", "2", timeout=300, cwd=REPO)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("completed", r.stderr)
        header = r.stdout.splitlines()[0].split()
        self.assertEqual(header[:5], ["rank", "trial", "status", "objective", "duration"])
        self.assertEqual(len(r.stdout.strip().splitlines()), 11)  # header + top 10

        board = json.loads(hpt("leaderboard", "quickstart", "--db", db, "--format", "json", "--top", "0",
                               check=True).stdout)
        self.assertEqual(len(board), 40)
        for row in board:
            self.assertTrue({"trial", "status", "objective", "params"} <= set(row))
            self.assertEqual(row["status"], "completed")
        objectives = [b["objective"] for b in board]
        self.assertEqual(objectives, sorted(objectives, reverse=True))
        self.assertGreater(objectives[0], 0.8)

        status = json.loads(hpt("status", "quickstart", "--db", db, "--format", "json", check=True).stdout)
        self.assertEqual(status["status"], "completed")
        self.assertEqual(status["trials"]["completed"], 40)

        trials_csv = hpt("trials", "quickstart", "--db", db, "--format", "csv", check=True).stdout
        rows = list(csv.DictReader(io.StringIO(trials_csv)))
        self.assertEqual(len(rows), 40)
        self.assertTrue({"trial", "status", "objective", "lr", "momentum", "batch_size", "optimizer"} <= set(rows[0]))

        best = str(board[0]["trial"])
        detail = json.loads(hpt("trial", best, "--db", db, "--format", "json", check=True).stdout)
        self.assertEqual(detail["trial"], board[0]["trial"])
        steps = [m["step"] for m in detail["metrics"] if m["name"] == "val_accuracy"]
        self.assertEqual(steps, [1, 2, 3, 4, 5])
        self.assertIn("run", [c["kind"] for c in detail["components"]])
        text = hpt("trial", best, "--db", db, check=True).stdout
        self.assertIn("val_accuracy", text)

        exported = json.loads(hpt("export", "quickstart", "--db", db, "--format", "json", check=True).stdout)
        self.assertEqual(len(exported), 40)
        self.assertTrue(all(len(t["metrics"]) >= 15 for t in exported))

    def test_read_commands_on_a_missing_store_or_experiment_fail_clearly(self):
        r = hpt("status", "--db", os.path.join(self.tmp, "nope.db"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("nope.db", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "nope.db")))
        r = hpt("leaderboard", "ghost", "--db", os.path.join(self.tmp, "nope.db"))
        self.assertNotEqual(r.returncode, 0)
        r = hpt("leaderboard", "x", "--format", "yaml", "--db", os.path.join(self.tmp, "nope.db"))
        self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    unittest.main()
