"""Reading one composed Hydra job: config, group choices and option sources → a trial spec."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from .command import user_argv
from .errors import ConfigError
from .paths import default_trials_folder
from .run_check import check_run
from .spec import TrialSpec, build_spec
from .trial import TrialContext


def spec_and_context(
    cfg: Any, *, reproduction_of: str | None = None
) -> tuple[TrialSpec, TrialContext]:
    """The trial a job's config describes, and where it was invoked from.

    `mitosis-hydra reproduce KEY` re-runs a trial with MITOSIS_REPRODUCTION_OF=KEY set,
    which marks the new record as a reproduction of KEY.
    """
    reproduction_of = reproduction_of or os.environ.get("MITOSIS_REPRODUCTION_OF") or None
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    if "mitosis" not in cfg:
        raise ConfigError(
            "The primary config does not include mitosis_hydra's settings.\n"
            "  seed, debug, mitosis.* and where Hydra writes its files come from them\n"
            "Add `- mitosis_hydra` as the first entry of the defaults list of your config.yaml."
        )
    hydra_cfg = HydraConfig.get()
    try:
        resolved = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
        config_yaml = OmegaConf.to_yaml(cfg, resolve=True)
    except OmegaConfBaseException as error:
        raise ConfigError(
            f"The config could not be resolved: {error}\n"
            f"  overrides: {' '.join(hydra_cfg.overrides.task) or '(none)'}\n"
            "Give every `???` a value (in its file or on the command line) and check that "
            "every ${…} interpolation points at an existing key."
        ) from error
    unresolved = OmegaConf.to_container(cfg, resolve=False)
    choices = dict(hydra_cfg.runtime.choices)
    cwd = Path.cwd()
    sources = option_sources(choices, hydra_cfg.runtime.config_sources, cwd)
    spec = build_spec(resolved, unresolved, choices, sources, default_trials_folder(cwd))
    check_run(
        spec.run_target,
        supplied_arguments(spec),
        exp=str(choices.get("exp")),
        exp_file=sources.get("exp", (None, None))[0],
        project_root=cwd,
    )
    read_from = config_folders(hydra_cfg.runtime.config_sources, cwd) + _option_files(sources, cwd)
    context = TrialContext(
        cwd=cwd,
        config_yaml=config_yaml,
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

    A `pkg://` source counts when its package lives in the project's working tree
    (not installed): Hydra's own and other installed packages are not the project's code.
    """
    from .gitinfo import find_root

    folders = []
    root = find_root(cwd)
    for source in config_sources:
        if source["schema"] == "file":
            folders.append(Path(source["path"]).resolve())
        elif source["schema"] == "pkg" and root is not None:
            folder = _package_folder(source["path"])
            if folder is not None and (folder == root or root in folder.parents):
                folders.append(folder)
    return tuple(folders)


def _package_folder(path: str) -> Path | None:
    from importlib import resources

    try:
        found = resources.files(path.replace("/", "."))
    except (ModuleNotFoundError, TypeError, ValueError):
        return None
    return Path(str(found)).resolve() if isinstance(found, Path) and found.is_dir() else None


def _option_files(sources: dict[str, tuple[str | None, str | None]], cwd: Path) -> tuple:
    """The chosen option files on disk: checked even where the folder walk does not go."""
    shown = (path for path, _text in sources.values() if path)
    return tuple((cwd / path).resolve() for path in shown if "://" not in path)


def option_sources(
    choices: dict[str, str | None], config_sources: Any, cwd: Path
) -> dict[str, tuple[str | None, str | None]]:
    """For each chosen group, the file its option came from (relative to cwd) and its text."""
    found: dict[str, tuple[str | None, str | None]] = {}
    for key, option in choices.items():
        group = key.split("@")[0]
        if option is None or group.startswith("hydra/"):
            continue
        for source in config_sources:
            located = _locate(source["schema"], source["path"], group, option, cwd)
            if located is not None:
                found[group] = located
                break
    return found


def _locate(
    schema: str, root: str, group: str, option: str, cwd: Path
) -> tuple[str | None, str | None] | None:
    if schema == "file":
        path = Path(root) / group / f"{option}.yaml"
        if path.is_file():
            try:
                shown = str(path.resolve().relative_to(cwd.resolve()))
            except ValueError:
                shown = str(path)
            return shown, path.read_text(encoding="utf-8")
    elif schema == "pkg":
        from importlib import resources

        try:
            path = resources.files(root.replace("/", ".")).joinpath(group, f"{option}.yaml")
            if path.is_file():
                return f"pkg://{root}/{group}/{option}.yaml", path.read_text(encoding="utf-8")
        except (ModuleNotFoundError, FileNotFoundError):
            return None
    elif schema == "structured":
        from hydra.core.config_store import ConfigStore
        from omegaconf import OmegaConf

        try:
            node = ConfigStore.instance().load(f"{group}/{option}.yaml")
        except Exception:  # ConfigStore raises ConfigLoadError for unknown names
            return None
        module = registering_module(node.node, cwd)
        shown = f"structured://{group}/{option}" + (f" in {module}" if module else "")
        return shown, OmegaConf.to_yaml(node.node)
    return None


def registering_module(node: Any, cwd: Path) -> str | None:
    """The user's module that defines a ConfigStore node's class, where it can be told.

    A dataclass names its module; a class made by hydra-zen's `builds` says `types`,
    so the project's imported modules are searched for a global bound to it.
    """
    from omegaconf import OmegaConf

    kind = OmegaConf.get_type(node)
    if kind is None or kind is dict:
        return None
    name = getattr(kind, "__module__", None)
    if name in sys.modules and name not in ("types", "builtins"):
        return _module_name(name)
    root = str(cwd.resolve())
    for module_name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if not path or not path.startswith(root):
            continue
        if any(value is kind for value in list(vars(module).values())):
            return _module_name(module_name)
    return None


def _module_name(name: str) -> str:
    """`__main__` as the user knows it: the module `python -m` ran (`userpkg.__main__`)."""
    spec = getattr(sys.modules.get(name), "__spec__", None)
    return spec.name if name == "__main__" and spec is not None else name
