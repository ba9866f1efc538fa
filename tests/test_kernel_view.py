"""What `run` sees of its trial inside the kernel: current_trial(), HydraConfig, its folder."""

from __future__ import annotations

import subprocess
import sys

import pytest

import mitosis_hydra
from mitosis_hydra import load_trial_data

kernel = pytest.mark.kernel

_ARTIFACTS = '''
"""An experiment that saves files, as researchers' code does."""

import sys
from pathlib import Path

import mitosis_hydra


def save(seed, amplitude, stray=None):
    already = "hydra.core.hydra_config" in sys.modules
    from hydra.core.hydra_config import HydraConfig

    hydra = HydraConfig.get()
    folder = Path(hydra.runtime.output_dir)
    (folder / "figures").mkdir()
    (folder / "figures" / "fit.txt").write_text("a figure")
    if stray:
        Path(stray).write_text("written to the working directory")
    trial = mitosis_hydra.current_trial()
    return {
        "main": float(amplitude),
        "hydra_imported_before_run": already,
        "output_dir": str(folder),
        "choices": dict(hydra.runtime.choices),
        "overrides": list(hydra.overrides.task),
        "trial": {
            "key": trial.key,
            "name": trial.name,
            "folder": str(trial.folder),
            "debug": trial.debug,
            "experiment": trial.experiment,
            "seed": trial.seed,
        },
    }


def plain(seed, amplitude):
    return {"main": 1.0, "hydra_imported": "hydra" in sys.modules}
'''


@pytest.fixture
def project(make_user_project):
    return make_user_project(
        {
            "userpkg/artifacts.py": _ARTIFACTS.lstrip(),
            "userpkg/conf/exp/save.yaml": "run: userpkg.artifacts:save\n",
            "userpkg/conf/exp/plain.yaml": "run: userpkg.artifacts:plain\n",
            "userpkg/conf/stray/csv.yaml": "_value_: results.csv\n",
        }
    )


def test_current_trial_is_none_outside_a_trial():
    assert mitosis_hydra.current_trial() is None
    assert "current_trial" in mitosis_hydra.__all__ and "CurrentTrial" in mitosis_hydra.__all__


@kernel
def test_run_sees_its_trial_and_hydra_config_and_its_files_are_listed(project):
    result = project.run("+exp=save", "amplitude=big", "seed=7")

    assert result.returncode == 0, result.output
    assert "Warning" not in result.stderr, result.output
    (record,) = project.trials()
    seen = load_trial_data(record.key, project.trials_folder)
    assert seen["hydra_imported_before_run"] is False  # imported by run, set on import
    assert seen["output_dir"] == str(record.folder)
    assert seen["choices"]["exp"] == "save" and seen["choices"]["amplitude"] == "big"
    assert seen["overrides"] == ["+exp=save", "amplitude=big", "seed=7"]
    assert seen["trial"] == {
        "key": record.key,
        "name": "save-amplitude_big-1",
        "folder": str(record.folder),
        "debug": False,
        "experiment": "save",
        "seed": 7,
    }
    assert (record.folder / "figures" / "fit.txt").read_text() == "a figure"
    assert project.status() == ""

    shown = subprocess.run(
        [sys.executable, "-m", "mitosis_hydra.read.cli", "show", record.key],
        cwd=project.root,
        env=project.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    start = lines.index("files written by run")
    assert lines[start + 1].split() == ["figures/fit.txt", "8", "bytes"], shown.stdout


@kernel
def test_a_debug_trial_knows_it_is_one(project):
    result = project.run("+exp=save", "debug=true")

    assert result.returncode == 0, result.output
    (folder,) = project.trial_folders()
    seen = load_trial_data_from_folder(project.trials_folder / folder)
    assert seen["trial"]["debug"] is True and seen["trial"]["name"] == folder
    assert seen["output_dir"] == str(project.trials_folder / folder)


def load_trial_data_from_folder(folder):
    import cloudpickle

    return cloudpickle.loads((folder / "results.pkl").read_bytes())


@kernel
def test_a_trial_that_never_asks_for_hydra_does_not_import_it(project):
    result = project.run("+exp=plain")

    assert result.returncode == 0, result.output
    (record,) = project.trials()
    assert load_trial_data(record.key, project.trials_folder)["hydra_imported"] is False


@kernel
def test_files_left_in_the_working_tree_are_named_with_the_trial_folder(project):
    result = project.run("+exp=save", "+stray=csv")

    assert result.returncode == 0, result.output
    (record,) = project.trials()
    lines = result.stderr.splitlines()
    assert lines[0] == (
        f"Warning: trial {record.name} left files in the git working tree; the next recorded "
        "trial will refuse to run until they are committed, git-ignored or removed:"
    ), result.output
    assert lines[1] == "  ?? results.csv"
    assert lines[2] == (
        f"Write a trial's files to its folder, {record.folder}: "
        "mitosis_hydra.current_trial().folder or HydraConfig.get().runtime.output_dir."
    )

    refused = project.run("+exp=save")
    assert refused.returncode == 2, refused.output
    assert "?? results.csv" in refused.stderr
