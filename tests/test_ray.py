"""The quick-start sweep on a local Ray cluster: `hydra/launcher=ray`, and Ray as inner launcher.

hydra-ray-launcher (the `ray` extra) starts a local Ray in the driver process
(`ray.init`). Ray's side effects are kept in the test's folders: its session
files go to RAY_TMPDIR (by default /tmp/ray), and RAY_AUTH_MODE=disabled stops
ray 2.60 writing an auth token into $HOME.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from gitenv import git_environment
from test_readme import quickstart_copy

kernel = pytest.mark.kernel

LAUNCHERS = {
    "ray": ("--multirun", "hydra/launcher=ray"),
    "mitosis+ray": (
        "--multirun",
        "hydra/launcher=mitosis",
        "+hydra/launcher@hydra.launcher.inner=ray",
    ),
}


@pytest.fixture
def ray_tmp():
    pytest.importorskip("hydra_plugins.hydra_ray_launcher", reason="pip install -e '.[ray]'")
    folder = Path(tempfile.mkdtemp(prefix="ray-"))  # short: Ray's socket paths have a limit
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@kernel
@pytest.mark.parametrize("launcher", sorted(LAUNCHERS))
def test_the_quick_start_sweep_runs_on_a_local_ray(tmp_path, ray_tmp, launcher):
    project = quickstart_copy(tmp_path)
    home = tmp_path / "home"
    env = {**git_environment(home), "RAY_AUTH_MODE": "disabled", "RAY_TMPDIR": str(ray_tmp)}
    args = (
        *LAUNCHERS[launcher],
        "+hydra.launcher.ray.init.num_cpus=2",
        "+hydra.launcher.ray.init.include_dashboard=false",
        "+exp=sine",
        "amplitude=my_variant,big",
    )
    if launcher.startswith("mitosis"):
        args = tuple(a.replace("hydra.launcher.ray", "hydra.launcher.inner.ray") for a in args)
    done = subprocess.run(
        [sys.executable, "-m", "project_pkg", *args],
        cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    output = f"{done.stdout}\n{done.stderr}"

    assert done.returncode == 0, output
    from mitosis_hydra import list_trials

    trials = list_trials(project / "trials")
    assert sorted(t.variants["amplitude"] for t in trials) == ["big", "my_variant"], output
    assert {t.status for t in trials} == {"finished"}, output
    assert all(t.notebook.is_file() for t in trials)
    if launcher.startswith("mitosis"):
        assert "2 trials: 2 finished" in done.stdout, output
    assert not any(home.rglob("*auth*")), sorted(home.rglob("*"))
