"""`record.json` in each trial's folder: the database row and its locks, kept beside the files.

The trials database is the index; this file is what it can be rebuilt from
(`mitosis-hydra rebuild`). It is written when the record opens and rewritten
whenever the record changes, so it always says what the database says.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from mitosis_hydra.core.layout import RECORD_FILE
from mitosis_hydra.core.records import TrialRecord, TrialStatus, VariantValue

FORMAT = 1


def write(
    record: TrialRecord,
    combo: str,
    tracked: tuple[VariantValue, ...],
    took: list[VariantValue],
) -> None:
    """The file of a newly opened record; `took` are the names this trial locked first."""
    data = {
        "format": FORMAT,
        "record": _record_json(record),
        "combo": combo,
        "tracked": [asdict(variant) for variant in tracked],
        "took_locks": [[variant.group, variant.name] for variant in took],
    }
    _replace(record.folder / RECORD_FILE, data)


def update(record: TrialRecord) -> None:
    """Rewrite the record part (status, outcome, timings) of an existing file."""
    path = record.folder / RECORD_FILE
    if not path.is_file():
        return  # a trial recorded before record.json existed
    data = json.loads(path.read_text(encoding="utf-8"))
    data["record"] = _record_json(record)
    _replace(path, data)


def read(path: Path, trials_folder: Path) -> tuple[TrialRecord, str, list[VariantValue], set]:
    """The record, its combination, its tracked variants and the (group, name) it locked."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
        raise ValueError(f"unknown record.json format {data.get('format')!r}")
    fields = data["record"]
    record = TrialRecord(
        key=fields["key"],
        experiment=fields["experiment"],
        name=fields["name"],
        iteration=fields["iteration"],
        status=TrialStatus(fields["status"]),
        seed=fields["seed"],
        commit=fields["commit"],
        variants=fields["variants"],
        started_at=datetime.fromisoformat(fields["started_at"]),
        folder=trials_folder / fields["folder"],
        notebook=trials_folder / fields["notebook"] if fields.get("notebook") else None,
        finished_at=_time(fields.get("finished_at")),
        main=fields.get("main"),
        metrics=fields.get("metrics") or {},
        wall_time=fields.get("wall_time"),
        cpu_time=fields.get("cpu_time"),
        host=fields.get("host") or "",
        error=fields.get("error"),
        reproduction_of=fields.get("reproduction_of"),
        pid=fields.get("pid"),
        pid_start=fields.get("pid_start"),
        heartbeat_at=_time(fields.get("heartbeat_at")),
        sweep=fields.get("sweep"),
        scheduler_job=fields.get("scheduler_job"),
    )
    tracked = [VariantValue(**variant) for variant in data["tracked"]]
    took = {tuple(pair) for pair in data["took_locks"]}
    return record, data["combo"], tracked, took


def _record_json(record: TrialRecord) -> dict[str, Any]:
    data = record.to_json()
    data["folder"] = record.folder.name  # relative: the trials folder may move
    if record.notebook is not None:
        data["notebook"] = _relative(record.notebook, record.folder.parent)
    return data


def _relative(path: Path, folder: Path) -> str:
    try:
        return Path(path).resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        return str(path)


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _replace(path: Path, data: dict[str, Any]) -> None:
    """Write atomically: a reader (or a crash) never sees half a file."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(data, indent=2, sort_keys=True, default=repr), "utf-8")
    os.replace(partial, path)
