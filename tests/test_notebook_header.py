"""The notebook a researcher reads first: its header says how the trial ended, and how well.

Real trials of the test project (real kernels, git, SQLite): the header is filled in
after execution, the experiment's `logging` shows under its cell and in trial.log
once, and the rendered notebook names no absolute path of the machine.
"""

from __future__ import annotations

import html as html_text
import re

import pytest

kernel = pytest.mark.kernel


def _text(html: str) -> str:
    """What a reader sees: tags (syntax highlighting too) removed, entities decoded."""
    return html_text.unescape(re.sub(r"<[^>]+>", "", html))


def _first_cell(html: str) -> str:
    """The text of the notebook's first (markdown) cell, tags stripped."""
    start = html.index('class="jp-Cell jp-MarkdownCell')
    end = html.index('class="jp-Cell jp-CodeCell', start)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html[start:end]))


@kernel
def test_header_of_a_finished_trial_says_status_main_and_where_it_came_from(user_project):
    result = user_project.run("+exp=draw", "amplitude=big")
    assert result.returncode == 0, result.output
    (record,) = user_project.trials()
    html = record.notebook.read_text()

    header = _first_cell(html)
    assert "status finished" in header
    assert "main 10.0" in header
    assert "metric seed_plus_one 1" in header
    assert "variant amplitude big" in header
    assert f"commit {record.commit}" in header
    assert "seed 0" in header and "wall time" in header and "running" not in header
    assert header.index("status") < header.index("main") < header.index("variant")


@kernel
def test_logging_shows_in_the_notebook_and_once_in_the_log(user_project):
    result = user_project.run("+exp=draw")
    assert result.returncode == 0, result.output
    (record,) = user_project.trials()
    line = "drawing with amplitude 4 and seed 0"

    html = record.notebook.read_text()
    assert html.count(line) == 1, "the logging line belongs under the cell that ran `run`"
    assert f"INFO userpkg.experiments: {line}" in html
    text = _text(html)
    assert text.index("result = run(") < text.index(line) < text.index("save_results(")
    log = (record.notebook.parent / "trial.log").read_text()
    assert log.count(line) == 1, log


@kernel
def test_rendered_notebook_names_no_absolute_path(user_project, tmp_path):
    result = user_project.run("+exp=draw")
    assert result.returncode == 0, result.output
    (record,) = user_project.trials()
    html = record.notebook.read_text()
    assert str(tmp_path) not in html
    assert str(user_project.root) not in html
    assert "folder='trials/draw-amplitude_small-1'" in _text(html)


@kernel
def test_header_of_a_failed_trial_says_failed_and_why(user_project):
    result = user_project.run("+exp=boom")
    assert result.returncode != 0, result.output
    (record,) = user_project.trials()
    header = _first_cell(record.notebook.read_text())
    assert "status failed" in header
    assert "boom: the experiment broke with amplitude 4" in header
    assert "main" not in header.replace("amplitude", "")
