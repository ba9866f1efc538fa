"""From a composed Hydra config to a trial specification (pure: plain data in, plain data out).

The composed config arrives as plain containers (resolved and unresolved) plus
Hydra's group choices; this module decides which groups are parameters, what
value each passes to `run`, and what each variant locks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from mitosis_hydra.core.command import user_command
from mitosis_hydra.core.errors import ConfigError
from mitosis_hydra.core.goals import check_goal
from mitosis_hydra.core.modifications import modifications, variant_label
from mitosis_hydra.core.output_limit import DEFAULT_MAX_OUTPUT
from mitosis_hydra.core.top_level import refuse_stray_keys, strings, untracked_keys
from mitosis_hydra.core.trial_spec import OptionSource, Parameter, Settings, TrialSpec

FORMATS = ("html", "ipynb", "both")
# Interpolations whose value changes from one run to the next cannot name a value.
_VOLATILE = ("${now:",)


# Keys of an experiment option that say what to run rather than what to pass.
_EXPERIMENT_KEYS = ("name", "run", "goal", "defaults")


def build_spec(
    resolved: dict[str, Any],
    unresolved: dict[str, Any],
    choices: Mapping[str, str | None],
    sources: Mapping[str, OptionSource],
    default_trials_folder: Path,
    canonical: dict[str, Any] | None = None,
) -> TrialSpec:
    """The trial a composed config describes, or a ConfigError saying what to fix.

    `sources` maps a choice key (`db@src`) to what is known of its option;
    `canonical` is the composed config in canonical view (see OptionSource), by
    default the resolved one. Every top-level key must be accounted for: a
    parameter, an experiment, a setting, or a value some variant refers to.
    """
    canonical = resolved if canonical is None else canonical
    debug = _flag(resolved.get("debug", False), "debug")
    experiment, run_target = _experiment(resolved, choices)
    settings = _settings(resolved.get("mitosis") or {}, default_trials_folder)
    chosen = _chosen(choices, sources)
    packages = [package for _key, _option, package, _source in chosen if package]
    parameters = tuple(
        _parameter(key, option, package, source, (resolved, unresolved, canonical), packages)
        for key, option, package, source in chosen
    )
    parameters = tuple(_with_tracking(p, settings.untracked) for p in parameters)
    experiment_variant = _experiment_variant(
        choices["exp"], sources.get("exp") or OptionSource(), canonical, packages
    )
    extra = untracked_keys(resolved, parameters, settings.untracked)
    refuse_stray_keys(resolved, unresolved, parameters, extra, choices["exp"])
    if not debug:
        for p in parameters:
            if p.tracked and not p.preset:
                own = _select(unresolved, p.package, p.group, p.variant)
                _refuse_volatile(_without_children(own, p.package, packages), p.group, p.variant)
    return TrialSpec(
        experiment=experiment,
        run_target=run_target,
        seed=_seed(resolved.get("seed", 0)),
        debug=debug,
        parameters=tuple(sorted(parameters, key=lambda p: (p.group, p.key))),
        arguments=_arguments(resolved, parameters, packages, extra),
        settings=settings,
        experiment_variant=experiment_variant,
    )


def parameter_roots(
    choices: Mapping[str, str | None], packages: Mapping[str, str], untracked: Any = ()
) -> set[str]:
    """Top-level keys whose references stay references in a canonical value (see DESIGN §4).

    Only named values qualify: `seed`, the experiment and tracked parameters. A
    reference to an untracked parameter is resolved, or a variant's name would
    not say what it held.
    """
    skipped = set(untracked) if isinstance(untracked, list | tuple) else set()
    roots = {"seed", "exp"}
    for key, option in choices.items():
        if option is None or key.startswith("hydra/") or {key, key.split("@")[0]} & skipped:
            continue
        package = packages.get(key, _package(key))
        if package and package != "_global_":
            roots.add(package.split(".")[0])
    return roots - skipped


def _chosen(
    choices: Mapping[str, str | None], sources: Mapping[str, OptionSource]
) -> list[tuple[str, str, str, OptionSource]]:
    """(choice key, option, package, source) of every chosen group but `hydra/*` and `exp`."""
    chosen = []
    for key, option in choices.items():
        group = key.split("@")[0]
        if option is None or group.startswith("hydra/") or group == "exp":
            continue
        source = sources.get(key) or OptionSource()
        package = _package(key) if source.package is None else source.package
        chosen.append((key, option, "" if package == "_global_" else package, source))
    return chosen


def _parameter(
    key: str,
    option: str,
    package: str,
    source: OptionSource,
    configs: tuple[dict[str, Any], dict[str, Any], dict[str, Any]],
    packages: list[str],
) -> Parameter:
    resolved, _unresolved, canonical = configs
    group = key.split("@")[0]
    common = {
        "source": source.text,
        "source_path": source.path,
        "key": key,
        "new_name": source.new_name,
        "tracked": True,
    }
    if not package:  # a preset: it selects and writes; both are accounted for elsewhere
        locked = {"defaults": list(source.selects), "values": source.own if source.known else None}
        return Parameter(
            group, option, "", "", None, label=option, locked=locked, preset=True, **common
        )
    value = _without_children(_select(resolved, package, group, option), package, packages)
    composed = _without_children(_select(canonical, package, group, option), package, packages)
    own = _without_children(source.own, package, packages) if source.known else composed
    return Parameter(
        group,
        option,
        package,
        _argument(package),
        unwrap_values(value),
        label=variant_label(option, modifications(own, composed)),
        locked=unwrap_values(own),
        **common,
    )


def _argument(package: str) -> str:
    """The keyword a package is passed as: its first key (inside `exp`, its second)."""
    parts = package.split(".")
    return parts[1] if parts[0] == "exp" and len(parts) > 1 else parts[0]


def _with_tracking(p: Parameter, untracked: tuple[str, ...]) -> Parameter:
    if {p.argument, p.group, p.key} & set(untracked):
        return replace(p, tracked=False)
    return p


def _experiment_variant(
    option: str, source: OptionSource, canonical: dict[str, Any], packages: list[str]
) -> Parameter:
    """The experiment, locked like a variant: its run target and its own arguments."""
    composed = _without_children(canonical.get("exp"), "exp", packages)
    own = _without_children(source.own, "exp", packages) if source.known else composed

    def body(node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        return {k: v for k, v in node.items() if k not in ("name", "defaults")}

    return Parameter(
        "exp",
        option,
        "exp",
        "",
        None,
        True,
        source.text,
        source.path,
        key="exp",
        label=variant_label(option, modifications(body(own), body(composed))),
        locked=body(own),
        new_name=source.new_name,
    )


def _arguments(
    resolved: dict[str, Any],
    parameters: tuple[Parameter, ...],
    packages: list[str],
    extra: tuple[str, ...],
) -> dict[str, Any]:
    """What `run` receives, in the composed order (only the canonical form sorts)."""
    names = {p.argument for p in parameters if p.argument and not p.package.startswith("exp.")}
    arguments = {
        key: unwrap_values(resolved[key]) for key in resolved if key in names or key in extra
    }
    exp = resolved.get("exp") or {}
    children = {_argument(p) for p in packages if p.startswith("exp.")}
    for key, value in exp.items():
        if key in _EXPERIMENT_KEYS:
            continue
        if key in arguments and key not in children:
            raise ConfigError(
                f"The experiment argument `{key}` has the name of another parameter.\n"
                f"  both the experiment's option and a top-level `{key}` give `{key}` to run\n"
                "Rename one of them."
            )
        arguments[key] = unwrap_values(value)
    return arguments


def unwrap_values(node: Any) -> Any:
    """Replace every mapping whose only key is `_value_` by that value."""
    if isinstance(node, dict):
        if set(node) == {"_value_"}:
            return unwrap_values(node["_value_"])
        return {key: unwrap_values(value) for key, value in node.items()}
    if isinstance(node, list):  # a long list of numbers: no call per number
        return [unwrap_values(value) if isinstance(value, dict | list) else value for value in node]
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
    check_goal(exp, option)
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
    for text in strings(node):
        if any(marker in text for marker in _VOLATILE):
            raise ConfigError(
                f"The variant {group}={option} uses {text!r}, which gives a new value every run.\n"
                "  a variant name must always mean one value, so it cannot be locked\n"
                f"Write the value itself in conf/{group}/{option}.yaml, or list {group} in "
                "mitosis.untracked."
            )


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
