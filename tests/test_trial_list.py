"""`list_trials` over a real SQLite file: keys up front, records read a page at a time."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_store import plan

from mitosis_hydra.core import trial_list
from mitosis_hydra.core.records import TrialStatus
from mitosis_hydra.storage import store as store_module
from mitosis_hydra.storage.store import DB_FILENAME, TrialStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def seven(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TrialStore:
    """Seven trials, started a minute apart in a shuffled order, read in pages of 3."""
    monkeypatch.setattr(trial_list, "PAGE_SIZE", 3)
    store = TrialStore(tmp_path / "trials")
    for minute in [3, 0, 6, 1, 5, 2, 4]:
        store.begin_trial(plan(store.trials_folder, started_at=T0 + timedelta(minutes=minute)))
    return store


def test_records_come_oldest_first_across_pages(seven: TrialStore) -> None:
    records = seven.list_trials()
    minutes = [int((r.started_at - T0).total_seconds() // 60) for r in records]
    assert minutes == list(range(7))
    assert len(records) == 7
    assert records == list(records)  # a second pass reads the same records


def test_indexing_and_slicing_read_only_the_pages_they_reach(seven: TrialStore) -> None:
    records = seven.list_trials()
    everything = list(seven.list_trials())
    assert records[-1] == everything[6]
    assert records[2:5] == everything[2:5]
    assert records[::-3] == everything[::-3]
    assert set(records._pages) == {0, 1, 2}
    fresh = seven.list_trials()
    assert fresh[-2:] == everything[-2:]
    assert set(fresh._pages) == {1, 2}  # trials 5 and 6: pages [3..5] and [6]


def test_an_index_out_of_range_says_how_many_trials_there_are(seven: TrialStore) -> None:
    with pytest.raises(IndexError, match="trial index 7 out of range for 7 trials"):
        seven.list_trials()[7]
    with pytest.raises(IndexError, match="trial index -8 out of range for 7 trials"):
        seven.list_trials()[-8]


def test_the_listed_trials_are_fixed_when_listed_and_read_when_reached(
    seven: TrialStore,
) -> None:
    records = seven.list_trials()
    first_key = records.keys[0]
    seven.finish_trial(first_key, status=TrialStatus.FINISHED, notebook=None, main=1.5)
    seven.begin_trial(plan(seven.trials_folder, started_at=T0 + timedelta(minutes=9)))
    assert len(records) == 7
    assert records[0].key == first_key
    assert records[0].status is TrialStatus.FINISHED
    assert records[0].main == 1.5
    assert len(seven.list_trials()) == 8


def test_filters_leave_only_matching_keys(seven: TrialStore) -> None:
    key = seven.list_trials().keys[3]
    seven.finish_trial(key, status=TrialStatus.FAILED, notebook=None, error="boom")
    failed = seven.list_trials(status="failed")
    assert [r.key for r in failed] == [key]
    assert failed[0].error == "boom"
    assert seven.list_trials(experiment="other") == []


def test_a_database_made_before_the_listing_index_gets_it(tmp_path: Path) -> None:
    folder = tmp_path / "trials"
    TrialStore(folder).begin_trial(plan(folder))
    db = folder / DB_FILENAME
    with sqlite3.connect(db) as conn:
        conn.execute("DROP INDEX ix_trials_started_key")
    store_module.close_engines()  # the next store opens the database as a new process would
    assert len(TrialStore(folder).list_trials()) == 1
    with sqlite3.connect(db) as conn:
        plan_rows = conn.execute(
            "EXPLAIN QUERY PLAN SELECT key FROM trials ORDER BY started_at, key"
        ).fetchall()
    assert "COVERING INDEX ix_trials_started_key" in str(plan_rows)
