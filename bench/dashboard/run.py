#!/usr/bin/env python3
"""How `hpt dashboard` holds up on a large experiment (issue 17, "Scale and speed").

Builds (once) a store with N trials of P parameters with hpt-plot-bench's filler, then for each
dashboard binary given (this build, and optionally a baseline build, measured in the same run on a
fresh copy of the same store) starts `hpt dashboard --db COPY --bind 127.0.0.1:0` and measures:

  api         per route: the first request (cold: nothing kept yet) and p50/p99 over --repeat more
  first_paint headless Chromium (selenium): navigation start -> every section.chart has
              data-loaded, on scrolling each chart section into view in turn (a frame apart); cold (first
              page load after start) and warm (the next load)
  sse         a trial committed by another process (hpt-plot-bench --append-trial 1) -> its
              `event: trial` read from GET /api/events
  after_commit the first answer of /table (the page's table), /trials, the history and the timeline
              charts after such a commit
  rss         the dashboard's peak resident set (VmHWM) at the end

Prints and appends one JSON line per figure to --out.
Usage: bench/dashboard/run.py [--hpt build-rel/bin/hpt] [--baseline-hpt PATH]
         [--filler build-rel/bin/hpt-plot-bench] [--trials 100000] [--params 10] [--repeat 30]
"""
import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def percentile(values, p):
    v = sorted(values)
    if not v:
        return None
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * (len(v) - 1)))))
    return v[k]


class Dashboard:
    def __init__(self, hpt, db):
        self.proc = subprocess.Popen([hpt, "dashboard", "--db", db, "--bind", "127.0.0.1:0"],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().strip()
        if "listening on http://" not in line:
            raise SystemExit("dashboard did not start: %r" % line)
        self.base = line.split("http://", 1)[1]
        self.host, self.port = self.base.rsplit(":", 1)
        self.conn = http.client.HTTPConnection(self.host, int(self.port), timeout=60)

    def get(self, path):
        self.conn.close()  # a fresh connection: the server drops idle keep-alive ones
        start = time.perf_counter()
        self.conn.request("GET", path)
        r = self.conn.getresponse()
        body = r.read()
        return (time.perf_counter() - start) * 1000.0, r.status, body

    def vmhwm_mb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
        return None

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def first_paint(base, exp, runs=2):
    try:
        debian = "/usr/lib/python3/dist-packages"
        if debian not in sys.path:
            sys.path.append(debian)
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as e:
        return {"skipped": "selenium: %s" % e}
    options = webdriver.ChromeOptions()
    # Tall enough that every chart section is in view at once, so each loads at first paint.
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,7000"):
        options.add_argument(arg)
    browser = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    browser.set_page_load_timeout(120)
    browser.set_script_timeout(120)
    out = []
    try:
        for _ in range(runs):
            browser.get("http://%s/experiments/%s" % (base, exp))
            result = browser.execute_async_script("""
              const done = arguments[arguments.length - 1];
              const check = () => {
                const sections = [...document.querySelectorAll('section.chart')];
                if (sections.length && sections.every((s) => s.dataset.loaded)) {
                  done({ms: performance.now(), loaded: sections.map((s) => s.id + '=' + s.dataset.loaded),
                        rows: document.querySelectorAll('#trials tbody tr').length,
                        count: document.getElementById('row-count').textContent});
                  return true;
                }
                return false;
              };
              // The charts load as they scroll into view: visit each one not loaded yet, a frame
              // apart, until all are (a section may start observing late, or move down as the
              // charts above it arrive), as a reader scrolling through the page would.
              (async () => {
                while (![...document.querySelectorAll('section.chart')].every((s) => s.dataset.loaded)) {
                  for (const s of document.querySelectorAll('section.chart')) {
                    if (s.dataset.loaded) continue;
                    s.scrollIntoView();
                    await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
                  }
                  await new Promise((r) => setTimeout(r, 20));
                }
              })();
              if (!check()) {
                const mo = new MutationObserver(() => { if (check()) mo.disconnect(); });
                mo.observe(document.body, {attributes: true, subtree: true, attributeFilter: ['data-loaded']});
              }
            """)
            out.append(result)
    finally:
        browser.quit()
    return {"cold_ms": round(out[0]["ms"], 1), "warm_ms": round(out[-1]["ms"], 1),
            "charts": out[0]["loaded"], "rows_rendered": out[0]["rows"], "row_count": out[0]["count"]}


def sse_latency(d, filler, db, probes):
    conn = http.client.HTTPConnection(d.host, int(d.port), timeout=30)
    conn.request("GET", "/api/events")
    resp = conn.getresponse()
    arrivals = []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            line = resp.fp.readline()
            if not line:
                return
            if line.startswith(b"event: trial"):
                arrivals.append(time.time())

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    time.sleep(1.0)
    latencies = []
    for _ in range(probes):
        before = len(arrivals)
        out = subprocess.run([filler, "--db", db, "--append-trial", "1"], capture_output=True, text=True, check=True)
        committed = json.loads(out.stdout.strip().splitlines()[-1])["committed_at"]
        deadline = time.time() + 10
        while len(arrivals) == before and time.time() < deadline:
            time.sleep(0.002)
        latencies.append(round((arrivals[before] - committed) * 1000.0, 1) if len(arrivals) > before else None)
        time.sleep(0.5)
    stop.set()
    conn.close()
    return latencies


def measure(label, hpt, filler, master_db, args, emit):
    work = tempfile.mkdtemp(prefix="hpt-dash-bench-")
    db = os.path.join(work, "bench.db")
    shutil.copy(master_db, db)
    d = Dashboard(hpt, db)
    try:
        _, _, body = d.get("/api/experiments")
        exp = [e for e in json.loads(body) if e["name"] == "bench"][0]["id"]
        _, _, body = d.get("/api/experiments/%d/leaderboard?top=1" % exp)
        trial = json.loads(body)[0]["trial"]
        routes = ["/api/experiments", "/api/experiments/%d" % exp, "/api/experiments/%d/table" % exp,
                  "/api/experiments/%d/table?sort=param:p1&order=desc&min.p0=0.001&max.p0=0.1" % exp,
                  "/api/experiments/%d/trials" % exp,
                  "/api/experiments/%d/leaderboard?top=50" % exp, "/api/trials/%d" % trial]
        routes += ["/api/experiments/%d/plots/%s.svg" % (exp, k)
                   for k in ("history", "parallel", "slice", "curves", "importance", "timeline")]
        routes += ["/api/experiments/%d/importance" % exp, "/api/experiments/%d/timeline" % exp]
        common = {"bench": "dashboard", "build": label, "trials": args.trials, "params": args.params}
        # The page first, on a fresh process: its cold figure is the first look anyone gets.
        paint = first_paint(d.base, exp)
        emit(dict(common, metric="first_paint", **paint))
        d.stop()
        d = Dashboard(hpt, db)
        for route in routes:
            cold, status, body = d.get(route)
            times = [d.get(route)[0] for _ in range(args.repeat)]
            emit(dict(common, metric="api", route=route.replace("/%d" % exp, "/{exp}", 1).replace("/%d" % trial, "/{trial}"),
                      status=status, bytes=len(body), cold_ms=round(cold, 1),
                      p50_ms=round(percentile(times, 50), 1), p99_ms=round(percentile(times, 99), 1), n=len(times)))
        lat = sse_latency(d, filler, db, args.probes)
        good = [x for x in lat if x is not None]
        emit(dict(common, metric="sse", latencies_ms=lat, p50_ms=percentile(good, 50), max_ms=max(good) if good else None))
        # The first answers after a commit (what a page's refetch on an event costs).
        subprocess.run([filler, "--db", db, "--append-trial", "1"], capture_output=True, check=True)
        time.sleep(0.6)  # past one poll interval
        for route in ("/api/experiments/%d/table" % exp, "/api/experiments/%d/trials" % exp,
                      "/api/experiments/%d/plots/history.svg" % exp, "/api/experiments/%d/plots/timeline.svg" % exp):
            ms, status, _ = d.get(route)
            emit(dict(common, metric="after_commit", route=route.replace("/%d" % exp, "/{exp}", 1), ms=round(ms, 1)))
        emit(dict(common, metric="rss", vmhwm_mb=round(d.vmhwm_mb(), 1)))
    finally:
        d.stop()
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hpt", default=os.path.join(ROOT, "build-rel/bin/hpt"))
    ap.add_argument("--baseline-hpt")
    ap.add_argument("--filler", default=os.path.join(ROOT, "build-rel/bin/hpt-plot-bench"))
    ap.add_argument("--trials", type=int, default=100000)
    ap.add_argument("--params", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--probes", type=int, default=5)
    ap.add_argument("--db", default=os.path.join(tempfile.gettempdir(), "hpt-dashboard-bench.db"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench/results/dashboard-2026-12-07.jsonl"))
    args = ap.parse_args()
    if not os.path.exists(args.db):
        subprocess.run([args.filler, "--db", args.db, "--trials", str(args.trials), "--params", str(args.params),
                        "--fill-only", "1"], check=True)
    out = open(args.out, "a")

    def emit(record):
        line = json.dumps(record)
        print(line, flush=True)
        out.write(line + "\n")
        out.flush()

    builds = [("this", args.hpt)] + ([("baseline", args.baseline_hpt)] if args.baseline_hpt else [])
    for label, hpt in builds:
        measure(label, hpt, args.filler, args.db, args, emit)


if __name__ == "__main__":
    main()
