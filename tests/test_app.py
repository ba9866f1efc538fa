"""The Hydra app itself: Hydra's own errors, hints naming the user's package, structured configs."""

from __future__ import annotations

import pytest

kernel = pytest.mark.kernel


def refused_before_recording(project, *args: str):
    result = project.run(*args)
    assert result.returncode == 2, result.output
    assert project.trial_folders() == set(), result.output
    assert not (project.trials_folder / "mitosis.sqlite").exists()
    return result


def test_an_unknown_option_exits_2_with_hydras_message(user_project):
    result = refused_before_recording(user_project, "+exp=draw", "amplitude=nosuch")

    lines = result.stderr.splitlines()
    assert lines[0] == "In 'config': Could not find 'amplitude/nosuch'", result.output
    assert "Available options in 'amplitude':" in result.stderr
    assert "\tbig" in lines and "\tsmall" in lines


def test_with_hydra_full_error_the_traceback_is_shown_and_the_exit_code_is_still_2(user_project):
    result = user_project.run("+exp=draw", "amplitude=nosuch", env={"HYDRA_FULL_ERROR": "1"})

    assert result.returncode == 2, result.output
    assert result.stderr.startswith("Traceback (most recent call last):"), result.output
    assert (
        "hydra.errors.MissingConfigException: In 'config': Could not find 'amplitude/nosuch'"
        in (result.stderr)
    )


def test_an_unknown_group_or_experiment_exits_2(user_project):
    result = refused_before_recording(user_project, "+exp=draw", "nosuch=x")
    assert result.stderr.startswith("Could not override 'nosuch'."), result.output

    result = refused_before_recording(user_project, "+exp=nosuch")
    assert result.stderr.startswith("In 'config': Could not find 'exp/nosuch'"), result.output
    assert "\tdraw" in result.stderr.splitlines()


def test_a_malformed_override_and_an_unknown_option_in_a_sweep_exit_2(user_project):
    result = refused_before_recording(user_project, "+exp=draw", "amplitude=[1")
    assert "no viable alternative at input '[1'" in result.stderr, result.output

    result = refused_before_recording(user_project, "-m", "+exp=draw", "amplitude=big,nosuch")
    assert "Could not find 'amplitude/nosuch'" in result.stderr, result.output


def test_no_experiment_hint_names_the_users_package(user_project):
    result = refused_before_recording(user_project)

    assert result.stderr.splitlines() == [
        "No experiment was chosen.",
        "  every trial runs one experiment from the `exp` config group (conf/exp/<name>.yaml)",
        "Add +exp=<name> to the command line: python -m userpkg +exp=<name>",
    ], result.output


_STRUCTURED_MAIN = '''
"""A project whose configs all live in Hydra's ConfigStore: no YAML files at all."""

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore

import mitosis_hydra


@dataclass
class Config:
    defaults: list[Any] = field(
        default_factory=lambda: ["mitosis_hydra", "_self_", {"amplitude": "small"}]
    )
    seed: int = 5


@dataclass
class Draw:
    run: str = "userpkg.experiments:draw"


store = ConfigStore.instance()
store.store(name="config", node=Config)
store.store(group="exp", name="draw", node=Draw)
store.store(group="amplitude", name="small", node={"_value_": 4})
store.store(group="amplitude", name="big", node={"_value_": 10})

if __name__ == "__main__":
    mitosis_hydra.main(config_path=None, config_name="config")
'''


@kernel
def test_a_structured_primary_config_without_a_config_folder_runs_trials(make_user_project):
    files = {path: None for path in ("userpkg/conf/config.yaml", "userpkg/conf/exp/draw.yaml")}
    project = make_user_project({**files, "userpkg/__main__.py": _STRUCTURED_MAIN.lstrip()})

    result = project.run("+exp=draw", "amplitude=big")

    assert result.returncode == 0, result.output
    (record,) = project.trials()
    assert record.name == "draw-amplitude_big-1" and record.status == "finished"
    assert record.seed == 5 and record.main == 10.0
    assert project.status() == ""


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["/venv/bin/python", "-m", "labpkg", "+exp=x"], "python -m labpkg"),
        (["/venv/bin/python", "-m", "labpkg.__main__"], "python -m labpkg"),
        (["/venv/bin/python", "-X", "importtime", "-m", "labpkg"], "python -m labpkg"),
        (["/venv/bin/python", "scripts/train.py", "seed=1"], "python scripts/train.py"),
        (["/venv/bin/python"], "python -m <your package>"),
    ],
)
def test_hints_name_the_command_the_user_ran(monkeypatch, argv, command):
    import json

    from mitosis_hydra.core.command import USER_ARGV_VARIABLE, user_command

    monkeypatch.setenv(USER_ARGV_VARIABLE, json.dumps(argv))
    assert user_command() == command
