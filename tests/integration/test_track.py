"""`hpt track` (issue 21, "Experiments run by hand") through the real binary and a real SQLite file:
three runs of a loop over configurations make one manual experiment with their params, metrics,
self-reported params and artifacts; the command's exit code is hpt track's; a killed or interrupted
track leaves a failed run, never a running one; bad input is refused with exit code 2 and nothing
written; a coordinator opening the file later leaves the manual experiment alone."""
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


class TrackTest(ClusterTest):
    def setUp(self):
        super().setUp()
        self.db = os.path.join(self.tmp, "track.db")
        self.program = os.path.join(self.tmp, "run.py")
        with open(self.program, "w") as f:
            f.write(RUN)

    def track(self, *args, check=False):
        return hpt("track", "--db", self.db, "--work-dir", os.path.join(self.tmp, "runs"), *args, check=check,
                   cwd=self.tmp)

    def detail(self, trial_id):
        return json.loads(hpt("trial", str(trial_id), "--db", self.db, "--format", "json", check=True).stdout)

    def test_three_runs_make_one_manual_experiment_with_their_metrics_params_and_artifacts(self):
        hpt("component", "create", "fmnist-v1", "--kind", "dataset", "--db", self.db, check=True)
        codes = []
        for lr, code in (("0.1", "0"), ("0.2", "0"), ("0.3", "3")):
            r = self.track("--experiment", "loop", "--objective", "val_acc", "--param", "lr=" + lr,
                           "--param", "optimizer=adam", "--component", "fmnist-v1", "--", "python3", self.program,
                           lr, code)
            codes.append(r.returncode)
            # Its output passes through, and it says where the run went.
            self.assertIn("params ", r.stdout)
            self.assertIn("hpt track: trial", r.stderr)
        self.assertEqual(codes, [0, 0, 3])
        self.assertEqual(self.sql("SELECT name, strategy, status FROM experiments"), [("loop", "manual", "completed")])
        trials = json.loads(hpt("trials", "loop", "--db", self.db, "--format", "json", check=True).stdout)
        self.assertEqual([t["status"] for t in trials], ["completed", "completed", "failed"])
        self.assertEqual([t["params"] for t in trials], [{"lr": 0.1, "optimizer": "adam"},
                                                          {"lr": 0.2, "optimizer": "adam"},
                                                          {"lr": 0.3, "optimizer": "adam"}])
        self.assertEqual([t["objective"] for t in trials], [0.1 * 3, 0.2 * 3, 0.3 * 3])
        self.assertEqual(trials[2]["reason"], "exit code 3")
        board = json.loads(hpt("leaderboard", "loop", "--db", self.db, "--format", "json", check=True).stdout)
        self.assertEqual([t["trial"] for t in board], [trials[1]["trial"], trials[0]["trial"]])
        for t, lr in zip(trials, (0.1, 0.2, 0.3)):
            d = self.detail(t["trial"])
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
        shown = json.loads(hpt("component", "show", "fmnist-v1", "--db", self.db, "--format", "json",
                               check=True).stdout)
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
            (["--experiment", "first", "--coordinator", "tcp://127.0.0.1:1", "--", "true"], "--coordinator"),
        ]
        for args, message in cases:
            r = hpt("track", *([] if "--coordinator" in args else ["--db", self.db]), *args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn(message, r.stderr)
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


if __name__ == "__main__":
    unittest.main()
