"""Reserved trials (`queued`): made atomically, taken over once by their job, closed by a
reader when their job will never start, in flight for a resumed sweep, and migrated."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from test_store import COMMIT, plan

from mitosis_hydra import list_trials
from mitosis_hydra.core.errors import ReservationError
from mitosis_hydra.core.layout import RECORD_FILE
from mitosis_hydra.core.outcomes import STATUS_ANSI, STATUS_HTML, STATUS_STYLE, exit_code
from mitosis_hydra.core.records import TrialStatus
from mitosis_hydra.storage import liveness, schema
from mitosis_hydra.storage.rebuild import rebuild
from mitosis_hydra.storage.store import DB_FILENAME, TrialStore

HOST = liveness.this_host()


def reserve(store: TrialStore, **changes) -> object:
    return store.begin_trial(
        replace(plan(store.trials_folder), status=TrialStatus.QUEUED, **changes)
    )


def job_plan(store: TrialStore, **changes):
    """What the job's recipe asks the store for when it starts (its own pid and host)."""
    return replace(plan(store.trials_folder), host=HOST, pid=12345, pid_start="99", **changes)


def record_json(record) -> dict:
    return json.loads((record.folder / RECORD_FILE).read_text())["record"]


def test_a_reservation_takes_name_iteration_folder_and_locks_without_a_pid(tmp_path: Path):
    store = TrialStore(tmp_path / "trials")
    queued = reserve(store)

    assert queued.status is TrialStatus.QUEUED and queued.pid is None
    assert queued.name == "sine-amplitude_small-1" and queued.folder.is_dir()
    assert record_json(queued)["status"] == "queued"
    assert [lock.name for lock in store.variant_locks()] == ["small"]
    # the next trial of the same combination counts on from it
    assert store.begin_trial(plan(store.trials_folder)).iteration == 2
    # no pid, no heartbeat: liveness never closes it, however old
    [listed] = list_trials(store.trials_folder, status="queued")
    assert listed.key == queued.key


def test_its_job_takes_it_over_once_and_a_second_taker_is_refused(tmp_path: Path):
    store = TrialStore(tmp_path / "trials")
    queued = reserve(store)

    started = store.take_over(queued.key, job_plan(store))

    assert (started.key, started.name, started.iteration) == (queued.key, queued.name, 1)
    assert started.status is TrialStatus.RUNNING
    assert (started.pid, started.host) == (12345, HOST) and started.heartbeat_at is not None
    assert record_json(started)["status"] == "running"
    with pytest.raises(ReservationError) as refused:
        store.take_over(queued.key, job_plan(store))
    message = str(refused.value)
    assert message.startswith(f"This job cannot start its reserved trial {queued.key} (")
    assert "it is no longer queued: it is running" in message
    assert message.splitlines()[-1].startswith(
        f"See the trial with: mitosis-hydra show {queued.key}"
    )
    assert exit_code(refused.value) == 2


def test_a_job_at_another_commit_or_with_another_seed_is_refused_and_writes_nothing(
    tmp_path: Path,
):
    store = TrialStore(tmp_path / "trials")
    queued = reserve(store)
    before = (store.trials_folder / DB_FILENAME).read_bytes(), record_json(queued)

    with pytest.raises(ReservationError) as refused:
        store.take_over(queued.key, replace(job_plan(store), commit="f" * 40, seed=7))

    assert f"commit: reserved {COMMIT}, this job {'f' * 40}" in str(refused.value)
    assert "seed: reserved 0, this job 7" in str(refused.value)
    assert store.get(queued.key).status is TrialStatus.QUEUED
    assert record_json(queued) == before[1]
    with pytest.raises(ReservationError, match="no trial has this key"):
        store.take_over("nosuchkey0", job_plan(store))


def test_a_local_job_that_ended_without_starting_its_trial_closes_it_as_lost(tmp_path: Path):
    store = TrialStore(tmp_path / "trials")
    child = subprocess.Popen(["sleep", "30"])
    alive = reserve(store, host=HOST)
    store.name_scheduler_job(alive.key, f"local:{child.pid}")
    assert store.get(alive.key).status is TrialStatus.QUEUED  # its job still runs
    child.kill()
    child.wait()

    [lost] = list_trials(store.trials_folder)

    assert lost.status is TrialStatus.LOST and lost.scheduler_job == f"local:{child.pid}"
    assert lost.error == f"its local job (pid {child.pid}) ended without starting the trial"
    assert record_json(lost)["status"] == "lost"


def test_a_slurm_job_stays_queued_where_squeue_cannot_be_asked(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "no-slurm-here"))
    store = TrialStore(tmp_path / "trials")
    queued = reserve(store)
    store.name_scheduler_job(queued.key, "slurm:999999_0")

    assert store.get(queued.key).status is TrialStatus.QUEUED


def test_a_released_reservation_is_failed_and_says_why(tmp_path: Path):
    store = TrialStore(tmp_path / "trials")
    queued = reserve(store)

    released = store.release(queued.key, "never submitted: RuntimeError: sbatch failed")

    assert released.status is TrialStatus.FAILED and released.finished_at is not None
    assert released.error == "never submitted: RuntimeError: sbatch failed"


def test_queued_and_running_trials_of_the_same_spec_are_in_flight(tmp_path: Path):
    store = TrialStore(tmp_path / "trials")
    queued = reserve(store)
    args = ("sine", {"amplitude": "small"}, 0, COMMIT)

    assert store.in_flight_trial(*args).key == queued.key
    assert store.in_flight_trial("sine", {"amplitude": "small"}, 1, COMMIT) is None
    store.take_over(queued.key, job_plan(store))
    assert store.in_flight_trial(*args).status is TrialStatus.RUNNING
    store.finish_trial(queued.key, status=TrialStatus.FINISHED, notebook=None, main=1.0)
    assert store.in_flight_trial(*args) is None
    assert store.finished_trial(*args).key == queued.key


def test_rebuild_keeps_a_queued_trial_and_its_scheduler_job(tmp_path: Path):
    store = TrialStore(tmp_path / "trials")
    queued = reserve(store)
    store.name_scheduler_job(queued.key, "slurm:12_3")
    (store.trials_folder / DB_FILENAME).unlink()

    rebuild(store.trials_folder)

    with sqlite3.connect(store.trials_folder / DB_FILENAME) as conn:
        row = conn.execute("SELECT status, scheduler_job FROM trials").fetchone()
    assert row == ("queued", "slurm:12_3")


def test_a_version_3_database_gains_the_scheduler_job_column(tmp_path: Path):
    folder = tmp_path / "trials"
    store = TrialStore(folder)
    opened = store.begin_trial(plan(folder))
    with sqlite3.connect(folder / DB_FILENAME) as conn:
        conn.execute("ALTER TABLE trials DROP COLUMN scheduler_job")
        conn.execute("UPDATE schema_info SET version = 3")
    TrialStore._create_engine(TrialStore(folder))

    with sqlite3.connect(folder / DB_FILENAME) as conn:
        assert conn.execute("SELECT version FROM schema_info").fetchone() == (4,)
        columns = {row[1] for row in conn.execute("PRAGMA table_info(trials)")}
    assert "scheduler_job" in columns and schema.SCHEMA_VERSION == 4
    assert TrialStore(folder).get(opened.key).scheduler_job is None


def test_queued_has_a_colour_everywhere_a_status_is_shown():
    for table in (STATUS_STYLE, STATUS_ANSI, STATUS_HTML):
        assert TrialStatus.QUEUED in table
    assert exit_code(TrialStatus.QUEUED) == 0


def test_a_sweep_without_a_scheduler_is_refused_before_it_writes_anything(user_project):
    result = user_project.run(
        "--multirun", "hydra/launcher=mitosis", "hydra.launcher.wait=false",
        "+exp=draw", "amplitude=small,big",
    )  # fmt: skip

    assert result.returncode == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[0] == (
        "hydra.launcher.wait=false needs a scheduler to hand the trials to; this sweep has none."
    ), result.output
    assert lines[-1].startswith("Add +hydra/launcher@hydra.launcher.inner=submitit_slurm")
    assert user_project.trial_folders() == set()
    assert not (user_project.trials_folder / ".hydra" / "multirun").exists()


def test_list_show_and_the_index_show_a_queued_trial(tmp_path: Path, monkeypatch):
    from mitosis_hydra import write_index

    monkeypatch.setenv("PATH", str(tmp_path / "no-slurm-here"))  # it stays queued
    store = TrialStore(tmp_path / "trials")
    queued = reserve(store)
    store.name_scheduler_job(queued.key, "slurm:41_0")

    page = write_index(store.trials_folder).read_text()
    assert '<span class="status s-queued">1 queued</span>' in page
    assert ".s-queued{background:#1565c0}" in page
    [record] = list_trials(store.trials_folder, status="queued")
    assert record.to_json()["scheduler_job"] == "slurm:41_0"


def test_list_and_show_print_queued_and_the_job(tmp_path: Path):
    store = TrialStore(tmp_path / "trials")
    queued = reserve(store)
    store.name_scheduler_job(queued.key, "local:1")  # a job of another host: stays queued
    cli = [str(Path(sys.executable).parent / "mitosis-hydra")]
    folder = ["--trials-folder", str(store.trials_folder)]

    listed = subprocess.run([*cli, "list", *folder], capture_output=True, text=True, check=True)
    shown = subprocess.run(
        [*cli, "show", queued.key, *folder], capture_output=True, text=True, check=True
    )

    assert f"{queued.key}  {queued.name}  queued" in listed.stdout
    assert re.search(r"status\s+queued", shown.stdout), shown.stdout
    assert re.search(r"submitted as\s+local job 1\n", shown.stdout), shown.stdout


GATED = """
import os, time
from pathlib import Path


def run(seed, amplitude):
    gate = Path(os.environ["USERPKG_GATE"])
    while not gate.exists():  # the test opens it once the sweep has returned
        time.sleep(0.1)
    return {"main": float(amplitude)}
"""


@pytest.mark.kernel
def test_submitit_local_jobs_outlive_a_sweep_that_does_not_wait(user_project, tmp_path):
    user_project.write(f"{user_project.package}/gated.py", GATED)
    user_project.write(
        f"{user_project.package}/conf/exp/gated.yaml", f"run: {user_project.package}.gated:run\n"
    )
    user_project.commit("a gated experiment")
    gate = tmp_path / "gate"
    log = tmp_path / "sweep.log"
    with log.open("w") as out:  # submitit's local jobs inherit the command's output
        done = subprocess.run(
            user_project.command(
                "--multirun", "hydra/launcher=mitosis", "hydra.launcher.wait=false",
                "+hydra/launcher@hydra.launcher.inner=submitit_local",
                "+exp=gated", "amplitude=small,big",
            ),
            cwd=user_project.root, env={**user_project.env, "USERPKG_GATE": str(gate)},
            stdout=out, stderr=subprocess.STDOUT,
            timeout=300, check=False,
        )  # fmt: skip
    output = log.read_text()
    try:
        assert done.returncode == 0, output
        records = user_project.trials()
        # the command has returned; the trials wait for the gate, which the test opens now
        assert len(records) == 2 and {r.status for r in records} <= {"queued", "running"}, output
        for record in records:
            assert record.scheduler_job.startswith("local:"), record
            assert f"key {record.key}  queued  local job " in output, output
        # a resumed sweep, here in the launcher's own workers, runs neither again
        resumed = user_project.run(
            "--multirun", "hydra/launcher=mitosis", "hydra.launcher.resume=true",
            "+exp=gated", "amplitude=small,big", env={"USERPKG_GATE": str(gate)},
        )  # fmt: skip
        assert resumed.returncode == 0, resumed.output
        assert re.search(
            r"2 trials: (2 queued|2 running|1 queued, 1 running|1 running, 1 queued)",
            resumed.stdout,
        ), resumed.output
        assert len(user_project.trials()) == 2
    finally:
        gate.touch()  # never leave a job waiting
    deadline = time.monotonic() + 240
    while {r.status for r in user_project.trials()} != {"finished"}:
        assert time.monotonic() < deadline, [(r.name, r.status, r.error) for r in records]
        time.sleep(0.5)
    assert {r.key for r in user_project.trials()} == {r.key for r in records}  # taken over
