"""`mitosis-hydra` against a real trials folder made by real trials in a tmp_path git repo."""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
from reading_project import cli, cli_json, commit, environment, make_project, run_trials

from mitosis_hydra import compare_trials, list_trials
from mitosis_hydra.read.compare import compare_records, split_parameters, summarize
from mitosis_hydra.read.release import audit_log
from mitosis_hydra.storage.store import TrialStore


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """Four finished `wave` trials (scale small/big × seed 1/2), a failed one and a debug one."""
    project = make_project(tmp_path_factory.mktemp("cli"))
    run_trials(project, "--multirun", "+exp=wave", "scale=small,big", "seed=1,2")
    failed = run_trials(project, "+exp=broken", check=False)
    assert failed.returncode == 1, failed.stderr
    run_trials(project, "+exp=wave", "debug=true")
    return project


def trials(project: Path):
    return list_trials(project / "trials")


@pytest.mark.kernel
def test_list_json_is_list_trials(project: Path):
    data = cli_json(project, "list")
    assert data == [record.to_json() for record in trials(project)]
    assert len(data) == 5  # the debug trial is not recorded
    assert {"key", "experiment", "name", "iteration", "status", "main", "metrics", "seed"} <= set(
        data[0]
    )
    assert {"commit", "variants", "notebook", "started_at", "finished_at"} <= set(data[0])


@pytest.mark.kernel
def test_list_filters(project: Path):
    assert [t["status"] for t in cli_json(project, "list", "--status", "failed")] == ["failed"]
    big = cli_json(project, "list", "--variant", "scale=big")
    assert sorted(t["seed"] for t in big) == [1, 2]
    assert all(t["variants"]["scale"] == "big" for t in big)
    both = cli_json(project, "list", "-e", "wave", "-v", "scale=big", "-v", "shift=zero")
    assert both == big
    assert [t["key"] for t in cli_json(project, "list", "--last", "2")] == [
        r.key for r in trials(project)[-2:]
    ]


@pytest.mark.kernel
def test_list_table_for_people(project: Path):
    result = cli(project, "list")
    assert result.returncode == 0, result.stderr
    for record in trials(project):
        assert record.key in result.stdout
        assert record.name in result.stdout
        assert record.commit[:7] in result.stdout
    assert "failed" in result.stdout and "5 trials" in result.stdout


@pytest.mark.kernel
def test_show_by_prefix(project: Path):
    record = trials(project)[0]
    data = cli_json(project, "show", record.key[:6])
    assert data["record"] == record.to_json()
    assert data["variants"]["scale"] == {"name": "small", "value": "1.0", "locked": "locked"}
    assert data["environment"]["git_root"] == str(project)
    assert "-m wave_pkg" in data["environment"]["command"]
    assert data["paths"]["results"].endswith("results.pkl")
    assert "scale:\n  _value_: 1.0" in data["config"]
    shown = cli(project, "show", record.key)
    assert shown.returncode == 0
    assert record.name in shown.stdout and "my_variant" not in shown.stdout
    assert "small = 1.0  (locked)" in shown.stdout
    assert cli_json(project, "show", record.name)["record"]["key"] == record.key


@pytest.mark.kernel
def test_show_unknown_and_ambiguous_keys(project: Path):
    missing = cli(project, "show", "zzzzzzzzzzzz")
    assert missing.returncode == 2
    assert "No trial has a key starting with 'zzzzzzzzzzzz'" in missing.stderr
    assert "mitosis-hydra list" in missing.stderr
    ambiguous = cli(project, "show", "")
    assert ambiguous.returncode == 2
    assert "matches several trials" in ambiguous.stderr
    assert trials(project)[0].key in ambiguous.stderr


@pytest.mark.kernel
def test_compare_statistics(project: Path):
    data = cli_json(project, "compare", "--experiment", "wave")
    assert data == [c.to_json() for c in compare_trials(project / "trials", experiment="wave")]
    (wave,) = data
    assert wave["differing"] == ["scale"] and wave["constant"] == {"shift": "zero"}
    rows = {row["variants"]["scale"]: row for row in wave["rows"]}
    mains = [r.main for r in trials(project) if r.variants.get("scale") == "big" and r.main]
    big = rows["big"]["main"]
    assert big["count"] == 2 and rows["big"]["seeds"] == [1, 2]
    assert big["mean"] == pytest.approx(statistics.fmean(mains))
    assert big["std"] == pytest.approx(statistics.stdev(mains))
    assert (big["min"], big["max"]) == (min(mains), max(mains))
    assert rows["big"]["metrics"]["double"]["mean"] == pytest.approx(2 * big["mean"])
    table = cli(project, "compare")
    assert table.returncode == 0
    assert "wave: main metric by variant combination" in table.stdout
    assert "same in every row: shift=zero" in table.stdout
    assert "±" in table.stdout


@pytest.mark.kernel
def test_compare_unknown_experiment_is_usage_error(project: Path):
    result = cli(project, "compare", "-e", "nope")
    assert result.returncode == 2
    assert "No trial of experiment 'nope' is recorded" in result.stderr
    assert "broken, wave" in result.stderr and "Try" in result.stderr


@pytest.mark.kernel
def test_variants_lists_locks_with_counts(project: Path):
    data = {(v["group"], v["name"]): v for v in cli_json(project, "variants")}
    assert set(data) == {
        ("scale", "small"),
        ("scale", "big"),
        ("shift", "zero"),
        ("exp", "wave"),  # an experiment is locked too: its run target and arguments
        ("exp", "broken"),
    }
    assert data[("exp", "wave")]["trials"] == 4
    assert data[("scale", "big")]["trials"] == 2
    assert data[("scale", "small")]["trials"] == 3  # two wave trials and the broken one
    assert data[("shift", "zero")]["value"] == "0.0"
    first = trials(project)[0]
    assert data[("scale", "small")]["first_trial"] == first.name
    assert data[("scale", "small")]["commit"] == first.commit
    table = cli(project, "variants")
    assert "5 locked variants" in table.stdout and first.name in table.stdout


@pytest.mark.kernel
def test_release_refuses_without_confirmation_and_keeps_trials(tmp_path: Path):
    project = make_project(tmp_path)
    run_trials(project, "+exp=wave", "scale=big")
    before = [r.to_json() for r in list_trials(project / "trials")]

    no_tty = cli(project, "variants", "release", "scale/big", "--force")
    assert no_tty.returncode == 2
    assert "needs a confirmation" in no_tty.stderr and "--yes" in no_tty.stderr
    in_use = cli(project, "variants", "release", "scale/big", "--yes")
    assert in_use.returncode == 1
    assert "scale/big is still used by 1 recorded trial" in in_use.stderr
    assert "wave-scale_big-shift_zero-1" in in_use.stderr and "--force" in in_use.stderr
    unknown = cli(project, "variants", "release", "scale/huge", "--yes")
    assert unknown.returncode == 2 and "No variant scale/huge is locked" in unknown.stderr
    assert cli_json(project, "variants", "--released") == []

    done = cli(project, "variants", "release", "scale/big", "--yes", "--force")
    assert done.returncode == 0, done.stderr
    assert "Released scale/big (was 10.0; 1 trials keep their records)" in done.stdout
    assert [r.to_json() for r in list_trials(project / "trials")] == before
    assert ("scale", "big") not in {(v["group"], v["name"]) for v in cli_json(project, "variants")}
    (entry,) = audit_log(TrialStore(project / "trials"))
    assert entry["detail"]["canonical"] == "10.0"
    assert entry["detail"]["trials"] == ["wave-scale_big-shift_zero-1"]

    # The name is free: a new value locks it, and the old trial still shows its old value.
    (project / "wave_pkg/conf/scale/big.yaml").write_text("_value_: 100.0\n")
    commit(project, "bigger big")
    run_trials(project, "+exp=wave", "scale=big")
    locks = {(v["group"], v["name"]): v for v in cli_json(project, "variants")}
    assert locks[("scale", "big")]["value"] == "100.0"
    assert locks[("scale", "big")]["trials"] == 1
    old = cli_json(project, "show", before[0]["key"])
    assert old["variants"]["scale"] == {"name": "big", "value": "10.0", "locked": "released"}
    assert len(list_trials(project / "trials")) == 2


@pytest.mark.kernel
def test_release_asks_on_a_terminal(tmp_path: Path):
    """A person at a terminal is asked; anything but yes keeps the lock."""
    project = make_project(tmp_path)
    run_trials(project, "+exp=wave", "scale=big")
    leader, follower = os.openpty()
    script = Path(sys.executable).parent / "mitosis-hydra"
    with subprocess.Popen(
        [str(script), "variants", "release", "scale/big", "--force"],
        cwd=project,
        env=environment(),
        stdin=follower,
        stdout=follower,
        stderr=follower,
    ) as process:
        os.close(follower)
        os.write(leader, b"n\n")
        output = b""
        while True:
            try:
                chunk = os.read(leader, 1024)
            except OSError:  # the terminal closes when the command ends
                break
            if not chunk:
                break
            output += chunk
    os.close(leader)
    assert process.returncode == 1, output
    assert b"Release scale/big (locked to 10.0" in output
    assert b"Not released: scale/big stays locked" in output
    locked = [v["name"] for v in cli_json(project, "variants") if v["group"] == "scale"]
    assert locked == ["big"]


def test_usage_errors_exit_2(tmp_path: Path):
    missing = cli(tmp_path, "list", "--trials-folder", str(tmp_path / "none"))
    assert missing.returncode == 2
    assert f"There is no trials folder at {tmp_path / 'none'}" in missing.stderr
    assert "Try `--trials-folder DIR`" in missing.stderr
    bad = cli(tmp_path, "list", "--trials-folder", str(tmp_path), "--variant", "big")
    assert bad.returncode == 2 and "--variant 'big' is not GROUP=NAME" in bad.stderr
    unknown = cli(tmp_path, "frobnicate")
    assert unknown.returncode == 2 and "Try `mitosis-hydra --help`" in unknown.stderr
    for command in ("list", "show", "compare", "variants", "reproduce", "index"):
        helped = cli(tmp_path, command, "--help")
        assert helped.returncode == 0 and "--trials-folder DIR" in helped.stdout
    empty = cli(tmp_path, "list", "--trials-folder", str(tmp_path), "--json")
    assert empty.returncode == 0 and empty.stdout.strip() == "[]"


def test_summarize_and_split_are_plain_statistics():
    assert summarize([1, 2, 3, None, "x", True]) == summarize([1.0, 2.0, 3.0])
    # NaN and inf count, as IEEE arithmetic has them: a blank would hide them (issue 9)
    with_nan = summarize([1, 2, float("nan")])
    assert with_nan is not None and with_nan.count == 3 and math.isnan(with_nan.mean)
    assert summarize([1.0, float("inf")]).mean == float("inf")
    stats = summarize([1, 2, 3])
    assert stats is not None and (stats.count, stats.mean, stats.std) == (3, 2.0, 1.0)
    single = summarize([5])
    assert single is not None and single.std is None
    assert summarize(["text", None]) is None
    differing, constant = split_parameters([{"a": "x", "b": "y"}, {"a": "z", "b": "y"}])
    assert differing == ("a",) and constant == {"b": "y"}
    assert compare_records([]) == []
