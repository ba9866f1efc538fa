"""The index's rows as compact data: the first page inside the page, the rest in files.

A page of 100,000 rows as HTML is ~66 MB, which no browser opens at once. So
the page holds, per experiment, its first `PAGE_ROWS` rows (as HTML, and as
data for the script) and the script loads the others from `<page>-data/<id>/
<experiment>-<chunk>.js` with `<script src>`, the one way to load a local file
that browsers allow from file:// (fetch/XHR of local files is blocked). Each
file calls `mitosisIndexChunk(experiment, chunk, columns)`: a column per field
(a list per metric in place of `metrics`), which Python writes faster than rows.

The script holds a row as a list: [name, key, status, combination, main, metrics, seed, started,
wall, notebook, sweep, reproduces]; status, combination and sweep are indexes
into tables the page holds once; metrics follow the experiment's metric names;
`notebook` is None (no notebook), 1 (`<name>/notebook.html` beside the trials:
linked) or -1 (there, but missing), a link for any other place, or `[path]`
when missing from another place. Values JSON cannot hold (NaN, ±inf, text,
lists) travel as the text Python prints for them, which is what the cell shows.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any
from urllib.parse import quote

from mitosis_hydra.core.records import TrialStatus
from mitosis_hydra.read.compare import numeric
from mitosis_hydra.read.index_rows import IndexRow

PAGE_ROWS = 50  # rows a table shows at a time (the first page is in the page itself)
CHUNK_ROWS = 5000  # rows per data file: paging loads one file, sorting all of them
NOTEBOOK = "notebook.html"
STATUSES = [status.value for status in TrialStatus]


def order(rows: Sequence[IndexRow], goal: str) -> list[int]:
    """The positions of an experiment's rows as its table lists them first: finished
    trials best first by the goal, then the others, oldest first (rows come oldest first)."""
    finished = TrialStatus.FINISHED
    values = [finite(row.main) if row.status is finished else None for row in rows]
    scored = [(value, i) for i, value in enumerate(values) if value is not None]
    scored.sort(key=itemgetter(0), reverse=goal != "minimize")  # stable: oldest first
    return [i for _value, i in scored] + [i for i, value in enumerate(values) if value is None]


def shown(value: Any) -> Any:
    """A value as the data carries it: finite numbers as numbers, anything else as its text."""
    if value is None:
        return None
    number = numeric(value)
    if number is not None:
        return value if isinstance(value, int) and abs(value) < 2**53 else number
    return str(value)


@dataclass
class Notebooks:
    """Where each row's notebook is, seen from the page's folder."""

    trials_folder: Path
    page_dir: Path
    missing: Collection[str] = ()  # keys of trials whose notebook file is gone
    prefix: str = field(init=False)  # from the page's folder to the trials folder

    def __post_init__(self) -> None:
        self.missing = frozenset(self.missing)
        up = Path(os.path.relpath(self.trials_folder, self.page_dir)).as_posix()
        self.prefix = "" if up == "." else quote(up) + "/"

    def code(self, row: IndexRow) -> Any:
        """The row's `notebook` entry (see the module's docstring)."""
        notebook = row.notebook
        if notebook is None:
            return None
        gone = row.key in self.missing
        if notebook == f"{row.name}/{NOTEBOOK}":
            return -1 if gone else 1
        if gone:
            return [self.path(notebook)]
        return self.href(notebook)

    def path(self, notebook: str) -> str:
        return notebook if os.path.isabs(notebook) else f"{self.trials_folder}/{notebook}"

    def href(self, notebook: str) -> str:
        if not os.path.isabs(notebook):
            return self.prefix + quote(notebook)
        return quote(Path(os.path.relpath(notebook, self.page_dir)).as_posix())


@dataclass
class Tables:
    """Values many rows share, kept once in the page: combinations and sweeps."""

    combos: dict[str, int] = field(default_factory=dict)  # variants JSON -> index
    combo_list: list[dict[str, str]] = field(default_factory=list)
    sweeps: dict[str, int] = field(default_factory=dict)

    def combo(self, variants: dict[str, str]) -> int:
        text = json.dumps(variants, sort_keys=True)
        if text not in self.combos:
            self.combos[text] = len(self.combo_list)
            self.combo_list.append(dict(sorted(variants.items())))
        return self.combos[text]

    def sweep(self, sweep: str | None) -> int | None:
        if sweep is None:
            return None
        return self.sweeps.setdefault(sweep, len(self.sweeps))


def encode(
    rows: Sequence[IndexRow],
    positions: Sequence[int],
    metrics: Sequence[str],
    tables: Tables,
    notebooks: Notebooks,
) -> list[list[Any]]:
    """The rows as data, a column per field (see the module's docstring), in the order of
    `positions`. Columns are made in the rows' own order, then put in that one: a list
    comprehension per column costs a fraction of a list per row, and reading 100,000
    rows in the order they were made, not a shuffled one, a third."""
    take = _taker(positions)
    status_index = {status: i for i, status in enumerate(TrialStatus)}
    combo_of: dict[int, int] = {}  # id of a row's variants dict -> its index (rows share them)
    for row in rows:
        if id(row.variants) not in combo_of:
            combo_of[id(row.variants)] = tables.combo(row.variants)
    for sweep in dict.fromkeys(row.sweep for row in rows):
        tables.sweep(sweep)
    sweeps, code, gone = tables.sweeps, notebooks.code, notebooks.missing
    cells = [[v if type(v) is float and v - v == 0 else _cell(v) for v in column] for column in (
        map(attrgetter("main"), rows), *([row.metrics.get(m) for row in rows] for m in metrics)
    )]  # fmt: skip
    field = attrgetter
    columns = [
        list(map(field("name"), rows)),
        list(map(field("key"), rows)),
        [status_index[status] for status in map(field("status"), rows)],
        [combo_of[id(variants)] for variants in map(field("variants"), rows)],
        cells[0],
        cells[1:],
        list(map(field("seed"), rows)),
        list(map(field("started_at"), rows)),
        [None if w is None or w - w != 0 else round(w, 1) for w in map(field("wall_time"), rows)],
        [
            (-1 if row.key in gone else 1) if nb == f"{row.name}/{NOTEBOOK}" else code(row)
            for row, nb in ((row, row.notebook) for row in rows)
        ],
        [None if row.sweep is None else sweeps[row.sweep] for row in rows],
        [row.reproduction_of for row in rows],
    ]
    return (
        [take(c) for c in columns[:5]]
        + [[take(m) for m in columns[5]]]
        + [take(c) for c in columns[6:]]
    )


def _taker(positions: Sequence[int]) -> Callable[[list[Any]], list[Any]]:
    if len(positions) == 1:  # itemgetter of one position gives the item, not a tuple
        return lambda column: [column[positions[0]]]
    pick = itemgetter(*positions)
    return lambda column: list(pick(column))


def rows_from(columns: list[list[Any]], start: int, stop: int) -> list[list[Any]]:
    """Rows `start:stop` of encoded columns, a list each (as the script holds them)."""
    fields = [column[start:stop] for column in columns[:5] + columns[6:]]
    values = [column[start:stop] for column in columns[5]]
    return [
        [*row[:5], [column[i] for column in values], *row[5:]]
        for i, row in enumerate(zip(*fields, strict=True))
    ]


def _cell(value: Any) -> Any:
    kind = type(value)
    if kind is float:  # the common cases first: 100,000 rows
        return value if math.isfinite(value) else str(value)
    if value is None or (kind is int and -(2**53) < value < 2**53):
        return value
    return shown(value)


def finite(value: Any) -> float | None:
    """compare.numeric, quicker for the floats nearly every value is."""
    if type(value) is float and value - value == 0:  # finite (inf - inf and NaN are NaN)
        return value
    return numeric(value)


def dumps(value: Any) -> str:
    """Compact JSON (valid JavaScript too)."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def inline(value: Any) -> str:
    """JSON to put inside a <script> element: no `<` that the HTML parser could read as a tag."""
    return dumps(value).replace("<", "\\u003c")


def chunk_files(experiment: int, columns: list[list[Any]]) -> dict[str, str]:
    """File name -> text of each data file of one experiment (none if one page holds it).

    A file holds a chunk's columns: `mitosisIndexChunk(experiment, chunk, columns)`,
    the text `dumps` gives them, written a column at a time (a quarter quicker than
    one `dumps` of the nested lists)."""
    total = len(columns[0])
    if total <= PAGE_ROWS:
        return {}
    files = {}
    for n, start in enumerate(range(0, total, CHUNK_ROWS)):
        stop = start + CHUNK_ROWS
        part = [column_json(c[start:stop]) for c in columns[:5]]
        part.append(f"[{','.join(column_json(m[start:stop]) for m in columns[5])}]")
        part += [column_json(c[start:stop]) for c in columns[6:]]
        files[f"{experiment}-{n}.js"] = f"mitosisIndexChunk({experiment},{n},[{','.join(part)}]);\n"
    return files


def column_json(values: list[Any]) -> str:
    """`dumps(values)`; for text that JSON writes as it is (printable ASCII, no `"` or `\\`),
    joined without the encoder looking at each character."""
    if values and set(map(type, values)) == {str}:
        plain = "".join(values)
        if plain.isascii() and plain.isprintable() and '"' not in plain and "\\" not in plain:
            return '["' + '","'.join(values) + '"]'
    return dumps(values)
