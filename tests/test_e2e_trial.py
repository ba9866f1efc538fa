"""One trial, end to end: a user's package run as `python -m userpkg …` in a real git repo.

Every test here starts real processes: the Hydra app, its Jupyter kernel, git
and SQLite. Nothing of mitosis_hydra is mocked. A test that runs several trials
does so because each trial is the setup of the next check (iteration counting,
locks), not to save time at the cost of independence.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from mitosis_hydra import load_trial_data

kernel = pytest.mark.kernel


def finished(project, *args: str):
    """Run a trial that must finish; return its run and its record."""
    before = {record.key for record in project.trials()}
    result = project.run(*args)
    assert result.returncode == 0, result.output
    new = [record for record in project.trials() if record.key not in before]
    assert len(new) == 1, result.output
    assert new[0].status == "finished", result.output
    return result, new[0]


def dirty_entries(project) -> list[str]:
    """`git status` lines, without the bytecode caches Python itself writes on import."""
    return [line for line in project.status().splitlines() if "__pycache__" not in line]


@kernel
def test_first_trial_is_recorded_with_its_files(user_project):
    result, record = finished(user_project, "+exp=draw")

    name = "draw-amplitude_small-1"
    assert f"trial {name} (key {record.key}): finished" in result.stdout
    assert "main: 4.0" in result.stdout
    assert f"notebook: {record.notebook}" in result.stdout
    assert record.name == name and record.experiment == "draw" and record.iteration == 1
    assert record.variants == {"amplitude": "small"}
    assert (record.seed, record.main, record.metrics) == (0, 4.0, {"seed_plus_one": 1})
    assert record.commit == user_project.head()
    assert record.started_at <= record.finished_at
    assert record.notebook == user_project.trials_folder / name / "notebook.html"
    assert record.notebook.is_file()
    assert "draw-amplitude_small-1" in record.notebook.read_text()

    folder = record.notebook.parent
    assert "_value_: 4" in (folder / "config.yaml").read_text()
    environment = json.loads((folder / "environment.json").read_text())
    assert environment["git"]["commit"] == user_project.head()
    assert environment["python"].count(".") == 2
    assert any(
        line.lower().startswith(("mitosis-hydra", "-e ")) for line in environment["packages"]
    )
    assert any(line.startswith("numpy==") for line in environment["packages"])
    assert "drawing with amplitude 4 and seed 0" in (folder / "trial.log").read_text()
    assert not (folder / "git-diff.patch").exists()

    data = load_trial_data(record.key, user_project.trials_folder)
    assert data["main"] == 4.0 and data["amplitude"] == 4
    assert load_trial_data(record.key[:6], user_project.trials_folder) == data


@kernel
def test_reruns_count_iterations_reuse_seeds_and_keep_the_tree_clean(user_project):
    _, first = finished(user_project, "+exp=draw")
    _, second = finished(user_project, "+exp=draw", "seed=0", "mitosis.format=both")
    _, third = finished(user_project, "+exp=draw", "seed=7")

    assert [first.iteration, second.iteration, third.iteration] == [1, 2, 3]
    assert second.name == "draw-amplitude_small-2" and third.name.endswith("-3")
    assert (second.notebook.parent / "notebook.html").is_file()
    assert (second.notebook.parent / "notebook.ipynb").is_file()
    assert not (first.notebook.parent / "notebook.ipynb").exists()

    data = [load_trial_data(r.key, user_project.trials_folder) for r in (first, second, third)]
    for draws in ("random_draws", "numpy_draws"):
        assert data[0][draws] == data[1][draws]
        assert data[0][draws] != data[2][draws]

    # The repo has no .gitignore: mitosis_hydra and Hydra keep their files out of git alone.
    assert not (user_project.root / ".gitignore").exists()
    assert dirty_entries(user_project) == []
    assert not (user_project.root / "outputs").exists()


@kernel
def test_changed_variant_value_is_refused_until_it_gets_a_new_name(user_project):
    _, first = finished(user_project, "+exp=draw")
    first_commit = user_project.head()
    user_project.write("userpkg/conf/amplitude/small.yaml", "_value_: 5\n")
    user_project.commit("make small bigger")
    folders = user_project.trial_folders()

    refused = user_project.run("+exp=draw")

    assert refused.returncode != 0, refused.output
    message = refused.stderr
    assert "Variant amplitude=small is already locked to a different value." in message
    assert f"first locked by trial {first.name} (commit {first_commit[:7]}, " in message
    assert re.search(r"\d{4}-\d{2}-\d{2}", message)
    assert re.search(r"stored: 4\s+new: 5\b", message), message
    assert "userpkg/conf/amplitude/small.yaml" in message
    assert "new name" in message and "release amplitude/small" in message
    assert "Traceback" not in message
    assert "finished" not in refused.stdout
    assert [r.key for r in user_project.trials()] == [first.key]
    assert user_project.trial_folders() == folders

    user_project.write("userpkg/conf/amplitude/small_v2.yaml", "_value_: 5\n")
    user_project.commit("name the new value")
    _, renamed = finished(user_project, "+exp=draw", "amplitude=small_v2")
    assert renamed.name == "draw-amplitude_small_v2-1" and renamed.main == 5.0


@kernel
def test_int_to_float_is_a_different_value(user_project):
    finished(user_project, "+exp=draw")
    user_project.write("userpkg/conf/amplitude/small.yaml", "_value_: 4.0\n")
    user_project.commit("4 as a float")
    folders = user_project.trial_folders()

    refused = user_project.run("+exp=draw")

    assert refused.returncode != 0, refused.output
    assert re.search(r"stored: 4\s+new: 4\.0\b", refused.stderr), refused.output
    assert len(user_project.trials()) == 1
    assert user_project.trial_folders() == folders


@kernel
def test_dirty_tree_is_refused_and_debug_runs_anyway(user_project):
    user_project.write("userpkg/notes.txt", "an idea\n")
    experiments = user_project.root / "userpkg/experiments.py"
    experiments.write_text(experiments.read_text() + "\n# an uncommitted tweak\n")

    refused = user_project.run("+exp=draw")

    assert refused.returncode != 0, refused.output
    assert "userpkg/notes.txt" in refused.stderr and "userpkg/experiments.py" in refused.stderr
    assert "uncommitted changes" in refused.stderr and "debug=true" in refused.stderr
    assert user_project.trials() == [] and user_project.trial_folders() == set()

    result = user_project.run("+exp=draw", "debug=true")

    assert result.returncode == 0, result.output
    assert "debug trial" in result.stdout and "finished" in result.stdout
    assert user_project.trials() == []
    (folder,) = user_project.trial_folders()
    assert "debug" in folder
    patch = (user_project.trials_folder / folder / "git-diff.patch").read_text()
    assert "an uncommitted tweak" in patch and "an idea" in patch
    assert (user_project.trials_folder / folder / "notebook.html").is_file()


@kernel
def test_target_objects_are_built_in_the_kernel_and_containers_arrive_plain(user_project):
    _, record = finished(
        user_project, "+exp=draw", "+model=unpicklable", "+shape=grid", "+sizes=three"
    )

    assert record.variants == {
        "amplitude": "small",
        "model": "unpicklable",
        "shape": "grid",
        "sizes": "three",
    }
    data = load_trial_data(record.key, user_project.trials_folder)
    assert data["model"] == {"class": "Unpicklable", "size": 3, "name": "unpicklable"}
    assert data["others"] == {
        "shape": {"width": 3, "layers": [8, 4], "options": {"bias": True}},
        "sizes": [1, 2, 3],
    }
    assert data["types"] == {
        "shape": {
            "type": "dict",
            "items": {
                "width": "int",
                "layers": {"type": "list", "items": ["int", "int"]},
                "options": {"type": "dict", "items": {"bias": "bool"}},
            },
        },
        "sizes": {"type": "list", "items": ["int", "int", "int"]},
    }


@kernel
def test_failing_experiment_is_recorded_failed_with_its_traceback(user_project):
    result = user_project.run("+exp=boom")

    assert result.returncode != 0, result.output
    assert "ValueError" in result.stderr and "Traceback" in result.stderr
    assert "boom: the experiment broke with amplitude 4" in result.stderr
    assert "userpkg/experiments.py" in result.stderr
    (record,) = user_project.trials()
    assert record.status == "failed" and record.name == "boom-amplitude_small-1"
    assert "failed" in result.stdout
    html = record.notebook.read_text()
    assert "boom: the experiment broke with amplitude 4" in html
    assert "ValueError" in html


@kernel
def test_result_without_main_fails_naming_main(user_project):
    result = user_project.run("+exp=no_main")

    assert result.returncode != 0, result.output
    assert "must return a dict with the key 'main'" in result.stderr
    assert "['score']" in result.stderr
    (record,) = user_project.trials()
    assert record.status == "failed" and record.main is None
    assert "'main'" in record.error
    assert record.notebook.is_file()


@kernel
def test_outside_git_only_debug_trials_run(make_user_project):
    project = make_user_project(git=False)

    refused = project.run("+exp=draw")

    assert refused.returncode != 0, refused.output
    assert "must run inside a git working tree" in refused.stderr
    assert "git init" in refused.stderr and "debug=true" in refused.stderr
    assert project.trial_folders() == set()

    result = project.run("+exp=draw", "debug=true")

    assert result.returncode == 0, result.output
    (folder,) = project.trial_folders()
    assert "debug" in folder
    assert (project.trials_folder / folder / "notebook.html").is_file()
    assert project.trials() == []


@kernel
def test_sigterm_interrupts_the_trial_and_keeps_its_notebook(user_project, tmp_path):
    started = tmp_path / "experiment-started"
    driver = user_project.start("+exp=sleepy", env={"USERPKG_STARTED": str(started)})
    try:
        wait_for(started, driver)
        driver.send_signal(signal.SIGTERM)
        stdout, stderr = driver.communicate(timeout=60)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.communicate()

    assert driver.returncode != 0, stdout + stderr
    (record,) = user_project.trials()
    assert record.status == "interrupted", stdout + stderr
    assert "interrupted" in stdout
    assert record.notebook is not None and record.notebook.is_file()


def wait_for(marker: Path, process: subprocess.Popen, limit: float = 120) -> None:
    """Wait until the experiment says it runs (the limit is a safety net, not an assertion)."""
    deadline = time.monotonic() + limit
    while not marker.exists():
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"the driver exited before the experiment started:\n{out}\n{err}")
        if time.monotonic() > deadline:
            pytest.fail("the experiment never started")
        time.sleep(0.05)


def test_help_and_cfg_job_work_like_any_hydra_app(user_project):
    helped = user_project.run("--help")
    assert helped.returncode == 0, helped.output
    assert "amplitude: big, small" in helped.stdout
    assert "exp: boom, draw, no_main, sleepy" in helped.stdout

    shown = user_project.run("--cfg", "job", "+exp=draw", "amplitude=big", "seed=3")
    assert shown.returncode == 0, shown.output
    assert "seed: 3" in shown.stdout
    assert "_value_: 10" in shown.stdout
    assert "run: userpkg.experiments:draw" in shown.stdout

    assert user_project.trial_folders() == set()
    assert dirty_entries(user_project) == []
