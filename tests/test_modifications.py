"""Modified variants on plain data: the label, and the property the whole rule rests on.

Two trials with the same chosen options get the same (experiment, variant labels)
combination if and only if every value reaching `run` is the same.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mitosis_hydra.core.canonical import canonical_string
from mitosis_hydra.core.modifications import MAX_MODIFICATIONS_LENGTH, modifications, variant_label
from mitosis_hydra.core.naming import combination_key
from mitosis_hydra.core.spec import OptionSource, build_spec

SETTINGS = {
    "seed": 0,
    "debug": False,
    "mitosis": {"trials_folder": "/t", "untracked": [], "db": None, "format": "html"},
}


def test_an_unchanged_option_keeps_its_name() -> None:
    assert variant_label("ridge", modifications({"alpha": 1.0}, {"alpha": 1.0})) == "ridge"


def test_changed_added_and_removed_fields_are_sorted_dotted_paths() -> None:
    own = {"alpha": 1.0, "solver": {"name": "lbfgs", "tol": 1e-4}, "old": 1}
    value = {"alpha": 0.5, "solver": {"name": "lbfgs", "tol": 1e-3}, "extra": [1, 2]}
    changes = modifications(own, value)
    assert changes == {"alpha": 0.5, "solver.tol": 1e-3, "extra": [1, 2], "~old": None}
    assert variant_label("ridge", changes) == "ridge[alpha=0.5,extra=[1,2],solver.tol=0.001,~old]"


def test_values_keep_their_type_and_words_are_bare() -> None:
    def label(value: Any) -> str:
        return variant_label("o", modifications({"k": None}, {"k": value}))

    assert [label(v) for v in (4, 4.0, "4", "root", "true", True, "a b")] == [
        "o[k=4]",
        "o[k=4.0]",
        'o[k="4"]',
        "o[k=root]",
        'o[k="true"]',
        "o[k=true]",
        'o[k="a b"]',
    ]


def test_keys_with_separators_are_quoted() -> None:
    changes = modifications({}, {"a.b": 1, "a": {"b": 2}})
    assert variant_label("o", changes) == 'o["a.b"=1,a={"b":2}]'


def test_long_modifications_are_shortened_to_a_hash_of_all_of_them() -> None:
    changes = {f"field{i}": i for i in range(20)}
    label = variant_label("ridge", changes)
    assert label.startswith("ridge[#") and len(label) < len("ridge[]") + MAX_MODIFICATIONS_LENGTH
    assert variant_label("ridge", {**changes, "field0": -1}) != label


# -- the property -----------------------------------------------------------------------------

_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 2),
    st.floats(allow_nan=True, allow_infinity=True, width=16),
    st.text(alphabet="ab0.=[], ", max_size=3),
)
_VALUES = st.one_of(
    _LEAVES,
    st.lists(_LEAVES, max_size=2),
    st.dictionaries(st.sampled_from(["x", "y.z", "1"]), _LEAVES, max_size=2),
)
_OWN = st.dictionaries(st.sampled_from(["a", "b", "c"]), _VALUES, min_size=1, max_size=3)
_OVERRIDES = st.lists(
    st.tuples(
        st.sampled_from(["model", "data", "exp"]),
        st.lists(st.sampled_from(["a", "b", "x", "y.z"]), min_size=1, max_size=2),
        _VALUES,
    ),
    max_size=3,
)


def _apply(config: dict[str, Any], overrides: list) -> dict[str, Any]:
    """Field overrides as Hydra applies them: set (or add) the value at a dotted path."""
    config = copy.deepcopy(config)
    for group, path, value in overrides:
        node = config[group]
        for part in path[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[path[-1]] = copy.deepcopy(value)
    return config


def _run(own: dict[str, dict[str, Any]], overrides: list) -> tuple[str, str]:
    exp_own = {"run": "pkg:run", **own["exp"]}
    composed = _apply(
        {**SETTINGS, "model": own["model"], "data": own["data"], "exp": exp_own},
        [(group, path, value) for group, path, value in overrides],
    )
    sources = {
        "model": OptionSource(package="model", own=own["model"], known=True),
        "data": OptionSource(package="data", own=own["data"], known=True),
        "exp": OptionSource(package="exp", own=exp_own, known=True),
    }
    choices = {"exp": "e", "model": "m", "data": "d", "hydra/launcher": "basic"}
    made = build_spec(composed, composed, choices, sources, Path("/t"))
    combination = combination_key(made.experiment, made.tracked_variants)
    return combination, canonical_string(made.arguments)


@settings(max_examples=300, deadline=None)
@given(
    own=st.fixed_dictionaries({"model": _OWN, "data": _OWN, "exp": _OWN}),
    first=_OVERRIDES,
    second=_OVERRIDES,
)
def test_same_combination_iff_same_values_reach_run(own, first, second) -> None:
    for name in ("name", "run", "defaults"):
        own["exp"].pop(name, None)
    (combo_1, values_1), (combo_2, values_2) = _run(own, first), _run(own, second)
    assert (combo_1 == combo_2) == (values_1 == values_2)
