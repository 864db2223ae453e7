"""CURVE: only workers and clients whose keys are allowed get in; nothing unencrypted leaves loopback."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TRIAL, ClusterTest, hpt, write_spec  # noqa: E402


class CurveTest(ClusterTest):
    def setUp(self):
        super().setUp()
        os.environ["HPT_CLIENT_TIMEOUT_MS"] = "2000"
        self.keys = os.path.join(self.tmp, "keys")
        hpt("keygen", "coordinator", "--dir", self.keys, check=True)
        hpt("keygen", "client", "--dir", os.path.join(self.keys, "clients"), check=True)
        hpt("keygen", "worker1", "--dir", os.path.join(self.keys, "workers"), check=True)
        # A valid key pair that is not on the allow-list.
        self.stranger = os.path.join(self.tmp, "stranger")
        hpt("keygen", "client", "--dir", self.stranger, check=True)
        os.link(os.path.join(self.keys, "coordinator.pub"), os.path.join(self.stranger, "coordinator.pub"))
        # The allowed client's keys, but a wrong server key.
        self.wrong_server = os.path.join(self.tmp, "wrong-server")
        hpt("keygen", "coordinator", "--dir", self.wrong_server, check=True)
        for f in ("client.key", "client.pub"):
            os.link(os.path.join(self.keys, "clients", f), os.path.join(self.wrong_server, f))
        # Clients read DIR/client.key and DIR/coordinator.pub.
        self.allowed = os.path.join(self.tmp, "allowed")
        os.makedirs(self.allowed)
        for f in ("client.key", "client.pub"):
            os.link(os.path.join(self.keys, "clients", f), os.path.join(self.allowed, f))
        for f in ("worker1.key", "worker1.pub"):
            os.link(os.path.join(self.keys, "workers", f), os.path.join(self.allowed, f))
        os.link(os.path.join(self.keys, "coordinator.pub"), os.path.join(self.allowed, "coordinator.pub"))

    def tearDown(self):
        os.environ.pop("HPT_CLIENT_TIMEOUT_MS", None)
        super().tearDown()

    def test_only_allowed_keys_get_in_and_an_allowed_worker_runs_trials(self):
        c = self.cluster
        c.start_coordinator(None, "--curve", self.keys)
        ep = c.endpoint
        no_key = hpt("status", "--coordinator", ep)
        self.assertEqual(no_key.returncode, 1)
        self.assertIn("no answer", no_key.stderr)
        wrong_server = hpt("status", "--coordinator", ep, "--curve", self.wrong_server)
        self.assertEqual(wrong_server.returncode, 1)
        stranger = hpt("status", "--coordinator", ep, "--curve", self.stranger)
        self.assertEqual(stranger.returncode, 1)
        allowed = hpt("status", "--coordinator", ep, "--curve", self.allowed, "--format", "json")
        self.assertEqual(allowed.returncode, 0, allowed.stderr)

        c.start_worker("w1", "--slots", "2", "--curve", self.allowed, "--key", "worker1")
        spec = write_spec(self.tmp, f"""
name: curve
objective: {{metric: score, goal: maximize}}
parameters:
  - {{name: x, type: float, min: -2.0, max: 4.0}}
limits: {{max_trials: 4}}
trial:
  command: [python3, {TRIAL}, "--x={{x}}"]
""")
        exp = hpt("submit", spec, "--coordinator", ep, "--curve", self.allowed, check=True).stdout.strip()
        import json
        import time
        deadline = time.time() + 60
        status = None
        while time.time() < deadline:
            status = json.loads(hpt("status", exp, "--coordinator", ep, "--curve", self.allowed, "--format", "json",
                                    check=True).stdout)
            if status["status"] != "running":
                break
            time.sleep(0.2)
        self.assertEqual(status["status"], "completed", status)
        self.assertEqual(status["trials"]["completed"], 4)

    def test_a_coordinator_refuses_to_serve_the_network_unencrypted(self):
        r = hpt("coordinator", "--bind", "tcp://0.0.0.0:0", "--db", os.path.join(self.tmp, "x.db"), timeout=20)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--curve", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "x.db")))
        empty = os.path.join(self.tmp, "empty")
        hpt("keygen", "coordinator", "--dir", empty, check=True)
        r = hpt("coordinator", "--bind", "tcp://127.0.0.1:0", "--db", os.path.join(self.tmp, "y.db"), "--curve", empty,
                timeout=20)
        self.assertEqual(r.returncode, 2)
        self.assertIn("no keys in", r.stderr)

    def test_hpt_track_through_a_curve_coordinator_needs_an_allowed_client_key(self):
        c = self.cluster
        c.start_coordinator(None, "--curve", self.keys)
        ep = c.endpoint
        runs = os.path.join(self.tmp, "runs")
        run = ["track", "--experiment", "by-hand", "--coordinator", ep, "--work-dir", runs]
        cmd = ["--", "python3", "-c", "print('hpt: objective=0.5')"]
        # No key, a key not on the list, a worker key: nothing runs, nothing is recorded.
        self.assertEqual(hpt(*run, *cmd, cwd=self.tmp).returncode, 1)
        self.assertEqual(hpt(*run, "--curve", self.stranger, *cmd, cwd=self.tmp).returncode, 1)
        r = hpt(*run, "--curve", self.allowed, "--key", "worker1", *cmd, cwd=self.tmp)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("not a client key", r.stderr)
        self.assertFalse(os.path.exists(runs))
        # The allowed client key: recorded by the coordinator.
        r = hpt(*run, "--curve", self.allowed, *cmd, cwd=self.tmp)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(c.query("SELECT status, objective FROM trials"), [("completed", 0.5)])

    def test_a_client_key_cannot_act_as_a_worker_nor_a_worker_key_as_a_client(self):
        c = self.cluster
        c.start_coordinator(None, "--curve", self.keys)
        ep = c.endpoint
        # The worker key may not submit or query: answered with an error, not served.
        r = hpt("status", "--coordinator", ep, "--curve", self.allowed, "--key", "worker1")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("not a client key", r.stderr)
        # A worker that dials with the client key is never registered and runs nothing.
        c.start_worker("sneaky", "--slots", "1", "--curve", self.allowed, "--key", "client")
        spec = write_spec(self.tmp, f"""
name: roles
objective: {{metric: score, goal: maximize}}
parameters:
  - {{name: x, type: float, min: -2.0, max: 4.0}}
limits: {{max_trials: 2}}
trial:
  command: [python3, {TRIAL}, "--x={{x}}"]
""")
        exp = hpt("submit", spec, "--coordinator", ep, "--curve", self.allowed, check=True).stdout.strip()
        import json
        import time
        time.sleep(3)
        workers = json.loads(hpt("workers", "--coordinator", ep, "--curve", self.allowed, "--format", "json",
                                 check=True).stdout)
        self.assertEqual(workers, [])
        status = json.loads(hpt("status", exp, "--coordinator", ep, "--curve", self.allowed, "--format", "json",
                                check=True).stdout)
        self.assertEqual(status["trials"]["running"], 0)
        with open(os.path.join(self.tmp, "coordinator.log")) as f:
            self.assertIn("is not a worker key", f.read())
        # The real worker key works.
        c.start_worker("w1", "--slots", "2", "--curve", self.allowed, "--key", "worker1")
        deadline = time.time() + 60
        while time.time() < deadline:
            status = json.loads(hpt("status", exp, "--coordinator", ep, "--curve", self.allowed, "--format", "json",
                                    check=True).stdout)
            if status["status"] != "running":
                break
            time.sleep(0.2)
        self.assertEqual(status["status"], "completed", status)

    def test_keygen_does_not_overwrite_a_key(self):
        r = hpt("keygen", "coordinator", "--dir", self.keys)
        self.assertEqual(r.returncode, 2)
        self.assertIn("not overwriting", r.stderr)
        mode = os.stat(os.path.join(self.keys, "coordinator.key")).st_mode & 0o777
        self.assertEqual(mode, 0o600)


if __name__ == "__main__":
    unittest.main()
