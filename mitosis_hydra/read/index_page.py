"""A static, self-contained HTML page of all trials: `<trials folder>/index.html`.

No server, no network: styles, a few lines of script (sorting) and the plots
(inline SVG) are inside the page; notebook links are relative to the page, so
the trials folder can be moved or copied as a whole.
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from mitosis_hydra.core.records import TrialRecord, TrialStatus
from mitosis_hydra.read.compare import numeric, split_parameters

INDEX_FILE = "index.html"
_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;width:100%}
th,td{padding:3px 8px;border-bottom:1px solid #ddd;text-align:left;white-space:nowrap}
th{cursor:pointer;background:#f4f4f4;position:sticky;top:0;user-select:none}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.status{padding:1px 6px;border-radius:3px;color:#fff;font-size:12px}
.s-finished{background:#2e7d32}.s-failed{background:#c62828}
.s-running{background:#f9a825;color:#222}.s-interrupted{background:#6a1b9a}
.s-lost{background:#546e7a}
.plot{overflow-x:auto}td.trial{white-space:normal;overflow-wrap:anywhere;min-width:16em}.muted{color:#777}.missing{color:#c62828}code{font-size:12px}
"""
# Sorts by a clicked column (numbers by data-v); `#sort=<column>` or `#sort=-<column>` on load.
_SCRIPT = """
(function(){
var t=document.getElementById('trials'),b=t.tBodies[0],hs=t.tHead.rows[0].cells;
function key(r,i,n){var c=r.cells[i],v=c.getAttribute('data-v');
 if(n){v=parseFloat(v);return isNaN(v)?null:v;}return v===null?c.textContent:v;}
function sort(i,desc){var n=hs[i].getAttribute('data-type')==='num';
 var rows=Array.prototype.slice.call(b.rows);
 rows.sort(function(x,y){var p=key(x,i,n),q=key(y,i,n);
  if(p===null||q===null){return p===q?0:p===null?1:-1;}
  var o=p<q?-1:p>q?1:0;return desc?-o:o;});
 var f=document.createDocumentFragment();rows.forEach(function(r){f.appendChild(r);});
 b.appendChild(f);
 for(var j=0;j<hs.length;j++){hs[j].removeAttribute('aria-sort');}
 hs[i].setAttribute('aria-sort',desc?'descending':'ascending');}
Array.prototype.forEach.call(hs,function(h,i){h.addEventListener('click',function(){
 sort(i,h.getAttribute('aria-sort')==='ascending');});});
var m=/sort=(-?)([\\w-]+)/.exec(location.hash);
if(m){for(var i=0;i<hs.length;i++){if(hs[i].getAttribute('data-col')===m[2]){sort(i,m[1]==='-');}}}
document.body.setAttribute('data-ready','1');
})();
"""
_COLUMNS = (
    ("key", "key", ""),
    ("experiment", "experiment", ""),
    ("name", "trial", ""),
    ("status", "status", ""),
    ("main", "main", "num"),
    ("seed", "seed", "num"),
    ("commit", "commit", ""),
    ("started", "started (UTC)", ""),
    ("wall", "wall s", "num"),
    ("notebook", "notebook", ""),
)


def write_index(
    trials_folder: str | Path | None = None, *, db: str | None = None, output: Path | None = None
) -> Path:
    """Write the index page of a trials folder (default `<trials folder>/index.html`)."""
    from mitosis_hydra.read.api import list_trials
    from mitosis_hydra.run.paths import resolve_trials_folder

    folder = resolve_trials_folder(trials_folder)
    records = list_trials(folder, db=db)
    page = Path(output) if output else folder / INDEX_FILE
    page.parent.mkdir(parents=True, exist_ok=True)
    # deleted or moved since they were recorded: marked, not linked
    missing = {r.key for r in records if r.notebook is not None and not r.notebook.exists()}
    text = render_index(records, page.parent, title=f"Trials in {folder}", missing=missing)
    temporary = page.with_name(page.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, page)  # a reader never sees half a page
    return page


def render_index(
    records: Sequence[TrialRecord],
    page_dir: Path,
    *,
    title: str,
    now: datetime | None = None,
    missing: Collection[str] = (),
) -> str:
    """The whole page as text (pure apart from computing link paths).

    `missing`: keys of trials whose notebook file is gone (shown, not linked).
    """
    now = now or datetime.now(UTC)
    counts = {status: 0 for status in TrialStatus}
    for record in records:
        counts[record.status] += 1
    summary = ", ".join(f"{n} {status.value}" for status, n in counts.items() if n)
    experiments = sorted({record.experiment for record in records})
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="muted">{len(records)} trials ({summary or "none yet"}); '
        f"written {now:%Y-%m-%d %H:%M} UTC by mitosis-hydra index.</p>",
    ]
    for experiment in experiments:
        chosen = [r for r in records if r.experiment == experiment]
        parts.append(f"<h2>{html.escape(experiment)}: main metric by variant combination</h2>")
        parts.append(f'<div class="plot">{svg_plot(chosen)}</div>')
    parts.append("<h2>All trials</h2>")
    parts.append(_table(records, page_dir, set(missing)))
    parts.append(f"<script>{_SCRIPT}</script></body></html>")
    return "\n".join(parts)


def _table(records: Sequence[TrialRecord], page_dir: Path, missing: set[str]) -> str:
    head = "".join(
        f'<th data-col="{col}"{f" data-type={kind!r}" if kind else ""}>{label}</th>'
        for col, label, kind in _COLUMNS
    )
    rows = [_row(record, page_dir, record.key in missing) for record in records]
    return (
        f'<table id="trials"><thead><tr>{head}</tr></thead><tbody>\n{"".join(rows)}</tbody></table>'
    )


def _row(record: TrialRecord, page_dir: Path, missing: bool) -> str:
    esc = html.escape
    main = numeric(record.main)
    main_text = (
        ""
        if record.main is None
        else f"{record.main:.6g}"
        if main is not None
        else str(record.main)
    )
    wall = "" if record.wall_time is None else f"{record.wall_time:.1f}"
    status = record.status.value
    marker = (
        f' <span class="muted">(reproduces {esc(record.reproduction_of)})</span>'
        if record.reproduction_of
        else ""
    )
    return (
        f"<tr><td><code>{esc(record.key)}</code></td><td>{esc(record.experiment)}</td>"
        f'<td class="trial">{esc(record.name)}{marker}</td>'
        f'<td data-v="{status}"><span class="status s-{status}">{status}</span></td>'
        f'<td class="num main" data-v="{"" if main is None else repr(main)}">{esc(main_text)}</td>'
        f'<td class="num" data-v="{record.seed}">{record.seed}</td>'
        f"<td><code>{esc(record.commit[:7])}</code></td>"
        f'<td data-v="{record.started_at.isoformat()}">{record.started_at:%Y-%m-%d %H:%M:%S}</td>'
        f'<td class="num" data-v="{wall}">{wall}</td>'
        f"<td>{_link(record, page_dir, missing)}</td></tr>\n"
    )


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


def svg_plot(records: Sequence[TrialRecord], height: int = 260) -> str:
    """Main metric of each finished trial (dots) and the mean (bar) per variant combination."""
    groups: dict[tuple[tuple[str, str], ...], list[tuple[float, TrialRecord]]] = {}
    for record in records:
        value = numeric(record.main)
        if record.status is TrialStatus.FINISHED and value is not None:
            groups.setdefault(tuple(sorted(record.variants.items())), []).append((value, record))
    if not groups:
        return '<p class="muted">No finished trial with a numeric main metric yet.</p>'
    combos = sorted(groups)
    differing, _constant = split_parameters([dict(combo) for combo in combos])
    low, high = _value_range([v for points in groups.values() for v, _r in points])
    left, top, bottom, step = 70, 20, 110, 80
    width = left + step * len(combos) + 20

    def y(value: float) -> float:
        return top + height * (1 - (value - low) / (high - low))

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{top + height + bottom}" font-size="11">'
    ]
    out += _axes(left, top, height, width, low, high, y)
    for index, combo in enumerate(combos):
        center = left + step * (index + 0.5)
        out += _column(groups[combo], center, y)
        label = ", ".join(f"{p}={v}" for p, v in combo if p in differing) or "all trials"
        out.append(
            f'<text transform="translate({center:.1f},{top + height + 12}) rotate(30)">'
            f"{html.escape(label)}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def _column(points: list[tuple[float, TrialRecord]], center: float, y) -> list[str]:
    out = []
    for i, (value, record) in enumerate(points):
        dx = ((i * 0.618034) % 1 - 0.5) * 30
        out.append(
            f'<circle cx="{center + dx:.1f}" cy="{y(value):.1f}" r="3" fill="#1565c0" '
            f'fill-opacity="0.55"><title>{html.escape(record.name)}: {value:.6g}</title></circle>'
        )
    mean = sum(v for v, _r in points) / len(points)
    out.append(
        f'<line x1="{center - 20:.1f}" x2="{center + 20:.1f}" y1="{y(mean):.1f}" '
        f'y2="{y(mean):.1f}" stroke="#d84315" stroke-width="2"><title>mean {mean:.6g} '
        f"({len(points)} trials)</title></line>"
    )
    return out


def _axes(left: int, top: int, height: int, width: int, low: float, high: float, y) -> list[str]:
    out = [
        f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + height}" stroke="#444"/>',
        f'<line x1="{left}" x2="{width - 10}" y1="{top + height}" y2="{top + height}" '
        'stroke="#444"/>',
    ]
    for value in _ticks(low, high):
        out.append(
            f'<line x1="{left - 4}" x2="{width - 10}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            f'stroke="#eee"/><text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end">'
            f"{value:.4g}</text>"
        )
    out.append(
        f'<text transform="translate(14,{top + height / 2:.0f}) rotate(-90)" '
        'text-anchor="middle">main</text>'
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
