"""Real processes for integration tests: a coordinator, workers, the CLI, a SQLite file."""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
import unittest

HPT = os.environ.get("HPT_BIN", "hpt")
# The shim that fills a disk on demand (programs/full_disk.c); ctest says where it was built.
FULL_DISK_LIB = os.environ.get("HPT_FULL_DISK_LIB")
HERE = os.path.dirname(os.path.abspath(__file__))
TRIAL = os.path.join(HERE, "programs", "trial.py")
REPO = os.path.dirname(os.path.dirname(HERE))


def full_disk_env(path, trigger):
    """The environment for a process whose writes to files named PATH... (PATH, PATH-wal, PATH-shm,
    PATH.lock) fail with ENOSPC, as on a full disk, while the file TRIGGER exists."""
    if not FULL_DISK_LIB or not os.path.exists(FULL_DISK_LIB):
        raise AssertionError("HPT_FULL_DISK_LIB must name the built hpt-full-disk.so (ctest sets it), not %r"
                             % FULL_DISK_LIB)
    env = dict(os.environ)
    env["LD_PRELOAD"] = " ".join(filter(None, [FULL_DISK_LIB, env.get("LD_PRELOAD")]))
    env["HPT_FULL_DISK_PATH"] = os.path.realpath(path)
    env["HPT_FULL_DISK_TRIGGER"] = trigger
    # An ASan build wants its runtime first among the libraries loaded; the shim comes first.
    env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"), "verify_asan_link_order=0"]))
    return env


def wait_for(what, predicate, timeout=30, interval=0.05):
    """predicate()'s first truthy value, polled every `interval` s; AssertionError naming `what`
    after `timeout` s."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out waiting for " + what)


def hpt(*args, check=False, timeout=60, cwd=None):
    """Runs the hpt CLI; returns CompletedProcess with text stdout/stderr."""
    r = subprocess.run([HPT, *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=cwd)
    if check and r.returncode != 0:
        raise AssertionError(f"hpt {' '.join(map(str, args))} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r


class Cluster:
    """A coordinator on tcp loopback (any free port) and workers, as separate processes."""

    def __init__(self, tmp, heartbeat_ms=200, worker_timeout_ms=1500):
        self.tmp = tmp
        self.db = os.path.join(tmp, "hpt.db")
        self.heartbeat_ms = heartbeat_ms
        self.worker_timeout_ms = worker_timeout_ms
        self.coordinator = None
        self.endpoint = None
        self.workers = {}
        self.logs = []

    def start_coordinator(self, endpoint=None, *extra, env=None):
        """Starts (or restarts, on the same endpoint) the coordinator, in `env` when given."""
        log = open(os.path.join(self.tmp, "coordinator.log"), "a")
        self.logs.append(log)
        if self.coordinator and self.coordinator.stdout:
            self.coordinator.stdout.close()
        self.coordinator = subprocess.Popen(
            [HPT, "coordinator", "--bind", endpoint or self.endpoint or "tcp://127.0.0.1:0", "--db", self.db,
             "--heartbeat-ms", str(self.heartbeat_ms), "--worker-timeout-ms", str(self.worker_timeout_ms),
             "--log-level", "debug", *extra],
            stdout=subprocess.PIPE, stderr=log, text=True, env=env)
        line = self.coordinator.stdout.readline()
        prefix = "hpt coordinator listening on "
        if not line.startswith(prefix):
            raise AssertionError("coordinator did not start: %r (see %s)" % (line, log.name))
        self.endpoint = line[len(prefix):].strip()
        return self.coordinator

    def start_worker(self, worker_id, *extra):
        log = open(os.path.join(self.tmp, "worker-%s.log" % worker_id), "a")
        self.logs.append(log)
        proc = subprocess.Popen(
            [HPT, "worker", "--connect", self.endpoint, "--id", worker_id, "--work-dir",
             os.path.join(self.tmp, "runs"), "--kill-grace", "1", "--log-level", "debug", *map(str, extra)],
            stdout=log, stderr=log, cwd=self.tmp)
        self.workers[worker_id] = proc
        return proc

    def submit(self, spec_path):
        r = hpt("submit", spec_path, "--coordinator", self.endpoint, check=True)
        return r.stdout.strip()

    def status(self, exp):
        r = hpt("status", exp, "--coordinator", self.endpoint, "--format", "json", check=True)
        return json.loads(r.stdout)

    def wait_done(self, exp, timeout=90):
        deadline = time.time() + timeout
        while time.time() < deadline:
            s = self.status(exp)
            if s["status"] != "running":
                return s
            time.sleep(0.2)
        raise AssertionError("experiment %s did not finish in %ss: %s" % (exp, timeout, self.status(exp)))

    def query(self, sql, *args):
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def close(self):
        procs = list(self.workers.values()) + ([self.coordinator] if self.coordinator else [])
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if self.coordinator and self.coordinator.stdout:
            self.coordinator.stdout.close()
        for log in self.logs:
            log.close()


def write_spec(tmp, text, name="spec.yaml"):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


class ClusterTest(unittest.TestCase):
    """Gives each test a temp dir and a cluster that is torn down after it."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="hpt-it-")
        self.tmp = self._tmp.name
        self.cluster = Cluster(self.tmp)

    def tearDown(self):
        self.cluster.close()
        if self._outcome_failed():
            for name in sorted(os.listdir(self.tmp)):
                if name.endswith(".log"):
                    with open(os.path.join(self.tmp, name)) as f:
                        print("==== %s (last 40 lines)" % name)
                        print("".join(f.readlines()[-40:]))
            keep = os.environ.get("HPT_KEEP_FAILED")
            if keep:  # a directory to copy a failed test's logs and store into, for a post-mortem
                shutil.copytree(self.tmp, os.path.join(keep, os.path.basename(self.tmp)),
                                ignore=shutil.ignore_patterns("runs"), dirs_exist_ok=True)
        self._tmp.cleanup()

    def _outcome_failed(self):
        outcome = getattr(self, "_outcome", None)
        errors = getattr(outcome, "errors", None) or []
        result = getattr(outcome, "result", None)
        if result is not None:
            return any(test is self for test, _ in result.failures + result.errors)
        return any(exc for _, exc in errors)
