"""Reading trial rows as they are stored: by key or key prefix, by name, by what ran.

Plain reads, no lost-trial detection: trials.py checks the `running` records
these return (closing those whose driver is gone) before callers see them.
"""

from __future__ import annotations

import sqlalchemy as sa

from mitosis_hydra.core.errors import TrialNotFoundError
from mitosis_hydra.core.records import TrialRecord, TrialStatus
from mitosis_hydra.storage import schema
from mitosis_hydra.storage.engine import Database
from mitosis_hydra.storage.rows import dumps, row_record


def find_record(db: Database, key_or_prefix: str) -> TrialRecord:
    """The trial with this key, or with the only key that starts with it."""
    table = schema.trials
    with db.read() as conn:
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
        return row_record(rows[0], db.trials_folder)
    if not rows:
        raise TrialNotFoundError(
            f"No trial has a key starting with {key_or_prefix!r}.\n"
            f"  trials database: {db.shown_url}\n"
            "Check the key with: mitosis-hydra list"
        )
    candidates = "\n".join(f"  {row.key}  {row.name}" for row in rows[:10])
    raise TrialNotFoundError(
        f"The key prefix {key_or_prefix!r} matches several trials:\n{candidates}\n"
        "Give more characters of the key."
    )


def finished_record(
    db: Database, experiment: str, variants: dict[str, str], seed: int, commit: str
) -> TrialRecord | None:
    """The latest finished trial of this experiment, variants and seed at `commit`, if any.

    What a resumed sweep skips a job for; failed, interrupted and running trials do not count.
    """
    return latest_record(db, (TrialStatus.FINISHED,), experiment, variants, seed, commit)


def latest_record(
    db: Database,
    statuses: tuple[TrialStatus, ...],
    experiment: str,
    variants: dict[str, str],
    seed: int,
    commit: str,
) -> TrialRecord | None:
    """The latest trial of this experiment, variants and seed at `commit` in one of `statuses`."""
    if not db.exists():
        return None
    table = schema.trials
    query = (
        sa.select(table)
        .where(
            table.c.experiment == experiment,
            table.c.variants == dumps(variants),
            table.c.seed == seed,
            table.c.commit == commit,
            table.c.status.in_([status.value for status in statuses]),
        )
        .order_by(table.c.started_at.desc())
        .limit(1)
    )
    with db.read() as conn:
        row = conn.execute(query).first()
    return None if row is None else row_record(row, db.trials_folder)


def keys_named(db: Database, name: str) -> list[str]:
    """Keys of the trials with this full name (one, unless the database was merged)."""
    if not db.exists():
        return []
    table = schema.trials
    with db.read() as conn:
        return list(conn.execute(sa.select(table.c.key).where(table.c.name == name)).scalars())
