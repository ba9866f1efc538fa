"""The storage layer's plumbing: schema versions (0 → current by create_all, older ones by
migrations), the refusal of a newer database, the per-process engines' hooks, and the one
place wall time is computed."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_liveness import _VERSION_1

from mitosis_hydra.core.errors import StoreError
from mitosis_hydra.core.records import TrialRecord, TrialStatus, close_record
from mitosis_hydra.storage import schema
from mitosis_hydra.storage.store import DB_FILENAME, TrialStore, close_engines


def _indexes(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall()
    return {name for (name,) in rows if not name.startswith("sqlite_autoindex")}


def _version(path: Path) -> list[tuple[int]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT version FROM schema_info").fetchall()


def test_a_new_database_gets_the_current_schema_and_every_index_at_once(tmp_path: Path):
    store = TrialStore(tmp_path / "trials")
    store.engine  # noqa: B018 - making the engine creates the database

    path = tmp_path / "trials" / DB_FILENAME
    assert _version(path) == [(schema.SCHEMA_VERSION,)]
    assert _indexes(path) == {index.name for index in schema.trials.indexes}


def test_a_version_1_database_without_the_later_indexes_gains_them_by_migration(tmp_path: Path):
    folder = tmp_path / "trials"
    folder.mkdir()
    without_index = _VERSION_1.replace(
        'CREATE INDEX ix_trials_started_key ON trials (started_at, "key");\n', ""
    )
    assert without_index != _VERSION_1
    with sqlite3.connect(folder / DB_FILENAME) as conn:
        conn.executescript(without_index)
    assert "ix_trials_started_key" not in _indexes(folder / DB_FILENAME)

    assert [r.key for r in TrialStore(folder).list_trials()] == ["oldfinished1", "oldrunning12"]

    assert _indexes(folder / DB_FILENAME) == {index.name for index in schema.trials.indexes}
    assert _version(folder / DB_FILENAME) == [(schema.SCHEMA_VERSION,)]
    close_engines()


def test_a_database_of_a_newer_schema_version_is_refused_and_left_as_it_is(tmp_path: Path):
    folder = tmp_path / "trials"
    TrialStore(folder).engine  # noqa: B018
    close_engines()
    newer = schema.SCHEMA_VERSION + 1
    with sqlite3.connect(folder / DB_FILENAME) as conn:
        conn.execute("UPDATE schema_info SET version = ?", (newer,))

    with pytest.raises(StoreError) as caught:
        TrialStore(folder).list_trials()

    first, *_rest, last = str(caught.value).splitlines()
    assert first == (
        f"The trials database sqlite:///{(folder / DB_FILENAME).resolve()} has schema version "
        f"{newer}, newer than this mitosis_hydra understands ({schema.SCHEMA_VERSION})."
    )
    assert last == "Upgrade mitosis_hydra to read it."
    assert _version(folder / DB_FILENAME) == [(newer,)]


def test_engine_hooks_are_registered_with_the_first_engine_not_at_import(tmp_path: Path):
    # A fresh interpreter: how many exit callbacks importing, then opening, adds; and
    # whether a forked child starts without the engines its parent pooled.
    script = textwrap.dedent(
        f"""
        import atexit, logging, os
        import sqlalchemy  # what the package imports may register callbacks of its own
        before = atexit._ncallbacks()
        from mitosis_hydra.storage import engine
        from mitosis_hydra.storage.store import TrialStore
        imported = atexit._ncallbacks()
        TrialStore({str(tmp_path / "a")!r}).engine
        first = atexit._ncallbacks()
        TrialStore({str(tmp_path / "b")!r}).engine
        second = atexit._ncallbacks()
        pid = os.fork()
        if pid == 0:
            os._exit(len(engine._ENGINES))
        _, status = os.waitpid(pid, 0)
        print(imported - before, first - imported, second - first,
              len(engine._ENGINES), os.waitstatus_to_exitcode(status))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    # import: none; first engine: one; second: none; parent keeps 2, the child has 0
    assert done.stdout.split() == ["0", "1", "0", "2", "0"]


def test_close_record_computes_wall_time_from_start_to_end():
    started = datetime(2026, 1, 5, 10, 0, 0, tzinfo=UTC)
    record = TrialRecord(
        key="k",
        experiment="sine",
        name="sine-1",
        iteration=1,
        status=TrialStatus.RUNNING,
        seed=0,
        commit="c0ffee",
        variants={},
        started_at=started,
        folder=Path("sine-1"),
    )
    closed = close_record(
        record,
        status=TrialStatus.FAILED,
        finished_at=datetime(2026, 1, 5, 10, 1, 2, 500000, tzinfo=UTC),
        error="boom",
    )

    assert closed.wall_time == 62.5
    assert (closed.status, closed.error, closed.metrics) == (TrialStatus.FAILED, "boom", {})
    assert closed.started_at == started and record.status is TrialStatus.RUNNING
