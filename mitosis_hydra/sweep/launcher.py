"""The engine of `hydra/launcher=mitosis`: validate the whole sweep, then run its trials.

    python -m <your package> --multirun hydra/launcher=mitosis +exp=sine amplitude=my_variant,big

The shim in `hydra_plugins/mitosis_launcher` only registers the config and
calls `launch` here. A sweep is composed and validated as a whole first
(`sweep.py`); then its trials run in worker processes (`pool.py`) with a
progress bar, or are handed to another Hydra launcher (`inner`), e.g.
submitit on a SLURM cluster. Either way the sweep ends with a summary table,
and exits non-zero if any trial did not finish. With `hydra.launcher.wait=false`
the jobs are submitted to the inner launcher's scheduler and not waited for
(`submit.py`): their trials are recorded `queued` and the command returns.
"""

from __future__ import annotations

import copy
import logging
import os
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus, configure_log, setup_globals

from mitosis_hydra.core.errors import (
    MitosisError,
    SweepIncompleteError,
    SweepRefusedError,
    TrialFailedError,
    TrialInterruptedError,
    TrialNotFinishedError,
)
from mitosis_hydra.core.masking import mask_file, mask_text
from mitosis_hydra.core.outcomes import (
    COMPLETE,
    DONE_BEFORE,
    PENDING,
    counts_text,
    exit_code,
    status_counts,
)
from mitosis_hydra.core.records import TrialMain, TrialQueued, TrialRecord, TrialStatus
from mitosis_hydra.run.slurm_jobs import jobs_never_hang, submit_only
from mitosis_hydra.sweep.jobs import (
    SweepJob,
    compose_jobs,
    task_config,
    validate,
)
from mitosis_hydra.sweep.pool import TrialResult, WorkerPool, default_n_jobs, warm_up
from mitosis_hydra.sweep.progress import SweepProgress, print_summary
from mitosis_hydra.sweep.submit import refusal, submit_without_waiting

log = logging.getLogger(__name__)


def reuse_compositions(hydra_context: Any) -> None:
    """Compose each job once: keep what Hydra's sweeper composed for the launcher.

    The sweeper composes every job of a batch only to check it
    (`validate_batch_is_legal`) and throws the result away; the launcher then
    composes each again, ~0.15 s of the driver's time per job. The config
    loader of this sweep keeps each composition the sweeper asked for and hands
    it to the launcher (`mitosis_take_composition`) once; what the launcher
    composes itself is never kept, so no config is handed out twice.
    """
    loader = hydra_context.config_loader
    compose = loader.load_sweep_config
    kept: dict[tuple[int, tuple[str, ...]], list[Any]] = {}

    def load_sweep_config(master_config: Any, sweep_overrides: list[str]) -> Any:
        composed = compose(master_config=master_config, sweep_overrides=sweep_overrides)
        kept.setdefault((id(master_config), tuple(sweep_overrides)), []).append(composed)
        return composed

    def take_composition(master_config: Any, sweep_overrides: list[str]) -> Any:
        waiting = kept.get((id(master_config), tuple(sweep_overrides)))
        if waiting:
            return waiting.pop(0)
        return compose(master_config=master_config, sweep_overrides=sweep_overrides)

    loader.load_sweep_config = load_sweep_config
    loader.mitosis_take_composition = take_composition


def launch(launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list:
    """Compose and validate every job, skip those done before (resume), run the rest, summarize.

    Called once per batch when the sweeper sends batches; every call validates its
    batch as a whole and returns one JobReturn per job, in order.
    """
    setup_globals()
    config = launcher.config
    configure_log(config.hydra.hydra_logging, config.hydra.verbose)
    sweep_dir = Path(str(config.hydra.sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    mask_file(sweep_dir / "multirun.yaml")  # the sweeper's copy
    waits = bool(getattr(launcher, "wait", True))
    cannot = None if waits else refusal(launcher, config)
    if cannot is not None:  # before anything is composed: a refusal writes nothing
        print(cannot, file=sys.stderr, flush=True)
        if initial_job_idx == 0:
            forget_refused_sweep(sweep_dir, Path.cwd())
        sys.exit(exit_code(SweepRefusedError(cannot)))
    began = time.perf_counter()
    warming = None
    if launcher.inner is None:  # prime the workers' imports while the sweep is checked
        warming = threading.Thread(target=warm_up, daemon=True)
        warming.start()
    jobs = compose_jobs(launcher.hydra_context, config, job_overrides, initial_job_idx)
    try:
        validate(jobs, Path.cwd())
    except SweepRefusedError as error:
        print(mask_text(str(error)), file=sys.stderr, flush=True)
        if initial_job_idx == 0:  # a later batch's sweep folder holds earlier trials' files
            forget_refused_sweep(sweep_dir, Path.cwd())
        sys.exit(exit_code(error))
    skipped = _done_before(jobs, bool(getattr(launcher, "resume", False)))
    if not waits:
        return _submit(launcher, jobs, skipped, sweep_dir.name)
    if warming is not None:
        warming.join()  # no thread may run while workers are forked (also the next batch's)
    ran, interrupted = _run_jobs(launcher, [job for job in jobs if job.index not in skipped])
    results, returns = [], []
    for job in jobs:  # in order; a row is labelled by its job number if it has no trial
        if job.index in skipped:
            result = _skipped_result(job.index, skipped[job.index])
            ran[job.index] = (result, _job_return(job, result))
        result, ret = ran[job.index]
        results.append(replace(result, position=job.index))
        returns.append(ret)
    print_summary(results, time.perf_counter() - began, sweep=sweep_dir.name)
    if interrupted:
        print("The sweep was interrupted (Ctrl-C).", file=sys.stderr, flush=True)
        sys.exit(exit_code(TrialStatus.INTERRUPTED))
    return _mark_incomplete(returns, results)


def forget_refused_sweep(sweep_dir: Path, cwd: Path) -> None:
    """Remove what Hydra's sweeper wrote for a sweep that was refused: a refusal writes nothing.

    The sweeper saves `multirun.yaml` in a new sweep folder before the launcher
    sees a job. Only that file goes, and then each folder left empty, up to
    (not including) the working directory, and a trials folder holding nothing
    but mitosis_hydra's `.gitignore`; a folder holding anything else stays.
    """
    from mitosis_hydra.run.paths import remove_if_unused

    (sweep_dir / "multirun.yaml").unlink(missing_ok=True)
    folder, cwd = sweep_dir.resolve(), cwd.resolve()
    while folder != cwd and cwd in folder.parents:
        try:
            folder.rmdir()  # only an empty one
        except OSError:
            if not remove_if_unused(folder):
                return
        folder = folder.parent


def _run_jobs(
    launcher: Any, jobs: list[SweepJob]
) -> tuple[dict[int, tuple[TrialResult, JobReturn]], bool]:
    """Run jobs here or through `inner`: job number → (summary row, JobReturn), and Ctrl-C."""
    if not jobs:
        return {}, False
    if launcher.inner is not None:
        returns = _launch_inner(launcher, [job.overrides for job in jobs], jobs[0].index)
        pairs = zip(jobs, returns, strict=True)
        return {job.index: (_result_of_return(job.index, ret), ret) for job, ret in pairs}, False
    results, interrupted = _run_in_workers(launcher, jobs)
    pairs = zip(jobs, results, strict=True)
    return {job.index: (result, _job_return(job, result)) for job, result in pairs}, interrupted


def _submit(
    launcher: Any, jobs: list[SweepJob], skipped: dict[int, TrialRecord], sweep: str
) -> list[JobReturn]:
    """wait=false: reserve and submit the jobs to run, return at once (skipped ones named)."""
    to_run = [job for job in jobs if job.index not in skipped]

    def launch_inner(overrides: Sequence[Sequence[str]], initial: int) -> list:
        return _launch_inner(launcher, overrides, initial, wait=False)

    returns = dict(
        (job.index, ret)
        for job, ret in submit_without_waiting(to_run, sweep, launch_inner, _job_return)
    )
    for job in jobs:
        if job.index in skipped:
            result = _skipped_result(job.index, skipped[job.index])
            returns[job.index] = _job_return(job, result)
            print(f"  {result.name}  key {result.key}  {result.status} (mitosis.resume)")
    return [returns[job.index] for job in jobs]


def _done_before(jobs: list[SweepJob], resume: bool) -> dict[int, TrialRecord]:
    """Job number → its finished (or in-flight) trial, for the jobs a resumed sweep need not run."""
    if not any(resume or (job.spec and job.spec.settings.resume) for job in jobs):
        return {}
    from mitosis_hydra.run.resume import current_commit, done_before, in_flight

    commit = current_commit(Path.cwd())
    found = {}
    for job in jobs:
        if job.spec is not None and (resume or job.spec.settings.resume):
            record = done_before(job.spec, commit) or in_flight(job.spec, commit)
            if record is not None:
                found[job.index] = record
    if found:
        log.info(f"Resuming: {len(found)} of {len(jobs)} jobs have a finished trial already")
    return found


def _skipped_result(position: int, record: TrialRecord) -> TrialResult:
    notebook = str(record.notebook) if record.notebook else None
    status = DONE_BEFORE if record.status is TrialStatus.FINISHED else record.status.value
    return TrialResult(position, status, record.name, record.key, record.main, notebook)


def _run_in_workers(launcher: Any, jobs: list[SweepJob]) -> tuple[list[TrialResult], bool]:
    n_jobs = launcher.n_jobs or default_n_jobs()
    pool = WorkerPool(launcher.hydra_context, [job.config for job in jobs], n_jobs)
    log.info(
        f"Launching {len(jobs)} trial{'s' if len(jobs) != 1 else ''} "
        f"in {min(n_jobs, len(jobs))} worker process{'es' if min(n_jobs, len(jobs)) > 1 else ''}"
    )
    pool.start()  # before the progress bar's thread: workers are forked
    with SweepProgress(len(jobs), launcher.progress) as progress:
        pool.collect(progress.update)
    results = [pool.results[position] for position in range(len(jobs))]
    return results, pool.interrupted


def _launch_inner(
    launcher: Any, job_overrides: Sequence[Sequence[str]], initial: int, wait: bool = True
) -> list:
    """Hand the validated jobs to another Hydra launcher, configured at `hydra.launcher.inner`.

    With `wait` false (submitit only) it returns the submitted submitit jobs at once.
    """
    from hydra.core.plugins import Plugins
    from omegaconf import open_dict, read_write

    target = str(launcher.inner.get("_target_", ""))
    if not target or "mitosis_launcher" in target:
        raise MitosisError(
            f"hydra.launcher.inner must be another Hydra launcher, got {target or 'nothing'!r}.\n"
            "Choose one with e.g. +hydra/launcher@hydra.launcher.inner=submitit_slurm."
        )
    config = copy.deepcopy(launcher.config)
    with read_write(config), open_dict(config):
        config.hydra.launcher = copy.deepcopy(launcher.inner)
    inner = Plugins.instance().instantiate_launcher(
        hydra_context=launcher.hydra_context, task_function=launcher.task_function, config=config
    )
    log.info(f"Handing {len(job_overrides)} validated jobs to {target.rsplit('.', 1)[-1]}")
    with jobs_never_hang() if wait else submit_only():
        return list(inner.launch(job_overrides, initial_job_idx=initial))


def _result_of_return(position: int, ret: JobReturn) -> TrialResult:
    """A row of the summary from what an inner launcher returned for one job (typed, not parsed)."""
    value = ret._return_value
    if ret.status is JobStatus.COMPLETED and isinstance(value, TrialMain):
        status = DONE_BEFORE if value.done_before else TrialStatus.FINISHED
        return TrialResult(position, status, value.name, value.key, float(value), value.notebook)
    if isinstance(value, TrialNotFinishedError):
        return TrialResult(
            position, value.status, value.name, value.key, None, value.notebook, str(value)
        )
    return TrialResult(position, TrialStatus.FAILED, error=str(value))


def _job_return(job: SweepJob, result: TrialResult) -> JobReturn:
    """What Hydra's sweeper expects back for one job: its main metric, or its error."""
    from hydra.core.utils import JobRuntime
    from omegaconf import OmegaConf

    completed = result.status in COMPLETE or result.status in PENDING
    ret = JobReturn(
        overrides=[mask_text(override) for override in job.overrides],
        cfg=task_config(job.config),
        hydra_cfg=OmegaConf.masked_copy(job.config, "hydra"),
        working_dir=os.getcwd(),
        task_name=JobRuntime.instance().get("name"),
        status=JobStatus.COMPLETED if completed else JobStatus.FAILED,
    )
    if result.status in PENDING:  # submitted and not waited for, or in flight (resume)
        ret.return_value = TrialQueued(result.key, result.name, str(result.status))
    elif completed:
        ret.return_value = TrialMain(
            result.main,
            key=result.key,
            name=result.name,
            notebook=result.notebook,
            done_before=result.status == DONE_BEFORE,
        )
    else:
        ret.return_value = _trial_error(result, result.error or result.status)
    return ret


def _trial_error(result: TrialResult, message: str) -> MitosisError:
    """The error of a job that did not finish, naming its trial in fields when it has one."""
    error = TrialInterruptedError if result.status == TrialStatus.INTERRUPTED else TrialFailedError
    return error(
        message, key=result.key, name=result.name, status=result.status, notebook=result.notebook
    )


def _mark_incomplete(returns: list[JobReturn], results: list[TrialResult]) -> list[JobReturn]:
    """Failed jobs carry one sweep-level error, which Hydra prints as the reason to exit 1.

    Each is its own SweepIncompleteError with the fields of its job's trial.
    """
    incomplete = [r for r in results if r.status not in COMPLETE and r.status not in PENDING]
    if not incomplete:
        return returns
    counts = dict(sorted(status_counts(result.status for result in incomplete).items()))
    lines = [f"{len(incomplete)} of {len(results)} trials did not finish ({counts_text(counts)}):"]
    for result in incomplete:
        where = f"  notebook: {result.notebook}" if result.notebook else ""
        lines.append(f"  {result.name or f'job #{result.position}'} {result.status}{where}")
    lines.append("The other trials are recorded; open the notebooks above to see what went wrong.")
    message = "\n".join(lines)
    for ret, result in zip(returns, results, strict=True):
        if ret.status is not JobStatus.COMPLETED:
            ret.return_value = SweepIncompleteError(
                message,
                key=result.key,
                name=result.name,
                status=result.status,
                notebook=result.notebook,
            )
    return returns
