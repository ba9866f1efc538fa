"""A sweep that does not wait (`hydra.launcher.wait=false`): reserve, submit, print, return.

After the sweep is validated as a whole, each recorded job's trial is reserved
(`begin_trial` with status `queued`: key, name, iteration, folder, variant
locks; no pid), every job is submitted to the inner submitit launcher's
scheduler without waiting (`slurm_jobs.submit_only`), each record is told its
scheduler job, and the command prints the keys and returns, exit code 0. The
jobs find their reservations through `$MITOSIS_RESERVED` (run/reservation.py)
and turn `queued` into `running` when they start.

Only a submitit launcher (SLURM, or the local executor, whose job controllers
outlive the command) can hold the jobs once the command has returned: the
worker pool (no inner launcher) ends with the command, and other launchers
(joblib, Ray) wait inside their own `launch()`. Hydra's value-driven sweepers
(Optuna, Nevergrad, Ax) need each job's metric to choose the next; only the
basic sweeper can take jobs that return "queued".
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mitosis_hydra.core.errors import MitosisError
from mitosis_hydra.core.masking import mask_text
from mitosis_hydra.core.records import TrialPlan, TrialRecord, TrialStatus
from mitosis_hydra.run import gitinfo
from mitosis_hydra.run.paths import prepare_trials_folder
from mitosis_hydra.run.reservation import reservations
from mitosis_hydra.storage.store import TrialStore, new_key
from mitosis_hydra.sweep.jobs import SweepJob
from mitosis_hydra.sweep.pool import TrialResult

BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
SUBMITIT = "hydra_plugins.hydra_submitit_launcher."


def refusal(launcher: Any, config: Any) -> str | None:
    """Why this sweep cannot be submitted without waiting, or None when it can."""
    inner = str(launcher.inner.get("_target_", "")) if launcher.inner is not None else ""
    if not inner:
        return (
            "hydra.launcher.wait=false needs a scheduler to hand the trials to; this sweep "
            "has none.\n"
            "  hydra.launcher.inner is not set: the trials would run in this command's worker "
            "processes, which end with it\n"
            "Add +hydra/launcher@hydra.launcher.inner=submitit_slurm (or submitit_local), "
            "or drop hydra.launcher.wait=false to run the sweep here and wait."
        )
    if not inner.startswith(SUBMITIT):
        return (
            "hydra.launcher.wait=false submits through submitit only; this inner launcher "
            "waits for its jobs.\n"
            f"  hydra.launcher.inner: {inner}\n"
            "Use +hydra/launcher@hydra.launcher.inner=submitit_slurm (or submitit_local), "
            "or drop hydra.launcher.wait=false."
        )
    sweeper = str(config.hydra.sweeper.get("_target_", ""))
    if sweeper != BASIC_SWEEPER:
        return (
            "hydra.launcher.wait=false cannot serve this sweeper: it needs each job's result "
            "to choose the next jobs.\n"
            f"  hydra.sweeper: {sweeper}\n"
            "Use the basic sweeper (a grid of overrides), or drop hydra.launcher.wait=false."
        )
    return None


def submit_without_waiting(
    jobs: Sequence[SweepJob],
    sweep: str,
    launch_inner: Callable[[Sequence[Sequence[str]], int], list],
    job_return: Callable[[SweepJob, TrialResult], Any],
) -> list[tuple[SweepJob, Any]]:
    """Reserve every job's trial, submit the jobs, print them: (job, JobReturn) in order.

    `launch_inner(overrides, initial)` submits through the inner launcher and returns
    the submitit jobs; `job_return` makes the JobReturn Hydra's sweeper gets.
    """
    if not jobs:
        return []
    reserved = _reserve(jobs)
    initial = jobs[0].index  # the inner launcher numbers the jobs it gets from here
    keys = {
        initial + position: reserved[job.index].key
        for position, job in enumerate(jobs)
        if job.index in reserved
    }
    try:
        with reservations(sweep, keys):
            submitted = launch_inner([job.overrides for job in jobs], initial)
    except BaseException as error:
        _release(jobs, reserved, f"never submitted: {type(error).__name__}: {error}")
        raise
    returns, lines = [], []
    for job, handle in zip(jobs, submitted, strict=True):
        scheduler_job = _scheduler_job(handle)
        record = reserved.get(job.index)
        if record is not None and scheduler_job is not None:
            _store(job).name_scheduler_job(record.key, scheduler_job)
        result = TrialResult(
            job.index,
            TrialStatus.QUEUED,
            record.name if record else None,
            record.key if record else None,
        )
        ret = job_return(job, result)
        ret.return_value = replace(ret.return_value, scheduler_job=scheduler_job)
        returns.append((job, ret))
        lines.append(_line(job, record, scheduler_job))
    _print(lines, sweep, len(jobs))
    return returns


def _reserve(jobs: Sequence[SweepJob]) -> dict[int, TrialRecord]:
    """Job number → its `queued` record (debug jobs record nothing: none for them)."""
    reserved: dict[int, TrialRecord] = {}
    commit = gitinfo.read_state(Path.cwd()).commit
    try:
        for job in jobs:
            if job.spec is None or job.spec.debug:
                continue
            folder = prepare_trials_folder(job.spec.settings.trials_folder)
            reserved[job.index] = _store(job).begin_trial(_plan(job, commit, folder))
    except BaseException as error:
        _release(jobs, reserved, f"never submitted: {type(error).__name__}: {error}")
        raise
    return reserved


def _plan(job: SweepJob, commit: str, folder: Path) -> TrialPlan:
    spec = job.spec
    return TrialPlan(
        key=new_key(),
        experiment=spec.experiment,
        variants=spec.variants,
        tracked=spec.tracked,
        commit=commit,
        seed=spec.seed,
        host=socket.gethostname(),  # the submitting host until the job takes it over
        started_at=datetime.now(UTC),  # reserved at; the job's start replaces it
        trials_folder=folder,
        sweep=job.context.sweep if job.context else None,
        named=spec.tracked_variants,
        status=TrialStatus.QUEUED,
    )


def _release(jobs: Sequence[SweepJob], reserved: dict[int, TrialRecord], why: str) -> None:
    """Close the reservations of a submission that failed as `failed`: none stays queued."""
    by_index = {job.index: job for job in jobs}
    for index, record in reserved.items():
        try:
            _store(by_index[index]).release(record.key, why)
        except MitosisError as error:  # report the submission's error, not this one
            print(f"Reservation {record.key} not released: {error}", file=sys.stderr)


def _store(job: SweepJob) -> TrialStore:
    settings = job.spec.settings
    return TrialStore(Path(settings.trials_folder), settings.db)


def _scheduler_job(handle: Any) -> str | None:
    """`slurm:1234_0` for a submitit SLURM job, `local:<pid>` for a local one."""
    job_id = getattr(handle, "job_id", None)
    if job_id is None:
        return None
    kind = type(handle).__name__.removesuffix("Job").lower() or "job"
    return f"{kind}:{job_id}"


def _line(job: SweepJob, record: TrialRecord | None, scheduler_job: str | None) -> str:
    where = f"  {scheduler_job.replace(':', ' job ', 1)}" if scheduler_job else ""
    if record is None:
        label = " ".join(job.overrides) or "no overrides"
        return f"  job #{job.index} ({label}): debug trial, not recorded{where}"
    return f"  {record.name}  key {record.key}  queued{where}"


def _print(lines: list[str], sweep: str, count: int) -> None:
    trials = f"{count} trial{'s' if count != 1 else ''}"
    print(
        mask_text(
            f"Submitted {trials} of sweep {sweep} without waiting (hydra.launcher.wait=false):\n"
            + "\n".join(lines)
            + f"\nFollow them with: mitosis-hydra list --sweep {sweep}"
        ),
        flush=True,
    )
