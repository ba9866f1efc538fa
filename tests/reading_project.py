"""A small user project in a real git repository, for the tests of reading results.

`wave_pkg` has three experiments: `wave` (deterministic given the seed), `noisy`
(draws from os.urandom, so a re-run differs) and `broken` (raises). Trials run
as `python -m wave_pkg …` subprocesses, exactly as a user runs them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

FILES = {
    "wave_pkg/__init__.py": "",
    "wave_pkg/__main__.py": (
        "import mitosis_hydra\n\n"
        "if __name__ == '__main__':\n"
        "    mitosis_hydra.main(config_path='conf', config_name='config')\n"
    ),
    "wave_pkg/experiment.py": (
        "import random\n\nOFFSET = 0.0\n\n\n"
        "def run(seed, scale, shift):\n"
        "    value = scale * random.Random(seed).random() + shift + OFFSET\n"
        "    return {'main': value, 'metrics': {'double': 2 * value}}\n"
    ),
    "wave_pkg/noisy.py": (
        "import os\n\n\n"
        "def run(seed, scale, shift):\n"
        "    noise = int.from_bytes(os.urandom(6), 'big') / 2**48\n"
        "    return {'main': scale * (1.0 + 1e-9 * noise) + shift}\n"
    ),
    "wave_pkg/broken.py": (
        "def run(seed, scale, shift):\n    raise ValueError('broken on purpose')\n"
    ),
    "wave_pkg/conf/config.yaml": (
        "defaults:\n  - mitosis_hydra\n  - _self_\n  - scale: small\n  - shift: zero\n"
    ),
    "wave_pkg/conf/exp/wave.yaml": "name: wave\nrun: wave_pkg.experiment:run\n",
    "wave_pkg/conf/exp/noisy.yaml": "name: noisy\nrun: wave_pkg.noisy:run\n",
    "wave_pkg/conf/exp/broken.yaml": "name: broken\nrun: wave_pkg.broken:run\n",
    "wave_pkg/conf/scale/small.yaml": "_value_: 1.0\n",
    "wave_pkg/conf/scale/big.yaml": "_value_: 10.0\n",
    "wave_pkg/conf/shift/zero.yaml": "_value_: 0.0\n",
}


def environment() -> dict[str, str]:
    """The test's environment, with this venv's scripts first and no PYTHONPATH leaking in."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PYTHONPATH", None)
    env.pop("MITOSIS_REPRODUCTION_OF", None)
    return env


def git(project: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=project, capture_output=True, text=True, check=True)
    return result.stdout.strip()


def make_project(root: Path) -> Path:
    """A committed copy of wave_pkg in a new git repository under `root`."""
    project = root / "project"
    for name, text in FILES.items():
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(project, "init", "-q", "-b", "main")
    git(project, "config", "user.email", "tests@example.com")
    git(project, "config", "user.name", "Tests")
    commit(project, "wave project")
    return project


def commit(project: Path, message: str) -> str:
    git(project, "add", "-A")
    git(project, "commit", "-qm", message)
    return git(project, "rev-parse", "HEAD")


def run_trials(project: Path, *overrides: str, check: bool = True) -> subprocess.CompletedProcess:
    """`python -m wave_pkg <overrides>` in the project (a trial, or a sweep with --multirun)."""
    result = subprocess.run(
        [sys.executable, "-m", "wave_pkg", *overrides],
        cwd=project,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def cli(project: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """`mitosis-hydra <args>` run from the project's working tree, as a user runs it."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "mitosis-hydra"), *args],
        cwd=project,
        env=environment(),
        capture_output=True,
        text=True,
        input=stdin,
        timeout=600,
    )


def cli_json(project: Path, *args: str):
    result = cli(project, *args, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)
