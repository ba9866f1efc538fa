"""Where trials live, and keeping that place out of the user's git status."""

from __future__ import annotations

import subprocess
from pathlib import Path

from mitosis_hydra.core.errors import TrialsFolderError
from mitosis_hydra.core.layout import TRIALS_DIRNAME
from mitosis_hydra.run.gitinfo import find_root

_MARKER = "# written by mitosis_hydra"
_IGNORE_ALL = f"{_MARKER}: trials are recorded in the database, not in git\n*\n"
_HYDRA_DIRS = {".hydra"}  # Hydra's own output folder (see config.py), empty until a sweep
_prepared: set[Path] = set()  # folders already checked by this process


def default_trials_folder(cwd: Path | None = None) -> Path:
    """`trials/` at the root of the git working tree holding `cwd` (or in `cwd` outside git)."""
    cwd = Path.cwd() if cwd is None else Path(cwd)
    root = find_root(cwd)
    return (root if root is not None else cwd.resolve()) / TRIALS_DIRNAME


def resolve_trials_folder(folder: str | Path | None) -> Path:
    return default_trials_folder() if folder is None else Path(folder).expanduser().resolve()


def prepare_trials_folder(folder: Path) -> Path:
    """Create the folder with a `.gitignore` of `*`, so it never makes the tree dirty.

    That `.gitignore` hides everything below it from git, so it is only ever
    written into a folder that is new, empty, or already mitosis_hydra's: never
    into one holding the user's files, tracked files, or the repository itself.
    Refusals write nothing.
    """
    folder = Path(folder).expanduser().resolve()
    if folder in _prepared:
        return folder
    ignore = folder / ".gitignore"
    ours = ignore.is_file() and ignore.read_text(errors="replace").startswith(_MARKER)
    _refuse_unusable(folder, ours)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not ours:
            ignore.write_text(_IGNORE_ALL)
    except OSError as error:
        raise TrialsFolderError(
            f"The trials folder cannot be created: {error.strerror or error}.\n"
            f"  mitosis.trials_folder: {folder}\n"
            "Set mitosis.trials_folder to a folder you can write to."
        ) from error
    _prepared.add(folder)
    return folder


def remove_if_unused(folder: Path) -> bool:
    """Remove a trials folder that holds nothing but mitosis_hydra's `.gitignore`.

    For a refused sweep: that `.gitignore` was written to keep the sweep's own
    folder out of git status; with the sweep gone, so is its reason.
    """
    ignore = folder / ".gitignore"
    try:
        if [entry.name for entry in folder.iterdir()] != [".gitignore"]:
            return False
        if not ignore.read_text(errors="replace").startswith(_MARKER):
            return False
        ignore.unlink()
        folder.rmdir()
    except OSError:
        return False
    _prepared.discard(folder.resolve())
    return True


def _refuse_unusable(folder: Path, ours: bool) -> None:
    where = f"  mitosis.trials_folder: {folder}\n"
    fix = "Set mitosis.trials_folder to a new or empty folder, e.g. trials/ (the default)."
    if folder.exists() and not folder.is_dir():
        raise TrialsFolderError(
            f"The trials folder is a file, not a folder.\n{where}"
            "Move the file away, or set mitosis.trials_folder to another folder."
        )
    root = find_root(folder if folder.exists() else _existing_parent(folder))
    for repository in (root, find_root(Path.cwd())):  # the folder's, and the project's
        if repository is not None and (folder == repository or folder in repository.parents):
            raise TrialsFolderError(
                "The trials folder would hold the git repository itself, and mitosis_hydra "
                "hides its trials folder from git.\n"
                f"{where}  repository: {repository}\n{fix}"
            )
    if not folder.is_dir():
        return
    tracked = _tracked_files(root, folder) if root is not None else []
    if tracked:
        shown = "".join(f"  tracked: {path}\n" for path in tracked[:5])
        raise TrialsFolderError(
            "The trials folder holds files tracked by git, and mitosis_hydra would hide "
            f"changes to them.\n{where}{shown}{fix}"
        )
    if not ours:
        found = sorted(p.name for p in folder.iterdir() if p.name not in _HYDRA_DIRS)
        if found:
            shown = "".join(f"  found: {name}\n" for name in found[:5])
            raise TrialsFolderError(
                "The trials folder already holds files mitosis_hydra did not write, and it "
                f"would hide them from git.\n{where}{shown}{fix}"
            )


def _existing_parent(folder: Path) -> Path:
    for parent in folder.parents:
        if parent.exists():
            return parent
    return folder


def _tracked_files(root: Path, folder: Path) -> list[str]:
    result = subprocess.run(
        ["git", "ls-files", "-z", "--", str(folder)],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    return [path for path in result.stdout.split("\0") if path]
