"""Releasing a locked variant name on purpose, with an audit entry (never a silent reuse).

A release deletes the lock row only: every trial recorded with the name keeps
its record, its files and its config. The released value and where it came
from are kept in the audit table, so the history of a name can be told later.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mitosis_hydra.core.errors import VariantInUseError, VariantNotFoundError
from mitosis_hydra.core.records import VariantLock
from mitosis_hydra.storage import schema
from mitosis_hydra.storage.store import (
    TrialStore,
    _dumps,
    _row_lock,
    experiment_options,
    locks_used,
)

RELEASE_ACTION = "release_variant"


def variant_lock(store: TrialStore, group: str, name: str) -> VariantLock:
    """The lock of group/name with the number of trials recorded with its current value."""
    if not store.exists():
        raise _not_found(group, name, store.url)
    with store._read() as conn:
        lock = _lock_or_raise(conn, group, name, store.url)
        return _with_count(lock, _trials_using(conn, lock))


def release_variant(
    store: TrialStore, group: str, name: str, *, force: bool = False
) -> VariantLock:
    """Free a locked name so it can be locked again; refused while trials use it unless `force`.

    Checked and done in one write transaction, so a trial starting at the same
    moment either sees the old lock or none.
    """
    if not store.exists():
        raise _not_found(group, name, store.url)
    with store._write() as conn:
        lock = _lock_or_raise(conn, group, name, store.url)
        used = _trials_using(conn, lock)
        if used and not force:
            raise VariantInUseError(_in_use_message(lock, used))
        table = schema.variants
        conn.execute(table.delete().where(table.c.param_group == group, table.c.name == name))
        detail = {
            "group": group,
            "name": name,
            "canonical": lock.canonical,
            "hash": lock.hash,
            "source": lock.source,
            "first_commit": lock.first_commit,
            "first_trial": lock.first_trial,
            "locked_at": lock.locked_at.isoformat(),
            "trials": used,
            "forced": force,
        }
        conn.execute(
            schema.audit.insert().values(
                at=datetime.now(UTC).isoformat(), action=RELEASE_ACTION, detail=_dumps(detail)
            )
        )
    return _with_count(lock, used)


def audit_log(store: TrialStore, action: str | None = None) -> list[dict[str, Any]]:
    """Deliberate changes to the database (released variants), oldest first."""
    if not store.exists():
        return []
    query = sa.select(schema.audit).order_by(schema.audit.c.id)
    if action is not None:
        query = query.where(schema.audit.c.action == action)
    with store._read() as conn:
        rows = conn.execute(query).all()
    return [{"at": r.at, "action": r.action, "detail": json.loads(r.detail)} for r in rows]


def parse_variant(text: str) -> tuple[str, str]:
    """`amplitude/big` or `amplitude=big` (nested: `model/optimizer/adam`) → (group, name)."""
    if "=" in text:
        group, _, name = text.partition("=")
    else:
        group, _, name = text.rpartition("/")
    if not group or not name:
        raise VariantNotFoundError(
            f"{text!r} does not name a variant.\n"
            "  a variant is written GROUP/NAME, e.g. amplitude/my_variant\n"
            "Try `mitosis-hydra variants` to see every locked name."
        )
    return group, name


def _with_count(lock: VariantLock, used: list[str]) -> VariantLock:
    return replace(lock, trial_count=len(used))


def _not_found(group: str, name: str, url: str) -> VariantNotFoundError:
    return VariantNotFoundError(
        f"No variant {group}/{name} is locked in this trials database.\n"
        f"  trials database: {url}\n"
        "Try `mitosis-hydra variants` to see every locked name."
    )


def _lock_or_raise(conn: Connection, group: str, name: str, url: str) -> VariantLock:
    table = schema.variants
    row = conn.execute(
        sa.select(table).where(table.c.param_group == group, table.c.name == name)
    ).first()
    if row is None:
        raise _not_found(group, name, url)
    return _row_lock(row, conn)


def _trials_using(conn: Connection, lock: VariantLock) -> list[str]:
    """Names of trials recorded with the lock's current value (those since it was locked)."""
    table = schema.trials
    # a placement (`db@src`) or a modified variant (`mysql[user=root]`) uses the lock too
    options = experiment_options(conn)
    query = sa.select(table.c.name, table.c.variants, table.c.started_at, table.c.experiment)
    if lock.group != "exp":  # an experiment's trials may not name it among their variants
        query = query.where(table.c.variants.contains(json.dumps(lock.name)[:-1], autoescape=True))
    rows = conn.execute(query.order_by(table.c.started_at)).all()
    return [
        row.name
        for row in rows
        if (lock.group, lock.name) in locks_used(row.variants, row.experiment, options)
        and datetime.fromisoformat(row.started_at) >= lock.locked_at
    ]


def _in_use_message(lock: VariantLock, used: list[str]) -> str:
    shown = ", ".join(used[:3]) + (f" and {len(used) - 3} more" if len(used) > 3 else "")
    plural = "s" if len(used) != 1 else ""
    return (
        f"Variant {lock.group}/{lock.name} is still used by {len(used)} recorded trial{plural}, "
        "so it was not released.\n"
        f"  locked to {lock.canonical} by trial {lock.first_trial} "
        f"(commit {lock.first_commit[:7]}, {lock.locked_at:%Y-%m-%d %H:%M})\n"
        f"  used by: {shown}\n"
        "Releasing keeps those trials and their recorded values as they are. "
        f"Try `mitosis-hydra variants release {lock.group}/{lock.name} --force`."
    )
