"""Conditional parameters (`when`) and initial_points through real processes: what a trial holds
of an inactive parameter (nothing: not in the store, not in HPT_PARAMS, not in argv), and the
initial points as the first trials, in order, once each, also across a coordinator killed with
SIGKILL and restarted on the same store."""
import glob
import json
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TRIAL, ClusterTest, hpt, wait_for, write_spec  # noqa: E402

# x always; opt chooses a branch: sgd has y, adam has depth, and depth 2 or 3 has width (a chain).
PARAMETERS = """parameters:
  - {name: x, type: float, min: -2.0, max: 4.0}
  - {name: opt, type: categorical, values: [sgd, adam]}
  - {name: y, type: float, min: 0.1, max: 10.0, scale: log, when: {opt: sgd}}
  - {name: depth, type: int, min: 1, max: 3, when: {opt: adam}}
  - {name: width, type: int, min: 4, max: 64, when: {depth: [2, 3]}}
"""
# One argument per parameter, an argument with two placeholders (left out when either is
# inactive), and one with literal braces around an inactive parameter's name (not a placeholder:
# it stays, as `{y}`).
COMMAND = ('[python3, %s, "--x={x}", "--y={y}", "--opt={opt}", "--depth={depth}", "--width={width}",'
           ' "--shape={depth}x{width}", "--note={{y}}", "--steps=2"' % TRIAL)

POINTS = [{"x": 1.0, "opt": "sgd", "y": 2.0},
          {"x": 0.5, "opt": "adam", "depth": 1},
          {"x": -1.0, "opt": "adam", "depth": 3, "width": 16},
          {"x": 2.5, "opt": "sgd", "y": 0.25}]
POINTS_YAML = "initial_points:\n" + "".join("  - " + json.dumps(p) + "\n" for p in POINTS)


def active_names(values):
    """The parameters a point with these values must hold, by the spec's conditions."""
    names = {"x", "opt"}
    if values.get("opt") == "sgd":
        names.add("y")
    if values.get("opt") == "adam":
        names.add("depth")
        if values.get("depth") in (2, 3):
            names.add("width")
    return names


def trials_of(exp, db):
    out = hpt("trials", exp, "--db", db, "--format", "json", check=True).stdout
    return sorted(json.loads(out), key=lambda t: t["number"])


class ConditionalTest(ClusterTest):
    def test_an_inactive_parameter_is_in_neither_the_store_nor_hpt_params_nor_argv(self):
        db = os.path.join(self.tmp, "cond.db")
        work = os.path.join(self.tmp, "runs")
        spec = write_spec(self.tmp, f"""
name: cond
objective: {{metric: score, goal: maximize}}
strategy: {{type: bayesian, seed: 4}}
{PARAMETERS}{POINTS_YAML}limits: {{max_trials: 16, max_parallel: 2}}
trial:
  command: {COMMAND}]
""")
        r = hpt("run", spec, "--db", db, "--work-dir", work, "--workers", "2", "--top", "0", timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        trials = trials_of("cond", db)
        self.assertEqual([t["number"] for t in trials], list(range(1, 17)))
        self.assertTrue(all(t["status"] == "completed" for t in trials), trials)
        # Both branches and the chain's both sides were tried (the initial points see to it).
        self.assertEqual({t["params"]["opt"] for t in trials}, {"sgd", "adam"})
        for t in trials:
            self.assertEqual(set(t["params"]), active_names(t["params"]), "trial %d in the store" % t["number"])

        dumps = sorted(glob.glob(os.path.join(work, "**", "env-*.json"), recursive=True))
        self.assertEqual(len(dumps), 16, dumps)
        seen = []
        for path in dumps:
            with open(path) as f:
                env = json.load(f)
            params = json.loads(env["HPT_PARAMS"])
            self.assertEqual(set(params), active_names(params), path)
            argv = env["argv"]
            given = {a[2:].split("=", 1)[0] for a in argv if a.startswith("--")}
            expected = {"x", "opt", "note", "steps"} | active_names(params)
            if {"depth", "width"} <= set(params):
                expected.add("shape")
            self.assertEqual(given, expected, argv)
            for name in ("y", "depth", "width"):
                self.assertFalse(any(a.startswith("--%s=" % name) for a in argv) and name not in params, argv)
            self.assertIn("--note={y}", argv)  # literal braces, whichever branch
            self.assertEqual(argv.count("--opt=%s" % params["opt"]), 1)
            seen.append(params)
        # What the trials saw is what the store holds.
        key = lambda p: json.dumps(p, sort_keys=True)  # noqa: E731
        self.assertEqual(sorted(map(key, seen)), sorted(key(t["params"]) for t in trials))

    def test_initial_points_run_first_in_order_once_each_across_a_coordinator_restart(self):
        c = self.cluster
        c.start_coordinator()
        c.start_worker("w1", "--slots", "1")
        spec = write_spec(self.tmp, f"""
name: points
objective: {{metric: score, goal: maximize}}
strategy: {{type: bayesian, seed: 2}}
{PARAMETERS}{POINTS_YAML}limits: {{max_trials: 8, max_parallel: 1}}
trial:
  command: {COMMAND[:-len(', "--steps=2"')]}, "--steps=4", "--sleep=1.2"]
""")
        exp = c.submit(spec)
        # Kill the coordinator while the second point runs: the first is done, the rest to come.
        wait_for("trial 2 to run", lambda: c.query(
            "SELECT 1 FROM trials WHERE number = 2 AND status = 'running'"), timeout=60)
        time.sleep(0.3)
        c.coordinator.send_signal(signal.SIGKILL)
        c.coordinator.wait()
        time.sleep(1.0)
        c.start_coordinator()
        final = c.wait_done(exp, timeout=180)
        self.assertEqual(final["status"], "completed", final)
        trials = trials_of("points", c.db)
        self.assertEqual([t["number"] for t in trials], list(range(1, 9)))
        self.assertTrue(all(t["status"] == "completed" for t in trials), trials)
        self.assertEqual([t["params"] for t in trials[:len(POINTS)]], POINTS)
        # No point ran twice: none of the later trials is one of them, and each ran one attempt.
        key = lambda p: json.dumps(p, sort_keys=True)  # noqa: E731
        later = {key(t["params"]) for t in trials[len(POINTS):]}
        self.assertFalse(later & {key(p) for p in POINTS}, trials)
        runs = c.query("""SELECT t.number, COUNT(*) FROM trials t
                          JOIN trial_component_links l ON l.trial_id = t.id
                          JOIN trial_components rc ON rc.id = l.component_id
                          WHERE rc.kind = 'run' GROUP BY t.number ORDER BY t.number""")
        self.assertEqual(runs, [(n, 1) for n in range(1, 9)])
        for t in trials:
            self.assertEqual(set(t["params"]), active_names(t["params"]), "trial %d" % t["number"])


if __name__ == "__main__":
    unittest.main()
