"""`mitosis-hydra index` over 100,000 trials: a small page that pages, sorts and filters
every row, read from file:// in a real headless Chromium.

The trials are made with the store API and bulk copies (tests/many_trials.py, no
kernels). The check script below runs in a copy of the page beside it, after
the page's own script; it clicks like a reader and waits (in Chromium's virtual
time) for the data files each action loads, then writes what it saw into
<body data-check>.
"""

from __future__ import annotations

import json
import math
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from many_trials import make_trials, record_base
from test_index import browse, console_messages
from test_store_postgres import postgres, url  # noqa: F401  (fixtures: a PostgreSQL store)

from mitosis_hydra.core.records import TrialRecord, TrialStatus
from mitosis_hydra.read.index_data import CHUNK_ROWS, PAGE_ROWS, order
from mitosis_hydra.read.index_page import build_index, render_index, write_index
from mitosis_hydra.read.index_rows import read_rows, rows_of
from mitosis_hydra.storage.store import TrialStore

TOTAL = 100_000
MAX_PAGE = 2_000_000  # bytes: what a browser opens at once

_CHECK = """
<script>
(function(){
var out={};
function sec(n){return document.querySelector('section[data-experiment="'+n+'"]');}
function rows(s){return s.querySelectorAll('tbody tr');}
function sign(){return Array.prototype.map.call(document.querySelectorAll('tbody tr'),function(r){
 return [r.className,r.getAttribute('data-status')].concat(Array.prototype.map.call(r.cells,
  function(c){var a=c.querySelector('a,span[title]');
   var v=c.classList.contains('num')?String(parseFloat(c.getAttribute('data-v'))):'';
   return c.textContent+'|'+v+'|'+(a?a.getAttribute('href')+a.getAttribute('title'):'');}))
  .join('#');}).join('\\n');}
function pick(name,value){var f=document.getElementById('f-'+name);f.value=value;
 f.dispatchEvent(new Event('change'));}
function when(test,then,left){left=left===undefined?2000:left;
 if(test()&&!document.body.hasAttribute('data-loading')){then();return;}
 if(left<=0){out.timeout=(out.timeout||0)+1;then();return;}
 setTimeout(function(){when(test,then,left-1);},25);}
var s=sec('sine');
out.total=document.getElementById('total').textContent;
out.shown=document.getElementById('shown').textContent;
out.newest=document.querySelector('ol.newest li b').textContent;
out.plots=document.querySelectorAll('svg.plot').length;
out.boxes=document.querySelectorAll('svg.plot rect.box').length;
out.dots=document.querySelectorAll('svg.plot circle').length;
out.first=rows(s).length;
var before=sign();pick('status','');out.same=before===sign();  // the script's rows = the page's
s.querySelector('button[data-go="last"]').click();
when(function(){return s.getAttribute('data-page')!=='1'&&s.getAttribute('data-page')!==null;},
 function(){out.lastPage=s.getAttribute('data-page');out.lastRows=rows(s).length;
 out.lastName=rows(s)[rows(s).length-1].cells[1].textContent;
 out.lastText=s.querySelector('.pager .rows').textContent;
 var th=s.querySelector('th[data-col="started"]');th.click();
 when(function(){return th.getAttribute('aria-sort')==='ascending';},function(){th.click();
  when(function(){return th.getAttribute('aria-sort')==='descending';},function(){
   out.newestSine=rows(s)[0].cells[1].textContent;
   pick('status','failed');
   when(function(){return true;},function(){out.failed=document.getElementById('shown').textContent;
    out.failedRows=Array.prototype.every.call(document.querySelectorAll('tbody tr'),
     function(r){return r.getAttribute('data-status')==='failed';});
    document.body.setAttribute('data-check',JSON.stringify(out));});});});});
})();
</script>
"""


def mitosis_hydra(*args: str) -> subprocess.CompletedProcess:
    script = Path(sys.executable).parent / "mitosis-hydra"
    return subprocess.run([str(script), *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def trials(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("scale") / "trials"
    make_trials(folder, TOTAL)
    result = mitosis_hydra("index", "--trials-folder", str(folder))
    assert result.returncode == 0, result.stderr
    assert f"Wrote {folder / 'index.html'}" in result.stdout
    return folder


def checked(trials: Path, tmp_path: Path) -> tuple[dict, str]:
    """Run the check script in a copy of the page beside it; what it saw, and Chromium's log."""
    page = trials / "checked.html"
    page.write_text((trials / "index.html").read_text().replace("</body>", _CHECK + "</body>"))
    try:
        dom, stderr = browse(page, tmp_path, "--virtual-time-budget=120000", "--dump-dom")
    finally:
        page.unlink()
    found = re.search(r'data-check="([^"]*)"', dom)
    assert found, dom[-2000:]
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&")), stderr


def test_index_of_100000_trials_pages_sorts_and_filters_in_chromium(trials: Path, tmp_path: Path):
    page = trials / "index.html"
    assert page.stat().st_size <= MAX_PAGE
    check, stderr = checked(trials, tmp_path)
    assert console_messages(stderr) == []
    rows = read_rows(trials)
    sine = [row for row in rows if row.experiment == "sine"]
    last = sine[order(sine, "maximize")[-1]]
    pages = math.ceil(len(sine) / PAGE_ROWS)
    assert "timeout" not in check, check
    assert check["total"] == "100,000"
    assert check["shown"] == "100,000 of 100,000 trials shown"
    assert check["newest"] == rows[-1].name  # the newest trial, first on the first screen
    # Aggregated plots: a box per combination, no dot per trial.
    assert (check["plots"], check["boxes"], check["dots"]) == (2, 23, 0)
    assert check["first"] == PAGE_ROWS
    assert check["same"], "the script renders rows unlike the page"
    assert check["lastPage"] == str(pages)
    assert check["lastRows"] == len(sine) - (pages - 1) * PAGE_ROWS
    assert check["lastName"] == last.name
    assert check["lastText"] == (
        f"rows {(pages - 1) * PAGE_ROWS + 1:,}\N{EN DASH}{len(sine):,} of {len(sine):,}"
    )
    assert check["newestSine"] == sine[-1].name  # sorted by start over all its rows
    failed = sum(row.status.value == "failed" for row in rows)
    assert check["failed"] == f"{failed:,} of 100,000 trials shown" and check["failedRows"]


def test_a_page_without_its_data_folder_says_so(trials: Path, tmp_path: Path):
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(trials / "index.html", alone / "index.html")  # copied without index-data/
    script = (
        '<script>document.querySelector(\'section[data-experiment="sine"] '
        'button[data-go="last"]\').click();</script>'
    )
    page = alone / "index.html"
    page.write_text(page.read_text().replace("</body>", script + "</body>"))
    dom, _stderr = browse(page, tmp_path, "--virtual-time-budget=10000", "--dump-dom")
    assert "Could not load index-data/" in dom
    assert "the page was copied without its data folder" in dom
    assert "run mitosis-hydra index" in dom


def test_index_writes_replace_the_data_folder_whole(trials: Path):
    data = trials / "index-data"
    (data / "20200101T000000000000-1-abcd").mkdir()  # left by a run killed long ago
    (data / "mine").mkdir()  # not ours: never touched
    result = mitosis_hydra("index", "--trials-folder", str(trials))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in data.iterdir() if p.name != "mine") == [_named(trials)]
    assert (data / "mine").is_dir()
    (data / "mine").rmdir()
    sizes = Counter(row.experiment for row in read_rows(trials)).values()
    files = sum(math.ceil(n / CHUNK_ROWS) for n in sizes)
    # Killed at any moment, the page on disk is whole and names a whole data folder.
    for delay in (0.3, 0.9, 1.5):
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "mitosis-hydra"), "index", "--trials-folder",
             str(trials)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        text = (trials / "index.html").read_text()
        assert text.endswith("</html>")
        folder = data / _named(trials)
        assert len(list(folder.glob("*.js"))) == files  # every data file of the page
    result = mitosis_hydra("index", "--trials-folder", str(trials))
    assert result.returncode == 0, result.stderr
    assert [p.name for p in data.iterdir()] == [_named(trials)]  # killed runs' leftovers gone
    assert not list(trials.glob("index.html.*.tmp"))


def _named(trials: Path) -> str:
    """The data folder the page names."""
    found = re.search(r'"data":"index-data/([^"]+)"', (trials / "index.html").read_text())
    assert found
    return found.group(1)


def _record(n: int, main, **metrics) -> TrialRecord:
    return TrialRecord(
        key=f"k{n:09d}",
        experiment="e",
        name=f"e-{n}",
        iteration=n,
        status=TrialStatus.FINISHED if main is not None else TrialStatus.FAILED,
        seed=n,
        commit="abcdef1234",
        variants={"a": f"v{n % 3}"},
        started_at=datetime(2026, 1, 5, tzinfo=UTC) + timedelta(seconds=n),
        folder=Path("/t") / f"e-{n}",
        notebook=Path("/t") / f"e-{n}" / "notebook.html",
        main=main,
        metrics=metrics,
        wall_time=n * 0.25,
    )


TRICKY = [0.1, 1e-05, 123456.0, 1234567.0, -0.0, 1e16, 2.5e-07, 99999.95, 3, 10**20, True,
          "text", float("nan"), float("inf"), None, [1, 2], -1.5e-300]  # fmt: skip


def test_the_script_prints_every_value_as_the_page_does(tmp_path: Path):
    records = [_record(n, value, m=value) for n, value in enumerate(TRICKY)]
    page = tmp_path / "index.html"
    text = render_index(records, Path("/t"), title="T", missing={"k000000002"})
    script = (
        "<script>function sign(){return Array.prototype.map.call(document.querySelectorAll("
        "'tbody tr'),function(r){return r.outerHTML.replace(/ data-v=\"[^\"]*\"/g,'');});}"
        "var before=sign(),s=document.getElementById('f-status');s.value='';"
        "s.dispatchEvent(new Event('change'));document.body.setAttribute('data-same',"
        "JSON.stringify(before)===JSON.stringify(sign())?'yes':JSON.stringify([before,sign()]));"
        "</script>"
    )
    page.write_text(text.replace("</body>", script + "</body>"))
    dom, stderr = browse(page, tmp_path, "--dump-dom")
    assert console_messages(stderr) == []
    assert 'data-same="yes"' in dom, dom[dom.find("data-same") :][:3000]
    assert ">1e-05<" in dom and ">1.23457e+06<" in dom and ">nan<" in dom and ">True<" in dom


def test_a_table_longer_than_a_page_keeps_its_first_page_and_files_the_rest():
    records = [_record(n, float(n)) for n in range(PAGE_ROWS * 2 + 5)]
    text, files = build_index(rows_of(records, Path("/t")), Path("/t"), Path("/t"), title="T")
    assert text.count("<tr class=best") == 1 and text.count('<tr data-status="finished"') == 49
    assert list(files) == ["0-0.js"]  # one experiment, one chunk of all its rows
    chunk = files["0-0.js"]
    assert chunk.startswith("mitosisIndexChunk(0,0,[[") and chunk.endswith(");\n")
    names = json.loads(chunk[len("mitosisIndexChunk(0,0,") : -len(");\n")])[0]
    assert names == [f"e-{n}" for n in reversed(range(PAGE_ROWS * 2 + 5))]  # best first
    assert "rows 1–50 of 105" in text and 'data-go="last"' in text
    few, none = build_index(rows_of(records[:PAGE_ROWS], Path("/t")), Path("/t"), Path("/t"),
                            title="T")  # fmt: skip
    assert none == {} and '<div class="pager">' not in few  # one page: no files, no pager


def test_the_index_reads_a_store_on_postgres(tmp_path: Path, url: str):  # noqa: F811
    store = TrialStore(tmp_path / "trials", url)
    record_base(store, 2, random.Random(1))  # 2 trials of each of 23 combinations: one page
    page = write_index(store.trials_folder, db=url)
    text = page.read_text()
    assert '<span id="total">46</span> trials' in text
    names = {record.name for record in store.list_trials()}
    assert all(f'<td class="trial">{name}</td>' in text for name in names)
