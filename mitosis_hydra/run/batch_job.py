"""A trial run as a job of a batch scheduler (submitit on SLURM): how it ends when cancelled.

`scancel` sends SIGTERM, then SIGKILL after the cluster's KillWait. submitit's
job wrapper ignores SIGTERM (so the job asks `squeue` whether it was cancelled
while it loaded) and writes a result file only for an `Exception`;
a job that ended by a BaseException (our `Interrupted`) or by SIGKILL writes
none, and the submitting command cannot tell that the job is over. In a
submitit job, SIGTERM therefore raises `Interrupted` from the job's first line
(setup included), and the job ends with a TrialInterruptedError, an Exception
that submitit pickles back to the submitter like any failed job.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator

from mitosis_hydra.core.errors import TrialInterruptedError


def in_batch_job() -> bool:
    """True inside a job that submitit started (SLURM or local)."""
    return bool(os.environ.get("SUBMITIT_EXECUTOR"))


def scheduler_job_id() -> str | None:
    """The scheduler's id of this job (SLURM), or None."""
    return os.environ.get("SLURM_JOB_ID") or None


@contextlib.contextmanager
def batch_job_signals() -> Iterator[None]:
    """In a submitit job, SIGTERM raises `Interrupted` for the whole job; elsewhere nothing.

    A SIGTERM that came before (submitit ignores it while it loads the job) is
    not lost: once the handler is in place, a job SLURM has already cancelled
    stops at once instead of running its trial until SIGKILL.
    """
    if not in_batch_job():
        yield
        return
    from mitosis_hydra.core.errors import Interrupted
    from mitosis_hydra.run.kernel import sigterm_as_exception

    with sigterm_as_exception():
        if _cancelled_already():
            raise Interrupted()
        yield


CANCELLED_STATES = {"CANCELLED", "COMPLETING"}  # squeue's states of a job scancel has ended


def _cancelled_already() -> bool:
    """True when SLURM says this job is cancelled (or ending); False when unsure."""
    job = scheduler_job_id()
    if job is None:
        return False
    command = ["squeue", "--noheader", "--states=all", f"--jobs={job}", "--format=%T"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.stdout.strip() in CANCELLED_STATES


def interrupted_job_error() -> TrialInterruptedError:
    """What a cancelled job returns: names the job; its trial's record, if any, says the rest.

    Hydra prints it as its message only (no traceback of Hydra's frames) when a
    plain `hydra/launcher=submitit_slurm` sweep raises it.
    """
    from mitosis_hydra.core import errors

    job = scheduler_job_id()
    where = f" (SLURM job {job})" if job else ""
    return errors.JobInterruptedError(
        f"The job was cancelled{where} before its trial finished (SIGTERM).\n"
        "Its trial, if one had started, is recorded `interrupted`; run the sweep again with "
        "mitosis.resume=true to run what is missing.",
        status="interrupted",
    )
