"""objective.noisy with real processes: `hpt run` on a trial whose metric is a noisy draw, then the
leaderboard and `hpt best` name the incumbent (the completed trial with the best GP posterior
mean), read from the store file and through a coordinator alike."""
import json
import os
import signal
import subprocess
import sys
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HPT, ClusterTest, hpt, write_spec  # noqa: E402

# f(x, y) = (x - 0.3)^2 + (y - 0.6)^2 on [0, 1]^2 plus Gaussian noise of sd 0.1, drawn from a
# generator seeded by the trial's id (so a rerun draws the same noise); `clean` is the noise-free
# value, which only the test reads.
TRIAL = ("import json, os, random; p = json.loads(os.environ['HPT_PARAMS']); "
         "r = random.Random(int(os.environ['HPT_TRIAL_ID'])); "
         "f = (p['x'] - 0.3) ** 2 + (p['y'] - 0.6) ** 2; "
         "print('hpt: step=1 loss=%.6f clean=%.6f' % (f + r.gauss(0, 0.1), f))")


def spec(noisy, trials=40):
    return f"""name: toy
objective: {{metric: loss, goal: minimize{", noisy: true" if noisy else ""}}}
strategy: {{type: random, seed: 3}}
parameters:
  - {{name: x, type: float, min: 0, max: 1}}
  - {{name: y, type: float, min: 0, max: 1}}
limits: {{max_trials: {trials}, max_parallel: 4}}
trial:
  command: [python3, -c, "{TRIAL}"]
"""


def clean_value(db, trial):
    detail = json.loads(hpt("trial", trial, "--db", db, "--format", "json", check=True).stdout)
    return next(m["value"] for m in detail["metrics"] if m["name"] == "clean")


def dashboard_get(source, paths):
    """The bodies of GET each path from `hpt dashboard SOURCE...` (a process started and stopped here)."""
    proc = subprocess.Popen([HPT, "dashboard", *source, "--bind", "127.0.0.1:0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        prefix = "hpt dashboard listening on "
        if not line.startswith(prefix):
            raise AssertionError("dashboard did not start: %r" % line)
        url = line[len(prefix):].strip()
        bodies = []
        for path in paths:
            with urllib.request.urlopen(url + path, timeout=30) as r:
                bodies.append(r.read().decode())
        return bodies
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)


class NoisyObjectiveTest(ClusterTest):
    def run_toy(self, noisy):
        db = self.cluster.db
        r = hpt("run", write_spec(self.tmp, spec(noisy)), "--db", db, "--workers", "4", "--work-dir",
                os.path.join(self.tmp, "runs"), timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        return db, r.stdout

    def test_the_incumbent_is_the_best_posterior_mean_beside_the_raw_best_from_a_file_and_a_coordinator(self):
        db, run_board = self.run_toy(noisy=True)
        board = json.loads(hpt("leaderboard", "toy", "--db", db, "--top", "0", "--format", "json",
                               check=True).stdout)
        self.assertEqual(len(board), 40)
        means = [row["posterior_mean"] for row in board]
        self.assertTrue(all(isinstance(m, float) for m in means), means)
        incumbents = [row for row in board if row["incumbent"]]
        self.assertEqual(len(incumbents), 1)
        incumbent = incumbents[0]
        self.assertEqual(incumbent["posterior_mean"], min(means))
        self.assertEqual(incumbent["observations"], 40)
        raw_best = board[0]
        # On this seeded run the luckiest draw is not the incumbent, and the incumbent is truly
        # better: its noise-free value is lower.
        self.assertNotEqual(incumbent["trial"], raw_best["trial"])
        self.assertLess(clean_value(db, incumbent["trial"]), clean_value(db, raw_best["trial"]))

        best = json.loads(hpt("best", "toy", "--db", db, "--format", "json", check=True).stdout)
        self.assertEqual(best["trial"], incumbent["trial"])
        self.assertEqual(best["chosen_by"], "posterior_mean")
        self.assertEqual(best["posterior_mean"], incumbent["posterior_mean"])
        self.assertEqual(best["raw_best"]["trial"], raw_best["trial"])

        # The table marks the incumbent and says how it was chosen; it comes after the top rows,
        # with its own rank, when it ranks lower.
        text = hpt("leaderboard", "toy", "--db", db, "--top", "1", check=True).stdout
        lines = text.splitlines()
        self.assertEqual(lines[0].split()[:5], ["rank", "trial", "status", "objective", "posterior"])
        self.assertEqual(lines[1].split()[:2], ["1", str(raw_best["trial"])])
        self.assertEqual(lines[2].split()[:2], [str(incumbent["rank"]), "%d*" % incumbent["trial"]])
        self.assertEqual(lines[3], "* incumbent: trial %d (best posterior mean %.6g over 40 completed trials; "
                                   "objective.noisy)" % (incumbent["trial"], incumbent["posterior_mean"]))
        self.assertEqual(len(lines), 4)
        self.assertIn(lines[3], run_board)  # hpt run's closing leaderboard says it too
        csv_lines = hpt("leaderboard", "toy", "--db", db, "--top", "1", "--format", "csv", check=True).stdout.splitlines()
        self.assertEqual(csv_lines[0].split(",")[:7],
                         ["rank", "trial", "status", "objective", "posterior_mean", "incumbent", "duration"])
        self.assertEqual([line.split(",")[5] for line in csv_lines[1:]], ["false", "true"])
        best_text = hpt("best", "toy", "--db", db, check=True).stdout
        self.assertTrue(best_text.startswith(lines[3][2:] + "\n"), best_text)
        self.assertIn("raw best: trial %d " % raw_best["trial"], best_text)

        # A coordinator serving the same store answers the same documents.
        self.cluster.start_coordinator()
        ep = self.cluster.endpoint
        for args in (("best", "toy", "--format", "json"), ("best", "toy"),
                     ("leaderboard", "toy", "--top", "3", "--format", "json"), ("leaderboard", "toy", "--top", "1")):
            with self.subTest(args=args):
                self.assertEqual(hpt(*args, "--coordinator", ep, check=True).stdout,
                                 hpt(*args, "--db", db, check=True).stdout)
        # The dashboard reads through the same documents, from the file and through the coordinator.
        paths = ["/api/experiments/toy/leaderboard?top=1", "/api/experiments/toy/leaderboard?top=0",
                 "/api/experiments/toy"]
        from_file = dashboard_get(["--db", db], paths)
        self.assertEqual(from_file, dashboard_get(["--coordinator", ep], paths))
        top = json.loads(from_file[0])
        self.assertEqual([row["trial"] for row in top], [raw_best["trial"], incumbent["trial"]])
        self.assertEqual(json.loads(from_file[1]), board)
        self.assertEqual(json.loads(from_file[2])["best"]["trial"], raw_best["trial"])  # status: the best value

    def test_without_noisy_the_leaderboard_has_no_model_and_best_is_the_best_value(self):
        db, _ = self.run_toy(noisy=False)
        board = json.loads(hpt("leaderboard", "toy", "--db", db, "--top", "0", "--format", "json",
                               check=True).stdout)
        self.assertEqual(len(board), 40)
        for row in board:
            self.assertEqual(set(row), {"rank", "trial", "number", "experiment", "status", "objective", "params",
                                        "attempt", "reason", "started_at", "ended_at", "duration"})
        text = hpt("leaderboard", "toy", "--db", db, "--top", "2", check=True).stdout
        self.assertEqual(text.splitlines()[0].split(), ["rank", "trial", "status", "objective", "duration", "x", "y"])
        self.assertEqual(len(text.splitlines()), 3)
        self.assertNotIn("incumbent", text)
        best = json.loads(hpt("best", "toy", "--db", db, "--format", "json", check=True).stdout)
        self.assertEqual(best["trial"], board[0]["trial"])
        self.assertEqual(best["chosen_by"], "objective")
        self.assertNotIn("raw_best", best)
        self.assertTrue(hpt("best", "toy", "--db", db, check=True).stdout.startswith(
            "best: trial %d (number %d, rank 1), objective " % (board[0]["trial"], board[0]["number"])))

    def test_bad_noisy_values_and_best_without_a_result_are_refused_clearly(self):
        for value, shown in (("maybe", "'maybe'"), ('"true"', "the string 'true'"), ("1", "'1'")):
            with self.subTest(value=value):
                path = write_spec(self.tmp, spec(True).replace("noisy: true", "noisy: " + value))
                r = hpt("validate", path)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(path + ":2:", r.stderr)
                self.assertIn("objective.noisy: must be true or false, got " + shown, r.stderr)
        path = write_spec(self.tmp, spec(True).replace("type: random, seed: 3", "type: asha, max_resource: 9"))
        r = hpt("validate", path)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("objective.noisy: is not available with strategy.type asha yet", r.stderr)

        db, _ = self.run_toy(noisy=True)
        r = hpt("best", "toy", "--db", db, "--format", "csv")
        self.assertEqual(r.returncode, 2, r.stderr)
        r = hpt("best", "nope", "--db", db)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no experiment 'nope'", r.stderr)


if __name__ == "__main__":
    unittest.main()
