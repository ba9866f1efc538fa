"""The columns the index shows, one plain row per trial: read in one query, not as records.

At 100,000 trials a `TrialRecord` each (two paths, three datetimes, a frozen
dataclass) costs seconds the page has no use for: the index shows a dozen
columns and keeps dates as their stored ISO text (it sorts and prints them as
text). `read_rows` selects just those columns, oldest first as `list_trials`
lists them, after closing lost trials as every read does; `rows_of` gives the
same rows for records already in hand.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

from mitosis_hydra.core.records import TrialRecord, TrialStatus
from mitosis_hydra.storage import reading
from mitosis_hydra.storage.engine import Database
from mitosis_hydra.storage.rows import decode, decode_all


class IndexRow(NamedTuple):
    """One trial as the index shows it; field names as in TrialRecord (compare reads them)."""

    key: str
    experiment: str
    name: str
    status: TrialStatus
    seed: int
    variants: dict[str, str]
    started_at: str  # ISO text, as stored: sorts as it reads
    wall_time: float | None
    main: Any
    metrics: dict[str, Any]
    notebook: str | None  # as stored: relative to the trials folder, or absolute
    reproduction_of: str | None
    sweep: str | None


def read_rows(trials_folder: Path, db: str | None = None) -> list[IndexRow]:
    """Every trial's row, oldest first (by start, then key), lost trials closed first.

    Through reading.select: the standard library's `sqlite3` on a SQLite file (no
    SQLAlchemy import, a third of a second), SQLAlchemy on a server."""
    database = Database(trials_folder, db)
    if not database.exists():
        return []
    reading.close_lost(database)
    return _decoded(reading.select(database, _SELECT))


_SELECT = (
    "SELECT key, experiment, name, status, seed, variants, started_at, wall_time, main, "
    f"metrics, notebook, reproduction_of, sweep FROM trials ORDER BY {reading.ORDER}"
)


def _decoded(fetched: list[Any]) -> list[IndexRow]:
    """Rows of decoded values, built a column at a time (no Python loop per row and field)."""
    if not fetched:
        return []
    (key, experiment, name, status, seed, variants, started, wall, main, metrics, notebook,
     reproduction_of, sweep) = zip(*fetched, strict=True)  # fmt: skip
    statuses = {text: TrialStatus(text) for text in set(status)}
    combos = {text: decode(text) for text in set(variants)}  # a few: each decoded once
    return list(
        map(
            _new_row,  # tuple.__new__ in C, not IndexRow's own __new__ in Python: half the time
            zip(
                key, experiment, name, map(statuses.__getitem__, status), seed,
                map(combos.__getitem__, variants), started, wall, decode_all(main),
                decode_all(metrics), notebook, reproduction_of, sweep, strict=True,
            ),
        )
    )  # fmt: skip


_new_row = partial(tuple.__new__, IndexRow)


def rows_of(records: Iterable[TrialRecord], trials_folder: Path | None = None) -> list[IndexRow]:
    """The rows of records already read; notebooks inside `trials_folder` relative to it."""
    inside = f"{trials_folder}/" if trials_folder is not None else None

    def notebook(path: Path | None) -> str | None:
        if path is None:
            return None
        text = str(path)
        return text[len(inside) :] if inside and text.startswith(inside) else text

    return [
        IndexRow(
            r.key, r.experiment, r.name, r.status, r.seed, r.variants, r.started_at.isoformat(),
            r.wall_time, r.main, r.metrics, notebook(r.notebook), r.reproduction_of, r.sweep,
        )
        for r in records
    ]  # fmt: skip
