"""The trials database: variant locks, iterations and trial records.

SQLAlchemy Core keeps one schema for the embedded SQLite default and for a
shared server (``mitosis.db=postgresql://…``). Every write that must be
atomic (checking locks, allocating the iteration and opening the record) runs
in one transaction that takes the write lock up front: ``BEGIN IMMEDIATE`` on
SQLite, an advisory transaction lock elsewhere.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import secrets
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from mitosis_hydra.core.conflicts import conflict_message, find_conflicts
from mitosis_hydra.core.errors import (
    StoreError,
    TrialFolderExistsError,
    TrialNotFoundError,
    TrialsFolderError,
    VariantConflictError,
)
from mitosis_hydra.core.layout import RECORD_FILE
from mitosis_hydra.core.masking import mask_text, mask_url
from mitosis_hydra.core.modifications import locked_name
from mitosis_hydra.core.naming import combination_key, trial_name
from mitosis_hydra.core.records import (
    TrialPlan,
    TrialRecord,
    TrialStatus,
    VariantLock,
    VariantValue,
)
from mitosis_hydra.core.trial_list import TrialList
from mitosis_hydra.storage import faults, liveness, record_file, schema

log = logging.getLogger("mitosis_hydra")
DB_FILENAME = "mitosis.sqlite"
_ENGINES: dict[str, Engine] = {}  # this process's engine per database URL


def _forget_inherited_engines() -> None:
    """A forked child must not use, or close, the connections its parent pooled."""
    for engine in _ENGINES.values():
        engine.dispose(close=False)
    _ENGINES.clear()


def close_engines() -> None:
    """Close this process's pooled connections (at exit: a server then sees them end cleanly)."""
    for engine in _ENGINES.values():
        engine.dispose()
    _ENGINES.clear()


os.register_at_fork(after_in_child=_forget_inherited_engines)
atexit.register(close_engines)
_KEY_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"


def new_key() -> str:
    """A short random trial key (10 characters, ~50 bits: collisions are retried anyway)."""
    return "".join(secrets.choice(_KEY_ALPHABET) for _ in range(10))


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (`sqlite:///file:PATH?mode=ro&uri=true` too); None otherwise."""
    if not url.startswith("sqlite:///"):
        return None
    path = url.removeprefix("sqlite:///")
    if path.startswith("file:"):
        path = path.removeprefix("file:").split("?")[0]
    return Path(path) if path and path != ":memory:" else None


def default_url(trials_folder: Path) -> str:
    return f"sqlite:///{Path(trials_folder).resolve() / DB_FILENAME}"


class TrialStore:
    """Access to one trials database; connections are opened lazily, once per process."""

    def __init__(self, trials_folder: Path, url: str | None = None) -> None:
        self.trials_folder = Path(trials_folder)
        self.url = url or default_url(self.trials_folder)

    def __getstate__(self) -> dict[str, Any]:  # engines never cross process boundaries
        return {"trials_folder": self.trials_folder, "url": self.url}

    @property
    def shown_url(self) -> str:
        """The URL as printed: its password masked."""
        return mask_url(self.url)

    @property
    def engine(self) -> Engine:
        if self.url not in _ENGINES:
            _ENGINES[self.url] = self._create_engine()
        return _ENGINES[self.url]

    def exists(self) -> bool:
        """False for a SQLite file that was never created (reading then finds nothing)."""
        path = sqlite_path(self.url)
        return path is None or path.exists()

    # -- writes ------------------------------------------------------------------

    def begin_trial(self, plan: TrialPlan) -> TrialRecord:
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
                with self._write() as conn:
                    took = self._lock_variants(conn, plan)
                    iteration = self._next_iteration(conn, combo)
                    name = trial_name(plan.experiment, tracked, iteration)
                    record = replace(plan.open_record(name, iteration), heartbeat_at=liveness.now())
                    conn.execute(schema.trials.insert().values(_record_row(record, combo)))
                    claimed = self._claim_folder(record, combo, plan.tracked, took)
                return record
            except sa.exc.IntegrityError as error:
                if "key" not in str(error.orig).lower():
                    raise StoreError(_integrity_message(self.shown_url, error)) from error
                plan = replace(plan, key=new_key())
            except BaseException:
                if claimed is not None:  # the commit failed after the folder was made
                    shutil.rmtree(claimed, ignore_errors=True)
                raise
        raise StoreError(f"Could not find a free trial key in {self.shown_url}.\nTry again.")

    def _claim_folder(
        self,
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
                f"  trials database: {self.shown_url}\n"
                "  the database was probably deleted or replaced since that trial ran; "
                "nothing was recorded\n"
                "Rebuild the database from the trial folders: mitosis-hydra rebuild "
                f"--trials-folder {self.trials_folder} (or point mitosis.db at the database "
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
        self,
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
        record = self._get(key)
        finished = datetime.now(UTC)
        values = {
            "status": status.value,
            "finished_at": finished.isoformat(),
            "wall_time": (finished - record.started_at).total_seconds(),
            "cpu_time": cpu_time,
            "main": _dumps(main),
            "metrics": _dumps(metrics or {}),
            "notebook": _relative(notebook, self.trials_folder),
            "error": error,
        }
        with self._write() as conn:
            conn.execute(schema.trials.update().where(schema.trials.c.key == key).values(values))
            faults.inject("closing")  # a test hook: SIGKILL inside the transaction
        finished_record = self._get(key)
        try:
            record_file.update(finished_record)
        except (OSError, ValueError) as error:  # the database holds the record regardless
            log.warning(
                "The record file of trial %s was not updated (%s); `mitosis-hydra rebuild` "
                "would restore it as it was when the trial started.",
                finished_record.name,
                error,
            )
        return finished_record

    def heartbeat(self, key: str) -> None:
        """Tell readers the driver of this `running` trial is alive (one short write)."""
        table = schema.trials
        with self._write() as conn:
            conn.execute(
                table.update()
                .where(table.c.key == key, table.c.status == TrialStatus.RUNNING.value)
                .values(heartbeat_at=liveness.now().isoformat())
            )

    # -- reads -------------------------------------------------------------------

    def check_locks(self, variants: Sequence[VariantValue]) -> list:
        """Conflicts the given variants would meet, without writing anything."""
        if not self.exists():
            return []
        with self._read() as conn:
            stored = _stored_locks(conn, variants)
        return find_conflicts(variants, stored)

    def get(self, key_or_prefix: str) -> TrialRecord:
        """The trial with this key, or with the only key that starts with it.

        A `running` trial whose driver is gone is closed as `lost` on the way.
        """
        return self._detect_lost([self._get(key_or_prefix)])[0]

    def _get(self, key_or_prefix: str) -> TrialRecord:
        table = schema.trials
        with self._read() as conn:
            # A full key uses the primary key index; LIKE (the prefix search) scans the table.
            exact = conn.execute(sa.select(table).where(table.c.key == key_or_prefix)).all()
            rows = (
                exact
                or conn.execute(
                    sa.select(table)
                    .where(table.c.key.startswith(key_or_prefix, autoescape=True))
                    .limit(11)
                ).all()
            )
        if len(rows) == 1:
            return _row_record(rows[0], self.trials_folder)
        if not rows:
            raise TrialNotFoundError(
                f"No trial has a key starting with {key_or_prefix!r}.\n"
                f"  trials database: {self.shown_url}\n"
                "Check the key with: mitosis-hydra list"
            )
        candidates = "\n".join(f"  {row.key}  {row.name}" for row in rows[:10])
        raise TrialNotFoundError(
            f"The key prefix {key_or_prefix!r} matches several trials:\n{candidates}\n"
            "Give more characters of the key."
        )

    def list_trials(
        self,
        *,
        experiment: str | None = None,
        status: str | TrialStatus | None = None,
        sweep: str | None = None,
    ) -> TrialList:
        """Trial records, oldest first; the keys now, each record when first reached."""
        if not self.exists():
            return TrialList([], self._records)
        self.close_lost()
        table = schema.trials
        query = sa.select(table.c.key).order_by(table.c.started_at, table.c.key)
        if experiment is not None:
            query = query.where(table.c.experiment == experiment)
        if sweep is not None:
            query = query.where(table.c.sweep == sweep)
        if status is not None:
            query = query.where(table.c.status == TrialStatus(status).value)
        with self._read() as conn:
            keys = conn.execute(query).scalars().all()
        return TrialList(keys, self._records)

    def finished_trial(
        self, experiment: str, variants: dict[str, str], seed: int, commit: str
    ) -> TrialRecord | None:
        """The latest finished trial of this experiment, variants and seed at `commit`, if any.

        What a resumed sweep skips a job for; failed, interrupted and running trials do not count.
        """
        if not self.exists():
            return None
        table = schema.trials
        query = (
            sa.select(table)
            .where(
                table.c.experiment == experiment,
                table.c.variants == _dumps(variants),
                table.c.seed == seed,
                table.c.commit == commit,
                table.c.status == TrialStatus.FINISHED.value,
            )
            .order_by(table.c.started_at.desc())
            .limit(1)
        )
        with self._read() as conn:
            row = conn.execute(query).first()
        return None if row is None else _row_record(row, self.trials_folder)

    def keys_named(self, name: str) -> list[str]:
        """Keys of the trials with this full name (one, unless the database was merged)."""
        if not self.exists():
            return []
        table = schema.trials
        with self._read() as conn:
            return list(conn.execute(sa.select(table.c.key).where(table.c.name == name)).scalars())

    def _records(self, keys: Sequence[str]) -> list[TrialRecord]:
        """The records of these keys, in this order (one page of a TrialList)."""
        table = schema.trials
        with self._read() as conn:
            rows = conn.execute(sa.select(table).where(table.c.key.in_(keys))).all()
        found = {row[0]: _row_record(row, self.trials_folder) for row in rows}
        return self._detect_lost([found[key] for key in keys])

    # -- lost trials ---------------------------------------------------------------

    def close_lost(self) -> list[TrialRecord]:
        """Close every `running` trial whose driver is gone as `lost`; return those."""
        table = schema.trials
        with self._read() as conn:
            rows = conn.execute(
                sa.select(table).where(table.c.status == TrialStatus.RUNNING.value)
            ).all()
        records = [_row_record(row, self.trials_folder) for row in rows]
        return [r for r in self._detect_lost(records) if r.status is TrialStatus.LOST]

    def _detect_lost(self, records: list[TrialRecord]) -> list[TrialRecord]:
        if not any(r.status is TrialStatus.RUNNING for r in records):
            return records
        now, host, max_age = liveness.now(), liveness.this_host(), liveness.lost_after()
        checked = []
        for record in records:
            reason = record.status is TrialStatus.RUNNING and liveness.lost_reason(
                host=record.host,
                pid=record.pid,
                pid_start=record.pid_start,
                heartbeat_at=record.heartbeat_at or record.started_at,
                now=now,
                local_host=host,
                max_age=max_age,
            )
            checked.append(self._mark_lost(record, reason, now, host) if reason else record)
        return checked

    def _mark_lost(self, record: TrialRecord, reason: str, now: datetime, host: str) -> TrialRecord:
        """Close the row as `lost`, unless it changed since it was read (idempotent, race-safe).

        Its end is its last sign of life, the heartbeat. On a database that cannot be
        written (read-only), the record is still shown as lost.
        """
        table = schema.trials
        last = record.heartbeat_at or record.started_at
        error = f"lost: {reason} (detected {now:%Y-%m-%d %H:%M:%S} UTC on {host})"
        seen = record.heartbeat_at.isoformat() if record.heartbeat_at else None
        values = {
            "status": TrialStatus.LOST.value,
            "finished_at": last.isoformat(),
            "wall_time": (last - record.started_at).total_seconds(),
            "error": error,
        }
        try:
            with self._write() as conn:
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
            return self._get(record.key)
        except sa.exc.DBAPIError:
            return replace(record, status=TrialStatus.LOST, finished_at=last, error=error)

    def variant_locks(self) -> list[VariantLock]:
        """Every locked variant with the number of trials recorded with its current value."""
        if not self.exists():
            return []
        with self._read() as conn:
            locks = {
                (row.param_group, row.name): _row_lock(row, conn)
                for row in conn.execute(sa.select(schema.variants)).all()
            }
            counts: dict[tuple[str, str], int] = {}
            table = schema.trials
            options = experiment_options(conn)
            for variants_json, started, experiment in conn.execute(
                sa.select(table.c.variants, table.c.started_at, table.c.experiment)
            ):
                used = locks_used(variants_json, experiment, options)
                for pair in used:  # a trial counts once, however many placements use a lock
                    lock = locks.get(pair)
                    if lock is not None and datetime.fromisoformat(started) >= lock.locked_at:
                        counts[pair] = counts.get(pair, 0) + 1
        return [replace(locks[pair], trial_count=counts.get(pair, 0)) for pair in sorted(locks)]

    # -- plumbing ----------------------------------------------------------------

    def _create_engine(self) -> Engine:
        path = sqlite_path(self.url)
        if path is not None:
            if not path.exists() and self.url == default_url(self.trials_folder):
                self._refuse_a_lost_database(path)
            path.parent.mkdir(parents=True, exist_ok=True)
        # Pooled: a connection (and its WAL state) is reused across the writes
        # and pages of one process; _ENGINES gives each process its own engine.
        engine = sa.create_engine(self.url)
        if engine.dialect.name == "sqlite":
            schema.configure_sqlite(engine)
        schema.create(engine, self.shown_url)
        return engine

    def _refuse_a_lost_database(self, path: Path) -> None:
        """A new database beside recorded trial folders would count iterations from 1 again."""
        if not self.trials_folder.is_dir():
            return
        recorded = next(self.trials_folder.glob(f"*/{RECORD_FILE}"), None)
        if recorded is not None:
            raise StoreError(
                "The trials database is missing, but the trials folder holds recorded "
                "trials.\n"
                f"  trials database: {path}\n"
                f"  recorded trial: {recorded.parent.name}\n"
                "  a new database would number their iterations again; nothing was written\n"
                "Rebuild the database from the trial folders: "
                f"mitosis-hydra rebuild --trials-folder {self.trials_folder}"
            )

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._driver_errors(), self.engine.connect() as conn:
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                schema.take_write_lock(conn)
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._driver_errors(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _driver_errors(self) -> Iterator[None]:
        """The one place where the database driver's errors become a StoreError.

        Unique-key clashes pass through (begin_trial retries them); everything else
        the driver or the file system says is reported with the URL's password masked.
        """
        try:
            yield
        except sa.exc.IntegrityError:
            raise
        except (sa.exc.SQLAlchemyError, OSError, ImportError, OverflowError) as error:
            raise StoreError(driver_message(self.shown_url, self.trials_folder, error)) from None

    def _lock_variants(self, conn: Connection, plan: TrialPlan) -> list[VariantValue]:
        """Check the plan's variants against their locks; lock the new names (returned)."""
        stored = _stored_locks(conn, plan.tracked)
        conflicts = find_conflicts(plan.tracked, stored)
        if conflicts:
            raise VariantConflictError(conflict_message(conflicts))
        now = plan.started_at.isoformat()
        took = []
        for variant in plan.tracked:
            if (variant.group, variant.name) in stored:
                continue
            took.append(variant)
            # first_trial holds the key; readers show the trial's name in its place
            conn.execute(
                schema.variants.insert().values(
                    param_group=variant.group,
                    name=variant.name,
                    canonical=variant.canonical,
                    hash=variant.hash,
                    source=variant.source,
                    first_commit=plan.commit,
                    first_trial=plan.key,
                    locked_at=now,
                )
            )
        return took

    def _next_iteration(self, conn: Connection, combo: str) -> int:
        table = schema.trials
        last = conn.execute(
            sa.select(sa.func.max(table.c.iteration)).where(table.c.combo == combo)
        ).scalar()
        return (last or 0) + 1


def experiment_options(conn: Connection) -> dict[str, str]:
    """Experiment name → the `exp` option locked under it (known from the lock's first trial).

    A trial records its experiment option among its variants only when modified
    (`exp: clf[epochs=20]`); otherwise its experiment name says which option ran.
    """
    variants, trials = schema.variants, schema.trials
    rows = conn.execute(
        sa.select(variants.c.name, trials.c.experiment)
        .join(trials, trials.c.key == variants.c.first_trial)
        .where(variants.c.param_group == "exp")
    )
    return {experiment: name for name, experiment in rows}


def locks_used(
    variants_json: str, experiment: str, options: dict[str, str]
) -> set[tuple[str, str]]:
    """The (group, option) locks a recorded trial used: placements and modifications included."""
    variants = json.loads(variants_json)
    used = {locked_name(key, label) for key, label in variants.items()}
    if "exp" not in variants and experiment in options:
        used.add(("exp", options[experiment]))
    return used


def _stored_locks(
    conn: Connection, variants: Sequence[VariantValue]
) -> dict[tuple[str, str], VariantLock]:
    table = schema.variants
    stored = {}
    for variant in variants:
        row = conn.execute(
            sa.select(table).where(
                table.c.param_group == variant.group, table.c.name == variant.name
            )
        ).first()
        if row is not None:
            stored[(variant.group, variant.name)] = _row_lock(row, conn)
    return stored


def _row_lock(row: Any, conn: Connection | None = None) -> VariantLock:
    return VariantLock(
        group=row.param_group,
        name=row.name,
        canonical=row.canonical,
        hash=row.hash,
        source=row.source,
        first_commit=row.first_commit,
        first_trial=_trial_name_for_key(conn, row.first_trial) if conn else row.first_trial,
        locked_at=datetime.fromisoformat(row.locked_at),
    )


def _trial_name_for_key(conn: Connection, key: str) -> str:
    name = conn.execute(sa.select(schema.trials.c.name).where(schema.trials.c.key == key)).scalar()
    return name or key


def _record_row(record: TrialRecord, combo: str) -> dict[str, Any]:
    return {
        "key": record.key,
        "experiment": record.experiment,
        "name": record.name,
        "combo": combo,
        "iteration": record.iteration,
        "status": record.status.value,
        "seed": record.seed,
        "commit": record.commit,
        "variants": _dumps(record.variants),
        "started_at": record.started_at.isoformat(),
        "folder": record.name,
        "host": record.host,
        "reproduction_of": record.reproduction_of,
        "pid": record.pid,
        "pid_start": record.pid_start,
        "heartbeat_at": record.heartbeat_at.isoformat() if record.heartbeat_at else None,
        "sweep": record.sweep,
        "main": _dumps(None),
        "metrics": _dumps({}),
    }


def _decode(text: str) -> Any:
    """JSON that this module wrote (no surrounding whitespace): a third of json.loads' cost."""
    return _RAW_DECODE(text)[0]


_RAW_DECODE = json.JSONDecoder().raw_decode


def _row_record(row: Any, trials_folder: Path) -> TrialRecord:
    # Unpacked by position (the order of schema.trials' columns): reading a
    # Row's fields by name costs more than decoding them, over 100,000 rows.
    (key, experiment, name, _combo, iteration, status, seed, commit, variants, started_at,
     finished_at, wall_time, cpu_time, main, metrics, folder, notebook, host, error,
     reproduction_of, pid, pid_start, heartbeat_at, sweep) = row  # fmt: skip
    return TrialRecord(
        key=key,
        experiment=experiment,
        name=name,
        iteration=iteration,
        status=TrialStatus(status),
        seed=seed,
        commit=commit,
        variants=_decode(variants),
        started_at=datetime.fromisoformat(started_at),
        folder=trials_folder / folder,
        notebook=trials_folder / notebook if notebook else None,
        finished_at=datetime.fromisoformat(finished_at) if finished_at else None,
        main=_decode(main),
        metrics=_decode(metrics),
        wall_time=wall_time,
        cpu_time=cpu_time,
        host=host or "",
        error=error,
        reproduction_of=reproduction_of,
        pid=pid,
        pid_start=pid_start,
        heartbeat_at=datetime.fromisoformat(heartbeat_at) if heartbeat_at else None,
        sweep=sweep,
    )


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=repr)


def _relative(path: Path | None, folder: Path) -> str | None:
    if path is None:
        return None
    try:
        return Path(path).resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        return str(path)


def _integrity_message(url: str, error: sa.exc.IntegrityError) -> str:
    return (
        f"The trials database {url} refused a write: {error.orig}\n"
        "  this means another process wrote the same trial at the same moment\n"
        "Run the trial again; if it repeats, report it with the database file."
    )


# What a driver's message says, and what the user can do about it.
_CORRUPT = ("file is not a database", "malformed", "not a database", "file is encrypted")
_READ_ONLY = ("readonly", "read-only", "read only")


def driver_message(shown_url: str, trials_folder: Path, error: BaseException) -> str:
    """One paragraph for an error of the database driver or of the file system."""
    text = mask_text(_first_line(error))
    lowered = text.lower()
    where = f"  trials database: {shown_url}\n  error: {text}\n"
    if any(word in lowered for word in _CORRUPT):
        return (
            f"The trials database is damaged and cannot be read.\n{where}"
            "Rebuild it from the trial folders (the damaged file is kept aside): "
            f"mitosis-hydra rebuild --trials-folder {trials_folder}"
        )
    if any(word in lowered for word in _READ_ONLY):
        return (
            f"The trials database cannot be written: it is read-only.\n{where}"
            "Make the database file and its folder writable (SQLite also writes -wal and "
            "-shm files beside it), or point mitosis.db at a database you can write."
        )
    if isinstance(error, (ImportError, sa.exc.ArgumentError)):
        return (
            f"The trials database URL cannot be used.\n{where}"
            "Set mitosis.db to a SQLAlchemy URL whose driver is installed, such as "
            "postgresql+psycopg://user@host/db, or leave it unset for the SQLite file in "
            "the trials folder."
        )
    if isinstance(error, OSError) or "unable to open" in lowered:
        return (
            f"The trials database cannot be opened.\n{where}"
            "Check that its folder exists and that you can write to it."
        )
    if isinstance(error, sa.exc.OperationalError) and not shown_url.startswith("sqlite"):
        return (
            f"The trials database server cannot be reached.\n{where}"
            "Check that the server runs and accepts connections, and the host, port, user "
            "and database in mitosis.db."
        )
    return (
        f"The trials database refused an operation.\n{where}"
        "Check the database; if it is damaged, rebuild it from the trial folders: "
        f"mitosis-hydra rebuild --trials-folder {trials_folder}"
    )


def _first_line(error: BaseException) -> str:
    """The driver's own message, without SQLAlchemy's SQL echo and background link."""
    original = getattr(error, "orig", None)
    text = str(original if original is not None else error).strip()
    return (text.splitlines() or [type(error).__name__])[0]
