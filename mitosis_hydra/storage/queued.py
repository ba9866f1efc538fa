"""Reserved trials: `queued` records a sweep made before its scheduler jobs run them.

A sweep that does not wait (`hydra.launcher.wait=false`) opens each trial's
record with `begin_trial` as `queued` (key, name, iteration, folder and variant
locks, no pid), submits the jobs and returns. Each job then takes over its
record: `take_over` turns `queued` into `running` in one transaction, only if
the record is still queued and describes the same trial (commit, experiment,
variants, seed).

A queued record has no driver, so liveness (pid, heartbeat) does not apply to
it. A reader learns that its job will never start from the scheduler instead:
the record names its job (`slurm:1234_0`, or `local:<pid>` for submitit's
local executor), and `settle` asks `squeue` (SLURM) or /proc (a local job, on
its host) about the queued records it reads. A job the scheduler reports
cancelled closes its trial as `interrupted`; a job that ended, or that the
scheduler no longer knows, without having taken over its trial closes it as
`lost`. Where neither can be asked (no `squeue` on this machine, a local job of
another host), the record stays `queued` until a reader that can ask reads it.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from dataclasses import replace

import sqlalchemy as sa

from mitosis_hydra.core.errors import ReservationError, StoreError
from mitosis_hydra.core.records import TrialPlan, TrialRecord, TrialStatus, close_record
from mitosis_hydra.storage import liveness, record_file, schema
from mitosis_hydra.storage.engine import Database
from mitosis_hydra.storage.lookup import latest_record
from mitosis_hydra.storage.rows import dumps, outcome_values, row_record

log = logging.getLogger("mitosis_hydra")

# SLURM job states in which the job may still start (or is starting) its trial
WAITING = {
    "PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED",
    "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED",
    "RESV_DEL_HOLD", "SPECIAL_EXIT",
}  # fmt: skip
GONE = "GONE"  # the scheduler no longer knows the job


def take_over(db: Database, key: str, plan: TrialPlan) -> TrialRecord:
    """The reserved record `key`, now `running` with this job's pid, host and start.

    Refused (ReservationError, nothing written) unless the record is still `queued`
    and names the trial `plan` describes: the same commit, experiment, variants, seed.
    """
    table = schema.trials
    with db.write() as conn:
        row = conn.execute(sa.select(table).where(table.c.key == key)).first()
        if row is None:
            raise ReservationError(_refusal(db, key, None, ["no trial has this key"]))
        reserved = row_record(row, db.trials_folder)
        problems = _mismatches(reserved, plan)
        if problems:
            raise ReservationError(_refusal(db, key, reserved, problems))
        started = replace(
            reserved,
            status=TrialStatus.RUNNING,
            host=plan.host,
            pid=plan.pid,
            pid_start=plan.pid_start,
            started_at=plan.started_at,
            heartbeat_at=liveness.now(),
        )
        conn.execute(
            table.update()
            .where(table.c.key == key, table.c.status == TrialStatus.QUEUED.value)
            .values(
                status=started.status.value,
                host=started.host,
                pid=started.pid,
                pid_start=started.pid_start,
                started_at=started.started_at.isoformat(),
                heartbeat_at=started.heartbeat_at.isoformat(),
            )
        )
    _update_file(started)
    return started


def _mismatches(reserved: TrialRecord, plan: TrialPlan) -> list[str]:
    """Why this job may not take over the reserved record (empty when it may)."""
    if reserved.status is not TrialStatus.QUEUED:
        return [f"it is no longer queued: it is {reserved.status.value}"]
    pairs = [
        ("commit", reserved.commit, plan.commit),
        ("experiment", reserved.experiment, plan.experiment),
        ("variants", dumps(reserved.variants), dumps(plan.variants)),
        ("seed", reserved.seed, plan.seed),
    ]
    return [f"{name}: reserved {old}, this job {new}" for name, old, new in pairs if old != new]


def _refusal(db: Database, key: str, reserved: TrialRecord | None, problems: list[str]) -> str:
    name = f" ({reserved.name})" if reserved is not None else ""
    where = "\n".join(f"  {problem}" for problem in problems)
    return (
        f"This job cannot start its reserved trial {key}{name}; it ran nothing.\n"
        f"{where}\n"
        f"  trials database: {db.shown_url}\n"
        "See the trial with: mitosis-hydra show " + key + "; submit the sweep again to run "
        "it (with mitosis.resume=true, only what is missing)."
    )


def name_scheduler_job(db: Database, key: str, job: str) -> None:
    """Record the scheduler's job that will run the reserved trial `key`."""
    table = schema.trials
    with db.write() as conn:
        conn.execute(table.update().where(table.c.key == key).values(scheduler_job=job))
    _update_file(_read(db, key))


def release(db: Database, key: str, error: str) -> TrialRecord:
    """Close a reservation whose job was never submitted as `failed` (its locks stay)."""
    return _close_if_queued(db, _read(db, key), TrialStatus.FAILED, error)


def queued_records(db: Database) -> list[TrialRecord]:
    """The records still `queued` (few: the index on status finds them)."""
    table = schema.trials
    with db.read() as conn:
        rows = conn.execute(sa.select(table).where(table.c.status == TrialStatus.QUEUED.value))
        return [row_record(row, db.trials_folder) for row in rows.all()]


def in_flight_record(
    db: Database, experiment: str, variants: dict[str, str], seed: int, commit: str
) -> TrialRecord | None:
    """A `queued` or `running` trial of this experiment, variants and seed at `commit`.

    What a resumed sweep does not run again: it would run the same trial twice.
    """
    in_flight = (TrialStatus.QUEUED, TrialStatus.RUNNING)
    return latest_record(db, in_flight, experiment, variants, seed, commit)


def settle(db: Database, found: list[TrialRecord]) -> list[TrialRecord]:
    """These records, the `queued` ones whose job will never start them closed.

    One `squeue` call for all the SLURM jobs among them; nothing is asked when
    none is queued.
    """
    queued = [r for r in found if r.status is TrialStatus.QUEUED and r.scheduler_job]
    if not queued:
        return found
    slurm = [r.scheduler_job for r in queued if r.scheduler_job.startswith("slurm:")]
    states = _slurm_states([job.removeprefix("slurm:") for job in slurm])
    closed = {}
    for record in queued:
        verdict = _verdict(record, states)
        if verdict is not None:
            status, reason = verdict
            closed[record.key] = _close_if_queued(db, record, status, reason)
    return [closed.get(record.key, record) for record in found]


def _verdict(record: TrialRecord, states: dict[str, str] | None) -> tuple[TrialStatus, str] | None:
    """How a queued record ends, given what its scheduler says; None while it may start."""
    kind, _, job = (record.scheduler_job or "").partition(":")
    if kind == "slurm":
        if states is None:  # squeue cannot be asked here
            return None
        state = states.get(job, GONE)
        if state in WAITING:
            return None
        if state.startswith("CANCELLED"):
            return TrialStatus.INTERRUPTED, f"its SLURM job {job} was cancelled before it started"
        left = "left the queue" if state == GONE else f"ended ({state})"
        return TrialStatus.LOST, f"its SLURM job {job} {left} without starting the trial"
    local = kind == "local" and record.host == liveness.this_host() and job.isdigit()
    if local and liveness.process_start(int(job)) is None:
        return TrialStatus.LOST, f"its local job (pid {job}) ended without starting the trial"
    return None


def _slurm_states(jobs: list[str]) -> dict[str, str] | None:
    """Job id → SLURM state for these jobs (absent: unknown to squeue); None if not asked."""
    if not jobs:
        return {}
    squeue = shutil.which("squeue")
    if squeue is None:
        return None
    ids = sorted({job.split("_")[0] for job in jobs})
    command = [squeue, "--noheader", "--array", "--states=all", "--format=%i|%T"]
    try:
        done = subprocess.run(
            [*command, f"--jobs={','.join(ids)}"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0 and "Invalid job id" not in done.stderr:
        return None  # the controller cannot be reached: do not guess
    states = {}
    for line in done.stdout.splitlines():
        job, _, state = line.strip().partition("|")
        if job:
            states[job] = state.strip()
    return states


def _close_if_queued(
    db: Database, record: TrialRecord, status: TrialStatus, reason: str
) -> TrialRecord:
    """Close a record as `status` unless it left `queued` since it was read (race-safe)."""
    table = schema.trials
    now = liveness.now()
    closed = close_record(record, status=status, finished_at=now, error=reason)
    outcome = outcome_values(closed, db.trials_folder)
    values = {name: outcome[name] for name in ("status", "finished_at", "wall_time", "error")}
    try:
        with db.write() as conn:
            changed = conn.execute(
                table.update()
                .where(table.c.key == record.key, table.c.status == TrialStatus.QUEUED.value)
                .values(values)
            ).rowcount
    except (
        sa.exc.DBAPIError,
        StoreError,
    ):  # a database that cannot be written: shown closed all the same
        return closed
    current = _read(db, record.key)
    if changed:
        _update_file(current)
    return current


def _read(db: Database, key: str) -> TrialRecord:
    table = schema.trials
    with db.read() as conn:
        row = conn.execute(sa.select(table).where(table.c.key == key)).first()
    return row_record(row, db.trials_folder)


def _update_file(record: TrialRecord) -> None:
    try:
        record_file.update(record)
    except (OSError, ValueError) as failure:  # the database holds the record regardless
        log.warning("The record file of trial %s was not updated (%s).", record.name, failure)
