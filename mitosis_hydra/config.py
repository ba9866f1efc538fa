"""The `mitosis_hydra` config node users put in their defaults list, and its resolver."""

from __future__ import annotations

import sys
from pathlib import Path

_NODE = {
    "defaults": [{"override hydra/job_logging": "stdout"}],
    "seed": 0,
    "debug": False,
    "mitosis": {
        "trials_folder": "${mitosis_default_trials_folder:}",
        "untracked": [],
        "db": None,
        "format": "html",
    },
    "hydra": {
        # Hydra's own files go inside the trials folder, which ignores itself in git.
        # The resolver checks and prepares the trials folder before Hydra creates this one.
        "run": {"dir": "${mitosis_hydra_dir:${mitosis.trials_folder}}"},
        "sweep": {
            "dir": "${mitosis_hydra_dir:${mitosis.trials_folder}}/multirun/"
            "${now:%Y-%m-%d_%H-%M-%S}",
            "subdir": "${hydra.job.num}",
        },
        "output_subdir": None,
        "job": {"name": "mitosis", "chdir": False},
    },
}

_registered = False


def _prepared_or_exit(folder: Path) -> Path:
    """The trials folder, ready; a refusal ends the process here (Hydra resolves this
    while composing, where a raised error would come out as Hydra's traceback)."""
    from .errors import MitosisError
    from .paths import prepare_trials_folder

    try:
        return prepare_trials_folder(folder)
    except MitosisError as error:
        print(str(error), file=sys.stderr, flush=True)
        sys.exit(2)


def register_configs() -> None:
    """Store the `mitosis_hydra` node and the default-trials-folder resolver (idempotent)."""
    global _registered
    if _registered:
        return
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    from .paths import default_trials_folder

    def _default_folder() -> str:
        return str(_prepared_or_exit(default_trials_folder()))

    def _hydra_dir(folder: str) -> str:
        return str(_prepared_or_exit(Path(folder)) / ".hydra")

    if not OmegaConf.has_resolver("mitosis_default_trials_folder"):
        OmegaConf.register_new_resolver("mitosis_default_trials_folder", _default_folder)
    if not OmegaConf.has_resolver("mitosis_hydra_dir"):
        OmegaConf.register_new_resolver("mitosis_hydra_dir", _hydra_dir)
    ConfigStore.instance().store(name="mitosis_hydra", node=_NODE, provider="mitosis_hydra")
    _registered = True
