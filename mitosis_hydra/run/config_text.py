"""The composed config resolved, and as YAML text, each with one pass over OmegaConf's nodes.

`OmegaConf.to_container(cfg, resolve=True)` and `OmegaConf.to_yaml(cfg)` each walk
every node; with a 1.5 MB option that is ~1 s and ~2.5 s. The unresolved
container (which own_values.py needs anyway) is read from the nodes in place,
and it is the resolved one wherever no interpolation or `???` stands, so only
the top-level keys holding one go through OmegaConf; and the YAML text is
OmegaConf's own dumper run on libyaml's emitter: the same representers, the
same text.
"""

from __future__ import annotations

import enum
import functools
import json
import math
import re
from typing import Any


def unresolved_container(cfg: Any) -> Any:
    """`OmegaConf.to_container(cfg, resolve=False)`: the same plain data, ~10× faster.

    OmegaConf looks up every child by its key or index (validating both) before
    taking its value: ~2.5 µs a node, 0.18 s of CPU for a 1.5 MB list (0.014 s
    here). Without resolving, what it returns is each child's own value (`???` and
    `${…}` as text), so the children are read in place. Relies on OmegaConf 2.3's node internals
    (`_content`, `_value()`), checked by a fuzzed test against `to_container`.
    """
    from omegaconf import Container, DictConfig

    def content(conf: Any) -> Any:
        if conf._is_none():
            return None
        if conf._is_missing() or conf._is_interpolation():
            return conf._value()  # "???" or the interpolation's text, as to_container
        children = conf.__dict__["_content"]
        if isinstance(conf, DictConfig):
            return {
                key: content(node) if isinstance(node, Container) else node._value()
                for key, node in children.items()
            }
        return [
            content(node) if isinstance(node, Container) else node._value() for node in children
        ]

    return content(cfg)


def resolved_config(cfg: Any, unresolved: dict[str, Any]) -> dict[str, Any]:
    """`OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)`, from `unresolved`
    (`OmegaConf.to_container(cfg, resolve=False)`): the same values and the same errors."""
    from omegaconf import OmegaConf

    resolved = dict(unresolved)
    for key, value in unresolved.items():
        if _needs_resolving(value):
            node = cfg[key]  # resolves it, or raises as resolving the whole config would
            if OmegaConf.is_config(node):
                node = OmegaConf.to_container(node, resolve=True, throw_on_missing=True)
            resolved[key] = node
    return resolved


def config_yaml(resolved: dict[str, Any]) -> str:
    """The text `OmegaConf.to_yaml(cfg, resolve=True)` gives, from the resolved container."""
    import yaml
    from omegaconf._utils import get_omega_conf_dumper

    plain = _enums_as_names(resolved)
    fast = _plain_text_only(plain)
    return yaml.dump(
        plain,
        Dumper=_dumper() if fast else get_omega_conf_dumper(),
        default_flow_style=False,
        allow_unicode=True,
        sort_keys=False,
    )


# In JSON text: an escape other than \" and \\ (a control character, a line break, a tab),
# or a character libyaml writes otherwise than PyYAML (C1 controls, separators, BOM,
# surrogates, beyond the BMP). Strings with none of these come out the same from both.
_SPECIAL = re.compile(
    "\\\\[bfnrtu]|[\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\U00010000-\U0010ffff]"
)


def _plain_text_only(node: Any) -> bool:
    """True if libyaml's emitter writes `node` exactly as PyYAML's would (see _SPECIAL)."""
    try:
        text = json.dumps(node, ensure_ascii=False)
    except (TypeError, ValueError):  # a path, bytes, a key JSON cannot hold
        return False
    return _SPECIAL.search(text) is None


def _needs_resolving(node: Any) -> bool:
    """True if a `${…}` or a `???` stands anywhere in the node.

    Searched in the node's JSON text (C speed: a 1.5 MB list in ~0.05 s), else walked.
    """
    try:
        text = json.dumps(node)
    except (TypeError, ValueError):  # not JSON (an enum, a path, a non-string key)
        return _walk_needs_resolving(node)
    return "${" in text or '"???"' in text


def _walk_needs_resolving(node: Any) -> bool:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "${" in item or item == "???":
                return True
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _enums_as_names(node: Any) -> Any:
    """Enum keys and values as their names, as `to_yaml` writes them (`enum_to_str`)."""
    if isinstance(node, dict):
        return {
            (key.name if isinstance(key, enum.Enum) else key): _enums_as_names(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [
            _enums_as_names(value) if isinstance(value, dict | list | enum.Enum) else value
            for value in node
        ]
    return node.name if isinstance(node, enum.Enum) else node


@functools.cache
def _dumper() -> type:
    """OmegaConf's YAML dumper (its representers: quoted `'1'`, `'true'`) on libyaml's emitter,
    or OmegaConf's own where PyYAML was built without libyaml.

    Per scalar, PyYAML's Python code picks a representer (`represent_data`): much of
    writing a big config. A scalar of an exact core type goes to its representer at
    once (PyYAML only checks first that such a value needs no anchor), and a finite
    float's text is made as `represent_float` makes it: the same nodes, the same text."""
    import yaml
    from omegaconf._utils import get_omega_conf_dumper

    reference = get_omega_conf_dumper()
    if not getattr(yaml, "__with_libyaml__", False):
        return reference

    class Dumper(yaml.CDumper):
        def represent_data(self, data: Any) -> Any:
            kind = type(data)
            if kind is float and fast_floats and math.isfinite(data):
                text = repr(data).lower()
                if "." not in text and "e" in text:
                    text = text.replace("e", ".0e", 1)
                self.alias_key = None
                return scalar_node(float_tag, text, style=self.default_style)
            representer = scalars.get(kind)
            if representer is None:
                return super().represent_data(data)
            self.alias_key = None  # as PyYAML sets it for a value that needs no anchor
            return representer(self, data)

    Dumper.yaml_representers = dict(reference.yaml_representers)
    Dumper.yaml_multi_representers = dict(reference.yaml_multi_representers)
    scalar_node, float_tag = yaml.ScalarNode, "tag:yaml.org,2002:float"
    safe = yaml.representer.SafeRepresenter
    scalars = {}
    if Dumper.ignore_aliases is safe.ignore_aliases:  # str, int, float, bool, None: no anchor
        scalars = {
            kind: Dumper.yaml_representers[kind]
            for kind in (str, int, float, bool, type(None))
            if kind in Dumper.yaml_representers
        }
    fast_floats = scalars.get(float) is safe.represent_float
    return Dumper
