"""build_spec on plain data: which groups are parameters, what each passes and what each locks.

The inputs are what `job.py` reads from Hydra (the composed config as plain
containers, resolved and not, plus Hydra's group choices); here they are
written out by hand, so every rule is visible in the test.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from mitosis_hydra.core.canonical import canonical_string
from mitosis_hydra.core.errors import ConfigError
from mitosis_hydra.core.spec import OptionSource, TrialSpec, build_spec, unwrap_values

DEFAULT_FOLDER = Path("/default/trials")

HYDRA_CHOICES = {
    "hydra/launcher": "basic",
    "hydra/job_logging": "stdout",
    "hydra/env": "default",
}


def config(**extra: Any) -> dict[str, Any]:
    """A composed config as Hydra gives it for `+exp=sine amplitude=small frequency=slow`."""
    base: dict[str, Any] = {
        "seed": 0,
        "debug": False,
        "mitosis": {"trials_folder": "/t", "untracked": [], "db": None, "format": "html"},
        "exp": {"name": "sine", "run": "pkg.experiments:sine"},
        "amplitude": {"_value_": 4},
        "frequency": {"hz": 0.5, "phase": [0, 1.5]},
    }
    return {**base, **extra}


def spec(
    resolved: dict[str, Any],
    choices: dict[str, str | None] | None = None,
    unresolved: dict[str, Any] | None = None,
    sources: dict[str, OptionSource] | None = None,
) -> TrialSpec:
    choices = (
        {"exp": "sine", "amplitude": "small", "frequency": "slow"} if choices is None else choices
    )
    unresolved = copy.deepcopy(resolved) if unresolved is None else unresolved
    for group in ("amplitude", "frequency"):  # as Hydra composes it: unchosen groups are absent
        if choices.get(group) is None:
            resolved, unresolved = _without(resolved, group), _without(unresolved, group)
    return build_spec(
        resolved,
        unresolved,
        {**HYDRA_CHOICES, **choices},
        sources or {},
        DEFAULT_FOLDER,
    )


def _without(cfg: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in cfg.items() if k != key}


# -- parameters ----------------------------------------------------------------------


def test_every_chosen_group_but_hydra_and_exp_is_a_parameter() -> None:
    made = spec(config())
    assert made.experiment == "sine" and made.run_target == "pkg.experiments:sine"
    assert made.variants == {"amplitude": "small", "frequency": "slow"}
    assert made.arguments == {"amplitude": 4, "frequency": {"hz": 0.5, "phase": [0, 1.5]}}
    assert [p.group for p in made.parameters] == ["amplitude", "frequency"]
    assert all(p.tracked for p in made.parameters)


def test_value_wrappers_are_unwrapped_at_any_depth() -> None:
    made = spec(config(amplitude={"_value_": {"_value_": [1, {"_value_": 2.0}]}}))
    assert made.arguments["amplitude"] == [1, 2.0]
    assert unwrap_values({"_value_": 1, "other": 2}) == {"_value_": 1, "other": 2}


def test_tracked_variants_carry_their_canonical_value_and_source() -> None:
    source = OptionSource(path="conf/amplitude/small.yaml", text="_value_: 4\n")
    made = spec(config(), sources={"amplitude": source})
    amplitude = made.tracked[0]
    assert (amplitude.group, amplitude.name, amplitude.canonical) == ("amplitude", "small", "4")
    assert (amplitude.source_path, amplitude.source) == (source.path, source.text)
    assert made.tracked[1].canonical == canonical_string({"hz": 0.5, "phase": [0, 1.5]})


@pytest.mark.parametrize(("value", "text"), [(4, "4"), (4.0, "4.0"), ("4", '"4"')])
def test_the_locked_value_keeps_its_type(value: Any, text: str) -> None:
    assert spec(config(amplitude={"_value_": value})).tracked[0].canonical == text


def test_a_nested_group_is_its_own_variant_and_passed_inside_its_parent() -> None:
    resolved = config(model={"layers": [8, 4], "optimizer": {"lr": 0.1, "name": "adam"}})
    choices = {"exp": "sine", "amplitude": "small", "frequency": "slow", "model": "mlp"}
    choices["model/optimizer"] = "adam"
    made = spec(resolved, choices)
    by_group = {p.group: p for p in made.parameters}
    assert by_group["model"].value == {"layers": [8, 4]}
    assert by_group["model/optimizer"].value == {"lr": 0.1, "name": "adam"}
    assert by_group["model/optimizer"].argument == "model"
    assert by_group["model/optimizer"].package == "model.optimizer"
    assert made.arguments["model"] == resolved["model"]
    assert "optimizer" not in made.arguments
    locked = {v.group: v.canonical for v in made.tracked}
    assert locked["model"] == canonical_string({"layers": [8, 4]})


def test_a_group_chosen_as_null_is_not_a_parameter() -> None:
    made = spec(config(), {"exp": "sine", "amplitude": "small", "frequency": None})
    assert made.variants == {"amplitude": "small"}


def test_untracked_parameters_are_passed_but_not_locked() -> None:
    resolved = config(device={"_value_": "cuda:0"})
    resolved["mitosis"]["untracked"] = ["device"]
    made = spec(resolved, {"exp": "sine", "amplitude": "small", "device": "gpu"})
    assert made.arguments["device"] == "cuda:0"
    assert made.variants == {"amplitude": "small", "device": "gpu"}
    assert made.tracked_variants == {"amplitude": "small"}
    assert [v.group for v in made.tracked] == ["amplitude", "exp"]


def test_a_group_whose_value_is_not_at_its_package_is_refused() -> None:
    resolved = config()
    del resolved["frequency"]
    with pytest.raises(ConfigError) as caught:
        spec(resolved)
    lines = str(caught.value).splitlines()
    assert lines[0] == "The variant frequency=slow put no value at `frequency`."
    assert lines[-1] == "Remove any `# @package` header from conf/frequency/slow.yaml."


# -- volatile values -----------------------------------------------------------------------


def _with_now() -> tuple[dict[str, Any], dict[str, Any]]:
    resolved = config(stamp={"tag": "2026-01-05_12-00-00"})
    unresolved = copy.deepcopy(resolved)
    unresolved["stamp"] = {"tag": "${now:%Y-%m-%d_%H-%M-%S}"}
    return resolved, unresolved


def test_now_in_a_tracked_variant_is_refused_with_what_to_do() -> None:
    resolved, unresolved = _with_now()
    with pytest.raises(ConfigError) as caught:
        spec(resolved, {"exp": "sine", "stamp": "today"}, unresolved)
    lines = str(caught.value).splitlines()
    assert lines[0] == (
        "The variant stamp=today uses '${now:%Y-%m-%d_%H-%M-%S}', "
        "which gives a new value every run."
    )
    assert lines[1].startswith("  ")
    assert lines[-1] == (
        "Write the value itself in conf/stamp/today.yaml, or list stamp in mitosis.untracked."
    )


def test_now_is_allowed_in_debug_trials() -> None:
    resolved, unresolved = _with_now()
    resolved["debug"] = unresolved["debug"] = True
    made = spec(resolved, {"exp": "sine", "stamp": "today"}, unresolved)
    assert made.debug is True
    assert made.arguments["stamp"] == {"tag": "2026-01-05_12-00-00"}


def test_now_is_allowed_in_untracked_parameters() -> None:
    resolved, unresolved = _with_now()
    for cfg in (resolved, unresolved):
        cfg["mitosis"]["untracked"] = ["stamp"]
    made = spec(resolved, {"exp": "sine", "stamp": "today"}, unresolved)
    assert [v.group for v in made.tracked] == ["exp"]


# -- experiment and settings ---------------------------------------------------------------


def test_a_missing_experiment_says_to_add_plus_exp() -> None:
    resolved = config()
    del resolved["exp"]
    with pytest.raises(ConfigError) as caught:
        spec(resolved, {"amplitude": "small", "frequency": "slow"})
    lines = str(caught.value).splitlines()
    assert lines[0] == "No experiment was chosen."
    assert "+exp=<name>" in lines[-1]


def test_an_experiment_without_run_names_its_file() -> None:
    with pytest.raises(ConfigError, match=r"conf/exp/sine.yaml needs a key `run:"):
        spec(config(exp={"name": "sine"}))


def test_the_experiment_name_defaults_to_the_option() -> None:
    assert spec(config(exp={"run": "pkg:f"})).experiment == "sine"


@pytest.mark.parametrize("seed", ["3", 1.5, True, None])
def test_a_seed_that_is_not_an_integer_is_refused(seed: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        spec(config(seed=seed))
    assert str(caught.value).splitlines() == [
        f"seed must be an integer, got {seed!r}.",
        "Set it on the command line as e.g. seed=3.",
    ]


@pytest.mark.parametrize("seed", [2**63, -(2**63) - 1])
def test_a_seed_beyond_64_bits_is_refused(seed: int) -> None:
    with pytest.raises(ConfigError, match=rf"^seed {seed} is outside the range a trial record"):
        spec(config(seed=seed))
    assert spec(config(seed=2**63 - 1)).seed == 2**63 - 1
    assert spec(config(seed=-(2**63))).seed == -(2**63)


def test_debug_must_be_a_boolean() -> None:
    with pytest.raises(ConfigError, match=r"debug must be true or false, got 'yes'"):
        spec(config(debug="yes"))


def test_a_bad_format_lists_the_formats() -> None:
    resolved = config()
    resolved["mitosis"]["format"] = "pdf"
    with pytest.raises(ConfigError) as caught:
        spec(resolved)
    assert str(caught.value).splitlines() == [
        "mitosis.format='pdf' is not a notebook format mitosis_hydra writes.",
        "Use one of: html, ipynb, both.",
    ]


def test_untracked_must_be_a_list_of_names() -> None:
    resolved = config()
    resolved["mitosis"]["untracked"] = "device"
    with pytest.raises(ConfigError, match=r"mitosis.untracked=\[device\]"):
        spec(resolved)


def test_settings_fall_back_to_the_default_trials_folder() -> None:
    resolved = config()
    resolved["mitosis"] = {"format": "both", "db": "sqlite:///x.db"}
    settings = spec(resolved).settings
    assert settings.trials_folder == DEFAULT_FOLDER
    assert (settings.format, settings.db, settings.untracked) == ("both", "sqlite:///x.db", ())


def test_now_in_an_untracked_child_group_does_not_refuse_its_tracked_parent() -> None:
    """The parent's lock excludes the child, so the child's volatile value is not the parent's."""
    resolved = config(model={"layers": 2, "logger": {"run_id": "2026-01-05"}})
    unresolved = copy.deepcopy(resolved)
    unresolved["model"]["logger"] = {"run_id": "${now:%Y-%m-%d}"}
    for cfg in (resolved, unresolved):
        cfg["mitosis"]["untracked"] = ["model/logger"]
    made = spec(resolved, {"exp": "sine", "model": "mlp", "model/logger": "dated"}, unresolved)
    assert made.tracked_variants == {"model": "mlp"}
    assert made.tracked[0].canonical == canonical_string({"layers": 2})


# -- placements, experiment arguments, presets (the config rule) ---------------------------


def _db_config() -> dict[str, Any]:
    return {
        **_without(_without(config(), "amplitude"), "frequency"),
        "db": {"driver": "mysql"},
        "backup": {"driver": "postgresql"},
    }


def test_a_group_and_its_placement_are_two_parameters() -> None:
    made = spec(_db_config(), {"exp": "sine", "db": "mysql", "db@backup": "postgresql"})
    assert made.arguments == {"db": {"driver": "mysql"}, "backup": {"driver": "postgresql"}}
    assert made.variants == {"db": "mysql", "db@backup": "postgresql"}
    assert made.tracked_variants == {"db": "mysql", "backup": "postgresql"}
    assert [(v.group, v.name) for v in made.tracked] == [
        ("db", "mysql"),
        ("db", "postgresql"),
        ("exp", "sine"),
    ]


def test_one_option_placed_twice_is_locked_once() -> None:
    resolved = {**_db_config(), "backup": {"driver": "mysql"}}
    made = spec(resolved, {"exp": "sine", "db": "mysql", "db@backup": "mysql"})
    assert [(v.group, v.name) for v in made.tracked] == [("db", "mysql"), ("exp", "sine")]


def test_experiment_keys_are_arguments_and_its_own_groups_are_parameters() -> None:
    resolved = config()
    resolved["exp"] = {"name": "sine", "run": "pkg:run", "epochs": 10, "model": {"depth": 2}}
    choices = {"exp": "sine", "amplitude": "small", "frequency": "slow", "model": "deep"}
    sources = {"model": OptionSource(package="exp.model")}
    made = spec(resolved, choices, sources=sources)
    assert made.arguments["epochs"] == 10 and made.arguments["model"] == {"depth": 2}
    assert made.tracked_variants == {"amplitude": "small", "frequency": "slow", "model": "deep"}
    exp = made.tracked[-1]
    assert (exp.group, exp.name) == ("exp", "sine")
    assert exp.canonical == canonical_string({"run": "pkg:run", "epochs": 10})


def test_an_experiment_argument_may_not_shadow_a_parameter() -> None:
    resolved = config()
    resolved["exp"] = {"run": "pkg:run", "amplitude": 3}
    with pytest.raises(ConfigError) as caught:
        spec(resolved)
    assert str(caught.value).splitlines()[0] == (
        "The experiment argument `amplitude` has the name of another parameter."
    )


def test_a_preset_is_locked_and_named_but_not_passed() -> None:
    own = {"frequency": {"hz": 0.5}}
    sources = {"preset": OptionSource(package="", own=own, known=True, selects=("x: y",))}
    choices = {"exp": "sine", "amplitude": "small", "frequency": "slow", "preset": "fast"}
    made = spec(config(), choices, sources=sources)
    assert "preset" not in made.arguments
    assert made.tracked_variants["preset"] == "fast"
    preset = next(v for v in made.tracked if v.group == "preset")
    assert preset.canonical == canonical_string({"defaults": ["x: y"], "values": own})


def test_a_top_level_key_a_variant_refers_to_is_allowed_and_resolved_into_its_lock() -> None:
    resolved = config(paths={"data": "/data"}, frequency={"file": "/data/f.csv"})
    unresolved = copy.deepcopy(resolved)
    unresolved["frequency"]["file"] = "${paths.data}/f.csv"
    made = spec(resolved, unresolved=unresolved)
    assert "paths" not in made.arguments
    assert made.tracked[1].canonical == canonical_string({"file": "/data/f.csv"})
    with pytest.raises(ConfigError) as caught:
        spec(resolved)  # nothing refers to it any more
    assert str(caught.value).startswith("The top-level key `paths` is not a parameter")


def test_a_modified_variant_is_named_by_its_changes_and_locked_to_its_own_value() -> None:
    own = {"hz": 0.5, "phase": [0, 1.5]}
    resolved = config(frequency={"hz": 2, "phase": [0, 1.5], "extra": True})
    sources = {"frequency": OptionSource(package="frequency", own=own, known=True)}
    made = spec(resolved, sources=sources)
    assert made.variants["frequency"] == "slow[extra=true,hz=2]"
    assert made.arguments["frequency"] == {"hz": 2, "phase": [0, 1.5], "extra": True}
    locked = next(v for v in made.tracked if v.group == "frequency")
    assert (locked.name, locked.canonical) == ("slow", canonical_string(own))
