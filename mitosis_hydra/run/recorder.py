"""Where a trial's record lives while it runs: the trials database, or nowhere (debug).

A recorded trial opens its record under the database's write lock (taking its
variant locks and iteration), beats a heartbeat while it runs and closes the
record with its outcome; a debug trial gets the same record object, named with
its key, that nothing stores. The recipe (trial.py) picks one recorder once
and then treats both alike.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from mitosis_hydra.core.naming import debug_name
from mitosis_hydra.core.records import TrialPlan, TrialRecord, TrialStatus, close_record
from mitosis_hydra.core.trial_spec import TrialSpec
from mitosis_hydra.storage import liveness
from mitosis_hydra.storage.store import TrialStore

OnRecord = Callable[[TrialRecord, TrialStore], None]


class Recorder(Protocol):
    def open(self, plan: TrialPlan) -> TrialRecord:
        """The trial's record, `running`."""

    def announce(self, record: TrialRecord, on_record: OnRecord | None) -> None:
        """Tell whoever runs this process of a stored record (it closes it if we die)."""

    def alive(self, record: TrialRecord) -> contextlib.AbstractContextManager[Any]:
        """While active, the record shows that its driver lives."""

    def close(
        self, record: TrialRecord, status: TrialStatus, notebook: Path, summary: dict[str, Any],
        error: str | None,
    ) -> TrialRecord:  # fmt: skip
        """The record with the trial's outcome."""

    def abandon(self, record: TrialRecord, error: BaseException) -> None:
        """The recipe stopped before closing the record: never leave it `running`."""


def recorder_for(spec: TrialSpec, folder: Path) -> Recorder:
    """The database recorder, or the debug one for a debug trial."""
    if spec.debug:
        return DebugRecorder(spec)
    return DatabaseRecorder(TrialStore(folder, spec.settings.db))


class DatabaseRecorder:
    def __init__(self, store: TrialStore) -> None:
        self.store = store

    def open(self, plan: TrialPlan) -> TrialRecord:
        from mitosis_hydra.run.reservation import reserved_key

        key = reserved_key(plan.sweep)  # a job of a sweep that did not wait: its `queued` trial
        if key is not None:
            return self.store.take_over(key, plan)
        return self.store.begin_trial(plan)

    def announce(self, record: TrialRecord, on_record: OnRecord | None) -> None:
        if on_record is not None:
            on_record(record, self.store)

    def alive(self, record: TrialRecord) -> contextlib.AbstractContextManager[Any]:
        return liveness.Heartbeat(lambda: self.store.heartbeat(record.key))

    def close(
        self, record: TrialRecord, status: TrialStatus, notebook: Path, summary: dict[str, Any],
        error: str | None,
    ) -> TrialRecord:  # fmt: skip
        return self.store.finish_trial(
            record.key, status=status, notebook=notebook, error=error, **_outcome(summary)
        )

    def abandon(self, record: TrialRecord, error: BaseException) -> None:
        failed = isinstance(error, Exception)
        status = TrialStatus.FAILED if failed else TrialStatus.INTERRUPTED
        self.store.finish_trial(record.key, status=status, notebook=None, error=repr(error))


class DebugRecorder:
    def __init__(self, spec: TrialSpec) -> None:
        self.spec = spec

    def open(self, plan: TrialPlan) -> TrialRecord:
        return plan.open_record(debug_name(self.spec.experiment, self.spec.name_parts, plan.key), 0)

    def announce(self, record: TrialRecord, on_record: OnRecord | None) -> None:
        pass  # nothing stored: nothing to close for us

    @contextlib.contextmanager
    def alive(self, record: TrialRecord) -> Iterator[None]:
        yield

    def close(
        self, record: TrialRecord, status: TrialStatus, notebook: Path, summary: dict[str, Any],
        error: str | None,
    ) -> TrialRecord:  # fmt: skip
        return close_record(
            record, status=status, finished_at=datetime.now(UTC), notebook=notebook, error=error,
            **_outcome(summary),
        )  # fmt: skip

    def abandon(self, record: TrialRecord, error: BaseException) -> None:
        pass


def _outcome(summary: dict[str, Any]) -> dict[str, Any]:
    """What the notebook's summary file reports, as the record's fields."""
    return {
        "main": summary.get("main"),
        "metrics": summary.get("metrics") or {},
        "cpu_time": summary.get("cpu_time"),
    }
