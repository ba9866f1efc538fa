"""The trials database on a real PostgreSQL server (`mitosis.db=postgresql+psycopg://…`).

The same guarantees as on SQLite: locks and iterations written atomically,
iterations 1..n under many writers (PostgreSQL's advisory lock serializes
them), and a trial run through the user's Hydra app recorded in the server.
Each test gets a new database of one throwaway cluster (tests/postgres_server.py).
"""

from __future__ import annotations

import json
import multiprocessing
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import postgres_server
import pytest
from test_store import plan

from mitosis_hydra.core.errors import VariantConflictError
from mitosis_hydra.core.records import TrialStatus
from mitosis_hydra.storage.store import TrialStore


@pytest.fixture(scope="session")
def postgres() -> Iterator[postgres_server.PostgresServer]:
    try:
        server = postgres_server.start()
    except postgres_server.Unavailable as why:
        pytest.skip(f"PostgreSQL tests need a server: {why}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def url(postgres: postgres_server.PostgresServer) -> str:
    return postgres.new_database()


def test_a_trial_is_opened_closed_listed_and_found_on_postgres(tmp_path: Path, url: str) -> None:
    store = TrialStore(tmp_path / "trials", url)
    assert store.url == url and store.exists()
    opened = store.begin_trial(plan(store.trials_folder, {"amplitude": ("big", 4.0)}))
    assert opened.iteration == 1 and opened.status is TrialStatus.RUNNING
    store.finish_trial(opened.key, status=TrialStatus.FINISHED, notebook=None, main=2.5)
    again = store.begin_trial(plan(store.trials_folder, {"amplitude": ("big", 4.0)}))
    assert again.iteration == 2
    listed = store.list_trials()
    assert [r.key for r in listed] == [opened.key, again.key]
    assert listed[0].main == 2.5 and listed[0].status is TrialStatus.FINISHED
    assert store.get(opened.key[:6]).key == opened.key
    assert store.keys_named(opened.name) == [opened.key]
    [lock] = store.variant_locks()
    assert (lock.group, lock.name, lock.trial_count) == ("amplitude", "big", 2)


def test_a_conflicting_value_is_refused_and_nothing_is_written(tmp_path: Path, url: str) -> None:
    store = TrialStore(tmp_path / "trials", url)
    store.begin_trial(plan(store.trials_folder, {"amplitude": ("big", 4.0)}))
    with pytest.raises(VariantConflictError) as refused:
        store.begin_trial(plan(store.trials_folder, {"amplitude": ("big", 5.0)}))
    assert "amplitude" in str(refused.value) and "big" in str(refused.value)
    assert len(store.list_trials()) == 1


PROCESSES = 6
TRIALS_EACH = 15


def _allocate(url: str, folder: str, barrier: Any, results: Any) -> None:
    try:
        store = TrialStore(Path(folder), url)
        barrier.wait()
        got = [
            store.begin_trial(plan(store.trials_folder, {"amplitude": ("big", 4.0)})).iteration
            for _ in range(TRIALS_EACH)
        ]
        results.put(got)
    except BaseException:
        results.put(traceback.format_exc())


def test_many_processes_allocate_iterations_one_to_n_on_postgres(tmp_path: Path, url: str) -> None:
    spawn = multiprocessing.get_context("spawn")
    barrier, results = spawn.Barrier(PROCESSES), spawn.Queue()
    workers = [
        spawn.Process(target=_allocate, args=(url, str(tmp_path / "trials"), barrier, results))
        for _ in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    got = [results.get(timeout=240) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    failures = [g for g in got if isinstance(g, str)]
    assert not failures, failures[0]
    iterations = sorted(i for g in got for i in g)
    assert iterations == list(range(1, PROCESSES * TRIALS_EACH + 1))


@pytest.mark.kernel
def test_a_users_trial_is_recorded_in_the_server(user_project, url: str) -> None:
    ran = user_project.run("+exp=draw", "amplitude=big", "seed=3", f"mitosis.db='{url}'")
    assert ran.returncode == 0, ran.output
    assert not (user_project.trials_folder / "mitosis.sqlite").exists()
    listed = user_project.cli(
        "list", "--json", "--db", url, "--trials-folder", str(user_project.trials_folder)
    )
    assert listed.returncode == 0, listed.stderr
    [record] = json.loads(listed.stdout)
    assert record["status"] == "finished" and record["seed"] == 3
    assert record["variants"]["amplitude"] == "big"
    assert Path(record["notebook"]).is_file()


def test_a_lost_trial_is_detected_and_a_version_1_database_migrated_on_postgres(
    tmp_path: Path, url: str
) -> None:
    import sqlalchemy as sa

    from mitosis_hydra.storage import schema

    engine = sa.create_engine(url)
    with engine.begin() as conn:  # the tables as version 1 made them, with one running row
        conn.exec_driver_sql("CREATE TABLE schema_info (version INTEGER NOT NULL)")
        conn.exec_driver_sql("INSERT INTO schema_info VALUES (1)")
        old = sa.MetaData()
        columns = [c._copy() for c in schema.trials.columns if c.name in _VERSION_1]
        sa.Table("trials", old, *columns).create(conn)
        conn.execute(
            sa.text(
                "INSERT INTO trials (key, experiment, name, combo, iteration, status, seed,"
                ' "commit", variants, started_at, main, metrics, folder, host) VALUES'
                " ('oldrunning12', 'sine', 'sine-1', 'c', 1, 'running', 0, 'abc', '{}',"
                " '2026-01-05T11:00:00+00:00', 'null', '{}', 'sine-1', 'node-1')"
            )
        )
    engine.dispose()
    store = TrialStore(tmp_path / "trials", url)

    [lost] = store.list_trials()

    assert lost.key == "oldrunning12" and lost.status is TrialStatus.LOST
    assert "sent no heartbeat" in lost.error
    fresh = store.begin_trial(plan(store.trials_folder))
    assert store.get(fresh.key).status is TrialStatus.RUNNING
    store.heartbeat(fresh.key)
    assert [r.status for r in store.list_trials(status="lost")] == [TrialStatus.LOST]


_VERSION_1 = {
    *("key", "experiment", "name", "combo", "iteration", "status", "seed", "commit"),
    *("variants", "started_at", "finished_at", "wall_time", "cpu_time", "main", "metrics"),
    *("folder", "notebook", "host", "error", "reproduction_of"),
}
