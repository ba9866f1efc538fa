"""The index page's plot of one experiment: main metric per variant combination, as SVG.

One row per combination, best first by the experiment's goal: its label on the
left (one `parameter=variant` per line, long ones wrapped, never cut), the mean
a bar, the count on the right. Up to `DOTS` finished trials a combination shows
each as a dot; more show as their spread (a box from the lower to the upper
quartile, whiskers to the extremes), so the plot's size does not grow with the
number of trials; past `MAX_ROWS` combinations the rest are summed up in a line.
The label column is as wide as the longest line in a monospace font, so no label
is clipped and nothing depends on the browser measuring text; the SVG scales
with its viewBox.
"""

from __future__ import annotations

import html
import math
import textwrap
from collections.abc import Sequence
from operator import itemgetter
from typing import Any, Protocol

from mitosis_hydra.core.records import TrialStatus
from mitosis_hydra.read.compare import numeric, split_parameters

_FONT = 'font-family="ui-monospace,SFMono-Regular,Menlo,Consolas,monospace" font-size="12"'
_CHAR = 7.6  # px per character of 12px monospace (0.6 em, with a margin for wide fonts)
_LINE = 15  # px between label lines
_WRAP = 40  # characters per label line before a long variant name wraps
_PLOT = 440  # px of the value axis
_COUNT = 84  # px right of the axis for the count
DOTS = 40  # most trials a combination draws as dots
MAX_ROWS = 40  # most combinations drawn


class Plotted(Protocol):
    """What the plot reads of a trial (a TrialRecord, or the index's lighter row)."""

    name: str
    status: TrialStatus
    variants: dict[str, str]
    main: Any


Combo = tuple[tuple[str, str], ...]


def svg_plot(records: Sequence[Plotted], goal: str = "maximize") -> str:
    """Main metric per variant combination: the mean (bar), and the finished trials
    (dots) or their spread (box and whiskers) when there are more than `DOTS`."""
    groups: dict[int, tuple[Combo, list[tuple[float, Plotted]]]] = {}
    finished = TrialStatus.FINISHED  # an enum member read once, not per trial
    for record in records:
        if record.status is not finished:
            continue
        value = record.main
        value = value if type(value) is float and value - value == 0 else numeric(value)
        if value is not None:
            group = groups.get(id(record.variants))  # rows of one combination share a dict
            if group is None:
                combo = tuple(sorted(record.variants.items()))
                group = next((g for g in groups.values() if g[0] == combo), None)
                group = groups[id(record.variants)] = group or (combo, [])
            group[1].append((value, record))
    merged = {combo: points for combo, points in groups.values()}
    if not merged:
        return '<p class="muted">No finished trial with a numeric main metric yet.</p>'
    for points in merged.values():
        points.sort(key=itemgetter(0))
    differing, _constant = split_parameters([dict(combo) for combo in merged])

    means = {c: math.fsum(map(itemgetter(0), points)) / len(points) for c, points in merged.items()}
    mean = means.__getitem__
    combos = sorted(sorted(merged), key=mean, reverse=goal != "minimize")
    drawn, rest = combos[:MAX_ROWS], combos[MAX_ROWS:]
    labels = [_label_lines(combo, differing) for combo in drawn]
    widest = max(len(line) for lines in labels for line in lines)
    left = 22 + math.ceil(widest * _CHAR) + 16  # the ★ column, the labels, a gap
    low, high = _value_range([v for c in drawn for v in (merged[c][0][0], merged[c][-1][0])])

    def x(value: float) -> float:
        return left + _PLOT * (value - low) / (high - low)

    out: list[str] = []
    top = 8
    for index, combo in enumerate(drawn):
        lines = labels[index]
        height = max(28, len(lines) * _LINE + 12)
        out += _row(index == 0, lines, merged[combo], top, height, left, x)
        top += height
    if rest:
        means = [mean(combo) for combo in rest]
        out.append(
            f'<text x="22" y="{top + 18}">… {len(rest):,} more combinations, means '
            f"{min(means):.4g} to {max(means):.4g}: see the table</text>"
        )
        top += 28
    boxes = any(len(merged[combo]) > DOTS for combo in drawn)
    out += _axis(left, top, low, high, x, goal, boxes)
    width = left + _PLOT + _COUNT
    total = top + 52
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" width="{width}" '
        f'data-plot-left="{left}" '
        f'height="{total}" viewBox="0 0 {width} {total}" {_FONT}>{"".join(out)}</svg>'
    )


def _label_lines(combo: Combo, differing: tuple[str, ...]) -> list[str]:
    parts = [f"{p}={v}" for p, v in combo if p in differing] or ["all trials"]
    lines: list[str] = []
    for part in parts:
        lines += textwrap.wrap(part, _WRAP, subsequent_indent="  ", break_on_hyphens=False)
    return lines


def _row(
    best: bool,
    lines: list[str],
    points: list[tuple[float, Plotted]],
    top: float,
    height: float,
    left: float,
    x,
) -> list[str]:
    """One combination: background, label, its trials (sorted by value), mean, count."""
    middle = top + height / 2
    first = middle - (len(lines) - 1) * _LINE / 2 + 4
    weight = ' font-weight="bold"' if best else ""
    out = [
        f'<rect x="0" y="{top}" width="{left + _PLOT + 8}" height="{height}" '
        f'fill="{"#e8f5e9" if best else "#fafafa"}"/>',
        f'<line x1="{left}" x2="{left + _PLOT}" y1="{top + height}" y2="{top + height}" '
        'stroke="#e0e0e0"/>',
    ]
    if best:
        out.append(f'<text x="4" y="{first:.1f}" fill="#2e7d32">★<title>best</title></text>')
    out += [
        f'<text class="label" x="22" y="{first + i * _LINE:.1f}"{weight}>{html.escape(line)}</text>'
        for i, line in enumerate(lines)
    ]
    values = [v for v, _r in points]
    if len(points) <= DOTS:
        out += _dots(points, middle, height, x)
    else:
        out += _spread(values, middle, height, x)
    mean = math.fsum(values) / len(values)
    out.append(
        f'<line x1="{x(mean):.1f}" x2="{x(mean):.1f}" y1="{top + 4}" y2="{top + height - 4}" '
        f'stroke="#d84315" stroke-width="2.5"><title>mean {mean:.6g} ({len(points):,} trials)'
        "</title></line>"
    )
    out.append(
        f'<text x="{left + _PLOT + 8}" y="{middle + 4:.1f}" font-size="11" fill="#555">'
        f"n={len(points):,}</text>"
    )
    return out


def _dots(points: list[tuple[float, Plotted]], middle: float, height: float, x) -> list[str]:
    out = []
    for i, (value, record) in enumerate(points):
        dy = ((i * 0.618034) % 1 - 0.5) * height * 0.5
        out.append(
            f'<circle cx="{x(value):.1f}" cy="{middle + dy:.1f}" r="3.5" fill="#1565c0" '
            f'fill-opacity="0.6"><title>{html.escape(record.name)}: {value:.6g}</title></circle>'
        )
    return out


def _spread(values: list[float], middle: float, height: float, x) -> list[str]:
    """Whiskers from the least to the greatest value, a box over the middle half."""
    low, q1, median, q3, high = (_quantile(values, q) for q in (0, 0.25, 0.5, 0.75, 1))
    half = height * 0.22
    title = (
        f"<title>{len(values):,} trials: min {low:.4g}, quartiles {q1:.4g} · {median:.4g} · "
        f"{q3:.4g}, max {high:.4g}</title>"
    )
    return [
        f'<g stroke="#1565c0">{title}'
        f'<line x1="{x(low):.1f}" x2="{x(high):.1f}" y1="{middle:.1f}" y2="{middle:.1f}"/>'
        f'<line x1="{x(low):.1f}" x2="{x(low):.1f}" y1="{middle - half / 2:.1f}" '
        f'y2="{middle + half / 2:.1f}"/>'
        f'<line x1="{x(high):.1f}" x2="{x(high):.1f}" y1="{middle - half / 2:.1f}" '
        f'y2="{middle + half / 2:.1f}"/>'
        f'<rect class="box" x="{x(q1):.1f}" y="{middle - half:.1f}" '
        f'width="{max(x(q3) - x(q1), 1):.1f}" height="{2 * half:.1f}" fill="#1565c0" '
        'fill-opacity="0.25"/>'
        f'<line x1="{x(median):.1f}" x2="{x(median):.1f}" y1="{middle - half:.1f}" '
        f'y2="{middle + half:.1f}" stroke-width="2"/></g>'
    ]


def _quantile(ordered: list[float], q: float) -> float:
    """The q-quantile of sorted values, interpolated between the two nearest."""
    position = q * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def _axis(left: float, top: float, low: float, high: float, x, goal: str, boxes: bool) -> list[str]:
    out = [f'<line x1="{left}" x2="{left + _PLOT}" y1="{top}" y2="{top}" stroke="#444"/>']
    for value in _ticks(low, high):
        out.append(
            f'<line x1="{x(value):.1f}" x2="{x(value):.1f}" y1="{top}" y2="{top + 4}" '
            f'stroke="#444"/><text x="{x(value):.1f}" y="{top + 17}" text-anchor="middle" '
            f'font-size="11">{value:.4g}</text>'
        )
    better = "lower is better" if goal == "minimize" else "higher is better"
    shapes = (
        "bars: means · boxes: middle half, lines: range" if boxes else "dots: trials, bars: means"
    )
    out.append(
        f'<text x="{left + _PLOT / 2:.0f}" y="{top + 38}" text-anchor="middle">'
        f"main ({better}) · {shapes}</text>"
    )
    return out


def _ticks(low: float, high: float) -> list[float]:
    """Round tick values (steps of 1, 2, 2.5 or 5 times a power of ten) inside [low, high]."""
    raw = (high - low) / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step)
    ticks = [(first + i) * step for i in range(6)]
    return [0.0 if abs(t) < step * 1e-9 else t for t in ticks if t <= high]


def _value_range(values: list[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    if low == high:
        pad = abs(low) * 0.1 or 1.0
        return low - pad, high + pad
    pad = (high - low) * 0.05
    return low - pad, high + pad
