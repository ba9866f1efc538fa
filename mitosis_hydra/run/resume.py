"""Resuming a sweep: which jobs already have a finished trial, so they need not run again.

A job is *done before* when the trials database holds a finished trial of the
same experiment, the same variant names (every parameter, as recorded) and the
same seed, at the commit the tree is at now; the mitosis launcher also
leaves alone a job whose trial is *in flight* (`queued` or `running`).
Failed, interrupted and lost trials do not count: their jobs run again, as
new iterations. Nothing here writes anything.
"""

from __future__ import annotations

from pathlib import Path

from mitosis_hydra.core.records import TrialMain, TrialRecord
from mitosis_hydra.core.spec import TrialSpec
from mitosis_hydra.run import gitinfo
from mitosis_hydra.storage.store import TrialStore


def current_commit(cwd: Path) -> str | None:
    """The commit a recorded trial would run at now; None if the tree is dirty or not a repo."""
    git = gitinfo.read_state(cwd)
    if not git.is_repo or git.dirty or not git.commit:
        return None
    return git.commit


def done_before(spec: TrialSpec, commit: str | None) -> TrialRecord | None:
    """The finished trial that makes this job's run unnecessary, if there is one."""
    if spec.debug or commit is None:
        return None
    store = TrialStore(spec.settings.trials_folder, spec.settings.db)
    return store.finished_trial(spec.experiment, spec.variants, spec.seed, commit)


def in_flight(spec: TrialSpec, commit: str | None) -> TrialRecord | None:
    """A `queued` or `running` trial of this job (same experiment, variants, seed, commit).

    The mitosis launcher does not run such a job again when it resumes a sweep: the
    trial is on its way (a sweep submitted without waiting, or one still running).
    """
    if spec.debug or commit is None:
        return None
    store = TrialStore(spec.settings.trials_folder, spec.settings.db)
    return store.in_flight_trial(spec.experiment, spec.variants, spec.seed, commit)


def done_before_line(done: TrialMain) -> str:
    """What a job that a resumed sweep skipped prints instead of a trial summary."""
    return (
        f"trial {done.name} (key {done.key}): done before, skipped (mitosis.resume)\n"
        f"  main: {float(done)!r}\n"
        f"  notebook: {done.notebook}"
    )
