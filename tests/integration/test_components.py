"""User components (issue 21) through the real `hpt` binary and a real SQLite file: `hpt component
create` records a component that belongs to no experiment, with a file artifact's size and SHA-256
and a URI as given; `show` and `list` read it back with its lineage; bad input is refused with exit
code 2 and nothing written; a store file a coordinator holds is refused with the holder named."""
import hashlib
import json
import os
import sqlite3
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TRIAL, ClusterTest, hpt, write_spec  # noqa: E402

SPEC = f"""name: NAME
objective: {{metric: score, goal: maximize}}
strategy: {{type: random, seed: 3}}
parameters:
  - {{name: x, type: float, min: 0.0, max: 2.0}}
  - {{name: y, type: float, min: 0.0, max: 4.0}}
limits: {{max_trials: 3, max_parallel: 1}}
trial:
  command: [python3, {TRIAL}, --steps, 1, "--x={{x}}", "--y={{y}}"]
"""


class ComponentTest(ClusterTest):
    def db(self):
        return os.path.join(self.tmp, "hpt.db")

    def test_a_component_is_recorded_with_its_artifacts_hashed_and_shown_and_listed(self):
        data = os.path.join(self.tmp, "train.bin")
        payload = os.urandom(300_000)
        with open(data, "wb") as f:
            f.write(payload)
        r = hpt("component", "create", "fmnist-v1", "--kind", "dataset", "--param", "split=train",
                "--param", "rows=60000", "--metric", "mean_pixel=0.286", "--artifact", f"images={data}",
                "--artifact", "mirror=s3://bucket/fmnist/train", "--output", "stats=https://example.org/s.json",
                "--db", self.db(), check=True)
        cid = int(r.stdout.strip())
        shown = json.loads(hpt("component", "show", "fmnist-v1", "--db", self.db(), "--format", "json",
                               check=True).stdout)
        self.assertEqual(shown["id"], cid)
        self.assertEqual(shown["kind"], "dataset")
        self.assertEqual(shown["params"], {"split": "train", "rows": 60000})
        self.assertEqual(shown["metrics"], {"mean_pixel": 0.286})
        arts = {a["name"]: a for a in shown["artifacts"]}
        self.assertEqual(arts["images"]["direction"], "input")
        self.assertEqual(arts["images"]["location"], os.path.abspath(data))
        self.assertEqual(arts["images"]["size"], len(payload))
        self.assertEqual(arts["images"]["sha256"], hashlib.sha256(payload).hexdigest())
        self.assertEqual(arts["mirror"]["location"], "s3://bucket/fmnist/train")
        self.assertIsNone(arts["mirror"]["size"])
        self.assertEqual(arts["mirror"]["sha256"], "")
        self.assertEqual(arts["stats"]["direction"], "output")
        self.assertEqual(shown["trials"], [])
        self.assertEqual(shown["experiments"], [])
        # By id too, and as a table.
        table = hpt("component", "show", str(cid), "--db", self.db(), check=True).stdout
        self.assertIn("fmnist-v1", table)
        self.assertIn(hashlib.sha256(payload).hexdigest(), table)
        listed = json.loads(hpt("component", "list", "--db", self.db(), "--format", "json", check=True).stdout)
        self.assertEqual([(c["id"], c["name"], c["trials"]) for c in listed], [(cid, "fmnist-v1", 0)])

    def test_show_gives_the_lineage_across_experiments(self):
        # Two real experiments in the file, then the component. The spec field that links trials
        # (`components:`) is not in this version: the links are written with sqlite3, as a stand-in,
        # to check what `show` reads of them.
        for name in ("first", "second"):
            spec = write_spec(self.tmp, SPEC.replace("NAME", name), name + ".yaml")
            hpt("run", spec, "--db", self.db(), "--workers", 1, "--work-dir", os.path.join(self.tmp, "runs"),
                check=True, timeout=120)
        cid = int(hpt("component", "create", "shared", "--kind", "model", "--db", self.db(), check=True).stdout)
        con = sqlite3.connect(self.db())
        with con:
            con.execute("INSERT INTO user_component_links (component_id, trial_id) SELECT ?, id FROM trials", (cid,))
        trial_ids = sorted(r[0] for r in con.execute("SELECT id FROM trials"))
        con.close()
        shown = json.loads(hpt("component", "show", "shared", "--db", self.db(), "--format", "json",
                               check=True).stdout)
        self.assertEqual(sorted(t["trial"] for t in shown["trials"]), trial_ids)
        self.assertEqual([(e["name"], e["trials"]) for e in shown["experiments"]], [("first", 3), ("second", 3)])
        table = hpt("component", "show", "shared", "--db", self.db(), check=True).stdout
        self.assertIn("first (3 trials)", table)
        self.assertIn("second (3 trials)", table)

    def test_bad_input_is_refused_with_exit_2_and_nothing_written(self):
        missing = os.path.join(self.tmp, "nope.bin")
        cases = [
            (["component", "create", "a", "--kind", "dataset", "--artifact", f"d={missing}"], "no such file"),
            (["component", "create", "a", "--kind", "dataset", "--artifact", "d=ftp://host/x"], "ftp://host/x"),
            (["component", "create", "a", "--kind", "dataset", "--metric", "acc=high"], "--metric acc"),
            (["component", "create", "a", "--kind", "dataset", "--param", "novalue"], "--param"),
            (["component", "create", "123", "--kind", "dataset"], "all digits"),
            (["component", "create", "a b", "--kind", "dataset"], "letters, digits"),
            (["component", "create", "a", "--kind", "dataset", "--param", "k=1", "--param", "k=2"], "twice"),
        ]
        for args, needle in cases:
            with self.subTest(args=args):
                r = hpt(*args, "--db", self.db())
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(needle, r.stderr)
                self.assertFalse(os.path.exists(self.db()), "a refused create must not create the store")
        hpt("component", "create", "a", "--kind", "dataset", "--db", self.db(), check=True)
        r = hpt("component", "create", "a", "--kind", "model", "--db", self.db())
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("already exists", r.stderr)
        r = hpt("component", "list", "--coordinator", "tcp://127.0.0.1:1")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("not served through a coordinator", r.stderr)
        r = hpt("component", "show", "missing", "--db", self.db())
        self.assertEqual(r.returncode, 1)
        self.assertIn("no component 'missing'", r.stderr)
        listed = json.loads(hpt("component", "list", "--db", self.db(), "--format", "json", check=True).stdout)
        self.assertEqual([c["kind"] for c in listed], ["dataset"])

    def test_create_is_refused_while_a_coordinator_holds_the_file(self):
        c = self.cluster
        c.start_coordinator()
        r = hpt("component", "create", "a", "--kind", "dataset", "--db", c.db)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("pid %d" % c.coordinator.pid, r.stderr)
        # Reading works meanwhile, and shows that nothing was written.
        listed = json.loads(hpt("component", "list", "--db", c.db, "--format", "json", check=True).stdout)
        self.assertEqual(listed, [])


if __name__ == "__main__":
    unittest.main()
