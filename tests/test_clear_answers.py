"""Inputs that used to be accepted in silence now get a clear answer.

A `main` that is not a real number fails the trial and says what main must be;
NaN and inf are kept and shown as such; `list --last` wants a count; reproducing a
failed trial says what was compared; a deleted notebook is marked missing.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
from reading_project import cli, make_project, run_trials

from mitosis_hydra import list_trials

kernel = pytest.mark.kernel
MITOSIS = ("--multirun", "hydra/launcher=mitosis", "hydra.launcher.n_jobs=1")

_RESULTS = '''
"""Experiments whose results test what a record accepts."""

import numpy as np

BAD = {1: "good", 2: True, 3: None, 4: [1.0]}


def bad_main(seed, amplitude):
    return {"main": BAD[amplitude]}


def numpy_kinds(seed, amplitude):
    return {
        "main": np.float32(0.5),
        "metrics": {"count": np.int64(3), "zero_d": np.array(2.5), "plain": 7},
    }


def not_finite(seed, amplitude):
    return {"main": float("nan"), "metrics": {"up": float("inf"), "down": -np.inf}}
'''

FILES = {
    "userpkg/results.py": _RESULTS.lstrip(),
    "userpkg/conf/exp/bad_main.yaml": "run: userpkg.results:bad_main\n",
    "userpkg/conf/exp/numpy_kinds.yaml": "run: userpkg.results:numpy_kinds\n",
    "userpkg/conf/exp/not_finite.yaml": "run: userpkg.results:not_finite\n",
    **{f"userpkg/conf/amplitude/{n}.yaml": f"_value_: {i}\n" for i, n in enumerate("abcd", 1)},
}


def mitosis_hydra(project, *args: str) -> subprocess.CompletedProcess:
    """`mitosis-hydra <args>` from the project's root, as a user runs it."""
    return project.cli(*args)


@kernel
def test_a_main_that_is_not_a_real_number_fails_the_trial(make_user_project):
    project = make_user_project(FILES)

    single = project.run("+exp=bad_main", "amplitude=a")
    sweep = project.run(*MITOSIS, "+exp=bad_main", "amplitude=b,c,d")

    assert single.returncode == 1, single.output
    assert "run() returned main='good' (a str), but main must be a real number" in single.stderr
    assert "Return e.g. {'main': 0.93}" in single.stderr
    assert sweep.returncode != 0, sweep.output
    records = {r.variants["amplitude"]: r for r in project.trials()}
    assert {name: r.status.value for name, r in records.items()} == dict.fromkeys("abcd", "failed")
    for name, shown in (
        ("b", "True (a bool)"),
        ("c", "None (a NoneType)"),
        ("d", "[1.0] (a list)"),
    ):
        assert f"run() returned main={shown}, but main must be a real number" in records[name].error
        assert records[name].main is None


@kernel
def test_numpy_numbers_keep_working_and_nan_and_inf_show_everywhere(make_user_project):
    project = make_user_project(FILES)
    assert project.run("+exp=numpy_kinds").returncode == 0
    finite = project.run("+exp=not_finite", "mitosis.format=both")
    assert finite.returncode == 0, finite.output

    numpy_record, nan_record = project.trials()
    assert numpy_record.main == 0.5 and numpy_record.metrics == {
        "count": 3,
        "zero_d": 2.5,
        "plain": 7,
    }
    assert type(numpy_record.metrics["count"]) is int  # an int metric stays an int
    assert math.isnan(nan_record.main)
    assert nan_record.metrics == {"up": math.inf, "down": -math.inf}  # the round trip
    table = mitosis_hydra(project, "list")
    assert re.search(r"not_finite-amplitude_small-1 +finished +nan ", table.stdout), table.stdout
    shown = mitosis_hydra(project, "show", nan_record.key).stdout
    assert "main        nan" in shown and "  up        inf" in shown and "  down      -inf" in shown
    compared = mitosis_hydra(project, "compare", "-e", "not_finite").stdout
    assert re.search(r"│ +1 │ +0 │ +nan │ +nan │ +nan │ +-inf │ +inf │", compared), compared
    assert mitosis_hydra(project, "index").returncode == 0
    page = (project.trials_folder / "index.html").read_text()
    assert 'data-v="">nan</td>' in page


def test_list_last_wants_a_count_of_one_or_more(tmp_path: Path):
    (tmp_path / "trials").mkdir()
    for bad in ("-5", "0", "many"):
        result = subprocess.run(
            [
                str(Path(sys.executable).parent / "mitosis-hydra"),
                "list",
                "--trials-folder",
                str(tmp_path / "trials"),
                "--last",
                bad,
            ],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 2, result.stdout
        assert "mitosis-hydra list: argument --last:" in result.stderr
        assert "Try `mitosis-hydra list --help`." in result.stderr
        assert "trials" not in result.stdout
    assert (
        "-5 is not a number of trials (1 or more)"
        in subprocess.run(
            [str(Path(sys.executable).parent / "mitosis-hydra"), "list", "--last=-5"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        ).stderr
    )


@kernel
def test_reproducing_a_failed_trial_says_what_was_compared(tmp_path: Path):
    project = make_project(tmp_path)
    failed = run_trials(project, "+exp=broken", check=False)
    assert failed.returncode == 1, failed.stderr
    [original] = list_trials(project / "trials")

    result = cli(project, "reproduce", original.key)

    out = result.stdout
    assert "the original trial failed: it has no main metric, so its status and the last " in out
    assert "status" in out and "'failed'" in out
    assert "'ValueError: broken on purpose'" in out
    assert "MISMATCH" not in out and "Result: MATCH" in out, out + result.stderr
    assert result.returncode == 0
    data = json.loads(cli(project, "reproduce", original.key, "--json").stdout)
    assert [(c["name"], c["matches"]) for c in data["checks"]] == [
        ("status", True),
        ("error", True),
    ]


@kernel
def test_a_deleted_notebook_is_marked_missing_not_linked(user_project):
    assert user_project.run("+exp=draw").returncode == 0
    [record] = user_project.trials()
    record.notebook.unlink()

    shown = mitosis_hydra(user_project, "show", record.key)
    data = json.loads(mitosis_hydra(user_project, "show", record.key, "--json").stdout)
    index = mitosis_hydra(user_project, "index")

    assert f"notebook     {record.notebook} (missing: deleted or moved)" in shown.stdout
    assert data["missing"] == ["notebook"]
    assert index.returncode == 0, index.stderr
    page = (user_project.trials_folder / "index.html").read_text()
    assert "notebook.html (missing)</span>" in page
    assert 'href="' + record.name not in page
