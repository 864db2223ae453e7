"""`hpt track` (issue 21, "Experiments run by hand") through the real binary, on a real SQLite file
(--db) and through a real coordinator (--coordinator): three runs of a loop over configurations
make one manual experiment with their params, metrics, self-reported params and artifacts, alike
both ways; the command's exit code is hpt track's; a killed or interrupted track leaves a failed
run, never a running one (through a coordinator, once its lease runs out); a run goes on through a
coordinator killed and restarted, losing no point; bad input is refused with exit code 2 and
nothing written; a coordinator opening the file later leaves the manual experiment alone."""
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HPT, TRIAL, ClusterTest, hpt, wait_for, write_spec  # noqa: E402

# One training run: the learning rate from argv, a model file in its trial dir, a seed it chose,
# three epochs of val_acc, and the exit code asked for.
RUN = """import os, sys
lr = float(sys.argv[1])
d = os.environ["HPT_TRIAL_DIR"]
with open(os.path.join(d, "model.bin"), "wb") as f:
    f.write(("model lr=%r\\n" % lr).encode() * 500)
print("hpt: param seed=%d" % int(lr * 1000))
print("hpt: artifact output model=model.bin")
print("hpt: artifact input data=s3://bucket/fmnist")
for step in (1, 2, 3):
    print("hpt: step=%d val_acc=%r" % (step, lr * step))
print("params " + os.environ["HPT_PARAMS"], flush=True)
if len(sys.argv) > 2 and sys.argv[2] == "sleep":
    import time
    time.sleep(60)
sys.exit(int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] != "sleep" else 0)
"""

# A longer run: STEPS steps of val_acc, one every 0.1 s, and a model file at the end.
SLOW = """import os, sys, time
steps = int(sys.argv[1])
for step in range(1, steps + 1):
    print("hpt: step=%d val_acc=%r" % (step, step / 100), flush=True)
    time.sleep(0.1)
with open(os.path.join(os.environ["HPT_TRIAL_DIR"], "model.bin"), "wb") as f:
    f.write(b"slow" * 100)
print("hpt: artifact output model=model.bin")
"""


class TrackTest(ClusterTest):
    def setUp(self):
        super().setUp()
        self.db = os.path.join(self.tmp, "track.db")
        self.program = os.path.join(self.tmp, "run.py")
        with open(self.program, "w") as f:
            f.write(RUN)
        self.slow = os.path.join(self.tmp, "slow.py")
        with open(self.slow, "w") as f:
            f.write(SLOW)

    def track(self, *args, check=False):
        return hpt("track", "--db", self.db, "--work-dir", os.path.join(self.tmp, "runs"), *args, check=check,
                   cwd=self.tmp)

    def test_three_runs_make_one_manual_experiment_with_their_metrics_params_and_artifacts(self):
        self.check_three_runs(["--db", self.db], self.track)

    def test_through_a_coordinator_three_runs_are_recorded_as_with_a_file(self):
        c = self.cluster
        c.db = self.db
        c.start_coordinator()
        runs = os.path.join(self.tmp, "runs")
        self.check_three_runs(["--coordinator", c.endpoint], lambda *args: hpt(
            "track", "--coordinator", c.endpoint, "--work-dir", runs, *args, cwd=self.tmp))
        # The coordinator recorded them: the worker column names the hpt track that ran each.
        self.assertEqual(self.sql("SELECT count(*) FROM trial_components WHERE kind = 'run' AND worker LIKE "
                                  "'track:%'"), [(3,)])

    def check_three_runs(self, where, track):
        """Three runs of a loop, recorded through `track` (a function of hpt track's arguments) and
        read back with `where` (--db FILE or --coordinator ENDPOINT)."""
        hpt("component", "create", "fmnist-v1", "--kind", "dataset", *where, check=True)
        codes = []
        for lr, code in (("0.1", "0"), ("0.2", "0"), ("0.3", "3")):
            r = track("--experiment", "loop", "--objective", "val_acc", "--param", "lr=" + lr,
                      "--param", "optimizer=adam", "--component", "fmnist-v1", "--", "python3", self.program,
                      lr, code)
            codes.append(r.returncode)
            # Its output passes through, and it says where the run went.
            self.assertIn("params ", r.stdout)
            self.assertIn("hpt track: trial", r.stderr)
        self.assertEqual(codes, [0, 0, 3])
        self.assertEqual(self.sql("SELECT name, strategy, status FROM experiments"), [("loop", "manual", "completed")])
        trials = json.loads(hpt("trials", "loop", *where, "--format", "json", check=True).stdout)
        self.assertEqual([t["status"] for t in trials], ["completed", "completed", "failed"])
        self.assertEqual([t["params"] for t in trials], [{"lr": 0.1, "optimizer": "adam"},
                                                          {"lr": 0.2, "optimizer": "adam"},
                                                          {"lr": 0.3, "optimizer": "adam"}])
        self.assertEqual([t["objective"] for t in trials], [0.1 * 3, 0.2 * 3, 0.3 * 3])
        self.assertEqual(trials[2]["reason"], "exit code 3")
        board = json.loads(hpt("leaderboard", "loop", *where, "--format", "json", check=True).stdout)
        self.assertEqual([t["trial"] for t in board], [trials[1]["trial"], trials[0]["trial"]])
        for t, lr in zip(trials, (0.1, 0.2, 0.3)):
            d = json.loads(hpt("trial", t["trial"], *where, "--format", "json", check=True).stdout)
            series = [(m["step"], m["value"]) for m in d["metrics"] if m["name"] == "val_acc"]
            self.assertEqual(series, [(1, lr), (2, lr * 2), (3, lr * 3)])
            run = [c for c in d["components"] if c["kind"] == "run"]
            self.assertEqual(len(run), 1)
            self.assertEqual(run[0]["data"]["params"], {"seed": int(lr * 1000)})
            arts = {a["name"]: a for a in run[0]["data"]["artifacts"]}
            with open(arts["model"]["location"], "rb") as f:
                payload = f.read()
            self.assertEqual(payload, ("model lr=%r\n" % lr).encode() * 500)
            self.assertEqual(arts["model"]["sha256"], hashlib.sha256(payload).hexdigest())
            self.assertEqual(arts["model"]["size"], len(payload))
            self.assertEqual(arts["data"]["location"], "s3://bucket/fmnist")
            self.assertEqual([c["name"] for c in d["user_components"]], ["fmnist-v1"])
            # The program saw its params in HPT_PARAMS, and its log holds what it printed.
            with open(run[0]["log_path"]) as f:
                self.assertIn('params {"lr":%r,"optimizer":"adam"}' % lr, f.read())
        shown = json.loads(hpt("component", "show", "fmnist-v1", *where, "--format", "json", check=True).stdout)
        self.assertEqual(len(shown["trials"]), 3)

    def test_bad_input_is_refused_with_exit_2_and_nothing_written(self):
        # A tuning experiment of that name already exists: not recorded into.
        spec = write_spec(self.tmp, f"""name: tuned
objective: {{metric: score, goal: maximize}}
parameters: [{{name: x, type: float, min: 0.0, max: 1.0}}]
limits: {{max_trials: 1}}
trial: {{command: [python3, {TRIAL}, --steps, 1, "--x={{x}}", "--y=1"]}}
""")
        hpt("run", spec, "--db", self.db, "--work-dir", os.path.join(self.tmp, "runs"), check=True, cwd=self.tmp)
        self.track("--experiment", "first", "--", "true", check=True)
        before = self.dump()
        cases = [
            (["--experiment", "tuned", "--", "true"], "tuning run; hpt track records into manual experiments only"),
            (["--experiment", "first", "--component", "nope", "--", "true"], "no component named 'nope'"),
            (["--experiment", "first", "--param", "lr", "--", "true"], "--param: expected NAME=VALUE, got 'lr'"),
            (["--experiment", "first", "--param", "a=1", "--param", "a=2", "--", "true"], "'a' is given twice"),
            (["--experiment", "first", "--objective", "loss", "--", "true"], "ranks by 'objective'"),
            (["--experiment", "-x", "--", "true"], "not an experiment name"),
            (["--experiment", "first", "--goal", "minimize", "--", "true"], "is to maximize 'objective'"),
        ]
        for args, message in cases:
            r = hpt("track", "--db", self.db, *args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(message, r.stderr)
        self.assertEqual(self.dump(), before)
        # The same through a coordinator that holds the file: refused by the coordinator, exit 2.
        c = self.cluster
        c.db = self.db
        c.start_coordinator()
        for args, message in cases:
            r = hpt("track", "--coordinator", c.endpoint, *args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(message, r.stderr)
        # While it holds the file, hpt track --db is refused (a fault, exit 1), naming the holder.
        r = hpt("track", "--db", self.db, "--experiment", "first", "--", "true")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("is in use by another writer (pid %d" % c.coordinator.pid, r.stderr)
        c.close()
        c.coordinator = None
        self.assertEqual(self.dump(), before)
        # Nothing is created for a component in a file that does not exist.
        missing = os.path.join(self.tmp, "missing.db")
        r = hpt("track", "--experiment", "x", "--component", "c", "--db", missing, "--", "true")
        self.assertEqual(r.returncode, 2)
        self.assertFalse(os.path.exists(missing))
        # A manual spec is never submitted.
        manual = write_spec(self.tmp, """name: manual
objective: {metric: score, goal: maximize}
strategy: {type: manual}
trial: {command: ["true"]}
""", "manual.yaml")
        r = hpt("run", manual, "--db", self.db)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("strategy.type manual", r.stderr)
        self.assertEqual(self.dump(), before)

    def dump(self):
        rows = []
        for table in ("experiments", "trials", "trial_components", "metrics"):
            rows.append(sorted(map(repr, self.sql("SELECT * FROM " + table))))
        return rows

    def sql(self, query):
        import sqlite3
        con = sqlite3.connect("file:" + self.db + "?mode=ro", uri=True)
        try:
            return con.execute(query).fetchall()
        finally:
            con.close()

    def test_an_interrupted_run_is_failed_and_a_killed_one_is_closed_by_the_next_track(self):
        env_runs = os.path.join(self.tmp, "runs")
        base = [HPT, "track", "--db", self.db, "--work-dir", env_runs, "--experiment", "loop", "--",
                "python3", self.program, "0.5", "sleep"]
        # SIGINT: the command is stopped, its run recorded failed, and hpt track exits 128 + 2.
        p = subprocess.Popen(base, cwd=self.tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for("the run to start", lambda: self.sql("SELECT count(*) FROM metrics")[0][0] >= 3
                 if os.path.exists(self.db) else False, timeout=30)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 130, err)
        self.assertEqual(self.sql("SELECT status, reason FROM trials"),
                         [("failed", "hpt track was interrupted by signal 2")])
        # SIGKILL: nothing records the end; the next hpt track on the file does.
        p = subprocess.Popen(base, cwd=self.tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for("the second run to start", lambda: self.sql("SELECT count(*) FROM trials WHERE status = 'running'")
                 [0][0] == 1, timeout=30)
        time.sleep(0.3)
        p.kill()
        p.communicate(timeout=30)
        r = self.track("--experiment", "loop", "--", "true", check=True)
        self.assertIn("left running by an hpt track that was killed", r.stderr)
        self.assertEqual(self.sql("SELECT number, status FROM trials ORDER BY number"),
                         [(1, "failed"), (2, "failed"), (3, "completed")])
        self.assertEqual(self.sql("SELECT status FROM trial_components WHERE kind = 'run' ORDER BY id"),
                         [("failed",), ("lost",), ("completed",)])
        # A coordinator that opens the file leaves the manual experiment as it is.
        c = self.cluster
        c.db = self.db
        c.start_coordinator()
        status = json.loads(hpt("status", "loop", "--coordinator", c.endpoint, "--format", "json",
                                check=True).stdout)
        self.assertEqual(status["status"], "completed")

    def test_through_a_coordinator_a_run_outlives_a_coordinator_restart_and_a_killed_track_is_closed(self):
        c = self.cluster  # worker timeout 1.5 s: a tracked run's lease is three of them, 4.5 s
        c.db = self.db
        c.start_coordinator()
        runs = os.path.join(self.tmp, "runs")
        base = [HPT, "track", "--coordinator", c.endpoint, "--work-dir", runs, "--experiment", "slow",
                "--objective", "val_acc", "--"]
        p = subprocess.Popen(base + ["python3", self.slow, "40"], cwd=self.tmp, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        wait_for("the first points", lambda: self.sql("SELECT count(*) FROM metrics")[0][0] >= 3, timeout=30)
        # The coordinator dies mid-run and comes back on the same endpoint: the run goes on.
        c.coordinator.kill()
        c.coordinator.wait()
        time.sleep(1.0)
        c.start_coordinator(c.endpoint)
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 0, err)
        self.assertIn("completed, val_acc 0.4", err)
        self.assertEqual(self.sql("SELECT status, objective FROM trials"), [("completed", 0.4)])
        self.assertEqual(self.sql("SELECT step, value FROM metrics ORDER BY step"),
                         [(step, step / 100) for step in range(1, 41)])
        detail = json.loads(hpt("trial", "1", "--coordinator", c.endpoint, "--format", "json", check=True).stdout)
        run = [x for x in detail["components"] if x["kind"] == "run"][0]
        self.assertEqual(run["data"]["artifacts"][0]["sha256"], hashlib.sha256(b"slow" * 100).hexdigest())
        # A track killed outright sends nothing more: once its lease runs out, its run is lost.
        p = subprocess.Popen(base + ["python3", self.slow, "600"], cwd=self.tmp, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
        wait_for("the second run's points", lambda: self.sql("SELECT count(*) FROM metrics WHERE trial_id = 2")
                 [0][0] >= 2, timeout=30)
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate(timeout=30)
        wait_for("the lost run to be closed", lambda: self.sql("SELECT status FROM trials WHERE id = 2") ==
                 [("failed",)], timeout=30)
        self.assertEqual(self.sql("SELECT status, reason FROM trial_components WHERE kind = 'run' ORDER BY id"),
                         [("completed", ""), ("lost", "its hpt track stopped reporting for 4.5s")])


if __name__ == "__main__":
    unittest.main()
