"""The trials database on real SQLite files: locks, iterations, records, and many writers at once.

The stress tests start real processes with the `spawn` context (as Hydra's
launchers and the mitosis pool do) against one fresh folder, so the schema is
created by all of them at the same moment too.
"""

from __future__ import annotations

import json
import multiprocessing
import time
import traceback
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mitosis_hydra.core.canonical import canonical_hash, canonical_string
from mitosis_hydra.core.errors import (
    StoreError,
    TrialFolderExistsError,
    TrialNotFoundError,
    VariantConflictError,
)
from mitosis_hydra.core.layout import RECORD_FILE
from mitosis_hydra.core.masking import MASK, mask_text
from mitosis_hydra.core.records import TrialPlan, TrialStatus, VariantValue
from mitosis_hydra.storage.store import DB_FILENAME, TrialStore, close_engines, new_key

COMMIT = "1234567abcdef0123456789abcdef0123456789"
OTHER_COMMIT = "fedcba9876543210fedcba9876543210fedcba98"


def variant(group: str, name: str, value: Any, path: str | None = None) -> VariantValue:
    text = canonical_string(value)
    return VariantValue(group, name, text, canonical_hash(text), f"_value_: {value!r}\n", path)


def plan(
    folder: Path,
    tracked: dict[str, tuple[str, Any]] | None = None,
    *,
    experiment: str = "sine",
    untracked: dict[str, str] | None = None,
    key: str | None = None,
    commit: str = COMMIT,
    started_at: datetime | None = None,
) -> TrialPlan:
    """A plan as the trial recipe builds it: `tracked` maps group -> (variant name, value)."""
    tracked = {"amplitude": ("small", 4)} if tracked is None else tracked
    values = tuple(variant(g, n, v) for g, (n, v) in sorted(tracked.items()))
    return TrialPlan(
        key=key or new_key(),
        experiment=experiment,
        variants={**{g: n for g, (n, _v) in tracked.items()}, **(untracked or {})},
        tracked=values,
        commit=commit,
        seed=0,
        host="testhost",
        started_at=started_at or datetime.now(UTC),
        trials_folder=folder,
    )


@pytest.fixture
def store(tmp_path: Path) -> TrialStore:
    return TrialStore(tmp_path / "trials")


# -- iterations ----------------------------------------------------------------------


def test_iterations_count_from_one_per_combination(store: TrialStore) -> None:
    folder = store.trials_folder
    small = [store.begin_trial(plan(folder)) for _ in range(3)]
    big = store.begin_trial(plan(folder, {"amplitude": ("big", 10)}))
    two = store.begin_trial(plan(folder, {"amplitude": ("small", 4), "frequency": ("slow", 0.5)}))
    assert [r.iteration for r in small] == [1, 2, 3]
    assert [r.name for r in small] == [f"sine-amplitude_small-{i}" for i in (1, 2, 3)]
    assert (big.name, big.iteration) == ("sine-amplitude_big-1", 1)
    assert two.name == "sine-amplitude_small-frequency_slow-1"
    assert all(r.status is TrialStatus.RUNNING for r in [*small, big, two])
    assert (folder / DB_FILENAME).is_file()


def test_iterations_count_per_experiment(store: TrialStore) -> None:
    folder = store.trials_folder
    store.begin_trial(plan(folder))
    store.begin_trial(plan(folder))
    other = store.begin_trial(plan(folder, experiment="cosine"))
    assert (other.name, other.iteration) == ("cosine-amplitude_small-1", 1)


def test_untracked_parameters_are_recorded_but_not_counted_or_locked(store: TrialStore) -> None:
    folder = store.trials_folder
    first = store.begin_trial(plan(folder, untracked={"device": "cpu"}))
    second = store.begin_trial(plan(folder, untracked={"device": "gpu"}))
    assert second.iteration == 2 and second.name == "sine-amplitude_small-2"
    assert store.get(first.key).variants == {"amplitude": "small", "device": "cpu"}
    assert [(lock.group, lock.name) for lock in store.variant_locks()] == [("amplitude", "small")]


# -- locks -----------------------------------------------------------------------------


def test_a_conflicting_lock_is_refused_with_everything_needed_to_fix_it(store: TrialStore) -> None:
    folder = store.trials_folder
    first = store.begin_trial(plan(folder))
    new_value = variant("amplitude", "small", 4.0, "conf/amplitude/small.yaml")
    changed = replace(plan(folder, commit=OTHER_COMMIT), tracked=(new_value,))
    with pytest.raises(VariantConflictError) as caught:
        store.begin_trial(changed)
    message = str(caught.value)
    lines = message.splitlines()
    assert lines[0] == "Variant amplitude=small is already locked to a different value."
    assert f"first locked by trial {first.name} (commit 1234567, " in lines[1]
    assert "stored: 4    new: 4.0 (conf/amplitude/small.yaml)" in message
    assert lines[-1].startswith("Give the new value a new name")
    assert "mitosis-hydra variants release amplitude/small" in lines[-1]
    assert [r.key for r in store.list_trials()] == [first.key]


def test_a_refused_trial_writes_nothing_not_even_its_new_locks(store: TrialStore) -> None:
    folder = store.trials_folder
    store.begin_trial(plan(folder))
    before = store.variant_locks()
    mixed = plan(folder, {"amplitude": ("small", "4"), "frequency": ("brand_new", 2)})
    with pytest.raises(VariantConflictError, match=r'stored: 4    new: "4"'):
        store.begin_trial(mixed)
    assert store.variant_locks() == before
    assert len(store.list_trials()) == 1
    # the same combination later still starts at iteration 1: no number was used up
    assert store.begin_trial(plan(folder, {"frequency": ("brand_new", 2)})).iteration == 1


def test_locks_are_shared_by_every_experiment_of_the_database(store: TrialStore) -> None:
    folder = store.trials_folder
    store.begin_trial(plan(folder, experiment="sine"))
    with pytest.raises(VariantConflictError, match="amplitude=small"):
        store.begin_trial(plan(folder, {"amplitude": ("small", 5)}, experiment="cosine"))
    assert store.list_trials(experiment="cosine") == []


def test_several_conflicts_are_reported_together(store: TrialStore) -> None:
    folder = store.trials_folder
    store.begin_trial(plan(folder, {"a": ("x", 1), "b": ("y", [1, 2])}))
    with pytest.raises(VariantConflictError) as caught:
        store.begin_trial(plan(folder, {"a": ("x", 2), "b": ("y", [1, 3])}))
    message = str(caught.value)
    assert message.splitlines()[0] == "2 variant names are already locked to different values."
    assert "Variant a=x" in message and "Variant b=y" in message


def test_check_locks_reads_without_writing(store: TrialStore) -> None:
    assert store.check_locks([variant("amplitude", "small", 4)]) == []
    assert not (store.trials_folder / DB_FILENAME).exists()
    store.begin_trial(plan(store.trials_folder))
    conflicts = store.check_locks([variant("amplitude", "small", 4.0), variant("f", "new", 1)])
    assert [(c.requested.group, c.stored.canonical) for c in conflicts] == [("amplitude", "4")]
    assert [lock.name for lock in store.variant_locks()] == ["small"]


def test_variant_locks_name_their_first_trial(store: TrialStore) -> None:
    first = store.begin_trial(plan(store.trials_folder))
    store.begin_trial(plan(store.trials_folder))
    (lock,) = store.variant_locks()
    assert (lock.first_trial, lock.first_commit, lock.trial_count) == (first.name, COMMIT, 2)
    assert (lock.canonical, lock.hash) == ("4", canonical_hash("4"))


def test_a_value_with_a_lone_surrogate_can_be_locked(store: TrialStore) -> None:
    """YAML's "\\ud800" reaches the store; UTF-8 cannot hold it unescaped."""
    store.begin_trial(plan(store.trials_folder, {"label": ("odd", "x\ud800")}))
    (lock,) = store.variant_locks()
    assert lock.canonical == canonical_string("x\ud800")
    assert store.check_locks([variant("label", "odd", "x\ud800")]) == []


# -- finishing and reading ------------------------------------------------------------------


def test_finish_trial_records_the_outcome(store: TrialStore) -> None:
    record = store.begin_trial(plan(store.trials_folder))
    notebook = record.folder / "notebook.html"
    done = store.finish_trial(
        record.key,
        status=TrialStatus.FINISHED,
        notebook=notebook,
        main=0.25,
        metrics={"rmse": 1.5, "n": 3},
        cpu_time=0.5,
    )
    assert done.status is TrialStatus.FINISHED
    assert (done.main, done.metrics, done.cpu_time) == (0.25, {"n": 3, "rmse": 1.5}, 0.5)
    assert done.notebook == store.trials_folder / record.name / "notebook.html"
    assert done.finished_at is not None and done.finished_at >= done.started_at
    assert done.wall_time is not None and done.wall_time >= 0
    assert store.get(record.key) == done


def test_finish_trial_keeps_the_error_of_a_failed_trial(store: TrialStore) -> None:
    record = store.begin_trial(plan(store.trials_folder))
    failed = store.finish_trial(
        record.key, status=TrialStatus.FAILED, notebook=None, error="ValueError: boom"
    )
    assert (failed.status, failed.error, failed.main, failed.metrics) == (
        TrialStatus.FAILED,
        "ValueError: boom",
        None,
        {},
    )


def test_get_by_key_or_unique_prefix(store: TrialStore) -> None:
    folder = store.trials_folder
    one = store.begin_trial(plan(folder, key="abc2345678"))
    two = store.begin_trial(plan(folder, key="abd2345678"))
    assert store.get("abc2345678") == one
    assert store.get("abd") == two
    with pytest.raises(TrialNotFoundError) as caught:
        store.get("ab")
    message = str(caught.value)
    assert message.splitlines()[0] == "The key prefix 'ab' matches several trials:"
    assert f"  abc2345678  {one.name}" in message and f"  abd2345678  {two.name}" in message
    assert message.splitlines()[-1] == "Give more characters of the key."


def test_keys_named_finds_trials_by_full_name_only(store: TrialStore) -> None:
    record = store.begin_trial(plan(store.trials_folder))
    assert store.keys_named(record.name) == [record.key]
    assert store.keys_named(record.name[:-1]) == []


def test_get_of_an_unknown_key_says_where_it_looked(store: TrialStore) -> None:
    store.begin_trial(plan(store.trials_folder))
    with pytest.raises(TrialNotFoundError) as caught:
        store.get("zzz")
    lines = str(caught.value).splitlines()
    assert lines[0] == "No trial has a key starting with 'zzz'."
    assert lines[1] == f"  trials database: {store.url}"
    assert lines[-1] == "Check the key with: mitosis-hydra list"


def test_a_prefix_with_like_wildcards_matches_literally(store: TrialStore) -> None:
    store.begin_trial(plan(store.trials_folder, key="abc2345678"))
    with pytest.raises(TrialNotFoundError, match="No trial has a key"):
        store.get("a%")
    with pytest.raises(TrialNotFoundError, match="No trial has a key"):
        store.get("a_c")


def test_list_trials_filters_and_orders_oldest_first(store: TrialStore) -> None:
    folder = store.trials_folder
    t0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    late = store.begin_trial(plan(folder, started_at=t0 + timedelta(hours=2)))
    early = store.begin_trial(plan(folder, started_at=t0))
    other = store.begin_trial(plan(folder, experiment="cosine", started_at=t0 + timedelta(hours=1)))
    store.finish_trial(early.key, status=TrialStatus.FINISHED, notebook=None, main=1.0)
    assert [r.key for r in store.list_trials()] == [early.key, other.key, late.key]
    assert [r.key for r in store.list_trials(experiment="sine")] == [early.key, late.key]
    assert [r.key for r in store.list_trials(status="running")] == [other.key, late.key]
    assert [r.key for r in store.list_trials(status=TrialStatus.FINISHED)] == [early.key]
    assert store.list_trials(experiment="sine", status="failed") == []


def test_reading_a_missing_database_finds_nothing_and_creates_nothing(tmp_path: Path) -> None:
    store = TrialStore(tmp_path / "nowhere")
    assert store.list_trials() == [] and store.variant_locks() == []
    assert not (tmp_path / "nowhere").exists()


# -- many writers at once -------------------------------------------------------------------

PROCESSES = 8
TRIALS_EACH = 25
NEW_NAMES = 12


def _spawn(target: Any, folder: Path, count: int) -> list[Any]:
    """Run `target(folder, index, barrier, queue)` in `count` spawned processes; collect replies."""
    ctx = multiprocessing.get_context("spawn")
    barrier, queue = ctx.Barrier(count), ctx.Queue()
    workers = [ctx.Process(target=target, args=(folder, i, barrier, queue)) for i in range(count)]
    for worker in workers:
        worker.start()
    replies = [queue.get(timeout=300) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    return replies


def _allocate(folder: Path, index: int, barrier: Any, queue: Any) -> None:
    """Worker: allocate TRIALS_EACH trials of one combination as fast as possible."""
    store = TrialStore(folder)
    records, errors = [], []
    barrier.wait()
    for _ in range(TRIALS_EACH):
        try:
            records.append((store.begin_trial(plan(folder)).key, index))
        except Exception:  # reported to the test, which fails on any
            errors.append(traceback.format_exc())
    queue.put((records, errors))


def test_many_processes_allocate_iterations_one_to_n(tmp_path: Path) -> None:
    folder = tmp_path / "fresh" / "trials"  # nothing exists yet: the schema is made concurrently
    started = time.perf_counter()
    replies = _spawn(_allocate, folder, PROCESSES)
    elapsed = time.perf_counter() - started
    errors = [error for _records, errs in replies for error in errs]
    assert errors == [], errors[0]
    trials = TrialStore(folder).list_trials()
    total = PROCESSES * TRIALS_EACH
    assert sorted(t.iteration for t in trials) == list(range(1, total + 1))
    assert len({t.name for t in trials}) == len({t.key for t in trials}) == total
    assert {key for records, _errs in replies for key, _i in records} == {t.key for t in trials}
    print(f"\nstress: {PROCESSES} processes x {TRIALS_EACH} trials in {elapsed:.2f}s")


def _race_for_names(folder: Path, index: int, barrier: Any, queue: Any) -> None:
    """Worker: try to lock every new name; half the workers want one value, half another."""
    store = TrialStore(folder)
    outcomes = []
    barrier.wait()
    for j in range(NEW_NAMES):
        value = (index + j) % 2
        try:
            record = store.begin_trial(plan(folder, {"amplitude": (f"new_{j}", value)}))
            outcomes.append((j, value, "ok", record.key))
        except VariantConflictError as error:
            outcomes.append((j, value, "conflict", str(error)))
        except Exception:
            outcomes.append((j, value, "error", traceback.format_exc()))
    queue.put(outcomes)


def test_processes_racing_for_a_new_variant_name_agree_on_one_value(tmp_path: Path) -> None:
    folder = tmp_path / "race" / "trials"
    started = time.perf_counter()
    outcomes = [o for reply in _spawn(_race_for_names, folder, PROCESSES) for o in reply]
    elapsed = time.perf_counter() - started
    assert [o for o in outcomes if o[2] == "error"] == []
    store = TrialStore(folder)
    locks = {lock.name: lock for lock in store.variant_locks()}
    assert sorted(locks) == sorted(f"new_{j}" for j in range(NEW_NAMES))
    for j in range(NEW_NAMES):
        lock = locks[f"new_{j}"]
        winner = int(lock.canonical)
        mine = [o for o in outcomes if o[0] == j]
        assert {o[2] for o in mine if o[1] == winner} == {"ok"}
        assert {o[2] for o in mine if o[1] != winner} == {"conflict"}
        assert all(f"stored: {winner}    new: {1 - winner}" in o[3] for o in mine if o[1] != winner)
        recorded = [t for t in store.list_trials() if t.variants["amplitude"] == f"new_{j}"]
        assert {t.key for t in recorded} == {o[3] for o in mine if o[2] == "ok"}
        assert sorted(t.iteration for t in recorded) == list(range(1, len(recorded) + 1))
        assert lock.first_trial in {t.name for t in recorded if t.iteration == 1}
    print(f"\nrace: {PROCESSES} processes x {NEW_NAMES} new names in {elapsed:.2f}s")


# -- refusals write nothing; driver errors become messages -----------------------------


def test_an_existing_trial_folder_refuses_the_trial_and_writes_nothing(store: TrialStore):
    (store.trials_folder / "sine-amplitude_small-1").mkdir(parents=True)
    with pytest.raises(TrialFolderExistsError) as caught:
        store.begin_trial(plan(store.trials_folder))
    message = str(caught.value)
    assert message.startswith(
        "The folder for trial sine-amplitude_small-1 already exists, but this trials database"
    )
    assert message.splitlines()[-1].startswith("Rebuild the database from the trial folders:")
    assert list(store.list_trials()) == []
    assert store.variant_locks() == []


def test_the_opened_record_is_written_beside_the_trial(store: TrialStore):
    record = store.begin_trial(plan(store.trials_folder))
    written = json.loads((record.folder / RECORD_FILE).read_text())
    assert written["record"]["status"] == "running"
    assert [v["name"] for v in written["tracked"]] == ["small"]
    store.finish_trial(record.key, status=TrialStatus.FINISHED, notebook=None, main=1.5)
    written = json.loads((record.folder / RECORD_FILE).read_text())
    assert (written["record"]["status"], written["record"]["main"]) == ("finished", 1.5)


def test_a_file_that_is_not_a_database_is_reported_with_what_to_do(tmp_path: Path):
    folder = tmp_path / "trials"
    folder.mkdir()
    (folder / DB_FILENAME).write_bytes(b"garbage" * 100)
    for action in (lambda s: s.begin_trial(plan(folder)), lambda s: list(s.list_trials())):
        with pytest.raises(StoreError) as caught:
            action(TrialStore(folder))
        lines = str(caught.value).splitlines()
        assert lines[0] == "The trials database is damaged and cannot be read."
        assert lines[-1] == (
            "Rebuild it from the trial folders (the damaged file is kept aside): "
            f"mitosis-hydra rebuild --trials-folder {folder}"
        )
    assert sorted(p.name for p in folder.iterdir()) == [DB_FILENAME]


def test_messages_never_show_a_password(tmp_path: Path):
    store = TrialStore(tmp_path, "postgresql+psycopg://u:SECRET@127.0.0.1:1/db")
    with pytest.raises(StoreError) as caught:
        store.get("abc")
    assert "SECRET" not in str(caught.value)
    assert "postgresql+psycopg://u:***@127.0.0.1:1/db" in str(caught.value)
    assert mask_text("x=mysql://u:p@ss:w@h/db, y=sqlite:///a.db") == (
        "x=mysql://u:***@h/db, y=sqlite:///a.db"
    )


def test_a_lost_database_beside_recorded_trials_is_not_recreated(store: TrialStore):
    store.begin_trial(plan(store.trials_folder))
    db = store.trials_folder / DB_FILENAME
    close_engines()  # as a new process would: no connection to the deleted file
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    fresh = TrialStore(store.trials_folder)
    with pytest.raises(StoreError) as caught:
        fresh.begin_trial(plan(store.trials_folder))
    assert str(caught.value).splitlines()[0] == (
        "The trials database is missing, but the trials folder holds recorded trials."
    )
    assert not db.exists()


_URL_SAFE = st.characters(
    blacklist_categories=("Zs", "Zl", "Zp", "Cc", "Cs"), blacklist_characters="/'\"@"
)


# a password that is the mask itself shows as itself: nothing to tell apart
@given(st.text(alphabet=_URL_SAFE, min_size=1).filter(lambda text: text != MASK))
def test_a_password_never_survives_masking(password: str):
    for url in (f"postgresql+psycopg://u:{password}@h:5432/db", f"mysql://me:{password}@h/db"):
        masked = mask_text(f"mitosis.db={url} and more")
        assert f":{password}@" not in masked
        assert ":***@h" in masked
        escaped = url.replace(":", "\\:")  # as Hydra writes overrides
        assert f"\\:{password}@" not in mask_text(escaped)
