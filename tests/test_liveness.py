"""Lost trials: the liveness rule, its detection on read, and the schema migration that
added the columns it needs (a version-1 database keeps every row)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_store import plan

from mitosis_hydra import list_trials
from mitosis_hydra.core.records import TrialStatus
from mitosis_hydra.storage import liveness, schema
from mitosis_hydra.storage.store import DB_FILENAME, TrialStore

HOST = liveness.this_host()


def _dead_pid() -> tuple[int, str]:
    """The pid (and start time) of a process that ran and is gone."""
    child = subprocess.Popen(["sleep", "30"])
    start = liveness.process_start(child.pid)
    child.kill()
    child.wait()
    assert start is not None
    return child.pid, start


def _set(store: TrialStore, key: str, **values: object) -> None:
    with store._write() as conn:
        conn.execute(schema.trials.update().where(schema.trials.c.key == key).values(values))


def _raw_status(store: TrialStore, key: str) -> str:
    path = store.trials_folder / DB_FILENAME
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT status FROM trials WHERE key = ?", (key,)).fetchone()[0]


def test_process_start_reads_proc_and_is_none_for_a_gone_process():
    own = (Path("/proc/self/stat").read_text().rsplit(")", 1)[1]).split()[19]
    assert liveness.process_start(os.getpid()) == own
    pid, _start = _dead_pid()
    assert liveness.process_start(pid) is None


def test_a_trial_whose_driver_is_gone_on_this_host_is_lost_and_closed(tmp_path: Path):
    store = TrialStore(tmp_path / "trials")
    pid, start = _dead_pid()
    opened = store.begin_trial(
        replace(plan(store.trials_folder), host=HOST, pid=pid, pid_start=start)
    )
    alive = store.begin_trial(
        replace(
            plan(store.trials_folder),
            host=HOST,
            pid=os.getpid(),
            pid_start=liveness.process_start(os.getpid()),
        )
    )

    [lost, running] = store.list_trials()

    assert (lost.key, lost.status) == (opened.key, TrialStatus.LOST)
    assert f"its driver (pid {pid} on {HOST}) is gone" in lost.error
    assert lost.finished_at is not None and lost.wall_time is not None
    assert _raw_status(store, opened.key) == "lost"  # closed in the database, not only shown
    assert (running.key, running.status) == (alive.key, TrialStatus.RUNNING)
    assert [r.key for r in list_trials(store.trials_folder, status="lost")] == [opened.key]
    assert store.get(opened.key).status is TrialStatus.LOST


def test_a_reused_pid_does_not_keep_a_trial_alive(tmp_path: Path):
    store = TrialStore(tmp_path / "trials")
    reused = replace(plan(store.trials_folder), host=HOST, pid=os.getpid(), pid_start="1")
    opened = store.begin_trial(reused)

    found = store.get(opened.key)

    assert found.status is TrialStatus.LOST
    assert "the pid now belongs to another process" in found.error


def test_a_stale_heartbeat_from_another_host_is_lost_a_fresh_one_is_not(tmp_path: Path):
    store = TrialStore(tmp_path / "trials")
    far = replace(plan(store.trials_folder), host="node-17", pid=1234, pid_start="99")
    stale = store.begin_trial(far)
    fresh = store.begin_trial(replace(far, key="freshtrial"))
    old = datetime.now(UTC) - timedelta(seconds=liveness.DEFAULT_LOST_AFTER + 60)
    _set(store, stale.key, heartbeat_at=old.isoformat())

    statuses = {r.key: r for r in store.list_trials()}

    assert statuses[fresh.key].status is TrialStatus.RUNNING  # pid 1234 is not looked up there
    lost = statuses[stale.key]
    assert lost.status is TrialStatus.LOST
    assert "(pid 1234 on node-17) sent no heartbeat for" in lost.error
    assert "more than 600 s, $MITOSIS_LOST_AFTER" in lost.error
    assert lost.finished_at == old  # its last sign of life


def test_the_heartbeat_age_is_a_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    store = TrialStore(tmp_path / "trials")
    opened = store.begin_trial(replace(plan(store.trials_folder), host="node-17"))
    _set(store, opened.key, heartbeat_at=(datetime.now(UTC) - timedelta(seconds=90)).isoformat())
    assert store.get(opened.key).status is TrialStatus.RUNNING  # 90 s < 600 s

    monkeypatch.setenv(liveness.LOST_AFTER_VARIABLE, "60")

    assert store.get(opened.key).status is TrialStatus.LOST


def test_closing_a_lost_trial_is_race_safe_and_idempotent(tmp_path: Path):
    store = TrialStore(tmp_path / "trials")
    opened = store.begin_trial(replace(plan(store.trials_folder), host="node-17"))
    old = datetime.now(UTC) - timedelta(hours=1)
    _set(store, opened.key, heartbeat_at=old.isoformat())
    seen = store._get(opened.key)  # a reader's snapshot: stale heartbeat
    store.heartbeat(opened.key)  # ...but the driver beats before the reader writes

    [checked] = store._detect_lost([seen])

    assert checked.status is TrialStatus.RUNNING and checked.heartbeat_at > old
    assert _raw_status(store, opened.key) == "running"
    _set(store, opened.key, heartbeat_at=old.isoformat())
    first = store.get(opened.key)
    again = store.get(opened.key)
    assert first.status is again.status is TrialStatus.LOST
    assert first.error == again.error  # closed once; the second read changes nothing
    finished = store.begin_trial(replace(plan(store.trials_folder), host="node-17"))
    store.finish_trial(finished.key, status=TrialStatus.FINISHED, notebook=None, main=1.0)
    _set(store, finished.key, heartbeat_at=old.isoformat())
    assert store.get(finished.key).status is TrialStatus.FINISHED  # only `running` rows


def test_the_heartbeat_thread_refreshes_the_record(tmp_path: Path):
    store = TrialStore(tmp_path / "trials")
    opened = store.begin_trial(plan(store.trials_folder))
    _set(store, opened.key, heartbeat_at="2020-01-01T00:00:00+00:00")

    with liveness.Heartbeat(lambda: store.heartbeat(opened.key), interval=0.05):
        deadline = time.monotonic() + 60
        while store._get(opened.key).heartbeat_at.year == 2020:
            assert time.monotonic() < deadline, "the heartbeat never came"
            time.sleep(0.05)

    assert store.get(opened.key).status is TrialStatus.RUNNING


def test_a_heartbeat_that_cannot_be_written_does_not_stop_the_trial(caplog):
    calls = []

    def failing() -> None:
        calls.append(1)
        raise OSError("database is locked")

    with liveness.Heartbeat(failing, interval=0.01):
        while len(calls) < 2:
            time.sleep(0.01)

    assert "heartbeat not written: database is locked" in caplog.text


# The schema of version 1, as mitosis_hydra wrote it before trials had liveness columns.
_VERSION_1 = """
CREATE TABLE schema_info (version INTEGER NOT NULL);
CREATE TABLE variants (
    param_group VARCHAR(255) NOT NULL, name VARCHAR(255) NOT NULL, canonical TEXT NOT NULL,
    hash VARCHAR(64) NOT NULL, source TEXT, first_commit VARCHAR(64) NOT NULL,
    first_trial VARCHAR(64) NOT NULL, locked_at VARCHAR(40) NOT NULL,
    PRIMARY KEY (param_group, name));
CREATE TABLE trials (
    "key" VARCHAR(32) NOT NULL, experiment VARCHAR(255) NOT NULL, name VARCHAR(1024) NOT NULL,
    combo TEXT NOT NULL, iteration INTEGER NOT NULL, status VARCHAR(16) NOT NULL,
    seed BIGINT NOT NULL, "commit" VARCHAR(64) NOT NULL, variants TEXT NOT NULL,
    started_at VARCHAR(40) NOT NULL, finished_at VARCHAR(40), wall_time FLOAT, cpu_time FLOAT,
    main TEXT NOT NULL, metrics TEXT NOT NULL, folder TEXT NOT NULL, notebook TEXT,
    host VARCHAR(255), error TEXT, reproduction_of VARCHAR(32),
    PRIMARY KEY ("key"), CONSTRAINT uq_trials_combo_iteration UNIQUE (combo, iteration));
CREATE INDEX ix_trials_started_key ON trials (started_at, "key");
CREATE INDEX ix_trials_experiment_started ON trials (experiment, started_at);
CREATE TABLE audit (
    id INTEGER NOT NULL, at VARCHAR(40) NOT NULL, action VARCHAR(64) NOT NULL,
    detail TEXT NOT NULL, PRIMARY KEY (id));
INSERT INTO schema_info VALUES (1);
INSERT INTO variants VALUES ('amplitude', 'small', '4', '4b227777d4dd1fc6', NULL, 'c0ffee',
    'oldfinished1', '2026-01-05T10:00:00+00:00');
INSERT INTO trials VALUES ('oldfinished1', 'sine', 'sine-amplitude_small-1',
    '["sine",[["amplitude","small"]]]', 1, 'finished', 3, 'c0ffee',
    '{"amplitude": "small"}', '2026-01-05T10:00:00+00:00', '2026-01-05T10:00:02+00:00',
    2.0, 1.5, '0.25', '{"loss": 7}', 'sine-amplitude_small-1',
    'sine-amplitude_small-1/notebook.html', 'node-1', NULL, NULL);
INSERT INTO trials VALUES ('oldrunning12', 'sine', 'sine-amplitude_small-2',
    '["sine",[["amplitude","small"]]]', 2, 'running', 4, 'c0ffee',
    '{"amplitude": "small"}', '2026-01-05T11:00:00+00:00', NULL, NULL, NULL, 'null', '{}',
    'sine-amplitude_small-2', NULL, 'node-1', NULL, NULL);
"""


def test_a_version_1_database_gains_the_new_columns_and_keeps_every_row(tmp_path: Path):
    folder = tmp_path / "trials"
    folder.mkdir()
    with sqlite3.connect(folder / DB_FILENAME) as conn:
        conn.executescript(_VERSION_1)

    store = TrialStore(folder)
    [finished, running] = store.list_trials()

    assert (finished.key, finished.status, finished.main) == ("oldfinished1", "finished", 0.25)
    assert finished.metrics == {"loss": 7} and finished.seed == 3 and finished.host == "node-1"
    assert finished.pid is None and finished.heartbeat_at is None
    # No heartbeat column then: its start is its last sign of life, long ago.
    assert running.key == "oldrunning12" and running.status is TrialStatus.LOST
    assert "sent no heartbeat" in running.error
    with sqlite3.connect(folder / DB_FILENAME) as conn:
        assert conn.execute("SELECT version FROM schema_info").fetchall() == [
            (schema.SCHEMA_VERSION,)
        ]
        columns = {row[1] for row in conn.execute("PRAGMA table_info(trials)")}
        assert {"pid", "pid_start", "heartbeat_at"} <= columns
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert [lock.first_trial for lock in store.variant_locks()] == ["sine-amplitude_small-1"]
    nxt = store.begin_trial(plan(folder, {"amplitude": ("small", 4)}))
    assert nxt.iteration == 3  # counting goes on where version 1 left it
    # Opening it again (a new process) migrates nothing twice.
    TrialStore._create_engine(TrialStore(folder))
    assert len(store.list_trials()) == 3


def test_migrations_are_ordered_and_end_at_the_schema_version():
    versions = [version for version, _migrate in schema.MIGRATIONS]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    assert versions == list(range(2, 2 + len(versions)))  # 1 is the schema without migrations
    assert versions[-1] == schema.SCHEMA_VERSION
