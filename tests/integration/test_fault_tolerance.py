"""Faults that must lose nothing: a coordinator killed with SIGKILL and restarted while trials run,
a full disk, a database file the coordinator may not write."""
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HPT, TRIAL, ClusterTest, full_disk_env, hpt, write_spec  # noqa: E402


class CoordinatorRestartTest(ClusterTest):
    def test_trials_keep_running_through_a_coordinator_restart_and_count_once(self):
        c = self.cluster
        c.start_coordinator()
        c.start_worker("w1", "--slots", "2")
        c.start_worker("w2", "--slots", "1")
        text = f"""
name: restart
objective: {{metric: score, goal: maximize}}
strategy: {{type: random, seed: 9}}
parameters:
  - {{name: x, type: float, min: -2.0, max: 4.0}}
  - {{name: y, type: float, min: 0.1, max: 10.0, scale: log}}
limits: {{max_trials: 6, max_parallel: 3}}
trial:
  command: [python3, {TRIAL}, "--x={{x}}", "--y={{y}}", "--steps=8", "--sleep=2.4"]
"""
        exp = c.submit(write_spec(self.tmp, text))
        deadline = time.time() + 30
        running = []
        while time.time() < deadline and len(running) < 3:
            running = c.query("SELECT id FROM trials WHERE status = 'running'")
            time.sleep(0.1)
        self.assertEqual(len(running), 3, "three trials should be running")
        time.sleep(0.5)
        c.coordinator.send_signal(signal.SIGKILL)
        c.coordinator.wait()
        time.sleep(1.0)  # the trials go on printing while no coordinator listens
        c.start_coordinator()
        final = c.wait_done(exp, timeout=120)
        self.assertEqual(final["status"], "completed", final)
        self.assertEqual(final["trials"]["completed"], 6)
        # The trials that were running carried on: one attempt each, completed.
        for (trial_id,) in running:
            runs = c.query("""SELECT rc.attempt, rc.status FROM trial_components rc
                              JOIN trial_component_links l ON l.component_id = rc.id
                              WHERE l.trial_id = ? AND rc.kind = 'run'""", trial_id)
            self.assertEqual(runs, [(1, "completed")], "trial %d was not carried on" % trial_id)
        # Nothing they reported was lost: every step 1..8 of every metric, exactly once.
        for (trial_id,) in c.query("SELECT id FROM trials"):
            steps = c.query("SELECT step FROM metrics WHERE trial_id = ? AND name = 'score' ORDER BY step",
                            trial_id)
            self.assertEqual([s for (s,) in steps], list(range(1, 9)), "trial %d" % trial_id)
        self.assertEqual(c.query("PRAGMA integrity_check"), [("ok",)])

    def test_a_full_disk_pauses_dispatch_with_a_clear_error_and_loses_nothing(self):
        c = self.cluster
        # The disk fills up mid-experiment: hpt-full-disk (programs/full_disk.c), preloaded into the
        # coordinator, fails every write to the store's files with ENOSPC while `trigger` exists,
        # so SQLite says "database or disk is full" as on a real full disk.
        trigger = os.path.join(self.tmp, "disk-is-full")
        c.start_coordinator(None, env=full_disk_env(c.db, trigger))
        c.start_worker("w1", "--slots", "2")
        text = f"""
name: full
objective: {{metric: score, goal: maximize}}
strategy: {{type: random, seed: 2}}
parameters:
  - {{name: x, type: float, min: -2.0, max: 4.0}}
  - {{name: y, type: float, min: 0.1, max: 10.0, scale: log}}
limits: {{max_trials: 30, max_parallel: 2}}
trial:
  command: [python3, {TRIAL}, "--x={{x}}", "--y={{y}}", "--steps=20", "--sleep=0.2"]
"""
        exp = c.submit(write_spec(self.tmp, text))
        # Full once a trial has completed, while others run and report.
        deadline = time.time() + 60
        while time.time() < deadline and not c.query("SELECT id FROM trials WHERE status = 'completed'"):
            time.sleep(0.1)
        self.assertTrue(c.query("SELECT id FROM trials WHERE status = 'completed'"), "no trial completed")
        with open(trigger, "w"):
            pass
        deadline = time.time() + 60
        refused = None
        while time.time() < deadline:
            r = hpt("status", exp, "--coordinator", c.endpoint, "--format", "json")
            if r.returncode != 0:
                refused = r
                break
            time.sleep(0.2)
        self.assertIsNotNone(refused, "the full disk never refused a write")
        self.assertEqual(refused.returncode, 1)
        self.assertIn("refuses writes", refused.stderr)
        self.assertIn("database or disk is full", refused.stderr)
        log_path = os.path.join(self.tmp, "coordinator.log")
        with open(log_path) as f:
            self.assertIn("Dispatch is paused", f.read())
        # The pause holds while the disk is still full: every retry's probe fails.
        deadline = time.time() + 20
        log = ""
        while time.time() < deadline and "still refuses writes" not in log:
            time.sleep(0.2)
            with open(log_path) as f:
                log = f.read()
        self.assertIn("still refuses writes", log)
        self.assertNotIn("accepts writes again", log)
        self.assertEqual(c.query("PRAGMA integrity_check"), [("ok",)])
        # Space comes back: the same coordinator's next retry resumes dispatch, the experiment
        # finishes, and every trial has all its metric points and one accepted result.
        os.unlink(trigger)
        deadline = time.time() + 30
        while time.time() < deadline and "accepts writes again" not in log:
            time.sleep(0.2)
            with open(log_path) as f:
                log = f.read()
        self.assertIn("accepts writes again", log)
        final = c.wait_done(exp, timeout=120)
        self.assertEqual(final["status"], "completed", final)
        self.assertEqual(final["trials"]["completed"], 30, final)
        for (trial_id,) in c.query("SELECT id FROM trials"):
            steps = c.query("SELECT step FROM metrics WHERE trial_id = ? AND name = 'score' ORDER BY step", trial_id)
            runs = c.query("""SELECT COUNT(*) FROM trial_components rc JOIN trial_component_links l
                              ON l.component_id = rc.id WHERE l.trial_id = ? AND rc.kind = 'run'
                              AND rc.status = 'completed'""", trial_id)
            self.assertEqual(runs, [(1,)], "trial %d" % trial_id)
            self.assertEqual([s for (s,) in steps], list(range(1, 21)), "trial %d" % trial_id)
        self.assertEqual(c.query("PRAGMA integrity_check"), [("ok",)])


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class ReadOnlyStoreTest(ClusterTest):
    def test_a_read_only_database_file_is_refused_at_start_with_a_clear_error(self):
        c = self.cluster
        c.start_coordinator()  # makes the store
        c.coordinator.send_signal(signal.SIGTERM)
        c.coordinator.wait(timeout=30)
        os.chmod(c.db, 0o444)
        before = digest(c.db)
        command = [HPT, "coordinator", "--bind", "tcp://127.0.0.1:0", "--db", c.db]
        if os.geteuid() == 0:
            # Root writes read-only files anyway: run as nobody, from a copy of the binary that
            # nobody may execute wherever this checkout lives.
            os.chmod(self.tmp, 0o777)
            binary = os.path.join(self.tmp, "hpt")
            shutil.copy(shutil.which(HPT) or HPT, binary)
            os.chmod(binary, 0o755)
            command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", binary, *command[1:]]
        r = subprocess.run(command, capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("listening", r.stdout)
        self.assertIn("read-only", r.stderr)
        self.assertIn(c.db, r.stderr)
        self.assertEqual(digest(c.db), before)
        # Readers are not writers: the file still answers queries.
        listing = hpt("status", "--db", c.db, check=True)
        self.assertEqual(listing.returncode, 0)


if __name__ == "__main__":
    unittest.main()
