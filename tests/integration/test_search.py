"""hpt export's analytics and hpt search, on a store that real `hpt run`s filled: export's columns
against values computed from `hpt trial --format json`, search's results against a brute-force
filter of `hpt export --format json`."""
import csv
import io
import json
import math
import os
import statistics
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TRIAL, ClusterTest, hpt, write_spec  # noqa: E402

ALPHA = f"""name: alpha
objective: {{metric: score, goal: maximize}}
strategy: {{type: random, seed: 3}}
parameters:
  - {{name: x, type: float, min: -2.0, max: 4.0}}
  - {{name: y, type: float, min: 0.01, max: 100.0, scale: log}}
  - {{name: opt, type: categorical, values: [sgd, adam]}}
static: {{steps: 4, tag: demo}}
limits: {{max_trials: 8, max_parallel: 2}}
trial:
  command: [python3, {TRIAL}, "--x={{x}}", "--y={{y}}", "--steps={{steps}}"]
"""

BETA = f"""name: beta
objective: {{metric: score, goal: maximize}}
strategy: {{type: random, seed: 5}}
parameters:
  - {{name: x, type: float, min: 0.0, max: 2.0}}
  - {{name: mode, type: categorical, values: [ok, fail]}}
limits: {{max_trials: 6, max_parallel: 2, max_failed: 6}}
trial:
  command: [python3, {TRIAL}, "--x={{x}}", "--mode={{mode}}"]
  retries: 0
"""

STATS = ["last", "min", "max", "avg", "stddev", "count"]


def expected_statistics(detail):
    """Per metric, the statistics of the trial's latest attempt, computed from its points."""
    series = {}
    for m in detail["metrics"]:
        if m["attempt"] == detail["attempt"]:
            series.setdefault(m["name"], []).append((m["step"], m["value"]))
    out = {}
    for name, points in series.items():
        values = [v for _, v in points if v is not None]
        out[name] = {
            "last": max(points)[1],
            "min": min(values) if values else None,
            "max": max(values) if values else None,
            "avg": sum(values) / len(values) if values else None,
            "stddev": statistics.stdev(values) if len(values) >= 2 else None,
            "count": len(values),
        }
    return out


def matches(row, field, op, value):
    """One comparison of the search grammar on an export row; a missing value is false."""
    if field.startswith("params."):
        have = row["params"].get(field[len("params."):])
    elif field.startswith("metrics."):
        name, stat = field[len("metrics."):].rsplit(".", 1)
        have = row["statistics"].get(name, {}).get(stat)
    elif field == "experiment":
        have = row["experiment_name"]
    elif field == "component":
        found = value in row["component_names"]
        return found if op == "=" else not found
    else:
        have = row[field]
    if have is None:
        return False
    if isinstance(have, str) != isinstance(value, str):
        return False  # what the tests below never compare
    return {"=": have == value, "!=": have != value, "<": have < value, "<=": have <= value,
            ">": have > value, ">=": have >= value}[op]


class SearchTest(ClusterTest):
    def setUp(self):
        super().setUp()
        self.db = os.path.join(self.tmp, "hpt.db")
        for name, text in (("alpha", ALPHA), ("beta", BETA)):
            r = hpt("run", write_spec(self.tmp, text, name + ".yaml"), "--db", self.db, "--workers", "2",
                    "--work-dir", os.path.join(self.tmp, "runs"), timeout=300)
            self.assertEqual(r.returncode, 0, r.stderr)
        self.rows = []
        for name in ("alpha", "beta"):
            exported = json.loads(hpt("export", name, "--db", self.db, check=True).stdout)
            for row in exported:
                self.assertEqual(row["experiment_name"], name)
            self.rows += exported
        self.assertEqual(len(self.rows), 14)

    def search(self, *args):
        return json.loads(hpt("search", *args, "--db", self.db, "--format", "json", check=True).stdout)

    def test_export_columns_match_values_computed_from_each_trial(self):
        text = hpt("export", "alpha", "--db", self.db, "--format", "csv", check=True).stdout
        table = list(csv.DictReader(io.StringIO(text)))
        header = text.splitlines()[0].split(",")
        metrics = ["loss", "score"]
        self.assertEqual(header, ["trial", "number", "status", "objective", "duration", "worker", "gpus",
                                  "params.x", "params.y", "params.opt", "static.steps", "static.tag", "components",
                                  "user_components"]
                         + [f"{m} - {s}" for m in metrics for s in ["Last", "Min", "Max", "Avg", "StdDev", "Count"]])
        self.assertEqual(len(table), 8)
        for row in table:
            detail = json.loads(hpt("trial", row["trial"], "--db", self.db, "--format", "json", check=True).stdout)
            self.assertEqual(row["status"], detail["status"])
            self.assertAlmostEqual(float(row["objective"]), detail["objective"])
            self.assertAlmostEqual(float(row["duration"]), detail["duration"])
            runs = [c for c in detail["components"] if c["kind"] == "run"]
            latest = max(runs, key=lambda c: c["attempt"])
            self.assertEqual(row["worker"], latest["worker"])
            self.assertEqual(row["gpus"], latest["gpus"])
            self.assertAlmostEqual(float(row["params.x"]), detail["params"]["x"])
            self.assertEqual(row["params.opt"], detail["params"]["opt"])
            self.assertEqual((row["static.steps"], row["static.tag"]), ("4", "demo"))
            self.assertEqual(row["components"].split(";"), [c["name"] for c in detail["components"]])
            expected = expected_statistics(detail)
            self.assertEqual(sorted(expected), metrics)
            self.assertEqual(int(row["score - Count"]), 4)
            for m in metrics:
                for s, title in zip(STATS, ["Last", "Min", "Max", "Avg", "StdDev", "Count"]):
                    self.assertAlmostEqual(float(row[f"{m} - {title}"]), expected[m][s], places=9,
                                           msg=f"trial {row['trial']} {m} {s}")
            self.assertEqual(float(row["score - Last"]), detail["objective"])

        # --metrics picks metrics and their order; the JSON carries the same statistics.
        text = hpt("export", "alpha", "--db", self.db, "--format", "csv", "--metrics", "score,nothing",
                   check=True).stdout
        header = text.splitlines()[0].split(",")
        self.assertEqual(header[14:], [f"{m} - {s}" for m in ["score", "nothing"]
                                       for s in ["Last", "Min", "Max", "Avg", "StdDev", "Count"]])
        row = next(csv.DictReader(io.StringIO(text)))
        self.assertEqual((row["nothing - Last"], row["nothing - Count"]), ("", "0"))
        for exported in self.rows:
            detail = json.loads(hpt("trial", exported["trial"], "--db", self.db, "--format", "json", check=True).stdout)
            for key in detail:  # the document export always printed, unchanged
                self.assertEqual(exported[key], detail[key])
            expected = expected_statistics(detail)
            self.assertEqual(sorted(exported["statistics"]), sorted(expected))
            for m, stats in expected.items():
                for s in STATS:
                    if stats[s] is None:
                        self.assertIsNone(exported["statistics"][m][s])
                    else:
                        self.assertAlmostEqual(exported["statistics"][m][s], stats[s], places=9)

        r = hpt("export", "alpha", "--db", self.db, "--metrics", "score,,loss")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--metrics", r.stderr)

    def test_search_agrees_with_a_brute_force_filter_of_export(self):
        statuses = {r["status"] for r in self.rows}
        self.assertIn("failed", statuses)  # beta's failing mode ran
        self.assertIn("completed", statuses)
        cases = [
            ("metrics.score.last > -3 and params.x < 2",
             lambda r: matches(r, "metrics.score.last", ">", -3) and matches(r, "params.x", "<", 2)),
            ("status = failed or params.opt = adam",
             lambda r: matches(r, "status", "=", "failed") or matches(r, "params.opt", "=", "adam")),
            ("not (metrics.score.max > -3) and experiment = alpha",
             lambda r: not matches(r, "metrics.score.max", ">", -3) and matches(r, "experiment", "=", "alpha")),
            ("metrics.score.avg >= -40 or objective > -1",
             lambda r: matches(r, "metrics.score.avg", ">=", -40) or matches(r, "objective", ">", -1)),
            ("component = static and status = completed",
             lambda r: matches(r, "component", "=", "static") and matches(r, "status", "=", "completed")),
            ("params.mode != 'fail'", lambda r: matches(r, "params.mode", "!=", "fail")),
            ("metrics.loss.max <= 1 and not params.y > 10",
             lambda r: matches(r, "metrics.loss.max", "<=", 1) and not matches(r, "params.y", ">", 10)),
        ]
        telling = 0  # cases that keep some trials and drop others: a filter that could be wrong
        for expr, predicate in cases:
            with self.subTest(expr=expr):
                got = [r["trial"] for r in self.search(expr)]
                want = sorted((r["experiment"], r["number"], r["trial"]) for r in self.rows if predicate(r))
                self.assertEqual(got, [t for _, _, t in want])
                telling += 0 < len(got) < len(self.rows)
        self.assertGreaterEqual(telling, 5)

        # --sort and --top: the best completed trials of both experiments.
        got = self.search("status = completed", "--sort", "objective desc", "--top", "3")
        completed = [r for r in self.rows if r["status"] == "completed"]
        want = sorted(completed, key=lambda r: (-r["objective"], r["trial"]))[:3]
        self.assertEqual([r["trial"] for r in got], [r["trial"] for r in want])
        # A sort by a metric puts trials without it last and shows its value.
        got = self.search("experiment = beta", "--sort", "metrics.score.max")
        with_score = [r for r in self.rows if r["experiment_name"] == "beta" and "score" in r["statistics"]]
        self.assertEqual([r["trial"] for r in got][:len(with_score)],
                         [r["trial"] for r in sorted(with_score, key=lambda r: (r["statistics"]["score"]["max"], r["trial"]))])
        for r in got[:len(with_score)]:
            self.assertIsNotNone(r["values"]["metrics.score.max"])

        table = hpt("search", "status = completed", "--db", self.db, check=True).stdout
        self.assertEqual(table.splitlines()[0].split()[:6], ["trial", "experiment", "number", "status", "objective", "duration"])
        rows = list(csv.DictReader(io.StringIO(
            hpt("search", "experiment = alpha", "--db", self.db, "--format", "csv", check=True).stdout)))
        self.assertEqual(len(rows), 8)

    def test_bad_expressions_are_refused_with_their_column(self):
        for expr, column, words in [
            ("metrics.score.last <", 21, "expected a value after '<', got end of input"),
            ("params.x > 1 and", 17, "expected a field"),
            ("status = finished", 10, "status is pending"),
            ("(params.x > 1", 14, "expected ')'"),
            ("metrics.score.p50 > 1", 15, "expected last, min, max or avg"),
        ]:
            with self.subTest(expr=expr):
                r = hpt("search", expr, "--db", self.db)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(f"search: column {column}: ", r.stderr)
                self.assertIn(words, r.stderr)
                self.assertEqual(r.stdout, "")
        r = hpt("search", "status = completed", "--db", self.db, "--sort", "objective up")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--sort", r.stderr)
        r = hpt("search", "status = completed", "--db", self.db, "--coordinator", "tcp://127.0.0.1:1")
        self.assertEqual(r.returncode, 2)  # one or the other
        self.assertIn("--db", r.stderr)
        r = hpt("search", "status = completed", "--db", os.path.join(self.tmp, "missing.db"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("missing.db", r.stderr)


if __name__ == "__main__":
    unittest.main()
