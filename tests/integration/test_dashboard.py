"""hpt dashboard as users meet it: a real experiment run by a coordinator and a worker process,
the dashboard reading its SQLite file, a real headless Chromium driving the pages.

The browser tests need chromium, chromium-driver and python3-selenium (scripts/setup installs
them); without them they are SKIPPED, saying why. HPT_DASHBOARD_SHOTS=DIR saves a screenshot of
each page into DIR (docs/img/ holds the ones the docs show)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HPT, TRIAL, ClusterTest, hpt, wait_for, write_spec  # noqa: E402


def _import_selenium():
    """selenium, or the reason it cannot be used. Debian's python3-selenium lives in
    /usr/lib/python3/dist-packages, which another interpreter (a virtualenv, pyenv) does not search."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        debian = "/usr/lib/python3/dist-packages"
        if os.path.isdir(os.path.join(debian, "selenium")) and debian not in sys.path:
            sys.path.append(debian)
    try:
        from selenium import webdriver  # noqa: F401
        from selenium.webdriver.chrome.service import Service  # noqa: F401
    except ImportError as e:
        return None, "python3-selenium is not importable (%s); scripts/setup installs it" % e
    if not shutil.which("chromium") and not os.path.exists("/usr/bin/chromium"):
        return None, "chromium is not installed; scripts/setup installs it"
    if not os.path.exists("/usr/bin/chromedriver"):
        return None, "/usr/bin/chromedriver is missing (package chromium-driver); scripts/setup installs it"
    return webdriver, None


WEBDRIVER, NO_BROWSER = _import_selenium()
if NO_BROWSER:
    print("test_dashboard: BROWSER TESTS WILL BE SKIPPED: " + NO_BROWSER, file=sys.stderr, flush=True)


def spec(name, trials, parallel, sleep, steps=3):
    return f"""name: {name}
objective: {{metric: score, goal: maximize}}
strategy: {{type: random, seed: 3}}
parameters:
  - {{name: x, type: float, min: -2.0, max: 4.0}}
  - {{name: y, type: float, min: 0.01, max: 100.0, scale: log}}
  - {{name: opt, type: categorical, values: [sgd, adam]}}
static: {{epochs: 3}}
limits: {{max_trials: {trials}, max_parallel: {parallel}}}
trial:
  command: [python3, {TRIAL}, "--x={{x}}", "--y={{y}}", "--steps={steps}", "--sleep={sleep}"]
"""


class Dashboard:
    """`hpt dashboard` as a process; url is where it listens."""

    def __init__(self, db, *extra, env=None):
        source = ["--db", db] if db else []  # without one, extra names the coordinator
        self.proc = subprocess.Popen([HPT, "dashboard", *source, "--bind", "127.0.0.1:0", *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        line = self.proc.stdout.readline()
        prefix = "hpt dashboard listening on "
        if not line.startswith(prefix):
            self.proc.kill()
            raise AssertionError("dashboard did not start: %r %s" % (line, self.proc.stderr.read()))
        self.url = line[len(prefix):].strip()

    def get(self, path, headers=None):
        """(status, headers, body text) of GET url+path."""
        request = urllib.request.Request(self.url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                return r.status, r.headers, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode()

    def json(self, path):
        status, _, body = self.get(path)
        if status != 200:
            raise AssertionError("GET %s: %s %s" % (path, status, body))
        return json.loads(body)

    def stop(self):
        """SIGTERM; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return code


class DashboardTest(ClusterTest):
    def setUp(self):
        super().setUp()
        self.dashboards = []
        self.browser = None

    def tearDown(self):
        if self.browser:
            self.browser.quit()
        for d in self.dashboards:
            d.stop()
        super().tearDown()

    def run_experiment(self, name="dash", trials=4, parallel=2, sleep=0.0, wait=True, slots=2):
        c = self.cluster
        if not c.coordinator:
            c.start_coordinator()
            c.start_worker("w1", "--slots", slots)
        exp = c.submit(write_spec(self.tmp, spec(name, trials, parallel, sleep), name + ".yaml"))
        if wait:
            self.assertEqual(c.wait_done(exp)["status"], "completed")
        return exp

    def dashboard(self, *extra, env=None):
        d = Dashboard(self.cluster.db, *extra, env=env)
        self.dashboards.append(d)
        return d

    def cli_json(self, *args):
        return json.loads(hpt(*args, "--db", self.cluster.db, "--format", "json", check=True).stdout)

    def open_browser(self):
        if NO_BROWSER:
            self.skipTest("SKIPPED LOUDLY: " + NO_BROWSER)
        from selenium.webdriver.chrome.service import Service
        options = WEBDRIVER.ChromeOptions()
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1400,1000"):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.browser = WEBDRIVER.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        self.browser.set_page_load_timeout(20)
        return self.browser

    def console_errors(self):
        """The browser's SEVERE log lines since the last call."""
        return [e for e in self.browser.get_log("browser") if e["level"] == "SEVERE"]

    def marks(self, section):
        return self.browser.execute_script(
            "return [...document.querySelectorAll('#%s .chart-body .mark')].map(m => m.dataset.trial || m.dataset.param || m.dataset.experiment || '');" % section)

    def wait_for(self, what, predicate, timeout=10):
        return wait_for(what, predicate, timeout)

    def shot(self, name, full_page=False):
        folder = os.environ.get("HPT_DASHBOARD_SHOTS")
        if folder:
            os.makedirs(folder, exist_ok=True)
            if full_page:  # the whole page, charts included: a window as tall as the document
                size = self.browser.get_window_size()
                height = self.browser.execute_script("return document.documentElement.scrollHeight;")
                self.browser.set_window_size(size["width"], min(height + 120, 6000))
                time.sleep(0.3)
                self.browser.save_screenshot(os.path.join(folder, name))
                self.browser.set_window_size(size["width"], size["height"])
            else:
                self.browser.save_screenshot(os.path.join(folder, name))

    def rows(self):
        return self.browser.execute_script(
            "return [...document.querySelectorAll('#trials tbody tr')].map(r => [Number(r.dataset.trial), r.dataset.status]);")

    # ---- the API, without a browser

    def test_the_json_api_answers_what_the_cli_prints(self):
        exp = self.run_experiment()
        d = self.dashboard()
        self.assertEqual(d.json("/api/experiments"), self.cli_json("status"))
        self.assertEqual(d.json("/api/experiments/" + exp), self.cli_json("status", exp))
        self.assertEqual(d.json("/api/experiments/dash"), self.cli_json("status", "dash"))
        trials = self.cli_json("trials", exp)
        self.assertEqual(len(trials), 4)
        self.assertEqual(d.json("/api/experiments/%s/trials" % exp), trials)
        for t in trials:
            self.assertEqual(d.json("/api/trials/%d" % t["trial"]), self.cli_json("trial", t["trial"]))
        # The log route serves the tail of the attempt's log, from the path the store records.
        status, headers, body = d.get("/api/trials/%d/log?attempt=1" % trials[0]["trial"])
        self.assertEqual(status, 200)
        self.assertIn("hpt: step=3", body)
        self.assertTrue(headers["X-Log-Path"].startswith(self.tmp))
        for path in ("/api/trials/999999", "/api/experiments/nope", "/api/trials/%d/log?attempt=../../etc/passwd"
                     % trials[0]["trial"], "/api/nothing"):
            status, headers, body = d.get(path)
            self.assertIn(status, (400, 404), path)
            self.assertIn("error", json.loads(body), path)
        # Latency of the API on this store (printed, never asserted).
        start = time.perf_counter()
        for _ in range(50):
            d.get("/api/experiments/%s/trials" % exp)
        print("dashboard: GET /api/experiments/%s/trials, %d trials: %.2f ms mean over 50"
              % (exp, len(trials), (time.perf_counter() - start) * 1000 / 50), file=sys.stderr)
        self.assertEqual(d.stop(), 0)  # SIGTERM: a clean exit

    def test_a_dashboard_through_a_coordinator_answers_what_the_file_answers(self):
        exp = self.run_experiment(trials=5)
        local = self.dashboard()
        remote = Dashboard(None, "--coordinator", self.cluster.endpoint)
        self.dashboards.append(remote)
        trials = self.cli_json("trials", exp)
        for path in ["/api/experiments", "/api/experiments/" + exp, "/api/experiments/%s/trials" % exp,
                     "/api/experiments/%s/leaderboard" % exp, "/api/experiments/%s/table?sort=trial" % exp,
                     "/api/experiments/%s/importance" % exp, "/api/experiments/%s/timeline" % exp,
                     "/api/trials/%d" % trials[0]["trial"]]:
            self.assertEqual(remote.json(path), local.json(path), path)
        # The charts are the same charts, drawn from the coordinator's answers.
        for kind in ("history", "parallel", "slice", "curves", "importance", "timeline"):
            path = "/api/experiments/%s/plots/%s.svg" % (exp, kind)
            self.assertEqual(remote.get(path)[2], local.get(path)[2], path)
            by_coordinator = hpt("plot", exp, "--kind", kind, "--coordinator", self.cluster.endpoint, check=True).stdout
            self.assertEqual(by_coordinator, hpt("plot", exp, "--kind", kind, "--db", self.cluster.db, check=True).stdout)
        status, _, body = remote.get("/api/experiments/999")
        self.assertEqual(status, 404)
        # A new experiment shows through the coordinator without a restart.
        other = self.run_experiment(name="dash-later", trials=2)
        wait_for("the new experiment through the coordinator",
                 lambda: any(str(e["id"]) == other for e in remote.json("/api/experiments")), timeout=10)
        self.assertEqual(remote.stop(), 0)

    def test_a_running_attempts_log_can_be_read_while_it_runs(self):
        exp = self.run_experiment(name="dash-running", trials=1, parallel=1, sleep=9, wait=False)
        d = self.dashboard()

        def running():
            rows = d.json("/api/experiments/%s/trials" % exp)
            return rows[0] if rows and rows[0]["status"] == "running" else None
        wait_for("the trial to start", running)
        trial = running()["trial"]
        # The worker said where its work dir is, so the run's log path is absolute from the start.
        run = [c for c in d.json("/api/trials/%d" % trial)["components"] if c["kind"] == "run"][0]
        self.assertTrue(run["log_path"].startswith(self.tmp), run["log_path"])

        def first_line():
            status, _, body = d.get("/api/trials/%d/log" % trial)
            return status == 200 and "hpt: step=1" in body
        wait_for("the running attempt's first line", first_line, timeout=10)
        self.assertEqual(d.json("/api/trials/%d" % trial)["status"], "running")

    def test_a_token_protected_dashboard_refuses_requests_without_it(self):
        self.run_experiment(trials=1, parallel=1)
        token_file = os.path.join(self.tmp, "token")
        with open(token_file, "w") as f:
            f.write("correct-horse-battery\n")
        d = self.dashboard("--token", token_file)
        status, headers, body = d.get("/api/experiments")
        self.assertEqual(status, 401)
        self.assertIn("token", json.loads(body)["error"])
        self.assertEqual(d.get("/api/experiments", {"Authorization": "Bearer wrong"})[0], 401)
        self.assertEqual(d.get("/api/experiments", {"Authorization": "Bearer correct-horse-battery"})[0], 200)
        self.assertEqual(d.get("/", {"Cookie": "hpt_token=correct-horse-battery"})[0], 200)
        # The environment variable works as well as the file.
        env = dict(os.environ, HPT_DASHBOARD_TOKEN="from-env")
        e = self.dashboard(env=env)
        self.assertEqual(e.get("/api/experiments")[0], 401)
        self.assertEqual(e.get("/api/experiments", {"Authorization": "Bearer from-env"})[0], 200)
        # Any address other than loopback needs a token.
        r = hpt("dashboard", "--db", self.cluster.db, "--bind", "0.0.0.0:0")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--token", r.stderr)
        if not NO_BROWSER:
            browser = self.open_browser()
            browser.get(d.url + "/?token=correct-horse-battery")  # sets the cookie, drops the token
            self.wait_for("the experiments table", lambda: browser.execute_script(
                "return document.querySelectorAll('#experiments tbody tr').length") == 1)
            self.assertNotIn("token", browser.current_url)
            self.assertEqual(self.console_errors(), [])

    def test_events_reach_a_client_within_a_second_of_the_commit(self):
        exp = self.run_experiment(name="slow", trials=3, parallel=1, sleep=1.0, wait=False, slots=1)
        d = self.dashboard()
        import http.client
        host, port = d.url[len("http://"):].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=20)
        conn.request("GET", "/api/events")
        response = conn.getresponse()
        self.assertEqual(response.status, 200)
        self.assertEqual(response.getheader("Content-Type"), "text/event-stream")
        lags = []
        event = None
        deadline = time.time() + 30
        while len(lags) < 2 and time.time() < deadline:
            line = response.fp.readline().decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[len("event: "):]
            elif line.startswith("data: ") and event == "trial":
                data = json.loads(line[len("data: "):])
                if data["status"] == "completed":
                    arrived = time.time()
                    ended = d.json("/api/trials/%d" % data["trial_id"])["ended_at"]
                    lags.append(arrived - ended)
                    self.assertEqual(str(data["experiment_id"]), exp)
        conn.close()
        self.assertEqual(len(lags), 2, "two completed-trial events within 30 s")
        print("dashboard: event lag after the commit: %s s" % ", ".join("%.3f" % x for x in lags), file=sys.stderr)
        self.assertLess(max(lags), 1.0)

    # ---- the pages, in a real browser

    def test_pages_load_without_console_errors_and_the_leaderboard_is_the_trial_list(self):
        if NO_BROWSER:
            self.skipTest("SKIPPED LOUDLY: " + NO_BROWSER)
        self.run_experiment(name="dash-other", trials=3)
        exp = self.run_experiment(trials=6)
        d = self.dashboard()
        browser = self.open_browser()
        browser.get(d.url + "/")
        self.wait_for("the experiments table", lambda: browser.execute_script(
            "return document.querySelectorAll('#experiments tbody tr').length") == 2)
        self.wait_for("the live indicator", lambda: browser.execute_script(
            "return document.getElementById('live').textContent") == "live")
        self.shot("dashboard-experiments.png")
        self.assertEqual(self.console_errors(), [])

        trials = self.cli_json("trials", exp)
        browser.get(d.url + "/experiments/" + exp)
        self.wait_for("the leaderboard", lambda: len(self.rows()) == len(trials))
        self.assertEqual(sorted(self.rows()), sorted([t["trial"], t["status"]] for t in trials))
        # Best first for the goal, by default.
        objectives = browser.execute_script(
            "return [...document.querySelectorAll('#trials tbody tr')].map(r => r.dataset.trial);")
        best = self.cli_json("leaderboard", exp)
        self.assertEqual([int(t) for t in objectives], [t["trial"] for t in best])
        # Sorting by a header, and filtering by status.
        # (The server sorts and filters: each change is a request, so the checks wait for its answer.)
        browser.execute_script("document.querySelector('#trials th[data-key=\"trial\"]').click();")
        self.wait_for("rows by trial id", lambda: [r[0] for r in self.rows()] == sorted(t["trial"] for t in trials))
        browser.execute_script("document.querySelector('#trials th[data-key=\"trial\"]').click();")
        self.wait_for("rows by trial id, descending",
                      lambda: [r[0] for r in self.rows()] == sorted((t["trial"] for t in trials), reverse=True))
        browser.execute_script("const s = document.getElementById('filter-status'); s.value = 'failed';"
                               "s.dispatchEvent(new Event('change'));")
        self.wait_for("no failed rows", lambda: self.rows() == [])
        browser.execute_script("document.getElementById('filters').reset();")
        self.wait_for("the rows back", lambda: len(self.rows()) == len(trials))
        # Every chart is drawn once scrolled into view, with a mark per trial (or attempt) it shows.
        sections = ["chart-history", "chart-parallel", "chart-slice", "chart-curves", "chart-importance",
                    "chart-timeline", "chart-compare"]
        self.assertEqual(browser.execute_script(
            "return [...document.querySelectorAll('section.chart')].map(s => s.id);"), sections)
        for section in sections:
            browser.execute_script("document.getElementById(arguments[0]).scrollIntoView();", section)
            self.wait_for(section, lambda: browser.execute_script(
                "return document.getElementById(arguments[0]).dataset.loaded;", section))
        self.assertEqual(browser.execute_script(
            "return [...document.querySelectorAll('section.chart')].map(s => s.dataset.loaded);"), ["yes"] * 7)
        ids = sorted(str(t["trial"]) for t in trials)
        ended = [t for t in trials if t["status"] in ("completed", "failed", "stopped")]
        completed = [t for t in trials if t["status"] == "completed"]
        self.assertEqual(len(ended), len(trials))
        self.assertEqual(sorted(self.marks("chart-history")), ids)
        self.assertEqual(sorted(self.marks("chart-parallel")), sorted(str(t["trial"]) for t in completed))
        self.assertEqual(len(self.marks("chart-slice")), 3 * len(completed))
        self.assertEqual(sorted(self.marks("chart-timeline")),
                         sorted(str(t["trial"]) for t in trials for _ in range(t["attempt"])))
        self.assertEqual(len(self.marks("chart-compare")), 2)  # this experiment and the other one
        self.assertIn("dash-other", browser.execute_script("return document.getElementById('compare-with').textContent"))
        # Brushing the objective axis of the parallel coordinates filters the table, and the table's
        # rows are the lines left undimmed; a click on the axis clears it.
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.by import By
        browser.execute_script("document.getElementById('chart-parallel').scrollIntoView();")
        grip = browser.find_elements(By.CSS_SELECTOR, "#chart-parallel rect.brush-grip")[-1]
        height = grip.size["height"]
        ActionChains(browser).move_to_element_with_offset(grip, 0, -height / 2 + 1).click_and_hold() \
            .move_by_offset(0, height / 2).release().perform()
        self.wait_for("the brushed rows", lambda: 0 < len(self.rows()) < len(trials))
        kept = sorted(str(r[0]) for r in self.rows())
        undimmed = browser.execute_script(
            "return [...document.querySelectorAll('#chart-parallel .mark:not(.dimmed)')].map(m => m.dataset.trial);")
        self.assertEqual(sorted(undimmed), kept)
        best_objective = max(t["objective"] for t in completed)
        self.assertIn(str(next(t["trial"] for t in completed if t["objective"] == best_objective)), kept)
        self.assertIn("brushed: ", browser.execute_script("return document.getElementById('brush-note').textContent"))
        ActionChains(browser).move_to_element(grip).click().perform()
        self.wait_for("all rows back", lambda: len(self.rows()) == len(trials))
        browser.execute_script("window.scrollTo(0, 0);")
        self.shot("dashboard-experiment.png", full_page=True)
        self.assertEqual(self.console_errors(), [])

        top = best[0]["trial"]
        browser.get(d.url + "/trials/%d" % top)
        self.wait_for("the metric charts", lambda: browser.execute_script(
            "return [...document.querySelectorAll('#metrics .metric')].map(m => m.dataset.metric).sort();")
            == ["loss", "score"])
        self.wait_for("the log", lambda: "hpt: step=3" in browser.execute_script(
            "return document.getElementById('log').textContent"))
        self.assertEqual(browser.execute_script("return document.querySelectorAll('#attempts tbody tr').length"), 1)
        self.shot("dashboard-trial.png")
        self.assertEqual(self.console_errors(), [])
        status, _, _ = d.get("/trials/999999")
        self.assertEqual(status, 404)

    def test_the_trial_page_shows_what_the_trial_reported_and_its_user_components(self):
        if NO_BROWSER:
            self.skipTest("SKIPPED LOUDLY: " + NO_BROWSER)
        db = self.cluster.db
        hpt("component", "create", "fmnist-v1", "--kind", "dataset", "--db", db, check=True)
        program = os.path.join(self.tmp, "reporting.py")
        with open(program, "w") as f:
            f.write("import os\n"
                    "open(os.path.join(os.environ['HPT_TRIAL_DIR'], 'model.bin'), 'wb').write(b'w' * 4096)\n"
                    "print('hpt: param seed=42')\n"
                    "print('hpt: artifact output model=model.bin')\n"
                    "print('hpt: artifact input data=s3://bucket/fmnist')\n"
                    "print('hpt: step=1 val_acc=0.5')\n")
        hpt("track", "--experiment", "by-hand", "--param", "lr=0.1", "--component", "fmnist-v1", "--db", db,
            "--work-dir", os.path.join(self.tmp, "runs"), "--", "python3", program, check=True, cwd=self.tmp)
        trial = self.cli_json("trials", "by-hand")[0]["trial"]
        detail = self.cli_json("trial", trial)
        model = next(a for c in detail["components"] if c["kind"] == "run" for a in c["data"]["artifacts"]
                     if a["name"] == "model")
        d = self.dashboard()
        browser = self.open_browser()
        browser.get(d.url + "/trials/%d" % trial)
        self.wait_for("the artifacts", lambda: browser.execute_script(
            "return [...document.querySelectorAll('#artifacts tbody tr')].map(r => r.dataset.artifact).sort();")
            == ["data", "model"])
        cells = browser.execute_script(
            "return [...document.querySelectorAll('#artifacts tr[data-artifact=model] td')].map(c => c.textContent);")
        self.assertEqual(cells, ["1", "output", "model", model["location"], "4096", model["sha256"]])
        self.assertEqual(browser.execute_script(
            "return [...document.querySelectorAll('#run-params tbody tr')].map(r => r.textContent);"), ["1seed42"])
        self.assertEqual(browser.execute_script(
            "return [...document.querySelectorAll('#user-components tbody td')].map(c => c.textContent);"),
            [str(detail["user_components"][0]["id"]), "fmnist-v1", "dataset"])
        self.shot("dashboard-trial-reported.png", full_page=True)
        self.assertEqual(self.console_errors(), [])

    def test_a_trial_that_completes_while_the_page_is_open_appears_without_reload(self):
        if NO_BROWSER:
            self.skipTest("SKIPPED LOUDLY: " + NO_BROWSER)
        exp = self.run_experiment(name="slow", trials=3, parallel=1, sleep=1.5, wait=False, slots=1)
        d = self.dashboard()
        browser = self.open_browser()
        browser.get(d.url + "/experiments/" + exp)
        self.wait_for("the live stream", lambda: browser.execute_script(
            "return document.getElementById('live').textContent") == "live")
        browser.execute_script("window.__still_the_same_page = true;")
        completed = lambda: sorted(t for t, s in self.rows() if s == "completed")  # noqa: E731
        before = completed()
        after = self.wait_for("a newly completed row", lambda: completed() != before and completed(), timeout=20)
        self.assertTrue(set(before) < set(after), (before, after))
        self.assertTrue(browser.execute_script("return window.__still_the_same_page === true;"), "the page reloaded")
        self.cluster.wait_done(exp)
        self.wait_for("every row completed", lambda: len(completed()) == 3, timeout=10)
        self.wait_for("the experiment's status", lambda: browser.execute_script(
            "return document.querySelector('#exp-status .badge').textContent") == "completed")
        self.assertEqual(self.console_errors(), [])


if __name__ == "__main__":
    unittest.main()
