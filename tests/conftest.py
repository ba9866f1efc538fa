"""Shared fixtures: a real user project in a real git repository, run as `python -m userpkg`.

The project is what a researcher would write: a package whose `__main__.py`
calls `mitosis_hydra.main`, a few experiments, and a `conf/` tree of variants.
Tests run it in a subprocess with the test's own interpreter (the venv that has
mitosis_hydra installed), exactly as a user runs it from a shell.

    def test_something(user_project):
        result = user_project.run("+exp=draw")
        assert result.returncode == 0, result.output

By default the repository has *no* `.gitignore`: mitosis_hydra must keep the
tree clean on its own. `make_user_project(gitignore=..., git=False)` makes
variations.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from gitenv import git_environment

PACKAGE = "userpkg"

# The user's experiments. Each returns what a test wants to look at.
_EXPERIMENTS = '''
"""Experiments of the test project: each shows one behaviour of a trial."""

import logging
import os
import random
import time
from pathlib import Path

import numpy as np

log = logging.getLogger("userpkg.experiments")


def draw(seed, amplitude, model=None, **others):
    """Report the random draws and what arrived (with its types), and log a line."""
    log.info("drawing with amplitude %r and seed %d", amplitude, seed)
    return {
        "main": float(amplitude),
        "metrics": {"seed_plus_one": seed + 1},
        "random_draws": [random.random() for _ in range(3)],
        "numpy_draws": np.random.rand(3).tolist(),
        "amplitude": amplitude,
        "others": others,
        "types": {name: kinds(value) for name, value in others.items()},
        "model": None if model is None else model.describe(),
    }


def kinds(value):
    """The types of a value and of everything inside it, as seen in the kernel."""
    if isinstance(value, dict):
        return {"type": type(value).__qualname__, "items": {k: kinds(v) for k, v in value.items()}}
    if isinstance(value, list):
        return {"type": type(value).__qualname__, "items": [kinds(v) for v in value]}
    return type(value).__qualname__


def boom(seed, amplitude):
    """An experiment with a bug."""
    raise ValueError(f"boom: the experiment broke with amplitude {amplitude}")


def no_main(seed, amplitude):
    """Forgets the headline metric."""
    return {"score": amplitude}


def sleepy(seed, amplitude):
    """Says it has started (in the file named by $USERPKG_STARTED, with the pid of the
    kernel's parent: the trial's driver), then sleeps."""
    marker = os.environ.get("USERPKG_STARTED")
    if marker:
        Path(marker).write_text(str(os.getppid()))
    time.sleep(120)
    return {"main": 0.0}
'''

_MODELS = '''
"""A model that can be built from config but refuses to be pickled."""


class Unpicklable:
    """Like an object holding a lock, a GPU handle or a database connection."""

    def __init__(self, size, name="unpicklable"):
        self.size = size
        self.name = name

    def __reduce__(self):
        raise TypeError("Unpicklable objects refuse to be pickled")

    def describe(self):
        return {"class": type(self).__qualname__, "size": self.size, "name": self.name}
'''

DEFAULT_FILES: dict[str, str] = {
    f"{PACKAGE}/__init__.py": '"""A user\'s experiment package."""\n',
    f"{PACKAGE}/__main__.py": (
        "import mitosis_hydra\n\n"
        'if __name__ == "__main__":\n'
        '    mitosis_hydra.main(config_path="conf", config_name="config")\n'
    ),
    f"{PACKAGE}/experiments.py": _EXPERIMENTS.lstrip(),
    f"{PACKAGE}/models.py": _MODELS.lstrip(),
    f"{PACKAGE}/conf/config.yaml": (
        "defaults:\n  - mitosis_hydra\n  - _self_\n  - amplitude: small\n"
    ),
    f"{PACKAGE}/conf/exp/draw.yaml": f"name: draw\nrun: {PACKAGE}.experiments:draw\n",
    f"{PACKAGE}/conf/exp/boom.yaml": f"run: {PACKAGE}.experiments:boom\n",
    f"{PACKAGE}/conf/exp/no_main.yaml": f"run: {PACKAGE}.experiments:no_main\n",
    f"{PACKAGE}/conf/exp/sleepy.yaml": f"run: {PACKAGE}.experiments:sleepy\n",
    f"{PACKAGE}/conf/amplitude/small.yaml": "_value_: 4\n",
    f"{PACKAGE}/conf/amplitude/big.yaml": "_value_: 10\n",
    f"{PACKAGE}/conf/sizes/three.yaml": "_value_: [1, 2, 3]\n",
    f"{PACKAGE}/conf/shape/grid.yaml": "width: 3\nlayers: [8, 4]\noptions:\n  bias: true\n",
    f"{PACKAGE}/conf/model/unpicklable.yaml": (
        f"_target_: {PACKAGE}.models.Unpicklable\nsize: 3\n"
    ),
}


@dataclass(frozen=True)
class Run:
    """What one `python -m userpkg …` process did."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """Both streams, for assertion messages."""
        command = f"$ python -m {PACKAGE} {' '.join(self.args)}"
        return f"{command}\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}"


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class UserProject:
    """A user's project on disk: run its app, edit and commit its files, read its trials."""

    package = PACKAGE

    def __init__(self, root: Path, env: Mapping[str, str]) -> None:
        self.root = root
        self.env = dict(env)

    @property
    def trials_folder(self) -> Path:
        """The default trials folder: `trials/` at the working-tree root."""
        return self.root / "trials"

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", self.package, *args]

    def run(self, *args: str, timeout: float = 180, env: Mapping[str, str] | None = None) -> Run:
        """Run the app to completion, as a user would from the project root."""
        result = subprocess.run(
            self.command(*args),
            cwd=self.root,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Run(tuple(args), result.returncode, result.stdout, result.stderr)

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        """`mitosis-hydra <args>` from the project's root, as a user runs it."""
        return subprocess.run(
            [str(Path(sys.executable).parent / "mitosis-hydra"), *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self, *args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen:
        """Start the app and return at once (for tests that signal the driver).

        Ctrl-C acts as in a terminal even when the tests run as a background job, which
        ignores SIGINT (and its children inherit that, so Python would never raise
        KeyboardInterrupt): the app starts with SIGINT's default action.
        """
        return subprocess.Popen(
            self.command(*args),
            cwd=self.root,
            env={**self.env, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=_default_sigint,
        )

    def write(self, path: str, text: str) -> Path:
        """Write a file (relative to the project root), creating its folders."""
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text) if text.startswith("\n") else text)
        return target

    def git(self, *args: str) -> str:
        result = subprocess.run(
            ["git", *args], cwd=self.root, env=self.env, capture_output=True, text=True, check=True
        )
        return result.stdout

    def commit(self, message: str = "change") -> str:
        """Commit everything (`git add -A`); return the new commit's full hash."""
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()

    def status(self) -> str:
        """`git status --porcelain` including untracked files: empty means clean."""
        return self.git("status", "--porcelain", "--untracked-files=all")

    def trials(self, **filters: Any) -> list:
        """The recorded trials, read through the public API."""
        from mitosis_hydra import list_trials

        return list_trials(self.trials_folder, **filters)

    def trial_folders(self) -> set[str]:
        """Names of the per-trial folders in the trials folder (hidden ones excluded)."""
        if not self.trials_folder.exists():
            return set()
        return {p.name for p in self.trials_folder.iterdir() if p.is_dir() and p.name[0] != "."}


@pytest.fixture
def make_user_project(tmp_path: Path) -> Callable[..., UserProject]:
    """A factory: `make_user_project(files=..., gitignore=..., git=True, name=...)`.

    `files` adds to (or, with a value of None, removes from) DEFAULT_FILES;
    `gitignore` is the text of a `.gitignore` (none by default); with `git=False`
    the project is a plain folder, not a repository.
    """
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = git_environment(home)

    def make(
        files: Mapping[str, str | None] | None = None,
        *,
        gitignore: str | None = None,
        git: bool = True,
        name: str = "project",
    ) -> UserProject:
        project = UserProject(tmp_path / name, env)
        project.root.mkdir()
        merged = {**DEFAULT_FILES, **(files or {})}
        for path, text in merged.items():
            if text is not None:
                project.write(path, text)
        if gitignore is not None:
            project.write(".gitignore", gitignore)
        if git:
            project.git("init", "-q")
            project.commit("the user's project")
        return project

    return make


@pytest.fixture
def user_project(make_user_project: Callable[..., UserProject]) -> UserProject:
    """The default project, committed, in a repository with no `.gitignore`."""
    return make_user_project()
