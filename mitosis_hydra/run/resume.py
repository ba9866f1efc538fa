"""Resuming a sweep: which jobs already have a finished trial, so they need not run again.

A job is *done before* when the trials database holds a finished trial of the
same experiment, the same variant names (every parameter, as recorded) and the
same seed, at the commit the tree is at now. A `queued` or `running` trial
of the same is *in flight*: its job is not run a second time either. Failed,
interrupted and lost trials do not count: their jobs run again, as new
iterations. Nothing here writes anything.
"""

from __future__ import annotations

import os
from pathlib import Path

from mitosis_hydra.core.records import TrialRecord, TrialStatus
from mitosis_hydra.core.spec import TrialSpec
from mitosis_hydra.run import gitinfo
from mitosis_hydra.run.reservation import RESERVED_VARIABLE
from mitosis_hydra.storage.store import TrialStore


def current_commit(cwd: Path) -> str | None:
    """The commit a recorded trial would run at now; None if the tree is dirty or not a repo."""
    git = gitinfo.read_state(cwd)
    if not git.is_repo or git.dirty or not git.commit:
        return None
    return git.commit


def done_before(spec: TrialSpec, commit: str | None) -> TrialRecord | None:
    """The finished (or in-flight) trial that makes this job's run unnecessary, if any.

    A job that a sweep reserved a trial for was checked by that sweep already: its own
    `queued` record must not make it skip itself.
    """
    if spec.debug or commit is None or os.environ.get(RESERVED_VARIABLE):
        return None
    store = TrialStore(spec.settings.trials_folder, spec.settings.db)
    found = store.finished_trial(spec.experiment, spec.variants, spec.seed, commit)
    return found or store.in_flight_trial(spec.experiment, spec.variants, spec.seed, commit)


def done_before_line(record: TrialRecord) -> str:
    """What a job that a resumed sweep skipped prints instead of a trial summary."""
    if record.status in (TrialStatus.QUEUED, TrialStatus.RUNNING):
        return (
            f"trial {record.name} (key {record.key}): {record.status.value}, in flight, "
            "not run again (mitosis.resume)"
        )
    return (
        f"trial {record.name} (key {record.key}): done before, skipped (mitosis.resume)\n"
        f"  main: {record.main!r}\n"
        f"  notebook: {record.notebook}"
    )
