"""`mitosis-hydra compare` at any scale: the compared columns read in one pass, grouped as read.

Comparing reads six fields of each trial. Building whole records for it (24
columns, three JSON documents and two paths each) took seconds at 100,000
trials; instead, one ordered query reads just those columns, each distinct
variants text is decoded once, and compare.py's statistics get the groups in
listing order: the same numbers as `compare_records(list_trials(...))`.
Statistics stay in Python (no SQL aggregate): `main` and metrics are JSON that
may hold NaN, ±inf, text or booleans, and the means and deviations are exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mitosis_hydra.core.errors import UsageError
from mitosis_hydra.core.records import TrialStatus
from mitosis_hydra.core.trial_list import collector_paused
from mitosis_hydra.read.compare import Combination, Comparison, Group, compare_groups
from mitosis_hydra.read.filters import checked_sort, parse_variants
from mitosis_hydra.read.goal import folder_goal
from mitosis_hydra.read.listing import no_such_sweep
from mitosis_hydra.storage import reading
from mitosis_hydra.storage.engine import Database
from mitosis_hydra.storage.rows import decode

_COLUMNS = "experiment, variants, key, seed, main, metrics, folder"


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
    groups: dict[str, dict[Combination, Group]] = {}
    newest: dict[str, str] = {}  # experiment → folder of its newest trial
    if not db.exists():
        return groups, {}
    reading.close_lost(db)
    clause, params = reading.where(experiment, status, sweep)
    sql = f"SELECT {_COLUMNS} FROM trials{clause} ORDER BY {reading.ORDER}"
    combos: dict[str, tuple[bool, Combination]] = {}  # variants text → (kept?, combination)
    with collector_paused():  # 100,000 metric dicts that all stay alive
        for rows in reading.select_in_chunks(db, sql, params):
            for name, variants_text, key, seed, main, metrics, folder in rows:
                found = combos.get(variants_text)
                if found is None:
                    found = combos[variants_text] = _combination(variants_text, variants)
                if not found[0]:
                    continue
                by_combo = groups.get(name) or groups.setdefault(name, {})
                group = by_combo.get(found[1]) or by_combo.setdefault(found[1], Group())
                group.add(key, seed, decode(main), decode(metrics))
                newest[name] = folder  # rows come oldest first: the last is the newest
    goals = {name: folder_goal(db.trials_folder / folder) for name, folder in newest.items()}
    return groups, goals


def _combination(text: str, variants: reading.Variants) -> tuple[bool, Combination]:
    chosen = decode(text)
    return reading.has_variants(chosen, variants), tuple(sorted(chosen.items()))
