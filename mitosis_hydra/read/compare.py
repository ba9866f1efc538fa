"""Comparing trials: the main metric and each metric per variant combination (pure statistics).

Trials of one experiment are grouped by their variant names (every parameter,
untracked ones included); each group gets count, mean, sample standard
deviation, min and max over its numeric values, across seeds and iterations.
Rows are sorted best first by the experiment's goal (`goal: maximize`, the
default, or `goal: minimize` in conf/exp/<name>.yaml), and the best row is named.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import compress, repeat
from operator import is_, mul
from typing import Any

from mitosis_hydra.core.records import TrialRecord


@dataclass(frozen=True)
class Stats:
    """Summary of the numeric values of one metric in one group (`std` is None below 2 values)."""

    count: int
    mean: float
    std: float | None
    min: float
    max: float

    def to_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "mean": self.mean,
            "std": self.std,
            "min": self.min,
            "max": self.max,
        }


@dataclass(frozen=True)
class ComparisonRow:
    """One variant combination of an experiment and what its trials gave."""

    variants: dict[str, str]
    trials: int
    seeds: tuple[int, ...]
    keys: tuple[str, ...]
    main: Stats | None
    metrics: dict[str, Stats] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "variants": self.variants,
            "trials": self.trials,
            "seeds": list(self.seeds),
            "keys": list(self.keys),
            "main": self.main.to_json() if self.main else None,
            "metrics": {name: stats.to_json() for name, stats in self.metrics.items()},
        }


@dataclass(frozen=True)
class Comparison:
    """All variant combinations of one experiment; `differing` names the parameters that vary."""

    experiment: str
    rows: tuple[ComparisonRow, ...]
    differing: tuple[str, ...]
    constant: dict[str, str]
    metric_names: tuple[str, ...]
    goal: str = "maximize"
    best: int | None = None  # the index of the row with the best mean main, if any has one

    def to_json(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "goal": self.goal,
            "best": self.best,
            "differing": list(self.differing),
            "constant": self.constant,
            "metrics": list(self.metric_names),
            "rows": [row.to_json() for row in self.rows],
        }


def numeric(value: Any) -> float | None:
    """The value as a finite float, or None for anything else (bools, text, NaN, None)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def summarize(values: Iterable[Any]) -> Stats | None:
    """Count, mean, sample std, min and max of the numeric values (None if there are none).

    NaN and ±inf count, and show in the result as IEEE arithmetic has them (a NaN
    makes the group's mean NaN): a blank cell would hide that a trial gave one.
    """
    values = list(values)
    numbers = list(compress(values, map(is_, map(type, values), repeat(float))))
    if len(numbers) < len(values):  # not all floats: ints, None, text, bools (C loops above)
        numbers = [float(v) for v in values if type(v) in _PLAIN_NUMBERS or _real(v)]
    if not numbers:
        return None
    if all(map(math.isfinite, numbers)):
        std = stdev(numbers) if len(numbers) > 1 else None
        return Stats(len(numbers), statistics.fmean(numbers), std, min(numbers), max(numbers))
    nan = any(math.isnan(n) for n in numbers)
    mean = math.nan if nan else sum(numbers) / len(numbers)  # inf, -inf, or nan for both
    low, high = (math.nan, math.nan) if nan else (min(numbers), max(numbers))
    return Stats(len(numbers), mean, math.nan if len(numbers) > 1 else None, low, high)


def _real(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float)


_PLAIN_NUMBERS = frozenset({float, int})  # most values: no isinstance needed


def stdev(numbers: list[float]) -> float:
    """`statistics.stdev(numbers)` of finite floats: the same float, ten times faster.

    statistics sums the values and their squares as exact fractions, one Python
    call per value, then takes the correctly rounded square root of the exact
    variance. Here the floats are scaled by one power of two so that all are whole
    numbers, and the exact sums are integer sums in C loops; the variance is then
    the same fraction, and goes to the same square root. Values too far apart for
    one scale (beyond the float range) go to statistics itself.
    """
    sqrt_of_fraction = getattr(statistics, "_float_sqrt_of_frac", None)
    smallest = min(filter(None, map(abs, numbers)), default=0.0)
    shift = 53 - math.frexp(smallest)[1] if smallest else 0
    try:
        whole = list(map(int, map(math.ldexp, numbers, repeat(shift))))
    except OverflowError:
        whole = None
    if whole is None or sqrt_of_fraction is None:
        return statistics.stdev(numbers)
    n = len(whole)
    total, squares = sum(whole), sum(map(mul, whole, whole))
    # statistics: ss = (n·Σx² − (Σx)²)/n, variance = ss/(n − 1); x = whole / 2**shift
    spread, count = n * squares - total * total, n * (n - 1)
    if shift >= 0:
        variance = Fraction(spread, count << (2 * shift))
    else:  # values of 2**53 and more: whole numbers already, scaled down
        variance = Fraction(spread << (-2 * shift), count)
    return sqrt_of_fraction(variance.numerator, variance.denominator)


SORTS = ("main", "name", "trials")  # or the name of a metric


@dataclass
class Group:
    """What compare reads of the trials of one variant combination, in listing order."""

    keys: list[str] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    mains: list[Any] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)

    def add(self, key: str, seed: int, main: Any, metrics: dict[str, Any]) -> None:
        self.keys.append(key)
        self.seeds.append(seed)
        self.mains.append(main)
        self.metrics.append(metrics)


Combination = tuple[tuple[str, str], ...]  # a trial's variants, sorted by parameter


def compare_records(
    records: Iterable[TrialRecord],
    goals: Mapping[str, str] | None = None,
    sort: str = "main",
) -> list[Comparison]:
    """One comparison per experiment (sorted by name), rows sorted by `sort`.

    `main`: best first by the experiment's goal (`goals`, maximize if not given);
    `name`: by variant names; `trials`: most first; a metric's name: highest first.
    Rows without the value sort last.
    """
    groups: dict[str, dict[Combination, Group]] = {}
    for record in records:
        combo = tuple(sorted(record.variants.items()))
        by_combo = groups.setdefault(record.experiment, {})
        group = by_combo.get(combo) or by_combo.setdefault(combo, Group())
        group.add(record.key, record.seed, record.main, record.metrics)
    return compare_groups(groups, goals, sort)


def compare_groups(
    groups: Mapping[str, Mapping[Combination, Group]],
    goals: Mapping[str, str] | None = None,
    sort: str = "main",
) -> list[Comparison]:
    """`compare_records` of trials already grouped: experiment → combination → Group."""
    goals = goals or {}
    return [
        _compare_one(name, groups[name], goals.get(name, "maximize"), sort)
        for name in sorted(groups)
    ]


def _compare_one(
    experiment: str, groups: Mapping[Combination, Group], goal: str, sort: str
) -> Comparison:
    metric_names = sorted(metric_names_of(groups.values()))
    rows = [_row(dict(combo), groups[combo], metric_names) for combo in sorted(groups)]
    rows.sort(key=lambda row: _sort_key(row, sort, goal))  # stable: ties keep name order
    differing, constant = split_parameters([row.variants for row in rows])
    best = min(
        (i for i, row in enumerate(rows) if row.main and _comparable(row.main.mean)),
        key=lambda i: _sort_key(rows[i], "main", goal),
        default=None,
    )
    return Comparison(experiment, tuple(rows), differing, constant, tuple(metric_names), goal, best)


def metric_names_of(groups: Iterable[Group]) -> set[str]:
    """Every metric name any trial of these groups has."""
    names: set[str] = set()
    for group in groups:
        names.update(*group.metrics)
    return names


def _comparable(value: float) -> bool:
    return not math.isnan(value)


def _sort_key(row: ComparisonRow, sort: str, goal: str) -> tuple[bool, float]:
    if sort == "name":
        return (False, 0.0)  # the rows come sorted by variant names
    if sort == "trials":
        return (False, -row.trials)
    stats = row.main if sort == "main" else row.metrics.get(sort)
    if stats is None or not _comparable(stats.mean):
        return (True, 0.0)
    lower_first = sort == "main" and goal == "minimize"
    return (False, stats.mean if lower_first else -stats.mean)


def _row(variants: dict[str, str], group: Group, metrics: list[str]) -> ComparisonRow:
    stats = {}
    for name in metrics:
        summary = summarize(map(dict.get, group.metrics, repeat(name)))
        if summary is not None:
            stats[name] = summary
    return ComparisonRow(
        variants=variants,
        trials=len(group.keys),
        seeds=tuple(sorted(set(group.seeds))),
        keys=tuple(group.keys),
        main=summarize(group.mains),
        metrics=stats,
    )


def split_parameters(
    combos: list[Mapping[str, str]],
) -> tuple[tuple[str, ...], dict[str, str]]:
    """Parameters whose variant differs between combinations, and those that are the same."""
    names = sorted({name for combo in combos for name in combo})
    differing = tuple(n for n in names if len({combo.get(n) for combo in combos}) > 1)
    constant = {n: str(combos[0].get(n)) for n in names if n not in differing}
    return differing, constant
