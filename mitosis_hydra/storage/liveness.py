"""Telling a trial whose driver died without a word (SIGKILL, OOM, a lost node).

A `running` record carries its driver's host, pid and the pid's start time
(so a reused pid is not taken for the driver), and a heartbeat the driver
refreshes while the trial runs. A reader then decides, without asking anyone:

- on the driver's host: the pid is gone, or belongs to a process started at
  another time → lost;
- on any host: the heartbeat is older than `lost_after()` seconds → lost.

The rule is pure (`lost_reason`); the store applies it when it reads and
closes such rows as `lost`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from mitosis_hydra.core.records import TrialRecord, TrialStatus

LOST_AFTER_VARIABLE = "MITOSIS_LOST_AFTER"
HEARTBEAT_VARIABLE = "MITOSIS_HEARTBEAT"
DEFAULT_LOST_AFTER = 600.0  # seconds without a heartbeat: 20 missed beats
DEFAULT_HEARTBEAT = 30.0

log = logging.getLogger("mitosis_hydra")


def _seconds(variable: str, default: float) -> float:
    try:
        value = float(os.environ.get(variable, default))
    except ValueError:
        return default
    return value if value > 0 else default


def lost_after() -> float:
    """How old a heartbeat may be before its trial counts as lost ($MITOSIS_LOST_AFTER)."""
    return _seconds(LOST_AFTER_VARIABLE, DEFAULT_LOST_AFTER)


def heartbeat_interval() -> float:
    """How often a driver refreshes its heartbeat ($MITOSIS_HEARTBEAT)."""
    return _seconds(HEARTBEAT_VARIABLE, DEFAULT_HEARTBEAT)


def process_start(pid: int) -> str | None:
    """The start time of process `pid` (clock ticks since boot), or None if there is none.

    Field 22 of /proc/<pid>/stat; the command name before it may hold spaces and
    parentheses, so the fields are counted after the last `)`. None off Linux too.
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def this_host() -> str:
    return socket.gethostname()


def lost_reasons(records: Sequence[TrialRecord]) -> list[str | None]:
    """Why each `running` record is lost now (None for the others and the living)."""
    at, local_host, max_age = now(), this_host(), lost_after()
    return [
        lost_reason(
            host=record.host,
            pid=record.pid,
            pid_start=record.pid_start,
            heartbeat_at=record.heartbeat_at or record.started_at,
            now=at,
            local_host=local_host,
            max_age=max_age,
        )
        if record.status is TrialStatus.RUNNING
        else None
        for record in records
    ]


def lost_reason(
    *,
    host: str,
    pid: int | None,
    pid_start: str | None,
    heartbeat_at: datetime,
    now: datetime,
    local_host: str,
    max_age: float,
    start_of: Callable[[int], str | None] = process_start,
) -> str | None:
    """Why a `running` trial with this liveness is lost, or None while it may still run."""
    if host == local_host and pid is not None and pid_start is not None:
        current = start_of(pid)
        if current is None:
            return f"its driver (pid {pid} on {host}) is gone"
        if current != pid_start:
            return (
                f"its driver (pid {pid} on {host}) is gone; the pid now belongs to another process"
            )
    age = (now - heartbeat_at).total_seconds()
    if age > max_age:
        return (
            f"its driver (pid {pid} on {host or 'an unknown host'}) sent no heartbeat for "
            f"{age:.0f} s (more than {max_age:.0f} s, ${LOST_AFTER_VARIABLE})"
        )
    return None


class Heartbeat:
    """A daemon thread calling `beat()` every `interval` seconds until stopped.

    `beat` is one short write; an error there is logged and retried at the next
    beat, never raised into the trial.
    """

    def __init__(self, beat: Callable[[], None], interval: float | None = None) -> None:
        self._beat = beat
        self._interval = interval or heartbeat_interval()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mitosis-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._beat()
            except Exception as error:  # a busy or unreachable database must not stop the trial
                log.warning("mitosis_hydra: heartbeat not written: %s", error)


def now() -> datetime:
    return datetime.now(UTC)
