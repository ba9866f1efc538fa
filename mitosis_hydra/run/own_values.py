"""Each chosen option's own value, read from its source as Hydra would, and where it comes from.

A variant is locked to what its YAML file or ConfigStore node defines, not to
what the composed config ends up holding at its package: field overrides, the
primary config's entries and presets make a *modified* variant instead (see
modifications.py). This module is the Hydra-facing edge: it re-reads Hydra's
defaults list (to learn where each option was placed) and each option's source,
and gives spec.py plain data. It relies on Hydra internals (`ConfigRepository`,
`create_defaults_list`), checked against hydra-core 1.3.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from mitosis_hydra.core.spec import OptionSource, parameter_roots
from mitosis_hydra.run.option_files import read_fast
from mitosis_hydra.storage import faults

_REFERENCE = re.compile(r"\$\{([^${}]*)\}")
_VOLATILE = ("${now:",)


def read_options(
    hydra_cfg: Any, choices: dict[str, str | None], unresolved: dict[str, Any], cwd: Path
) -> tuple[dict[str, OptionSource], dict[str, Any]]:
    """Every chosen option's OptionSource, and the composed config in canonical view.

    Canonical view: references to `seed`, `exp` or a parameter (and volatile
    `${now:…}`) kept as text, everything else resolved.
    """
    faults.inject("own-values")  # a test hook: SIGTERM while options are read
    repo, big_files = _repository(hydra_cfg.runtime.config_sources)
    packages = _packages(repo, hydra_cfg, choices)
    untracked = (unresolved.get("mitosis") or {}).get("untracked") or ()
    roots = parameter_roots(choices, packages, untracked)
    escaped = _escape_top(unresolved, roots)
    canonical = _resolve(escaped, keys=[k for k in unresolved if k not in ("mitosis", "hydra")])
    sources = {}
    for key, option in choices.items():
        group = key.split("@")[0]
        if option is None or group.startswith("hydra/"):
            continue
        package = packages.get(key)
        sources[key] = _option(repo, group, option, package, escaped, roots, cwd, big_files)
    return sources, canonical


def _repository(config_sources: Any) -> tuple[Any, dict[str, Any]]:
    """Hydra's config repository over these sources; big files' plain values fill the dict."""
    from hydra._internal.config_repository import CachingConfigRepository, ConfigRepository
    from hydra._internal.config_search_path_impl import ConfigSearchPathImpl

    search_path = ConfigSearchPathImpl()
    for source in config_sources:
        search_path.append(source["provider"], f"{source['schema']}://{source['path']}")
    repository = ConfigRepository(config_search_path=search_path)
    big_files = read_fast(repository)
    return CachingConfigRepository(repository), big_files


def _packages(repo: Any, hydra_cfg: Any, choices: dict[str, str | None]) -> dict[str, str]:
    """Choice key → the package Hydra placed the option at ("" for `_global_`)."""
    from hydra._internal.defaults_list import create_defaults_list
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        overrides = OverridesParser.create().parse_overrides(list(hydra_cfg.overrides.task))
        defaults = create_defaults_list(
            repo=repo,
            config_name=hydra_cfg.job.config_name,
            overrides_list=overrides,
            prepend_hydra=False,
            skip_missing=True,
        ).defaults
    except Exception:
        return {}
    packages: dict[str, str] = {}
    for default in defaults:
        path = default.config_path
        if default.primary or not path or "/" not in path or path.startswith("hydra/"):
            continue
        key = default.override_key or _self_key(path, default.package or "", choices)
        if key is not None:
            packages.setdefault(key, default.package or "")
    return packages


def _self_key(path: str, package: str, choices: dict[str, str | None]) -> str | None:
    """The choice key of an option that has its own defaults list (Hydra lists it as `_self_`)."""
    group, _, option = path.rpartition("/")
    keys = [k for k, v in choices.items() if k.split("@")[0] == group and v == option]
    placed = [k for k in keys if "@" in k and k.split("@", 1)[1] == package]
    plain = [k for k in keys if "@" not in k]
    return (placed or plain or keys or [None])[0]


def _option(
    repo: Any,
    group: str,
    option: str,
    package: str | None,
    escaped: dict[str, Any],
    roots: set[str],
    cwd: Path,
    big_files: dict[str, Any],
) -> OptionSource:
    """What is known of one option (big files: their plain value, as option_files read it)."""
    from omegaconf import OmegaConf

    try:
        result = repo.load_config(f"{group}/{option}")
    except Exception:
        result = None
    if result is None:
        return OptionSource(package=package)
    big_file = big_files.get(f"{group}/{option}.yaml")
    own = (
        OmegaConf.to_container(result.config, resolve=False) if big_file is None else dict(big_file)
    )
    if isinstance(own, dict):
        own.pop("defaults", None)
    header = (result.header or {}).get("package")
    if package is None:
        package = "" if header == "_global_" else None
    path, text, new_name = _where(result, group, option, cwd)
    selects = tuple(_default_text(d) for d in (result.defaults_list or []))
    return OptionSource(
        package=package,
        own=_own_canonical(_escape_top(own, roots), package, escaped),
        path=path,
        text=text,
        new_name=new_name,
        known=True,
        selects=selects,
    )


def _where(result: Any, group: str, option: str, cwd: Path) -> tuple[str, str | None, str]:
    """Where an option comes from, its text, and the new name a conflict should suggest."""
    root = str(result.path)
    if root.startswith("file://"):
        file = Path(root.removeprefix("file://")) / group / f"{option}.yaml"
        try:
            shown = str(file.resolve().relative_to(cwd.resolve()))
        except ValueError:
            shown = str(file)
        text = file.read_text(encoding="utf-8") if file.is_file() else None
        return shown, text, shown.removesuffix(".yaml") + "_v2.yaml"  # option may hold `/`
    if root.startswith("structured://"):
        module = _registering_module(group, option, cwd)
        from omegaconf import OmegaConf

        return (
            f"ConfigStore node {group}/{option}, registered by {module}",
            OmegaConf.to_yaml(result.config),
            f"a new store name in {module}: "
            f"ConfigStore.instance().store(group={group!r}, name={option + '_v2'!r}, node=…)",
        )
    shown = f"{root}/{group}/{option}.yaml"
    return shown, None, f"{root}/{group}/{option}_v2.yaml"


def _registering_module(group: str, option: str, cwd: Path) -> str:
    """The Python module behind a ConfigStore node: its class's module, else its provider."""
    from hydra.core.config_store import ConfigStore

    try:
        node = ConfigStore.instance().load(f"{group}/{option}.yaml")
    except Exception:
        return "an unknown module"
    module = registering_module(node.node, cwd)
    if module is not None:
        return f"module {module}"
    return f"provider {node.provider}" if node.provider else "a ConfigStore.store(...) call"


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


def _default_text(default: Any) -> str:
    """One entry of an option's defaults list, as written (`override /db: mysql`)."""
    from hydra.core.default_element import GroupDefault

    if isinstance(default, GroupDefault):
        override = "override " if default.override else ""
        package = f"@{default.package}" if default.package else ""
        return f"{override}{default.group}{package}: {default.value}"
    return str(default.path)


def _own_canonical(own: Any, package: str | None, escaped: dict[str, Any]) -> Any:
    """An option's own value resolved where it stands: its references point into the config.

    Resolved in a config holding only the top-level keys it refers to (OmegaConf is
    slow on big containers), or, if that is not enough, in the whole config.
    """
    if not _interpolated(own):
        return own
    referenced = {ref.strip().split(".")[0].split("[")[0] for ref in _references(own)}
    top = (package or "").split(".")[0]
    small = {k: v for k, v in escaped.items() if k in referenced or k == top}
    for root in (small, escaped):
        try:
            return _placed_and_resolved(own, package, root)
        except Exception:  # OmegaConf errors, of several kinds: retried in the whole config
            continue
    return own


def _placed_and_resolved(own: Any, package: str | None, root: dict[str, Any]) -> Any:
    from omegaconf import OmegaConf

    if not package:  # a preset writes at the top
        if not isinstance(own, dict):
            return own
        return _resolve({**root, **own}, keys=list(own), strict=True)
    config = OmegaConf.create(root)
    OmegaConf.update(config, package, own, merge=False, force_add=True)
    node = OmegaConf.select(config, package, throw_on_missing=True)
    if not OmegaConf.is_config(node):
        return node
    return OmegaConf.to_container(node, resolve=True)


def _resolve(container: dict[str, Any], keys: list[str], strict: bool = False) -> dict[str, Any]:
    """These top-level keys of a plain config, resolved (a key that cannot be: as written).

    Only keys holding an interpolation go through OmegaConf.
    """
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    resolved = {key: container.get(key) for key in keys}
    pending = [key for key in keys if _interpolated(container.get(key))]
    if not pending:
        return resolved
    config = OmegaConf.create(container)
    for key in pending:
        try:
            value = config[key]
            is_node = OmegaConf.is_config(value)
            resolved[key] = OmegaConf.to_container(value, resolve=True) if is_node else value
        except OmegaConfBaseException:
            if strict:
                raise
    return resolved


def _interpolated(node: Any) -> bool:
    if isinstance(node, str):
        return "${" in node
    if isinstance(node, dict):
        return any(_interpolated(value) for value in node.values())
    if isinstance(node, list):  # a long list of numbers: no call per number
        return any(_interpolated(value) for value in node if isinstance(value, str | dict | list))
    return False


def _references(node: Any) -> list[str]:
    if isinstance(node, str):
        return [ref for ref in _REFERENCE.findall(node) if ":" not in ref]
    values = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    return [ref for value in values for ref in _references(value)]


def _escape_top(node: Any, roots: set[str]) -> Any:
    """`_escape` of each top-level value holding a `${`; the others kept as they are.

    A 1.5 MB list of numbers is searched as JSON text, at C speed, not rebuilt item by item.
    """
    if not isinstance(node, dict):
        return _escape(node, roots)
    return {
        key: _escape(value, roots) if _may_refer(value) else value for key, value in node.items()
    }


def _may_refer(node: Any) -> bool:
    if isinstance(node, str):
        return "${" in node
    try:
        return "${" in json.dumps(node)
    except (TypeError, ValueError):  # not JSON (an enum, a path): looked at item by item
        return _interpolated(node)


def _escape(node: Any, roots: set[str]) -> Any:
    """Escape the references that stay references, so resolving leaves them as text."""
    if isinstance(node, dict):
        return {key: _escape(value, roots) for key, value in node.items()}
    if isinstance(node, list):  # a long list of numbers: no call per number
        return [_escape(v, roots) if isinstance(v, dict | list | str) else v for v in node]
    if isinstance(node, str) and "${" in node:
        if any(marker in node for marker in _VOLATILE):
            return node.replace("${", "\\${")  # kept whole: spec.py refuses it in a variant
        if node.count("${") == len(_REFERENCE.findall(node)):  # nested ones are resolved
            return _REFERENCE.sub(lambda match: _escaped(match, roots), node)
    return node


def _escaped(match: re.Match[str], roots: set[str]) -> str:
    reference = match.group(1).strip()
    kept = ":" not in reference and reference.split(".")[0].split("[")[0] in roots
    return "\\" + match.group(0) if kept else match.group(0)
