"""The first screen of the index: status counts, best combinations, newest trials, filters.

The best combination is `compare`'s (see compare.py: trials grouped by variant
names, the best mean main by the experiment's goal, ties to the first by name),
computed from the main values alone: summing every metric of 100,000 trials,
as `compare_records` does for its table, would cost the page seconds.
"""

from __future__ import annotations

import html
import math
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from urllib.parse import quote

from mitosis_hydra.core.records import TrialStatus
from mitosis_hydra.read.compare import Stats, split_parameters, summarize
from mitosis_hydra.read.index_data import Notebooks, shown
from mitosis_hydra.read.index_rows import IndexRow
from mitosis_hydra.read.index_table import notebook_html

NEWEST = 10  # trials the first screen lists, newest first
SWEEP_OPTIONS = 200  # newest sweeps the sweep filter offers (the address takes any)
esc = html.escape


@dataclass(frozen=True)
class Best:
    """An experiment's best variant combination (`stats` None: no numeric main yet)."""

    goal: str
    differing: tuple[str, ...]
    variants: dict[str, str]
    stats: Stats | None
    trials: int


def best_combination(rows: Sequence[IndexRow], goal: str) -> Best:
    """The combination with the best mean main by `goal`, among one experiment's trials."""
    by_dict: dict[int, tuple[dict[str, str], list]] = {}  # rows of a combination share a dict
    for row in rows:
        group = by_dict.get(id(row.variants))
        if group is None:
            group = by_dict[id(row.variants)] = (row.variants, [])
        group[1].append(row.main)
    mains: dict[tuple[tuple[str, str], ...], list] = {}
    for variants, values in by_dict.values():
        mains.setdefault(tuple(sorted(variants.items())), []).extend(values)
    differing, _constant = split_parameters([dict(combo) for combo in mains])
    best: tuple[float, tuple] | None = None
    for combo in sorted(mains):
        mean = _mean(mains[combo])
        if mean is None or math.isnan(mean):
            continue
        score = mean if goal == "minimize" else -mean
        if best is None or score < best[0]:
            best = (score, combo)
    if best is None:
        return Best(goal, differing, {}, None, 0)
    combo = best[1]
    return Best(goal, differing, dict(combo), summarize(mains[combo]), len(mains[combo]))


def _mean(values: list) -> float | None:
    """summarize(values).mean, without the rest of it for the usual finite floats."""
    numbers = [v for v in values if v is not None]
    if numbers and all(type(v) is float and v - v == 0 for v in numbers):
        return math.fsum(numbers) / len(numbers)  # as statistics.fmean
    stats = summarize(values)
    return None if stats is None else stats.mean


def summary(rows: Sequence[IndexRow], now: datetime) -> str:
    counts = Counter(map(attrgetter("status"), rows))
    badges = " ".join(
        f'<span class="status s-{status.value}">{counts[status]:,} {status.value}</span>'
        for status in TrialStatus
        if counts[status]
    )
    return (
        f'<p><span id="total">{len(rows):,}</span> trials: {badges or "none yet"} '
        f'<span class="muted">· written {now:%Y-%m-%d %H:%M} UTC by mitosis-hydra index</span>'
        "</p>"
    )


def best_list(bests: Mapping[str, Best]) -> str:
    """Per experiment, its best variant combination: mean main ± std, by its goal."""
    items = []
    for name, best in sorted(bests.items()):
        if best.stats is None:
            text = '<span class="muted">no finished trial with a numeric main yet</span>'
        else:
            combo = ", ".join(f"{p}={best.variants[p]}" for p in best.differing)
            spread = "" if best.stats.std is None else f" ± {best.stats.std:.3g}"
            text = (
                f"<b>{esc(combo or 'all trials')}</b>: main {best.stats.mean:.6g}{spread} "
                f'<span class="muted">({best.trials:,} trials, {best.goal})</span>'
            )
        items.append(f'<li><a href="#exp-{quote(name)}">{esc(name)}</a>: {text}</li>')
    return f'<p>Best variant combination per experiment:</p><ul class="best">{"".join(items)}</ul>'


def newest(rows: Sequence[IndexRow], notebooks: Notebooks, links: tuple[str, str]) -> str:
    """The newest trials of every experiment, newest first: what just ran, and how it ended."""
    items = []
    for row in reversed(rows[-NEWEST:]):
        status = row.status.value
        main = shown(row.main)
        value = (
            "" if main is None else f" · main {main if isinstance(main, str) else f'{main:.6g}'}"
        )
        link = notebook_html(notebooks.code(row), row.name, *links, kind="newest")
        items.append(
            f'<li><span class="status s-{status}">{status}</span> <b>{esc(row.name)}</b> '
            f'<span class="muted">{esc(row.started_at[:10])} {esc(row.started_at[11:19])} · '
            f"{esc(row.experiment)}{esc(value)}</span> {link}</li>"
        )
    if not items:
        return ""
    return f'<p>Newest trials:</p><ol class="newest">{"".join(items)}</ol>'


def filters(rows: Sequence[IndexRow], by_experiment: Mapping[str, list[IndexRow]]) -> str:
    def select(name: str, values: Collection[str], label: str = "") -> str:
        options = "".join(f'<option value="{esc(v)}">{esc(v)}</option>' for v in values)
        return (
            f'<label>{label or name} <select id="f-{name}"><option value="">all</option>'
            f"{options}</select></label>"
        )

    combos = {id(variants): variants for variants in map(attrgetter("variants"), rows)}.values()
    parts = [
        select("experiment", sorted(by_experiment)),
        select("status", sorted(status.value for status in set(map(attrgetter("status"), rows)))),
        select("variant", sorted({f"{g}={n}" for c in combos for g, n in c.items()})),
    ]
    sweeps = sorted({r.sweep for r in rows if r.sweep})
    if sweeps:
        label = "sweep" if len(sweeps) <= SWEEP_OPTIONS else (
            f"sweep (newest {SWEEP_OPTIONS} of {len(sweeps):,}; #sweep= takes any)"
        )  # fmt: skip
        parts.append(select("sweep", sweeps[-SWEEP_OPTIONS:][::-1], label))
    parts.append('<span id="shown" class="muted"></span>')
    return f'<div id="filters">{"".join(parts)}</div>'
