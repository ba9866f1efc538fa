"""Variant locks: check, take, list with their trial counts, release with an audit entry.

A lock ties a variant name to the value its first trial ran with. A release
deletes the lock row only: every trial recorded with the name keeps its record,
its files and its config; the released value and where it came from are kept
in the audit table, so the history of a name can be told later.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mitosis_hydra.core.conflicts import conflict_message, find_conflicts
from mitosis_hydra.core.errors import VariantConflictError, VariantInUseError, VariantNotFoundError
from mitosis_hydra.core.modifications import locked_name
from mitosis_hydra.core.records import TrialPlan, VariantLock, VariantValue
from mitosis_hydra.storage import schema
from mitosis_hydra.storage.engine import Database
from mitosis_hydra.storage.rows import dumps, lock_row, row_lock

RELEASE_ACTION = "release_variant"


def check_locks(db: Database, variants: Sequence[VariantValue]) -> list:
    """Conflicts the given variants would meet, without writing anything."""
    if not db.exists():
        return []
    with db.read() as conn:
        stored = _stored_locks(conn, variants)
    return find_conflicts(variants, stored)


def take_locks(conn: Connection, plan: TrialPlan) -> list[VariantValue]:
    """Check the plan's variants against their locks; lock the new names (returned).

    Runs inside the write transaction that opens the plan's trial.
    """
    stored = _stored_locks(conn, plan.tracked)
    conflicts = find_conflicts(plan.tracked, stored)
    if conflicts:
        raise VariantConflictError(conflict_message(conflicts))
    took = [v for v in plan.tracked if (v.group, v.name) not in stored]
    for variant in took:
        row = lock_row(variant, plan.commit, plan.key, plan.started_at)
        conn.execute(schema.variants.insert().values(row))
    return took


def variant_locks(db: Database) -> list[VariantLock]:
    """Every locked variant with the number of trials recorded with its current value."""
    if not db.exists():
        return []
    with db.read() as conn:
        locks = {
            (row.param_group, row.name): _named_lock(conn, row)
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
                if lock is not None and uses_current_value(lock, started):
                    counts[pair] = counts.get(pair, 0) + 1
    return [replace(locks[pair], trial_count=counts.get(pair, 0)) for pair in sorted(locks)]


def variant_lock(db: Database, group: str, name: str) -> VariantLock:
    """The lock of group/name with the number of trials recorded with its current value."""
    if not db.exists():
        raise _not_found(group, name, db.url)
    with db.read() as conn:
        lock = _lock_or_raise(conn, group, name, db.url)
        return replace(lock, trial_count=len(trials_using(conn, lock)))


def release_variant(db: Database, group: str, name: str, *, force: bool = False) -> VariantLock:
    """Free a locked name so it can be locked again; refused while trials use it unless `force`.

    Checked and done in one write transaction, so a trial starting at the same
    moment either sees the old lock or none.
    """
    if not db.exists():
        raise _not_found(group, name, db.url)
    with db.write() as conn:
        lock = _lock_or_raise(conn, group, name, db.url)
        used = trials_using(conn, lock)
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
        add_audit_entry(conn, RELEASE_ACTION, detail)
    return replace(lock, trial_count=len(used))


def add_audit_entry(conn: Connection, action: str, detail: dict[str, Any]) -> None:
    """Record a deliberate change to the database (inside the transaction making it)."""
    conn.execute(
        schema.audit.insert().values(
            at=datetime.now(UTC).isoformat(), action=action, detail=dumps(detail)
        )
    )


def audit_log(db: Database, action: str | None = None) -> list[dict[str, Any]]:
    """Deliberate changes to the database (released variants, rebuilds), oldest first."""
    if not db.exists():
        return []
    query = sa.select(schema.audit).order_by(schema.audit.c.id)
    if action is not None:
        query = query.where(schema.audit.c.action == action)
    with db.read() as conn:
        rows = conn.execute(query).all()
    return [{"at": r.at, "action": r.action, "detail": json.loads(r.detail)} for r in rows]


def uses_current_value(lock: VariantLock, started_at: str | datetime) -> bool:
    """Whether a trial that used the lock's name ran with its current value: it started
    after the lock was taken (earlier trials ran with a value released since)."""
    if isinstance(started_at, str):
        started_at = datetime.fromisoformat(started_at)
    return started_at >= lock.locked_at


def trials_using(conn: Connection, lock: VariantLock) -> list[str]:
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
        and uses_current_value(lock, row.started_at)
    ]


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
            stored[(variant.group, variant.name)] = _named_lock(conn, row)
    return stored


def _named_lock(conn: Connection, row: Any) -> VariantLock:
    """The lock of a `variants` row, its first trial shown by name (the row holds its key)."""
    trials = schema.trials
    name = conn.execute(sa.select(trials.c.name).where(trials.c.key == row.first_trial)).scalar()
    return row_lock(row, first_trial=name)


def _lock_or_raise(conn: Connection, group: str, name: str, url: str) -> VariantLock:
    table = schema.variants
    row = conn.execute(
        sa.select(table).where(table.c.param_group == group, table.c.name == name)
    ).first()
    if row is None:
        raise _not_found(group, name, url)
    return _named_lock(conn, row)


def _not_found(group: str, name: str, url: str) -> VariantNotFoundError:
    return VariantNotFoundError(
        f"No variant {group}/{name} is locked in this trials database.\n"
        f"  trials database: {url}\n"
        "Try `mitosis-hydra variants` to see every locked name."
    )


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
