"""Properties of the canonical form: the string a variant lock compares.

A lock is only as good as this string: two different values must never give
the same text (or a changed variant would slip through), and one value must
always give the same text (or an unchanged variant would be refused), whatever
the key order, the process or the machine.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import struct
import subprocess
import sys
from pathlib import PurePosixPath
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from mitosis_hydra.core.canonical import canonical_hash, canonical_string

# -- strategies ---------------------------------------------------------------------

# Keys that look like the canonical form's own tags must not collide with them.
_TAG_LIKE_KEYS = st.sampled_from(
    ["$float", "$path", "$bytes", "$enum", "$int:1", "$bool:True", "$$float", "$", "$$"]
)
# YAML can spell lone surrogates ("\ud800" in double quotes). Only high ones are mixed in
# here: JSON reads an escaped high+low pair back as one character (their canonical strings
# still differ, see the surrogate test below).
strings = st.text(st.characters() | st.sampled_from(["\ud800", "\udbff"]))
keys = st.one_of(strings.filter(lambda t: len(t) <= 6), _TAG_LIKE_KEYS, st.integers(-3, 3))
floats = st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-2, 2),
    floats,
    st.sampled_from([0.0, -0.0, 1.0, 4.0, 1e308, -1e308, 5e-324, math.inf, -math.inf]),
    strings,
    st.sampled_from(["4", "4.0", "True", "true", "nan", "inf", "null", "$float", "ü", "日本"]),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(keys, children, max_size=4),
    ),
    max_leaves=12,
)


def same(a: Any, b: Any) -> bool:
    """Equality that keeps types apart: 1, 1.0 and True differ; NaN is NaN; -0.0 is not 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b) or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        # keys are str or int here, which Python's own equality already keeps apart
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def decode(text: str) -> Any:
    """Read a canonical string back into the value: proof that no information was lost."""
    return _untag(json.loads(text))


def _untag(node: Any) -> Any:
    if isinstance(node, list):
        return [_untag(item) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"$float"}:
        return float(node["$float"])
    assert not any(k.startswith("$") and not k.startswith(("$$", "$int:")) for k in node), node
    return {_untag_key(k): _untag(v) for k, v in node.items()}


def _untag_key(key: str) -> str | int:
    if key.startswith("$$"):
        return key[1:]
    if key.startswith("$int:"):
        return int(key.removeprefix("$int:"))
    return key


def shuffled(value: Any, data: st.DataObject) -> Any:
    """The same value with every mapping's keys inserted in another order."""
    if isinstance(value, list):
        return [shuffled(item, data) for item in value]
    if isinstance(value, dict):
        order = data.draw(st.permutations(list(value)))
        return {key: shuffled(value[key], data) for key in order}
    return value


# -- properties ---------------------------------------------------------------------


@given(values, st.data())
def test_key_order_never_matters(value: Any, data: st.DataObject) -> None:
    assert canonical_string(shuffled(value, data)) == canonical_string(value)


@given(values)
def test_the_string_reads_back_as_the_same_value(value: Any) -> None:
    assert same(decode(canonical_string(value)), value)


@given(values, values)
def test_different_values_give_different_strings(a: Any, b: Any) -> None:
    assert (canonical_string(a) == canonical_string(b)) == same(a, b)


@given(st.lists(st.sampled_from([0, 1, True, False, 0.0, -0.0, 1.0, "1", "0", None, []])))
def test_near_equal_python_values_stay_apart(items: list[Any]) -> None:
    """A small domain, so the pair test above meets the 1 == 1.0 == True cases often."""
    for a in items:
        for b in items:
            assert (canonical_string(a) == canonical_string(b)) == same(a, b)


@given(floats.filter(math.isfinite))
def test_finite_floats_round_trip_exactly(x: float) -> None:
    text = canonical_string(x)
    back = json.loads(text)
    assert type(back) is float
    assert struct.pack("<d", back) == struct.pack("<d", x)


@given(strings)
def test_unicode_is_kept_as_written(text: str) -> None:
    canonical = canonical_string({"label": text})
    assert json.loads(canonical) == {"label": text}
    # JSON must escape only quotes, backslashes and control characters; the rest stays as is
    assert all(ch in canonical for ch in text if ord(ch) > 127 and not _is_surrogate(ch))
    assert len(canonical_hash(canonical)) == 16


def test_four_four_point_oh_string_four_and_true_differ() -> None:
    texts = [canonical_string(v) for v in (4, 4.0, "4", True, 1, 1.0)]
    assert len(set(texts)) == len(texts), texts
    assert texts[:4] == ["4", "4.0", '"4"', "true"]


@pytest.mark.parametrize("x", [-0.0, 5e-324, 2.2250738585072014e-308, 1e308, 0.1, 1 / 3])
def test_edge_floats_round_trip(x: float) -> None:
    back = json.loads(canonical_string(x))
    assert struct.pack("<d", back) == struct.pack("<d", x)


def test_nan_and_infinities_are_representable_and_distinct() -> None:
    texts = {canonical_string(v) for v in (math.nan, math.inf, -math.inf, "nan", "inf", 1e308)}
    assert len(texts) == 6
    assert canonical_string([math.nan]) == canonical_string([float("nan")])
    assert json.loads(canonical_string(math.inf)) == {"$float": "inf"}


def _is_surrogate(ch: str) -> bool:
    return 0xD800 <= ord(ch) <= 0xDFFF


def test_lone_surrogates_are_escaped_so_the_string_can_be_hashed_and_stored() -> None:
    lone = canonical_string({"a": "x\ud800y"})
    assert lone == '{"a":"x\\ud800y"}'
    assert len(canonical_hash(lone)) == 16
    assert canonical_string("\\ud800") == '"\\\\ud800"'  # the six characters stay apart
    assert canonical_string("\ud83d\ude00") != canonical_string("😀")


def test_non_ascii_is_not_escaped() -> None:
    assert canonical_string({"ключ": "naïve ☃ 日本"}) == '{"ключ":"naïve ☃ 日本"}'


def test_keys_that_look_like_tags_do_not_collide_with_tagged_values() -> None:
    assert canonical_string({"$float": "nan"}) != canonical_string(math.nan)
    assert canonical_string({"$int:1": 0}) != canonical_string({1: 0})
    assert canonical_string({1: "a"}) != canonical_string({"1": "a"})
    assert canonical_string({"$path": "a"}) != canonical_string(PurePosixPath("a"))


def test_values_outside_yaml_are_refused_with_their_type() -> None:
    with pytest.raises(TypeError, match="cannot canonicalize a value of type set"):
        canonical_string({"a": {1, 2}})


# -- stability across processes -------------------------------------------------------

_CHILD = """
import pickle, sys
from mitosis_hydra.core.canonical import canonical_string
values = pickle.load(sys.stdin.buffer)
pickle.dump([canonical_string(v) for v in values], sys.stdout.buffer)
"""


def _strings_in_fresh_process(batch: list[Any], hash_seed: str) -> list[str]:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    result = subprocess.run(
        [sys.executable, "-c", _CHILD],
        input=pickle.dumps(batch),
        capture_output=True,
        env=env,
        check=True,
        timeout=60,
    )
    return pickle.loads(result.stdout)


@settings(max_examples=5, deadline=None)
@given(st.lists(values, min_size=1, max_size=40))
def test_same_value_same_string_in_a_fresh_process(batch: list[Any]) -> None:
    here = [canonical_string(v) for v in batch]
    assert _strings_in_fresh_process(batch, "1") == here


def test_same_strings_whatever_the_hash_seed() -> None:
    """String hashing (and so set/dict internals) changes with PYTHONHASHSEED; the text must not."""
    batch = [
        {"zeta": 1, "alpha": [1.5, -0.0, "ü"], "mid": {"b": None, "a": True}},
        {3: "int key", "3": "str key", "$x": math.inf},
        [math.nan, 5e-324, 1e308, "4", 4, 4.0],
    ]
    here = [canonical_string(v) for v in batch]
    assert _strings_in_fresh_process(batch, "0") == here
    assert _strings_in_fresh_process(batch, "12345") == here


# -- through OmegaConf, as Hydra delivers values -------------------------------------------


def _through_omegaconf(yaml_text: str) -> str:
    node = OmegaConf.create(yaml_text)
    return canonical_string(OmegaConf.to_container(node, resolve=True))


@pytest.mark.parametrize(
    ("yaml_text", "python_value"),
    [
        ("_value_: 4\n", {"_value_": 4}),
        ("_value_: 4.0\n", {"_value_": 4.0}),
        ("_value_: '4'\n", {"_value_": "4"}),
        ("_value_: true\n", {"_value_": True}),
        ("_value_: 1e3\n", {"_value_": 1000.0}),
        ("_value_: .inf\n", {"_value_": math.inf}),
        ("_value_: -.inf\n", {"_value_": -math.inf}),
        ("_value_: .nan\n", {"_value_": math.nan}),
        ("_value_: -0.0\n", {"_value_": -0.0}),
        ('_value_: "\\ud800"\n', {"_value_": "\ud800"}),
        ("lr: 0.1\nlayers: [8, 4]\nname: naïve\n", {"name": "naïve", "layers": [8, 4], "lr": 0.1}),
        ("b: ${a}\na: 2.5\n", {"a": 2.5, "b": 2.5}),
    ],
)
def test_yaml_through_omegaconf_gives_the_python_value(yaml_text: str, python_value: Any) -> None:
    text = _through_omegaconf(yaml_text)
    assert text == canonical_string(python_value)
    assert text == _through_omegaconf(yaml_text)


def test_four_files_four_point_oh_file_and_string_four_file_lock_differently() -> None:
    texts = {_through_omegaconf(f"_value_: {v}\n") for v in ("4", "4.0", "'4'", '"4"')}
    assert len(texts) == 3  # '4' and "4" are the same YAML string
