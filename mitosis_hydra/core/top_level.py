"""The top-level keys of a composed config: each one named, passed, a setting, or refused (pure).

A top-level key that is no parameter, no experiment and no setting reaches
nothing `run` receives, unless a variant refers to it with `${…}`: then its
value is part of that variant's lock. Anything else would be silently ignored
(`+C=0.5`, `epochs: 10` at the top of config.yaml), so it is refused.
"""

from __future__ import annotations

import re
from typing import Any

from mitosis_hydra.core.canonical import canonical_string
from mitosis_hydra.core.errors import ConfigError
from mitosis_hydra.core.trial_spec import Parameter

SETTINGS = ("seed", "debug", "mitosis", "hydra")
_REFERENCE = re.compile(r"\$\{([^${}]*)\}")


def untracked_keys(
    resolved: dict[str, Any], parameters: tuple[Parameter, ...], untracked: tuple[str, ...]
) -> tuple[str, ...]:
    """Top-level keys listed in mitosis.untracked: passed to run, never locked; others refused."""
    known = {name for p in parameters for name in (p.argument, p.group, p.key)}
    extra = tuple(
        name
        for name in untracked
        if name not in known and name in resolved and name not in (*SETTINGS, "exp")
    )
    unknown = [name for name in untracked if name not in known and name not in extra]
    if unknown:
        accepted = {name for p in parameters for name in (p.argument, p.group) if name}
        names = ", ".join(sorted(accepted)) or "(none)"
        raise ConfigError(
            f"mitosis.untracked names {', '.join(unknown)}, which is no parameter of this trial.\n"
            f"  parameters (by argument or group): {names}\n"
            "Remove the name from mitosis.untracked, or correct its spelling."
        )
    return extra


def refuse_stray_keys(
    resolved: dict[str, Any],
    unresolved: dict[str, Any],
    parameters: tuple[Parameter, ...],
    extra: tuple[str, ...],
    experiment: str,
) -> None:
    """A top-level key that reaches no parameter would change nothing the trial records."""
    named = {*SETTINGS, "exp", *extra, *(p.argument for p in parameters if p.argument)}
    nodes = [unresolved.get(key) for key in named if key in unresolved]
    referenced = {ref.split(".")[0].split("[")[0] for ref in _references(nodes)}
    stray = [key for key in resolved if key not in named and key not in referenced]
    if not stray:
        return
    key = stray[0]
    shown = canonical_string(resolved[key]) if _plain(resolved[key]) else "…"
    others = f" (and {', '.join(stray[1:])})" if len(stray) > 1 else ""
    raise ConfigError(
        f"The top-level key `{key}`{others} is not a parameter, so `run` would never see it.\n"
        f"  {key} = {shown[:80]}  (from the command line, e.g. +{key}=…, or the primary config)\n"
        "  every value that can reach run must be named, locked or left out\n"
        f"Make it a parameter: an option of a config group (conf/{key}/<name>.yaml, chosen with "
        f"{key}=<name>), an experiment argument (`{key}:` in conf/exp/{experiment}.yaml), "
        f"or list it in mitosis.untracked=[{key}] to pass it unlocked; or remove it."
    )


def _plain(value: Any) -> bool:
    try:
        canonical_string(value)
    except TypeError:
        return False
    return True


def _references(nodes: Any) -> set[str]:
    found = set()
    for text in strings(nodes):
        for inner in _REFERENCE.findall(text):
            if ":" not in inner and inner and not inner.startswith("."):
                found.add(inner.strip())
    return found


def strings(node: Any):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):  # a long list of numbers: no generator per number
        for value in node:
            if isinstance(value, str):
                yield value
            elif isinstance(value, dict | list):
                yield from strings(value)
