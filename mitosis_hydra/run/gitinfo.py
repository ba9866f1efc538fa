"""What git says about the code a trial runs: commit, dirtiness, branch, remote, diff."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from mitosis_hydra.core.errors import DirtyTreeError, NotARepositoryError, UncommittedConfigError

# Bytecode caches appear as soon as Python imports the user's package; they are
# not code, so they never make a tree dirty (a user need not ignore them first).
_NOT_CODE = ("__pycache__/", ".pyc")


@dataclass(frozen=True)
class GitState:
    """A snapshot of the working tree a trial starts from (root is None outside a repo)."""

    root: Path | None
    commit: str = ""
    branch: str = ""
    remote: str = ""
    dirty: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_repo(self) -> bool:
        return self.root is not None


def find_root(start: Path) -> Path | None:
    """The working-tree root above `start`, found without running git."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def _git(root: Path, *args: str, ok: tuple[int, ...] = (0,)) -> str:
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
    if result.returncode not in ok:
        return ""
    return result.stdout


def read_state(start: Path) -> GitState:
    """Commit, branch, remote and the list of changed or untracked-not-ignored files."""
    root = find_root(start)
    if root is None:
        return GitState(root=None)
    status = _git(root, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--branch")
    entries = [entry for entry in status.split("\0") if entry]
    branch = ""
    dirty = []
    skip_next = False
    for entry in entries:
        if skip_next:  # the source path of a rename
            skip_next = False
            continue
        if entry.startswith("## "):
            branch = entry[3:].split("...")[0]
            continue
        code, path = entry[:2], entry[3:]
        skip_next = "R" in code or "C" in code
        if (code == "??" and path.endswith(_NOT_CODE)) or "/__pycache__/" in f"/{path}":
            continue
        dirty.append(f"{code.strip() or '?'} {path}")
    commit = _git(root, "rev-parse", "--verify", "--quiet", "HEAD").strip()
    remote = _git(root, "config", "--get", "remote.origin.url").strip()
    if branch.startswith("No commits yet on "):
        branch = branch.removeprefix("No commits yet on ")
    return GitState(root=root, commit=commit, branch=branch, remote=remote, dirty=tuple(dirty))


def require_clean(state: GitState, cwd: Path) -> None:
    """Refuse a recorded trial unless its code is exactly a commit."""
    if not state.is_repo:
        raise NotARepositoryError(
            f"A recorded trial must run inside a git working tree, and {cwd} is not in one.\n"
            "  mitosis_hydra ties every trial to the commit of its code\n"
            "Run `git init` and commit your code, or run a debug trial with debug=true."
        )
    if not state.commit:
        raise DirtyTreeError(
            f"The git repository at {state.root} has no commit yet.\n"
            "Commit your code first (git add -A && git commit), or run with debug=true."
        )
    if state.dirty:
        shown = "\n".join(f"  {line}" for line in state.dirty[:20])
        more = f"\n  … and {len(state.dirty) - 20} more" if len(state.dirty) > 20 else ""
        raise DirtyTreeError(
            f"The git working tree at {state.root} has uncommitted changes, so this trial "
            "could not be tied to a commit:\n"
            f"{shown}{more}\n"
            "Commit (or git-ignore) these files, or run a debug trial with debug=true."
        )


def diff(root: Path) -> str:
    """The uncommitted changes of a debug trial, untracked files included."""
    tracked = _git(root, "diff", "HEAD", "--binary") or _git(root, "diff", "--binary")
    untracked = _git(root, "ls-files", "--others", "--exclude-standard", "-z")
    parts = [tracked]
    for path in filter(None, untracked.split("\0")):
        if path.endswith(_NOT_CODE) or "__pycache__/" in path:
            continue
        # `git diff --no-index` exits 1 when the files differ, which they always do here
        parts.append(_git(root, "diff", "--no-index", "--binary", "/dev/null", path, ok=(0, 1)))
    return "".join(parts)


_CONFIG_SUFFIXES = (".yaml", ".yml")


def config_files(paths: list[Path], exclude: Path | None = None) -> list[Path]:
    """The YAML files Hydra can read from these config folders and option files.

    Hidden folders and `exclude` (the trials folder) are skipped: Hydra does not
    compose from them, and they may hold thousands of unrelated files.
    """
    found: set[Path] = set()
    for path in paths:
        path = Path(path).resolve()
        if path.is_file():
            found.add(path)
            continue
        for folder, subfolders, files in os.walk(path):
            here = Path(folder)
            subfolders[:] = [
                name
                for name in subfolders
                if not name.startswith(".") and name != "__pycache__" and here / name != exclude
            ]
            found.update(here / name for name in files if name.endswith(_CONFIG_SUFFIXES))
    return sorted(found)


def uncommitted(root: Path, files: list[Path]) -> list[str]:
    """Which of these files differ from HEAD: untracked (ignored too), changed, or outside.

    Compares content hashes with the commit's blobs, so neither an ignore rule nor
    `git update-index --assume-unchanged` can hide a file.
    """
    root = root.resolve()
    inside, problems = [], []
    for path in files:
        try:
            inside.append(path.relative_to(root).as_posix())
        except ValueError:
            problems.append(f"outside the repository: {path}")
    if not inside:
        return problems
    folders = sorted({str(Path(name).parent) for name in inside})
    listed = _git(root, "ls-tree", "-r", "-z", "--full-tree", "HEAD", "--", *folders)
    committed = {}
    for entry in filter(None, listed.split("\0")):
        meta, _, name = entry.partition("\t")
        committed[name] = meta.split()[2]
    hashes = subprocess.run(
        ["git", "hash-object", "--stdin-paths"],
        cwd=root,
        input="\n".join(inside) + "\n",
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    for name, blob in zip(inside, hashes, strict=False):
        if name not in committed:
            problems.append(f"not committed: {name}")
        elif committed[name] != blob:
            problems.append(f"changed since the commit: {name}")
    return problems


def require_committed(state: GitState, files: list[Path]) -> None:
    """Refuse a recorded trial that read a config file its commit does not hold as read."""
    if state.root is None or not files:
        return
    problems = uncommitted(state.root, files)
    if problems:
        shown = "\n".join(f"  {line}" for line in problems[:20])
        raise UncommittedConfigError(
            "A config file this trial reads is not in its commit as it is on disk, so the "
            "commit would not say which config produced the trial:\n"
            f"{shown}\n"
            "Commit these files (`git add -f` if an ignore rule hides them), or run a debug "
            "trial with debug=true."
        )
