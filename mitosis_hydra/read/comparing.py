"""`mitosis-hydra compare` at any scale: the compared columns read in one pass, grouped as read.

Comparing needs seven of a trial's 25 columns. Building whole records for it
took seconds at 100,000 trials; instead, one ordered query reads just those
columns, rows are bucketed by their variants text as they come (each text
decoded once), and compare.py's statistics get the groups in listing order:
the same numbers as `compare_records(list_trials(...))`.
Statistics stay in Python (no SQL aggregate): `main` and metrics are JSON that
may hold NaN, ±inf, text or booleans, and the means and deviations are exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any

from mitosis_hydra.core.errors import UsageError
from mitosis_hydra.core.records import TrialStatus
from mitosis_hydra.core.trial_list import collector_paused
from mitosis_hydra.read.compare import Combination, Comparison, Group, compare_groups
from mitosis_hydra.read.filters import checked_sort, parse_variants
from mitosis_hydra.read.goal import folder_goal
from mitosis_hydra.read.listing import no_such_sweep
from mitosis_hydra.storage import reading
from mitosis_hydra.storage.engine import Database
from mitosis_hydra.storage.rows import decode, decode_all

_COLUMNS = "experiment, variants, key, seed, main, metrics, started_at"


def compare_trials(
    trials_folder: str | Path | None = None,
    *,
    experiment: str | None = None,
    status: str | TrialStatus | None = TrialStatus.FINISHED,
    db: str | None = None,
    sweep: str | None = None,
    sort: str = "main",
) -> list[Comparison]:
    """`mitosis-hydra compare` as data: per experiment, statistics per variant combination.

    Only finished trials count by default (`status=None` takes every trial).
    """
    from mitosis_hydra.run.paths import resolve_trials_folder

    database = Database(resolve_trials_folder(trials_folder), db)
    groups, goals = read_groups(database, experiment=experiment, status=status, sweep=sweep)
    return compare_groups(groups, goals, sort)


def compare_command(
    db: Database,
    *,
    experiment: str | None,
    status: str | None,
    sweep: str | None,
    variants: Sequence[str],
    sort: str,
) -> list[Comparison]:
    """What `mitosis-hydra compare` shows; a sweep, experiment or sort key that names
    nothing recorded is a UsageError saying what there is."""
    wanted = parse_variants(variants)
    groups, goals = read_groups(
        db, experiment=experiment, status=status, sweep=sweep, variants=wanted
    )
    if not groups and sweep is not None and not reading.matching_keys(db, sweep=sweep):
        raise no_such_sweep(sweep, db.trials_folder)
    if not groups and experiment and not reading.matching_keys(db, experiment=experiment):
        known = [name for (name,) in reading.select(db, _EXPERIMENTS)] if db.exists() else []
        raise UsageError(
            f"No trial of experiment {experiment!r} is recorded.\n"
            f"  experiments recorded: {', '.join(known) or '(none)'}\n"
            "Try one of those with --experiment."
        )
    comparisons = compare_groups(groups, goals, sort)
    checked_sort(sort, {name for c in comparisons for name in c.metric_names})
    return comparisons


_EXPERIMENTS = "SELECT DISTINCT experiment FROM trials ORDER BY experiment"


def read_groups(
    db: Database,
    *,
    experiment: str | None = None,
    status: str | TrialStatus | None = None,
    sweep: str | None = None,
    variants: reading.Variants = (),
) -> tuple[dict[str, dict[Combination, Group]], dict[str, str]]:
    """The trials these filters keep, grouped (experiment → combination → Group), and
    each experiment's goal, read from the config of its newest trial among them."""
    if not db.exists():
        return {}, {}
    reading.close_lost(db)
    clause, params = reading.where_in_order(db, experiment, status, sweep)
    sql = f"SELECT {_COLUMNS} FROM trials{clause} ORDER BY {reading.ORDER}"
    buckets: dict[tuple[str, str], list[Any]] = {}  # (experiment, variants text) → rows
    with collector_paused():  # 100,000 metric dicts that all stay alive
        for rows in reading.select_in_chunks(db, sql, params):
            for row in rows:
                bucket = buckets.get(row[:2])
                if bucket is None:
                    bucket = buckets[row[:2]] = []
                bucket.append(row)
        kept: dict[tuple[str, Combination], list[Any]] = {}
        for (name, text), rows in buckets.items():
            combo = _combination(text, variants)
            if combo is None:
                continue
            same = kept.get((name, combo))  # another text of the same variants: merge in order
            kept[name, combo] = rows if same is None else sorted(same + rows, key=_LISTING_ORDER)
        return _grouped(kept, db)


_LISTING_ORDER = itemgetter(6, 2)  # (started_at, key) of a row of _COLUMNS


def _combination(text: str, variants: reading.Variants) -> Combination | None:
    """The sorted variants of a variants text, or None if they lack one of `variants`."""
    chosen = decode(text)
    return tuple(sorted(chosen.items())) if reading.has_variants(chosen, variants) else None


def _grouped(
    buckets: dict[tuple[str, Combination], list[Any]], db: Database
) -> tuple[dict[str, dict[Combination, Group]], dict[str, str]]:
    """The rows of each (experiment, combination) as a Group, and each experiment's goal
    (read from the config of its newest trial: rows come oldest first)."""
    groups: dict[str, dict[Combination, Group]] = {}
    newest: dict[str, tuple[str, str]] = {}  # experiment → (started, key)
    for (name, combo), rows in buckets.items():
        _names, _texts, keys, seeds, mains, metrics, started = zip(*rows, strict=True)
        group = Group(list(keys), list(seeds), decode_all(mains), decode_all(metrics))
        groups.setdefault(name, {})[combo] = group
        last = (started[-1], keys[-1])
        newest[name] = max(newest.get(name, last), last)
    goals = {name: folder_goal(_folder(db, key)) for name, (_, key) in newest.items()}
    return groups, goals


def _folder(db: Database, key: str) -> Path:
    [(folder,)] = reading.select(db, "SELECT folder FROM trials WHERE key = :key", {"key": key})
    return db.trials_folder / folder
