"""Reading many trials fast: listing, counting and paging records, without SQLAlchemy on SQLite.

Importing SQLAlchemy takes 0.2–0.5 s here, as long as reading the 100,000 keys it
would fetch; `mitosis-hydra list` has half a second in all. So the reads a listing
makes go through the standard library's `sqlite3` when the database is the
default SQLite file at its current schema, and through SQLAlchemy otherwise (a
server, a URL with options, a file that needs a migration first, which the
engine makes). The SQL is the same text for both: named parameters (`:name`),
and `commit`, a keyword on servers, quoted. A `running` trial whose driver is
gone is closed as `lost` before any listing (trials.detect_lost, with SQLAlchemy:
it writes); unless one is, nothing but `sqlite3` is imported.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from operator import itemgetter
from pathlib import Path
from typing import Any

from mitosis_hydra.core.errors import StoreError
from mitosis_hydra.core.records import TrialRecord, TrialStatus
from mitosis_hydra.core.trial_list import PAGE_SIZE, TrialList, collector_paused
from mitosis_hydra.storage import liveness
from mitosis_hydra.storage.engine import Database, driver_message, sqlite_readers
from mitosis_hydra.storage.rows import decode, row_json, row_record

Variants = Sequence[tuple[str, str]]  # (group, name) pairs a trial must all have

# schema.trials' columns, in the table's order (tests/test_reading.py checks both agree)
COLUMNS = (
    "key", "experiment", "name", "combo", "iteration", "status", "seed", "commit",
    "variants", "started_at", "finished_at", "wall_time", "cpu_time", "main", "metrics",
    "folder", "notebook", "host", "error", "reproduction_of", "pid", "pid_start",
    "heartbeat_at", "sweep", "scheduler_job",
)  # fmt: skip
ALL_COLUMNS = ", ".join(f'"{name}"' for name in COLUMNS)
SCHEMA_VERSION = 4  # schema.SCHEMA_VERSION, checked by the same test
INDEXES = frozenset({"ix_trials_experiment_started", "ix_trials_started_key", "ix_trials_status"})
ORDER = "started_at, key"  # list_trials' order, an index scan of ix_trials_started_key


def select(db: Database, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
    """The rows of one read-only query (tuples, or SQLAlchemy rows: both index by position)."""
    conn = _sqlite(db)
    if conn is None:
        import sqlalchemy as sa

        with db.read() as connection:
            return connection.execute(sa.text(sql), params or {}).all()
    try:
        return conn.execute(sql, params or {}).fetchall()
    except sqlite3.Error as error:
        raise StoreError(driver_message(db.shown_url, db.trials_folder, error)) from None


def select_in_chunks(
    db: Database, sql: str, params: dict[str, Any], size: int = 2000
) -> Iterator[list[Any]]:
    """The rows of one read-only query, `size` at a time, from one cursor (one snapshot)."""
    conn = _sqlite(db)
    if conn is None:
        import sqlalchemy as sa

        with db.read() as connection:
            result = connection.execution_options(yield_per=size).execute(sa.text(sql), params)
            yield from result.partitions()
        return
    try:
        cursor = conn.execute(sql, params)
    except sqlite3.Error as error:
        raise StoreError(driver_message(db.shown_url, db.trials_folder, error)) from None
    try:
        while True:
            try:
                rows = cursor.fetchmany(size)
            except sqlite3.Error as error:
                raise StoreError(driver_message(db.shown_url, db.trials_folder, error)) from None
            if not rows:
                return
            yield rows
    finally:
        cursor.close()


def _sqlite(db: Database) -> sqlite3.Connection | None:
    """This process's `sqlite3` connection to the database, or None to use SQLAlchemy."""
    found = sqlite_readers.get(db.url)
    if found is not None and found[0] == os.getpid():
        return found[1]
    path = _plain_sqlite_path(db.url)
    if path is None or not path.is_file():
        return None
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 60000")
        if not _current(conn):
            conn.close()
            with db.read():  # the engine SQLAlchemy makes migrates it, under the write lock
                pass
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 60000")
    except sqlite3.Error as error:
        raise StoreError(driver_message(db.shown_url, db.trials_folder, error)) from None
    sqlite_readers[db.url] = (os.getpid(), conn)
    return conn


def _plain_sqlite_path(url: str) -> Path | None:
    """The file of `sqlite:///PATH` (no `file:` URI, no options: those go through SQLAlchemy)."""
    if not url.startswith("sqlite:///") or "?" in url:
        return None
    path = url.removeprefix("sqlite:///")
    return Path(path) if path and not path.startswith("file:") and path != ":memory:" else None


def _current(conn: sqlite3.Connection) -> bool:
    """Whether the file has the current schema, indexes included (else the engine fixes it)."""
    try:
        version = conn.execute("SELECT version FROM schema_info").fetchall()
    except sqlite3.OperationalError:  # no such table: an empty or very old file
        return False
    indexes = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'trials'"
    ).fetchall()
    return version == [(SCHEMA_VERSION,)] and {name for (name,) in indexes} >= INDEXES


def where(
    experiment: str | None = None,
    status: str | TrialStatus | None = None,
    sweep: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """The WHERE clause (or "") and parameters of the filters `list_trials` takes."""
    params: dict[str, Any] = {}
    if experiment is not None:
        params["experiment"] = experiment
    if status is not None:
        params["status"] = TrialStatus(status).value
    if sweep is not None:
        params["sweep"] = sweep
    clause = " AND ".join(f"{name} = :{name}" for name in params)
    return (f" WHERE {clause}" if clause else ""), params


def where_in_order(
    db: Database,
    experiment: str | None = None,
    status: str | TrialStatus | None = None,
    sweep: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """`where`, for reading whole rows in listing order. On SQLite, a status most trials
    have (`finished`) is checked row by row along the started_at index, instead of
    finding its rows through the status index and sorting them all (a quarter of
    the time of reading 100,000): without statistics SQLite takes the status index."""
    clause, params = where(experiment, status, sweep)
    if status is None or _sqlite(db) is None:
        return clause, params
    [(common,)] = select(
        db,
        "SELECT (SELECT count(*) FROM trials WHERE status = :status) * 4 > count(*) FROM trials",
        {"status": params["status"]},
    )
    return (clause.replace("status = :status", "+status = :status") if common else clause), params


def list_trials(
    db: Database,
    *,
    experiment: str | None = None,
    status: str | TrialStatus | None = None,
    sweep: str | None = None,
) -> TrialList:
    """Trial records, oldest first; the keys now, each record when first reached."""
    fetch = partial(records, db)
    if not db.exists():
        return TrialList([], fetch)
    close_lost(db)
    clause, params = where(experiment, status, sweep)
    keys = select(db, f"SELECT key FROM trials{clause} ORDER BY {ORDER}", params)
    in_order = partial(where_in_order, db, experiment, status, sweep)
    return TrialList([key for (key,) in keys], fetch, partial(scan, db, in_order))


def scan(
    db: Database, filters: Callable[[], tuple[str, dict[str, Any]]], keys: set[str]
) -> Iterator[TrialRecord]:
    """Every record the listing's `filters` find now whose key is in `keys`, oldest
    first, in one ordered pass (how a TrialList is iterated)."""
    clause, params = filters()
    sql = f"SELECT {ALL_COLUMNS} FROM trials{clause} ORDER BY {ORDER}"
    for rows in select_in_chunks(db, sql, params):
        yield from _records(db, [row for row in rows if row[0] in keys])


def newest(
    db: Database,
    count: int,
    *,
    experiment: str | None = None,
    status: str | TrialStatus | None = None,
    sweep: str | None = None,
    variants: Variants = (),
) -> tuple[list[TrialRecord], int]:
    """The newest `count` records (oldest first, as listed) and how many match in all.

    Without `variants`, two indexed queries whatever the number of trials (the
    default view of `mitosis-hydra list`); with them, the keys and variants of the
    trials the other filters keep.
    """
    if not db.exists():
        return [], 0
    close_lost(db)
    if variants:
        keys = matching_keys(db, experiment, status, sweep, variants)
        return records(db, keys[-count:]), len(keys)
    clause, params = where(experiment, status, sweep)
    [(total,)] = select(db, f"SELECT count(*) FROM trials{clause}", params)
    keys = select(
        db,
        f"SELECT key FROM trials{clause} ORDER BY started_at DESC, key DESC LIMIT :limit",
        {**params, "limit": count},
    )
    return records(db, [key for (key,) in reversed(keys)]), total


def matching_keys(
    db: Database,
    experiment: str | None = None,
    status: str | TrialStatus | None = None,
    sweep: str | None = None,
    variants: Variants = (),
) -> list[str]:
    """The keys of the trials these filters keep, oldest first."""
    if not db.exists():
        return []
    clause, params = where(experiment, status, sweep)
    if not variants:
        return [
            key for (key,) in select(db, f"SELECT key FROM trials{clause} ORDER BY {ORDER}", params)
        ]
    rows = select(db, f"SELECT key, variants FROM trials{clause} ORDER BY {ORDER}", params)
    return [key for key, text in rows if has_variants(decode(text), variants)]


def has_variants(chosen: dict[str, str], variants: Variants) -> bool:
    """Whether a trial with these variant names has every (group, name) of `variants`."""
    return all(chosen.get(group) == name for group, name in variants)


def json_lines(
    db: Database,
    *,
    experiment: str | None = None,
    status: str | TrialStatus | None = None,
    sweep: str | None = None,
    variants: Variants = (),
    last: int | None = None,
) -> Iterator[str]:
    """Each record the filters keep as `record.to_json()`'s JSON text, oldest first
    (`last`: the newest that many), straight from the rows (see rows.row_json)."""
    if not db.exists():
        return
    close_lost(db)
    folder = str(db.trials_folder)
    if last is not None:
        keys = matching_keys(db, experiment, status, sweep, variants)[-last:]
        for start in range(0, len(keys), PAGE_SIZE):
            for row in _rows_of(db, keys[start : start + PAGE_SIZE]):
                yield row_json(row, folder)
        return
    clause, params = where_in_order(db, experiment, status, sweep)
    sql = f"SELECT {ALL_COLUMNS} FROM trials{clause} ORDER BY {ORDER}"
    for rows in select_in_chunks(db, sql, params):
        for row in rows:
            if not variants or has_variants(decode(row[8]), variants):
                yield row_json(row, folder)


def records(db: Database, keys: Sequence[str]) -> list[TrialRecord]:
    """The records of these keys, in this order, those whose driver is gone closed as `lost`."""
    return _records(db, _rows_of(db, keys))


def _records(db: Database, rows: list[Any]) -> list[TrialRecord]:
    """The records of these rows, checked for lost drivers if any is `running`."""
    folder = db.trials_folder
    with collector_paused():
        found = [row_record(row, folder) for row in rows]
    if not _UNSETTLED.isdisjoint(map(_STATUS_COLUMN, rows)):
        return _checked(db, found)
    return found


_STATUS_COLUMN = itemgetter(COLUMNS.index("status"))
# statuses a reader may have to close: a dead driver's `running`, a never-run `queued`
_UNSETTLED = frozenset({TrialStatus.RUNNING.value, TrialStatus.QUEUED.value})


def _checked(db: Database, found: list[TrialRecord]) -> list[TrialRecord]:
    """These records, those `running` without a living driver closed as `lost` (a write,
    through SQLAlchemy: trials.detect_lost; only then is it imported), and those `queued`
    whose scheduler job will never start them (storage/queued.py asks the scheduler)."""
    if any(record.status is TrialStatus.QUEUED and record.scheduler_job for record in found):
        from mitosis_hydra.storage.trials import detect_lost

        return detect_lost(db, found)
    if not any(record.status is TrialStatus.RUNNING for record in found):
        return found
    if not any(liveness.lost_reasons(found)):
        return found
    from mitosis_hydra.storage.trials import detect_lost

    return detect_lost(db, found)


def records_of(db: Database, keys: Sequence[str]) -> list[TrialRecord]:
    """The records of these keys, in this order, as stored."""
    folder = db.trials_folder
    return [row_record(row, folder) for row in _rows_of(db, keys)]


def _rows_of(db: Database, keys: Sequence[str]) -> list[Any]:
    """The rows of these keys (at most PAGE_SIZE), in this order."""
    if not keys:
        return []
    names = {f"k{i}": key for i, key in enumerate(keys)}
    marks = ", ".join(f":{name}" for name in names)
    rows = select(db, f"SELECT {ALL_COLUMNS} FROM trials WHERE key IN ({marks})", names)
    found = {row[0]: row for row in rows}
    return [found[key] for key in keys]


def unsettled_records(db: Database) -> list[TrialRecord]:
    """The records still `running` or `queued` (few: the index on status finds them)."""
    rows = select(
        db,
        f"SELECT {ALL_COLUMNS} FROM trials WHERE status IN (:running, :queued)",
        {"running": TrialStatus.RUNNING.value, "queued": TrialStatus.QUEUED.value},
    )
    return [row_record(row, db.trials_folder) for row in rows]


def close_lost(db: Database) -> list[TrialRecord]:
    """Close every `running` trial whose driver is gone as `lost`, and every `queued` one
    whose job will never run it; return those closed as `lost`."""
    checked = _checked(db, unsettled_records(db))
    return [record for record in checked if record.status is TrialStatus.LOST]
