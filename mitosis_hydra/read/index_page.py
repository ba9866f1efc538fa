"""A static, self-contained HTML page of all trials: `<trials folder>/index.html`.

No server, no network: styles, the script (sorting, filtering) and the plots
(inline SVG) are inside the page; notebook links are relative to the page, so
the trials folder can be moved or copied as a whole. The first screen answers
"which variant did best, and did everything finish": the status counts and the
best variant combination of each experiment, by its goal; then per experiment a
plot and a table with a column per parameter, the main metric and each metric.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from mitosis_hydra.core.records import TrialRecord, TrialStatus
from mitosis_hydra.read.compare import Comparison, compare_records, numeric
from mitosis_hydra.read.index_assets import SCRIPT, STYLE
from mitosis_hydra.read.index_plot import svg_plot

__all__ = ["INDEX_FILE", "render_index", "svg_plot", "write_index"]

INDEX_FILE = "index.html"


def write_index(
    trials_folder: str | Path | None = None, *, db: str | None = None, output: Path | None = None
) -> Path:
    """Write the index page of a trials folder (default `<trials folder>/index.html`)."""
    from mitosis_hydra.read.api import list_trials
    from mitosis_hydra.read.goal import experiment_goals
    from mitosis_hydra.run.paths import resolve_trials_folder

    folder = resolve_trials_folder(trials_folder)
    records = list_trials(folder, db=db)
    page = Path(output) if output else folder / INDEX_FILE
    page.parent.mkdir(parents=True, exist_ok=True)
    # deleted or moved since they were recorded: marked, not linked
    missing = {r.key for r in records if r.notebook is not None and not r.notebook.exists()}
    text = render_index(
        records,
        page.parent,
        title=f"{project_name(folder)}: trials",
        missing=missing,
        goals=experiment_goals(records),
    )
    temporary = page.with_name(page.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, page)  # a reader never sees half a page
    return page


def project_name(trials_folder: Path) -> str:
    """The name of the git repository holding the trials folder (else the folder above it)."""
    from mitosis_hydra.run.gitinfo import find_root

    root = find_root(trials_folder.parent) if trials_folder.parent.exists() else None
    return (root or trials_folder.parent).name or str(trials_folder)


def render_index(
    records: Sequence[TrialRecord],
    page_dir: Path,
    *,
    title: str,
    now: datetime | None = None,
    missing: Collection[str] = (),
    goals: Mapping[str, str] | None = None,
) -> str:
    """The whole page as text (pure apart from computing link paths).

    `missing`: keys of trials whose notebook file is gone (shown, not linked);
    `goals`: experiment → maximize or minimize (maximize if not given).
    """
    now = now or datetime.now(UTC)
    comparisons = {c.experiment: c for c in compare_records(records, goals)}
    by_experiment: dict[str, list[TrialRecord]] = {}
    for record in records:
        by_experiment.setdefault(record.experiment, []).append(record)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        _summary(records, now),
        _best_list(comparisons),
        _filters(records),
    ]
    for experiment in sorted(by_experiment):
        chosen = by_experiment[experiment]
        comparison = comparisons[experiment]
        parts.append(_section(experiment, chosen, comparison, page_dir, set(missing)))
    parts.append(f"<script>{SCRIPT}</script></body></html>")
    return "\n".join(parts)


def _summary(records: Sequence[TrialRecord], now: datetime) -> str:
    counts = {status: 0 for status in TrialStatus}
    for record in records:
        counts[record.status] += 1
    badges = " ".join(
        f'<span class="status s-{status.value}">{n} {status.value}</span>'
        for status, n in counts.items()
        if n
    )
    return (
        f"<p>{len(records)} trials: {badges or 'none yet'} "
        f'<span class="muted">· written {now:%Y-%m-%d %H:%M} UTC by mitosis-hydra index</span>'
        "</p>"
    )


def _best_list(comparisons: Mapping[str, Comparison]) -> str:
    items = []
    for name, comparison in sorted(comparisons.items()):
        if comparison.best is None:
            text = '<span class="muted">no finished trial with a numeric main yet</span>'
        else:
            row = comparison.rows[comparison.best]
            combo = ", ".join(f"{p}={row.variants[p]}" for p in comparison.differing)
            spread = "" if row.main.std is None else f" ± {row.main.std:.3g}"
            text = (
                f"<b>{html.escape(combo or 'all trials')}</b>: main {row.main.mean:.6g}{spread} "
                f'<span class="muted">({row.trials} trials, {comparison.goal})</span>'
            )
        items.append(f'<li><a href="#exp-{quote(name)}">{html.escape(name)}</a>: {text}</li>')
    return f'<p>Best variant combination per experiment:</p><ul class="best">{"".join(items)}</ul>'


def _filters(records: Sequence[TrialRecord]) -> str:
    def select(name: str, values: Collection[str]) -> str:
        options = "".join(
            f'<option value="{html.escape(v)}">{html.escape(v)}</option>' for v in sorted(values)
        )
        return (
            f'<label>{name} <select id="f-{name}"><option value="">all</option>'
            f"{options}</select></label>"
        )

    parts = [
        select("experiment", {r.experiment for r in records}),
        select("status", {r.status.value for r in records}),
        select("variant", {f"{g}={n}" for r in records for g, n in r.variants.items()}),
    ]
    sweeps = {r.sweep for r in records if r.sweep}
    if sweeps:
        parts.append(select("sweep", sweeps))
    parts.append('<span id="shown" class="muted"></span>')
    return f'<div id="filters">{"".join(parts)}</div>'


def _section(
    experiment: str,
    records: list[TrialRecord],
    comparison: Comparison,
    page_dir: Path,
    missing: set[str],
) -> str:
    esc = html.escape
    better = "lower main is better" if comparison.goal == "minimize" else "higher main is better"
    ordered = sorted(records, key=lambda r: _order(r, comparison.goal))
    best = ordered[0].key if ordered and not _order(ordered[0], comparison.goal)[0] else None
    parameters = sorted({g for r in records for g in r.variants})
    metrics = comparison.metric_names
    head = [("best", "", ""), ("name", "trial", ""), ("status", "status", "")]
    head += [(f"param-{p}", p, "") for p in parameters]
    head += [("main", "main", "num")] + [(f"metric-{m}", m, "num") for m in metrics]
    head += [("seed", "seed", "num"), ("started", "started (UTC)", "")]
    head += [("wall", "wall s", "num"), ("notebook", "notebook", ""), ("key", "key", "")]
    cells = "".join(
        f'<th data-col="{esc(col)}"{" data-type=num" if kind else ""}>{esc(label)}</th>'
        for col, label, kind in head
    )
    rows = "".join(
        _row(r, parameters, metrics, page_dir, r.key in missing, r.key == best) for r in ordered
    )
    return (
        f'<section class="experiment" id="exp-{esc(quote(experiment))}" '
        f'data-experiment="{esc(experiment)}">'
        f'<h2>{esc(experiment)} <span class="muted">({better})</span></h2>'
        f'<div class="scroll">{svg_plot(records, comparison.goal)}</div>'
        f'<div class="scroll"><table class="trials"><thead><tr>{cells}</tr></thead>'
        f"<tbody>\n{rows}</tbody></table></div></section>"
    )


def _order(record: TrialRecord, goal: str) -> tuple[bool, float, str]:
    """Finished trials best first by the goal, then the others, oldest first."""
    value = numeric(record.main)
    if record.status is not TrialStatus.FINISHED or value is None:
        return (True, 0.0, record.started_at.isoformat())
    return (False, value if goal == "minimize" else -value, record.started_at.isoformat())


def _row(
    record: TrialRecord,
    parameters: list[str],
    metrics: Sequence[str],
    page_dir: Path,
    missing: bool,
    best: bool,
) -> str:
    esc = html.escape
    wall = "" if record.wall_time is None else f"{record.wall_time:.1f}"
    status = record.status.value
    marker = (
        f' <span class="muted">(reproduces {esc(record.reproduction_of)})</span>'
        if record.reproduction_of
        else ""
    )
    variants = json.dumps([f"{g}={n}" for g, n in sorted(record.variants.items())])
    params = "".join(
        f'<td class="param">{esc(record.variants.get(p, ""))}</td>' for p in parameters
    )
    values = "".join(_number_cell(record.metrics.get(m)) for m in metrics)
    return (
        f'<tr{" class=best" if best else ""} data-status="{status}" '
        f'data-variants="{esc(variants)}" data-sweep="{esc(record.sweep or "")}">'
        f'<td class="star" data-v="{1 if best else 0}">{"★" if best else ""}</td>'
        f'<td class="trial">{esc(record.name)}{marker}</td>'
        f'<td data-v="{status}"><span class="status s-{status}">{status}</span></td>'
        f"{params}{_number_cell(record.main, 'main')}{values}"
        f'<td class="num" data-v="{record.seed}">{record.seed}</td>'
        f'<td data-v="{record.started_at.isoformat()}">{record.started_at:%Y-%m-%d %H:%M:%S}</td>'
        f'<td class="num" data-v="{wall}">{wall}</td>'
        f"<td>{_link(record, page_dir, missing)}</td>"
        f"<td><code>{esc(record.key)}</code></td></tr>\n"
    )


def _number_cell(value: object, kind: str = "") -> str:
    number = numeric(value)
    text = "" if value is None else f"{value:.6g}" if number is not None else str(value)
    data = "" if number is None else repr(number)
    return f'<td class="num {kind}" data-v="{data}">{html.escape(text)}</td>'


def _link(record: TrialRecord, page_dir: Path, missing: bool) -> str:
    if record.notebook is None:
        return '<span class="muted">none</span>'
    if missing:
        title = html.escape(f"{record.notebook} was deleted or moved")
        name = html.escape(record.notebook.name)
        return f'<span class="missing" title="{title}">{name} (missing)</span>'
    relative = Path(os.path.relpath(record.notebook, page_dir)).as_posix()
    name = html.escape(record.notebook.name)
    return f'<a class="notebook" href="{html.escape(quote(relative))}">{name}</a>'
