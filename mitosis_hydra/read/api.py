"""The stable Python API for reading results."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mitosis_hydra.core.errors import TrialNotFoundError
from mitosis_hydra.core.layout import RESULTS_FILE
from mitosis_hydra.core.records import TrialStatus
from mitosis_hydra.core.trial_list import TrialList
from mitosis_hydra.run.paths import resolve_trials_folder
from mitosis_hydra.storage import reading
from mitosis_hydra.storage.engine import Database

if TYPE_CHECKING:
    from mitosis_hydra.storage.store import TrialStore


def open_store(trials_folder: str | Path | None = None, db: str | None = None) -> TrialStore:
    """The store of a trials folder (default: `trials/` at the current git root)."""
    from mitosis_hydra.storage.store import TrialStore  # SQLAlchemy: not needed to list

    return TrialStore(resolve_trials_folder(trials_folder), db)


def list_trials(
    trials_folder: str | Path | None = None,
    *,
    experiment: str | None = None,
    status: str | TrialStatus | None = None,
    db: str | None = None,
    sweep: str | None = None,
) -> TrialList:
    """Recorded trials, oldest first (debug trials are never recorded).

    A sequence, not a list: it holds the keys, and reads records a page at a
    time as they are reached, so the newest few of 100,000 cost milliseconds.
    A `running` trial whose driver died is closed as `lost` first (see liveness.py).
    `sweep` keeps the trials of one `--multirun` (the id its summary shows).
    """
    database = Database(resolve_trials_folder(trials_folder), db)
    return reading.list_trials(database, experiment=experiment, status=status, sweep=sweep)


def load_trial_data(
    key: str, trials_folder: str | Path | None = None, *, db: str | None = None
) -> dict[str, Any]:
    """The dict `run` returned for the trial with this key (or unique key prefix)."""
    import cloudpickle

    record = open_store(trials_folder, db).get(key)
    path = record.folder / RESULTS_FILE
    if not path.exists():
        raise TrialNotFoundError(
            f"Trial {record.name} (key {record.key}) has no results file.\n"
            f"  status: {record.status.value}; expected {path}\n"
            "Only finished trials have results; see its notebook for what happened."
        )
    with path.open("rb") as handle:
        return cloudpickle.load(handle)
