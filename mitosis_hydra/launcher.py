"""The engine of `hydra/launcher=mitosis`: validate the whole sweep, then run its trials.

    python -m project_pkg --multirun hydra/launcher=mitosis +exp=sine amplitude=my_variant,big

The shim in `hydra_plugins/mitosis_launcher` only registers the config and
calls `launch` here. A sweep is composed and validated as a whole first
(`sweep.py`); then its trials run in worker processes (`pool.py`) with a
progress bar, or are handed to another Hydra launcher (`inner`), e.g.
submitit on a SLURM cluster. Either way the sweep ends with a summary table,
and exits non-zero if any trial did not finish.
"""

from __future__ import annotations

import copy
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus, configure_log, setup_globals
from hydra.errors import CompactHydraException

from .errors import MitosisError
from .masking import mask_file, mask_text
from .pool import TrialResult, WorkerPool, default_n_jobs, warm_up
from .progress import SweepProgress, print_summary
from .sweep import SweepJob, SweepRefusedError, compose_jobs, task_config, validate

log = logging.getLogger(__name__)

EXIT_REFUSED = 2
EXIT_INTERRUPTED = 130


class SweepIncompleteError(CompactHydraException, MitosisError):
    """Some trials of the sweep failed or were interrupted (the others are recorded)."""


class JobRefusedError(CompactHydraException, MitosisError):
    """A job of another launcher's sweep was refused: Hydra prints the message, no traceback."""


def reuse_compositions(hydra_context: Any) -> None:
    """Compose each job once: keep what Hydra's sweeper composed for the launcher.

    The sweeper composes every job of a batch only to check it
    (`validate_batch_is_legal`) and throws the result away; the launcher then
    composes each again, ~0.15 s of the driver's time per job. The config
    loader of this sweep keeps each composition and hands it out once more,
    to the next request for the same master config and overrides.
    """
    loader = hydra_context.config_loader
    compose = loader.load_sweep_config
    kept: dict[tuple[int, tuple[str, ...]], Any] = {}

    def load_sweep_config(master_config: Any, sweep_overrides: list[str]) -> Any:
        key = (id(master_config), tuple(sweep_overrides))
        if key in kept:
            return kept.pop(key)
        composed = compose(master_config=master_config, sweep_overrides=sweep_overrides)
        kept[key] = composed
        return composed

    loader.load_sweep_config = load_sweep_config


def launch(launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list:
    """Compose and validate every job, run them (here or through `inner`), summarize."""
    setup_globals()
    config = launcher.config
    configure_log(config.hydra.hydra_logging, config.hydra.verbose)
    Path(str(config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
    mask_file(Path(str(config.hydra.sweep.dir)) / "multirun.yaml")  # the sweeper's copy
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
        sys.exit(EXIT_REFUSED)
    if launcher.inner is not None:
        returns = _launch_inner(launcher, job_overrides, initial_job_idx)
        results = [_result_of_return(job, ret) for job, ret in zip(jobs, returns, strict=True)]
        interrupted = False
    else:
        warming.join()  # no thread may run while the workers are forked
        results, interrupted = _run_in_workers(launcher, jobs)
        returns = [_job_return(job, result) for job, result in zip(jobs, results, strict=True)]
    print_summary(results, time.perf_counter() - began)
    if interrupted:
        print("The sweep was interrupted (Ctrl-C).", file=sys.stderr, flush=True)
        sys.exit(EXIT_INTERRUPTED)
    return _mark_incomplete(returns, results)


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


def _launch_inner(launcher: Any, job_overrides: Sequence[Sequence[str]], initial: int) -> list:
    """Hand the validated jobs to another Hydra launcher, configured at `hydra.launcher.inner`."""
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
    return list(inner.launch(job_overrides, initial_job_idx=initial))


_FAILED_TRIAL = re.compile(r"^(\S+) \(key (\w+)\) (failed|interrupted):")


def _result_of_return(job: SweepJob, ret: JobReturn) -> TrialResult:
    """A row of the summary from what an inner launcher returned for one job."""
    position = job.index
    if ret.status is JobStatus.COMPLETED and isinstance(ret._return_value, dict):
        record = ret._return_value
        return TrialResult(
            position,
            record["status"],
            name=record["name"],
            key=record["key"],
            main=record["main"],
            notebook=record["notebook"],
            record=record,
        )
    message = str(ret._return_value)
    match = _FAILED_TRIAL.match(message)
    if match and job.spec is not None:
        from .store import TrialStore

        settings = job.spec.settings
        record = TrialStore(settings.trials_folder, settings.db).get(match.group(2))
        notebook = str(record.notebook) if record.notebook else None
        return TrialResult(
            position, record.status.value, record.name, record.key, None, notebook, message
        )
    return TrialResult(position, "failed", error=message)


def _job_return(job: SweepJob, result: TrialResult) -> JobReturn:
    """What Hydra's sweeper expects back for one job of the worker pool."""
    from hydra.core.utils import JobRuntime
    from omegaconf import OmegaConf

    finished = result.status == "finished"
    ret = JobReturn(
        overrides=[mask_text(override) for override in job.overrides],
        cfg=task_config(job.config),
        hydra_cfg=OmegaConf.masked_copy(job.config, "hydra"),
        working_dir=os.getcwd(),
        task_name=JobRuntime.instance().get("name"),
        status=JobStatus.COMPLETED if finished else JobStatus.FAILED,
    )
    ret.return_value = result.record if finished else MitosisError(result.error or result.status)
    return ret


def _mark_incomplete(returns: list[JobReturn], results: list[TrialResult]) -> list[JobReturn]:
    """Failed jobs carry one sweep-level error, which Hydra prints as the reason to exit 1."""
    incomplete = [result for result in results if result.status != "finished"]
    if not incomplete:
        return returns
    counts: dict[str, int] = {}
    for result in incomplete:
        counts[result.status] = counts.get(result.status, 0) + 1
    lines = [
        f"{len(incomplete)} of {len(results)} trials did not finish "
        f"({', '.join(f'{n} {status}' for status, n in sorted(counts.items()))}):"
    ]
    for result in incomplete:
        where = f"  notebook: {result.notebook}" if result.notebook else ""
        lines.append(f"  {result.name or f'job #{result.position}'} {result.status}{where}")
    lines.append("The other trials are recorded; open the notebooks above to see what went wrong.")
    error = SweepIncompleteError("\n".join(lines))
    for ret in returns:
        if ret.status is not JobStatus.COMPLETED:
            ret.return_value = error
    return returns
