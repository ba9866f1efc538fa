"""Waiting for submitit's SLURM jobs without hanging when a job ends without a result.

submitit learns a job's state from `sacct`; on a cluster without SLURM
accounting `sacct` answers nothing, every job stays `UNKNOWN`, and a job that
never wrote a result (cancelled while queued, killed) is waited for for ever.
While the mitosis launcher hands jobs to submitit it (1) asks `squeue` for the
jobs `sacct` does not know (a job `squeue` does not know either has left the
cluster), and (2) turns a job that ended without a result into a failed
`JobReturn` carrying a TrialInterruptedError, so the sweep's summary still
prints and the command exits non-zero. Outside the launcher nothing changes.
With `hydra.launcher.wait=false` the launcher waits for no job (`submit_only`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
from collections.abc import Iterator
from typing import Any

from mitosis_hydra.core.errors import TrialInterruptedError

log = logging.getLogger(__name__)

GONE = "GONE"  # neither sacct nor squeue knows the job: it has left the cluster


def _squeue_output(job_ids: set[str]) -> str | None:
    """squeue's view of these jobs (all states, one line per array task) in sacct's format."""
    command = ["squeue", "--noheader", "--array", "--states=all", "--format=%i|%T|%N"]
    command.append(f"--jobs={','.join(sorted(job_ids))}")
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0 and "Invalid job id" not in out.stderr:
        return None
    return "JobID|State|NodeList\n" + out.stdout


def _watcher_class() -> type:
    from submitit.slurm.slurm import SlurmInfoWatcher

    class SqueueFallbackWatcher(SlurmInfoWatcher):
        """sacct first; squeue for the jobs sacct does not know (no accounting)."""

        def update(self) -> None:
            self._output = b""
            super().update()
            answered = set(self.read_info(self._output)) if self._output else set()
            unknown = {job for job in self._registered - self._finished if job not in answered}
            if not unknown:
                return
            output = _squeue_output({job.split("_")[0] for job in unknown})
            if output is None:
                return
            states = self.read_info(output)
            for job in unknown:
                self._info_dict[job] = states.get(job) or {"JobID": job, "State": GONE}
                if self.is_done(job, mode="cache"):
                    self._finished.add(job)

    return SqueueFallbackWatcher


def _failed_return(job: Any, error: BaseException) -> Any:
    from hydra.core.utils import JobReturn, JobStatus

    state = job.watcher.get_state(job.job_id, mode="cache")
    kind = "SLURM" if type(job).__name__.startswith("Slurm") else "submitit"
    message = (
        f"{kind} job {job.job_id} ended without a result (state {state}): cancelled or killed "
        "before its trial could report.\n"
        f"  submitit logs: {job.paths.stdout.parent}\n"
        "Its trial, if one had started, is recorded `interrupted`; run the sweep again with "
        "mitosis.resume=true to run what is missing."
    )
    log.warning(f"{message} ({type(error).__name__})")
    ret = JobReturn(overrides=_overrides(job), status=JobStatus.FAILED, working_dir=os.getcwd())
    ret._return_value = TrialInterruptedError(message, status="interrupted")
    return ret


def _overrides(job: Any) -> list[str] | None:
    """The job's Hydra overrides, read back from its submission (Hydra names the job by them)."""
    from mitosis_hydra.core.masking import mask_text

    try:
        overrides = job.submission().args[0]
    except Exception:  # only a label: the submission file may be gone
        return None
    return [mask_text(str(override)) for override in overrides]


@contextlib.contextmanager
def jobs_never_hang() -> Iterator[None]:
    """While handing jobs to submitit: squeue when sacct is silent, no raise for a lost job."""
    try:
        from submitit.core import core, utils
        from submitit.slurm.slurm import SlurmJob
    except ImportError:  # submitit is not installed: the inner launcher is another one
        yield
        return
    old_watcher, old_results = SlurmJob.watcher, core.Job.results
    SlurmJob.watcher = _watcher_class()(delay_s=old_watcher._delay_s)

    def results(self: Any) -> list:
        try:
            return old_results(self)
        except utils.UncompletedJobError as error:
            return [_failed_return(self, error)]

    core.Job.results = results
    try:
        yield
    finally:
        SlurmJob.watcher, core.Job.results = old_watcher, old_results


@contextlib.contextmanager
def submit_only() -> Iterator[None]:
    """While handing jobs to submitit: submit them, wait for none (`hydra.launcher.wait=false`).

    Hydra's submitit launcher submits every job (`executor.map_array`) and then
    reads each job's `results()`, which blocks until the job ends. Here `results()`
    answers at once with the submitted job itself, so the launcher returns the
    submitit Job objects (their ids) as soon as the scheduler accepted them.
    """
    from submitit.core import core

    old_results = core.Job.results
    core.Job.results = lambda self: [self]
    try:
        yield
    finally:
        core.Job.results = old_results
