"""The scale targets of `make bench`: each one measured against a floor timed in the same run.

A target is only meaningful beside what the machine can do at best right now
(a bare `sqlite3` fetch, Hydra's own composition, a bare notebook run), so
every row carries its floor and the ratio; `met` compares the measurement
with the target's bound, whichever of the two (absolute or ratio) it states.

Each scale script in this folder has a `measure_targets(...) -> list[TargetRow]`
that bench.py calls, and prints its own rows when run alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class TargetRow:
    target: str  # what is asked, as the issue states it: "`list` over 100,000 trials ≤ 0.5 s"
    measured: str  # the measurement with its unit: "0.31 s"
    floor: str  # what it is compared with, measured in the same run: "sqlite3 fetch 0.74 s"
    ratio: float | None  # measured / floor, when both are times (None: not a ratio)
    met: bool


def table(rows: Iterable[TargetRow]) -> str:
    """A markdown table, as the README's performance section shows it."""
    lines = ["| target | measured | floor (same run) | × floor | met |", "|---|---|---|---|---|"]
    for row in rows:
        ratio = "" if row.ratio is None else f"{row.ratio:.2f}"
        met = "yes" if row.met else "**no**"
        lines.append(f"| {row.target} | {row.measured} | {row.floor} | {ratio} | {met} |")
    return "\n".join(lines)
