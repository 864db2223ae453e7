#!/usr/bin/python3
"""Trial throughput of Optuna on this machine: the peer baseline for the coordinator's
throughput benchmark. Run with Debian's python3-optuna (3.1): /usr/bin/python3, not a pyenv
python.

  optuna_throughput.py --variant {sqlite,journal,inmemory} --workers W --trials N
                       [--sleep-ms S] [--dir DIR] [--seed K]

What is measured: how fast Optuna's storage bookkeeping lets W worker processes run N no-op
trials in total (each trial suggests three parameters and returns at once, or after a fixed
sleep of S ms, as the harness's simulated workers do). Sampling is random search, so the cost
is ask/suggest/tell against the storage, not search.

  sqlite    RDBStorage("sqlite:///...") with default engine settings, what users get.
  journal   JournalStorage(JournalFileStorage(path)), Optuna 3.1's multi-process file storage.
  inmemory  InMemoryStorage in this one process; --workers is ignored and reported as 1.

The parent creates the study; each worker is a "spawn"ed process (safe with SQLAlchemy) that
opens its own storage, loads the study and runs its share (N split as evenly as possible) of
trials in an ask/tell loop. The clock starts when every worker has started and loaded the
study (a barrier, so interpreter start-up and imports are not counted) and stops when every
worker has reported back. "database is locked" errors from SQLite are counted and the failed
step (ask, the objective's suggestions, or tell) is retried, at most MAX_LOCK_RETRIES times in
a row. Any other exception is counted in other_errors, printed on stderr, and its trial given
up (told FAIL if it was created). Completed and failed trials are counted by reading the study
back afterwards.

Storage files live in a fresh temporary directory (created inside --dir when given, to pick
the file system) that is removed at the end. Output is one JSON object on one line on stdout,
for example (a run on the 2-core development machine, wrapped here):

  {"system": "optuna", "variant": "sqlite", "workers": 8, "trials": 400, "sleep_ms": 0.0,
   "completed": 400, "failed": 0, "unfinished": 0, "wall_s": 13.0112, "trials_per_s": 30.74,
   "ms_per_trial": 32.528, "db_locked_errors": 0, "other_errors": 0, "storage_bytes": 323584,
   "optuna_version": "3.1.0"}

"unfinished" counts trials left RUNNING (a worker's ask succeeded in the storage but failed
afterwards); it should be 0. Exit status: 0 on success, 1 if a worker failed to start or died, 2 on bad
arguments.
"""
import argparse
import json
import math
import multiprocessing
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
import warnings

import optuna
from optuna.trial import TrialState

STUDY_NAME = "throughput"
OPT_CHOICES = ("sgd", "adam", "rmsprop")
# Consecutive "database is locked" errors tolerated on one step before it is given up.
MAX_LOCK_RETRIES = 50
# Seconds to wait for all workers to start and load the study before giving up.
STARTUP_TIMEOUT_S = 300


def quiet_optuna():
    """Silence Optuna's per-trial INFO logs and the JournalStorage ExperimentalWarning."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def make_storage(variant, path):
    """A new storage object for the variant; each process must open its own."""
    if variant == "sqlite":
        return optuna.storages.RDBStorage("sqlite:///" + path)
    if variant == "journal":
        return optuna.storages.JournalStorage(optuna.storages.JournalFileStorage(path))
    return optuna.storages.InMemoryStorage()


def objective(trial, sleep_s):
    """No-op objective: three suggestions, an optional fixed sleep, a cheap value."""
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    width = trial.suggest_int("width", 16, 512)
    opt = trial.suggest_categorical("opt", OPT_CHOICES)
    if sleep_s > 0:
        time.sleep(sleep_s)
    return math.log10(lr) + width / 512 + OPT_CHOICES.index(opt)


def is_db_locked(exc):
    """Whether exc, or an exception it was raised from, is SQLite's "database is locked".

    Optuna usually wraps SQLAlchemy's OperationalError in a StorageInternalError, so the
    whole __cause__/__context__ chain is searched.
    """
    seen = set()
    while exc is not None and id(exc) not in seen:
        if "database is locked" in str(exc):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def retry_locked(step, counts):
    """Call step(), retrying it on "database is locked" (each one counted in counts)."""
    for attempt in range(MAX_LOCK_RETRIES + 1):
        try:
            return step()
        except Exception as exc:
            if not is_db_locked(exc):
                raise
            counts["db_locked_errors"] += 1
            if attempt == MAX_LOCK_RETRIES:
                raise


def count_other_error(exc, counts):
    """Count an exception that retry_locked gave up on, if it was not a lock error.

    Lock errors were counted as they happened. Other errors are also reported on stderr,
    since they say something went wrong in Optuna or in this script.
    """
    if is_db_locked(exc):
        return
    counts["other_errors"] += 1
    print(f"optuna_throughput: pid {os.getpid()}: {exc!r}", file=sys.stderr)


def run_trials(study, n_trials, sleep_s):
    """Run n_trials ask/objective/tell rounds; returns the error counts.

    Retrying the objective after a lock error is safe: a parameter whose suggestion reached
    the storage is returned again rather than re-sampled, and the sleep comes after the
    suggestions. tell() uses skip_if_finished so that a retry after a commit that did go
    through is harmless.
    """
    counts = {"db_locked_errors": 0, "other_errors": 0}
    for _ in range(n_trials):
        try:
            trial = retry_locked(study.ask, counts)
        except Exception as exc:
            count_other_error(exc, counts)
            continue
        try:
            value = retry_locked(lambda: objective(trial, sleep_s), counts)
            state = TrialState.COMPLETE
        except Exception as exc:
            count_other_error(exc, counts)
            value, state = None, TrialState.FAIL
        try:
            retry_locked(
                lambda: study.tell(trial, value, state=state, skip_if_finished=True), counts
            )
        except Exception as exc:
            count_other_error(exc, counts)
    return counts


def worker_main(variant, path, n_trials, sleep_s, seed, barrier, results):
    """Worker process: open the storage, load the study, wait for the start, run, report."""
    quiet_optuna()
    try:
        study = optuna.load_study(
            study_name=STUDY_NAME,
            storage=make_storage(variant, path),
            sampler=optuna.samplers.RandomSampler(seed=seed),
        )
    except BaseException:
        barrier.abort()  # let the parent fail now rather than at STARTUP_TIMEOUT_S
        raise
    barrier.wait()
    results.put(run_trials(study, n_trials, sleep_s))


def shares(total, parts):
    """total split into parts integers differing by at most one."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def run_workers(args, path, sleep_s):
    """Start the worker processes and time them; returns (wall_s, summed error counts).

    Raises RuntimeError if a worker dies or fails to start.
    """
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(args.workers + 1)
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=worker_main,
            args=(args.variant, path, share, sleep_s, args.seed + 1 + i, barrier, results),
        )
        for i, share in enumerate(shares(args.trials, args.workers))
    ]
    for p in procs:
        p.start()
    received = 0
    try:
        try:
            barrier.wait(timeout=STARTUP_TIMEOUT_S)
        except threading.BrokenBarrierError:
            raise RuntimeError("workers did not all start (see stderr)") from None
        start = time.perf_counter()
        totals = {"db_locked_errors": 0, "other_errors": 0}
        while received < args.workers:
            try:
                counts = results.get(timeout=1.0)
            except queue.Empty:
                # A worker that exits without reporting would otherwise hang the run.
                if any(p.exitcode not in (None, 0) for p in procs):
                    raise RuntimeError("a worker process died (see stderr)") from None
                continue
            received += 1
            for key in totals:
                totals[key] += counts[key]
        wall_s = time.perf_counter() - start
    finally:
        # On failure, stop the workers still running rather than wait for them.
        for p in procs:
            if received < args.workers and p.is_alive():
                p.terminate()
            p.join()
    return wall_s, totals


def storage_bytes(variant, path):
    """Size of the storage on disk: SQLite file plus its -wal, or the journal file."""
    if variant == "inmemory":
        return 0
    files = [path, path + "-wal"] if variant == "sqlite" else [path]
    return sum(os.path.getsize(f) for f in files if os.path.exists(f))


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Trials per second of Optuna with no-op objectives (see module docstring)."
    )
    parser.add_argument("--variant", required=True, choices=("sqlite", "journal", "inmemory"))
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes (ignored for inmemory)")
    parser.add_argument("--trials", type=int, required=True, help="trials in total")
    parser.add_argument("--sleep-ms", type=float, default=0.0,
                        help="fixed time each objective sleeps")
    parser.add_argument("--dir", help="where to put the storage's temporary directory")
    parser.add_argument("--seed", type=int, default=0, help="base seed of the random samplers")
    args = parser.parse_args(argv)  # exits with status 2 on a malformed command line
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.trials < 1:
        parser.error("--trials must be at least 1")
    if args.sleep_ms < 0 or not math.isfinite(args.sleep_ms):
        parser.error("--sleep-ms must be a finite number >= 0")
    if args.dir is not None and not os.path.isdir(args.dir):
        parser.error(f"--dir {args.dir!r} is not a directory")
    if args.variant == "inmemory":
        args.workers = 1
    return args


def main(argv):
    args = parse_args(argv)
    quiet_optuna()
    sleep_s = args.sleep_ms / 1000
    tmpdir = tempfile.mkdtemp(prefix="optuna-throughput-", dir=args.dir)
    try:
        path = os.path.join(tmpdir, "study.db" if args.variant == "sqlite" else "study.log")
        study = optuna.create_study(
            study_name=STUDY_NAME,
            storage=make_storage(args.variant, path),
            sampler=optuna.samplers.RandomSampler(seed=args.seed),
            direction="minimize",
        )
        if args.variant == "inmemory":
            start = time.perf_counter()
            counts = run_trials(study, args.trials, sleep_s)
            wall_s = time.perf_counter() - start
        else:
            try:
                wall_s, counts = run_workers(args, path, sleep_s)
            except RuntimeError as exc:
                print(f"optuna_throughput: {exc}", file=sys.stderr)
                return 1
            # Read the study back through a fresh storage, as written by the workers.
            study = optuna.load_study(
                study_name=STUDY_NAME, storage=make_storage(args.variant, path)
            )
        states = [t.state for t in study.get_trials(deepcopy=False)]
        completed = states.count(TrialState.COMPLETE)
        result = {
            "system": "optuna",
            "variant": args.variant,
            "workers": args.workers,
            "trials": args.trials,
            "sleep_ms": args.sleep_ms,
            "completed": completed,
            "failed": states.count(TrialState.FAIL),
            "unfinished": len(states) - completed - states.count(TrialState.FAIL),
            "wall_s": round(wall_s, 4),
            "trials_per_s": round(completed / wall_s, 2),
            "ms_per_trial": round(1000 * wall_s / completed, 3) if completed else None,
            "db_locked_errors": counts["db_locked_errors"],
            "other_errors": counts["other_errors"],
            "storage_bytes": storage_bytes(args.variant, path),
            "optuna_version": optuna.__version__,
        }
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
