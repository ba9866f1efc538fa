"""The index page read by someone who did not write it, in a real headless Chromium.

Three experiments (one minimizing) with long variant names, run as real trials:
the page is titled by the project, every plot label lies inside its SVG (measured
by the browser with getBBox), clicking a metric header sorts its table, the
filters narrow the tables, and a copied folder opens without console errors.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from reading_project import cli, commit, make_project, run_trials
from test_index import browse, console_messages

from mitosis_hydra import list_trials

LONG = "a_remarkably_long_variant_name_that_once_was_clipped_in_the_plot_{}"

# Runs in the page after its own script; writes what it measured into <body data-check>.
_CHECK = """
<script>
(function(){
var outside=[],overlap=[],labels=0;
// The page's own rows, then the same rows as its script renders them (a filter set to `all`).
function sign(){return Array.prototype.map.call(document.querySelectorAll('tbody tr'),
 function(r){return r.outerHTML.replace(/ data-v="[^"]*"/g,'');});}
var before=sign(),s0=document.getElementById('f-status');s0.value='';
s0.dispatchEvent(new Event('change'));var same=JSON.stringify(before)===JSON.stringify(sign());
document.querySelectorAll('svg.plot').forEach(function(svg){
 var vb=svg.viewBox.baseVal,left=parseFloat(svg.getAttribute('data-plot-left'));
 svg.querySelectorAll('text').forEach(function(t){var b=t.getBBox();
  if(b.x<vb.x||b.y<vb.y||b.x+b.width>vb.x+vb.width||b.y+b.height>vb.y+vb.height){
   outside.push(t.textContent+' '+[b.x,b.y,b.width,b.height].join(','));}
  if(t.classList.contains('label')){labels++;if(b.x+b.width>left){overlap.push(t.textContent);}}
 });});
var wave=document.querySelector('section[data-experiment="wave"]');
var th=wave.querySelector('th[data-col="metric-double"]');
function first(){return wave.querySelector('tbody tr').cells[1].textContent;}
th.click();var up=first();th.click();var down=first();
function shown(){return Array.prototype.filter.call(document.querySelectorAll('tbody tr'),
 function(r){return r.style.display!=='none'&&r.closest('section').style.display!=='none';}
 ).length;}
function pick(name,value){var s=document.getElementById('f-'+name);s.value=value;
 s.dispatchEvent(new Event('change'));}
var all=shown();pick('variant','scale=__LONG1__');var one=shown();pick('variant','');
pick('experiment','loss');var loss=shown();pick('experiment','');
document.body.setAttribute('data-check',JSON.stringify({outside:outside,overlap:overlap,
 labels:labels,up:up,down:down,all:all,one:one,loss:loss,same:same}));
})();
</script>
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    project = make_project(tmp_path_factory.mktemp("reading"))
    for number, value in ((1, 2.0), (2, 5.0)):
        (project / f"wave_pkg/conf/scale/{LONG.format(number)}.yaml").write_text(
            f"_value_: {value}\n"
        )
    (project / "wave_pkg/conf/exp/loss.yaml").write_text(
        "name: loss\nrun: wave_pkg.experiment:run\ngoal: minimize\n"
    )
    commit(project, "long variant names and a loss")
    scales = f"small,{LONG.format(1)},{LONG.format(2)}"
    run_trials(project, "--multirun", "+exp=wave,noisy,loss", f"scale={scales}")
    result = cli(project, "index")
    assert result.returncode == 0, result.stderr
    return project


@pytest.mark.kernel
def test_index_title_names_the_project_not_the_path(project: Path):
    page = (project / "trials" / "index.html").read_text()
    assert "<title>project: trials</title>" in page
    assert "<h1>project: trials</h1>" in page
    assert str(project) not in page.split("<body>")[0]


@pytest.mark.kernel
def test_index_in_chromium_labels_fit_sorting_and_filters_work(project: Path, tmp_path: Path):
    copy = tmp_path / "copied" / "trials"
    shutil.copytree(project / "trials", copy)  # read from a copied folder
    page = copy / "index.html"
    screenshot = tmp_path / "index.png"
    _out, stderr = browse(page, tmp_path, f"--screenshot={screenshot}", "--window-size=1280,1000")
    assert console_messages(stderr) == []
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    checked = copy / "checked.html"
    text = page.read_text().replace(
        "</body>", _CHECK.replace("__LONG1__", LONG.format(1)) + "</body>"
    )
    checked.write_text(text)
    dom, stderr = browse(checked, tmp_path, "--dump-dom")
    assert console_messages(stderr) == []
    found = re.search(r'data-check="([^"]*)"', dom)
    assert found, dom[-2000:]
    check = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))

    assert check["labels"] >= 9  # three experiments, three combinations each
    assert check["outside"] == [] and check["overlap"] == []
    wave = [r for r in list_trials(copy) if r.experiment == "wave"]
    by_double = sorted(wave, key=lambda r: r.metrics["double"])
    assert (check["up"], check["down"]) == (by_double[0].name, by_double[-1].name)
    assert (check["all"], check["one"], check["loss"]) == (9, 3, 3)
    assert check["same"]  # the script renders a row as the page has it, link for link


@pytest.mark.kernel
def test_index_sorts_each_experiment_by_its_goal_and_marks_the_best(project: Path):
    page = (project / "trials" / "index.html").read_text()
    records = list_trials(project / "trials")
    for experiment, best_of in (("wave", max), ("loss", min)):
        section = page[page.index(f'data-experiment="{experiment}"') :]
        section = section[: section.index("</section>")]
        best = best_of((r for r in records if r.experiment == experiment), key=lambda r: r.main)
        first_row = section[section.index("<tbody>") :].split("</tr>")[0]
        assert "class=best" in first_row and best.name in first_row
        assert section.count("class=best") == 1
        assert '<th data-col="param-scale">scale</th>' in section
        assert '<th data-col="metric-double" data-type=num>double</th>' in section
    assert "lower main is better" in page and "higher main is better" in page
