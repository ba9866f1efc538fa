"""Faults: a real SIGKILL of the driver, of the kernel, of a sweep worker, at each phase.

The kill comes from the test hook `MITOSIS_HYDRA_FAULT=<phase>` (mitosis_hydra/faults.py):
the driver kills itself (or its kernel) with SIGKILL exactly there, so no test waits
or guesses a moment. After each fault the trials database and the tree must hold:

- `PRAGMA integrity_check` is ok;
- no row is left `running` once a reader has looked (lost, failed or interrupted);
- no finished trial is lost or changed;
- no variant lock names a trial that does not exist;
- no two trials share an iteration of one variant combination;
- `git status` is clean.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time

import pytest

from mitosis_hydra.storage.faults import FAULT_VARIABLE, PHASES

kernel = pytest.mark.kernel
MITOSIS = ("--multirun", "hydra/launcher=mitosis", "hydra.launcher.n_jobs=1")


def cli(project, *args: str) -> subprocess.CompletedProcess:
    """`mitosis-hydra <args>` from the project's root, as a user runs it."""
    return project.cli(*args)


def assert_nothing_lost(project, finished: dict[str, float]) -> dict[str, str]:
    """The invariants above; returns key -> status of every trial (read through the API first)."""
    statuses = {t.key: t.status.value for t in project.trials()}  # a reader: detects lost ones
    with sqlite3.connect(project.trials_folder / "mitosis.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("SELECT key FROM trials WHERE status = 'running'").fetchall() == []
        for key, main in finished.items():
            row = db.execute("SELECT status, main FROM trials WHERE key = ?", (key,)).fetchone()
            assert row == ("finished", repr(main)), key
        orphans = db.execute(
            "SELECT param_group, name, first_trial FROM variants "
            "WHERE first_trial NOT IN (SELECT key FROM trials)"
        ).fetchall()
        assert orphans == []
        twice = db.execute(
            "SELECT combo, iteration FROM trials GROUP BY combo, iteration HAVING COUNT(*) > 1"
        ).fetchall()
        assert twice == []
        iterations = [i for (i,) in db.execute("SELECT iteration FROM trials ORDER BY iteration")]
        assert iterations == list(range(1, len(iterations) + 1))  # one combination: 1..n
    assert project.status() == ""
    return statuses


def first_finished(project) -> dict[str, float]:
    done = project.run("+exp=draw")
    assert done.returncode == 0, done.output
    [record] = project.trials()
    return {record.key: record.main}


@kernel
def test_killing_the_driver_at_each_phase_loses_nothing(user_project):
    finished = first_finished(user_project)
    expected = {"before-locks": None}  # nothing recorded yet: no row at all
    for phase in PHASES:
        before = {t.key for t in user_project.trials()}

        killed = user_project.run("+exp=draw", env={FAULT_VARIABLE: phase})

        assert killed.returncode == -signal.SIGKILL, killed.output
        statuses = assert_nothing_lost(user_project, finished)
        new = {key: status for key, status in statuses.items() if key not in before}
        if expected.get(phase, "lost") is None:
            assert new == {}, phase
        else:
            assert list(new.values()) == ["lost"], (phase, killed.output)
            [record] = [t for t in user_project.trials() if t.key in new]
            assert "its driver (pid " in record.error and ") is gone" in record.error


@kernel
def test_killing_the_kernel_at_each_phase_loses_nothing(user_project):
    finished = first_finished(user_project)
    # Before `run` is called the kernel's death interrupts the trial; after, it has finished.
    expected = {
        "before-locks": ("interrupted", 130),
        "record-opened": ("interrupted", 130),
        "executing": ("interrupted", 130),
        "exporting": ("finished", 0),
        "closing": ("finished", 0),
    }
    for phase in PHASES:
        before = {t.key for t in user_project.trials()}

        result = user_project.run("+exp=draw", env={FAULT_VARIABLE: f"kernel@{phase}"})

        status, code = expected[phase]
        assert result.returncode == code, (phase, result.output)
        assert "Kernel died" not in result.stdout  # nbclient's log line is not a result
        statuses = assert_nothing_lost(user_project, finished)
        new = [s for key, s in statuses.items() if key not in before]
        assert new == [status], (phase, result.output)
        if status == "finished":
            [record] = [t for t in user_project.trials() if t.key not in before]
            finished[record.key] = record.main
        else:
            assert "interrupted" in result.stdout  # the summary says what happened


@kernel
def test_killing_a_sweep_worker_at_each_phase_loses_nothing(user_project):
    finished = first_finished(user_project)
    for phase in PHASES:
        before = {t.key for t in user_project.trials()}

        sweep = user_project.run(*MITOSIS, "+exp=draw", env={FAULT_VARIABLE: phase})

        assert sweep.returncode != 0, (phase, sweep.output)
        statuses = assert_nothing_lost(user_project, finished)
        new = [s for key, s in statuses.items() if key not in before]
        if phase == "before-locks":
            assert new == [], sweep.output
        else:
            # The sweep closes its dead worker's record as failed; if the worker died
            # before it could even say which record it opened, a reader finds it lost.
            assert new in (["failed"], ["lost"]), (phase, sweep.output)
            if phase != "record-opened":
                assert new == ["failed"], (phase, sweep.output)
        assert "failed" in sweep.stdout, sweep.output


@kernel
def test_a_driver_killed_from_outside_shows_as_lost_everywhere(user_project, tmp_path):
    started = tmp_path / "experiment-started"
    driver = user_project.start("+exp=sleepy", env={"USERPKG_STARTED": str(started)})
    try:
        deadline = time.monotonic() + 120
        while not (started.exists() and started.read_text()):
            assert driver.poll() is None, driver.communicate()
            assert time.monotonic() < deadline, "the experiment never started"
            time.sleep(0.1)
        assert int(started.read_text()) == driver.pid  # the kernel's parent is the driver
        running = cli(user_project, "list", "--json")
        assert [t["status"] for t in json.loads(running.stdout)] == ["running"]
        os.kill(driver.pid, signal.SIGKILL)
        driver.communicate(timeout=60)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.communicate()

    table = cli(user_project, "list")
    assert table.returncode == 0, table.stderr
    assert "  lost  " in table.stdout and "running" not in table.stdout
    [record] = user_project.trials(status="lost")
    assert record.status == "lost" and record.finished_at is not None
    assert f"its driver (pid {driver.pid} on " in record.error
    listed = cli(user_project, "list", "--json", "--status", "lost")
    assert '"status": "lost"' in listed.stdout
    shown = cli(user_project, "show", record.key)
    assert shown.returncode == 0, shown.stderr
    assert "status      lost" in shown.stdout
    assert "is gone" in shown.stdout
    assert f"driver      pid {driver.pid}, last heartbeat 20" in shown.stdout
    compared = cli(user_project, "compare", "--status", "lost")
    assert compared.returncode == 0 and "(lost)" in compared.stdout
    index = cli(user_project, "index")
    assert index.returncode == 0, index.stderr
    page = (user_project.trials_folder / "index.html").read_text()
    assert ">lost<" in page and "s-lost" in page
    assert user_project.status() == ""
