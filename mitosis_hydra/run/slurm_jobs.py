"""Waiting for submitit's SLURM jobs without hanging when a job ends without a result.

submitit learns a job's state from `sacct`; on a cluster without SLURM
accounting `sacct` answers nothing, every job stays `UNKNOWN`, and a job that
never wrote a result (cancelled while queued, killed) is waited for for ever;
with accounting the same job ends the sweep with a raw `UncompletedJobError`.
While jobs are handed to submitit (by the mitosis launcher, or by a plain
`hydra/launcher=submitit_slurm` under `mitosis_hydra.main`) it (1) asks
`squeue` for the jobs `sacct` does not know (a job `squeue` does not know
either has left the cluster), and (2) turns a job that ended without a result
into a failed `JobReturn` carrying a TrialInterruptedError (one Hydra prints
without a traceback), so the sweep's summary (or Hydra's error line) still
prints and the command exits non-zero.
Outside those launches nothing changes.
With `hydra.launcher.wait=false` the mitosis launcher waits for no job
(`submit_only`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import subprocess
import time
from collections.abc import Iterator
from typing import Any

from mitosis_hydra.core import errors

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


def _sacct_refused() -> bool:
    """True when this client has no SLURM accounting ("Slurm accounting storage is disabled")."""
    command = ["sacct", "--noheader", "--parsable2", "--format=JobID", "--jobs=1"]
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode != 0 and "accounting storage is disabled" in out.stderr


def _watcher_class() -> type:
    from submitit.slurm.slurm import SlurmInfoWatcher

    class SqueueFallbackWatcher(SlurmInfoWatcher):
        """sacct first; squeue for the jobs sacct does not know (no accounting).

        A cluster without accounting is noticed once: sacct is then no longer
        asked (submitit would log "Bypassing sacct error" at every poll).
        """

        sacct_refused: bool | None = None  # None: not asked yet

        def _make_command(self) -> list[str] | None:
            return None if self.sacct_refused else super()._make_command()

        def update(self) -> None:
            self._output = b""
            if self.sacct_refused is None and self._registered:
                self.sacct_refused = _sacct_refused()
            super().update()
            self._last_status_check = time.time()  # also when sacct was not asked
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
    ret._return_value = errors.JobInterruptedError(message, status="interrupted")
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
    if getattr(core.Job.results, "never_hangs", False):  # already inside a launch that waits so
        yield
        return
    old_watcher, old_results = SlurmJob.watcher, core.Job.results
    SlurmJob.watcher = _watcher_class()(delay_s=old_watcher._delay_s)

    def results(self: Any) -> list:
        try:
            return old_results(self)
        except utils.UncompletedJobError as error:
            return [_failed_return(self, error)]

    results.never_hangs = True  # type: ignore[attr-defined]
    core.Job.results = results
    try:
        yield
    finally:
        SlurmJob.watcher, core.Job.results = old_watcher, old_results


def submitit_launchers_never_hang() -> None:
    """Make every submitit launcher this process instantiates wait as `jobs_never_hang` does.

    For a sweep under `mitosis_hydra.main` with `hydra/launcher=submitit_slurm`
    (no mitosis launcher in between). Hydra's plugin scan executes each plugin
    module again, so the launcher class is wrapped when Hydra instantiates it,
    not before; submitit is imported only when a sweep hands jobs to it.
    """
    from hydra.core.plugins import Plugins

    instantiate = Plugins.instantiate_launcher
    if getattr(instantiate, "never_hangs", False):
        return

    @functools.wraps(instantiate)
    def instantiate_launcher(self: Any, *args: Any, **kwargs: Any) -> Any:
        launcher = instantiate(self, *args, **kwargs)
        _wrap_launch(type(launcher))
        return launcher

    instantiate_launcher.never_hangs = True  # type: ignore[attr-defined]
    Plugins.instantiate_launcher = instantiate_launcher  # type: ignore[method-assign]


def _wrap_launch(launcher_class: type) -> None:
    """A submitit launcher's `launch` runs inside `jobs_never_hang`; other launchers are kept."""
    launch = launcher_class.launch  # type: ignore[attr-defined]
    if not launcher_class.__module__.startswith("hydra_plugins.hydra_submitit_launcher"):
        return
    if getattr(launch, "never_hangs", False):
        return

    @functools.wraps(launch)
    def launch_never_hanging(self: Any, job_overrides: Any, initial_job_idx: int) -> Any:
        with jobs_never_hang():
            return launch(self, job_overrides, initial_job_idx)

    launch_never_hanging.never_hangs = True  # type: ignore[attr-defined]
    launcher_class.launch = launch_never_hanging  # type: ignore[attr-defined]


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
