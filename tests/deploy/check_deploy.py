#!/usr/bin/python3
"""Checks of configs/deploy/ with what a build machine has (no Docker daemon, no cluster):

- the systemd units pass `systemd-analyze verify` (skipped, saying why, without systemd-analyze);
- every flag the units, the Dockerfile and the Kubernetes manifests pass to `hpt` exists in that
  subcommand's --help, and the paths they give live on the volumes they mount;
- the Dockerfile's runtime packages are scripts/setup's runtime set, and that set provides every
  shared library `hpt` loads (dpkg's own records of this machine);
- the stop timeouts leave the worker its --kill-grace and the 2 s it waits for acknowledgements.

Run by ctest as deploy_check with HPT_BIN set to the built hpt.
"""
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import unittest

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEPLOY = os.path.join(ROOT, "configs", "deploy")
HPT = os.environ.get("HPT_BIN", os.path.join(ROOT, "build", "bin", "hpt"))
UNITS = ("hpt-coordinator.service", "hpt-worker@.service")
MANIFESTS = ("coordinator.yaml", "worker.yaml")
# Libraries every Debian bookworm-slim image has (they are Essential or apt's own dependencies).
BASE_IMAGE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6"}
# What the worker waits after its trials end for the coordinator's acknowledgements (worker.cc).
WORKER_ACK_WAIT_S = 2
DEFAULT_KILL_GRACE_S = 5


def read(path):
    with open(path) as f:
        return f.read()


_help_cache = {}


def flags_of(subcommand):
    """The long options `hpt SUBCOMMAND --help` lists."""
    if subcommand not in _help_cache:
        out = subprocess.run([HPT, subcommand, "--help"], check=True, stdout=subprocess.PIPE, text=True).stdout
        _help_cache[subcommand] = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", out))
    return _help_cache[subcommand]


def option_values(args):
    """{--flag: value} of an argument list (a flag followed by a non-flag takes it as value)."""
    values = {}
    for i, a in enumerate(args):
        if a.startswith("--"):
            nxt = args[i + 1] if i + 1 < len(args) and not args[i + 1].startswith("--") else None
            values[a] = nxt
    return values


def unit_exec_start(unit):
    lines = [l for l in read(os.path.join(DEPLOY, unit)).splitlines() if l.startswith("ExecStart=")]
    assert len(lines) == 1, f"{unit}: expected one ExecStart="
    return shlex.split(lines[0][len("ExecStart="):])


def unit_setting(unit, key):
    values = [l.split("=", 1)[1] for l in read(os.path.join(DEPLOY, unit)).splitlines() if l.startswith(key + "=")]
    return values[-1] if values else None


def manifests():
    docs = []
    for name in MANIFESTS:
        with open(os.path.join(DEPLOY, "kubernetes", name)) as f:
            docs.extend((name, d) for d in yaml.safe_load_all(f) if d is not None)
    return docs


def pod_specs():
    for name, d in manifests():
        if d["kind"] in ("StatefulSet", "Deployment", "Job"):
            yield name, d, d["spec"]["template"]["spec"]


def dockerfile_stages():
    """{stage name: its text} of configs/deploy/Dockerfile."""
    stages, name, lines = {}, None, []
    for line in read(os.path.join(DEPLOY, "Dockerfile")).splitlines():
        m = re.match(r"FROM\s+\S+(?:\s+AS\s+(\S+))?", line, re.I)
        if m:
            if name is not None:
                stages[name] = "\n".join(lines)
            name, lines = m.group(1) or str(len(stages)), []
        lines.append(line)
    stages[name] = "\n".join(lines)
    return stages


def setup_runtime_set():
    out = subprocess.run([os.path.join(ROOT, "scripts", "setup"), "--list-runtime"], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return out.split()


class Units(unittest.TestCase):
    def test_units_pass_systemd_analyze_verify(self):
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            self.skipTest("SKIPPED LOUDLY: systemd-analyze is not installed (Debian package systemd); "
                          "the units were not verified")
        # verify refuses an ExecStart binary that does not exist: point it at the built one. A
        # template is verified through instances: a GPU list (its ',' escaped), and CPU slots. Each
        # unit gets a directory of its own, so that a warning names the unit it is about.
        units = {"hpt-coordinator.service": "hpt-coordinator.service"}
        for gpus in ("0,1", "none"):
            name = subprocess.run(["systemd-escape", "--template", "hpt-worker@.service", gpus], check=True,
                                  stdout=subprocess.PIPE, text=True).stdout.strip()
            units[name] = "hpt-worker@.service"
        for unit, source in units.items():
            with self.subTest(unit=unit), tempfile.TemporaryDirectory(prefix="hpt-units-") as tmp:
                text = read(os.path.join(DEPLOY, source)).replace("/usr/local/bin/hpt", os.path.abspath(HPT))
                with open(os.path.join(tmp, unit), "w") as f:
                    f.write(text)
                r = subprocess.run([analyze, "verify", "--man=no", os.path.join(tmp, unit)],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                # Unknown keys are warnings with exit 0: any output at all is a failure.
                self.assertEqual((r.returncode, r.stdout.strip()), (0, ""), unit)

    def test_unit_command_lines_use_only_flags_hpt_has(self):
        for unit in UNITS:
            with self.subTest(unit=unit):
                args = unit_exec_start(unit)
                self.assertEqual(args[0], "/usr/local/bin/hpt")
                subcommand = args[1]
                for flag in option_values(args[2:]):
                    self.assertIn(flag, flags_of(subcommand), f"{unit}: hpt {subcommand} has no {flag}")

    def test_the_worker_template_passes_its_instance_as_gpus(self):
        values = option_values(unit_exec_start("hpt-worker@.service")[2:])
        self.assertEqual(values["--gpus"], "%I")

    def test_units_are_hardened_and_keep_their_state_in_a_state_directory(self):
        for unit in UNITS:
            with self.subTest(unit=unit):
                for key, value in (("ProtectSystem", "strict"), ("PrivateTmp", "yes"), ("NoNewPrivileges", "yes"),
                                   ("DynamicUser", "yes"), ("Restart", "on-failure"), ("KillSignal", "SIGTERM")):
                    self.assertEqual(unit_setting(unit, key), value, f"{unit}: {key}")
                state = unit_setting(unit, "StateDirectory")
                self.assertIsNotNone(state)
                paths = [v for k, v in option_values(unit_exec_start(unit)[2:]).items() if k in ("--db", "--work-dir")]
                self.assertTrue(paths)
                for path in paths:
                    self.assertTrue(path.startswith(f"%S/{state}/"), f"{unit}: {path} is outside StateDirectory")

    def test_the_worker_unit_waits_for_trials_to_be_handed_back(self):
        values = option_values(unit_exec_start("hpt-worker@.service")[2:])
        grace = float(values.get("--kill-grace") or DEFAULT_KILL_GRACE_S)
        self.assertGreater(float(unit_setting("hpt-worker@.service", "TimeoutStopSec")), grace + WORKER_ACK_WAIT_S)
        # SIGTERM to the worker alone: it stops its trials itself and reports them handed back.
        self.assertEqual(unit_setting("hpt-worker@.service", "KillMode"), "mixed")


class Kubernetes(unittest.TestCase):
    def test_manifests_parse_and_hold_what_the_deployment_needs(self):
        kinds = {(name, d["kind"]) for name, d in manifests()}
        self.assertEqual(kinds, {("coordinator.yaml", "Service"), ("coordinator.yaml", "StatefulSet"),
                                 ("worker.yaml", "Deployment")})
        for name, d in manifests():
            self.assertIn("apiVersion", d)
            self.assertIn("name", d["metadata"])
        sts = next(d for _, d in manifests() if d["kind"] == "StatefulSet")
        self.assertEqual(sts["spec"]["replicas"], 1)  # one writer per store
        self.assertTrue(sts["spec"]["volumeClaimTemplates"])
        service = next(d for _, d in manifests() if d["kind"] == "Service")
        self.assertEqual(service["spec"]["selector"], sts["spec"]["template"]["metadata"]["labels"])
        worker = next(d for _, d in manifests() if d["kind"] == "Deployment")
        limits = worker["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
        self.assertIn("nvidia.com/gpu", limits)

    def test_container_args_use_only_flags_hpt_has(self):
        for name, d, pod in pod_specs():
            for c in pod["containers"]:
                with self.subTest(manifest=name, container=c["name"]):
                    args = [str(a) for a in c["args"]]
                    for flag in option_values(args[1:]):
                        self.assertIn(flag, flags_of(args[0]), f"{name}: hpt {args[0]} has no {flag}")

    def test_paths_in_args_lie_on_mounted_volumes_and_keys_come_from_secrets(self):
        for name, d, pod in pod_specs():
            volumes = {v["name"]: v for v in pod["volumes"]}
            claims = {t["metadata"]["name"] for t in d["spec"].get("volumeClaimTemplates", [])}
            for c in pod["containers"]:
                mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
                values = option_values([str(a) for a in c["args"]])
                for flag in ("--db", "--work-dir", "--curve"):
                    if values.get(flag) is None:
                        continue
                    with self.subTest(manifest=name, flag=flag):
                        path = values[flag]
                        mount = next((m for m in mounts if path == m or path.startswith(m.rstrip("/") + "/")), None)
                        self.assertIsNotNone(mount, f"{name}: {flag} {path} is on no mounted volume")
                        self.assertTrue(mounts[mount] in volumes or mounts[mount] in claims)
                        if flag == "--db":
                            self.assertIn(mounts[mount], claims, "the store must be on the PersistentVolumeClaim")
                        if flag == "--curve":
                            v = volumes[mounts[mount]]
                            self.assertTrue("secret" in v or all("secret" in s for s in v["projected"]["sources"]))

    def test_a_workers_key_files_are_the_ones_its_args_name(self):
        worker = next(pod for _, d, pod in pod_specs() if d["kind"] == "Deployment")
        values = option_values([str(a) for a in worker["containers"][0]["args"]])
        key = values["--key"]
        items = {i["path"] for i in next(v for v in worker["volumes"] if v["name"] == "curve")["secret"]["items"]}
        self.assertEqual(items, {f"{key}.key", f"{key}.pub", "coordinator.pub"})
        coordinator = next(pod for _, d, pod in pod_specs() if d["kind"] == "StatefulSet")
        paths = {i["path"] for s in next(v for v in coordinator["volumes"] if v["name"] == "curve")["projected"]["sources"]
                 for i in s["secret"]["items"]}
        self.assertIn(f"workers/{key}.pub", paths)
        self.assertTrue({"coordinator.key", "coordinator.pub"} <= paths)

    def test_the_worker_pod_waits_for_trials_to_be_handed_back(self):
        worker = next(pod for _, d, pod in pod_specs() if d["kind"] == "Deployment")
        values = option_values([str(a) for a in worker["containers"][0]["args"]])
        grace = float(values.get("--kill-grace") or DEFAULT_KILL_GRACE_S)
        self.assertGreater(worker["terminationGracePeriodSeconds"], grace + WORKER_ACK_WAIT_S)


class Docker(unittest.TestCase):
    def test_the_runtime_stage_installs_exactly_the_setup_runtime_set(self):
        stages = dockerfile_stages()
        self.assertEqual(set(stages), {"build", "runtime"})
        m = re.search(r"apt-get install ((?:[^\n]*\\\n)*[^\n]*)", stages["runtime"])
        self.assertIsNotNone(m, "the runtime stage installs nothing with apt-get")
        words = m.group(1).replace("\\\n", " ").split("&&")[0].split()
        installed = [w for w in words if not w.startswith("-")]
        self.assertEqual(sorted(installed), sorted(setup_runtime_set()))

    def test_the_build_stage_installs_with_scripts_setup_and_builds_hpt(self):
        build = dockerfile_stages()["build"]
        self.assertRegex(build, r"RUN scripts/setup\b")
        self.assertIn("FROM debian:bookworm AS build", build)
        self.assertIn("ninja -C build hpt", build)
        runtime = dockerfile_stages()["runtime"]
        self.assertIn("FROM debian:bookworm-slim AS runtime", runtime)
        self.assertIn("COPY --from=build", runtime)

    def test_the_entrypoint_is_hpt_under_tini(self):
        runtime = dockerfile_stages()["runtime"]
        self.assertIn('ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/hpt"]', runtime)
        self.assertIn("tini", setup_runtime_set())

    def test_the_runtime_set_provides_every_library_hpt_loads(self):
        if shutil.which("dpkg-query") is None or shutil.which("ldd") is None:
            self.skipTest("SKIPPED LOUDLY: no dpkg-query/ldd here; the runtime set was not checked against hpt")
        out = subprocess.run(["ldd", HPT], check=True, stdout=subprocess.PIPE, text=True).stdout
        libraries = [os.path.realpath(m) for m in re.findall(r"=> (/\S+)", out)]
        self.assertTrue(libraries)
        closure, todo = set(), list(setup_runtime_set()) + sorted(BASE_IMAGE_PACKAGES)
        while todo:
            package = todo.pop()
            if package in closure:
                continue
            closure.add(package)
            r = subprocess.run(["dpkg-query", "-W", "-f=${Depends}, ${Pre-Depends}", package],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            for alternative in r.stdout.split(","):
                name = alternative.split("|")[0].strip().split(" ")[0].split(":")[0]
                if name:
                    todo.append(name)
        for library in libraries:
            with self.subTest(library=library):
                r = subprocess.run(["dpkg-query", "-S", library], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                   text=True)
                if r.returncode != 0:  # /usr/lib vs /lib (merged /usr): ask for the other spelling
                    other = library[4:] if library.startswith("/usr/") else "/usr" + library
                    r = subprocess.run(["dpkg-query", "-S", other], stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL, text=True)
                self.assertEqual(r.returncode, 0, f"no package owns {library}")
                package = r.stdout.split(":")[0]
                self.assertIn(package, closure, f"{library} comes from {package}, which the runtime set lacks")


if __name__ == "__main__":
    unittest.main(verbosity=2)
