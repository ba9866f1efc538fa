"""Rows of the trials database ↔ TrialRecord and VariantLock (pure: no connection opened).

JSON columns are written sorted, with `repr` for what JSON cannot hold, so the
same value is always the same text (a resumed sweep compares `variants` as text).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from mitosis_hydra.core.records import (
    TrialRecord,
    TrialStatus,
    VariantLock,
    VariantValue,
    stored_record,
)


def dumps(value: Any) -> str:
    """A JSON column's text."""
    return json.dumps(value, sort_keys=True, default=repr)


def decode(text: str) -> Any:
    """JSON that this module wrote (no surrounding whitespace): a third of json.loads' cost."""
    try:
        return _SCAN(text, 0)[0]
    except StopIteration:  # not JSON: json.loads says where
        return json.loads(text)


def decode_all(texts: Sequence[str]) -> list[Any]:
    """`decode` of each text: one scan of them all as a JSON list (100,000 metric
    columns: a third faster than one scan each, and keys shared), each alone if
    that list is not one value per text (a text that is not one JSON value)."""
    try:
        values = _SCAN(f"[{','.join(texts)}]", 0)[0]
    except (StopIteration, ValueError):
        values = None
    if values is not None and len(values) == len(texts):
        return values
    return [decode(text) for text in texts]


# json's own C scanner, which JSONDecoder.raw_decode calls after a Python frame of its own
_SCAN = json.JSONDecoder().scan_once


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
    """A `trials` row (all columns, in the table's order) as a TrialRecord.

    Each field is decoded from the row when first read (see records.stored_record):
    most readers of 100,000 records look at a few fields of each.
    """
    return stored_record(partial(_stored_field, row, trials_folder))


def _stored_field(row: Any, trials_folder: Path, name: str) -> Any:
    """Field `name` of the record of `row`, decoded from its column."""
    column, convert = _FIELDS[name]
    value = row[column]
    return value if convert is None else convert(value, trials_folder)


_STATUS = {status.value: status for status in TrialStatus}
_datetime = datetime.fromisoformat


def _status(text: str, _folder: Path) -> TrialStatus:
    return _STATUS.get(text) or TrialStatus(text)


def _time(text: str | None, _folder: Path) -> datetime | None:
    return _datetime(text) if text else None


def _json(text: str, _folder: Path) -> Any:
    return decode(text)


def _child(text: str, folder: Path) -> Path:
    return folder / text


def _path(text: str | None, folder: Path) -> Path | None:
    return folder / text if text else None


# field → (its column's position in a `trials` row, what turns the column into it)
_FIELDS: dict[str, tuple[int, Callable[[Any, Path], Any] | None]] = {
    "key": (0, None),
    "experiment": (1, None),
    "name": (2, None),
    "iteration": (4, None),
    "status": (5, _status),
    "seed": (6, None),
    "commit": (7, None),
    "variants": (8, _json),
    "started_at": (9, _time),
    "finished_at": (10, _time),
    "wall_time": (11, None),
    "cpu_time": (12, None),
    "main": (13, _json),
    "metrics": (14, _json),
    "folder": (15, _child),
    "notebook": (16, _path),
    "host": (17, lambda text, _folder: text or ""),
    "error": (18, None),
    "reproduction_of": (19, None),
    "pid": (20, None),
    "pid_start": (21, None),
    "heartbeat_at": (22, _time),
    "sweep": (23, None),
    "scheduler_job": (24, None),
}


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


def row_json(row: Any, trials_folder: str) -> str:
    """`json.dumps(row_record(row, Path(trials_folder)).to_json())`, without the record.

    For `list --json` of 100,000 trials. The JSON columns are written as stored, and
    the times too: this module wrote them with json.dumps and isoformat, so decoding
    and encoding again gives the same text. The rest is formatted as json.dumps
    formats it (tests/test_reading.py checks that both agree).
    """
    (key, experiment, name, _combo, iteration, status, seed, commit, variants, started_at,
     finished_at, wall_time, cpu_time, main, metrics, folder, notebook, host, error,
     reproduction_of, pid, pid_start, heartbeat_at, sweep, scheduler_job) = row  # fmt: skip
    if status not in _STATUS:
        TrialStatus(status)  # the ValueError row_record raises
    s, null = _string, "null"
    return (
        f'{{"key": {s(key)}, "experiment": {s(experiment)}, "name": {s(name)}, '
        f'"iteration": {iteration:d}, "status": {s(status)}, "main": {main}, '
        f'"metrics": {metrics}, "seed": {seed:d}, "commit": {s(commit)}, '
        f'"variants": {variants}, '
        f'"notebook": {s(_joined(trials_folder, notebook)) if notebook else null}, '
        f'"folder": {s(_joined(trials_folder, folder))}, "started_at": {s(started_at)}, '
        f'"finished_at": {s(finished_at) if finished_at else null}, '
        f'"wall_time": {_number(wall_time)}, "cpu_time": {_number(cpu_time)}, '
        f'"host": {s(host or "")}, "error": {null if error is None else s(error)}, '
        f'"reproduction_of": {null if reproduction_of is None else s(reproduction_of)}, '
        f'"pid": {null if pid is None else f"{pid:d}"}, '
        f'"pid_start": {null if pid_start is None else s(pid_start)}, '
        f'"heartbeat_at": {s(heartbeat_at) if heartbeat_at else null}, '
        f'"sweep": {null if sweep is None else s(sweep)}, '
        f'"scheduler_job": {null if scheduler_job is None else s(scheduler_job)}}}'
    )


_string = json.encoder.encode_basestring_ascii  # a str as json.dumps writes it
_INFINITY = float("inf")


def _number(value: float | None) -> str:
    """None or a float as json.dumps writes it (NaN as NaN, ±inf as ±Infinity)."""
    if value is None:
        return "null"
    if value != value:
        return "NaN"
    if value == _INFINITY or value == -_INFINITY:
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def _joined(folder: str, stored: str) -> str:
    """`str(Path(folder) / stored)` for a stored path (a trial name, `name/notebook.html`)."""
    odd = stored.startswith(("/", "./")) or stored.endswith(("/", "/.")) or stored == "."
    if odd or "//" in stored or "/./" in stored or folder.endswith("/"):
        return str(Path(folder) / stored)
    return f"{folder}/{stored}"
