"""A throwaway single-node SLURM cluster for the tests: munge, slurmctld, slurmd on localhost.

`scripts/install-slurm.sh` (run by `make test`) installs Debian's packages when
they are missing. Everything lives in one temporary folder: munge's key and
socket, the configuration, state, spool and logs; ports are free ones. No
systemd or cgroups are needed (`proctrack/linuxproc`, `task/none`), but the
daemons run as root, so the cluster is only started as root. Clients reach it
through `SLURM_CONF` (see `SlurmCluster.env`); the daemons are stopped by pid.

With accounting (slurmdbd and MariaDB installed): a private MariaDB server
(its own data folder, socket and port, made by `mariadb-install-db`) and a
slurmdbd storing the jobs in it, so `sacct` answers. The same cluster is seen
*without* accounting through a second client configuration
(`SlurmCluster.env_without_accounting`): identical but for
`AccountingStorageType=accounting_storage/none`, so `sacct` refuses ("Slurm
accounting storage is disabled") exactly as on a cluster without slurmdbd,
which is all a submitter (submitit) sees of accounting.

Run it by hand: `python tests/slurm_cluster.py` starts it, prints the
`SLURM_CONF` to export, and stops it on Enter.
"""

from __future__ import annotations

import contextlib
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
ACCOUNTING = (
    "slurmdbd",
    "sacct",
    "sacctmgr",
    "mariadbd",
    "mariadb-install-db",
    "my_print_defaults",
)


class Unavailable(RuntimeError):
    """No SLURM cluster can be started here (the message says why)."""


@dataclass
class SlurmCluster:
    base: Path
    conf: Path
    processes: list[subprocess.Popen] = field(default_factory=list)
    accounting: str | None = None  # why there is no accounting, or None when sacct answers
    started_in: dict[str, float] = field(default_factory=dict)  # seconds per step

    @property
    def env(self) -> dict[str, str]:
        """What a client (sbatch, squeue, submitit) needs to talk to this cluster."""
        return {"SLURM_CONF": str(self.conf)}

    @property
    def env_without_accounting(self) -> dict[str, str]:
        """The same cluster as a client sees it when it has no accounting (sacct refuses)."""
        return {"SLURM_CONF": str(self.base / "client-no-accounting" / "slurm.conf")}

    def run(self, *command: str) -> str:
        done = subprocess.run(
            command, env={**os.environ, **self.env}, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip()}")
        return done.stdout

    def _cancel_all(self, timeout: float) -> None:
        """scancel every job and wait until the controller has none left running."""
        try:
            self.run("scancel", "--user=root")
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                states = set(self.jobs().values())
                if not states - {"COMPLETED", "CANCELLED", "FAILED", "TIMEOUT"}:
                    return
                time.sleep(0.5)
        except RuntimeError:  # the controller is gone: nothing to cancel through it
            return

    def _job_steps(self) -> list[int]:
        """The pids of this cluster's slurmstepd processes (found by their SLURM_CONF)."""
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if (proc / "comm").read_text().strip() != "slurmstepd":
                    continue
                environ = (proc / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(v.startswith(f"SLURM_CONF={self.base}/".encode()) for v in environ):
                found.append(int(proc.name))
        return found

    def jobs(self) -> dict[str, str]:
        """Job id → state of the jobs the controller still knows."""
        out = self.run("squeue", "--noheader", "--format=%i %T")
        return dict(line.split(maxsplit=1) for line in out.splitlines() if line.strip())

    def stop(self) -> None:
        """Cancel what still runs, SIGTERM each daemon by its pid (slurmd first), SIGKILL
        what is left after 15 s, and any job step (slurmstepd) that outlived slurmd."""
        if self.processes and all(p.poll() is None for p in self.processes):
            self._cancel_all(timeout=30)
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for pid in self._job_steps():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.base, ignore_errors=True)


def start(accounting: bool = True) -> SlurmCluster:
    """Start a cluster in a new temporary folder and wait until its node is idle, or raise.

    With `accounting`, slurmdbd and a private MariaDB too when they are installed;
    `SlurmCluster.accounting` says why not when they are not.
    """
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
    missing = [name for name in ACCOUNTING if not _which(name)]
    if not accounting:
        cluster.accounting = "started without accounting"
    elif missing:
        cluster.accounting = (
            f"no SLURM accounting here ({', '.join(missing)} missing): run "
            "scripts/install-slurm.sh (make test does) or install Debian's slurmdbd "
            "mariadb-server-core mariadb-client-core"
        )
    begin = time.monotonic()
    try:
        install_db = None if cluster.accounting else _install_mariadb(cluster)
        _start_munge(cluster)
        ports = {"ctld": _free_port(), "slurmd": _free_port(), "dbd": _free_port()}
        _write_conf(cluster, cluster.conf, ports, with_accounting=not cluster.accounting)
        client = cluster.base / "client-no-accounting" / "slurm.conf"
        client.parent.mkdir()
        _write_conf(cluster, client, ports, with_accounting=False)
        cluster.started_in["munge"] = time.monotonic() - begin
        if install_db is not None:
            _start_accounting(cluster, install_db, ports["dbd"])
            cluster.started_in["accounting"] = time.monotonic() - begin
        for daemon in (["slurmctld", "-D"], ["slurmd", "-D", "-N", "localhost"]):
            cluster.processes.append(_spawn(cluster, [_which(daemon[0]), *daemon[1:]], daemon[0]))
        _wait_idle(cluster)
        cluster.started_in["idle"] = time.monotonic() - begin
    except BaseException:
        cluster.stop()
        raise
    return cluster


def _install_mariadb(cluster: SlurmCluster) -> subprocess.Popen:
    """Start making MariaDB's system tables in a private data folder (≈ 3 s; runs meanwhile)."""
    data = cluster.base / "mariadb" / "data"
    data.parent.mkdir()
    log = open(cluster.base / "mariadb-install-db.out", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [
            _which("mariadb-install-db"), "--no-defaults", f"--datadir={data}", "--user=root",
            "--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve",
            *MARIADB_SMALL,
        ],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    log.close()
    return process


# A small server: the default InnoDB buffers and logs cost time and 100 MB of disk.
MARIADB_SMALL = (
    "--innodb-buffer-pool-size=16M",
    "--innodb-log-file-size=4M",
    "--innodb-flush-log-at-trx-commit=0",
)


def _start_accounting(cluster: SlurmCluster, install_db: subprocess.Popen, dbd_port: int) -> None:
    """MariaDB on a free port of 127.0.0.1, then slurmdbd, then the cluster registered in it."""
    folder = cluster.base / "mariadb"
    if install_db.wait(timeout=120) != 0:
        raise Unavailable(
            "mariadb-install-db failed:\n"
            + (cluster.base / "mariadb-install-db.out").read_text(errors="replace")[-1500:]
        )
    db_port = _free_port()
    command = [
        _which("mariadbd"), "--no-defaults", f"--datadir={folder / 'data'}", "--user=root",
        f"--socket={folder / 'mysqld.sock'}", f"--port={db_port}", "--bind-address=127.0.0.1",
        f"--pid-file={folder / 'mysqld.pid'}", f"--log-error={folder / 'mariadb.log'}",
        "--skip-name-resolve", *MARIADB_SMALL,
    ]  # fmt: skip
    cluster.processes.append(_spawn(cluster, command, "mariadbd"))
    dbd_conf = cluster.base / "slurmdbd.conf"  # slurmdbd reads it beside SLURM_CONF
    dbd_conf.write_text(
        f"""AuthType=auth/munge
AuthInfo=socket={cluster.base / "munge" / "munge.socket"}
DbdHost=localhost
DbdPort={dbd_port}
SlurmUser=root
PidFile={cluster.base / "slurmdbd.pid"}
LogFile={cluster.base / "log" / "slurmdbd.log"}
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={db_port}
StorageUser=root
StorageLoc=slurm_acct_db
"""
    )
    dbd_conf.chmod(0o600)  # slurmdbd refuses a configuration others can read
    _wait_for(lambda: _accepts(db_port), "MariaDB accepting connections", cluster)
    cluster.processes.append(_spawn(cluster, [_which("slurmdbd"), "-D"], "slurmdbd"))
    _wait_for(lambda: _accepts(dbd_port), "slurmdbd accepting connections", cluster)
    for entity in (
        ["cluster", "mitosis"],
        ["account", "mitosis", "Cluster=mitosis"],
        ["user", "root", "Account=mitosis", "Cluster=mitosis"],
    ):
        _wait_for(lambda e=entity: _sacctmgr_add(cluster, e), f"sacctmgr add {entity[0]}", cluster)


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


def _sacctmgr_add(cluster: SlurmCluster, entity: list[str]) -> bool:
    try:
        cluster.run("sacctmgr", "--immediate", "add", *entity)
    except RuntimeError as error:
        return "already exists" in str(error) or "Nothing new added" in str(error)
    return True


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _write_conf(
    cluster: SlurmCluster, conf: Path, ports: dict[str, int], with_accounting: bool
) -> None:
    base = cluster.base
    for folder in ("state", "spool", "log"):
        (base / folder).mkdir(exist_ok=True)
    cpus = max(8, os.cpu_count() or 1)  # the README's cpus_per_task=4, two at once
    if with_accounting:  # AccountingStoragePass: the munge socket slurmctld authenticates with
        accounting = f"""AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort={ports["dbd"]}
AccountingStoragePass={base / "munge" / "munge.socket"}"""
    else:
        accounting = "AccountingStorageType=accounting_storage/none"
    conf.write_text(
        f"""ClusterName=mitosis
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
SlurmctldPort={ports["ctld"]}
SlurmdPort={ports["slurmd"]}
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
{accounting}
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


if __name__ == "__main__":  # a cluster to try things by hand
    started = start()
    print(f"export SLURM_CONF={started.conf}")
    print(f"accounting: {started.accounting or 'yes, sacct answers'}")
    print(f"started in (s): {started.started_in}")
    try:
        input("Enter stops it ")
    finally:
        started.stop()
