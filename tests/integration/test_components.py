"""User components (issue 21) through the real `hpt` binary and a real SQLite file: `hpt component
create` records a component that belongs to no experiment, with a file artifact's size and SHA-256
and a URI as given; `show` and `list` read it back with its lineage; bad input is refused with exit
code 2 and nothing written; a store file a coordinator holds is refused with the holder named."""
import csv
import hashlib
import io
import json
import os
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

# A trial that reports about itself: params it chose, a model it wrote into its trial dir (by a
# relative path), a file by absolute path, an input URI, and a file it never wrote.
REPORTING_TRIAL = """import os, sys
x = float(sys.argv[1])
d = os.environ["HPT_TRIAL_DIR"]
with open(os.path.join(d, "model.bin"), "wb") as f:
    f.write(("weights for x=%r\\n" % x).encode() * 1000)
log = os.path.join(d, "train.log")
with open(log, "w") as f:
    f.write("epoch 1\\n")
print("hpt: param seed=1234")
print("hpt: param note = chosen by the trial")
print("hpt: param x_seen=%r" % x)
print("hpt: artifact output model=model.bin")
print("hpt: artifact output log=" + log)
print("hpt: artifact input data=s3://bucket/fmnist")
print("hpt: artifact output missing=never-written.bin")
print("hpt: score=%r" % x, flush=True)
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

    def test_a_shared_component_is_linked_to_every_trial_of_two_experiments_and_shown_with_both(self):
        c = self.cluster
        cid = int(hpt("component", "create", "shared", "--kind", "dataset", "--db", c.db, check=True).stdout)
        hpt("component", "create", "unused", "--kind", "model", "--db", c.db, check=True)
        extra = int(hpt("component", "create", "prep-job", "--kind", "job", "--db", c.db, check=True).stdout)
        c.start_coordinator()
        c.start_worker("w1", "--slots", 2)
        exps = []
        linked = {"first": "[prep-job, shared]", "second": "[shared]"}
        for name in ("first", "second"):
            spec = write_spec(self.tmp, SPEC.replace("NAME", name) + f"components: {linked[name]}\n", name + ".yaml")
            exp = c.submit(spec)
            self.assertEqual(c.wait_done(exp)["status"], "completed")
            exps.append(int(exp))
        trial_ids = sorted(r[0] for r in c.query("SELECT id FROM trials"))
        self.assertEqual(len(trial_ids), 6)
        shown = json.loads(hpt("component", "show", "shared", "--db", c.db, "--format", "json", check=True).stdout)
        self.assertEqual(shown["id"], cid)
        self.assertEqual(sorted(t["trial"] for t in shown["trials"]), trial_ids)
        self.assertEqual([(e["id"], e["name"], e["trials"]) for e in shown["experiments"]],
                         [(exps[0], "first", 3), (exps[1], "second", 3)])
        table = hpt("component", "show", "shared", "--db", c.db, check=True).stdout
        self.assertIn("first (3 trials)", table)
        self.assertIn("second (3 trials)", table)
        unused = json.loads(hpt("component", "show", "unused", "--db", c.db, "--format", "json", check=True).stdout)
        self.assertEqual(unused["trials"], [])

        # Each trial lists its user components (`hpt trial`), and the export has their names, from
        # the file and through the coordinator alike.
        shared = {"id": cid, "name": "shared", "kind": "dataset"}
        prep = {"id": extra, "name": "prep-job", "kind": "job"}
        expected = {exps[0]: [shared, prep], exps[1]: [shared]}  # by component id
        experiment_of = dict(c.query("SELECT id, experiment_id FROM trials"))
        for where in (("--db", c.db), ("--coordinator", c.endpoint)):
            with self.subTest(where=where[0]):
                for tid in trial_ids:
                    want = expected[experiment_of[tid]]
                    detail = json.loads(hpt("trial", str(tid), *where, "--format", "json", check=True).stdout)
                    self.assertEqual(detail["user_components"], want)
                    self.assertNotIn("shared", [x["name"] for x in detail["components"]])
                    text = hpt("trial", str(tid), *where, check=True).stdout
                    self.assertIn("user components " + ", ".join(f"{u['name']} ({u['kind']}, id {u['id']})" for u in want),
                                  text)
                for exp in exps:
                    names = [u["name"] for u in expected[exp]]
                    text = hpt("export", str(exp), *where, "--format", "csv", check=True).stdout
                    header = text.splitlines()[0].split(",")
                    self.assertEqual(header[header.index("components") + 1], "user_components")
                    rows = list(csv.DictReader(io.StringIO(text)))
                    self.assertEqual(len(rows), 3)
                    self.assertEqual([r["user_components"] for r in rows], [";".join(names)] * 3)
                    self.assertTrue(all(r["components"].startswith("static;") for r in rows))
                    exported = json.loads(hpt("export", str(exp), *where, "--format", "json", check=True).stdout)
                    self.assertEqual([r["user_component_names"] for r in exported], [names] * 3)
                    self.assertEqual([r["user_components"] for r in exported], [expected[exp]] * 3)

    def test_a_trial_that_prints_params_and_artifacts_has_them_on_its_run_with_correct_sha256(self):
        c = self.cluster
        program = os.path.join(self.tmp, "reporting.py")
        with open(program, "w") as f:
            f.write(REPORTING_TRIAL)
        spec = write_spec(self.tmp, f"""name: reporting
objective: {{metric: score, goal: maximize}}
strategy: {{type: random, seed: 5}}
parameters:
  - {{name: x, type: float, min: 0.0, max: 1.0}}
limits: {{max_trials: 2, max_parallel: 2}}
trial:
  command: [python3, {program}, "{{x}}"]
""")
        c.start_coordinator()
        c.start_worker("w1", "--slots", 2)
        exp = c.submit(spec)
        self.assertEqual(c.wait_done(exp)["status"], "completed")
        trial_ids = sorted(r[0] for r in c.query("SELECT id FROM trials"))
        self.assertEqual(len(trial_ids), 2)
        for tid in trial_ids:
            detail = json.loads(hpt("trial", str(tid), "--db", c.db, "--format", "json", check=True).stdout)
            runs = [comp for comp in detail["components"] if comp["kind"] == "run"]
            self.assertEqual(len(runs), 1)
            data = runs[0]["data"]
            x = detail["params"]["x"]
            self.assertEqual(data["params"], {"seed": 1234, "note": "chosen by the trial", "x_seen": x})
            arts = {a["name"]: a for a in data["artifacts"]}
            self.assertEqual(set(arts), {"model", "log", "data", "missing"})
            model = arts["model"]
            self.assertEqual(model["direction"], "output")
            self.assertTrue(os.path.isabs(model["location"]), model["location"])
            with open(model["location"], "rb") as f:
                payload = f.read()
            # What the trial wrote: its own x, so that each trial's hash differs.
            self.assertEqual(payload, ("weights for x=%r\n" % x).encode() * 1000)
            self.assertEqual(model["size"], len(payload))
            self.assertEqual(model["sha256"], hashlib.sha256(payload).hexdigest())
            self.assertEqual(model["note"], "")
            with open(arts["log"]["location"], "rb") as f:
                self.assertEqual(arts["log"]["sha256"], hashlib.sha256(f.read()).hexdigest())
            self.assertEqual(arts["data"], {"name": "data", "direction": "input", "location": "s3://bucket/fmnist",
                                            "size": None, "sha256": "", "note": ""})
            self.assertIsNone(arts["missing"]["size"])
            self.assertIn("no such file", arts["missing"]["note"])
            # The table shows them too.
            table = hpt("trial", str(tid), "--db", c.db, check=True).stdout
            self.assertIn(model["sha256"], table)
            self.assertIn("seed=1234", table)
            # Nothing of it became a metric.
            names = {r[0] for r in c.query("SELECT DISTINCT name FROM metrics WHERE trial_id = ?", tid)}
            self.assertEqual(names, {"score"})

    def test_a_spec_naming_an_unknown_component_is_refused_with_exit_2_and_nothing_written(self):
        c = self.cluster
        hpt("component", "create", "shared", "--kind", "dataset", "--db", c.db, check=True)
        c.start_coordinator()
        spec = write_spec(self.tmp, SPEC.replace("NAME", "bad") + "components: [shared, missing]\n")
        r = hpt("submit", spec, "--coordinator", c.endpoint)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("no component named 'missing'", r.stderr)
        self.assertEqual(c.query("SELECT COUNT(*) FROM experiments"), [(0,)])
        self.assertEqual(c.query("SELECT COUNT(*) FROM trials"), [(0,)])
        # A spec error the parser sees (a name twice) is located, before anything is sent.
        spec = write_spec(self.tmp, SPEC.replace("NAME", "bad") + "components: [shared, shared]\n", "twice.yaml")
        r = hpt("submit", spec, "--coordinator", c.endpoint)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("twice.yaml:10", r.stderr)
        self.assertIn("components", r.stderr)

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
        r = hpt("component", "show", "missing", "--db", self.db())
        self.assertEqual(r.returncode, 1)
        self.assertIn("no component 'missing'", r.stderr)
        listed = json.loads(hpt("component", "list", "--db", self.db(), "--format", "json", check=True).stdout)
        self.assertEqual([c["kind"] for c in listed], ["dataset"])

    def test_through_a_coordinator_create_show_list_and_search_work_as_on_the_file(self):
        c = self.cluster
        hpt("component", "create", "base", "--kind", "model", "--db", c.db, check=True)
        c.start_coordinator()
        c.start_worker("w1", "--slots", 2)
        data = os.path.join(self.tmp, "train.bin")
        payload = os.urandom(200_000)
        with open(data, "wb") as f:
            f.write(payload)
        # Created through the coordinator, which holds the file: the client hashed the file.
        r = hpt("component", "create", "fmnist-v2", "--kind", "dataset", "--param", "rows=60000",
                "--metric", "mean_pixel=0.29", "--artifact", f"images={data}", "--output", "card=https://x.org/c",
                "--coordinator", c.endpoint, check=True)
        cid = int(r.stdout.strip())
        self.assertEqual(c.query("SELECT name, kind FROM user_components WHERE id = ?", cid), [("fmnist-v2", "dataset")])
        spec = write_spec(self.tmp, SPEC.replace("NAME", "via") + "components: [fmnist-v2, base]\n", "via.yaml")
        exp = c.submit(spec)
        self.assertEqual(c.wait_done(exp)["status"], "completed")

        for args in (["component", "show", "fmnist-v2", "--format", "json"], ["component", "show", str(cid)],
                     ["component", "list", "--format", "json"], ["component", "list"]):
            with self.subTest(args=args):
                on_file = hpt(*args, "--db", c.db, check=True).stdout
                through = hpt(*args, "--coordinator", c.endpoint, check=True).stdout
                self.assertEqual(through, on_file)
        shown = json.loads(hpt("component", "show", "fmnist-v2", "--coordinator", c.endpoint, "--format", "json",
                               check=True).stdout)
        arts = {a["name"]: a for a in shown["artifacts"]}
        self.assertEqual(arts["images"]["sha256"], hashlib.sha256(payload).hexdigest())
        self.assertEqual(arts["images"]["size"], len(payload))
        self.assertEqual(arts["card"]["direction"], "output")
        self.assertEqual(shown["params"], {"rows": 60000})
        self.assertEqual(len(shown["trials"]), 3)
        self.assertEqual([(e["id"], e["trials"]) for e in shown["experiments"]], [(int(exp), 3)])

        for expr, sort in (("params.x < 1.5 or status = completed", "params.y desc"),
                           ("component = static and metrics.score.max > -100", "metrics.score.last"),
                           ("experiment = via and not params.x > 1", "")):
            with self.subTest(expr=expr):
                extra = ["--sort", sort, "--top", "2"] if sort else []
                on_file = hpt("search", expr, *extra, "--db", c.db, "--format", "json", check=True).stdout
                through = hpt("search", expr, *extra, "--coordinator", c.endpoint, "--format", "json", check=True).stdout
                self.assertEqual(json.loads(through), json.loads(on_file))
        self.assertEqual(len(json.loads(hpt("search", "status = completed", "--coordinator", c.endpoint,
                                            "--format", "json", check=True).stdout)), 3)
        # `component` finds the trials linked to a user component.
        for where in (("--db", c.db), ("--coordinator", c.endpoint)):
            found = json.loads(hpt("search", "component = fmnist-v2", *where, "--format", "json", check=True).stdout)
            self.assertEqual(sorted(t["trial"] for t in found), sorted(t["trial"] for t in shown["trials"]))
            self.assertEqual(hpt("search", "component != base", *where, "--format", "json", check=True).stdout.strip(),
                             "[]")

        # Refused by the coordinator as by the file: a name taken, nothing written.
        r = hpt("component", "create", "base", "--kind", "dataset", "--coordinator", c.endpoint)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("already exists", r.stderr)
        # Refused by the client before anything is sent: a missing file, a bad EXPR.
        r = hpt("component", "create", "other", "--kind", "dataset", "--artifact",
                f"d={os.path.join(self.tmp, 'nope')}", "--coordinator", c.endpoint)
        self.assertEqual(r.returncode, 2, r.stderr)
        r = hpt("search", "params.x <", "--coordinator", c.endpoint)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("column", r.stderr)
        r = hpt("component", "show", "missing", "--coordinator", c.endpoint)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("no component 'missing'", r.stderr)
        self.assertEqual(c.query("SELECT COUNT(*) FROM user_components"), [(2,)])
        self.assertIsNone(c.coordinator.poll(), "the coordinator keeps serving")

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
