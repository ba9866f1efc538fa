"""From a composed Hydra config to a trial specification (pure: plain data in, plain data out).

The composed config arrives as plain containers (resolved and unresolved) plus
Hydra's group choices; this module decides which groups are parameters, what
value each passes to `run`, and what each variant locks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .canonical import canonical_hash, canonical_string
from .command import user_command
from .errors import ConfigError
from .output_limit import DEFAULT_MAX_OUTPUT
from .records import VariantValue

FORMATS = ("html", "ipynb", "both")
# Interpolations whose value changes from one run to the next cannot name a value.
_VOLATILE = ("${now:",)


@dataclass(frozen=True)
class Parameter:
    """A chosen config group: passed to `run` under `argument`, recorded under `group`."""

    group: str
    variant: str
    package: str
    argument: str
    value: Any
    tracked: bool
    source: str | None = None
    source_path: str | None = None

    def variant_value(self) -> VariantValue:
        text = canonical_string(self.value)
        return VariantValue(
            self.group, self.variant, text, canonical_hash(text), self.source, self.source_path
        )


@dataclass(frozen=True)
class Settings:
    """The `mitosis:` block of the config, validated."""

    trials_folder: Path
    untracked: tuple[str, ...] = ()
    db: str | None = None
    format: str = "html"
    max_output: int = DEFAULT_MAX_OUTPUT  # characters per cell and stream in the notebook
    resume: bool = False  # skip a sweep's jobs that already have a finished trial


@dataclass(frozen=True)
class TrialSpec:
    experiment: str
    run_target: str
    seed: int
    debug: bool
    parameters: tuple[Parameter, ...]
    arguments: dict[str, Any]
    settings: Settings
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def variants(self) -> dict[str, str]:
        return {p.group: p.variant for p in self.parameters}

    @property
    def tracked(self) -> tuple[VariantValue, ...]:
        return tuple(p.variant_value() for p in self.parameters if p.tracked)

    @property
    def tracked_variants(self) -> dict[str, str]:
        return {p.group: p.variant for p in self.parameters if p.tracked}


def build_spec(
    resolved: dict[str, Any],
    unresolved: dict[str, Any],
    choices: Mapping[str, str | None],
    sources: Mapping[str, tuple[str | None, str | None]],
    default_trials_folder: Path,
) -> TrialSpec:
    """The trial a composed config describes, or a ConfigError saying what to fix.

    `sources` maps a group to (path of its option file, YAML text), where found.
    """
    experiment, run_target = _experiment(resolved, choices)
    settings = _settings(resolved.get("mitosis") or {}, default_trials_folder)
    groups = {
        group.split("@")[0]: (option, _package(group))
        for group, option in choices.items()
        if option is not None and not group.startswith("hydra/") and group.split("@")[0] != "exp"
    }
    packages = [package for _option, package in groups.values()]
    parameters = []
    for group, (option, package) in sorted(groups.items()):
        node = _select(resolved, package, group, option)
        argument = package.split(".")[0]
        value = unwrap_values(_without_children(node, package, packages))
        path, text = sources.get(group, (None, None))
        tracked = argument not in settings.untracked and group not in settings.untracked
        if tracked and not resolved.get("debug"):
            own = _without_children(_select(unresolved, package, group, option), package, packages)
            _refuse_volatile(own, group, option)
        parameters.append(Parameter(group, option, package, argument, value, tracked, text, path))
    arguments = {p.argument: unwrap_values(resolved[p.argument]) for p in parameters}
    return TrialSpec(
        experiment=experiment,
        run_target=run_target,
        seed=_seed(resolved.get("seed", 0)),
        debug=_flag(resolved.get("debug", False), "debug"),
        parameters=tuple(parameters),
        arguments=arguments,
        settings=settings,
        config=resolved,
    )


def unwrap_values(node: Any) -> Any:
    """Replace every mapping whose only key is `_value_` by that value."""
    if isinstance(node, dict):
        if set(node) == {"_value_"}:
            return unwrap_values(node["_value_"])
        return {key: unwrap_values(value) for key, value in node.items()}
    if isinstance(node, list):
        return [unwrap_values(value) for value in node]
    return node


def _package(group_key: str) -> str:
    group, _, package = group_key.partition("@")
    return package or group.replace("/", ".")


def _experiment(resolved: dict[str, Any], choices: Mapping[str, str | None]) -> tuple[str, str]:
    option = choices.get("exp")
    exp = resolved.get("exp")
    if option is None or not isinstance(exp, dict):
        raise ConfigError(
            "No experiment was chosen.\n"
            "  every trial runs one experiment from the `exp` config group (conf/exp/<name>.yaml)\n"
            f"Add +exp=<name> to the command line: {user_command()} +exp=<name>"
        )
    run_target = exp.get("run")
    if run_target is not None and not isinstance(run_target, str):
        raise ConfigError(
            f"The experiment exp={option} has `run: {run_target!r}`, which is not a "
            "`module:function` target.\n"
            f"  conf/exp/{option}.yaml: run is of type {type(run_target).__name__}, not a string\n"
            "Write it as `run: package.module:function`."
        )
    if not isinstance(run_target, str) or not run_target.strip():
        raise ConfigError(
            f"The experiment exp={option} does not say what to run.\n"
            f"  conf/exp/{option}.yaml needs a key `run: package.module:function`\n"
            "Add it, pointing at a function run(seed, **params) that returns a dict with 'main'."
        )
    name = exp.get("name") or option
    if not isinstance(name, str):
        raise ConfigError(
            f"The experiment name in conf/exp/{option}.yaml must be a string, got {name!r}.\n"
            "Set `name:` to a short text, or remove it to use the option name."
        )
    return name, run_target.strip()


def _settings(block: Any, default_trials_folder: Path) -> Settings:
    if not isinstance(block, dict):
        raise ConfigError(
            f"`mitosis` must be a mapping of settings, got {block!r}.\n"
            "See the README's configuration table for its keys."
        )
    fmt = block.get("format") or "html"
    if fmt not in FORMATS:
        raise ConfigError(
            f"mitosis.format={fmt!r} is not a notebook format mitosis_hydra writes.\n"
            f"Use one of: {', '.join(FORMATS)}."
        )
    untracked = block.get("untracked") or []
    if not isinstance(untracked, list) or not all(isinstance(u, str) for u in untracked):
        raise ConfigError(
            f"mitosis.untracked must be a list of parameter names, got {untracked!r}.\n"
            "Write it as e.g. mitosis.untracked=[device]."
        )
    max_output = block.get("max_output", DEFAULT_MAX_OUTPUT)
    if isinstance(max_output, bool) or not isinstance(max_output, int) or max_output < 1:
        raise ConfigError(
            f"mitosis.max_output must be a positive number of characters, got {max_output!r}.\n"
            "  it bounds each cell's printed output in the notebook (the log keeps it all)\n"
            f"Write it as e.g. mitosis.max_output={DEFAULT_MAX_OUTPUT}."
        )
    folder = block.get("trials_folder")
    return Settings(
        trials_folder=Path(folder) if folder else default_trials_folder,
        untracked=tuple(untracked),
        db=block.get("db") or None,
        format=fmt,
        max_output=max_output,
        resume=_flag(block.get("resume", False), "mitosis.resume"),
    )


def _select(config: dict[str, Any], package: str, group: str, option: str) -> Any:
    node: Any = config
    for part in package.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ConfigError(
                f"The variant {group}={option} put no value at `{package}`.\n"
                f"  mitosis_hydra reads each parameter at its group's package ({package})\n"
                f"Remove any `# @package` header from conf/{group}/{option}.yaml."
            )
        node = node[part]
    return node


def _without_children(node: Any, package: str, packages: list[str]) -> Any:
    """A group's own value: nested groups chosen separately are their own variants."""
    if not isinstance(node, dict):
        return node
    children = {
        p[len(package) + 1 :].split(".")[0] for p in packages if p.startswith(package + ".")
    }
    return {key: value for key, value in node.items() if key not in children}


def _refuse_volatile(node: Any, group: str, option: str) -> None:
    for text in _strings(node):
        if any(marker in text for marker in _VOLATILE):
            raise ConfigError(
                f"The variant {group}={option} uses {text!r}, which gives a new value every run.\n"
                "  a variant name must always mean one value, so it cannot be locked\n"
                f"Write the value itself in conf/{group}/{option}.yaml, or list {group} in "
                "mitosis.untracked."
            )


def _strings(node: Any):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def _seed(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(
            f"seed must be an integer, got {value!r}.\nSet it on the command line as e.g. seed=3."
        )
    if not _SEED_MIN <= value <= _SEED_MAX:
        raise ConfigError(
            f"seed {value} is outside the range a trial record can hold.\n"
            f"  seeds are signed 64-bit integers: {_SEED_MIN} to {_SEED_MAX}\n"
            "Choose a seed in that range, e.g. seed=3."
        )
    return value


_SEED_MIN, _SEED_MAX = -(2**63), 2**63 - 1


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false, got {value!r}.\nUse {name}=true.")
    return value
