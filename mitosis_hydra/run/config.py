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
        "max_output": 1_000_000,  # characters per cell and stream; output_limit.py
        "resume": False,
    },
    "hydra": {
        # Hydra's own files go inside the trials folder, which ignores itself in git.
        # The resolver checks and prepares the trials folder before Hydra creates this one.
        "run": {"dir": "${mitosis_hydra_dir:${mitosis.trials_folder}}"},
        "sweep": {
            # its last part is the sweep's id, recorded with each of its trials
            "dir": "${mitosis_hydra_dir:${mitosis.trials_folder}}/multirun/${mitosis_sweep_id:}",
            "subdir": "${hydra.job.num}",
        },
        "output_subdir": None,
        "job": {"name": "mitosis", "chdir": False},
    },
}

_registered = False


def new_sweep_id() -> str:
    """When the sweep started, and 4 random characters: two sweeps in one second stay apart."""
    import secrets
    import time

    return f"{time.strftime('%Y-%m-%d_%H-%M-%S')}-{secrets.token_hex(2)}"


def _prepared_or_exit(folder: Path) -> Path:
    """The trials folder, ready; a refusal ends the process here (Hydra resolves this
    while composing, where a raised error would come out as Hydra's traceback)."""
    from mitosis_hydra.core.errors import MitosisError
    from mitosis_hydra.run.paths import prepare_trials_folder

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

    from mitosis_hydra.run.paths import default_trials_folder

    def _default_folder() -> str:
        return str(_prepared_or_exit(default_trials_folder()))

    def _hydra_dir(folder: str) -> str:
        return str(_prepared_or_exit(Path(folder)) / ".hydra")

    if not OmegaConf.has_resolver("mitosis_default_trials_folder"):
        OmegaConf.register_new_resolver("mitosis_default_trials_folder", _default_folder)
    if not OmegaConf.has_resolver("mitosis_sweep_id"):
        # cached like ${now:}: every job of a sweep (and every worker it is sent to) sees one id
        OmegaConf.register_new_resolver("mitosis_sweep_id", new_sweep_id, use_cache=True)
    if not OmegaConf.has_resolver("mitosis_hydra_dir"):
        OmegaConf.register_new_resolver("mitosis_hydra_dir", _hydra_dir)
    ConfigStore.instance().store(name="mitosis_hydra", node=_NODE, provider="mitosis_hydra")
    _registered = True


def open_primary_config(config_name: str) -> None:
    """Let a structured primary config (a dataclass in the ConfigStore) take config groups.

    Hydra merges every chosen option into the primary config's type, and a dataclass
    has no field for `exp` or for the groups a trial chooses: composition would fail
    with "Key 'exp' not in 'Config'" unless every group were declared as a field. The
    node is stored again as a plain mapping (same defaults, values and interpolations);
    what is lost is the type check of the primary config's own fields.
    """
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    store = ConfigStore.instance()
    name = config_name if config_name.endswith(".yaml") else f"{config_name}.yaml"
    stored = store.repo.get(name)
    if stored is None or not hasattr(stored, "node"):  # not stored, or a group of that name
        return
    if OmegaConf.get_type(stored.node) in (dict, None):
        return
    plain = OmegaConf.create(OmegaConf.to_container(stored.node, resolve=False))
    store.store(
        name=stored.name.removesuffix(".yaml"),
        node=plain,
        package=stored.package,
        provider=stored.provider,
    )
