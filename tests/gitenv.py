"""The environment test subprocesses run in: this venv first, and a git that ignores
the machine's own configuration (so a developer's hooks or templates never leak in)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

_LEAKY = ("HYDRA_FULL_ERROR", "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "PYTHONPATH")


def git_environment(home: Path) -> dict[str, str]:
    """A copy of os.environ for subprocesses; `home` holds the private git config."""
    env = dict(os.environ)
    for name in (*_LEAKY, "MITOSIS_REPRODUCTION_OF"):
        env.pop(name, None)
    home.mkdir(parents=True, exist_ok=True)
    (home / "gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(
        GIT_CONFIG_GLOBAL=str(home / "gitconfig"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Test Researcher",
        GIT_AUTHOR_EMAIL="researcher@example.com",
        GIT_COMMITTER_NAME="Test Researcher",
        GIT_COMMITTER_EMAIL="researcher@example.com",
    )
    return env
