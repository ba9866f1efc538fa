"""Plain records that cross module and process boundaries."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any


class TrialStatus(enum.StrEnum):
    """What happened to a trial; `running` only while its driver lives (see liveness.py).

    `queued`: reserved by a sweep that did not wait (`hydra.launcher.wait=false`);
    its scheduler job has not started it yet (see storage/queued.py).
    """

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    LOST = "lost"  # the driver died without a word (SIGKILL, OOM, a lost node)

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class VariantValue:
    """A named variant as requested by one trial: the value it would lock."""

    group: str
    name: str
    canonical: str
    hash: str
    source: str | None = None
    source_path: str | None = None
    new_name: str | None = None  # what a conflict suggests: a new file, a new store name


@dataclass(frozen=True)
class VariantLock:
    """A variant name as stored: the value it is locked to, and where that happened."""

    group: str
    name: str
    canonical: str
    hash: str
    source: str | None
    first_commit: str
    first_trial: str
    locked_at: datetime
    trial_count: int = 0


@dataclass(frozen=True)
class TrialPlan:
    """Everything the store needs to open a trial record atomically."""

    key: str
    experiment: str
    variants: dict[str, str]  # choice key (`db@src`) -> variant label, every parameter
    tracked: tuple[VariantValue, ...]  # the variants to lock, sorted by group
    commit: str
    seed: int
    host: str
    started_at: datetime
    trials_folder: Path
    reproduction_of: str | None = None
    pid: int | None = None  # the driver's process, and its start time (see liveness.py)
    pid_start: str | None = None
    sweep: str | None = None  # the sweep this trial is a job of (see TrialContext.sweep)
    # name part -> variant label: what names the trial and counts its iterations
    # (None: the tracked variants' groups and names, as before placements existed)
    named: dict[str, str] | None = None
    # `queued` for a trial reserved before its job runs (no pid: nothing drives it yet)
    status: TrialStatus = TrialStatus.RUNNING

    def open_record(self, name: str, iteration: int) -> TrialRecord:
        """The record this plan becomes once it has a name and an iteration (`running`,
        or `queued` for a reservation)."""
        return TrialRecord(
            key=self.key,
            experiment=self.experiment,
            name=name,
            iteration=iteration,
            status=self.status,
            seed=self.seed,
            commit=self.commit,
            variants=dict(self.variants),
            started_at=self.started_at,
            folder=self.trials_folder / name,
            host=self.host,
            reproduction_of=self.reproduction_of,
            pid=self.pid,
            pid_start=self.pid_start,
            sweep=self.sweep,
        )


@dataclass(frozen=True)
class TrialRecord:
    """One recorded trial, as `list_trials` returns it."""

    key: str
    experiment: str
    name: str
    iteration: int
    status: TrialStatus
    seed: int
    commit: str
    variants: dict[str, str]
    started_at: datetime
    folder: Path
    notebook: Path | None = None
    finished_at: datetime | None = None
    main: Any = None
    metrics: dict[str, Any] = field(default_factory=dict)
    wall_time: float | None = None
    cpu_time: float | None = None
    host: str = ""
    error: str | None = None
    reproduction_of: str | None = None
    pid: int | None = None
    pid_start: str | None = None
    heartbeat_at: datetime | None = None
    sweep: str | None = None
    # the scheduler's job that runs a reserved trial, e.g. `slurm:1234_0` (schema version 4)
    scheduler_job: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The record as JSON-ready data (the `--json` form of the CLI)."""
        return {
            "key": self.key,
            "experiment": self.experiment,
            "name": self.name,
            "iteration": self.iteration,
            "status": self.status.value,
            "main": self.main,
            "metrics": self.metrics,
            "seed": self.seed,
            "commit": self.commit,
            "variants": self.variants,
            "notebook": str(self.notebook) if self.notebook else None,
            "folder": str(self.folder),
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "wall_time": self.wall_time,
            "cpu_time": self.cpu_time,
            "host": self.host,
            "error": self.error,
            "reproduction_of": self.reproduction_of,
            "pid": self.pid,
            "pid_start": self.pid_start,
            "heartbeat_at": self.heartbeat_at.isoformat() if self.heartbeat_at else None,
            "sweep": self.sweep,
            "scheduler_job": self.scheduler_job,
        }


class _Stored:
    """A field of a record read from the database, decoded from its row when first read.

    Iterating 100,000 records spent most of its time building them: three JSON
    documents, three datetimes and two Paths each, for fields most readers never
    look at. A record made by `stored_record` is its row, and decodes each field
    on its first read (then keeps the value); one made by `TrialRecord(...)` holds
    every value from the start. Both compare, copy, pickle and `replace` alike.
    """

    __slots__ = ("default", "name")

    def __init__(self, name: str, default: Any = MISSING) -> None:
        self.name, self.default = name, default

    def __get__(self, record: Any, owner: Any = None) -> Any:
        if record is None:  # on the class: the field's default, as a dataclass has it
            if self.default is MISSING:
                raise AttributeError(self.name)
            return self.default
        values = record.__dict__
        try:
            return values[self.name]
        except KeyError:
            value = values[self.name] = values["_decode"](self.name)
            return value

    def __set__(self, record: Any, value: Any) -> None:  # __init__'s; frozen stays frozen
        record.__dict__[self.name] = value


for _field in TrialRecord.__dataclass_fields__.values():  # __init__ sets them through it
    setattr(TrialRecord, _field.name, _Stored(_field.name, _field.default))


def stored_record(decode: Callable[[str], Any]) -> TrialRecord:
    """A TrialRecord whose every field `decode(name)` gives when first read (see _Stored;
    storage/rows.py makes them from database rows)."""
    record = object.__new__(TrialRecord)
    object.__setattr__(record, "__dict__", {"_decode": decode})
    return record


class TrialMain(float):
    """A Hydra job's return value: the trial's main metric, a float that names its trial.

    Hydra's sweepers (Optuna, Nevergrad, Ax) need a number per job; code that
    wants the whole record reads `key` (for `load_trial_data` or `list_trials`),
    `name` and `notebook`. `done_before` is true for a job a resumed sweep
    skipped because this finished trial already existed.
    """

    key: str
    name: str
    notebook: str | None
    done_before: bool

    def __new__(
        cls,
        main: float,
        *,
        key: str,
        name: str,
        notebook: str | None = None,
        done_before: bool = False,
    ) -> TrialMain:
        value = super().__new__(cls, main)
        value.key, value.name, value.notebook, value.done_before = key, name, notebook, done_before
        return value

    @classmethod
    def of(cls, record: TrialRecord, *, done_before: bool = False) -> TrialMain:
        """The return value of a job whose trial is this finished record."""
        notebook = str(record.notebook) if record.notebook else None
        return cls(
            record.main,
            key=record.key,
            name=record.name,
            notebook=notebook,
            done_before=done_before,
        )

    def __reduce__(self):  # a float with its fields, through pickle, joblib and submitit
        fields = {"key": self.key, "name": self.name, "notebook": self.notebook}
        return (_trial_main, (float(self), fields, self.done_before))

    def __repr__(self) -> str:
        return float.__repr__(self)


@dataclass(frozen=True)
class TrialQueued:
    """A Hydra job's return value when its trial is not finished yet: submitted and not
    waited for (`hydra.launcher.wait=false`), or in flight when a resumed sweep met it.

    Not a number: a sweeper that needs each job's metric (Optuna) cannot use a sweep
    that does not wait, and the launcher refuses that combination.
    """

    key: str | None  # None for a debug trial (nothing recorded)
    name: str | None
    status: str  # `queued` or `running`
    scheduler_job: str | None = None


def _trial_main(main: float, fields: dict[str, Any], done_before: bool) -> TrialMain:
    return TrialMain(main, **fields, done_before=done_before)


def close_record(
    record: TrialRecord,
    *,
    status: TrialStatus,
    finished_at: datetime,
    notebook: Path | None = None,
    main: Any = None,
    metrics: dict[str, Any] | None = None,
    cpu_time: float | None = None,
    error: str | None = None,
) -> TrialRecord:
    """The record closed at `finished_at`: its final status, outcome and wall time.

    The one place wall time is computed, for recorded and for debug trials alike.
    """
    return replace(
        record,
        status=status,
        finished_at=finished_at,
        wall_time=(finished_at - record.started_at).total_seconds(),
        notebook=notebook,
        main=main,
        metrics=metrics or {},
        cpu_time=cpu_time,
        error=error,
    )
