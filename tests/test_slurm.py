"""Sweeps on a real SLURM cluster: a single node on localhost (see slurm_cluster.py).

The README's recipe (the mitosis launcher handing validated jobs to
`submitit_slurm`) runs as written; plain `hydra/launcher=submitit_slurm` runs
too. Jobs are cancelled with `scancel` while queued, while their trial sets up,
and while it executes: the submitting command must end, print its summary and
exit non-zero, with every started trial recorded `interrupted`. Each with
SLURM accounting (slurmdbd: `sacct` knows the job; submitit used to end with a
raw `UncompletedJobError`) and without (`sacct` refuses; submitit used to wait
for ever), on the same cluster seen through two client configurations.
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


MOMENTS = ["queued", "setup", "execution"]
ACCOUNTING = ["sacct", "no-sacct"]


@pytest.fixture(scope="session")
def slurm():
    """A single-node SLURM cluster for the session (munge, slurmctld, slurmd, and slurmdbd
    with a private MariaDB when installed), stopped by pid."""
    try:
        cluster = slurm_cluster.start()
    except slurm_cluster.Unavailable as error:
        pytest.skip(f"SLURM tests skipped: {error}")
    print(f"SLURM test cluster up in {cluster.started_in}")  # shown with pytest -rP
    yield cluster
    cluster.stop()


def client_env(slurm, accounting: str) -> dict[str, str]:
    """The cluster as a client sees it with accounting (sacct answers) or without."""
    if accounting == "no-sacct":
        return slurm.env_without_accounting
    if slurm.accounting:
        pytest.skip(f"SLURM accounting tests skipped: {slurm.accounting}")
    return slurm.env


def sacct_states(slurm, job_ids) -> dict[str, str]:
    """Job id → state as `sacct` reports it (the jobs' steps left out)."""
    out = slurm.run(
        "sacct", "--noheader", "--parsable2", "--format=JobID,State", f"--jobs={','.join(job_ids)}"
    )
    rows = (line.split("|") for line in out.splitlines() if line.strip())
    return {job: state for job, state in rows if "." not in job}


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
    if not slurm.accounting:  # slurmctld tells slurmdbd of a job's end a moment later
        done = lambda: set(sacct_states(slurm, job_ids).values()) == {"COMPLETED"}  # noqa: E731
        wait_for(done, "sacct showing the sweep's jobs COMPLETED", timeout=60)
        assert len(sacct_states(slurm, job_ids)) == 6  # array tasks: <array job>_<index>
        print(slurm.run("sacct", "--format=JobID,JobName%12,State,ExitCode,NodeList"))


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
    try:
        wait_for(lambda: ready() or process.poll() is not None, what, timeout=300)
    except AssertionError:
        process.kill()
        raise
    assert process.poll() is None, process.communicate()
    jobs = sorted({job.split("_")[0] for job in slurm.jobs()})
    assert jobs, "no job in the queue"
    slurm.run("scancel", *jobs)
    return " ".join(jobs)


def ended(process, timeout: float = 180) -> tuple[str, str]:
    """The submitting command's stdout and stderr once it has ended (killed if it hangs)."""
    try:
        return process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        pytest.fail(f"the submitting command still ran {timeout} s after scancel\n{out}\n{err}")


def ready_at(slurm, moment: str, marker: Path):
    """When to cancel: the job queued (and held), just started, or running its experiment."""
    if moment == "queued":
        return lambda: "PENDING" in slurm.jobs().values()
    if moment == "setup":  # the job has just started: Python, Hydra, git, the record, a kernel
        return lambda: "RUNNING" in slurm.jobs().values()
    return marker.exists


@kernel
@pytest.mark.parametrize("accounting", ACCOUNTING)
@pytest.mark.parametrize("moment", MOMENTS)
def test_scancel_ends_the_sweep_with_its_summary(slurm, user_project, tmp_path, moment, accounting):
    env = client_env(slurm, accounting)
    marker = tmp_path / "started"
    extra = []
    if moment == "queued":  # a job that cannot start until it is cancelled
        extra = ["+hydra.launcher.inner.additional_parameters.begin='now+1hour'"]
    process = user_project.start(
        *INNER, *extra, "+exp=sleepy", "amplitude=small",
        env={**env, "USERPKG_STARTED": str(marker)},
    )  # fmt: skip
    cancel_when(slurm, process, ready_at(slurm, moment, marker), f"the job {moment}")
    out, err = ended(process)
    output = f"--- stdout\n{out}--- stderr\n{err}"
    print(output)  # shown with pytest -rP: the summary a user sees

    assert process.returncode not in (0, None), output
    assert "1 trials: 1 interrupted" in out or "1 trial: 1 interrupted" in out, output
    assert "did not finish (1 interrupted)" in err, output
    assert "Bypassing sacct error" not in out + err, output  # sacct asked once, then squeue
    assert "Traceback" not in out + err, output  # no raw UncompletedJobError
    trials = user_project.trials()
    if moment == "queued":
        assert trials == [], output
        # sacct says "CANCELLED by <uid>", squeue "CANCELLED"
        assert re.search(r"ended without a result \(state CANCELLED( by \d+)?\)", out + err), output
        assert "Error executing job with overrides: ['+exp=sleepy'" in err, output
    elif moment == "setup":  # cancelled before or after its record was opened
        assert [t.status for t in trials] in ([], ["interrupted"]), output
    else:
        assert [t.status for t in trials] == ["interrupted"], output


@kernel
@pytest.mark.parametrize("accounting", ACCOUNTING)
@pytest.mark.parametrize("moment", MOMENTS)
def test_scancel_ends_a_plain_submitit_sweep(slurm, user_project, tmp_path, moment, accounting):
    """`hydra/launcher=submitit_slurm` without the mitosis launcher: Hydra's own sweep.

    Hydra's sweeper raises the first failed job's error, so there is no summary
    table; the command must still end with that error and exit non-zero. (A
    trial that ended `interrupted` is reported as any failed trial of a plain
    launcher: Hydra's traceback of its own frames, then the trial's error.)
    """
    env = client_env(slurm, accounting)
    marker = tmp_path / "started"
    extra = []
    if moment == "queued":
        extra = ["+hydra.launcher.additional_parameters.begin='now+1hour'"]
    process = user_project.start(
        "--multirun", "hydra/launcher=submitit_slurm", "hydra.launcher.timeout_min=10", *extra,
        "+exp=sleepy", "amplitude=small", env={**env, "USERPKG_STARTED": str(marker)},
    )  # fmt: skip
    job = cancel_when(slurm, process, ready_at(slurm, moment, marker), f"the job {moment}")
    out, err = ended(process)
    output = f"--- stdout\n{out}--- stderr\n{err}"
    print(output)

    assert process.returncode == 1, output
    assert "Error executing job with overrides: ['+exp=sleepy', 'amplitude=small']" in err, output
    assert "UncompletedJobError:" not in out + err, output  # submitit's, raised raw
    assert "Bypassing sacct error" not in out + err, output
    lost = re.search(
        rf"SLURM job {job} ended without a result \(state CANCELLED( by \d+)?\)", out + err
    )
    cancelled = f"The job was cancelled (SLURM job {job}) before its trial finished (SIGTERM)."
    trials = user_project.trials()
    if moment != "execution":  # errors of the job, not of its trial: no traceback
        assert "Traceback" not in err, output
    if moment == "queued":
        assert trials == [] and lost, output
    elif moment == "setup":  # a SIGTERM before the job took it over is lost: then SIGKILL
        assert [t.status for t in trials] in ([], ["interrupted"]), output
        assert lost or cancelled in err, output
    else:  # the trial's own error: its record says interrupted
        assert [t.status for t in trials] == ["interrupted"], output
        assert f"{trials[0].name} (key {trials[0].key}) interrupted:" in err, output


JOB_TAKING_OVER = """
import signal, sys, time
from pathlib import Path

out = Path(sys.argv[1])
got = []
signal.signal(signal.SIGTERM, lambda *_: got.append(1))  # as submitit does while loading a job
(out / "ready").touch()
while not got:
    time.sleep(0.05)
from mitosis_hydra.core.errors import Interrupted
from mitosis_hydra.run.batch_job import batch_job_signals

try:
    with batch_job_signals():
        (out / "result").write_text("ran on")
except Interrupted:
    (out / "result").write_text("interrupted")
"""


def test_a_job_cancelled_before_it_took_sigterm_over_stops_when_it_does(slurm, tmp_path):
    """The SIGTERM submitit swallows while it loads a job is not lost: the job asks squeue."""
    script = tmp_path / "job.py"
    script.write_text(JOB_TAKING_OVER)
    job = slurm.run(
        "sbatch", "--parsable", f"--output={tmp_path / 'job.log'}",
        "--export=ALL,SUBMITIT_EXECUTOR=slurm", "--wrap", f"{sys.executable} {script} {tmp_path}",
    ).strip()  # fmt: skip
    wait_for((tmp_path / "ready").exists, "the job ready")
    slurm.run("scancel", job)
    wait_for((tmp_path / "result").exists, "the job's result", timeout=60)
    assert (tmp_path / "result").read_text() == "interrupted"


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
