#!/usr/bin/env python3
"""First paint of several dashboard builds measured side by side, for a shared, noisy machine.

run.py measures each build once; here the builds take turns, so that load from elsewhere falls on
all of them alike:
  cold   run.py's first_paint on a fresh dashboard and a fresh browser (its cold figure), N times
         per build, builds alternating; with it the server alone: a fresh dashboard, the 9 API
         requests the page makes asked at once, until the last answer (server_all_answers_ms)
  warm   every build's dashboard up and warmed, one browser loading the page from each in turn
Usage: bench/dashboard/paint_ab.py --db STORE [--runs 6] [--warm-runs 12] HPT [HPT ...]
(STORE: run.py's store, e.g. one filled by hpt-plot-bench --fill-only 1; experiment 1.)
"""
import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402

PAGE = ["/api/experiments/1", "/api/experiments/1/table?sort=objective&order=best&limit=100", "/api/experiments"] + \
       ["/api/experiments/1/plots/%s.svg?max_marks=1000" % k
        for k in ("history", "parallel", "slice", "curves", "importance", "timeline")]


def copy_of(master):
    work = tempfile.mkdtemp(prefix="hpt-paint-ab-")
    db = os.path.join(work, "bench.db")
    shutil.copy(master, db)
    return work, db


def server_all_answers(hpt, db):
    start = time.perf_counter()
    d = run.Dashboard(hpt, db)

    def get(path):
        c = http.client.HTTPConnection(d.host, int(d.port), timeout=60)
        c.request("GET", path)
        c.getresponse().read()
        c.close()

    threads = [threading.Thread(target=get, args=(p,)) for p in PAGE]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ms = (time.perf_counter() - start) * 1000.0
    d.stop()
    return round(ms, 1)


def warm_turns(master, builds, runs):
    sys.path.append("/usr/lib/python3/dist-packages")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "run.py")) as f:
        script = re.search(r'execute_async_script\("""(.*?)"""\)', f.read(), re.S).group(1)
    dashboards, works = [], []
    for hpt in builds:
        work, db = copy_of(master)
        works.append(work)
        dashboards.append(run.Dashboard(hpt, db))
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,7000"):
        options.add_argument(arg)
    browser = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    browser.set_script_timeout(120)
    out = {hpt: [] for hpt in builds}
    try:
        for d in dashboards:  # the first load of each is its cold one: not counted
            browser.get("http://%s/experiments/1" % d.base)
            browser.execute_async_script(script)
        for _ in range(runs):
            for hpt, d in zip(builds, dashboards):
                browser.get("http://%s/experiments/1" % d.base)
                out[hpt].append(round(browser.execute_async_script(script)["ms"], 1))
    finally:
        browser.quit()
        for d in dashboards:
            d.stop()
        for work in works:
            shutil.rmtree(work, ignore_errors=True)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--runs", type=int, default=6)
    ap.add_argument("--warm-runs", type=int, default=12)
    ap.add_argument("builds", nargs="+")
    args = ap.parse_args()
    cold = {hpt: {"cold_ms": [], "server_all_answers_ms": []} for hpt in args.builds}
    for i in range(args.runs):
        for hpt in args.builds:
            work, db = copy_of(args.db)
            d = run.Dashboard(hpt, db)
            paint = run.first_paint(d.base, 1)
            d.stop()
            shutil.rmtree(work, ignore_errors=True)
            work, db = copy_of(args.db)
            server = server_all_answers(hpt, db)
            shutil.rmtree(work, ignore_errors=True)
            cold[hpt]["cold_ms"].append(paint["cold_ms"])
            cold[hpt]["server_all_answers_ms"].append(server)
            print(json.dumps({"bench": "dashboard-ab", "build": hpt, "i": i, "cold_ms": paint["cold_ms"],
                              "server_all_answers_ms": server, "load": round(os.getloadavg()[0], 2)}), flush=True)
    warm = warm_turns(args.db, args.builds, args.warm_runs) if args.warm_runs else {}
    for hpt in args.builds:
        summary = {"bench": "dashboard-ab", "build": hpt}
        for name, values in list(cold[hpt].items()) + [("warm_ms", warm.get(hpt, []))]:
            if values:
                summary[name] = {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}
        print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
