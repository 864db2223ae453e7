"""hpt plot as users meet it: a real experiment run with hpt run, then one chart of each kind,
parsed as XML and its marks counted against hpt trials --format json."""
import json
import os
import sys
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TRIAL, ClusterTest, hpt, write_spec  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"

# mode=fail trials exit 3 after one line (no objective): history marks them, parallel does not.
SPEC = f"""name: plotted
objective: {{metric: score, goal: maximize}}
strategy: {{type: random, seed: 5}}
parameters:
  - {{name: x, type: float, min: -2.0, max: 4.0}}
  - {{name: y, type: float, min: 0.01, max: 100.0, scale: log}}
  - {{name: mode, type: categorical, values: [ok, fail]}}
limits: {{max_trials: 16, max_parallel: 2}}
trial:
  command: [python3, {TRIAL}, "--x={{x}}", "--y={{y}}", "--mode={{mode}}", "--steps=3"]
"""


def marks(root):
    return [el for el in root.iter() if el.get("class") == "mark"]


class PlotTest(ClusterTest):
    def setUp(self):
        super().setUp()
        self.db = os.path.join(self.tmp, "plot.db")
        r = hpt("run", write_spec(self.tmp, SPEC), "--db", self.db, "--work-dir", os.path.join(self.tmp, "runs"),
                "--workers", "2", timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.trials = json.loads(hpt("trials", "plotted", "--db", self.db, "--format", "json", check=True).stdout)

    def plot(self, kind, *extra):
        out = os.path.join(self.tmp, kind + ".svg")
        hpt("plot", "plotted", "--kind", kind, "--db", self.db, "--out", out, *extra, check=True)
        root = ET.parse(out).getroot()  # raises on anything that is not well-formed XML
        self.assertEqual(root.tag, SVG + "svg")
        self.assertTrue(root.get("viewBox"))
        self.assertIsNotNone(root.find(SVG + "title"))
        self.assertEqual(root.get("data-kind"), kind)
        return root

    def test_each_kind_draws_a_mark_per_trial_it_shows(self):
        completed = [t for t in self.trials if t["status"] == "completed"]
        ended = [t for t in self.trials if t["status"] in ("completed", "failed", "stopped")]
        self.assertEqual(len(ended), 16)
        self.assertGreater(len(completed), 0)
        self.assertLess(len(completed), 16, "the spec's fail mode should fail some trials")
        attempts = sum(t["attempt"] for t in self.trials)
        params = 3
        expected = {
            "history": len(ended),
            "parallel": len(completed),
            "slice": len(completed) * params,
            "curves": len(completed),  # failed trials never report the objective metric
            "importance": params if len(completed) >= 10 else 0,
            "timeline": attempts,
        }
        ids = {t["trial"] for t in self.trials}
        for kind, count in expected.items():
            with self.subTest(kind):
                root = self.plot(kind)
                found = marks(root)
                self.assertEqual(len(found), count)
                self.assertEqual(root.get("data-marks"), str(count))
                for m in found:
                    if kind == "importance":
                        self.assertIn(m.get("data-param"), ("x", "y", "mode"))
                    else:
                        self.assertIn(int(m.get("data-trial")), ids)
                axes = [g for g in root.iter(SVG + "g") if g.get("class") == "axis"]
                self.assertEqual(bool(axes), bool(found))  # an empty chart says why instead
                if kind == "parallel":
                    scales = {g.get("data-param"): g.get("data-scale") for g in axes}
                    self.assertEqual(scales, {"x": "linear", "y": "log", "mode": "category", "score": "linear"})
        history = self.plot("history")
        failed = [m for m in marks(history) if m.get("data-status") == "failed"]
        self.assertEqual(len(failed), len([t for t in self.trials if t["status"] == "failed"]))
        best = max(completed, key=lambda t: t["objective"])
        # Downsampled to 10 marks, the best trial is still drawn.
        small = self.plot("parallel", "--max-marks", "10")
        self.assertLessEqual(len(marks(small)), 10)
        self.assertIn(str(best["trial"]), [m.get("data-trial") for m in marks(small)])

    def test_stdout_by_default_and_bad_input_exits_2_naming_it_leaving_no_file(self):
        r = hpt("plot", "plotted", "--kind", "timeline", "--db", self.db, check=True)
        self.assertEqual(len(marks(ET.fromstring(r.stdout))), sum(t["attempt"] for t in self.trials))
        out = os.path.join(self.tmp, "bad.svg")
        r = hpt("plot", "plotted", "--kind", "histogram", "--db", self.db, "--out", out)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--kind", r.stderr)
        self.assertIn("histogram", r.stderr)
        self.assertFalse(os.path.exists(out))
        r = hpt("plot", "plotted", "--kind", "history", "--db", self.db, "--out", os.path.join(self.tmp, "no", "x.svg"))
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--out", r.stderr)
        r = hpt("plot", "plotted", "--kind", "history", "--db", self.db, "--max-marks", "0")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--max-marks", r.stderr)
        r = hpt("plot", "ghost", "--kind", "history", "--db", self.db, "--out", out)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("ghost", r.stderr)
        self.assertFalse(os.path.exists(out))
        self.assertEqual([n for n in os.listdir(self.tmp) if ".tmp-" in n], [])


if __name__ == "__main__":
    unittest.main()
