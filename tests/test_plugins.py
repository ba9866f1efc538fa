"""Hydra finds the mitosis launcher through the installed package, as a user's app sees it."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def test_info_plugins_lists_the_mitosis_launcher(user_project):
    result = user_project.run("--info", "plugins")

    assert result.returncode == 0, result.output
    launchers = result.stdout.split("Launcher:")[1].split("Sweeper:")[0]
    assert "MitosisLauncher" in launchers, result.output
    assert "BasicLauncher" in launchers  # the shim hides no other plugin


def test_the_launcher_config_is_selectable_with_its_defaults(user_project):
    result = user_project.run(
        "hydra/launcher=mitosis", "--cfg", "hydra", "--package", "hydra.launcher"
    )

    assert result.returncode == 0, result.output
    assert "hydra_plugins.mitosis_launcher.mitosis_launcher.MitosisLauncher" in result.stdout
    assert "n_jobs: null" in result.stdout
    assert "inner: null" in result.stdout


def test_hydra_plugins_stays_a_namespace_package():
    spec = importlib.util.find_spec("hydra_plugins")
    assert spec is not None and spec.submodule_search_locations
    for location in spec.submodule_search_locations:
        assert not (Path(location) / "__init__.py").exists(), location
