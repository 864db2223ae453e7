"""A real single-node Slurm for tests: munged, slurmctld and slurmd on this machine, each with its
files (config, state, spool, logs, munge socket) in a temp dir, so nothing of the host's own Slurm or
munge setup is used or touched. Every Slurm command must run with SLURM_CONF=cluster.conf (env()).

SlurmCluster.start() raises Unavailable with the exact reason when the daemons cannot start here
(not root, a program missing, a daemon that exits or never answers); tests skip with that reason.
"""
import os
import shutil
import signal
import socket
import subprocess
import time


class Unavailable(Exception):
    """Why a real Slurm cannot run on this machine."""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _node_line():
    """This machine as `slurmd -C` describes it: "NodeName=vm CPUs=2 ... RealMemory=24105"."""
    r = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, timeout=30)
    for line in r.stdout.splitlines():
        if line.startswith("NodeName="):
            return line.strip()
    raise Unavailable("`slurmd -C` did not describe this node: %r %r" % (r.stdout, r.stderr))


class SlurmCluster:
    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "slurm")
        self.conf = os.path.join(self.dir, "slurm.conf")
        self.munge_socket = os.path.join(self.dir, "munge.socket")
        self.procs = {}  # name -> Popen of the daemons we started
        self.node = None

    def env(self, base=None):
        env = dict(os.environ if base is None else base)
        env["SLURM_CONF"] = self.conf
        return env

    def run(self, *args, timeout=30):
        return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, env=self.env())

    def start(self):
        if os.geteuid() != 0:
            raise Unavailable("slurmd and munged must run as root here (they switch to job users); euid is %d"
                              % os.geteuid())
        for program in ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo"):
            if shutil.which(program) is None:
                raise Unavailable("%s is not installed (scripts/setup installs slurm-wlm and munge)" % program)
        os.makedirs(self.dir, mode=0o755)
        for sub in ("state", "spool", "munge"):
            os.makedirs(os.path.join(self.dir, sub), mode=0o700)
        # munge: its own key (0400, owned by the user munged runs as: root here) and socket.
        key = os.path.join(self.dir, "munge", "munge.key")
        with open(key, "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(key, 0o400)
        self._spawn("munged", ["munged", "--foreground", "--force", "--socket=" + self.munge_socket,
                               "--key-file=" + key, "--pid-file=" + os.path.join(self.dir, "munge", "pid"),
                               "--seed-file=" + os.path.join(self.dir, "munge", "seed"),
                               "--log-file=" + os.path.join(self.dir, "munged.log")])
        self._wait(lambda: os.path.exists(self.munge_socket), "munged", 15)

        node = _node_line()
        name = node.split()[0].split("=", 1)[1]
        self.node = name
        host = socket.gethostname()
        if name != host.split(".")[0]:
            raise Unavailable("slurmd -C names this node %r but the hostname is %r" % (name, host))
        # ThreadsPerCore etc. stay as slurmd -C says; CR_CPU hands out single CPUs, so a 2-CPU box runs two
        # 1-CPU array tasks at once.
        fields = " ".join(f for f in node.split() if not f.startswith("UpTime"))
        with open(self.conf, "w") as f:
            f.write(f"""ClusterName=hpttest
SlurmctldHost={name}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket}
StateSaveLocation={self.dir}/state
SlurmdSpoolDir={self.dir}/spool
SlurmctldPidFile={self.dir}/slurmctld.pid
SlurmdPidFile={self.dir}/slurmd.pid
SlurmctldLogFile={self.dir}/slurmctld.log
SlurmdLogFile={self.dir}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
KillWait=10
InactiveLimit=0
MinJobAge=2
SlurmctldTimeout=30
SlurmdTimeout=30
SchedulerParameters=sched_interval=1
{fields} NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes={name} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
""")
        self._spawn("slurmctld", ["slurmctld", "-D", "-i", "-f", self.conf])
        self._wait(lambda: self.run("sinfo", "-h").returncode == 0, "slurmctld", 30)
        self._spawn("slurmd", ["slurmd", "-D", "-f", self.conf, "-N", name])
        self._wait(lambda: self._node_state() in ("idle", "mixed", "allocated"), "slurmd", 40)

    def _node_state(self):
        r = self.run("sinfo", "-h", "-N", "-o", "%T")
        return r.stdout.strip().rstrip("*~#") if r.returncode == 0 else None

    def _spawn(self, name, argv):
        out = open(os.path.join(self.dir, name + ".out"), "w")
        try:
            self.procs[name] = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=self.env(),
                                                start_new_session=True)
        finally:
            out.close()

    def _wait(self, ready, name, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            proc = self.procs[name]
            if proc.poll() is not None:
                raise Unavailable("%s exited with %s at start: %s%s" % (
                    name, proc.returncode, self._tail(name + ".out"), self._tail(name + ".log")))
            if ready():
                return
            time.sleep(0.25)
        raise Unavailable("%s did not become ready in %ss: %s%s" % (
            name, timeout, self._tail(name + ".out"), self._tail(name + ".log")))

    def _tail(self, name, lines=15):
        path = os.path.join(self.dir, name)
        if not os.path.exists(path):
            return ""
        with open(path, errors="replace") as f:
            return "\n[%s] " % name + "".join(f.readlines()[-lines:])

    def jobs(self, job_id):
        """The job's array tasks Slurm still knows: [(jobid_task, state)]."""
        r = self.run("squeue", "-h", "-r", "-j", str(job_id), "-o", "%i %T")
        if r.returncode != 0:
            return []  # an unknown job id is an error to squeue, once the job is purged
        return [tuple(line.split()) for line in r.stdout.splitlines() if line.strip()]

    def stop(self):
        """Cancels every job and stops the daemons we started, in any state; SIGKILL after 10 s."""
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            try:
                self.run("scancel", "--user=root", timeout=10)
            except subprocess.TimeoutExpired:
                pass
        for name in ("slurmd", "slurmctld", "munged"):
            proc = self.procs.get(name)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs.clear()
