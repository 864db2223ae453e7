"""hpt-train on the CPU: it learns, resumes from its checkpoint, and refuses bad input with exit 2.

Runs the real executable (HPT_TRAIN_BIN) on small subsets of Fashion-MNIST (dataset-fashion-mnist)
and on generated CSV files; one test tunes it through `hpt run` (HPT_BIN)."""
import json
import os
import random
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import hpt, write_spec  # noqa: E402

TRAIN = os.environ.get("HPT_TRAIN_BIN", "")
FASHION = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
# A small, fast configuration: 2000 training and 500 validation images, one thread.
SMALL = ["--train-subset=2000", "--val-subset=500", "--threads=1", "--hidden=64", "--batch-size=64"]


def train(*args, env=None, timeout=300):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("HPT_")}
    full_env["CUDA_VISIBLE_DEVICES"] = ""  # the CPU path, whatever the machine has
    full_env.update(env or {})
    return subprocess.run([TRAIN, *map(str, args)], capture_output=True, text=True, env=full_env, timeout=timeout)


def metric_lines(stdout):
    """The `hpt:` lines as dicts of floats (step as int)."""
    out = []
    for line in stdout.splitlines():
        if line.startswith("hpt: "):
            fields = dict(token.split("=", 1) for token in line[5:].split())
            row = {k: float(v) for k, v in fields.items()}
            row["step"] = int(fields["step"])
            out.append(row)
    return out


@unittest.skipUnless(TRAIN and os.path.exists(TRAIN), "HPT_TRAIN_BIN is not set to a built hpt-train")
class TrainTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="hpt-train-it-")
        self.tmp = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def run_ok(self, *args, env=None):
        r = train(*args, env=env)
        self.assertEqual(r.returncode, 0, "hpt-train %s failed:\n%s\n%s" % (" ".join(args), r.stdout, r.stderr))
        return metric_lines(r.stdout), r

    @unittest.skipUnless(os.path.exists(FASHION), "dataset-fashion-mnist is not installed")
    def test_the_mlp_learns_fashion_mnist_well_above_chance_and_reports_every_epoch(self):
        lines, _ = self.run_ok(*SMALL, "--epochs=3", "--lr=0.002", "--seed=1")
        self.assertEqual([l["step"] for l in lines], [1, 2, 3])
        for l in lines:
            self.assertEqual(set(l), {"step", "train_loss", "val_loss", "val_accuracy", "epoch_seconds"})
        self.assertLess(lines[-1]["train_loss"], lines[0]["train_loss"])
        self.assertGreater(lines[-1]["val_accuracy"], 0.65)  # chance is 0.10

    @unittest.skipUnless(os.path.exists(FASHION), "dataset-fashion-mnist is not installed")
    def test_the_cnn_learns_fashion_mnist_well_above_chance(self):
        lines, _ = self.run_ok("--model=cnn", "--channels=4", "--train-subset=1000", "--val-subset=300",
                               "--threads=1", "--epochs=2", "--hidden=32", "--lr=0.003", "--seed=2")
        self.assertEqual([l["step"] for l in lines], [1, 2])
        self.assertGreater(lines[-1]["val_accuracy"], 0.5)

    def test_a_csv_with_a_named_string_label_column_is_learned(self):
        rng = random.Random(4)
        path = os.path.join(self.tmp, "blobs.csv")
        with open(path, "w") as f:
            f.write("x1,species,x2,x3\n")
            for _ in range(600):
                k = rng.randrange(3)
                centre = [(0, 0, 0), (3, 0, 1), (0, 3, -1)][k]
                f.write("%f,%s,%f,%f\n" % (centre[0] + rng.gauss(0, 0.7), ["setosa", "versicolor", "virginica"][k],
                                           centre[1] + rng.gauss(0, 0.7), centre[2] + rng.gauss(0, 0.7)))
        lines, _ = self.run_ok("--data", path, "--label-column", "species", "--epochs=15", "--hidden=16",
                               "--batch-size=32", "--lr=0.01", "--threads=1", "--val-fraction=0.25")
        self.assertEqual(len(lines), 15)
        self.assertGreater(lines[-1]["val_accuracy"], 0.85)  # chance is 1/3

    @unittest.skipUnless(os.path.exists(FASHION), "dataset-fashion-mnist is not installed")
    def test_a_resumed_run_continues_after_the_checkpointed_epoch_and_matches_an_uninterrupted_one(self):
        ckpt = os.path.join(self.tmp, "ckpt")
        args = [*SMALL, "--optimizer=sgd", "--momentum=0.9", "--lr=0.02", "--dropout=0.2", "--seed=3"]
        # The budget of a first rung, then a promotion to 4 epochs (as Hyperband would), via the
        # environment the worker sets.
        first, _ = self.run_ok(*args, "--epochs=9", env={"HPT_CHECKPOINT_DIR": ckpt, "HPT_BUDGET": "2"})
        self.assertEqual([l["step"] for l in first], [1, 2])
        self.assertTrue(os.path.exists(os.path.join(ckpt, "hpt-train.pt")))
        resumed, r = self.run_ok(*args, "--epochs=9", env={"HPT_CHECKPOINT_DIR": ckpt, "HPT_BUDGET": "4"})
        self.assertEqual([l["step"] for l in resumed], [3, 4])
        self.assertIn("resuming", r.stderr)
        straight, _ = self.run_ok(*args, "--epochs=4", "--checkpoint-dir", os.path.join(self.tmp, "other"))
        self.assertEqual([l["step"] for l in straight], [1, 2, 3, 4])
        # Model, optimizer (momentum buffers) and per-epoch seeds were restored: same numbers.
        for key in ("train_loss", "val_loss", "val_accuracy"):
            self.assertAlmostEqual(resumed[-1][key], straight[-1][key], delta=1e-4 * max(1.0, abs(straight[-1][key])))
            self.assertAlmostEqual(resumed[0][key], straight[2][key], delta=1e-4 * max(1.0, abs(straight[2][key])))
        # A run whose budget the checkpoint already covers trains nothing and repeats the last metrics.
        again, _ = self.run_ok(*args, "--epochs=4", env={"HPT_CHECKPOINT_DIR": ckpt})
        self.assertEqual([l["step"] for l in again], [4])
        self.assertEqual(again[0]["val_accuracy"], resumed[-1]["val_accuracy"])
        # A checkpoint of another architecture is refused, not silently reused or overwritten.
        r = train(*SMALL[:-2], "--hidden=32", "--epochs=5", env={"HPT_CHECKPOINT_DIR": ckpt})
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("different model", r.stderr)

    def test_bad_flags_and_missing_data_exit_2_naming_the_flag_or_file(self):
        cases = [
            (["--lr=fast"], "--lr"),
            (["--learning-rate=0.1"], "unknown flag --learning-rate"),
            (["--optimizer=rmsprop"], "--optimizer"),
            (["--epochs"], "--epochs: needs a value"),
            (["--data", os.path.join(self.tmp, "missing.csv")], "missing.csv: no such file"),
            (["--data-dir", os.path.join(self.tmp, "nothing")], "train-images-idx3-ubyte.gz: no such file"),
            (["--model=cnn", "--data", os.path.join(self.tmp, "x.csv")], "--model: cnn needs image data"),
        ]
        for args, message in cases:
            r = train(*args)
            self.assertEqual(r.returncode, 2, "%s: %s" % (args, r.stderr))
            self.assertIn(message, r.stderr, args)
            self.assertEqual(metric_lines(r.stdout), [])
        r = train("--budget=0")
        self.assertEqual(r.returncode, 2)
        r = train(env={"HPT_BUDGET": "many"})
        self.assertEqual(r.returncode, 2)
        self.assertIn("HPT_BUDGET", r.stderr)
        bad_csv = os.path.join(self.tmp, "bad.csv")
        with open(bad_csv, "w") as f:
            f.write("a,label\n1,x\noops,y\n")
        r = train("--data", bad_csv)
        self.assertEqual(r.returncode, 2)
        self.assertIn("bad.csv:3: column 'a'", r.stderr)

    def test_device_cuda_without_a_visible_gpu_exits_2(self):
        path = os.path.join(self.tmp, "tiny.csv")
        with open(path, "w") as f:
            f.write("".join("%d,%d\n" % (i, i % 2) for i in range(20)))
        r = train("--device=cuda", "--data", path, "--epochs=1")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--device cuda", r.stderr)

    def test_help_lists_the_flags_and_exits_0(self):
        r = train("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("--optimizer", r.stdout)

    @unittest.skipUnless(os.path.exists(FASHION) and os.environ.get("HPT_BIN"), "needs Fashion-MNIST and HPT_BIN")
    def test_hpt_run_tunes_hpt_train_and_records_its_metrics(self):
        spec = write_spec(self.tmp, f"""
name: train-it
objective: {{metric: val_accuracy, goal: maximize}}
strategy: {{type: random, seed: 2}}
parameters:
  - {{name: lr, type: float, min: 1.0e-3, max: 1.0e-2, scale: log}}
  - {{name: hidden, type: int, min: 16, max: 64, scale: log}}
static: {{epochs: 2}}
limits: {{max_trials: 2, max_parallel: 2, trial_timeout: 2m}}
trial:
  command: [{TRAIN}, "--train-subset=1000", "--val-subset=300", "--threads=1", "--lr={{lr}}",
            "--hidden={{hidden}}", "--epochs={{epochs}}"]
""")
        db = os.path.join(self.tmp, "hpt.db")
        r = hpt("run", spec, "--db", db, "--workers", "2", "--work-dir", os.path.join(self.tmp, "runs"),
                timeout=300, cwd=self.tmp)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        board = json.loads(hpt("leaderboard", "train-it", "--db", db, "--format", "json", check=True).stdout)
        self.assertEqual([b["status"] for b in board], ["completed", "completed"])
        self.assertTrue(all(b["objective"] > 0.5 for b in board), board)
        # Each trial left its checkpoint in its HPT_CHECKPOINT_DIR.
        for b in board:
            found = [os.path.join(root, "hpt-train.pt") for root, _, files in os.walk(os.path.join(self.tmp, "runs"))
                     if "hpt-train.pt" in files and root.endswith(os.path.join("trial-%d" % b["trial"], "checkpoint"))]
            self.assertEqual(len(found), 1, b)


if __name__ == "__main__":
    unittest.main()
