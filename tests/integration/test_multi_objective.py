"""Several objectives and constraints (issue 19) through a real coordinator and worker processes:
the leaderboard's front against a brute-force non-dominated sort of `hpt trials`, infeasible trials
never on it, the front's hypervolume in `hpt status`, and bad specs refused naming the field."""
import json
import re
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TRIAL, ClusterTest, hpt, write_spec  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "programs"))

SPEC = f"""name: pareto
objectives:
  - {{metric: error, goal: minimize}}
  - {{metric: latency_ms, goal: minimize}}
constraints:
  - {{metric: memory_mb, max: 512}}
strategy: {{type: random, seed: 3}}
parameters:
  - {{name: x, type: float, min: 0.0, max: 2.0}}
  - {{name: y, type: float, min: 0.0, max: 8.0}}
limits: {{max_trials: 24, max_parallel: 4}}
trial:
  command: [python3, {TRIAL}, --mode, multi, "--x={{x}}", "--y={{y}}"]
"""


def multi_metrics(x, y):
    """What programs/trial.py --mode multi reports at its last step (kept in step with it)."""
    return {"error": (x - 2.0) ** 2 + (y - 8.0) ** 2 / 10.0, "latency_ms": 5.0 * x + y, "memory_mb": 100.0 * y}


def dominates(a, b):
    return all(p <= q for p, q in zip(a, b)) and any(p < q for p, q in zip(a, b))


def hypervolume_2d(points, reference):
    """The area dominated by minimization points and bounded by the reference, by a sweep."""
    inside = sorted(p for p in points if p[0] < reference[0] and p[1] < reference[1])
    area, best_y = 0.0, reference[1]
    for i, (x, y) in enumerate(inside):
        best_y = min(best_y, y)
        next_x = inside[i + 1][0] if i + 1 < len(inside) else reference[0]
        area += (next_x - x) * (reference[1] - best_y)
    return area


BAYESIAN_SPEC = SPEC.replace("strategy: {type: random, seed: 3}", "strategy: {type: bayesian, seed: 3, n_initial: 6}") \
    .replace("max_trials: 24, max_parallel: 4", "max_trials: 20, max_parallel: 2")


class MultiObjectiveTest(ClusterTest):
    def run_spec(self, spec, trials_wanted):
        """Runs spec on a coordinator and two workers to completion; returns (exp, status, trials, board)."""
        c = self.cluster
        c.start_coordinator()
        c.start_worker("w1", "--slots", 2)
        c.start_worker("w2", "--slots", 2)
        exp = c.submit(write_spec(self.tmp, spec))
        status = c.wait_done(exp, timeout=180)
        self.assertEqual(status["status"], "completed", status)
        self.assertEqual(status["trials"]["completed"], trials_wanted)
        trials = json.loads(hpt("trials", exp, "--coordinator", c.endpoint, "--format", "json", check=True).stdout)
        board = json.loads(hpt("leaderboard", exp, "--coordinator", c.endpoint, "--format", "json", "--top", "0",
                               check=True).stdout)
        self.assertEqual(len(trials), trials_wanted)
        self.assertEqual(len(board), trials_wanted)
        return exp, status, trials, board

    def check_front(self, board, feasible):
        """The leaderboard's front is the brute-force front of the feasible trials; returns it."""
        front = {t for t, p in feasible.items() if not any(dominates(q, p) for q in feasible.values())}
        self.assertEqual({r["trial"] for r in board if r["pareto_rank"] == 1}, front)
        return front

    def test_bayesian_learns_two_objectives_and_a_constraint_through_real_processes(self):
        exp, status, trials, board = self.run_spec(BAYESIAN_SPEC, 20)
        feasible = {}
        for t in trials:
            want = multi_metrics(t["params"]["x"], t["params"]["y"])
            self.assertAlmostEqual(t["objectives"]["latency_ms"], want["latency_ms"], places=6)
            self.assertEqual(t["feasible"], want["memory_mb"] <= 512)
            if t["feasible"]:
                feasible[t["trial"]] = (t["objectives"]["error"], t["objectives"]["latency_ms"])
        front = self.check_front(board, feasible)
        self.assertEqual(status["front"]["size"], len(front))
        # The model's trials (after the 6 of the Sobol design) are told apart by the constraint's GP:
        # a random point meets memory_mb <= 512 (y <= 5.12 of [0, 8]) 64% of the time.
        by_number = sorted(trials, key=lambda t: t["trial"])
        model_feasible = sum(1 for t in by_number[6:] if t["feasible"])
        self.assertGreaterEqual(model_feasible, 11, [t["params"] for t in by_number[6:]])

    def test_the_leaderboard_front_is_the_brute_force_front_of_the_feasible_trials(self):
        c = self.cluster
        exp, status, trials, board = self.run_spec(SPEC, 24)

        # Each trial's values are what its program printed at its last step, for its parameters.
        feasible = {}
        for t in trials:
            want = multi_metrics(t["params"]["x"], t["params"]["y"])
            for k in ("error", "latency_ms"):
                self.assertAlmostEqual(t["objectives"][k], want[k], places=6)
            self.assertAlmostEqual(t["constraints"]["memory_mb"], want["memory_mb"], places=5)
            self.assertEqual(t["feasible"], want["memory_mb"] <= 512)
            self.assertAlmostEqual(t["objective"], t["objectives"]["error"])  # the first objective's column
            if t["feasible"]:
                feasible[t["trial"]] = (t["objectives"]["error"], t["objectives"]["latency_ms"])
        self.assertGreater(len(feasible), 2, "the seed should give several feasible trials")
        self.assertLess(len(feasible), 24, "the seed should give some infeasible trials")

        # Brute force: the feasible trials no feasible trial dominates.
        front = self.check_front(board, feasible)
        # The front comes first, ranks never decrease, infeasible trials come last and rank nowhere.
        ranks = [r["pareto_rank"] for r in board if r["feasible"]]
        self.assertEqual(ranks, sorted(ranks))
        self.assertEqual([r["feasible"] for r in board], [True] * len(feasible) + [False] * (24 - len(feasible)))
        for r in board:
            if not r["feasible"]:
                self.assertIsNone(r["pareto_rank"])
                self.assertNotIn(r["trial"], front)
        # Every rank k > 1 trial is dominated by a rank k - 1 trial.
        by_trial = {r["trial"]: r for r in board}
        for r in board:
            if r["feasible"] and r["pareto_rank"] > 1:
                self.assertTrue(any(dominates(feasible[q["trial"]], feasible[r["trial"]]) for q in board
                                    if q["pareto_rank"] == r["pareto_rank"] - 1), r)
        # Infeasible trials by violation (memory over 512).
        violations = [by_trial[r["trial"]]["constraints"]["memory_mb"] for r in board if not r["feasible"]]
        self.assertEqual(violations, sorted(violations))

        # hpt status: the front's size and its hypervolume against the worst feasible values + 10%.
        self.assertEqual(status["front"]["size"], len(front))
        self.assertEqual(status["front"]["feasible"], len(feasible))
        pts = list(feasible.values())
        reference = [max(p[i] for p in pts) + 0.1 * (max(p[i] for p in pts) - min(p[i] for p in pts)) for i in (0, 1)]
        self.assertAlmostEqual(status["front"]["reference"][0], reference[0])
        self.assertAlmostEqual(status["front"]["reference"][1], reference[1])
        self.assertAlmostEqual(status["front"]["hypervolume"], hypervolume_2d(pts, reference))
        self.assertIn(status["best"]["trial"], front)

        # The tables: a column per objective and constraint, the front and feasibility.
        table = hpt("leaderboard", exp, "--coordinator", c.endpoint, "--top", "0", check=True).stdout.splitlines()
        self.assertEqual(table[0].split()[:8],
                         ["rank", "front", "trial", "status", "feasible", "error", "latency_ms", "memory_mb"])
        self.assertEqual(len(table), 25)
        text = hpt("status", exp, "--coordinator", c.endpoint, check=True).stdout
        self.assertIn("Pareto front %d of %d feasible" % (len(front), len(feasible)), text)
        self.assertIn("memory_mb <= 512", text)
        listing = hpt("status", "--coordinator", c.endpoint, check=True).stdout
        self.assertIn("minimize error, minimize latency_ms", listing)

        # The Pareto chart marks the same front, crosses the infeasible trials, through the
        # coordinator as from the file.
        svg = hpt("plot", exp, "--kind", "pareto", "--coordinator", c.endpoint, check=True).stdout
        self.assertEqual(svg, hpt("plot", exp, "--kind", "pareto", "--db", c.db, check=True).stdout)
        ranked_one = sorted(re.findall(r'class="mark" data-trial="(\d+)" data-rank="1"', svg), key=int)
        self.assertEqual([int(t) for t in ranked_one], sorted(front))
        self.assertEqual(svg.count('data-feasible="false"'), len([r for r in board if not r["feasible"]]))

        # The same documents read straight from the file.
        self.assertEqual(json.loads(hpt("leaderboard", exp, "--db", c.db, "--format", "json", "--top", "0",
                                        check=True).stdout), board)

    def test_patience_ends_the_experiment_after_trials_without_a_hypervolume_gain(self):
        spec = SPEC.replace("max_trials: 24, max_parallel: 4", "max_trials: 60, max_parallel: 1") + \
            "completion: {patience: 3, min_delta: 0.05}\n"
        c = self.cluster
        c.start_coordinator()
        c.start_worker("w1", "--slots", 1)
        exp = c.submit(write_spec(self.tmp, spec))
        final = c.wait_done(exp, timeout=180)
        self.assertEqual(final["status"], "completed", final)
        self.assertIn("relative hypervolume gain) in 3 finished trials", final["reason"])
        self.assertLess(final["trials"]["total"], 60)
        # Replayed by hand: the last 3 trials, in the order they ran (one slot), added less than 5%.
        trials = sorted(json.loads(hpt("trials", exp, "--coordinator", c.endpoint, "--format", "json",
                                       check=True).stdout), key=lambda t: t["trial"])
        points = [(t["objectives"]["error"], t["objectives"]["latency_ms"]) if t["feasible"] else None for t in trials]

        def gain(k):
            """The relative hypervolume gain of trial k over the feasible trials before it."""
            if points[k] is None:
                return 0.0
            pts = [p for p in points[:k + 1] if p is not None]
            reference = [max(p[i] for p in pts) + 0.1 * (max(p[i] for p in pts) - min(p[i] for p in pts))
                         for i in (0, 1)]
            before = hypervolume_2d(pts[:-1], reference)
            return (hypervolume_2d(pts, reference) - before) / before if before > 0 else float("inf")
        self.assertTrue(all(gain(k) < 0.05 for k in range(len(points) - 3, len(points))),
                        [gain(k) for k in range(len(points))])
        self.assertGreaterEqual(gain(len(points) - 4), 0.05)

    def test_refused_specs_exit_2_naming_the_field_and_line(self):
        multi = SPEC.replace("strategy: {type: random, seed: 3}\n", "")
        cases = [
            ("hyperband", multi + "strategy: {type: hyperband, max_resource: 9}\n", 13, "strategy.type"),
            ("asha", multi + "strategy: {type: asha, max_resource: 9}\n", 13, "strategy.type"),
            ("median", multi + "early_stopping: {type: median}\n", 13, "early_stopping.type"),
            ("target", multi + "completion: {target: 0.5}\n", 13, "completion.target"),
            ("one objective listed", multi.replace("  - {metric: latency_ms, goal: minimize}\n", ""), 3, "objectives"),
            ("unbounded constraint", multi.replace("{metric: memory_mb, max: 512}", "{metric: memory_mb}"), 6,
             "constraints[0]"),
            ("metric used twice", multi.replace("{metric: memory_mb, max: 512}", "{metric: error, max: 512}"), 6,
             "constraints[0].metric"),
        ]
        for what, text, line, field in cases:
            with self.subTest(what):
                path = write_spec(self.tmp, text, "bad-%s.yaml" % what.replace(" ", "-"))
                for cmd in (["validate", path], ["run", path, "--db", os.path.join(self.tmp, "bad.db")]):
                    r = hpt(*cmd)
                    self.assertEqual(r.returncode, 2, (cmd, r.stdout, r.stderr))
                    self.assertIn("%s:%d:" % (path, line), r.stderr)
                    self.assertIn(field + ":", r.stderr)
                self.assertFalse(os.path.exists(os.path.join(self.tmp, "bad.db")))


if __name__ == "__main__":
    unittest.main()
