"""Trial names and variant-conflict messages: pure functions, checked line by line."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from hypothesis import assume, given
from hypothesis import strategies as st

from mitosis_hydra.core.canonical import canonical_hash, canonical_string
from mitosis_hydra.core.conflicts import Conflict, conflict_message, display_value, find_conflicts
from mitosis_hydra.core.naming import (
    combination_key,
    debug_name,
    names_hash,
    trial_name,
    variant_part,
)
from mitosis_hydra.core.records import VariantLock, VariantValue

LOCKED_AT = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)


def requested(group: str, name: str, value: object, path: str | None = None) -> VariantValue:
    text = canonical_string(value)
    return VariantValue(group, name, text, canonical_hash(text), None, path)


def stored(group: str, name: str, value: object) -> VariantLock:
    text = canonical_string(value)
    return VariantLock(
        group=group,
        name=name,
        canonical=text,
        hash=canonical_hash(text),
        source=None,
        first_commit="a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
        first_trial=f"sine-{group}_{name}-3",
        locked_at=LOCKED_AT,
    )


# -- names ----------------------------------------------------------------------------


def test_trial_names_sort_parameters_by_name() -> None:
    variants = {"frequency": "slow", "amplitude": "big", "model": "mlp"}
    assert trial_name("sine", variants, 7) == "sine-amplitude_big-frequency_slow-model_mlp-7"


def test_nested_groups_appear_with_dots() -> None:
    variants = {"model/optimizer": "adam", "model": "mlp"}
    assert trial_name("fit", variants, 1) == "fit-model_mlp-model.optimizer_adam-1"
    assert variant_part({"a/b/c": "x"}) == "a.b.c_x"


def test_a_trial_without_parameters_is_named_by_experiment_and_iteration() -> None:
    assert trial_name("sine", {}, 2) == "sine-2"


def test_characters_unsafe_in_folder_names_are_replaced_and_a_hash_added() -> None:
    name = trial_name("my exp", {"amp": "a b/c:d"}, 1)
    assert name == f"my_exp-amp_a_b_c_d-h{names_hash('my exp', {'amp': 'a b/c:d'})}-1"
    assert re.fullmatch(r"my_exp-amp_a_b_c_d-h[0-9a-f]{8}-1", name)


def test_names_that_sanitise_alike_still_give_different_trial_names() -> None:
    pairs = [
        ("draw", {"amplitude": "sub/deep"}, "draw", {"amplitude": "sub_deep"}),
        ("draw", {"amplitude": "grün"}, "draw", {"amplitude": "grän"}),
        ("a/b/c", {}, "a_b_c", {}),
        ("draw", {"a.b": "x"}, "draw", {"a/b": "x"}),
    ]
    for exp1, variants1, exp2, variants2 in pairs:
        assert trial_name(exp1, variants1, 1) != trial_name(exp2, variants2, 1)
        assert debug_name(exp1, variants1, "k") != debug_name(exp2, variants2, "k")
    # the name that needed no change keeps its plain, hash-free form
    assert trial_name("draw", {"amplitude": "sub_deep"}, 1) == "draw-amplitude_sub_deep-1"


def test_modified_variant_labels_stay_readable() -> None:
    variants = {"model": "ridge[alpha=0.5,fit=true]", "amplitude": "x+y.z"}
    assert trial_name("fit", variants, 3) == (
        "fit-amplitude_x+y.z-model_ridge[alpha=0.5,fit=true]-3"
    )


@given(st.text(min_size=1, max_size=8), st.text(min_size=1, max_size=8))
def test_different_variant_names_never_share_a_trial_name(first: str, second: str) -> None:
    assume(first != second)
    assert trial_name("e", {"g": first}, 1) != trial_name("e", {"g": second}, 1)


def test_debug_names_say_debug_and_carry_the_key() -> None:
    assert debug_name("sine", {"amplitude": "big"}, "k3y") == "sine-amplitude_big-debug-k3y"


@given(st.dictionaries(st.text(min_size=1), st.text(), max_size=5), st.data())
def test_combination_key_ignores_insertion_order(variants: dict, data: st.DataObject) -> None:
    order = data.draw(st.permutations(list(variants)))
    reordered = {group: variants[group] for group in order}
    assert combination_key("e", reordered) == combination_key("e", variants)
    assert combination_key("e", variants) != combination_key("f", variants)


def test_combination_keys_of_different_combinations_differ() -> None:
    keys = {
        combination_key("sine", {"a": "b-c"}),
        combination_key("sine", {"a-b": "c"}),
        combination_key("sine", {"a": "b", "c": "d"}),
        combination_key("sine-a_b", {}),
    }
    assert len(keys) == 4


# -- conflicts ------------------------------------------------------------------------


def test_find_conflicts_reports_only_changed_values() -> None:
    locks = {("amplitude", "small"): stored("amplitude", "small", 4)}
    same, changed, new = (
        requested("amplitude", "small", 4),
        requested("amplitude", "small", 4.0),
        requested("amplitude", "fresh", 1),
    )
    assert find_conflicts([same, new], locks) == []
    assert find_conflicts([same, changed, new], locks) == [
        Conflict(changed, locks["amplitude", "small"])
    ]


def test_a_scalar_conflict_reads_what_where_what_to_do() -> None:
    conflict = Conflict(
        requested("amplitude", "small", 4.0, "conf/amplitude/small.yaml"),
        stored("amplitude", "small", 4),
    )
    assert conflict_message([conflict]).splitlines() == [
        "Variant amplitude=small is already locked to a different value.",
        "  first locked by trial sine-amplitude_small-3 (commit a1b2c3d, 2026-01-05 14:30)",
        "  stored: 4    new: 4.0 (conf/amplitude/small.yaml)",
        "Give the new value a new name (e.g. conf/amplitude/small_v2.yaml), "
        "or release the old one: mitosis-hydra variants release amplitude/small",
    ]


def test_a_mapping_conflict_shows_a_diff() -> None:
    old = {"lr": 0.1, "layers": [8, 4], "name": "naïve"}
    new = {"lr": 0.01, "layers": [8, 4], "name": "naïve"}
    message = conflict_message(
        [
            Conflict(
                requested("model", "mlp", new, "conf/model/mlp.yaml"), stored("model", "mlp", old)
            )
        ]
    )
    lines = message.splitlines()
    assert lines[0] == "Variant model=mlp is already locked to a different value."
    assert lines[2] == "  stored vs new (conf/model/mlp.yaml):"
    assert "    --- stored" in lines and "    +++ new" in lines
    assert '    -  "lr": 0.1,' in lines and '    +  "lr": 0.01,' in lines
    assert '       "name": "naïve"' in lines  # unchanged context, unicode unescaped
    assert all(line.startswith("  ") for line in lines[1:-1])
    assert lines[-1].startswith("Give the new value a new name")


def test_a_scalar_that_became_a_list_is_shown_as_a_diff_too() -> None:
    message = conflict_message([Conflict(requested("a", "x", [1, 2]), stored("a", "x", 1))])
    assert "  stored vs new:" in message
    assert "    -1" in message.splitlines()


def test_several_conflicts_share_one_header_and_can_name_the_sweep_job() -> None:
    conflicts = [
        Conflict(requested("a", "x", 2), stored("a", "x", 1)),
        Conflict(requested("b", "y", "2"), stored("b", "y", 2)),
    ]
    lines = conflict_message(conflicts, job="a=x b=y seed=3").splitlines()
    assert lines[0] == "2 variant names are already locked to different values."
    assert lines[1] == "Variant a=x is already locked to a different value."
    assert lines.count("  in sweep job: a=x b=y seed=3") == 2
    assert '  stored: 2    new: "2"' in lines


def test_display_value_keeps_scalars_as_stored_and_indents_containers() -> None:
    assert display_value("4.0") == "4.0"
    assert display_value('"4"') == '"4"'
    assert display_value(canonical_string({"b": 1, "a": "ü"})) == '{\n  "a": "ü",\n  "b": 1\n}'
