"""Issue 15, the command line's part: one store has one writer, `hpt run` runs its own experiment only,
files are private, requests are bounded, and every flag is checked (real processes, real files)."""
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HPT, TRIAL, ClusterTest, hpt, write_spec  # noqa: E402


def spec_text(name, mode="ok", trials=2, extra=""):
    return f"""name: {name}
objective: {{metric: score, goal: maximize}}
strategy: {{type: random, seed: 1}}
parameters:
  - {{name: x, type: float, min: -2.0, max: 4.0}}
limits: {{max_trials: {trials}, max_parallel: 1}}
trial:
  command: [python3, {TRIAL}, "--x={{x}}", "--mode={mode}", "--steps=2"]
{extra}"""


def run_hpt(*args, env=None, umask=None, timeout=60, cwd=None):
    """Like harness.hpt, with extra environment variables and a umask for the child."""
    full_env = dict(os.environ, **(env or {}))
    preexec = (lambda: os.umask(umask)) if umask is not None else None
    return subprocess.run([HPT, *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          env=full_env, preexec_fn=preexec)


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def rows(db, sql, *args):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


class OneWriterTest(ClusterTest):
    def test_a_second_writer_of_a_store_is_refused_at_once_naming_the_file_and_the_holder(self):
        c = self.cluster
        holder = c.start_coordinator()
        quick = write_spec(self.tmp, spec_text("quick"))
        before = rows(c.db, "SELECT COUNT(*) FROM experiments")

        r = hpt("run", quick, "--db", c.db, "--workers", "1", "--work-dir", os.path.join(self.tmp, "runs"),
                timeout=30, cwd=self.tmp)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("database '%s' is in use by another writer" % c.db, r.stderr)
        self.assertIn("pid %d on host " % holder.pid, r.stderr)

        r = hpt("coordinator", "--bind", "tcp://127.0.0.1:0", "--db", c.db, timeout=30)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertNotIn("listening", r.stdout)
        self.assertIn(c.db, r.stderr)
        self.assertIn("pid %d" % holder.pid, r.stderr)

        # Nothing was created by the refused writers; readers still read, and the holder serves on.
        self.assertEqual(rows(c.db, "SELECT COUNT(*) FROM experiments"), before)
        self.assertEqual(json.loads(hpt("status", "--db", c.db, "--format", "json", check=True).stdout), [])
        exp = c.submit(quick)
        self.assertEqual(c.status(exp)["name"], "quick")

    def test_a_writer_killed_with_sigkill_does_not_block_the_next_one(self):
        c = self.cluster
        c.start_coordinator()
        c.coordinator.send_signal(signal.SIGKILL)
        c.coordinator.wait()
        # The killed writer's lock file is left behind, but the lock was the kernel's and went with it.
        self.assertTrue(os.path.exists(c.db + ".lock"))
        c.start_coordinator()
        self.assertEqual(json.loads(hpt("status", "--coordinator", c.endpoint, "--format", "json",
                                        check=True).stdout), [])
        # A writer that stops cleanly removes it.
        c.coordinator.send_signal(signal.SIGTERM)
        c.coordinator.wait(timeout=30)
        self.assertFalse(os.path.exists(c.db + ".lock"))


class LeftRunningTest(ClusterTest):
    def test_hpt_run_runs_only_its_own_experiment_and_names_those_left_running(self):
        db = os.path.join(self.tmp, "runs.db")
        work = os.path.join(self.tmp, "runs")
        slow = write_spec(self.tmp, spec_text("slow", mode="hang"), "slow.yaml")
        quick = write_spec(self.tmp, spec_text("quick"), "quick.yaml")
        log = open(os.path.join(self.tmp, "slow-run.log"), "w")
        self.addCleanup(log.close)
        first = subprocess.Popen([HPT, "run", slow, "--db", db, "--workers", "1", "--work-dir", work],
                                 stdout=log, stderr=log, cwd=self.tmp, start_new_session=True)
        self.addCleanup(lambda: first.poll() is None and (first.kill(), first.wait()))
        deadline = time.time() + 60
        while True:
            try:
                if rows(db, "SELECT COUNT(*) FROM trials WHERE status = 'running'") == [(1,)]:
                    break
            except sqlite3.Error:
                pass  # not created yet
            self.assertLess(time.time(), deadline, "the slow run never started a trial")
            time.sleep(0.1)

        # Two `hpt run` on one --db: the second is refused while the first runs.
        r = hpt("run", quick, "--db", db, "--workers", "1", "--work-dir", work, timeout=30, cwd=self.tmp)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("pid %d" % first.pid, r.stderr)

        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        (old_id,) = rows(db, "SELECT id FROM experiments WHERE name = 'slow'")[0]
        old_trials = rows(db, "SELECT * FROM trials WHERE experiment_id = ? ORDER BY id", old_id)
        old_components = rows(db, "SELECT * FROM trial_components WHERE experiment_id = ? ORDER BY id", old_id)
        self.assertEqual([t[3] for t in old_trials], ["running"])

        r = hpt("run", quick, "--db", db, "--workers", "1", "--work-dir", work, timeout=120, cwd=self.tmp)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("has 1 experiment(s) left running by a process that stopped: %d 'slow'" % old_id, r.stderr)
        self.assertIn("hpt coordinator --db " + db, r.stderr)
        self.assertIn("hpt cancel EXP", r.stderr)
        # Its own experiment ran to the end; the old one is exactly as the killed run left it.
        self.assertEqual(rows(db, "SELECT name, status FROM experiments ORDER BY id"),
                         [("slow", "running"), ("quick", "completed")])
        self.assertEqual(rows(db, "SELECT * FROM trials WHERE experiment_id = ? ORDER BY id", old_id), old_trials)
        self.assertEqual(rows(db, "SELECT * FROM trial_components WHERE experiment_id = ? ORDER BY id", old_id),
                         old_components)


class PrivateFilesTest(ClusterTest):
    def test_a_new_store_its_wal_shm_and_lock_file_are_0600_even_with_umask_0(self):
        db = os.path.join(self.tmp, "private.db")
        log = open(os.path.join(self.tmp, "coordinator.log"), "w")
        self.addCleanup(log.close)
        proc = subprocess.Popen([HPT, "coordinator", "--bind", "tcp://127.0.0.1:0", "--db", db],
                                stdout=subprocess.PIPE, stderr=log, text=True, preexec_fn=lambda: os.umask(0))
        self.addCleanup(proc.stdout.close)
        try:
            self.assertTrue(proc.stdout.readline().startswith("hpt coordinator listening on "))
            for path in (db, db + "-wal", db + "-shm", db + ".lock"):
                self.assertEqual(oct(mode_of(path)), oct(0o600), path)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)

    def test_keygen_creates_the_secret_0600_and_the_public_0644_whatever_the_umask(self):
        keys = os.path.join(self.tmp, "keys")
        r = run_hpt("keygen", "client", "--dir", keys, umask=0)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(oct(mode_of(os.path.join(keys, "client.key"))), oct(0o600))
        self.assertEqual(oct(mode_of(os.path.join(keys, "client.pub"))), oct(0o644))
        self.assertIn("clients/ (a client) or workers/ (a worker)", r.stderr)

    def test_keygen_refuses_a_symlink_planted_at_the_secret_key_path(self):
        keys = os.path.join(self.tmp, "keys")
        os.makedirs(keys)
        target = os.path.join(self.tmp, "stolen")
        os.symlink(target, os.path.join(keys, "client.key"))  # dangling: the target does not exist yet
        r = hpt("keygen", "client", "--dir", keys)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("client.key' exists (a symbolic link); not overwriting it", r.stderr)
        self.assertFalse(os.path.exists(target))
        self.assertFalse(os.path.exists(os.path.join(keys, "client.pub")))


class BoundedSpecTest(ClusterTest):
    def test_a_spec_over_1_mib_is_refused_by_validate_submit_and_run_before_anything_is_stored(self):
        c = self.cluster
        c.start_coordinator()
        big = write_spec(self.tmp, spec_text("big", extra='static: {blob: "%s"}\n' % ("x" * (2 << 20))), "big.yaml")
        run_db = os.path.join(self.tmp, "big.db")
        for cmd in (["validate", big], ["submit", big, "--coordinator", c.endpoint], ["run", big, "--db", run_db]):
            r = hpt(*cmd, timeout=30, cwd=self.tmp)
            self.assertEqual(r.returncode, 2, (cmd, r.stdout, r.stderr[:500]))
            self.assertIn(big + ": the spec is", r.stderr)
            self.assertIn("more than the 1 MiB (1048576 bytes) a spec may be", r.stderr)
        self.assertFalse(os.path.exists(run_db))
        self.assertEqual(c.query("SELECT COUNT(*) FROM experiments"), [(0,)])


class InputChecksTest(ClusterTest):
    def assertBadInput(self, r, *needles):
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        for needle in needles:
            self.assertIn(needle, r.stderr)

    def test_every_numeric_flag_and_log_level_out_of_range_is_refused_naming_the_flag(self):
        spec = write_spec(self.tmp, spec_text("flags"))
        db = os.path.join(self.tmp, "flags.db")
        coordinator = ["coordinator", "--bind", "tcp://127.0.0.1:0", "--db", db]
        worker = ["worker", "--connect", "tcp://127.0.0.1:9", "--work-dir", os.path.join(self.tmp, "runs")]
        cases = [
            (["run", spec, "--db", db, "--workers", "0"], "--workers"),
            (["run", spec, "--db", db, "--workers", "-1"], "--workers"),
            (["run", spec, "--db", db, "--top", "-5"], "--top"),
            (["run", spec, "--db", db, "--slots-per-gpu", "0"], "--slots-per-gpu"),
            (["run", spec, "--db", db, "--log-level", "bogus"], "--log-level"),
            (["leaderboard", "flags", "--db", db, "--top", "-5"], "--top"),
            (coordinator + ["--heartbeat-ms", "0"], "--heartbeat-ms"),
            (coordinator + ["--heartbeat-ms", "-5"], "--heartbeat-ms"),
            (coordinator + ["--worker-timeout-ms", "-1"], "--worker-timeout-ms"),
            (coordinator + ["--heartbeat-ms", "500", "--worker-timeout-ms", "500"], "--worker-timeout-ms"),
            (coordinator + ["--log-level", "bogus"], "--log-level"),
            (worker + ["--kill-grace", "-1"], "--kill-grace"),
            (worker + ["--slots", "0"], "--slots"),
            (worker + ["--slots-per-gpu", "0"], "--slots-per-gpu"),
            (worker + ["--log-level", "bogus"], "--log-level"),
        ]
        for args, flag in cases:
            with self.subTest(" ".join(args[:1] + args[-2:])):
                self.assertBadInput(hpt(*args, timeout=20, cwd=self.tmp), flag)
        self.assertFalse(os.path.exists(db))
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "runs")))

    def test_a_malformed_client_timeout_variable_is_refused_naming_it(self):
        spec = write_spec(self.tmp, spec_text("timeout"))
        db = os.path.join(self.tmp, "timeout.db")
        for args in (["status", "--coordinator", "tcp://127.0.0.1:9"], ["run", spec, "--db", db]):
            with self.subTest(args[0]):
                r = run_hpt(*args, env={"HPT_CLIENT_TIMEOUT_MS": "abc"}, timeout=20, cwd=self.tmp)
                self.assertBadInput(r, "HPT_CLIENT_TIMEOUT_MS", "'abc'")
        self.assertFalse(os.path.exists(db))

    def test_export_refuses_the_table_format_and_db_with_coordinator_is_refused(self):
        db = os.path.join(self.tmp, "none.db")
        self.assertBadInput(hpt("export", "x", "--db", db, "--format", "table"), "--format", "table")
        self.assertBadInput(hpt("status", "--db", db, "--coordinator", "tcp://127.0.0.1:9"), "--db", "--coordinator")
        self.assertFalse(os.path.exists(db))

    def test_a_missing_spec_file_is_bad_input_naming_the_path(self):
        missing = os.path.join(self.tmp, "missing.yaml")
        db = os.path.join(self.tmp, "m.db")
        for cmd in (["validate", missing], ["submit", missing, "--coordinator", "tcp://127.0.0.1:9"],
                    ["run", missing, "--db", db]):
            with self.subTest(cmd[0]):
                self.assertBadInput(hpt(*cmd, timeout=20), "cannot read spec '%s'" % missing)
        self.assertFalse(os.path.exists(db))

    def test_help_prints_the_commands_and_an_unknown_command_is_named(self):
        r = hpt("help", check=True)
        for command in ("run", "coordinator", "worker", "leaderboard", "keygen"):
            self.assertIn("  " + command + " ", r.stdout)
        self.assertIn("--workers", hpt("help", "run", check=True).stdout)
        self.assertBadInput(hpt("bogus"), "unknown command 'bogus'")
        self.assertBadInput(hpt("help", "bogus"), "unknown command 'bogus'")

    def test_a_bad_bind_endpoint_is_refused_before_the_store_is_touched(self):
        db = os.path.join(self.tmp, "bind.db")
        for endpoint in ("foo", "tcp://127.0.0.1", "tcp://127.0.0.1:port", "tcp://127.0.0.1:70000"):
            with self.subTest(endpoint):
                for extra in ([], ["--insecure"]):
                    r = hpt("coordinator", "--bind", endpoint, "--db", db, *extra, timeout=20)
                    self.assertBadInput(r, "bad endpoint '%s'" % endpoint)
        self.assertFalse(os.path.exists(db))

    def test_a_coordinator_bound_to_localhost_listens_on_127_0_0_1(self):
        c = self.cluster
        c.start_coordinator("tcp://localhost:0")
        self.assertTrue(c.endpoint.startswith("tcp://127.0.0.1:"), c.endpoint)
        self.assertEqual(c.status(c.submit(write_spec(self.tmp, spec_text("local"))))["name"], "local")

    def test_status_on_a_directory_says_so_and_on_a_missing_file_creates_nothing(self):
        folder = os.path.join(self.tmp, "folder")
        os.makedirs(folder)
        self.assertBadInput(hpt("status", "--db", folder), "'%s' is a directory" % folder)
        self.assertEqual(os.listdir(folder), [])
        missing = os.path.join(self.tmp, "missing.db")
        r = hpt("status", "--db", missing)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("no database at '%s'" % missing, r.stderr)
        self.assertEqual(sorted(os.listdir(self.tmp)), ["folder"])

    def test_hpt_run_refuses_a_spec_needing_more_gpus_than_its_slots_have(self):
        spec = write_spec(self.tmp, spec_text("gpus").replace("--steps=2\"]", "--steps=2\"]\n  resources: {gpus: 2}"))
        db = os.path.join(self.tmp, "gpus.db")
        for gpus in ("none", "0"):
            with self.subTest(gpus):
                r = hpt("run", spec, "--db", db, "--gpus", gpus, timeout=30, cwd=self.tmp)
                self.assertBadInput(r, "trial.resources.gpus is 2", "(--gpus %s)" % gpus, "could ever start")
        self.assertFalse(os.path.exists(db))

    def test_experiment_names_that_read_as_ids_or_options_are_refused_with_the_rule(self):
        for name, rule in (('"2024"', "must not be all digits"), ('"-x"', "must not start with '-'")):
            with self.subTest(name):
                path = write_spec(self.tmp, spec_text(name))
                self.assertBadInput(hpt("validate", path), path + ":1:", "name", rule)


if __name__ == "__main__":
    unittest.main()
