"""Big variants: read fast, yet exactly as Hydra and OmegaConf read them; and SIGTERM while reading.

A 1.5 MB option used to cost a trial ~100 s beyond Hydra's own composition
(benchmarks/big_variant.py measures it). The fast paths must give the very
values, config text and locks the slow ones gave: a lock taken before them must
still match after. Timing is the benchmark's business; these tests check
results only.
"""

from __future__ import annotations

import enum
import json
import signal
import sqlite3
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import MISSING, OmegaConf

from mitosis_hydra.core.canonical import canonical_string
from mitosis_hydra.core.modifications import modifications
from mitosis_hydra.run.config_text import config_yaml, resolved_config, unresolved_container
from mitosis_hydra.run.option_files import BIG_FILE, load_plain
from mitosis_hydra.storage.faults import FAULT_VARIABLE

kernel = pytest.mark.kernel

# YAML that OmegaConf's loader reads in its own way (floats, booleans, no timestamps, ...)
TRICKY_YAML = [
    "a: 1e-7\nb: 1_000\nc: .inf\nd: -.inf\ne: .nan\nf: 1.5e+3\ng: 0x1F\nh: 0o17\ni: 017\n",
    "a: yes\nb: no\nc: on\nd: off\ne: true\nf: null\ng: ~\nh: 'yes'\ni: y\nj: n\n",
    "when: 2001-12-14t21:59:43.10-05:00\nday: 2002-12-14\ntime: 1:30\nsexagesimal: 190:20:30.15\n",
    'text: |\n  two\n  lines\nfolded: >\n  one\n  line\nquoted: "tab\\there"\n',
    "unicode: ñandú 🦤\nescaped: \"\\u00e9\\ud83e\\udda4\"\nempty: ''\nspace: ' x '\n",
    "base: &b {x: 1, y: [1, 2]}\nother: *b\nmerged:\n  <<: *b\n  y: 3\n",
    "ref: ${seed}\nmissing: ???\nesc: \\${x}\nnested: ${oc.env:HOME}\n",
    "list: [1, 2.0, '3', null, true, [], {}]\nmap: {1: one, 2.5: two}\n",
    "dup: 1\ndup: 2\n",
    "- a top-level\n- list\n",
    "just a string\n",
    "",
    "bin: !!binary aGVsbG8=\n",
    "s: !!set {a, b}\n",
    "p: !!python/object/apply:pathlib.Path [a, b]\n",
    "big: [" + ", ".join(repr(i / 7) for i in range(2000)) + "]\n",
]


def omegaconf_value(text: str):
    """What Hydra's file source gives for `text`: OmegaConf.load, then to_container."""
    import io

    return OmegaConf.to_container(OmegaConf.load(io.StringIO(text)), resolve=False)


@pytest.mark.parametrize("text", TRICKY_YAML)
def test_the_fast_loader_reads_as_omegaconf_or_declines(text: str) -> None:
    fast = load_plain(text)
    try:
        slow = omegaconf_value(text)
    except Exception:
        assert fast is None  # what OmegaConf refuses, Hydra's own path reports
        return
    if fast is not None:
        assert canonical_string(fast) == canonical_string(slow)  # NaN, 1 vs 1.0 included


def test_the_fast_loader_declines_what_omegaconf_would_hold_otherwise() -> None:
    assert load_plain("dup: 1\ndup: 2\n") is None  # OmegaConf's duplicate-key error
    assert load_plain("- a\n- b\n") is None  # a list at the top
    assert load_plain("map: {1: one}\n") is None  # a key that is not a string
    assert load_plain("bin: !!binary aGVsbG8=\n") is None
    assert load_plain("when: 2001-12-14\n") == {"when": "2001-12-14"}  # no timestamps


class Color(enum.Enum):
    RED = 1
    BLUE = 2


@dataclass
class Node:
    color: Color = Color.BLUE
    size: int = 3
    tags: list = field(default_factory=lambda: ["a", "b"])


CONFIGS = [
    {"seed": 3, "a": "${seed}", "b": {"c": "${a}", "d": [1, "${seed}"]}, "e": "\\${not}"},
    {"s": ["true", "1", "1.5", "null", "yes", "~", "", " x", "a: b", "- c", "#d", "é ñ 🦤"]},
    {"f": [1.0, -0.0, 1e-7, 1e300, float("inf"), float("-inf"), float("nan"), 10**30]},
    {"long": "word " * 40, "lines": "one\ntwo\n", "tab": "a\tb", "quote": 'it\'s "x"'},
    {"empty": {}, "none": None, "nested": [[1, 2], [], {"k": []}], "bools": [True, False]},
    {"node": Node(), "colors": {"first": Color.RED}},
    {
        "big": [i / 7 for i in range(3000)],
        "rows": {f"r{i}": {"x": i, "y": "z"} for i in range(300)},
    },
]


@pytest.mark.parametrize("values", CONFIGS, ids=range(len(CONFIGS)))
def test_config_text_is_omegaconfs_to_yaml(values: dict) -> None:
    cfg = OmegaConf.create(values)
    unresolved = OmegaConf.to_container(cfg, resolve=False)
    assert repr(unresolved_container(cfg)) == repr(unresolved)  # types, order, NaN, enums

    resolved = resolved_config(cfg, unresolved)

    expected = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    assert canonical_string(_no_enums(resolved)) == canonical_string(_no_enums(expected))
    assert config_yaml(resolved) == OmegaConf.to_yaml(cfg, resolve=True)


# Scalars as a composed config holds them: text that looks like another type, the
# interpolations and `???` that to_container(resolve=False) keeps as text, enums.
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(st.characters(blacklist_characters="$"), max_size=8),  # no broken `${`
    st.sampled_from(["???", "${seed}", "${a.b}", "x ${seed} y", "\\${not}", "1.5", "yes"]),
    st.sampled_from(list(Color)),
)
TREES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.text(min_size=1, max_size=6), children, max_size=5),
    ),
    max_leaves=40,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=6), TREES, max_size=6))
def test_the_unresolved_container_is_omegaconfs_for_any_config(values: dict) -> None:
    cfg = OmegaConf.create({"seed": 1, "a": {"b": 2}, **values})

    assert repr(unresolved_container(cfg)) == repr(OmegaConf.to_container(cfg, resolve=False))


@dataclass
class Placed:
    node: Node = field(default_factory=Node)
    maybe: Node | None = None  # a container holding None
    later: Node = MISSING  # a missing container
    alias: Node = "${node}"  # type: ignore[assignment]  # a container that is an interpolation
    values: list = field(default_factory=lambda: ["???", "${node.size}", None])


def test_the_unresolved_container_keeps_none_missing_and_interpolated_containers() -> None:
    cfg = OmegaConf.create({"placed": OmegaConf.structured(Placed), "listed": [Placed()]})
    cfg.listed[0].later = "???"

    assert repr(unresolved_container(cfg)) == repr(OmegaConf.to_container(cfg, resolve=False))
    assert unresolved_container(cfg)["placed"]["alias"] == "${node}"


# Plain scalars as they may stand in an option file: numbers in every YAML spelling,
# words YAML 1.1 reads as booleans or null, and text that only looks like them.
TOKENS = st.one_of(
    st.floats(allow_nan=True).map(repr),
    st.integers().map(str),
    st.sampled_from(
        [
            "1.5",
            "-0.0",
            "+.5",
            "-.5e-3",
            "1e5",
            "1E+5",
            "1.",
            "1_000.5",
            "1:30.5",
            "012",
            "0x1F",
            ".inf",
            "-.Inf",
            ".NaN",
            "yes",
            "No",
            "~",
            "null",
            "2001-12-14",
            "'1.5'",
            '"x"',
            "a b",
        ]
    ),
)
YAML_VALUES = st.recursive(
    TOKENS,
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=4).map(lambda items: ("list", items)),
        st.dictionaries(
            st.from_regex(r"k[a-z]{0,3}", fullmatch=True), children, min_size=1, max_size=4
        ).map(lambda items: ("map", items)),
    ),
    max_leaves=30,
)


def _yaml_lines(value, indent: str) -> list[str]:
    """Block YAML for a tree of tokens: ("list", items), ("map", items) or a token."""
    kind, items = value
    lines = []
    for key, item in enumerate(items) if kind == "list" else items.items():
        head = f"{indent}- " if kind == "list" else f"{indent}{key}: "
        if isinstance(item, str):
            lines.append(head + item)
        else:
            lines.append(head.rstrip())
            lines += _yaml_lines(item, indent + "  ")
    return lines


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.from_regex(r"k[a-z]{0,3}", fullmatch=True), YAML_VALUES, min_size=1))
def test_the_fast_loader_reads_any_option_file_as_omegaconf(values: dict) -> None:
    text = "\n".join(_yaml_lines(("map", values), "")) + "\n"

    fast = load_plain(text)

    assert fast is not None
    assert canonical_string(fast) == canonical_string(omegaconf_value(text))


PLAIN_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(st.characters(blacklist_characters="$"), max_size=8),
    st.sampled_from(["1.5", "yes", "~", "null", "1e5", "-.inf", "0x1F", "a: b", "- c", ""]),
    st.sampled_from(list(Color)),
)


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        PLAIN_SCALARS,
        lambda children: st.one_of(
            st.lists(children, max_size=5),
            st.dictionaries(st.text(min_size=1, max_size=6), children, max_size=5),
        ),
        max_leaves=40,
    ).map(lambda tree: {"seed": 1, "value": tree, "refers": "${seed}"})
)
def test_config_text_is_omegaconfs_to_yaml_for_any_config(values: dict) -> None:
    cfg = OmegaConf.create(values)

    resolved = resolved_config(cfg, unresolved_container(cfg))

    assert config_yaml(resolved) == OmegaConf.to_yaml(cfg, resolve=True)


def _no_enums(node):
    if isinstance(node, dict):
        return {key: _no_enums(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_no_enums(value) for value in node]
    return f"enum {node!r}" if isinstance(node, enum.Enum) else node


@pytest.mark.parametrize(
    "values",
    [{"a": "???"}, {"a": {"b": [1, "???"]}}, {"a": "${nowhere}"}, {"a": {"b": "${.c}"}}],
)
def test_config_that_cannot_be_resolved_fails_as_omegaconf_does(values: dict) -> None:
    from omegaconf.errors import OmegaConfBaseException

    cfg = OmegaConf.create(values)
    with pytest.raises(OmegaConfBaseException) as expected:
        OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    with pytest.raises(type(expected.value)):
        resolved_config(cfg, OmegaConf.to_container(cfg, resolve=False))


@pytest.mark.parametrize(
    ("own", "value"),
    [
        ([0.5] * 1000, [0.5] * 1000),
        ([0.5] * 1000, [0.5] * 999 + [1]),
        ([1, 2], [1.0, 2.0]),
        ([0.0], [-0.0]),
        ([float("nan")], [float("nan")]),
        ({"a": 1, "b": "x"}, {"b": "x", "a": 1}),
        ({"a": True, "b": [None]}, {"a": 1, "b": [None]}),
        ({"a": {1: "a"}}, {"a": {1.0: "a"}}),
        ({"a": (1, 2)}, {"a": [1, 2]}),
        ({"a": ["x", {"y": 2**70}]}, {"a": ["x", {"y": 2**70}]}),
    ],
)
def test_the_quick_equality_never_changes_what_counts_as_modified(own, value, monkeypatch):
    quick = modifications(own, value)
    monkeypatch.setattr("mitosis_hydra.core.modifications._same", lambda a, b: False)

    assert quick == modifications(own, value)  # what the canonical strings alone decide


# ---- whole trials with a big option ---------------------------------------------------


def big_list(count: int, offset: float = 0.0) -> str:
    return "_value_:\n" + "".join(f"- {i / 7 + offset!r}\n" for i in range(count))


@pytest.fixture
def big_project(make_user_project):
    """The test project with a ~200 KB option `weights=long` (above option_files.BIG_FILE)."""
    text = big_list(10_000)
    assert len(text) > 2 * BIG_FILE
    return make_user_project(files={"userpkg/conf/weights/long.yaml": text})


@kernel
def test_a_trial_with_a_big_option_is_recorded_locked_and_reproduced(big_project):
    project = big_project

    first = project.run("+exp=draw", "+weights=long")

    assert first.returncode == 0, first.output
    [trial] = project.trials()
    folder = trial.notebook.parent
    arguments = json.loads((folder / "arguments.json").read_text(encoding="utf-8"))
    assert arguments["weights"] == [i / 7 for i in range(10_000)]
    html = trial.notebook.read_text(encoding="utf-8")
    assert "arguments.json" in html and repr(5000 / 7) not in html  # not pasted in
    assert "characters in all" in html  # the value printed by its head and tail
    assert len(html) < 200_000
    with sqlite3.connect(project.trials_folder / "mitosis.sqlite") as db:
        [(canonical,)] = db.execute(
            "SELECT canonical FROM variants WHERE param_group = 'weights' AND name = 'long'"
        ).fetchall()
    slow = omegaconf_value((project.root / "userpkg/conf/weights/long.yaml").read_text())
    assert canonical == canonical_string(slow["_value_"])  # the lock Hydra's reading gave

    again = project.run("+exp=draw", "+weights=long")
    assert again.returncode == 0, again.output  # the same lock, matched

    reproduced = project.cli("reproduce", trial.key)
    assert reproduced.returncode == 0, reproduced.stdout + reproduced.stderr
    assert "config: identical" in reproduced.stdout
    assert "Result: MATCH (values compared exactly)" in reproduced.stdout


@kernel
def test_a_changed_big_option_is_refused_by_its_lock(big_project):
    project = big_project
    assert project.run("+exp=draw", "+weights=long").returncode == 0
    project.write("userpkg/conf/weights/long.yaml", big_list(10_000, offset=1e-9))
    project.commit("one value changed")

    refused = project.run("+exp=draw", "+weights=long")

    assert refused.returncode == 2, refused.output
    assert "Variant weights=long is already locked to a different value." in refused.stderr
    assert len(project.trials()) == 1


@kernel
def test_sigterm_while_options_are_read_leaves_no_row(big_project):
    project = big_project
    assert project.run("+exp=draw", "+weights=long").returncode == 0

    stopped = project.run("+exp=draw", "+weights=long", env={FAULT_VARIABLE: "sigterm@own-values"})

    assert stopped.returncode == -signal.SIGTERM, stopped.output
    with sqlite3.connect(project.trials_folder / "mitosis.sqlite") as db:
        rows = db.execute("SELECT status FROM trials").fetchall()
    assert rows == [("finished",)]
    assert project.status() == ""


@kernel
def test_sigterm_once_the_record_is_open_records_the_trial_interrupted(big_project):
    project = big_project

    stopped = project.run(
        "+exp=draw", "+weights=long", env={FAULT_VARIABLE: "sigterm@record-opened"}
    )

    assert stopped.returncode == 130, stopped.output
    assert "Trial interrupted" in stopped.stderr
    [trial] = project.trials()
    assert trial.status.value == "interrupted"
    assert project.status() == ""


def test_notebook_parameters_name_the_arguments_file_when_it_is_used() -> None:
    from mitosis_hydra.run.notebook import NotebookPlan, build_notebook

    plan = NotebookPlan(
        name="n",
        key="k",
        experiment="e",
        run_target="m:f",
        seed=1,
        debug=False,
        commit="c",
        started_at="t",
        variants={},
        arguments={"w": [0.5] * 10},
        folder="trials/n",
    )
    inline = build_notebook(plan, {}).cells[2].source
    assert "json.loads(r'''" in inline and "arguments.json" not in inline

    from dataclasses import replace

    in_file = build_notebook(replace(plan, arguments_file="arguments.json"), {}).cells[2].source
    assert "arguments.json" in in_file and "0.5" not in in_file
