"""Trial records: open one atomically, beat its heart, close it, read one, close lost ones.

Opening a trial (checking and taking its variant locks, allocating its
iteration, inserting its `running` row and creating its folder) is one
transaction that takes the write lock up front: `BEGIN IMMEDIATE` on SQLite,
an advisory transaction lock elsewhere. Every read closes, on the way, the
`running` trials whose driver is gone as `lost` (see liveness.py); listing is
in reading.py.
"""

from __future__ import annotations

import logging
import secrets
import shutil
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from mitosis_hydra.core.errors import StoreError, TrialFolderExistsError, TrialsFolderError
from mitosis_hydra.core.naming import combination_key, trial_name
from mitosis_hydra.core.records import (
    TrialPlan,
    TrialRecord,
    TrialStatus,
    VariantValue,
    close_record,
)
from mitosis_hydra.storage import faults, liveness, queued, record_file, schema
from mitosis_hydra.storage.engine import Database
from mitosis_hydra.storage.lookup import find_record
from mitosis_hydra.storage.rows import outcome_values, record_row
from mitosis_hydra.storage.variants import take_locks

log = logging.getLogger("mitosis_hydra")
_KEY_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"


def new_key() -> str:
    """A short random trial key (10 characters, ~50 bits: collisions are retried anyway)."""
    return "".join(secrets.choice(_KEY_ALPHABET) for _ in range(10))


def begin_trial(db: Database, plan: TrialPlan) -> TrialRecord:
    """Check and take the variant locks, allocate the iteration, open a `running` record
    and create the trial's folder.

    All or nothing: a conflict, or a folder that already exists, raises before
    anything is written (the folder is made last, inside the transaction).
    """
    tracked = plan.named if plan.named is not None else {v.group: v.name for v in plan.tracked}
    combo = combination_key(plan.experiment, tracked)
    for _attempt in range(5):
        claimed = None
        try:
            with db.write() as conn:
                took = take_locks(conn, plan)
                last = conn.execute(
                    sa.select(sa.func.max(schema.trials.c.iteration)).where(
                        schema.trials.c.combo == combo
                    )
                ).scalar()
                iteration = (last or 0) + 1
                name = trial_name(plan.experiment, tracked, iteration)
                record = replace(plan.open_record(name, iteration), heartbeat_at=liveness.now())
                conn.execute(schema.trials.insert().values(record_row(record, combo)))
                claimed = _claim_folder(db, record, combo, plan.tracked, took)
            return record
        except sa.exc.IntegrityError as error:
            if "key" not in str(error.orig).lower():
                raise StoreError(_integrity_message(db.shown_url, error)) from error
            plan = replace(plan, key=new_key())
        except BaseException:
            if claimed is not None:  # the commit failed after the folder was made
                shutil.rmtree(claimed, ignore_errors=True)
            raise
    raise StoreError(f"Could not find a free trial key in {db.shown_url}.\nTry again.")


def _claim_folder(
    db: Database,
    record: TrialRecord,
    combo: str,
    tracked: tuple[VariantValue, ...],
    took: list[VariantValue],
) -> Path:
    """Create the trial's folder with its record.json; the folder must be new
    (trial names are injective, so an existing one belongs to another database)."""
    try:
        record.folder.mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        raise TrialFolderExistsError(
            f"The folder for trial {record.name} already exists, but this trials "
            "database has no such trial.\n"
            f"  folder: {record.folder}\n"
            f"  trials database: {db.shown_url}\n"
            "  the database was probably deleted or replaced since that trial ran; "
            "nothing was recorded\n"
            "Rebuild the database from the trial folders: mitosis-hydra rebuild "
            f"--trials-folder {db.trials_folder} (or point mitosis.db at the database "
            "the folder belongs to)."
        ) from None
    except OSError as error:
        raise TrialsFolderError(
            f"The folder for trial {record.name} cannot be created: "
            f"{error.strerror or error}.\n"
            f"  folder: {record.folder}\n"
            "Check that the trials folder exists and that you can write to it."
        ) from None
    try:
        record_file.write(record, combo, tracked, took)
    except BaseException as error:
        shutil.rmtree(record.folder, ignore_errors=True)
        if isinstance(error, OSError):
            raise TrialsFolderError(
                f"The record file of trial {record.name} cannot be written: "
                f"{error.strerror or error}.\n"
                f"  folder: {record.folder}\n"
                "Check that the trials folder has room and that you can write to it."
            ) from None
        raise
    return record.folder


def finish_trial(
    db: Database,
    key: str,
    *,
    status: TrialStatus,
    notebook: Path | None,
    main: Any = None,
    metrics: dict[str, Any] | None = None,
    cpu_time: float | None = None,
    error: str | None = None,
) -> TrialRecord:
    """Close a record: its final status, outcome and timings."""
    closed = close_record(
        find_record(db, key),
        status=status,
        finished_at=datetime.now(UTC),
        notebook=notebook,
        main=main,
        metrics=metrics,
        cpu_time=cpu_time,
        error=error,
    )
    table = schema.trials
    with db.write() as conn:
        values = outcome_values(closed, db.trials_folder)
        conn.execute(table.update().where(table.c.key == key).values(values))
        faults.inject("closing")  # a test hook: SIGKILL inside the transaction
    finished = find_record(db, key)
    try:
        record_file.update(finished)
    except (OSError, ValueError) as failure:  # the database holds the record regardless
        log.warning(
            "The record file of trial %s was not updated (%s); `mitosis-hydra rebuild` "
            "would restore it as it was when the trial started.",
            finished.name,
            failure,
        )
    return finished


def heartbeat(db: Database, key: str) -> None:
    """Tell readers the driver of this `running` trial is alive (one short write)."""
    table = schema.trials
    with db.write() as conn:
        conn.execute(
            table.update()
            .where(table.c.key == key, table.c.status == TrialStatus.RUNNING.value)
            .values(heartbeat_at=liveness.now().isoformat())
        )


def get(db: Database, key_or_prefix: str) -> TrialRecord:
    """The trial with this key, or with the only key that starts with it.

    A `running` trial whose driver is gone is closed as `lost` on the way.
    """
    return detect_lost(db, [find_record(db, key_or_prefix)])[0]


def detect_lost(db: Database, found: list[TrialRecord]) -> list[TrialRecord]:
    """These records, those `running` without a living driver closed as `lost`."""
    found = queued.settle(db, found)  # and `queued` ones whose job will never start
    if not any(r.status is TrialStatus.RUNNING for r in found):
        return found
    reasons = liveness.lost_reasons(found)
    if not any(reasons):
        return found
    now, host = liveness.now(), liveness.this_host()
    return [
        _mark_lost(db, record, reason, now, host) if reason else record
        for record, reason in zip(found, reasons, strict=True)
    ]


def _mark_lost(
    db: Database, record: TrialRecord, reason: str, now: datetime, host: str
) -> TrialRecord:
    """Close the row as `lost`, unless it changed since it was read (idempotent, race-safe).

    Its end is its last sign of life, the heartbeat. On a database that cannot be
    written (read-only), the record is still shown as lost.
    """
    table = schema.trials
    error = f"lost: {reason} (detected {now:%Y-%m-%d %H:%M:%S} UTC on {host})"
    lost = close_record(
        record,
        status=TrialStatus.LOST,
        finished_at=record.heartbeat_at or record.started_at,
        error=error,
    )
    outcome = outcome_values(lost, db.trials_folder)
    values = {name: outcome[name] for name in ("status", "finished_at", "wall_time", "error")}
    seen = record.heartbeat_at.isoformat() if record.heartbeat_at else None
    try:
        with db.write() as conn:
            same_beat = (
                table.c.heartbeat_at.is_(None) if seen is None else table.c.heartbeat_at == seen
            )
            conn.execute(
                table.update()
                .where(
                    table.c.key == record.key,
                    table.c.status == TrialStatus.RUNNING.value,
                    same_beat,
                )
                .values(values)
            )
        return find_record(db, record.key)
    except sa.exc.DBAPIError:
        return lost


def _integrity_message(url: str, error: sa.exc.IntegrityError) -> str:
    return (
        f"The trials database {url} refused a write: {error.orig}\n"
        "  this means another process wrote the same trial at the same moment\n"
        "Run the trial again; if it repeats, report it with the database file."
    )
