"""Sweeps: `--multirun` of a user's package in a real git repo, through every launcher.

Each test runs `python -m userpkg --multirun …` as a subprocess (see conftest.py):
the mitosis launcher with its worker processes, Hydra's joblib and
submitit_local launchers directly, and those two as the mitosis launcher's
inner launcher. Nothing of mitosis_hydra is mocked; kernels, git and SQLite
are real.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

kernel = pytest.mark.kernel

MITOSIS = ("--multirun", "hydra/launcher=mitosis")


def names(project) -> list[str]:
    return sorted(record.name for record in project.trials())


@kernel
def test_a_sweep_runs_every_job_as_a_trial_in_parallel(user_project):
    result = user_project.run(
        *MITOSIS, "hydra.launcher.n_jobs=2", "+exp=draw", "amplitude=small,big", "seed=1,2"
    )

    assert result.returncode == 0, result.output
    trials = user_project.trials()
    assert {t.status for t in trials} == {"finished"}, result.output
    assert names(user_project) == [
        "draw-amplitude_big-1",
        "draw-amplitude_big-2",
        "draw-amplitude_small-1",
        "draw-amplitude_small-2",
    ]
    for variant in ("small", "big"):
        mine = [t for t in trials if t.variants == {"amplitude": variant}]
        assert sorted(t.iteration for t in mine) == [1, 2]
        assert sorted(t.seed for t in mine) == [1, 2]
    assert all(t.notebook.is_file() for t in trials)
    assert "in 2 worker processes" in result.stdout
    assert "4 trials: 4 finished" in result.stdout
    for trial in trials:  # the summary table: trial, status, main, notebook
        row = next(line for line in result.stdout.splitlines() if f" {trial.name} " in line)
        assert "finished" in row and f"trials/{trial.name}/notebook.html" in row
    assert "??" not in user_project.status().replace("__pycache__", "")


@kernel
def test_conflicting_variants_refuse_the_whole_sweep_and_list_every_problem(
    make_user_project,
):
    project = make_user_project(
        files={
            "userpkg/conf/config.yaml": (
                "defaults:\n  - mitosis_hydra\n  - _self_\n  - amplitude: small\nbase: 1\n"
                # a top-level key is a parameter only when named: here an untracked one
                "mitosis:\n  untracked: [base]\n"
            ),
            "userpkg/conf/amplitude/relative.yaml": "_value_: ${base}\n",
        }
    )
    locked = project.run(*MITOSIS, "+exp=draw", "amplitude=small,big")
    assert locked.returncode == 0, locked.output
    project.write("userpkg/conf/amplitude/small.yaml", "_value_: 5\n")
    project.write("userpkg/conf/amplitude/big.yaml", "_value_: 11\n")
    project.commit("new values under old names")
    before = project.trial_folders()
    sweeps = project.trials_folder / ".hydra" / "multirun"
    sweeps_before = sorted(sweeps.iterdir())

    result = project.run(*MITOSIS, "+exp=draw", "amplitude=small,big,relative", "base=1,2")

    assert result.returncode == 2, result.output
    err = result.stderr
    assert "The sweep of 6 jobs was refused (2 problems); no trial ran" in err, result.output
    assert "Variant amplitude=small is already locked to a different value." in err
    assert "stored: 4    new: 5" in err
    assert "Variant amplitude=big is already locked to a different value." in err
    assert "stored: 10    new: 11" in err
    assert "Variant amplitude=relative would be locked to different values by this sweep." in err
    assert "job #4 (+exp=draw amplitude=relative base=1)" in err
    assert "job #5 (+exp=draw amplitude=relative base=2)" in err
    assert "mitosis-hydra variants release amplitude/small" in err
    assert len(project.trials()) == 2
    assert project.trial_folders() == before
    assert sorted(sweeps.iterdir()) == sweeps_before  # no multirun.yaml of the refused sweep


@kernel
def test_a_failing_trial_does_not_stop_the_others(user_project):
    result = user_project.run(*MITOSIS, "+exp=draw,boom", "amplitude=small")

    assert result.returncode != 0, result.output
    by_name = {t.name: t for t in user_project.trials()}
    assert by_name["draw-amplitude_small-1"].status == "finished", result.output
    failed = by_name["boom-amplitude_small-1"]
    assert failed.status == "failed"
    assert failed.notebook.is_file()
    assert "boom: the experiment broke with amplitude 4" in failed.notebook.read_text()
    assert "2 trials: 1 finished, 1 failed" in result.stdout
    assert "1 of 2 trials did not finish (1 failed)" in result.stderr
    assert "boom-amplitude_small-1 failed" in result.stderr


LAUNCHERS = {
    "joblib": ("--multirun", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"),
    "submitit_local": ("--multirun", "hydra/launcher=submitit_local"),
    "mitosis+joblib": (
        *MITOSIS,
        "+hydra/launcher@hydra.launcher.inner=joblib",
        "hydra.launcher.inner.n_jobs=2",
    ),
    "mitosis+submitit_local": (*MITOSIS, "+hydra/launcher@hydra.launcher.inner=submitit_local"),
}


@kernel
@pytest.mark.parametrize("launcher", sorted(LAUNCHERS))
def test_hydra_launchers_run_full_trials(user_project, launcher):
    result = user_project.run(*LAUNCHERS[launcher], "+exp=draw", "amplitude=small,big", "seed=3")

    assert result.returncode == 0, result.output
    trials = user_project.trials()
    assert names(user_project) == ["draw-amplitude_big-1", "draw-amplitude_small-1"]
    assert {(t.status, t.seed, t.commit) for t in trials} == {
        ("finished", 3, user_project.head())
    }, result.output
    assert all(t.notebook.is_file() for t in trials)
    for trial in trials:  # the user's command, not the worker's: reproduce re-runs it
        argv = json.loads((trial.folder / "environment.json").read_text())["invocation"]["argv"]
        assert argv[1:4] == ["-m", "userpkg", "--multirun"], argv
    if launcher.startswith("mitosis"):
        assert "2 trials: 2 finished" in result.stdout


@kernel
def test_an_inner_launcher_gets_only_validated_sweeps(user_project):
    user_project.run(*MITOSIS, "+exp=draw", "amplitude=small")
    user_project.write("userpkg/conf/amplitude/small.yaml", "_value_: 5\n")
    user_project.commit("changed small")

    result = user_project.run(
        *LAUNCHERS["mitosis+submitit_local"], "+exp=draw", "amplitude=small,big"
    )

    assert result.returncode == 2, result.output
    assert "Variant amplitude=small is already locked" in result.stderr
    assert names(user_project) == ["draw-amplitude_small-1"]


@kernel
def test_concurrent_sweeps_of_one_combination_number_trials_without_gaps(user_project):
    command = (*MITOSIS, "hydra.launcher.n_jobs=2", "+exp=draw", "amplitude=small", "seed=1,2")
    processes = [user_project.start(*command) for _ in range(3)]
    outputs = [process.communicate(timeout=300) for process in processes]

    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, out + err
    trials = user_project.trials()
    assert sorted(t.iteration for t in trials) == [1, 2, 3, 4, 5, 6]
    assert {t.status for t in trials} == {"finished"}
    assert len({t.key for t in trials}) == 6


@kernel
def test_ctrl_c_stops_the_sweep_and_marks_running_trials_interrupted(user_project, tmp_path):
    marker = tmp_path / "started"
    process = user_project.start(
        *MITOSIS,
        "hydra.launcher.n_jobs=2",
        "+exp=sleepy",
        "amplitude=small,big",
        "seed=1,2",
        env={"USERPKG_STARTED": str(marker)},
    )
    deadline = time.monotonic() + 120
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.exists(), process.communicate(timeout=10)
    time.sleep(1)  # let the second worker's trial start too
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)

    assert process.returncode == 130, out + err
    trials = user_project.trials()
    assert trials and {t.status for t in trials} == {"interrupted"}, out + err
    assert len(trials) <= 2
    assert "not started" in out
    assert "The sweep was interrupted (Ctrl-C)." in err


@kernel
def test_a_killed_worker_leaves_no_record_running(user_project, tmp_path):
    marker = tmp_path / "started"
    process = user_project.start(
        *MITOSIS, "+exp=sleepy", "amplitude=small", env={"USERPKG_STARTED": str(marker)}
    )
    deadline = time.monotonic() + 120
    while not (marker.exists() and marker.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.exists(), process.communicate(timeout=10)
    worker = _worker_of(int(marker.read_text()))  # the worker running the trial
    assert worker != process.pid
    os.kill(worker, signal.SIGKILL)
    out, err = process.communicate(timeout=120)

    assert process.returncode != 0, out + err
    [trial] = user_project.trials()
    assert trial.status == "failed", out + err
    assert "worker process ended before the trial reported its outcome" in trial.error


def _worker_of(kernel_parent: int) -> int:
    """The worker a kernel belongs to: its parent, or its zygote's parent (see zygote.py)."""
    proc = Path(f"/proc/{kernel_parent}")
    if proc.is_dir() and b"mitosis_hydra.run.zygote" in (proc / "cmdline").read_bytes():
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    return kernel_parent


_HAMMER = textwrap.dedent(
    """
    import socket, sys
    from datetime import UTC, datetime
    from pathlib import Path
    from mitosis_hydra.core.canonical import canonical_hash, canonical_string
    from mitosis_hydra.core.records import TrialPlan, VariantValue
    from mitosis_hydra.storage.store import TrialStore, new_key

    folder = Path(sys.argv[1])
    text = canonical_string(4)
    variant = VariantValue("amplitude", "small", text, canonical_hash(text))
    store = TrialStore(folder)
    for _ in range(int(sys.argv[2])):
        plan = TrialPlan(new_key(), "draw", {"amplitude": "small"}, (variant,), "c0ffee", 0,
                         socket.gethostname(), datetime.now(UTC), folder)
        print(store.begin_trial(plan).iteration)
    """
)


def test_many_processes_allocating_at_once_get_iterations_one_to_n(tmp_path):
    folder = tmp_path / "trials"  # fresh: the schema is created by racing processes too
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _HAMMER, str(folder), "10"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    iterations = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        iterations += [int(line) for line in out.split()]

    assert sorted(iterations) == list(range(1, 81))


@kernel
def test_a_refused_sweep_writes_nothing(user_project):
    user_project.write("notes.txt", "not committed\n")

    result = user_project.run(*MITOSIS, "+exp=draw", "amplitude=small,big")

    assert result.returncode == 2, result.output
    assert "no trial ran" in result.stderr, result.output
    assert not user_project.trials_folder.exists(), sorted(user_project.root.rglob("*"))
    assert user_project.status() == "?? notes.txt\n"
