"""The trials database as callers use it: `TrialStore`, one object over the storage modules.

SQLAlchemy Core keeps one schema for the embedded SQLite default and for a
shared server (``mitosis.db=postgresql://…``). The work is done elsewhere, one
job per module: engine.py (engines, transactions, driver errors), trials.py,
lookup.py and reading.py (trial records), variants.py (variant locks, release,
audit), rows.py (row ↔ record). This facade keeps the methods the rest of the package calls.
"""

from __future__ import annotations

from mitosis_hydra.storage import lookup, queued, reading, trials
from mitosis_hydra.storage import variants as locks
from mitosis_hydra.storage.engine import DB_FILENAME, Database, close_engines, default_url
from mitosis_hydra.storage.trials import new_key

# what callers import from here, beside TrialStore
__all__ = ["DB_FILENAME", "TrialStore", "close_engines", "default_url", "new_key"]


class TrialStore(Database):
    """Access to one trials database; connections are opened lazily, once per process.

    Each method is a storage function bound to this database:
    `store.begin_trial(plan)` is `trials.begin_trial(store, plan)`.
    """

    # trials: open atomically, beat, close; read with lost-trial detection
    begin_trial = trials.begin_trial
    finish_trial = trials.finish_trial
    heartbeat = trials.heartbeat
    get = trials.get
    list_trials = reading.list_trials
    close_lost = reading.close_lost
    finished_trial = lookup.finished_record
    keys_named = lookup.keys_named

    # reserved trials (a sweep that does not wait): take over, name the job, release
    take_over = queued.take_over
    name_scheduler_job = queued.name_scheduler_job
    release = queued.release
    in_flight_trial = queued.in_flight_record

    # variant locks
    check_locks = locks.check_locks
    variant_locks = locks.variant_locks

    # the previous private names, which tests reach for
    _write = Database.write
    _read = Database.read
    _get = lookup.find_record
    _detect_lost = trials.detect_lost
