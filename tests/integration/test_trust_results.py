"""Results mean what they say, and workers are who they say they are (issue 15), with real
processes: a coordinator, workers, the CLI and an impostor on tcp loopback, SQLite in a temp dir."""
import json
import os
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TRIAL, ClusterTest, hpt, wait_for, write_spec  # noqa: E402

IMPOSTOR = os.environ.get("HPT_IMPOSTOR_BIN")

# Prints `acc` and exits with the code it is given: a trial that reports a value and then fails.
REPORT_THEN_EXIT = """
import sys
acc, code = sys.argv[1], int(sys.argv[2])
print("hpt: step=1 acc=" + acc, flush=True)
sys.exit(code)
"""


class ResultsTest(ClusterTest):
    def program(self):
        return write_spec(self.tmp, REPORT_THEN_EXIT, name="report_then_exit.py")

    def json(self, *args):
        return json.loads(hpt(*args, "--coordinator", self.cluster.endpoint, "--format", "json", check=True).stdout)

    def test_a_trial_that_printed_the_best_value_then_failed_is_not_ranked_best_or_a_target(self):
        c = self.cluster
        c.start_coordinator()
        c.start_worker("w1", "--slots", "1")
        spec = write_spec(self.tmp, f"""
name: failed-best
objective: {{metric: acc, goal: maximize}}
strategy: {{type: grid}}
parameters:
  - {{name: run, type: categorical, values: ["0.99 1", "0.5 0"]}}
completion: {{target: 0.9}}
limits: {{max_trials: 2, max_parallel: 1}}
trial:
  command: [sh, -c, "python3 {self.program()} {{run}}"]
""")
        exp = c.submit(spec)
        final = c.wait_done(exp)
        self.assertEqual(final["status"], "completed", final)
        self.assertEqual(final["reason"], "max_trials reached (2)")
        trials = self.json("trials", exp)
        failed = [t for t in trials if t["status"] == "failed"]
        completed = [t for t in trials if t["status"] == "completed"]
        self.assertEqual(len(failed), 1, trials)
        self.assertEqual(len(completed), 1, trials)
        self.assertEqual(failed[0]["objective"], 0.99)  # kept, not a result
        board = self.json("leaderboard", exp)
        self.assertEqual([t["trial"] for t in board], [completed[0]["trial"]])
        self.assertEqual(final["best"]["trial"], completed[0]["trial"])

    def test_hpt_run_ends_failed_and_exits_1_when_no_trial_completed(self):
        spec = write_spec(self.tmp, f"""
name: none-completed
objective: {{metric: acc, goal: maximize}}
parameters:
  - {{name: x, type: float, min: 0.0, max: 1.0}}
limits: {{max_trials: 3}}
trial:
  command: [python3, {self.program()}, "{{x}}", "1"]
""")
        db = os.path.join(self.tmp, "run.db")
        r = hpt("run", spec, "--db", db, "--workers", "2", "--work-dir", os.path.join(self.tmp, "runs"), timeout=60)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("failed: no trial completed", r.stderr)
        status = json.loads(hpt("status", "none-completed", "--db", db, "--format", "json", check=True).stdout)
        self.assertEqual(status["status"], "failed")
        self.assertIsNone(status["best"])

    def test_a_trial_whose_objective_came_only_as_nan_fails_saying_so(self):
        c = self.cluster
        c.start_coordinator()
        c.start_worker("w1", "--slots", "1")
        spec = write_spec(self.tmp, f"""
name: nan-only
objective: {{metric: acc, goal: maximize}}
parameters:
  - {{name: x, type: float, min: 0.0, max: 1.0}}
limits: {{max_trials: 1}}
trial:
  command: [python3, {self.program()}, "nan", "0"]
""")
        exp = c.submit(spec)
        self.assertEqual(c.wait_done(exp)["status"], "failed")
        [trial] = self.json("trials", exp)
        detail = self.json("trial", trial["trial"])
        self.assertEqual(detail["status"], "failed")
        self.assertEqual(detail["reason"], "objective 'acc' was reported only as nan")


class WorkersTest(ClusterTest):
    def slow_spec(self, name, trials, seconds):
        return write_spec(self.tmp, f"""
name: {name}
objective: {{metric: score, goal: maximize}}
parameters:
  - {{name: x, type: float, min: -2.0, max: 4.0}}
limits: {{max_trials: {trials}, max_parallel: 1}}
trial:
  command: [python3, {TRIAL}, "--x={{x}}", "--steps=2", "--sleep={seconds}"]
""", name=name + ".yaml")

    def workers(self):
        return json.loads(hpt("workers", "--coordinator", self.cluster.endpoint, "--format", "json",
                              check=True).stdout)

    def wait_for(self, predicate, what, timeout=30):
        return wait_for(what, predicate, timeout, interval=0.1)

    def test_a_worker_stopped_with_sigterm_hands_its_trial_back_and_is_shown_disconnected(self):
        c = self.cluster
        c.worker_timeout_ms = 30000  # "lost" would take this long: what is seen earlier is the goodbye
        c.start_coordinator()
        w1 = c.start_worker("w1", "--slots", "1")
        exp = c.submit(self.slow_spec("handback", 1, 60))
        self.wait_for(lambda: c.status(exp)["trials"]["running"] == 1, "the trial to start")
        w1.send_signal(signal.SIGTERM)
        w1.wait(timeout=20)
        [row] = self.workers()
        self.assertEqual(row["status"], "disconnected")
        self.assertEqual(c.status(exp)["trials"]["pending"], 1)
        runs = c.query("SELECT status FROM trial_components WHERE kind = 'run'")
        self.assertEqual(runs, [("handed_back",)])
        # Another worker gets it; it is not counted as a lost attempt.
        c.start_worker("w2", "--slots", "1")
        self.wait_for(lambda: c.status(exp)["trials"]["running"] == 1, "the trial to start again")
        self.assertEqual(c.query("SELECT COUNT(*) FROM trial_components WHERE status = 'lost'"), [(0,)])

    def test_a_second_worker_process_with_a_live_workers_id_gets_nothing_and_cuts_nobody_off(self):
        c = self.cluster
        c.start_coordinator()
        c.start_worker("w1", "--slots", "1")
        self.wait_for(lambda: self.workers(), "w1 to register")
        exp = c.submit(self.slow_spec("same-id", 6, 0.4))
        # Same id, another work dir (so no session token): a peer that only knows the id.
        other_dir = os.path.join(self.tmp, "other-runs")
        log_path = os.path.join(self.tmp, "worker-other.log")
        with open(log_path, "w") as log:
            other = subprocess.Popen([os.environ.get("HPT_BIN", "hpt"), "worker", "--connect", c.endpoint, "--id",
                                      "w1", "--work-dir", other_dir, "--slots", "1", "--log-level", "debug"],
                                     stdout=log, stderr=log)
            try:
                final = c.wait_done(exp, timeout=90)
            finally:
                other.send_signal(signal.SIGTERM)
                other.wait(timeout=20)
        self.assertEqual(final["status"], "completed", final)
        self.assertEqual(final["trials"]["completed"], 6)
        with open(log_path) as f:
            self.assertNotIn("registered with", f.read())
        self.assertFalse(any(name.startswith("same-id") for name in os.listdir(other_dir)))
        with open(os.path.join(self.tmp, "coordinator.log")) as f:
            self.assertIn("does not carry its session token", f.read())

    def test_a_killed_worker_restarted_with_its_id_and_work_dir_takes_its_registration_back_at_once(self):
        c = self.cluster
        c.worker_timeout_ms = 30000  # far longer than the test: the old registration is never "lost"
        c.start_coordinator()
        w1 = c.start_worker("w1", "--slots", "1")
        exp = c.submit(self.slow_spec("restart", 2, 0.2))
        self.wait_for(lambda: c.status(exp)["trials"]["completed"] >= 1, "a first result")
        w1.send_signal(signal.SIGKILL)
        w1.wait()
        c.start_worker("w1", "--slots", "1")
        final = c.wait_done(exp, timeout=25)
        self.assertEqual(final["status"], "completed", final)

    @unittest.skipUnless(IMPOSTOR, "HPT_IMPOSTOR_BIN is not set (ctest sets it to the built hpt-impostor)")
    def test_an_impostor_that_knows_every_id_records_nothing_and_is_given_nothing(self):
        c = self.cluster
        c.start_coordinator()
        c.start_worker("w1", "--slots", "2")
        self.wait_for(lambda: self.workers(), "w1 to register")
        exp = c.submit(self.slow_spec("forged", 8, 0.4))
        r = subprocess.run([IMPOSTOR, "--connect", c.endpoint, "--ids", "w1", "--trials", "8", "--seconds", "3"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        said = json.loads(r.stdout)
        self.assertGreater(said["sent"], 100)
        self.assertEqual(said["welcomed"], 0)
        self.assertEqual(said["assigned"], 0)
        final = c.wait_done(exp, timeout=90)
        self.assertEqual(final["trials"]["completed"], 8)
        self.assertEqual(c.query("SELECT COUNT(*) FROM metrics WHERE value = 999"), [(0,)])
        self.assertEqual(c.query("SELECT COUNT(*) FROM trial_components WHERE log_path = '/forged'"), [(0,)])

    def test_a_cancel_with_a_newline_cannot_write_a_line_into_the_coordinators_log(self):
        c = self.cluster
        c.start_coordinator()
        forged = "2026-01-01 00:00:00.000 error [coordinator] FORGED"
        r = hpt("cancel", "x\n" + forged, "--coordinator", c.endpoint)
        self.assertNotEqual(r.returncode, 0)
        hpt("status", "--coordinator", c.endpoint, check=True)  # the rejection is logged by now
        with open(os.path.join(self.tmp, "coordinator.log")) as f:
            lines = f.read().splitlines()
        self.assertFalse([line for line in lines if line.startswith(forged)])
        self.assertTrue([line for line in lines if "x\\n" + forged in line], lines[-5:])


if __name__ == "__main__":
    unittest.main()
