"""What a sweep shows while it runs (a progress bar) and when it ends (a summary table).

The bar is drawn only on a terminal; in a log file or CI, each trial that ends
gets one plain line instead, so the output stays readable without a TTY.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mitosis_hydra.core.outcomes import (
    COMPLETE,
    NOT_STARTED,
    STATUS_STYLE,
    counts_text,
    format_metric,
    last_line,
    status_counts,
)
from mitosis_hydra.core.records import TrialStatus


class SweepProgress:
    """A progress bar with done/failed/running counts; plain lines when not on a terminal."""

    def __init__(self, total: int, show: bool | None = None) -> None:
        self.total = total
        self.done = self.failed = self.running = 0
        console = Console(stderr=True)
        self.live = console.is_terminal if show is None else bool(show)
        self._progress = Progress(
            TextColumn("[bold]trials"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            console=console,
            disable=not self.live,
        )
        self._task = self._progress.add_task("trials", total=total, counts=self._counts())

    def __enter__(self) -> SweepProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._progress.__exit__(*exc_info)

    def update(self, kind: str, _position: int, result: Any) -> None:
        """Called by the worker pool for every `started` and `done` event."""
        if kind == "started":
            self.running += 1
        else:
            self.running -= 1
            self.done += 1
            self.failed += result.status != TrialStatus.FINISHED
            if not self.live:
                name = result.name or f"job #{result.position}"
                print(f"[{self.done}/{self.total}] {result.status}: {name}", flush=True)
        self._progress.update(self._task, completed=self.done, counts=self._counts())

    def _counts(self) -> str:
        return f"done {self.done - self.failed} · failed {self.failed} · running {self.running}"


def print_summary(results: Sequence[Any], seconds: float, sweep: str | None = None) -> None:
    """The table a researcher reads when the sweep ends: trial, status, main, notebook.

    `sweep` is the sweep's id, recorded with each of its trials (`list --sweep ID`).
    """
    console = Console(file=sys.stdout, width=None if sys.stdout.isatty() else 200)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("trial", "status", "main", "notebook"):
        table.add_column(column, no_wrap=column != "notebook", overflow="fold")
    for result in results:
        style = STATUS_STYLE.get(result.status, "")
        table.add_row(
            result.name or f"job #{result.position}",
            f"[{style}]{result.status}[/]" if style else result.status,
            format_metric(result.main) if result.status in COMPLETE else "",
            _shown_path(result.notebook),
        )
    console.print(table)
    parts = counts_text(status_counts(result.status for result in results))
    console.print(
        f"{len(results)} trial{'s' if len(results) != 1 else ''}: {parts} in {seconds:.1f} s"
    )
    if sweep:
        console.print(f"sweep {sweep}  (mitosis-hydra list --sweep {sweep})", highlight=False)
    for result in results:
        if result.status not in (*COMPLETE, NOT_STARTED) and result.error:
            shown = last_line(result.error) or result.error
            console.print(
                f"{result.name or f'job #{result.position}'}: {shown}",
                markup=False,
                highlight=False,
            )


def _shown_path(path: str | None) -> str:
    if not path:
        return ""
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)
