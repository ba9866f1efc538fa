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
import os
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
    listed = user_project.cli(
        "list", "--json", "--db", url, "--trials-folder", str(user_project.trials_folder)
    )
    assert listed.returncode == 0, listed.stderr
    records = json.loads(listed.stdout)
    assert sorted(r["variants"]["amplitude"] for r in records) == ["big", "small"]
    assert {r["status"] for r in records} == {"finished"}


NO_WAIT = (*INNER, "hydra.launcher.wait=false")


def listed(user_project, slurm, *args: str) -> list[dict]:
    """`mitosis-hydra list --json` as a user on the cluster runs it (squeue reachable)."""
    done = subprocess.run(
        [str(Path(sys.executable).parent / "mitosis-hydra"), "list", "--json", *args],
        cwd=user_project.root, env={**user_project.env, **slurm.env},
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)


@kernel
def test_a_sweep_that_does_not_wait_returns_with_its_trials_queued(slurm, user_project):
    # held jobs: queued until the test releases (or cancels) them, whatever the timing
    held = "+hydra.launcher.inner.additional_parameters.hold=true"
    result = user_project.run(
        *NO_WAIT, held, "+exp=draw", "amplitude=small,big", env=slurm.env, timeout=300
    )
    print(result.output)  # shown with pytest -rP: what a user sees

    try:
        records = _submitted_and_queued(user_project, slurm, result, held)
    except BaseException:
        jobs = re.findall(r"slurm job (\d+)_", result.stdout)
        subprocess.run(["scancel", *set(jobs)], env={**os.environ, **slurm.env}, check=False)
        raise
    cancelled = records["small"]["scheduler_job"].removeprefix("slurm:")
    slurm.run("scancel", cancelled)
    slurm.run("scontrol", "release", records["big"]["scheduler_job"].removeprefix("slurm:"))
    seen = []

    def settled() -> bool:
        seen[:] = [(r["name"], r["status"], r["error"]) for r in listed(user_project, slurm)]
        statuses = sorted(status for _name, status, _error in seen)
        return statuses in (["finished", "interrupted"], ["finished", "lost"])

    try:
        wait_for(settled, "one trial cancelled while queued, the other finished", timeout=300)
    except AssertionError:
        logs = sorted((user_project.trials_folder / ".hydra").rglob("*.out"))
        logs += sorted((user_project.trials_folder / ".hydra").rglob("*.err"))
        shown = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in logs)
        raise AssertionError(f"{seen}\n{shown}") from None
    final = {r["variants"]["amplitude"]: r for r in listed(user_project, slurm)}
    # squeue says CANCELLED while the controller remembers the job; a cancelled pending
    # array task may be forgotten at once, and then it has left the queue unstarted
    assert final["small"]["error"] in (
        f"its SLURM job {cancelled} was cancelled before it started",
        f"its SLURM job {cancelled} left the queue without starting the trial",
    ), final["small"]
    big = final["big"]
    assert (big["key"], big["name"], big["iteration"]) == (
        records["big"]["key"], records["big"]["name"], 1,
    )  # fmt: skip
    assert big["main"] == 10.0 and Path(big["notebook"]).is_file(), big
    environment = json.loads((Path(big["folder"]) / "environment.json").read_text())
    assert environment["scheduler_job"]["array_job"] in big["scheduler_job"], environment


def test_a_refused_sweep_that_would_not_wait_writes_nothing(slurm, user_project):
    user_project.write("notes.txt", "not committed\n")  # a dirty tree refuses the sweep
    before = slurm.jobs()
    result = user_project.run(*NO_WAIT, "+exp=draw", "amplitude=small", env=slurm.env)

    assert result.returncode == 2, result.output
    assert "was refused" in result.stderr and "Submitted" not in result.stdout, result.output
    assert set(slurm.jobs()) <= set(before)  # nothing submitted
    assert user_project.trial_folders() == set()
    assert not (user_project.trials_folder / ".hydra" / "multirun").exists()


def test_a_slurm_job_squeue_does_not_know_leaves_its_queued_trial_lost(
    slurm, tmp_path, monkeypatch
):
    from dataclasses import replace

    from test_store import plan

    from mitosis_hydra import list_trials
    from mitosis_hydra.core.records import TrialStatus
    from mitosis_hydra.storage.store import TrialStore

    monkeypatch.setenv("SLURM_CONF", slurm.env["SLURM_CONF"])
    store = TrialStore(tmp_path / "trials")
    queued = store.begin_trial(replace(plan(store.trials_folder), status=TrialStatus.QUEUED))
    store.name_scheduler_job(queued.key, "slurm:999999_0")

    [lost] = list_trials(store.trials_folder)

    assert lost.status is TrialStatus.LOST
    assert lost.error == "its SLURM job 999999_0 left the queue without starting the trial"


def readme_no_wait_session() -> list[tuple[str, list[str]]]:
    """The README's wait=false console block: [(command, expected lines)]."""
    text = (ROOT / "README.md").read_text()
    block = text.split("<!-- readme-slurm: no-wait", 1)[1].split("```console\n", 1)[1]
    steps: list[tuple[str, list[str]]] = []
    for line in block.split("```", 1)[0].splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    return steps


_VARYING = [  # what differs from run to run: sweep id, keys, job ids, queued or started
    (re.compile(r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d-[0-9a-f]{4}"), "SWEEP"),
    (re.compile(r"(?<![\w-])[a-km-np-z2-9]{10}(?![\w-])"), "KEY"),
    (re.compile(r"slurm job \d+_(\d+)"), r"slurm job N_\1"),
    (re.compile(r"(?<=  )(queued|running)(?=  |$)"), "STATE"),
    (re.compile(r" {2,}"), "  "),  # column widths follow the longest status
]


def _normal(text: str) -> str:
    for pattern, replacement in _VARYING:
        text = pattern.sub(replacement, text)
    return text


@kernel
def test_the_readme_sweep_that_does_not_wait_runs_on_slurm(slurm, tmp_path):
    from test_readme import line_pattern

    project = quickstart_copy(tmp_path)
    env = {**git_environment(tmp_path / "home"), **slurm.env}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    steps = readme_no_wait_session()
    assert [command.split()[:3] for command, _ in steps] == [
        ["python", "-m", "project_pkg"], ["mitosis-hydra", "list", "--sweep"],
    ]  # fmt: skip
    readme_sweep, sweep = steps[1][0].split()[-1], None
    for command, expected in steps:
        if sweep is not None:
            command = command.replace(readme_sweep, sweep)
        done = subprocess.run(
            ["bash", "-c", command], cwd=project, env=env,
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        output = done.stdout + done.stderr
        print(f"$ {command}\n{output}")  # shown with pytest -rP
        assert done.returncode == 0, output
        sweep = sweep or re.search(r"list --sweep (\S+)", done.stdout).group(1)
        actual = [_normal(line) for line in output.splitlines()]
        for wanted in (line for line in expected if line.strip() != "..."):
            pattern = line_pattern(_normal(wanted))  # rows may come in another order
            assert any(pattern.fullmatch(line) for line in actual), (wanted, output)

    def finished() -> bool:
        return {t.status for t in list_trials(project / "trials", sweep=sweep)} == {"finished"}

    from mitosis_hydra import list_trials

    wait_for(finished, "both trials finished", timeout=300)  # and the cluster idle again


def _submitted_and_queued(user_project, slurm, result, held: str) -> dict[str, dict]:
    """What a sweep that does not wait printed and recorded (its jobs held): amplitude → record."""
    assert result.returncode == 0, result.output
    sweep = re.search(r"mitosis-hydra list --sweep (\S+)", result.stdout).group(1)
    records = {r["variants"]["amplitude"]: r for r in listed(user_project, slurm, "--sweep", sweep)}
    assert {r["status"] for r in records.values()} == {"queued"}, [
        r["error"] for r in records.values()
    ]
    for record in records.values():
        assert record["pid"] is None and record["scheduler_job"].startswith("slurm:"), record
        job = record["scheduler_job"].removeprefix("slurm:")
        assert f"{record['name']}  key {record['key']}  queued  slurm job {job}" in result.stdout
    assert f"Submitted 2 trials of sweep {sweep} without waiting" in result.stdout, result.output
    shown = user_project.cli("show", records["small"]["key"])
    job = records["small"]["scheduler_job"].removeprefix("slurm:")
    assert re.search(r"status\s+queued\n", shown.stdout), shown.stdout + shown.stderr
    assert re.search(rf"submitted as\s+slurm job {job}\n", shown.stdout), shown.stdout

    # a resumed sweep leaves trials in flight alone: nothing new is submitted
    again = user_project.run(
        *NO_WAIT, held, "+exp=draw", "amplitude=small,big", "mitosis.resume=true",
        env=slurm.env, timeout=300,
    )  # fmt: skip
    assert again.returncode == 0, again.output
    assert f"key {records['big']['key']}  queued (mitosis.resume)" in again.stdout, again.output
    assert len(listed(user_project, slurm)) == 2
    return records
