"""A throwaway PostgreSQL cluster for the tests: initdb, pg_ctl, a Unix socket, no TCP.

`scripts/install-postgres.sh` (run by `make test`) installs Debian's server
when it is missing. initdb refuses to run as root, so as root the cluster
belongs to the `postgres` user the Debian package creates.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

USER = "mitosis"


class Unavailable(RuntimeError):
    """No PostgreSQL server can be started here (the message says why)."""


@dataclass
class PostgresServer:
    base: Path
    bin_dir: Path
    socket_dir: Path
    run_as: list[str]
    _names: itertools.count = field(default_factory=lambda: itertools.count(1))

    def new_database(self) -> str:
        """A fresh, empty database; its SQLAlchemy URL."""
        import psycopg

        name = f"test_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self._dsn("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://{USER}@/{name}?host={self.socket_dir}"

    def stop(self) -> None:
        pg_ctl = str(self.bin_dir / "pg_ctl")
        subprocess.run(
            [*self.run_as, pg_ctl, "-D", str(self.base / "data"), "-m", "immediate", "stop"],
            capture_output=True, check=False,
        )  # fmt: skip
        shutil.rmtree(self.base, ignore_errors=True)

    def _dsn(self, database: str) -> str:
        return f"host={self.socket_dir} user={USER} dbname={database}"


def start() -> PostgresServer:
    """Start a cluster in a new temporary folder, or raise Unavailable."""
    try:
        import psycopg  # noqa: F401
    except ImportError as error:
        raise Unavailable(f"psycopg is not installed ({error}): pip install -e '.[test]'") from None
    bin_dir = _bin_dir()
    base = Path(tempfile.mkdtemp(prefix="mitosis-pg-"))
    run_as = _run_as(base)
    data, socket_dir, log = base / "data", base / "sock", base / "server.log"
    socket_dir.mkdir()
    if run_as:
        shutil.chown(socket_dir, "postgres", "postgres")
    initdb = [str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8"]
    _run([*run_as, *initdb, "--no-sync"], base)
    options = f"-k {socket_dir} -c listen_addresses='' -c fsync=off -c max_connections=200"
    pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-o", options]
    _run([*run_as, *pg_ctl, "start"], base)
    return PostgresServer(base, bin_dir, socket_dir, run_as)


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    initdb = found[0] if found else shutil.which("initdb")
    if not initdb:
        raise Unavailable(
            "no PostgreSQL server here (no initdb): run scripts/install-postgres.sh "
            "(make test does) or install Debian's postgresql package"
        )
    return Path(initdb).resolve().parent


def _run_as(base: Path) -> list[str]:
    """As root, run the server as `postgres` (it owns the folder); otherwise as ourselves."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise Unavailable(
            "running as root, and there is no `postgres` user to run the server"
        ) from None
    base.chmod(0o755)
    shutil.chown(base, "postgres", "postgres")
    return ["runuser", "-u", "postgres", "--"]


def _run(command: list[str], base: Path) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=base)
    if done.returncode != 0:
        log = base / "server.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        raise Unavailable(
            f"{' '.join(command[-3:])} failed ({done.returncode}): {done.stderr.strip()}\n{tail}"
        )
