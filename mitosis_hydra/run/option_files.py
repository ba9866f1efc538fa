"""Big option files read fast: parsed by libyaml as OmegaConf's loader would, no nodes built.

own_values.py re-reads every chosen option from its source, as Hydra does. For a
1.5 MB option (a long list) that costs ~2.4 s of pure-Python YAML parsing and
~4.5 s of OmegaConf nodes, only to be turned back into plain data. Here a file
source of the repository parses a big file with libyaml (the same resolvers,
the same duplicate-key check as OmegaConf's loader: the same values), keeps
the plain value aside, and hands Hydra's defaults-list code a skeleton holding
only what it reads: the `defaults` list, and which keys have content.

Anything unusual (a parse error, a top-level list, a key that is not a string,
a value OmegaConf would hold as something other than plain data) falls back to
Hydra's own loading, so the result is always what OmegaConf would give. Files
below `BIG_FILE` bytes always take Hydra's path: only sizes where it matters
take this one. Relies on Hydra internals (`FileConfigSource`, `ConfigResult`),
checked against hydra-core 1.3.
"""

from __future__ import annotations

import functools
import os
import re
from typing import Any

BIG_FILE = 64 * 1024  # bytes: smaller option files are read by Hydra's own code
_PLAIN = (str, int, float, bool, type(None))  # bool is an int; listed for the reader


def read_fast(repo: Any) -> dict[str, Any]:
    """Make `repo`'s file sources read big files fast; return where their values go.

    `repo` is a hydra ConfigRepository; the returned mapping fills in as configs
    load: normalized config path (`weights/long.yaml`) → the file's plain value,
    `defaults` included, exactly as `OmegaConf.to_container(OmegaConf.load(file))`.
    """
    values: dict[str, Any] = {}
    if not _libyaml():
        return values
    for source in getattr(repo, "sources", ()):
        if type(source).__name__ == "FileConfigSource":
            source.load_config = _fast_loader(source, source.load_config, values)
    return values


def load_plain(text: str) -> dict[str, Any] | None:
    """The mapping OmegaConf's loader gives for `text` (as plain data), or None if unsure."""
    import yaml

    try:
        value = yaml.load(text, Loader=_loader())  # a safe loader: CSafeLoader
    except (yaml.YAMLError, ValueError, TypeError, RecursionError):
        return None
    if not isinstance(value, dict) or not _plain(value):
        return None
    return value


def _fast_loader(source: Any, original: Any, values: dict[str, Any]) -> Any:
    def load_config(config_path: str) -> Any:
        normalized = source._normalize_file_name(config_path)
        full_path = os.path.realpath(os.path.join(source.path, normalized))
        try:
            if os.path.getsize(full_path) < BIG_FILE:
                return original(config_path)
            with open(full_path, encoding="utf-8") as file:
                text = file.read()
        except (OSError, UnicodeDecodeError):
            return original(config_path)  # Hydra's own error, if any
        plain = load_plain(text)
        if plain is None:
            return original(config_path)
        from hydra.plugins.config_source import ConfigResult, ConfigSource
        from omegaconf import OmegaConf

        values[normalized] = plain
        return ConfigResult(
            config=OmegaConf.create(_skeleton(plain)),
            path=f"{source.scheme()}://{source.path}",
            provider=source.provider,
            header=ConfigSource._get_header_dict(text[:512]),  # what Hydra reads of it
        )

    return load_config


def _skeleton(plain: dict[str, Any]) -> dict[str, Any]:
    """What Hydra's defaults list reads of a config: its `defaults`, and which keys hold
    content (a missing value `???` does not)."""
    return {
        key: value if key == "defaults" else ("???" if value == "???" else None)
        for key, value in plain.items()
    }


def _plain(root: dict[str, Any]) -> bool:
    """Only string keys and YAML's plain scalars: OmegaConf keeps such values as they are."""
    stack: list[Any] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if not all(type(key) is str for key in node):
                return False
            items = node.values()
        else:
            items = node
        for item in items:
            if isinstance(item, dict | list):
                stack.append(item)
            elif not isinstance(item, _PLAIN):
                return False
    return True


@functools.cache
def _libyaml() -> bool:
    import yaml

    return bool(getattr(yaml, "__with_libyaml__", False))


@functools.cache
def _loader() -> type:
    """libyaml's parser with OmegaConf's resolvers (its float syntax, no timestamps) and
    its duplicate-key check; no other constructors: any other tag falls back.

    Per scalar, PyYAML's Python code builds the value (`construct_object`), much of
    reading a big option. It takes shorter ways here that give the same results: a
    scalar of a core tag is built by its constructor directly (a scalar holds no other
    node, so PyYAML's bookkeeping of recursion and aliases changes nothing for it), a
    plain decimal float by `float`, and a mapping with plain string keys in one pass."""
    import yaml
    from omegaconf._utils import get_yaml_loader

    reference = get_yaml_loader()
    core = ("null", "bool", "int", "float", "str")
    scalar_node, str_tag = yaml.ScalarNode, yaml.resolver.BaseResolver.DEFAULT_SCALAR_TAG

    class Loader(yaml.CSafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            pairs = node.value
            if all(type(key) is scalar_node and key.tag == str_tag for key, _value in pairs):
                # plain string keys (no `<<` merge, no `=`): PyYAML's walk, in one pass
                mapping = {}
                for key_node, value_node in pairs:
                    if key_node.value in mapping:
                        raise _duplicate(node, key_node)
                    mapping[key_node.value] = self.construct_object(value_node, deep=deep)
                return mapping
            keys = set()
            for key_node, _value_node in node.value:
                if key_node.tag != yaml.resolver.BaseResolver.DEFAULT_SCALAR_TAG:
                    continue
                if key_node.value in keys:
                    raise _duplicate(node, key_node)
                keys.add(key_node.value)
            return super().construct_mapping(node, deep=deep)

        def construct_object(self, node: Any, deep: bool = False) -> Any:
            if type(node) is scalar_node:
                constructor = scalars.get(node.tag)
                if constructor is not None:
                    return constructor(self, node)
            return super().construct_object(node, deep=deep)

    Loader.yaml_implicit_resolvers = {
        first: list(resolvers) for first, resolvers in reference.yaml_implicit_resolvers.items()
    }
    scalars = {
        tag: Loader.yaml_constructors[tag]
        for tag in (f"tag:yaml.org,2002:{name}" for name in core)
        if tag in Loader.yaml_constructors
    }
    float_tag = "tag:yaml.org,2002:float"
    if float_tag in scalars:
        scalars[float_tag] = _fast_float(scalars[float_tag])
    return Loader


def _duplicate(node: Any, key_node: Any) -> Exception:
    """OmegaConf's loader refuses a key given twice (load_plain then declines)."""
    import yaml

    return yaml.constructor.ConstructorError(
        "while constructing a mapping",
        node.start_mark,
        f"found duplicate key {key_node.value}",
        key_node.start_mark,
    )


# A decimal float with nothing YAML reads otherwise than Python (no `_`, no `:`, no `.inf`).
_DECIMAL = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def _fast_float(construct: Any) -> Any:
    """PyYAML's float constructor, with plain decimals read by `float` at once (PyYAML
    strips the sign, lowercases and multiplies it back: the same number)."""

    def construct_float(loader: Any, node: Any) -> Any:
        text = node.value
        if isinstance(text, str) and _DECIMAL.fullmatch(text):
            return float(text)
        return construct(loader, node)

    return construct_float
