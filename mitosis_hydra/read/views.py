"""How `mitosis-hydra` shows things to people: rich tables and short reports on stdout."""

from __future__ import annotations

import functools
import io
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from typing import Any, ParamSpec

from rich.console import Console
from rich.table import Table
from rich.text import Text

from mitosis_hydra.core.conflicts import one_line_value
from mitosis_hydra.core.outcomes import STATUS_ANSI, STATUS_STYLE, format_metric
from mitosis_hydra.core.records import TrialRecord, TrialStatus, VariantLock
from mitosis_hydra.read.compare import Comparison, Stats

P = ParamSpec("P")


_PENDING: list[Console] = []


def console() -> Console:
    """A console writing to a buffer that `@flushed` writes out without trailing spaces.

    Terminal width and colours on a terminal; when piped (and COLUMNS unset), 160
    columns so that trial names fit, and no colours.
    """
    tty = sys.stdout.isatty()
    width = shutil.get_terminal_size().columns if tty or "COLUMNS" in os.environ else 160
    out = Console(
        file=io.StringIO(), force_terminal=tty, width=width, highlight=False, soft_wrap=True
    )
    _PENDING.append(out)
    return out


def flushed(view: Callable[P, None]) -> Callable[P, None]:
    """Write what `view` printed, each line stripped of the padding rich adds at its end."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            view(*args, **kwargs)
        finally:
            while _PENDING:
                text = _PENDING.pop(0).file.getvalue()  # type: ignore[attr-defined]
                sys.stdout.write("".join(line.rstrip() + "\n" for line in text.splitlines()))

    return wrapper


def fmt(value: Any) -> str:
    """Numbers to 6 significant digits, None as empty, the rest as text."""
    return format_metric(value)


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLE.get(status, ""))


def trials_table(records: Sequence[TrialRecord], total: int | None = None) -> None:
    """Aligned columns written in one go: 10,000 rows in well under a second (rich takes ~30 s).

    The last line counts the trials; when `total` says more match than are shown
    (the newest), it says how many older ones there are and how to see them.
    """
    headers = ("key", "name", "status", "main", "seed", "commit", "started (UTC)")
    rows = [
        (
            r.key,
            r.name + (f" (reproduces {r.reproduction_of})" if r.reproduction_of else ""),
            r.status.value,
            fmt(r.main),
            str(r.seed),
            r.commit[:7],
            f"{r.started_at:%Y-%m-%d %H:%M}",
        )
        for r in records
    ]
    colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    lines = plain_table(
        headers, rows, right={3, 4}, styles=STATUS_ANSI if colour else None, styled=2
    )
    sys.stdout.write("\n".join([*lines, trials_count(len(records), total), ""]))


def trials_count(shown: int, total: int | None = None) -> str:
    """The last line of `list`: `5 trials`, or how many older trials are not shown."""
    if total is None or total <= shown:
        return f"{shown:,} trials"
    return (
        f"{shown:,} of {total:,} trials (the newest); {total - shown:,} older: "
        "add --last N or --all to see them"
    )


def plain_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right: frozenset[int] | set[int] = frozenset(),
    styles: dict[str, str] | None = None,
    styled: int | None = None,
) -> list[str]:
    """Lines of a table: a header, a rule and one line per row (column `styled` ANSI-coloured)."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str], colour: bool) -> str:
        out = []
        for i, cell in enumerate(cells):
            text = cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            if colour and styles and i == styled and cell in styles:
                text = f"\x1b[{styles[cell]}m{text}\x1b[0m"
            out.append(text)
        return "  ".join(out).rstrip()

    rule = "  ".join("─" * w for w in widths)
    return [line(headers, False), rule, *(line(row, True) for row in rows)]


@flushed
def trial_details(details: dict[str, Any]) -> None:
    out = console()
    record = details["record"]
    out.print(f"[bold]{record['name']}[/bold]  (key {record['key']})")
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    rows = _record_rows(record, details["reproductions"])
    for label, value in rows:
        grid.add_row(label, value)
    out.print(grid)
    _section(out, "variants", [
        (group, f"{v['name']} = {v['value']}  ({v['locked']})")
        for group, v in details["variants"].items()
    ])  # fmt: skip
    env = details["environment"]
    _section(out, "environment", [
        ("python", f"{env['python']} on {env['platform']}"),
        ("packages", f"{env['packages']} (environment.json has the full list)"),
        *_scheduler_row(env.get("scheduler_job")),
        ("git", f"{env['git_root']} branch {env['branch'] or '?'} {env['remote'] or ''}".strip()),
        ("command", env["command"]),
    ])  # fmt: skip
    missing = set(details.get("missing") or ())
    _section(out, "paths", [
        (k, f"{v} (missing: deleted or moved)" if k in missing else v or "(none)")
        for k, v in details["paths"].items()
    ])  # fmt: skip
    if details.get("files"):
        files = [(f["path"], f"{f['bytes']:,} bytes") for f in details["files"]]
        _section(out, "files written by run", files)
    if record["error"]:
        _section(out, "error", [("", record["error"].strip().splitlines()[-1])])
    if details["config"]:
        out.print("\n[bold]config.yaml[/bold]")
        out.print(Text(details["config"].rstrip()))


def _record_rows(record: dict[str, Any], reproductions: list[dict[str, Any]]) -> list:
    rows = [
        ("status", status_text(record["status"])),
        ("experiment", record["experiment"]),
        ("iteration", str(record["iteration"])),
        ("seed", str(record["seed"])),
        ("commit", record["commit"]),
        ("started", record["started_at"]),
        ("finished", record["finished_at"] or ""),
        ("wall time", _seconds(record["wall_time"])),
        ("cpu time", _seconds(record["cpu_time"])),
        ("host", record["host"]),
        *_driver_row(record),
        ("main", fmt(record["main"])),
    ]
    rows += [(f"  {name}", fmt(value)) for name, value in sorted(record["metrics"].items())]
    if record["reproduction_of"]:
        rows.append(("reproduces", record["reproduction_of"]))
    rows += [("reproduced by", f"{r['key']} {r['name']} ({r['status']}, main {fmt(r['main'])})")
             for r in reproductions]  # fmt: skip
    return rows


def _scheduler_row(job: dict[str, str] | None) -> list[tuple[str, str]]:
    """The batch job the trial ran in (e.g. SLURM's job id), to find its logs and accounting."""
    if not job:
        return []
    array = f" (array {job['array_job']})" if job.get("array_job") else ""
    return [(f"{job.get('scheduler', 'batch')} job", f"{job.get('job_id')}{array}")]


def _driver_row(record: dict[str, Any]) -> list[tuple[str, str]]:
    """Who ran it, and its last sign of life (what tells a lost trial; see liveness.py); for a
    trial a sweep reserved without waiting, the scheduler's job that runs it."""
    rows = []
    if record.get("scheduler_job"):
        kind, _, job = record["scheduler_job"].partition(":")
        rows.append(("submitted as", f"{kind} job {job}"))
    if record.get("pid") is not None:
        beat = record.get("heartbeat_at") or "?"
        rows.append(("driver", f"pid {record['pid']}, last heartbeat {beat}"))
    return rows


def _section(out: Console, title: str, rows: list[tuple[str, str]]) -> None:
    out.print(f"\n[bold]{title}[/bold]")
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for label, value in rows:
        grid.add_row(f"  {label}", Text(str(value)))
    out.print(grid)


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.2f} s"


def stats_text(stats: Stats | None) -> str:
    if stats is None:
        return ""
    spread = f" ± {stats.std:.3g}" if stats.std is not None else ""
    return f"{stats.mean:.6g}{spread}"


@flushed
def comparisons(items: Sequence[Comparison], status: str) -> None:
    out = console()
    if not items:
        out.print(f"No {'' if status == 'all' else status + ' '}trials to compare.")
        return
    for comparison in items:
        constant = ", ".join(f"{k}={v}" for k, v in comparison.constant.items())
        table = Table(
            title=f"{comparison.experiment}: main metric by variant combination ({status}), "
            f"{_goal_text(comparison.goal)}",
            caption=f"same in every row: {constant}" if constant else None,
            caption_justify="left",
            title_justify="left",
        )
        table.add_column("", no_wrap=True)  # ★ marks the best row
        for name in comparison.differing:
            table.add_column(name, style="bold cyan")
        for column in ("trials", "seeds", "main mean ± std", "min", "max"):
            table.add_column(column, justify="right")
        for name in comparison.metric_names:
            table.add_column(f"{name} mean ± std", justify="right")
        for index, row in enumerate(comparison.rows):
            main = row.main
            best = index == comparison.best
            table.add_row(
                "★" if best else "",
                *(row.variants.get(name, "") for name in comparison.differing),
                str(row.trials),
                _seeds(row.seeds),
                stats_text(main),
                fmt(main.min) if main else "",
                fmt(main.max) if main else "",
                *(stats_text(row.metrics.get(name)) for name in comparison.metric_names),
                style="bold" if best else None,
            )
        out.print(table)


def _goal_text(goal: str) -> str:
    return "lower main is better" if goal == "minimize" else "higher main is better"


def _seeds(seeds: tuple[int, ...]) -> str:
    shown = ",".join(map(str, seeds[:6]))
    return shown + ("…" if len(seeds) > 6 else "")


def lock_json(lock: VariantLock) -> dict[str, Any]:
    return {
        "group": lock.group,
        "name": lock.name,
        "value": lock.canonical,
        "hash": lock.hash,
        "first_trial": lock.first_trial,
        "commit": lock.first_commit,
        "locked_at": lock.locked_at.isoformat(),
        "trials": lock.trial_count,
    }


@flushed
def locks_table(locks: Sequence[VariantLock]) -> None:
    table = Table(caption=f"{len(locks)} locked variants", caption_justify="left")
    for column in ("group", "name", "value", "first trial", "commit", "locked (UTC)", "trials"):
        folds = column in ("value", "first trial")
        table.add_column(
            column,
            justify="right" if column == "trials" else "left",
            no_wrap=not folds,
            overflow="fold",
            min_width=16 if folds else None,
        )
    for lock in locks:
        value = one_line_value(lock.canonical)
        value = value if len(value) <= 40 else value[:39] + "…"
        table.add_row(
            lock.group,
            lock.name,
            Text(value),
            lock.first_trial,
            lock.first_commit[:7],
            f"{lock.locked_at:%Y-%m-%d %H:%M}",
            str(lock.trial_count),
        )
    console().print(table)


@flushed
def released(entries: Sequence[dict[str, Any]]) -> None:
    table = Table(caption=f"{len(entries)} released variants", caption_justify="left")
    for column in ("released (UTC)", "variant", "old value", "first trial", "trials", "forced"):
        table.add_column(column)
    for entry in entries:
        d = entry["detail"]
        table.add_row(
            entry["at"][:16].replace("T", " "),
            f"{d['group']}/{d['name']}",
            Text(d["canonical"]),
            d["first_trial"],
            str(len(d["trials"])),
            "yes" if d["forced"] else "no",
        )
    console().print(table)


@flushed
def reproduction(result: Any) -> None:
    """The report of `reproduce`: what ran, each value compared, config and environment."""
    out = console()
    original = result.original
    out.print(
        f"Reproduction of {original.name} (key {original.key}) at commit {original.commit[:7]}"
    )
    out.print(f"  command: python {' '.join(result.command[1:])}  (in {result.cwd or '.'})")
    if result.status is None:
        out.print(
            f"[bold red]The re-run did not produce a trial[/] (exit code {result.returncode})."
        )
        out.print("Its output is above. Try running that command yourself at that commit.")
        return
    label = "new trial" if result.recorded else "debug trial"
    out.print(f"  {label}: {result.name} (key {result.key}): {status_text(result.status)}")
    if original.status is not TrialStatus.FINISHED:
        out.print(
            f"  the original trial {original.status.value}: it has no main metric, so its "
            "status and the last line of its error are compared"
        )
    table = Table(box=None, padding=(0, 2))
    for column in ("value", "original", "reproduced", ""):
        table.add_column(column)
    for check in result.checks:
        verdict = Text("match", "green") if check.matches else Text("MISMATCH", "bold red")
        table.add_row(check.name, repr(check.original), repr(check.reproduced), verdict)
    out.print(table)
    tolerance = f"within rtol {result.rtol:g}" if result.rtol else "exactly"
    out.print(f"  config: {'identical' if not result.config_diff else 'DIFFERS'}")
    if result.config_diff:
        out.print(Text(result.config_diff))
    _environment(out, result.environment)
    verdict = "[bold green]MATCH[/]" if result.matches else "[bold red]MISMATCH[/]"
    out.print(f"Result: {verdict} (values compared {tolerance})")


def _environment(out: Console, diff: Any) -> None:
    if diff is None:
        out.print("  environment: not recorded for the re-run")
        return
    if diff.unchanged:
        out.print("  environment: unchanged (Python, platform, host, packages)")
        return
    out.print("  environment changed since the original:")
    for name, old, new in diff.fields:
        out.print(Text(f"    {name}: {old} -> {new}"))
    for name, old, new in diff.changed:
        out.print(Text(f"    {name}: {old} -> {new}"))
    for line in diff.added:
        out.print(Text(f"    added {line}"))
    for line in diff.removed:
        out.print(Text(f"    removed {line}"))
