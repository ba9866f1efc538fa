"""The index written the quick way is the index of the records: same page, same data files.

`mitosis-hydra index` reads its rows with `sqlite3` (index_rows.py), finds deleted
notebooks with one listing of the trials folder or a look per notebook
(index_files.py) and writes each data file a column at a time (index_data.py).
Each of these is checked here against the plain way: the records `list_trials`
gives, a stat per notebook, `json.dumps` of the whole chunk.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from tricky_trials import make_tricky

from mitosis_hydra import list_trials
from mitosis_hydra.core.records import TrialStatus
from mitosis_hydra.read import index_files
from mitosis_hydra.read.goal import experiment_goals
from mitosis_hydra.read.index_data import PAGE_ROWS, column_json, dumps
from mitosis_hydra.read.index_page import build_index, project_name
from mitosis_hydra.read.index_rows import IndexRow, rows_of

_CHUNK = re.compile(r"mitosisIndexChunk\((\d+),(\d+),(.*)\);\n", re.DOTALL)


def mitosis_hydra(*args: str) -> subprocess.CompletedProcess:
    script = Path(sys.executable).parent / "mitosis-hydra"
    return subprocess.run([str(script), *args], capture_output=True, text=True, timeout=300)


def stat_missing(rows: list[IndexRow], folder: Path) -> set[str]:
    """The plain way: a stat per notebook."""
    return {
        row.key
        for row in rows
        if row.notebook is not None and not os.path.exists(os.path.join(folder, row.notebook))
    }


def test_the_page_and_data_files_are_those_of_the_records(tmp_path: Path):
    folder = tmp_path / "trials"
    make_tricky(folder)
    result = mitosis_hydra("index", "--trials-folder", str(folder))
    assert result.returncode == 0, result.stderr
    page = (folder / "index.html").read_text(encoding="utf-8")
    data = re.search(r'"data":"(index-data/[^"]+)"', page)
    written = re.search(r"written (\d{4}-\d\d-\d\d \d\d:\d\d) UTC", page)
    assert data and written

    records = list(list_trials(folder))  # the lost trial was closed by the index: as read now
    statuses = {record.status for record in records}
    assert {TrialStatus.RUNNING, TrialStatus.LOST, TrialStatus.FAILED} <= statuses
    assert any(record.reproduction_of for record in records)
    rows = rows_of(records, folder)
    missing = stat_missing(rows, folder)
    assert 0 < len(missing) < len([row for row in rows if row.notebook])  # some of each
    expected, files = build_index(
        rows,
        folder,
        folder,
        title=f"{project_name(folder)}: trials",
        now=datetime.strptime(written.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=UTC),
        missing=missing,
        goals=experiment_goals(records),
        data=data.group(1),
    )
    assert page == expected
    written_files = folder / data.group(1)
    assert sorted(p.name for p in written_files.iterdir()) == sorted(files)
    for name, text in files.items():
        assert (written_files / name).read_text(encoding="utf-8") == text, name
        # each file is the text one json.dumps of its chunk gives, as it was written before
        experiment, chunk, columns = _CHUNK.fullmatch(text).groups()
        assert text == f"mitosisIndexChunk({experiment},{chunk},{dumps(json.loads(columns))});\n"
    assert len(files) > 2  # more rows than one data file holds


def test_the_index_of_a_sqlite_file_does_not_import_sqlalchemy(tmp_path: Path):
    folder = tmp_path / "trials"
    make_tricky(folder, total=200)
    assert mitosis_hydra("index", "--trials-folder", str(folder)).returncode == 0  # closes lost
    code = (
        "import sys; from pathlib import Path;"
        "from mitosis_hydra.read.index_page import write_index;"
        f"write_index(Path({str(folder)!r}));"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sqlalchemy'))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def _row(key: str, notebook: str | None) -> IndexRow:
    return IndexRow(
        key, "e", key, TrialStatus.FINISHED, 0, {}, "", None, 1.0, {}, notebook, None, None
    )


def odd_notebooks(folder: Path, present: int, gone: int) -> list[IndexRow]:
    """`present` notebooks there and `gone` deleted, with the paths a database may hold."""
    folder.mkdir(parents=True)
    rows = []
    for n in range(present + gone):
        name = f"t-{n}"
        if n < present:
            (folder / name).mkdir()
            (folder / name / "notebook.html").write_text("x")
        rows.append(_row(f"k{n}", f"{name}/notebook.html"))
    (folder / "dir-only").mkdir()  # its notebook deleted, its folder kept
    elsewhere = folder.parent / "elsewhere.html"
    elsewhere.write_text("x")
    rows += [
        _row("dir-only", "dir-only/notebook.html"),
        _row("dots", f"../{folder.name}/t-0/notebook.html"),
        _row("here", "./t-0/notebook.html"),
        _row("upper", "T-0/notebook.html"),
        _row("absolute", str(elsewhere)),
        _row("absolute-gone", str(folder.parent / "gone.html")),
        _row("none", None),
    ]
    return rows


def test_missing_notebooks_when_most_are_there(tmp_path: Path):
    folder = tmp_path / "trials"
    rows = odd_notebooks(folder, present=300, gone=20)
    assert index_files.missing_notebooks(rows, folder) == stat_missing(rows, folder)


def test_missing_notebooks_when_most_are_gone(tmp_path: Path):
    folder = tmp_path / "trials"
    rows = odd_notebooks(folder, present=20, gone=3000)
    found = index_files.missing_notebooks(rows, folder)
    assert found == stat_missing(rows, folder)
    assert {"dots", "here", "absolute"}.isdisjoint(found) and "dir-only" in found
    # What the listing cannot rule out is looked for: a name in another case (there on a
    # case-insensitive file system), `..`, `.`, absolute paths.
    named = [(row.key, row.notebook) for row in rows if row.notebook is not None]
    gone, unsure = index_files._not_listed(named, folder)
    assert {"upper", "dots", "here", "absolute", "absolute-gone", "dir-only"} <= {
        key for key, _notebook in unsure
    }
    assert "k1000" in gone


def test_missing_notebooks_of_a_trials_folder_that_is_gone(tmp_path: Path):
    rows = [_row("a", "a/notebook.html"), _row("b", None)]
    assert index_files.missing_notebooks(rows, tmp_path / "nowhere") == {"a"}


_VALUES = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["plain", "sine-a_1-3", 'q"uote', "back\\slash", "tab\t", "\x7f", "é", "<"]),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            _VALUES, st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.none()
        )
    )
)
def test_a_column_is_written_as_json_dumps_writes_it(values: list):
    assert column_json(values) == dumps(values)


@settings(max_examples=200, deadline=None)
@given(st.lists(_VALUES, max_size=PAGE_ROWS))
def test_a_column_of_text_is_written_as_json_dumps_writes_it(values: list[str]):
    assert column_json(values) == dumps(values)
