"""Reading one composed Hydra job: config, group choices and option sources → a trial spec."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mitosis_hydra.core.command import user_argv
from mitosis_hydra.core.errors import ConfigError
from mitosis_hydra.core.spec import OptionSource, TrialSpec, build_spec
from mitosis_hydra.core.trial_list import collector_paused
from mitosis_hydra.run.config_text import config_yaml, resolved_config, unresolved_container
from mitosis_hydra.run.own_values import read_options
from mitosis_hydra.run.paths import default_trials_folder
from mitosis_hydra.run.run_check import check_run
from mitosis_hydra.run.trial import TrialContext


def spec_and_context(
    cfg: Any, *, reproduction_of: str | None = None
) -> tuple[TrialSpec, TrialContext]:
    """The trial a job's config describes, and where it was invoked from.

    `mitosis-hydra reproduce KEY` re-runs a trial with MITOSIS_REPRODUCTION_OF=KEY set,
    which marks the new record as a reproduction of KEY.
    """
    with _no_collections():
        return _read_job(cfg, reproduction_of)


def _no_collections() -> contextlib.AbstractContextManager[None]:
    """No garbage collection while the job is read: with a 1.5 MB option it makes a node
    or a value per scalar (reading the option, writing config.yaml) on top of the
    millions of nodes Hydra's composition left alive, and the collections these
    allocations set off, each walking the young objects and now and then all of them,
    took half the time of reading the job (a nested mapping: its file read in 1.1 s
    with collections, 0.4 s without). Reading a job makes no garbage in cycles that
    matters; what there is waits for the first collection after.

    Not in a sweep's worker process: it runs trial after trial, and its memory is
    measured flat with collections left as they are (freezing old objects there made
    it grow 0.7 MB per trial; a run with collections paused read +3 MB over trials 50
    to 100, at a load of 6, not told apart from noise)."""
    import multiprocessing

    if multiprocessing.parent_process() is not None:
        return contextlib.nullcontext()  # a long-lived worker
    return collector_paused()


def _read_job(cfg: Any, reproduction_of: str | None) -> tuple[TrialSpec, TrialContext]:
    reproduction_of = reproduction_of or os.environ.get("MITOSIS_REPRODUCTION_OF") or None
    from hydra.core.hydra_config import HydraConfig
    from omegaconf.errors import OmegaConfBaseException

    if "mitosis" not in cfg:
        raise ConfigError(
            "The primary config does not include mitosis_hydra's settings.\n"
            "  seed, debug, mitosis.* and where Hydra writes its files come from them\n"
            "Add `- mitosis_hydra` as the first entry of the defaults list of your config.yaml."
        )
    hydra_cfg = HydraConfig.get()
    unresolved = unresolved_container(cfg)  # OmegaConf.to_container(cfg, resolve=False)
    try:
        resolved = resolved_config(cfg, unresolved)
    except OmegaConfBaseException as error:
        raise ConfigError(
            f"The config could not be resolved: {error}\n"
            f"  overrides: {' '.join(hydra_cfg.overrides.task) or '(none)'}\n"
            "Give every `???` a value (in its file or on the command line) and check that "
            "every ${…} interpolation points at an existing key."
        ) from error
    choices = dict(hydra_cfg.runtime.choices)
    cwd = Path.cwd()
    sources, canonical = read_options(hydra_cfg, choices, unresolved, cwd)
    spec = build_spec(resolved, unresolved, choices, sources, default_trials_folder(cwd), canonical)
    exp_source = sources.get("exp")
    check_run(
        spec.run_target,
        supplied_arguments(spec),
        exp=str(choices.get("exp")),
        exp_file=exp_source.path if exp_source is not None else None,
        project_root=cwd,
    )
    read_from = config_folders(hydra_cfg.runtime.config_sources, cwd) + _option_files(sources, cwd)
    context = TrialContext(
        cwd=cwd,
        config_yaml=config_yaml(resolved),
        overrides=tuple(hydra_cfg.overrides.task),
        argv=user_argv(),
        reproduction_of=reproduction_of,
        hydra=_resolved_hydra(hydra_cfg),
        sweep=sweep_id(hydra_cfg),
        config_paths=read_from,
    )
    return spec, context


def _resolved_hydra(hydra_cfg: Any) -> dict[str, Any] | None:
    """Hydra's node of this job as plain data, for `HydraConfig.get()` in the kernel."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        return OmegaConf.to_container(hydra_cfg, resolve=True)  # type: ignore[return-value]
    except OmegaConfBaseException:  # an interpolation only Hydra's own process can resolve
        return OmegaConf.to_container(hydra_cfg, resolve=False)  # type: ignore[return-value]


def supplied_arguments(spec: TrialSpec) -> dict[str, str]:
    """Every keyword the notebook passes to `run`, with what a user knows it as."""
    supplied = {"seed": "seed"}
    for parameter in spec.parameters:
        if not parameter.argument:  # a preset: named and locked, not passed
            continue
        supplied.setdefault(
            parameter.argument, f"group {parameter.group} ({parameter.group}={parameter.variant})"
        )
    for name in spec.arguments:
        supplied.setdefault(name, f"experiment argument {name}")
    return supplied


def sweep_id(hydra_cfg: Any) -> str | None:
    """The id of the multirun a job belongs to: the last part of its sweep folder."""
    from hydra.types import RunMode

    if hydra_cfg.mode != RunMode.MULTIRUN:
        return None
    return Path(str(hydra_cfg.sweep.dir)).name or None


def config_folders(config_sources: Any, cwd: Path) -> tuple[Path, ...]:
    """The folders on disk Hydra composes from (the primary config's and any searchpath).

    A `pkg://` source counts when its package lives in the project's working tree and
    is not installed: Hydra's own and other installed packages are not the project's
    code, also when the virtual environment holding them lies inside the working tree.
    """
    from mitosis_hydra.run.gitinfo import find_root

    folders = []
    root = find_root(cwd)
    for source in config_sources:
        if source["schema"] == "file":
            folders.append(Path(source["path"]).resolve())
        elif source["schema"] == "pkg" and root is not None:
            folder = _package_folder(source["path"])
            if folder is None or _installed(folder):
                continue
            if folder == root or root in folder.parents:
                folders.append(folder)
    return tuple(folders)


def _installed(folder: Path) -> bool:
    """True for a package in site-packages: installed code, even in a `.venv` inside the repo
    (git ignores it, and its configs are the installed package's, not the project's)."""
    import sysconfig

    installed = {sysconfig.get_paths()[kind] for kind in ("purelib", "platlib")}
    return any(Path(path).resolve() in (folder, *folder.parents) for path in installed)


def _package_folder(path: str) -> Path | None:
    from importlib import resources

    try:
        found = resources.files(path.replace("/", "."))
    except (ModuleNotFoundError, TypeError, ValueError):
        return None
    return Path(str(found)).resolve() if isinstance(found, Path) and found.is_dir() else None


def _option_files(sources: Mapping[str, OptionSource], cwd: Path) -> tuple[Path, ...]:
    """The chosen option files on disk: checked even where the folder walk does not go."""
    shown = (cwd / source.path for source in sources.values() if source.path)
    return tuple(path.resolve() for path in shown if path.is_file())
