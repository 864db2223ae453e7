"""Workers on a real Slurm: munged, slurmctld and slurmd on this machine (slurm_cluster.py), and
`hpt run SPEC --slurm 2` submitting its workers as a job array there. One array task is cancelled
with scancel while it runs a trial: the trial must rerun on the other worker, uncharged, and every
trial must be counted exactly once. Skipped, with the reason, where the daemons cannot start."""
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HPT, TRIAL, hpt, write_spec  # noqa: E402
from slurm_cluster import SlurmCluster, Unavailable  # noqa: E402


def query(db, sql, *args):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        return con.execute(sql, args).fetchall()
    except sqlite3.OperationalError:
        return []  # not created yet
    finally:
        con.close()


class SlurmTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="hpt-slurm-")
        self.tmp = self._tmp.name
        os.chmod(self.tmp, 0o755)  # slurmd reads the config, the job's output goes here
        self.slurm = SlurmCluster(self.tmp)
        try:
            self.slurm.start()
        except Unavailable as e:
            self.slurm.stop()
            self._tmp.cleanup()
            print("SKIP: a real Slurm cannot run here: %s" % e, flush=True)
            self.skipTest("a real Slurm cannot run here: %s" % e)
        print("single-node Slurm up: node %s, config %s" % (self.slurm.node, self.slurm.conf), flush=True)

    def tearDown(self):
        try:
            self.slurm.stop()
        finally:
            self._tmp.cleanup()

    def dump(self, *paths):
        for path in paths:
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    print("==== %s (last 60 lines)\n%s" % (path, "".join(f.readlines()[-60:])))

    def test_run_on_two_slurm_workers_survives_a_cancelled_array_task_and_counts_each_trial_once(self):
        db = os.path.join(self.tmp, "hpt.db")
        runs = os.path.join(self.tmp, "runs")
        spec = write_spec(self.tmp, f"""
name: slurm20
objective: {{metric: score, goal: maximize}}
strategy: {{type: random, seed: 5}}
parameters:
  - {{name: x, type: float, min: -2.0, max: 4.0}}
  - {{name: y, type: float, min: 0.1, max: 10.0, scale: log}}
limits: {{max_trials: 20, max_parallel: 2}}
trial:
  command: [python3, {TRIAL}, "--x={{x}}", "--y={{y}}", "--steps=4", "--sleep=1.6"]
""")
        err_path = os.path.join(self.tmp, "run.err")
        with open(err_path, "w") as err:
            run = subprocess.Popen([HPT, "run", spec, "--slurm", "2", "--db", db, "--work-dir", runs,
                                    "--time", "10", "--log-level", "info"],
                                   stdout=subprocess.PIPE, stderr=err, text=True, env=self.slurm.env(), cwd=self.tmp)
        try:
            # The job id, from the line hpt run prints once it has submitted the array.
            job = None
            deadline = time.time() + 30
            while job is None and time.time() < deadline and run.poll() is None:
                with open(err_path) as f:
                    m = re.search(r"Slurm worker\(s\) in job (\d+)", f.read())
                job = m.group(1) if m else None
                time.sleep(0.2)
            self.assertIsNotNone(job, "hpt run did not submit a job array")
            print("hpt run submitted job array %s" % job, flush=True)

            # Wait for array task 1's worker to run a trial, then cancel that task alone.
            victim_worker = "slurm-%s_1" % job
            victim = None
            deadline = time.time() + 45
            while victim is None and time.time() < deadline and run.poll() is None:
                rows = query(db, """SELECT l.trial_id FROM trial_components c
                                    JOIN trial_component_links l ON l.component_id = c.id
                                    WHERE c.kind = 'run' AND c.status = 'running' AND c.worker = ?""", victim_worker)
                victim = rows[0][0] if rows else None
                time.sleep(0.1)
            self.assertIsNotNone(victim, "no trial ran on %s; squeue: %s" % (victim_worker, self.slurm.jobs(job)))
            time.sleep(0.4)  # mid-trial: it has reported a step or so
            r = self.slurm.run("scancel", "%s_1" % job)
            self.assertEqual(r.returncode, 0, r.stderr)
            print("scancel %s_1 while it ran trial %d" % (job, victim), flush=True)

            out, _ = run.communicate(timeout=120)
        finally:
            if run.poll() is None:
                run.terminate()
                run.wait(timeout=30)
        with open(err_path) as f:
            err_text = f.read()
        if run.returncode != 0:
            self.dump(err_path, *[os.path.join(d, n) for d in [os.path.join(runs)] if os.path.isdir(d)
                                  for n in os.listdir(d)])
            for root, _, files in os.walk(runs):
                for n in files:
                    if n.startswith("hpt-worker-"):
                        self.dump(os.path.join(root, n))
        self.assertEqual(run.returncode, 0, err_text[-3000:])
        print(err_text[-1500:], flush=True)
        print(out, flush=True)

        # 20 completed trials, each with exactly one completed attempt, whose every step is recorded
        # once; the objective is that attempt's last value.
        self.assertEqual(query(db, "SELECT status, COUNT(*) FROM trials GROUP BY status"), [("completed", 20)])
        for trial_id, objective in query(db, "SELECT id, objective FROM trials"):
            done = query(db, """SELECT c.attempt FROM trial_components c JOIN trial_component_links l
                                ON l.component_id = c.id WHERE l.trial_id = ? AND c.kind = 'run'
                                AND c.status = 'completed'""", trial_id)
            self.assertEqual(len(done), 1, "trial %d" % trial_id)
            steps = query(db, """SELECT step, COUNT(*) FROM metrics WHERE trial_id = ? AND name = 'score'
                                 AND attempt = ? GROUP BY step ORDER BY step""", trial_id, done[0][0])
            self.assertEqual(steps, [(s, 1) for s in range(1, 5)], "trial %d" % trial_id)
            last = query(db, """SELECT value FROM metrics WHERE trial_id = ? AND name = 'score' AND attempt = ?
                                AND step = 4""", trial_id, done[0][0])
            self.assertAlmostEqual(last[0][0], objective)
        # The cancelled task's trial was handed back uncharged and rerun on the other worker.
        attempts = query(db, """SELECT c.attempt, c.status, c.worker FROM trial_components c
                                JOIN trial_component_links l ON l.component_id = c.id
                                WHERE l.trial_id = ? AND c.kind = 'run' ORDER BY c.attempt""", victim)
        print("trial %d attempts: %s" % (victim, attempts), flush=True)
        victim_log = os.path.join(runs, [d for d in os.listdir(runs) if d.startswith("slurm-")][0],
                                  "hpt-worker-%s_1.out" % job)
        with open(victim_log, errors="replace") as f:
            print("what the cancelled worker said:\n" + "".join(
                line for line in f if re.search(r"trial %d |SIGTERM|shutting|stop|handed" % victim, line)), flush=True)
        self.assertEqual(attempts[0][1:], ("handed_back", victim_worker))
        self.assertEqual(attempts[-1][1:], ("completed", "slurm-%s_0" % job))
        self.assertEqual(query(db, "SELECT retries_used FROM trials WHERE id = ?", victim), [(0,)])
        # Only the victim's task was cancelled mid-trial: nothing else was handed back or lost.
        others = query(db, """SELECT l.trial_id, c.status FROM trial_components c
                              JOIN trial_component_links l ON l.component_id = c.id
                              WHERE c.kind = 'run' AND c.status NOT IN ('completed', 'handed_back')""")
        self.assertEqual(others, [])
        self.assertIn("cancelled Slurm job %s" % job, err_text)
        # The array is gone: hpt run cancelled it as it ended.
        deadline = time.time() + 30
        while self.slurm.jobs(job) and time.time() < deadline:
            time.sleep(0.5)
        self.assertEqual(self.slurm.jobs(job), [], "the job array outlived hpt run")
        # The run's keys: a private dir, private files.
        key_dirs = [d for d in os.listdir(runs) if d.startswith("slurm-")]
        self.assertEqual(len(key_dirs), 1)
        key_dir = os.path.join(runs, key_dirs[0])
        self.assertEqual(os.stat(key_dir).st_mode & 0o777, 0o700)
        for name in ("coordinator.pub", "worker.key", "worker.pub"):
            self.assertEqual(os.stat(os.path.join(key_dir, name)).st_mode & 0o777, 0o600, name)

    def test_slurm_workers_submits_an_array_that_serves_a_coordinator(self):
        db = os.path.join(self.tmp, "hpt.db")
        coord_log = open(os.path.join(self.tmp, "coordinator.log"), "w")
        coordinator = subprocess.Popen([HPT, "coordinator", "--bind", "tcp://127.0.0.1:0", "--db", db],
                                       stdout=subprocess.PIPE, stderr=coord_log, text=True)
        job = None
        try:
            endpoint = coordinator.stdout.readline().split()[-1]
            r = subprocess.run([HPT, "slurm", "workers", "--connect", endpoint, "--count", "1",
                                "--work-dir", os.path.join(self.tmp, "runs"), "--time", "5"],
                               capture_output=True, text=True, env=self.slurm.env(), cwd=self.tmp, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            job = r.stdout.strip()
            self.assertRegex(job, r"^\d+$")
            spec = write_spec(self.tmp, f"""
name: slurm3
objective: {{metric: score, goal: maximize}}
strategy: {{type: random, seed: 1}}
parameters:
  - {{name: x, type: float, min: -2.0, max: 4.0}}
  - {{name: y, type: float, min: 0.1, max: 10.0}}
limits: {{max_trials: 3, max_parallel: 1}}
trial:
  command: [python3, {TRIAL}, "--x={{x}}", "--y={{y}}"]
""")
            exp = subprocess.run([HPT, "submit", spec, "--coordinator", endpoint], capture_output=True, text=True,
                                 check=True).stdout.strip()
            deadline = time.time() + 60
            status = None
            while time.time() < deadline:
                status = query(db, "SELECT status FROM experiments WHERE id = ?", int(exp))
                if status and status[0][0] != "running":
                    break
                time.sleep(0.3)
            self.assertEqual(status, [("completed",)])
            workers = query(db, "SELECT DISTINCT worker FROM trial_components WHERE kind = 'run'")
            self.assertEqual(workers, [("slurm-%s_0" % job,)])
        finally:
            if job:
                self.slurm.run("scancel", job)
            coordinator.terminate()
            coordinator.wait(timeout=30)
            coordinator.stdout.close()
            coord_log.close()


class SlurmCliTest(unittest.TestCase):
    """What needs no Slurm: the batch script as --dry-run prints it, and bad input refused by name."""

    def test_dry_run_prints_the_batch_script_that_execs_this_hpt(self):
        with tempfile.TemporaryDirectory() as tmp:
            r = hpt("slurm", "workers", "--connect", "tcp://10.0.0.1:5555", "--count", "3", "--gpus-per-worker", "1",
                    "--time", "30", "--sbatch-arg=--account=ml", "--work-dir", os.path.join(tmp, "runs"), "--dry-run",
                    check=True)
            lines = r.stdout.splitlines()
            self.assertEqual(lines[0], "#!/bin/bash")
            self.assertIn("#SBATCH --array=0-2", lines)
            self.assertIn("#SBATCH --gres=gpu:1", lines)
            self.assertIn("#SBATCH --account=ml", lines)
            self.assertTrue(lines[-1].startswith("exec '%s' worker --connect 'tcp://10.0.0.1:5555' --gpus auto "
                                                 % os.path.realpath(HPT)), lines[-1])
            self.assertFalse(os.path.exists(os.path.join(tmp, "runs")), "a dry run creates nothing")

    def test_bad_input_exits_2_naming_the_flag(self):
        with tempfile.TemporaryDirectory() as tmp:
            spec = write_spec(tmp, f"""
name: s
objective: {{metric: score, goal: maximize}}
strategy: {{type: random}}
parameters:
  - {{name: x, type: float, min: 0.0, max: 1.0}}
limits: {{max_trials: 1}}
trial:
  command: [python3, {TRIAL}, "--x={{x}}"]
  resources: {{gpus: 1}}
""")
            workers = ["slurm", "workers", "--connect", "tcp://10.0.0.1:5555"]
            cases = [
                (workers + ["--count", "0"], "--count"),
                (workers + ["--count", "two"], "--count"),
                (workers + ["--count", "1", "--gpus-per-worker", "-1"], "--gpus-per-worker"),
                (workers + ["--count", "1", "--time", "1h"], "--time"),
                (workers + ["--count", "1", "--partition", "a b"], "--partition"),
                (workers + ["--count", "1", "--sbatch-arg", "account=ml"], "--sbatch-arg"),
                (workers + ["--count", "1", "--curve", os.path.join(tmp, "nokeys")], "--curve"),
                (["slurm", "workers", "--connect", "localhost:5555", "--count", "1"], "--connect"),
                (["slurm", "bogus"], "slurm bogus"),
                (["run", spec, "--slurm", "0"], "--slurm"),
                (["run", spec, "--slurm", "1", "--workers", "2"], "--workers"),
                (["run", spec, "--gpus-per-worker", "1"], "--gpus-per-worker"),
                (["run", spec, "--slurm", "1", "--time", "soon"], "--time"),
                (["run", spec, "--slurm", "1"], "--gpus-per-worker"),  # the spec's trials need a GPU
            ]
            for args, flag in cases:
                with self.subTest(args=args):
                    r = hpt(*args, cwd=tmp)
                    self.assertEqual(r.returncode, 2, r.stderr)
                    self.assertIn(flag, r.stderr)
            self.assertFalse(os.path.exists(os.path.join(tmp, "hpt.db")), "refused before the store was touched")


if __name__ == "__main__":
    unittest.main()
