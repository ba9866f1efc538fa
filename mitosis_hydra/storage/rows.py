"""Rows of the trials database ↔ TrialRecord and VariantLock (pure: no connection opened).

JSON columns are written sorted, with `repr` for what JSON cannot hold, so the
same value is always the same text (a resumed sweep compares `variants` as text).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from mitosis_hydra.core.records import TrialRecord, TrialStatus, VariantLock, VariantValue


def dumps(value: Any) -> str:
    """A JSON column's text."""
    return json.dumps(value, sort_keys=True, default=repr)


def _decode(text: str) -> Any:
    """JSON that this module wrote (no surrounding whitespace): a third of json.loads' cost."""
    return _RAW_DECODE(text)[0]


_RAW_DECODE = json.JSONDecoder().raw_decode


def relative(path: Path | None, folder: Path) -> str | None:
    """A path as stored: relative to the trials folder when it lies inside it."""
    if path is None:
        return None
    try:
        return Path(path).resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        return str(path)


def record_row(record: TrialRecord, combo: str) -> dict[str, Any]:
    """The row of a trial as it opens (its outcome columns empty)."""
    return {
        "key": record.key,
        "experiment": record.experiment,
        "name": record.name,
        "combo": combo,
        "iteration": record.iteration,
        "status": record.status.value,
        "seed": record.seed,
        "commit": record.commit,
        "variants": dumps(record.variants),
        "started_at": record.started_at.isoformat(),
        "folder": record.name,
        "host": record.host,
        "reproduction_of": record.reproduction_of,
        "pid": record.pid,
        "pid_start": record.pid_start,
        "heartbeat_at": record.heartbeat_at.isoformat() if record.heartbeat_at else None,
        "sweep": record.sweep,
        "scheduler_job": record.scheduler_job,
        "main": dumps(None),
        "metrics": dumps({}),
    }


def outcome_values(record: TrialRecord, trials_folder: Path) -> dict[str, Any]:
    """The columns a closed record fills: its status, end, timings, results and error."""
    return {
        "status": record.status.value,
        "finished_at": record.finished_at.isoformat() if record.finished_at else None,
        "wall_time": record.wall_time,
        "cpu_time": record.cpu_time,
        "main": dumps(record.main),
        "metrics": dumps(record.metrics or {}),
        "notebook": relative(record.notebook, trials_folder),
        "error": record.error,
    }


def row_record(row: Any, trials_folder: Path) -> TrialRecord:
    """A `trials` row (all columns, in the table's order) as a TrialRecord."""
    # Unpacked by position (the order of schema.trials' columns): reading a
    # Row's fields by name costs more than decoding them, over 100,000 rows.
    (key, experiment, name, _combo, iteration, status, seed, commit, variants, started_at,
     finished_at, wall_time, cpu_time, main, metrics, folder, notebook, host, error,
     reproduction_of, pid, pid_start, heartbeat_at, sweep, scheduler_job) = row  # fmt: skip
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
        scheduler_job=scheduler_job,
    )


def lock_row(
    variant: VariantValue, first_commit: str, first_trial: str, locked_at: datetime
) -> dict[str, Any]:
    """The `variants` row of a lock a trial takes (first_trial holds the trial's key)."""
    return {
        "param_group": variant.group,
        "name": variant.name,
        "canonical": variant.canonical,
        "hash": variant.hash,
        "source": variant.source,
        "first_commit": first_commit,
        "first_trial": first_trial,
        "locked_at": locked_at.isoformat(),
    }


def row_lock(row: Any, first_trial: str | None = None) -> VariantLock:
    """A `variants` row as a VariantLock; `first_trial` shows a name in place of the key."""
    return VariantLock(
        group=row.param_group,
        name=row.name,
        canonical=row.canonical,
        hash=row.hash,
        source=row.source,
        first_commit=row.first_commit,
        first_trial=first_trial or row.first_trial,
        locked_at=datetime.fromisoformat(row.locked_at),
    )
