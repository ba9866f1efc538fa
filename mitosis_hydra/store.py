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
import os
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from . import schema
from .errors import StoreError, TrialNotFoundError, VariantConflictError
from .locks import conflict_message, find_conflicts
from .modifications import locked_name
from .naming import combination_key, trial_name
from .records import TrialPlan, TrialRecord, TrialStatus, VariantLock, VariantValue
from .trial_list import TrialList

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
    def engine(self) -> Engine:
        if self.url not in _ENGINES:
            _ENGINES[self.url] = self._create_engine()
        return _ENGINES[self.url]

    def exists(self) -> bool:
        """False for a SQLite file that was never created (reading then finds nothing)."""
        if not self.url.startswith("sqlite:///"):
            return True
        return Path(self.url.removeprefix("sqlite:///")).exists()

    # -- writes ------------------------------------------------------------------

    def begin_trial(self, plan: TrialPlan) -> TrialRecord:
        """Check and take the variant locks, allocate the iteration and open a `running` record.

        All or nothing: a conflict raises before anything is written.
        """
        tracked = plan.named if plan.named is not None else {v.group: v.name for v in plan.tracked}
        combo = combination_key(plan.experiment, tracked)
        for _attempt in range(5):
            try:
                with self._write() as conn:
                    self._lock_variants(conn, plan)
                    iteration = self._next_iteration(conn, combo)
                    name = trial_name(plan.experiment, tracked, iteration)
                    record = plan.open_record(name, iteration)
                    conn.execute(schema.trials.insert().values(_record_row(record, combo)))
                    return record
            except sa.exc.IntegrityError as error:
                if "key" not in str(error.orig).lower():
                    raise StoreError(_integrity_message(self.url, error)) from error
                plan = replace(plan, key=new_key())
        raise StoreError(f"Could not find a free trial key in {self.url}.\nTry again.")

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
        record = self.get(key)
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
        return self.get(key)

    # -- reads -------------------------------------------------------------------

    def check_locks(self, variants: Sequence[VariantValue]) -> list:
        """Conflicts the given variants would meet, without writing anything."""
        if not self.exists():
            return []
        with self._read() as conn:
            stored = _stored_locks(conn, variants)
        return find_conflicts(variants, stored)

    def get(self, key_or_prefix: str) -> TrialRecord:
        """The trial with this key, or with the only key that starts with it."""
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
                f"  trials database: {self.url}\n"
                "Check the key with: mitosis-hydra list"
            )
        candidates = "\n".join(f"  {row.key}  {row.name}" for row in rows[:10])
        raise TrialNotFoundError(
            f"The key prefix {key_or_prefix!r} matches several trials:\n{candidates}\n"
            "Give more characters of the key."
        )

    def list_trials(
        self, *, experiment: str | None = None, status: str | TrialStatus | None = None
    ) -> TrialList:
        """Trial records, oldest first; the keys now, each record when first reached."""
        if not self.exists():
            return TrialList([], self._records)
        table = schema.trials
        query = sa.select(table.c.key).order_by(table.c.started_at, table.c.key)
        if experiment is not None:
            query = query.where(table.c.experiment == experiment)
        if status is not None:
            query = query.where(table.c.status == TrialStatus(status).value)
        with self._read() as conn:
            keys = conn.execute(query).scalars().all()
        return TrialList(keys, self._records)

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
        return [found[key] for key in keys]

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
        if self.url.startswith("sqlite"):
            Path(self.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        try:
            # Pooled: a connection (and its WAL state) is reused across the writes
            # and pages of one process; _ENGINES gives each process its own engine.
            engine = sa.create_engine(self.url)
        except (sa.exc.ArgumentError, ImportError) as error:
            raise StoreError(
                f"Cannot open the trials database {self.url!r}: {error}\n"
                "Set mitosis.db to a SQLAlchemy URL such as postgresql://user@host/db, "
                "or leave it unset for the SQLite file in the trials folder."
            ) from error
        if engine.dialect.name == "sqlite":
            schema.configure_sqlite(engine)
        schema.create(engine, self.url)
        return engine

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                schema.take_write_lock(conn)
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def _lock_variants(self, conn: Connection, plan: TrialPlan) -> None:
        stored = _stored_locks(conn, plan.tracked)
        conflicts = find_conflicts(plan.tracked, stored)
        if conflicts:
            raise VariantConflictError(conflict_message(conflicts))
        now = plan.started_at.isoformat()
        for variant in plan.tracked:
            if (variant.group, variant.name) in stored:
                continue
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
     reproduction_of) = row  # fmt: skip
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
