"""A throwaway single-node SLURM cluster for the tests: munge, slurmctld, slurmd on localhost.

`scripts/install-slurm.sh` (run by `make test`) installs Debian's packages when
they are missing. Everything lives in one temporary folder: munge's key and
socket, the configuration, state, spool and logs; ports are free ones. No
systemd or cgroups are needed (`proctrack/linuxproc`, `task/none`), but the
daemons run as root, so the cluster is only started as root. Clients reach it
through `SLURM_CONF` (see `SlurmCluster.env`); the daemons are stopped by pid.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo")


class Unavailable(RuntimeError):
    """No SLURM cluster can be started here (the message says why)."""


@dataclass
class SlurmCluster:
    base: Path
    conf: Path
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        """What a client (sbatch, squeue, submitit) needs to talk to this cluster."""
        return {"SLURM_CONF": str(self.conf)}

    def run(self, *command: str) -> str:
        done = subprocess.run(
            command, env={**os.environ, **self.env}, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip()}")
        return done.stdout

    def jobs(self) -> dict[str, str]:
        """Job id → state of the jobs the controller still knows."""
        out = self.run("squeue", "--noheader", "--format=%i %T")
        return dict(line.split(maxsplit=1) for line in out.splitlines() if line.strip())

    def stop(self) -> None:
        """SIGTERM each daemon by its pid (slurmd first), SIGKILL what is left after 15 s."""
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(self.base, ignore_errors=True)


def start() -> SlurmCluster:
    """Start a cluster in a new temporary folder and wait until its node is idle, or raise."""
    missing = [name for name in DAEMONS if not _which(name)]
    if missing:
        raise Unavailable(
            f"no SLURM here ({', '.join(missing)} missing): run scripts/install-slurm.sh "
            "(make test does) or install Debian's slurmctld slurmd slurm-client munge"
        )
    if os.geteuid() != 0:
        raise Unavailable("the test cluster's daemons (slurmd, munged) must run as root")
    base = Path(tempfile.mkdtemp(prefix="mitosis-slurm-"))
    cluster = SlurmCluster(base, base / "slurm.conf")
    try:
        _start_munge(cluster)
        _write_conf(cluster)
        for daemon in (["slurmctld", "-D"], ["slurmd", "-D", "-N", "localhost"]):
            cluster.processes.append(_spawn(cluster, [_which(daemon[0]), *daemon[1:]], daemon[0]))
        _wait_idle(cluster)
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _start_munge(cluster: SlurmCluster) -> None:
    munge = cluster.base / "munge"
    munge.mkdir(mode=0o700)
    key = munge / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    command = [
        _which("munged"), "--foreground", "--force",
        f"--key-file={key}", f"--socket={munge / 'munge.socket'}",
        f"--pid-file={munge / 'munged.pid'}", f"--log-file={munge / 'munged.log'}",
        f"--seed-file={munge / 'munged.seed'}",
    ]  # fmt: skip
    cluster.processes.append(_spawn(cluster, command, "munged"))
    _wait_for(lambda: (munge / "munge.socket").exists(), "munged's socket", cluster)


def _write_conf(cluster: SlurmCluster) -> None:
    base = cluster.base
    for folder in ("state", "spool", "log"):
        (base / folder).mkdir()
    ctld_port, slurmd_port = _free_port(), _free_port()
    cpus = max(8, os.cpu_count() or 1)  # the README's cpus_per_task=4, two at once
    cluster.conf.write_text(
        f"""ClusterName=mitosis
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={base / "munge" / "munge.socket"}
StateSaveLocation={base / "state"}
SlurmdSpoolDir={base / "spool"}
SlurmctldPidFile={base / "slurmctld.pid"}
SlurmdPidFile={base / "slurmd.pid"}
SlurmctldLogFile={base / "log" / "slurmctld.log"}
SlurmdLogFile={base / "log" / "slurmd.log"}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
ReturnToService=2
MpiDefault=none
KillWait=5
MinJobAge=300
SchedulerParameters=sched_interval=1
NodeName=localhost CPUs={cpus} State=UNKNOWN
PartitionName=gpu Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""
    )


def _spawn(cluster: SlurmCluster, command: list[str], name: str) -> subprocess.Popen:
    log = open(cluster.base / f"{name}.out", "wb")  # noqa: SIM115 (the daemon keeps it)
    process = subprocess.Popen(
        command,
        env={**os.environ, **cluster.env},
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    log.close()
    return process


def _wait_idle(cluster: SlurmCluster) -> None:
    def idle() -> bool:
        try:
            return "idle" in cluster.run("sinfo", "--noheader", "--format=%T")
        except RuntimeError:
            return False

    _wait_for(idle, "an idle node", cluster)


def _wait_for(ready, what: str, cluster: SlurmCluster, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            logs = []
            for path in sorted(cluster.base.rglob("*")):
                if path.suffix in (".log", ".out") and path.is_file():
                    logs.append(f"--- {path.name}\n{path.read_text(errors='replace')[-1500:]}")
            raise Unavailable(f"the test SLURM cluster never showed {what}\n" + "\n".join(logs))
        time.sleep(0.2)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _which(name: str) -> str:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin") or ""
