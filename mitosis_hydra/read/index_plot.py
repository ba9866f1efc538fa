"""The index page's plot of one experiment: main metric per variant combination, as SVG.

One row per combination, best first by the experiment's goal: its label on the
left (one `parameter=variant` per line, long ones wrapped, never cut), each
finished trial a dot, the mean a bar. The label column is as wide as the longest
line in a monospace font, so no label is clipped and nothing depends on the
browser measuring text; the SVG scales with its viewBox.
"""

from __future__ import annotations

import html
import math
import textwrap
from collections.abc import Sequence

from mitosis_hydra.core.records import TrialRecord, TrialStatus
from mitosis_hydra.read.compare import numeric, split_parameters

_FONT = 'font-family="ui-monospace,SFMono-Regular,Menlo,Consolas,monospace" font-size="12"'
_CHAR = 7.6  # px per character of 12px monospace (0.6 em, with a margin for wide fonts)
_LINE = 15  # px between label lines
_WRAP = 40  # characters per label line before a long variant name wraps
_PLOT = 440  # px of the value axis


def svg_plot(records: Sequence[TrialRecord], goal: str = "maximize") -> str:
    """Main metric of each finished trial (dots) and the mean (bar) per variant combination."""
    groups: dict[tuple[tuple[str, str], ...], list[tuple[float, TrialRecord]]] = {}
    for record in records:
        value = numeric(record.main)
        if record.status is TrialStatus.FINISHED and value is not None:
            groups.setdefault(tuple(sorted(record.variants.items())), []).append((value, record))
    if not groups:
        return '<p class="muted">No finished trial with a numeric main metric yet.</p>'
    differing, _constant = split_parameters([dict(combo) for combo in groups])

    def mean(combo: tuple[tuple[str, str], ...]) -> float:
        return sum(v for v, _r in groups[combo]) / len(groups[combo])

    combos = sorted(sorted(groups), key=mean, reverse=goal != "minimize")
    labels = [_label_lines(combo, differing) for combo in combos]
    widest = max(len(line) for lines in labels for line in lines)
    left = 22 + math.ceil(widest * _CHAR) + 16  # the ★ column, the labels, a gap
    low, high = _value_range([v for points in groups.values() for v, _r in points])

    def x(value: float) -> float:
        return left + _PLOT * (value - low) / (high - low)

    out: list[str] = []
    top = 8
    for index, combo in enumerate(combos):
        lines = labels[index]
        height = max(28, len(lines) * _LINE + 12)
        out += _row(index == 0, lines, groups[combo], top, height, left, x)
        top += height
    out += _axis(left, top, low, high, x, goal)
    width = left + _PLOT + 56
    total = top + 52
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" width="{width}" '
        f'data-plot-left="{left}" '
        f'height="{total}" viewBox="0 0 {width} {total}" {_FONT}>{"".join(out)}</svg>'
    )


def _label_lines(combo: tuple[tuple[str, str], ...], differing: tuple[str, ...]) -> list[str]:
    parts = [f"{p}={v}" for p, v in combo if p in differing] or ["all trials"]
    lines: list[str] = []
    for part in parts:
        lines += textwrap.wrap(part, _WRAP, subsequent_indent="  ", break_on_hyphens=False)
    return lines


def _row(
    best: bool,
    lines: list[str],
    points: list[tuple[float, TrialRecord]],
    top: float,
    height: float,
    left: float,
    x,
) -> list[str]:
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
    for i, (value, record) in enumerate(points):
        dy = ((i * 0.618034) % 1 - 0.5) * height * 0.5
        out.append(
            f'<circle cx="{x(value):.1f}" cy="{middle + dy:.1f}" r="3.5" fill="#1565c0" '
            f'fill-opacity="0.6"><title>{html.escape(record.name)}: {value:.6g}</title></circle>'
        )
    mean = sum(v for v, _r in points) / len(points)
    out.append(
        f'<line x1="{x(mean):.1f}" x2="{x(mean):.1f}" y1="{top + 4}" y2="{top + height - 4}" '
        f'stroke="#d84315" stroke-width="2.5"><title>mean {mean:.6g} ({len(points)} trials)'
        "</title></line>"
    )
    return out


def _axis(left: float, top: float, low: float, high: float, x, goal: str) -> list[str]:
    out = [f'<line x1="{left}" x2="{left + _PLOT}" y1="{top}" y2="{top}" stroke="#444"/>']
    for value in _ticks(low, high):
        out.append(
            f'<line x1="{x(value):.1f}" x2="{x(value):.1f}" y1="{top}" y2="{top + 4}" '
            f'stroke="#444"/><text x="{x(value):.1f}" y="{top + 17}" text-anchor="middle" '
            f'font-size="11">{value:.4g}</text>'
        )
    better = "lower is better" if goal == "minimize" else "higher is better"
    out.append(
        f'<text x="{left + _PLOT / 2:.0f}" y="{top + 38}" text-anchor="middle">'
        f"main ({better}) · dots: trials, bars: means</text>"
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
