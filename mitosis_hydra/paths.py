"""Where trials live, and keeping that place out of the user's git status."""

from __future__ import annotations

from pathlib import Path

from .gitinfo import find_root

TRIALS_DIRNAME = "trials"
# The files of one trial, inside trials/<trial name>/
RESULTS_FILE = "results.pkl"
SUMMARY_FILE = "summary.json"
LOG_FILE = "trial.log"
CONFIG_FILE = "config.yaml"
ENVIRONMENT_FILE = "environment.json"
DIFF_FILE = "git-diff.patch"
HYDRA_FILE = "hydra.yaml"  # Hydra's own config of the job, read by HydraConfig in the kernel
# What mitosis_hydra writes in a trial's folder; anything else there was written by `run`.
OWN_FILES = (
    RESULTS_FILE,
    SUMMARY_FILE,
    LOG_FILE,
    CONFIG_FILE,
    ENVIRONMENT_FILE,
    DIFF_FILE,
    HYDRA_FILE,
    "notebook.html",
    "notebook.ipynb",
)
_IGNORE_ALL = "# written by mitosis_hydra: trials are recorded in the database, not in git\n*\n"


def default_trials_folder(cwd: Path | None = None) -> Path:
    """`trials/` at the root of the git working tree holding `cwd` (or in `cwd` outside git)."""
    cwd = Path.cwd() if cwd is None else Path(cwd)
    root = find_root(cwd)
    return (root if root is not None else cwd.resolve()) / TRIALS_DIRNAME


def resolve_trials_folder(folder: str | Path | None) -> Path:
    return default_trials_folder() if folder is None else Path(folder).expanduser().resolve()


def prepare_trials_folder(folder: Path) -> Path:
    """Create the folder with a `.gitignore` of `*`, so it never makes the tree dirty."""
    folder.mkdir(parents=True, exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text(_IGNORE_ALL)
    return folder
