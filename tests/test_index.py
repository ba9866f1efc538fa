"""`mitosis-hydra index`: a static page, checked in a real headless Chromium."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest
from reading_project import cli, make_project, run_trials

from mitosis_hydra import list_trials
from mitosis_hydra.core.records import TrialRecord, TrialStatus
from mitosis_hydra.read.index_page import render_index, svg_plot

ROOT = Path(__file__).resolve().parents[1]
INSTALLER = ROOT / "scripts" / "install-chromium.sh"


def chromium() -> str:
    """Debian's chromium, installed by scripts/install-chromium.sh (run by `make test`)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and INSTALLER.exists():
        subprocess.run(["bash", str(INSTALLER)], check=False, timeout=900)
        found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip(
            "!!! CHROMIUM COULD NOT BE INSTALLED: the index page was NOT checked in a browser. "
            "scripts/install-chromium.sh needs apt-get and root (or sudo); "
            "install Debian's `chromium` package and run the tests again. !!!"
        )
    return found


def browse(page: Path, tmp_path: Path, *extra: str, fragment: str = "") -> tuple[str, str]:
    """Run headless Chromium on a file:// page; returns (stdout, stderr)."""
    result = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            "--enable-logging=stderr",
            "--v=0",
            *extra,
            page.resolve().as_uri() + fragment,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout, result.stderr


def console_messages(stderr: str) -> list[str]:
    """Lines Chromium logs for the page's console (errors, warnings, failed loads)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


class Links(HTMLParser):
    """Notebook links, table rows (their `main` cells) and references to other resources."""

    def __init__(self) -> None:
        super().__init__()
        self.notebooks: list[str] = []
        self.mains: list[str] = []
        self.external: list[str] = []
        self.body: dict[str, str | None] = {}
        self.svgs = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "body":
            self.body = values
        if tag == "svg":
            self.svgs += 1
        if tag == "a" and values.get("class") == "notebook":
            self.notebooks.append(values["href"] or "")
        if tag == "td" and "main" in (values.get("class") or "").split():
            self.mains.append(values["data-v"] or "")
        for name in ("src", "href"):
            if values.get(name) and "://" in (values[name] or ""):
                self.external.append(values[name] or "")


def parse(text: str) -> Links:
    links = Links()
    links.feed(text)
    return links


@pytest.fixture(scope="module")
def trials_folder(tmp_path_factory) -> Path:
    project = make_project(tmp_path_factory.mktemp("index"))
    run_trials(project, "--multirun", "+exp=wave", "scale=small,big", "seed=1,2")
    assert run_trials(project, "+exp=broken", check=False).returncode == 1
    result = cli(project, "index")
    assert result.returncode == 0, result.stderr
    assert f"Wrote {project / 'trials' / 'index.html'}" in result.stdout
    return project / "trials"


@pytest.mark.kernel
def test_page_in_headless_chromium(trials_folder: Path, tmp_path: Path):
    page = trials_folder / "index.html"
    screenshot = tmp_path / "index.png"
    _out, stderr = browse(page, tmp_path, f"--screenshot={screenshot}", "--window-size=1200,900")
    assert console_messages(stderr) == []
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 10_000

    dom, stderr = browse(page, tmp_path, "--dump-dom", fragment="#sort=-main")
    assert console_messages(stderr) == []
    links = parse(dom)
    assert links.body.get("data-ready") == "1"  # the script ran to its end
    records = list_trials(trials_folder)
    assert len(links.notebooks) == len(records) == 5
    for href in links.notebooks:
        assert (page.parent / unquote(href)).is_file(), href
    assert links.external == []  # self-contained: nothing to fetch
    assert links.svgs == 1  # one plot: `wave` (the broken experiment has no numeric main)
    # Sorted by the script: main descending; `broken` (no main) has its own table, first.
    mains = links.mains
    numbers = [float(m) for m in mains if m]
    assert numbers == sorted(numbers, reverse=True) and mains[0] == ""


@pytest.mark.kernel
def test_links_still_resolve_when_the_folder_moves(trials_folder: Path, tmp_path: Path):
    moved = tmp_path / "elsewhere" / "trials"
    shutil.copytree(trials_folder, moved)
    links = parse((moved / "index.html").read_text())
    assert links.notebooks and all((moved / unquote(h)).is_file() for h in links.notebooks)


def record(name: str, main, status=TrialStatus.FINISHED, **variants) -> TrialRecord:
    return TrialRecord(
        key=name[:10],
        experiment="exp<1>",
        name=name,
        iteration=1,
        status=status,
        seed=0,
        commit="abcdef1234",
        variants=variants or {"a": "x"},
        started_at=datetime(2026, 1, 5, tzinfo=UTC),
        folder=Path("/t") / name,
        notebook=Path("/t") / name / "notebook.html",
        main=main,
    )


def test_render_escapes_and_links_relative():
    records = [
        record("t<script>alert(1)</script>", 1.5),
        record("t two", 2.5, a="y"),
        record("t3", None, TrialStatus.FAILED),
    ]
    text = render_index(records, Path("/t"), title="Trials & <co>")
    assert "<script>alert" not in text and "&lt;script&gt;" in text
    assert "Trials &amp; &lt;co&gt;" in text and "exp&lt;1&gt;" in text
    assert 'href="t%20two/notebook.html"' in text
    assert 'class="status s-failed"' in text
    assert '"status s-finished">2 finished</span>' in text
    assert '"status s-failed">1 failed</span>' in text
    svg = svg_plot(records)
    assert svg.count("<circle") == 2 and "a=x" in svg and "a=y" in svg
    assert "No finished trial" in svg_plot([records[2]])


def test_a_missing_notebook_is_marked_not_linked():
    records = [record("t1", 1.0), record("t2", 2.0)]
    text = render_index(records, Path("/t"), title="T", missing={"t2"})
    assert 'href="t1/notebook.html"' in text
    assert 'href="t2/notebook.html"' not in text
    assert "notebook.html (missing)</span>" in text
    assert 'title="/t/t2/notebook.html was deleted or moved"' in text
