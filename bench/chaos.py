#!/usr/bin/env python3
"""Chaos run: an experiment on 4 worker processes while workers and the coordinator are killed
with SIGKILL and restarted, and (with --impostor) a peer forges the workers' messages throughout.
Checks, and prints as JSON, that nothing was lost or counted twice and nothing forged recorded.

  python3 bench/chaos.py --hpt build/bin/hpt --impostor build/bin/hpt-impostor   # 200 trials, 20 + 5 kills
  python3 bench/chaos.py --hpt build/bin/hpt --impostor build/bin/hpt-impostor \
      --trials 40 --worker-kills 4 --coordinator-kills 1                        # CI

Exit code 0 when every check holds, 1 otherwise.
"""
import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import harness  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hpt", default=os.environ.get("HPT_BIN", "build/bin/hpt"))
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--slots", type=int, default=2)
    ap.add_argument("--worker-kills", type=int, default=20)
    ap.add_argument("--coordinator-kills", type=int, default=5)
    ap.add_argument("--trial-seconds", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--impostor", help="hpt-impostor binary: forges worker messages during the run")
    a = ap.parse_args()
    harness.HPT = os.path.abspath(a.hpt)
    rng = random.Random(a.seed)

    with tempfile.TemporaryDirectory(prefix="hpt-chaos-") as tmp:
        c = harness.Cluster(tmp, heartbeat_ms=200, worker_timeout_ms=1500)
        try:
            c.start_coordinator()
            for i in range(a.workers):
                c.start_worker("w%d" % i, "--slots", str(a.slots))
            spec = harness.write_spec(tmp, f"""
name: chaos
objective: {{metric: score, goal: maximize}}
strategy: {{type: random, seed: {a.seed}}}
parameters:
  - {{name: x, type: float, min: -2.0, max: 4.0}}
  - {{name: y, type: float, min: 0.1, max: 10.0, scale: log}}
limits: {{max_trials: {a.trials}, max_failed: 1000}}
trial:
  command: [python3, {harness.TRIAL}, "--x={{x}}", "--y={{y}}", "--steps=5", "--sleep={a.trial_seconds}"]
""")
            exp = c.submit(spec)
            events = ["worker"] * a.worker_kills + ["coordinator"] * a.coordinator_kills
            rng.shuffle(events)
            started = time.time()
            # Spread the kills over the expected run time (trials / slots * trial time).
            expected = a.trials / (a.workers * a.slots) * (a.trial_seconds + 0.3)
            gap = max(0.5, expected / (len(events) + 1))
            impostor = None
            if a.impostor:
                impostor = subprocess.Popen(
                    [a.impostor, "--connect", c.endpoint, "--ids", ",".join(sorted(c.workers)),
                     "--trials", str(a.trials), "--seconds", str(round(expected * 0.8, 1))],
                    stdout=subprocess.PIPE, text=True)
            for event in events:
                time.sleep(gap * rng.uniform(0.5, 1.5))
                if event == "worker":
                    victim = rng.choice(sorted(c.workers))
                    c.workers[victim].send_signal(signal.SIGKILL)
                    c.workers[victim].wait()
                    c.start_worker(victim, "--slots", str(a.slots))
                else:
                    c.coordinator.send_signal(signal.SIGKILL)
                    c.coordinator.wait()
                    time.sleep(0.3)
                    c.start_coordinator()
            final = c.wait_done(exp, timeout=a.timeout)
            elapsed = time.time() - started
            impostor_said = {}
            if impostor:
                out, _ = impostor.communicate(timeout=120)
                impostor_said = json.loads(out.strip().splitlines()[-1])

            completed = c.query("SELECT COUNT(*) FROM trials WHERE experiment_id=? AND status='completed'", int(exp))[0][0]
            total = c.query("SELECT COUNT(*) FROM trials WHERE experiment_id=?", int(exp))[0][0]
            doubles = c.query("""SELECT l.trial_id FROM trial_components rc
                                 JOIN trial_component_links l ON l.component_id = rc.id
                                 WHERE rc.kind='run' AND rc.status='completed'
                                 GROUP BY l.trial_id HAVING COUNT(*) > 1""")
            series = c.query("""SELECT trial_id, attempt, name, step FROM metrics
                                ORDER BY trial_id, attempt, name, time, step""")
            not_increasing = 0
            last = {}
            for trial_id, attempt, name, step in series:
                key = (trial_id, attempt, name)
                if key in last and step <= last[key]:
                    not_increasing += 1
                last[key] = step
            objective_mismatch = c.query("""SELECT t.id FROM trials t WHERE t.status='completed' AND t.objective IS NOT
                    (SELECT m.value FROM metrics m WHERE m.trial_id=t.id AND m.name='score'
                     AND m.attempt=t.attempt ORDER BY m.step DESC LIMIT 1)""")
            attempts = c.query("SELECT COUNT(*) FROM trial_components WHERE kind='run'")[0][0]
            lost_runs = c.query("SELECT COUNT(*) FROM trial_components WHERE kind='run' AND status='lost'")[0][0]
            integrity = c.query("PRAGMA integrity_check")[0][0]
            forged = c.query("""SELECT (SELECT COUNT(*) FROM metrics WHERE value = 999)
                                     + (SELECT COUNT(*) FROM trials WHERE objective = 999)
                                     + (SELECT COUNT(*) FROM trial_components WHERE log_path = '/forged')""")[0][0]
            result = {
                "trials_requested": a.trials, "trials": total, "completed": completed,
                "experiment_status": final["status"], "worker_kills": a.worker_kills,
                "coordinator_kills": a.coordinator_kills, "attempts": attempts, "lost_attempts": lost_runs,
                "trials_with_two_accepted_results": len(doubles), "metric_steps_not_increasing": not_increasing,
                "objective_not_last_value": len(objective_mismatch), "integrity_check": integrity,
                "seconds": round(elapsed, 1),
            }
            if impostor:
                result["impostor"] = impostor_said
                result["forged_values_recorded"] = forged
            print(json.dumps(result, indent=2))
            ok = (completed == a.trials and total == a.trials and not doubles and not_increasing == 0
                  and not objective_mismatch and integrity == "ok" and final["status"] == "completed"
                  and forged == 0 and impostor_said.get("assigned", 0) == 0)
            return 0 if ok else 1
        finally:
            c.close()


if __name__ == "__main__":
    sys.exit(main())
