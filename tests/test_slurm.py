"""Sweeps on a real SLURM cluster: a single node on localhost (see slurm_cluster.py).

The README's recipe (the mitosis launcher handing validated jobs to
`submitit_slurm`) runs as written; plain `hydra/launcher=submitit_slurm` runs
too. Jobs are cancelled with `scancel` while queued, while their trial sets up,
and while it executes: the submitting command must end, print its summary and
exit non-zero, with every started trial recorded `interrupted`. The cluster has
no accounting (`sacct` answers nothing), the case where submitit used to wait
for ever.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
import slurm_cluster
from gitenv import git_environment
from test_readme import ROOT, quickstart_copy
from test_store_postgres import postgres, url  # noqa: F401 (fixtures: a throwaway server)

kernel = pytest.mark.kernel

INNER = (
    "--multirun",
    "hydra/launcher=mitosis",
    "+hydra/launcher@hydra.launcher.inner=submitit_slurm",
    "hydra.launcher.inner.timeout_min=10",
)


@pytest.fixture(scope="session")
def slurm():
    """A single-node SLURM cluster for the session (munge, slurmctld, slurmd), stopped by pid."""
    try:
        cluster = slurm_cluster.start()
    except slurm_cluster.Unavailable as error:
        pytest.skip(f"SLURM tests skipped: {error}")
    yield cluster
    cluster.stop()


def readme_slurm_command() -> str:
    """The README's SLURM recipe: the command after `pip install` in its code block."""
    text = (ROOT / "README.md").read_text()
    block = text.split("**On a SLURM cluster**", 1)[1].split("```", 2)[1]
    lines = [line for line in block.strip().splitlines() if not line.startswith("pip ")]
    return " ".join(line.rstrip("\\").strip() for line in lines)


def wait_for(ready, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, f"never saw {what}"
        time.sleep(0.2)


@kernel
def test_the_readme_recipe_runs_on_slurm(slurm, tmp_path):
    project = quickstart_copy(tmp_path)
    command = readme_slurm_command()
    assert command.startswith("python -m project_pkg --multirun hydra/launcher=mitosis")
    env = {**git_environment(tmp_path / "home"), **slurm.env}
    args = shlex.split(command)[3:]
    done = subprocess.run(
        [sys.executable, "-m", "project_pkg", *args],
        cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    output = f"$ {command}\n{done.stdout}\n{done.stderr}"
    print(output)  # shown with pytest -rP: what a user sees

    assert done.returncode == 0, output
    assert "6 trials: 6 finished" in done.stdout, output
    from mitosis_hydra import list_trials

    trials = list_trials(project / "trials")
    assert {t.status for t in trials} == {"finished"}, output
    for variant in ("my_variant", "big"):
        mine = [t for t in trials if t.variants.get("amplitude") == variant]
        assert sorted(t.iteration for t in mine) == [1, 2, 3], output
    job_ids = set()
    for trial in trials:
        assert trial.notebook.is_file()
        environment = json.loads((trial.folder / "environment.json").read_text())
        job = environment["scheduler_job"]
        assert job["scheduler"] == "slurm" and job["job_id"], environment
        job_ids.add(job["job_id"])
        assert environment["host"] == trial.host
    assert len(job_ids) == 6  # one SLURM job per trial
    shown = subprocess.run(
        [str(Path(sys.executable).parent / "mitosis-hydra"), "show", trials[0].key],
        cwd=project, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    job = json.loads((trials[0].folder / "environment.json").read_text())["scheduler_job"]
    assert re.search(rf"slurm job\s+{job['job_id']}", shown.stdout), shown.stdout + shown.stderr


@kernel
def test_plain_submitit_slurm_runs_trials_and_records_failures(slurm, user_project):
    result = user_project.run(
        "--multirun", "hydra/launcher=submitit_slurm", "hydra.launcher.timeout_min=10",
        "+exp=draw,boom", "amplitude=small", "seed=1,2",
        env=slurm.env, timeout=600,
    )  # fmt: skip

    assert result.returncode != 0, result.output
    by_status: dict[str, list] = {}
    for trial in user_project.trials():
        by_status.setdefault(trial.status, []).append(trial)
    assert sorted(t.name for t in by_status["finished"]) == [
        "draw-amplitude_small-1", "draw-amplitude_small-2",
    ], result.output  # fmt: skip
    assert sorted(t.name for t in by_status["failed"]) == [
        "boom-amplitude_small-1", "boom-amplitude_small-2",
    ], result.output  # fmt: skip
    assert "boom: the experiment broke" in by_status["failed"][0].notebook.read_text()
    for trial in user_project.trials():
        environment = json.loads((trial.folder / "environment.json").read_text())
        assert environment["scheduler_job"]["job_id"], environment


def cancel_when(slurm, process, ready, what: str) -> str:
    """scancel every job of the sweep once `ready()`; the job ids cancelled."""
    wait_for(lambda: ready() or process.poll() is not None, what, timeout=300)
    assert process.poll() is None, process.communicate()
    jobs = sorted({job.split("_")[0] for job in slurm.jobs()})
    assert jobs, "no job in the queue"
    slurm.run("scancel", *jobs)
    return " ".join(jobs)


def submitted(slurm):
    return lambda: bool(slurm.jobs())


@kernel
@pytest.mark.parametrize("moment", ["queued", "setup", "execution"])
def test_scancel_ends_the_sweep_with_its_summary(slurm, user_project, tmp_path, moment):
    marker = tmp_path / "started"
    extra = []
    if moment == "queued":  # a job that cannot start until it is cancelled
        extra = ["+hydra.launcher.inner.additional_parameters.begin='now+1hour'"]
    process = user_project.start(
        *INNER, *extra, "+exp=sleepy", "amplitude=small",
        env={**slurm.env, "USERPKG_STARTED": str(marker)},
    )  # fmt: skip
    if moment == "queued":
        ready = lambda: "PENDING" in slurm.jobs().values()  # noqa: E731
    elif moment == "setup":  # the job has just started: Python, Hydra, git, the record, a kernel
        ready = lambda: "RUNNING" in slurm.jobs().values()  # noqa: E731
    else:
        ready = marker.exists
    cancel_when(slurm, process, ready, f"the job {moment}")
    out, err = process.communicate(timeout=180)
    output = f"--- stdout\n{out}--- stderr\n{err}"
    print(output)  # shown with pytest -rP: the summary a user sees

    assert process.returncode not in (0, None), output
    assert "1 trials: 1 interrupted" in out or "1 trial: 1 interrupted" in out, output
    assert "did not finish (1 interrupted)" in err, output
    trials = user_project.trials()
    if moment == "queued":
        assert trials == [], output
        assert "ended without a result (state CANCELLED)" in out + err, output
        assert "Error executing job with overrides: ['+exp=sleepy'" in err, output
    elif moment == "setup":  # cancelled before or after its record was opened
        assert [t.status for t in trials] in ([], ["interrupted"]), output
    else:
        assert [t.status for t in trials] == ["interrupted"], output


def test_the_readme_slurm_recipe_is_found_without_a_cluster():
    """Runs where SLURM cannot: the recipe the cluster test runs is the README's own."""
    command = readme_slurm_command()
    assert "+hydra/launcher@hydra.launcher.inner=submitit_slurm" in command
    assert "hydra.launcher.inner.partition=gpu" in command


@kernel
def test_a_slurm_sweep_records_its_trials_on_postgresql(slurm, user_project, url):  # noqa: F811
    result = user_project.run(
        *INNER, "+exp=draw", "amplitude=small,big", f"mitosis.db='{url}'",
        env=slurm.env, timeout=600,
    )  # fmt: skip

    assert result.returncode == 0, result.output
    assert "2 trials: 2 finished" in result.stdout, result.output
    assert not (user_project.trials_folder / "mitosis.sqlite").exists()
    listed = subprocess.run(
        [str(Path(sys.executable).parent / "mitosis-hydra"), "list", "--json", "--db", url,
         "--trials-folder", str(user_project.trials_folder)],
        capture_output=True, text=True, check=True, cwd=user_project.root,
    )  # fmt: skip
    records = json.loads(listed.stdout)
    assert sorted(r["variants"]["amplitude"] for r in records) == ["big", "small"]
    assert {r["status"] for r in records} == {"finished"}
