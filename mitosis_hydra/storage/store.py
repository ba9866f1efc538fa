"""The trials database as callers use it: `TrialStore`, one object over the storage modules.

SQLAlchemy Core keeps one schema for the embedded SQLite default and for a
shared server (``mitosis.db=postgresql://…``). The work is done elsewhere, one
job per module: engine.py (engines, transactions, driver errors), trials.py and
lookup.py (trial records), variants.py (variant locks, release, audit), rows.py
(row ↔ record). This facade keeps the methods the rest of the package calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mitosis_hydra.core.records import (
    TrialPlan,
    TrialRecord,
    TrialStatus,
    VariantLock,
    VariantValue,
)
from mitosis_hydra.core.trial_list import TrialList
from mitosis_hydra.storage import lookup, trials
from mitosis_hydra.storage import variants as locks
from mitosis_hydra.storage.engine import (
    DB_FILENAME,
    Database,
    close_engines,
    default_url,
    driver_message,
    sqlite_path,
)
from mitosis_hydra.storage.trials import new_key

__all__ = [
    "DB_FILENAME",
    "TrialStore",
    "close_engines",
    "default_url",
    "driver_message",
    "new_key",
    "sqlite_path",
]


class TrialStore(Database):
    """Access to one trials database; connections are opened lazily, once per process."""

    # -- trials ------------------------------------------------------------------

    def begin_trial(self, plan: TrialPlan) -> TrialRecord:
        """Take the variant locks, allocate the iteration, open a `running` record and
        create the trial's folder: all or nothing (see trials.begin_trial)."""
        return trials.begin_trial(self, plan)

    def finish_trial(
        self,
        key: str,
        *,
        status: TrialStatus,
        notebook: Path | None,
        main: Any = None,
        metrics: dict[str, Any] | None = None,
        cpu_time: float | None = None,
        error: str | None = None,
    ) -> TrialRecord:
        """Close a record: its final status, outcome and timings."""
        return trials.finish_trial(
            self,
            key,
            status=status,
            notebook=notebook,
            main=main,
            metrics=metrics,
            cpu_time=cpu_time,
            error=error,
        )

    def heartbeat(self, key: str) -> None:
        """Tell readers the driver of this `running` trial is alive (one short write)."""
        trials.heartbeat(self, key)

    def get(self, key_or_prefix: str) -> TrialRecord:
        """The trial with this key, or with the only key that starts with it.

        A `running` trial whose driver is gone is closed as `lost` on the way.
        """
        return trials.get(self, key_or_prefix)

    def list_trials(
        self,
        *,
        experiment: str | None = None,
        status: str | TrialStatus | None = None,
        sweep: str | None = None,
    ) -> TrialList:
        """Trial records, oldest first; the keys now, each record when first reached."""
        return trials.list_trials(self, experiment=experiment, status=status, sweep=sweep)

    def finished_trial(
        self, experiment: str, variants: dict[str, str], seed: int, commit: str
    ) -> TrialRecord | None:
        """The latest finished trial of this experiment, variants and seed at `commit`, if any."""
        return lookup.finished_record(self, experiment, variants, seed, commit)

    def keys_named(self, name: str) -> list[str]:
        """Keys of the trials with this full name (one, unless the database was merged)."""
        return lookup.keys_named(self, name)

    def close_lost(self) -> list[TrialRecord]:
        """Close every `running` trial whose driver is gone as `lost`; return those."""
        return trials.close_lost(self)

    # -- variant locks -------------------------------------------------------------

    def check_locks(self, variants: Sequence[VariantValue]) -> list:
        """Conflicts the given variants would meet, without writing anything."""
        return locks.check_locks(self, variants)

    def variant_locks(self) -> list[VariantLock]:
        """Every locked variant with the number of trials recorded with its current value."""
        return locks.variant_locks(self)

    # -- the previous private names, which tests reach for -------------------------

    _write = Database.write
    _read = Database.read

    def _get(self, key_or_prefix: str) -> TrialRecord:
        return lookup.find_record(self, key_or_prefix)

    def _detect_lost(self, records: list[TrialRecord]) -> list[TrialRecord]:
        return trials.detect_lost(self, records)
