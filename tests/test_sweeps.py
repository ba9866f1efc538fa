"""Sweeps that search and resume: return values, sweepers, batches, resume, a killed driver.

Every test runs the user's package as a subprocess (see conftest.py), with
real kernels, git and SQLite. What a job returned is observed from inside
Hydra: a callback of the user's project writes each JobReturn it sees to a
file, and Optuna's `optimization_results.yaml` shows what the sweeper read.
"""

from __future__ import annotations

import json
import pickle
import re
import signal
import socket
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import cloudpickle
import pytest
from omegaconf import OmegaConf
from process_tree import alive, descendants
from reading_project import cli, cli_json

from mitosis_hydra import TrialFailedError, TrialMain
from mitosis_hydra.storage.store import TrialStore, close_engines

kernel = pytest.mark.kernel

MITOSIS = ("--multirun", "hydra/launcher=mitosis")

_CALLBACKS = '''
"""A Hydra callback that writes down what each job returned (for the tests)."""

import json
import os

from hydra.experimental.callback import Callback


class ReturnRecorder(Callback):
    def on_job_end(self, config, job_return, **kwargs):
        value = job_return._return_value
        entry = {
            "status": job_return.status.name,
            "type": type(value).__name__,
            "is_float": isinstance(value, float),
            "key": getattr(value, "key", None),
            "notebook": getattr(value, "notebook", None),
        }
        if isinstance(value, float):
            entry["main"] = float(value)
            entry["done_before"] = value.done_before
        else:
            entry["trial_status"] = getattr(value, "status", None)
        with open(os.environ["USERPKG_RETURNS"], "a") as file:
            file.write(json.dumps(entry) + "\\n")
'''

_NAP = '''
"""An experiment that naps on one seed while $USERPKG_NAP_SEED says so."""

import os
import time
from pathlib import Path


def nap(seed, amplitude):
    if str(seed) == os.environ.get("USERPKG_NAP_SEED"):
        Path(os.environ["USERPKG_STARTED"]).write_text(str(os.getpid()))
        time.sleep(120)
    return {"main": float(amplitude * seed)}


def scaled(seed, gain):
    """The main metric is the gain's factor: a sweeper tuning that field maximizes it."""
    return {"main": float(gain["factor"])}
'''

FILES = {
    "userpkg/callbacks.py": _CALLBACKS.lstrip(),
    "userpkg/napping.py": _NAP.lstrip(),
    "userpkg/conf/exp/nap.yaml": "run: userpkg.napping:nap\n",
    "userpkg/conf/exp/scaled.yaml": "run: userpkg.napping:scaled\n",
    "userpkg/conf/gain/unit.yaml": "factor: 1.0\n",
}
RECORD_RETURNS = "+hydra.callbacks.returns._target_=userpkg.callbacks.ReturnRecorder"


@pytest.fixture
def project(make_user_project):
    return make_user_project(files=FILES)


def returns_seen(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# Optuna, maximizing main: 4 trials, 2 at a time, a fixed sampler seed (repeatable).
OPTUNA_MAXIMIZE = (
    "hydra/sweeper=optuna",
    "hydra.sweeper.direction=maximize",
    "hydra.sweeper.n_trials=4",
    "hydra.sweeper.n_jobs=2",
    "hydra.sweeper.sampler.seed=1",
)


def optimization_results(project):
    """What Optuna says it found (the sweep folder's optimization_results.yaml)."""
    [found] = project.trials_folder.glob(".hydra/multirun/*/optimization_results.yaml")
    return OmegaConf.load(found)


def sweep_id(stdout: str) -> str:
    match = re.search(r"^sweep (\S+)  \(mitosis-hydra list --sweep \1\)$", stdout, re.M)
    assert match, stdout
    return match.group(1)


# -- return values -------------------------------------------------------------------


def test_a_trial_main_is_a_float_that_names_its_trial_across_processes():
    main = TrialMain(0.5, key="k3y", name="draw-amplitude_big-1", notebook="/t/n.html")

    for copy in (pickle.loads(pickle.dumps(main)), cloudpickle.loads(cloudpickle.dumps(main))):
        assert isinstance(copy, float) and float(copy) == 0.5
        assert (copy.key, copy.name, copy.notebook, copy.done_before) == (
            "k3y",
            "draw-amplitude_big-1",
            "/t/n.html",
            False,
        )
    assert repr(main) == "0.5"


def test_a_trial_error_keeps_its_fields_across_processes():
    error = TrialFailedError(
        "draw-1 (key k3y) failed:\nValueError: boom",
        key="k3y",
        name="draw-1",
        status="failed",
        notebook="/t/n.html",
    )

    copy = pickle.loads(pickle.dumps(error))

    assert type(copy) is TrialFailedError
    assert str(copy) == "draw-1 (key k3y) failed:\nValueError: boom"
    assert (copy.key, copy.name, copy.status, copy.notebook) == (
        "k3y",
        "draw-1",
        "failed",
        "/t/n.html",
    )


LAUNCHERS = {
    "basic": ("--multirun",),
    "joblib": ("--multirun", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"),
    "submitit_local": ("--multirun", "hydra/launcher=submitit_local"),
    "mitosis": MITOSIS,
    "mitosis+joblib": (*MITOSIS, "+hydra/launcher@hydra.launcher.inner=joblib"),
}


@kernel
@pytest.mark.parametrize("launcher", sorted(LAUNCHERS))
def test_a_job_returns_the_main_metric_and_a_failed_trial_is_a_failed_job(
    project, launcher, tmp_path
):
    returns = tmp_path / "returns.jsonl"

    result = project.run(
        *LAUNCHERS[launcher],
        RECORD_RETURNS,
        "+exp=draw,boom",
        "amplitude=big",
        env={"USERPKG_RETURNS": str(returns)},
    )

    assert result.returncode != 0, result.output
    by_name = {t.name: t for t in project.trials()}
    draw, boom = by_name["draw-amplitude_big-1"], by_name["boom-amplitude_big-1"]
    seen = {entry["key"]: entry for entry in returns_seen(returns)}
    assert seen[draw.key] == {
        "status": "COMPLETED",
        "type": "TrialMain",
        "is_float": True,
        "key": draw.key,
        "notebook": str(draw.notebook),
        "main": 10.0,
        "done_before": False,
    }, result.output
    assert seen[boom.key] == {
        "status": "FAILED",
        "type": "TrialFailedError",
        "is_float": False,
        "key": boom.key,
        "notebook": str(boom.notebook),
        "trial_status": "failed",
    }, result.output
    if launcher.startswith("mitosis"):  # the summary reads the failed job's fields
        assert "1 of 2 trials did not finish (1 failed)" in result.stderr
        assert f"boom-amplitude_big-1 failed  notebook: {boom.notebook}" in result.stderr
        lines = result.stdout.splitlines()
        row = next(line for line in lines if line.startswith(" boom-amplitude_big-1 "))
        assert "failed" in row and "trials/boom-amplitude_big-1/notebook.html" in row, row
    else:
        assert "boom: the experiment broke with amplitude 10" in result.stderr


# -- sweepers ------------------------------------------------------------------------


@kernel
@pytest.mark.parametrize("launcher", ["mitosis", "basic"])
def test_optuna_maximizes_the_main_metric_over_a_group_choice(project, launcher):
    result = project.run(
        *LAUNCHERS[launcher],
        *OPTUNA_MAXIMIZE,
        "+exp=draw",
        "amplitude=choice(small,big)",
        timeout=300,
    )

    assert result.returncode == 0, result.output
    best = optimization_results(project)
    assert best.best_params == {"amplitude": "big"}, result.output
    assert best.best_value == 10.0
    trials = project.trials()
    assert len(trials) == 4 and {t.status for t in trials} == {"finished"}
    assert {t.main for t in trials if t.variants["amplitude"] == "big"} == {10}
    assert len({t.sweep for t in trials}) == 1


@kernel
def test_optuna_tunes_a_field_of_a_variant_as_modified_variants(project):
    """`gain.factor=interval(…)`: each suggestion is a modified variant `unit[factor=…]`,
    while the name `unit` stays locked to the file's own value."""
    result = project.run(
        *MITOSIS,
        *OPTUNA_MAXIMIZE,
        "+exp=scaled",
        "~amplitude",
        "+gain=unit",
        "gain.factor=interval(0.5,5.0)",
        timeout=300,
    )

    assert result.returncode == 0, result.output
    best = optimization_results(project)
    trials = project.trials()
    assert len(trials) == 4 and {t.status for t in trials} == {"finished"}
    assert best.best_value == max(t.main for t in trials)
    assert set(best.best_params) == {"gain.factor"}
    labels = {t.variants["gain"] for t in trials}
    assert all(re.fullmatch(r"unit\[factor=[0-9.e-]+\]", label) for label in labels), labels
    [lock] = [row for row in cli_json(project.root, "variants") if row["group"] == "gain"]
    assert (lock["name"], lock["value"]) == ("unit", '{"factor":1.0}')


@kernel
def test_the_basic_sweeper_sends_batches_that_run_once_each_numbered_across_batches(project):
    result = project.run(
        *MITOSIS, "hydra.sweeper.max_batch_size=2", "+exp=draw", "amplitude=small,big", "seed=1,2,3"
    )

    assert result.returncode == 0, result.output
    trials = project.trials()
    for variant in ("small", "big"):  # each job once; iterations in the order trials started
        mine = [t for t in trials if t.variants == {"amplitude": variant}]
        assert sorted(t.seed for t in mine) == [1, 2, 3], result.output
        assert sorted(t.iteration for t in mine) == [1, 2, 3], result.output
    assert result.stdout.count("2 trials: 2 finished") == 3  # one summary per batch
    [sweep] = {t.sweep for t in trials}
    assert sweep_id(result.stdout) == sweep
    job_folders = project.trials_folder / ".hydra" / "multirun" / sweep
    assert sorted(p.name for p in job_folders.iterdir() if p.is_dir()) == list("012345")


# -- resume --------------------------------------------------------------------------

SIX_JOBS = ("+exp=nap", "amplitude=small", "seed=1,2,3,4,5,6", "hydra.launcher.n_jobs=1")


def _stop_after_three(project, tmp_path, how: signal.Signals) -> tuple[str, str, set[int]]:
    """Start the 6-job sweep, wait until job 4 naps (3 finished), then signal the driver."""
    marker = tmp_path / "started"
    process = project.start(
        *MITOSIS,
        *SIX_JOBS,
        env={"USERPKG_NAP_SEED": "4", "USERPKG_STARTED": str(marker)},
    )
    deadline = time.monotonic() + 180
    while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.exists(), process.communicate(timeout=10)
    family = descendants(process.pid)
    process.send_signal(how)
    out, err = process.communicate(timeout=180)
    return out, err, family


def _resume_and_check(project) -> None:
    result = project.run(*MITOSIS, *SIX_JOBS, "hydra.launcher.resume=true")

    assert result.returncode == 0, result.output
    trials = project.trials()
    finished = sorted((t.seed, t.iteration) for t in trials if t.status == "finished")
    assert finished == [(1, 1), (2, 2), (3, 3), (4, 5), (5, 6), (6, 7)], result.output
    assert sorted(t.iteration for t in trials) == [1, 2, 3, 4, 5, 6, 7]  # no gap
    assert "6 trials: 3 done before, 3 finished" in result.stdout, result.output
    for iteration in (1, 2, 3):
        name = f"nap-amplitude_small-{iteration}"
        row = next(line for line in result.stdout.splitlines() if f" {name} " in line)
        assert "done before" in row and f"trials/{name}/notebook.html" in row, row


@kernel
def test_a_sweep_stopped_by_ctrl_c_resumes_with_exactly_the_missing_jobs(project, tmp_path):
    out, err, _ = _stop_after_three(project, tmp_path, signal.SIGINT)

    assert "The sweep was interrupted (Ctrl-C)." in err, out + err
    statuses = sorted((t.seed, t.status) for t in project.trials())
    assert statuses == [(1, "finished"), (2, "finished"), (3, "finished"), (4, "interrupted")]
    _resume_and_check(project)


@kernel
def test_a_killed_driver_stops_its_workers_and_the_sweep_resumes(project, tmp_path):
    out, err, family = _stop_after_three(project, tmp_path, signal.SIGKILL)

    assert family, "the driver had no worker processes"
    deadline = time.monotonic() + 120
    while any(alive(pid) for pid in family) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [pid for pid in family if alive(pid)]
    assert not left, [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in left]
    statuses = sorted((t.seed, t.status) for t in project.trials())
    assert statuses == [(1, "finished"), (2, "finished"), (3, "finished"), (4, "interrupted")], (
        out + err
    )
    _resume_and_check(project)


@kernel
def test_resume_reruns_failed_trials_and_trials_of_an_older_commit(project):
    first = project.run(*MITOSIS, "+exp=draw,boom", "amplitude=small")
    assert first.returncode != 0, first.output

    again = project.run(*MITOSIS, "+exp=draw,boom", "amplitude=small", "mitosis.resume=true")

    assert again.returncode != 0, again.output
    assert "2 trials: 1 done before, 1 failed" in again.stdout, again.output
    assert sorted(t.name for t in project.trials()) == [
        "boom-amplitude_small-1",
        "boom-amplitude_small-2",
        "draw-amplitude_small-1",
    ]
    project.write("NOTES.md", "a new commit\n")
    head = project.commit("new code")

    newer = project.run(*MITOSIS, "+exp=draw", "amplitude=small", "hydra.launcher.resume=true")

    assert newer.returncode == 0, newer.output
    assert "1 trials: 1 finished" in newer.stdout or "1 trial: 1 finished" in newer.stdout
    [rerun] = project.trials(status="finished")[-1:]
    assert (rerun.name, rerun.commit) == ("draw-amplitude_small-2", head)


@kernel
def test_without_resume_a_sweep_runs_every_job_again(project):
    project.run(*MITOSIS, "+exp=draw", "amplitude=small")

    again = project.run(*MITOSIS, "+exp=draw", "amplitude=small")

    assert again.returncode == 0, again.output
    assert "done before" not in again.stdout
    assert [t.iteration for t in project.trials()] == [1, 2]


@kernel
def test_a_job_whose_trial_finished_while_the_sweep_ran_is_done_before(project):
    # Two jobs of one spec: the launcher finds neither finished when it checks, the
    # only worker runs the first, and the second's own check (trial_task) finds it.
    swept = project.run(
        *MITOSIS, "hydra.launcher.n_jobs=1", "+exp=draw", "amplitude=small", "seed=3,3",
        "mitosis.resume=true",
    )  # fmt: skip

    assert swept.returncode == 0, swept.output
    [trial] = project.trials()
    rows = [line.split()[:3] for line in swept.stdout.splitlines() if trial.name + " " in line]
    assert rows == [[trial.name, "finished", "4"], [trial.name, "done", "before"]], swept.stdout
    assert "2 trials: 1 finished, 1 done before" in swept.stdout


@kernel
@pytest.mark.parametrize("launcher", ["basic", "joblib"])
def test_resume_under_hydras_launchers_returns_the_recorded_main(project, launcher, tmp_path):
    returns = tmp_path / "returns.jsonl"
    first = project.run(*LAUNCHERS[launcher], "+exp=draw", "amplitude=small,big")
    assert first.returncode == 0, first.output
    before = {t.key: t for t in project.trials()}

    again = project.run(
        *LAUNCHERS[launcher],
        RECORD_RETURNS,
        "+exp=draw",
        "amplitude=small,big",
        "mitosis.resume=true",
        env={"USERPKG_RETURNS": str(returns)},
    )

    assert again.returncode == 0, again.output
    assert {t.key for t in project.trials()} == set(before)  # nothing ran
    for name in ("draw-amplitude_small-1", "draw-amplitude_big-1"):
        assert f"trial {name} (key " in again.stdout and "done before" in again.stdout
    seen = {entry["key"]: entry for entry in returns_seen(returns)}
    assert {key: (entry["main"], entry["done_before"]) for key, entry in seen.items()} == {
        key: (float(trial.main), True) for key, trial in before.items()
    }


# -- selecting one sweep -------------------------------------------------------------


@kernel
def test_list_and_compare_select_the_trials_of_one_sweep(project):
    first = project.run(*MITOSIS, "+exp=draw", "amplitude=small,big")
    second = project.run(*MITOSIS, "+exp=draw", "amplitude=big", "seed=1,2")
    assert first.returncode == 0 and second.returncode == 0, first.output + second.output
    sweep = sweep_id(second.stdout)

    listed = cli_json(project.root, "list", "--sweep", sweep)
    compared = cli_json(project.root, "compare", "--sweep", sweep)

    assert sorted(t["name"] for t in listed) == ["draw-amplitude_big-2", "draw-amplitude_big-3"]
    assert {t["sweep"] for t in listed} == {sweep}
    [comparison] = compared
    assert [row["trials"] for row in comparison["rows"]] == [2]
    of_sweep = project.trials(sweep=sweep)
    assert [t.name for t in of_sweep] == [t["name"] for t in listed]
    for trial in of_sweep:  # also in its files, for a rebuilt database
        environment = json.loads((trial.folder / "environment.json").read_text())
        assert environment["trial"]["sweep"] == sweep


def test_an_unknown_sweep_id_is_a_usage_error(project):
    project.trials_folder.mkdir()

    result = cli(project.root, "list", "--sweep", "2020-01-01_00-00-00-abcd")

    assert result.returncode == 2
    assert result.stderr.startswith("No trial of sweep '2020-01-01_00-00-00-abcd' is recorded.\n")
    assert "Copy the id from the `sweep …` line of the sweep's summary" in result.stderr


def test_a_database_of_schema_version_1_gains_the_sweep_column(tmp_path):
    from mitosis_hydra.core.records import TrialPlan
    from mitosis_hydra.storage import schema

    folder = tmp_path / "trials"
    plan = TrialPlan(
        "k3yk3yk3y2", "draw", {}, (), "c0ffee", 0, socket.gethostname(), datetime.now(UTC), folder
    )
    TrialStore(folder).begin_trial(plan)
    close_engines()
    with sqlite3.connect(folder / "mitosis.sqlite") as db:  # as version 1 left it
        db.execute("ALTER TABLE trials DROP COLUMN sweep")
        db.execute("UPDATE schema_info SET version = 1")
    db.close()

    [old] = TrialStore(folder).list_trials()

    assert (old.key, old.sweep) == ("k3yk3yk3y2", None)
    with sqlite3.connect(folder / "mitosis.sqlite") as db:
        assert db.execute("SELECT version FROM schema_info").fetchall() == [
            (schema.SCHEMA_VERSION,)
        ]
    db.close()
    close_engines()


@kernel
def test_a_single_run_with_resume_reports_its_finished_trial_and_a_bad_value_is_refused(project):
    first = project.run("+exp=draw", "amplitude=small")
    assert first.returncode == 0, first.output
    [trial] = project.trials()

    again = project.run("+exp=draw", "amplitude=small", "mitosis.resume=true")
    wrong = project.run("+exp=draw", "amplitude=small", "mitosis.resume=maybe")

    assert again.returncode == 0, again.output
    assert f"trial {trial.name} (key {trial.key}): done before, skipped (mitosis.resume)" in (
        again.stdout
    )
    assert f"notebook: {trial.notebook}" in again.stdout
    assert wrong.returncode == 2, wrong.output
    assert "mitosis.resume must be true or false, got 'maybe'." in wrong.stderr
    assert [t.key for t in project.trials()] == [trial.key]
