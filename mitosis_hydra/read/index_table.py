"""An experiment's table in the index: its header, and rows as HTML from their data.

The first page of rows is HTML in the page (it reads without the script); the
script renders every other page from the same data (see index_data.py) with
`rowHtml` in index_assets.py, which mirrors `row_html` here cell for cell (a
test in Chromium holds them to the same text).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, unquote

from mitosis_hydra.read.index_data import NOTEBOOK, STATUSES

esc = html.escape


def header(parameters: Sequence[str], metrics: Sequence[str]) -> str:
    """The header row: a sortable column per field, parameter and metric."""
    head = [("best", "", ""), ("name", "trial", ""), ("status", "status", "")]
    head += [(f"param-{p}", p, "") for p in parameters]
    head += [("main", "main", "num")] + [(f"metric-{m}", m, "num") for m in metrics]
    head += [("seed", "seed", "num"), ("started", "started (UTC)", "")]
    head += [("wall", "wall s", "num"), ("notebook", "notebook", ""), ("key", "key", "")]
    return "".join(
        f'<th data-col="{esc(col)}"{" data-type=num" if kind else ""}>{esc(label)}</th>'
        for col, label, kind in head
    )


def row_html(
    row: list[Any],
    parameters: Sequence[str],
    combos: Sequence[dict[str, str]],
    links: tuple[str, str],
    best: bool,
) -> str:
    """One encoded row (index_data.encode) as a table row; `links`: (prefix, trials folder)."""
    name, key, status, combo, main, metrics, seed, started, wall, notebook, _sweep, of = row
    status = STATUSES[status]
    marker = f' <span class="muted">(reproduces {esc(of)})</span>' if of else ""
    variants = combos[combo]
    params = "".join(f'<td class="param">{esc(variants.get(p, ""))}</td>' for p in parameters)
    values = "".join(number_cell(value) for value in metrics)
    wall_text = "" if wall is None else f"{wall:.1f}"
    return (
        f'<tr{" class=best" if best else ""} data-status="{status}">'
        f'<td class="star" data-v="{1 if best else 0}">{"★" if best else ""}</td>'
        f'<td class="trial">{esc(name)}{marker}</td>'
        f'<td data-v="{status}"><span class="status s-{status}">{status}</span></td>'
        f"{params}{number_cell(main, 'main')}{values}"
        f'<td class="num" data-v="{seed}">{seed}</td>'
        f'<td data-v="{esc(started)}">{esc(started[:10])} {esc(started[11:19])}</td>'
        f'<td class="num" data-v="{wall_text}">{wall_text}</td>'
        f"<td>{notebook_html(notebook, name, *links)}</td>"
        f"<td><code>{esc(key)}</code></td></tr>\n"
    )


def number_cell(value: Any, kind: str = "") -> str:
    """A number as `.6g` (its full value in data-v, for sorting), anything else as text."""
    if value is None:
        return f'<td class="num {kind}" data-v=""></td>'
    if isinstance(value, str):
        return f'<td class="num {kind}" data-v="">{esc(value)}</td>'
    return f'<td class="num {kind}" data-v="{float(value)!r}">{value:.6g}</td>'


def notebook_html(
    code: Any, name: str, prefix: str, trials_folder: str, kind: str = "notebook"
) -> str:
    """A link to the notebook; a mark when it was deleted or moved; `none` without one."""
    if code is None:
        return '<span class="muted">none</span>'
    if code == 1:
        href = f"{prefix}{quote(name)}/{NOTEBOOK}"
    elif code == -1:
        return _missing(f"{trials_folder}/{name}/{NOTEBOOK}")
    elif isinstance(code, list):
        return _missing(code[0])
    else:
        href = code
    shown = unquote(href.rsplit("/", 1)[-1])
    return f'<a class="{kind}" href="{esc(href)}">{esc(shown)}</a>'


def _missing(path: str) -> str:
    title = esc(f"{path} was deleted or moved")
    return f'<span class="missing" title="{title}">{esc(path.rsplit("/", 1)[-1])} (missing)</span>'
