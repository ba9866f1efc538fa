"""A static HTML page of all trials: `<trials folder>/index.html`, opened from the filesystem.

No server, no network: styles, the script (paging, sorting, filtering) and the
plots (inline SVG) are inside the page; notebook links are relative to it, so
the trials folder can be moved or copied as a whole. The first screen answers
"which variant did best, and did everything finish": the status counts, the
best variant combination of each experiment by its goal, the newest trials;
then per experiment a plot (aggregated per combination: its size does not grow
with the trials) and a table with a column per parameter, the main metric and
each metric. A table shows `PAGE_ROWS` rows at a time; the page holds the first
page of each, and the script loads the others from the data folder beside the
page (index_data.py) when they are asked for, so 100,000 trials open at once.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from operator import attrgetter
from pathlib import Path
from urllib.parse import quote

from mitosis_hydra.core.records import TrialRecord, TrialStatus
from mitosis_hydra.core.trial_list import PAGE_SIZE, collector_paused
from mitosis_hydra.read.compare import numeric
from mitosis_hydra.read.goal import DEFAULT_GOAL
from mitosis_hydra.read.index_assets import SCRIPT, STYLE
from mitosis_hydra.read.index_data import (
    CHUNK_ROWS,
    PAGE_ROWS,
    STATUSES,
    Notebooks,
    Tables,
    chunk_files,
    encode,
    inline,
    order,
    rows_from,
)
from mitosis_hydra.read.index_plot import svg_plot
from mitosis_hydra.read.index_rows import IndexRow, rows_of
from mitosis_hydra.read.index_summary import best_combination, best_list, filters, newest, summary
from mitosis_hydra.read.index_table import header, row_html

__all__ = ["INDEX_FILE", "build_index", "render_index", "svg_plot", "write_index"]

INDEX_FILE = "index.html"
esc = html.escape


def write_index(
    trials_folder: str | Path | None = None, *, db: str | None = None, output: Path | None = None
) -> Path:
    """Write the index page of a trials folder (default `<trials folder>/index.html`)
    and its data folder beside it; a reader never sees half of either."""
    from mitosis_hydra.run.paths import resolve_trials_folder

    folder = resolve_trials_folder(trials_folder)
    with collector_paused():  # 100,000 rows stay alive: rescanning them costs a third
        return _write(folder, db, output)


def _write(folder: Path, db: str | None, output: Path | None) -> Path:
    from mitosis_hydra.read.index_files import missing_notebooks, write_page
    from mitosis_hydra.read.index_rows import read_rows

    rows = read_rows(folder, db)
    page = Path(output).resolve() if output else folder / INDEX_FILE
    missing = missing_notebooks(rows, folder)  # deleted or moved since: marked, not linked
    goals = _goals(rows, folder, db)
    title = f"{project_name(folder)}: trials"

    def build(data: str) -> tuple[str, dict[str, str]]:
        return build_index(
            rows, page.parent, folder, title=title, missing=missing, goals=goals, data=data
        )

    write_page(page, build)
    return page


def _goals(rows: Sequence[IndexRow], folder: Path, db: str | None) -> dict[str, str]:
    """Each experiment's goal, from its newest trial's config (see goal.py)."""
    from mitosis_hydra.read.goal import experiment_goals
    from mitosis_hydra.storage import reading
    from mitosis_hydra.storage.engine import Database

    newest = list({row.experiment: row.key for row in rows}.values())  # rows: oldest first
    database = Database(folder, db)
    return experiment_goals(
        record
        for start in range(0, len(newest), PAGE_SIZE)  # reading.records reads a page at most
        for record in reading.records(database, newest[start : start + PAGE_SIZE])
    )


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
    """The page's text for records in hand, their notebooks relative to `page_dir`.

    `missing`: keys of trials whose notebook file is gone (shown, not linked);
    `goals`: experiment → maximize or minimize (maximize if not given). With
    more than `PAGE_ROWS` trials in an experiment the page needs its data files
    too: `build_index` returns them, `write_index` writes both.
    """
    rows = rows_of(records, page_dir)
    text, _files = build_index(
        rows, page_dir, page_dir, title=title, now=now, missing=missing, goals=goals
    )
    return text


def build_index(
    rows: Sequence[IndexRow],
    page_dir: Path,
    trials_folder: Path,
    *,
    title: str,
    now: datetime | None = None,
    missing: Collection[str] = (),
    goals: Mapping[str, str] | None = None,
    data: str = "index-data",
) -> tuple[str, dict[str, str]]:
    """The page's text, and its data files (name in `data` → text); pure but for paths."""
    now = now or datetime.now(UTC)
    by_experiment: dict[str, list[IndexRow]] = {}
    for row in rows:
        by_experiment.setdefault(row.experiment, []).append(row)
    goals = goals or {}
    bests = {
        name: best_combination(chosen, goals.get(name, DEFAULT_GOAL))
        for name, chosen in by_experiment.items()
    }
    metrics = {name: _metric_names(chosen) for name, chosen in by_experiment.items()}
    tables, notebooks = Tables(), Notebooks(trials_folder, page_dir, missing)
    links = (notebooks.prefix, str(trials_folder))
    sections, experiments, files = [], [], {}
    for number, experiment in enumerate(sorted(by_experiment)):
        chosen, goal = by_experiment[experiment], bests[experiment].goal
        positions = order(chosen, goal)
        top = chosen[positions[0]]
        combos = _combos(chosen)
        parameters = sorted({group for combo in combos for group in combo})
        columns = encode(chosen, positions, metrics[experiment], tables, notebooks)
        files.update(chunk_files(number, columns))
        encoded = rows_from(columns, 0, PAGE_ROWS)
        best = top.status is TrialStatus.FINISHED and numeric(top.main) is not None
        first = [
            row_html(row, parameters, tables.combo_list, links, best and i == 0)
            for i, row in enumerate(encoded)
        ]
        head = header(parameters, metrics[experiment])
        sections.append(_section(experiment, number, chosen, goal, head, first))
        experiments.append(
            _experiment_data(
                experiment, chosen, combos, parameters, metrics[experiment], encoded, best
            )
        )
    data_block = {
        "data": quote(data) if files else None,
        "page": PAGE_ROWS,
        "chunk": CHUNK_ROWS,
        "prefix": notebooks.prefix,
        "base": str(trials_folder),
        "statuses": STATUSES,
        "combos": tables.combo_list,
        "sweeps": list(tables.sweeps),
        "experiments": experiments,
    }
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        summary(rows, now),
        best_list(bests),
        newest(rows, notebooks, links),
        filters(rows, by_experiment),
        *sections,
        f'<script type="application/json" id="index-data">{inline(data_block)}</script>',
        f"<script>{SCRIPT}</script></body></html>",
    ]
    return "\n".join(parts), files


def _metric_names(rows: Sequence[IndexRow]) -> list[str]:
    names: set[str] = set()
    seen: set[tuple[str, ...]] = set()
    for row in rows:
        keys = tuple(row.metrics)
        if keys not in seen:
            seen.add(keys)
            names.update(keys)
    return sorted(names)


def _experiment_data(
    name: str,
    rows: list[IndexRow],
    combos: list[dict[str, str]],
    parameters: list[str],
    metrics: list[str],
    encoded: list[list],
    best: bool,
) -> dict:
    """What the script knows of an experiment before loading any of its files."""
    counts = Counter(map(attrgetter("status"), rows))
    return {
        "name": name,
        "params": parameters,
        "metrics": metrics,
        "total": len(rows),
        "best": best,
        "first": encoded,
        "statuses": [counts[status] for status in TrialStatus],
        "variants": sorted({f"{g}={n}" for c in combos for g, n in c.items()}),
    }


def _combos(rows: Sequence[IndexRow]) -> list[dict[str, str]]:
    """The variant dicts of these rows, once each (rows of one combination share one)."""
    return list({id(v): v for v in map(attrgetter("variants"), rows)}.values())


def _section(
    experiment: str, number: int, rows: list[IndexRow], goal: str, head: str, first: list[str]
) -> str:
    better = "lower main is better" if goal == "minimize" else "higher main is better"
    pager = ""
    if len(rows) > PAGE_ROWS:
        pager = (
            '<div class="pager"><button data-go="first">« first</button>'
            '<button data-go="prev">‹ previous</button> '
            f'<span class="rows">rows 1–{PAGE_ROWS} of {len(rows):,}</span> '
            '<button data-go="next">next ›</button><button data-go="last">last »</button></div>'
        )
    return (
        f'<section class="experiment" id="exp-{esc(quote(experiment))}" '
        f'data-experiment="{esc(experiment)}" data-index="{number}">'
        f'<h2>{esc(experiment)} <span class="muted">({better}; {len(rows):,} trials)</span></h2>'
        f'<div class="scroll">{svg_plot(rows, goal)}</div>'
        f'<div class="scroll"><table class="trials"><thead><tr>{head}</tr></thead>'
        f"<tbody>\n{''.join(first)}</tbody></table></div>{pager}</section>"
    )
