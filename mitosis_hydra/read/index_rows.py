"""The columns the index shows, one plain row per trial: read in one query, not as records.

At 100,000 trials a `TrialRecord` each (two paths, three datetimes, a frozen
dataclass) costs seconds the page has no use for: the index shows a dozen
columns and keeps dates as their stored ISO text (it sorts and prints them as
text). `read_rows` selects just those columns, oldest first as `list_trials`
lists them, after closing lost trials as every read does; `rows_of` gives the
same rows for records already in hand.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from mitosis_hydra.core.records import TrialRecord, TrialStatus


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
    """Every trial's row, oldest first (by start, then key), lost trials closed first."""
    import sqlalchemy as sa

    from mitosis_hydra.storage import schema
    from mitosis_hydra.storage.store import TrialStore

    store = TrialStore(trials_folder, db)
    if not store.exists():
        return []
    store.close_lost()
    c = schema.trials.c
    query = sa.select(
        c.key, c.experiment, c.name, c.status, c.seed, c.variants, c.started_at,
        c.wall_time, c.main, c.metrics, c.notebook, c.reproduction_of, c.sweep,
    ).order_by(c.started_at, c.key)  # fmt: skip
    with store.read() as conn:  # the driver's own cursor: plain tuples, no Row objects
        sql = str(query.compile(dialect=conn.dialect))
        driver_error = conn.dialect.loaded_dbapi.Error
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            cursor.execute(sql)
            fetched = cursor.fetchall()
        except driver_error as error:  # as SQLAlchemy raises it: the store words it for users
            raise sa.exc.DBAPIError.instance(sql, None, error, driver_error) from error
        finally:
            cursor.close()
    return _decoded(fetched)


_DECODE = json.JSONDecoder().raw_decode


def _decoded(fetched: list[Any]) -> list[IndexRow]:
    """Rows of decoded values, built a column at a time (no Python loop per row and field)."""
    if not fetched:
        return []
    (key, experiment, name, status, seed, variants, started, wall, main, metrics, notebook,
     reproduction_of, sweep) = zip(*fetched, strict=True)  # fmt: skip
    statuses = {text: TrialStatus(text) for text in set(status)}
    combos = {text: _DECODE(text)[0] for text in set(variants)}  # a few: each decoded once
    return list(
        map(
            IndexRow, key, experiment, name, map(statuses.__getitem__, status), seed,
            map(combos.__getitem__, variants), started, wall, _column(main),
            _column(metrics), notebook, reproduction_of, sweep,
        )
    )  # fmt: skip


def _column(texts: Sequence[str]) -> list[Any]:
    """A JSON column's values: one `json.loads` of them all, a third quicker than one each."""
    try:
        return json.loads(f"[{','.join(texts)}]")
    except ValueError:  # a text that is not JSON on its own: each decoded alone, as rows.py does
        return [_DECODE(text)[0] for text in texts]


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
