"""One exact, stable string per variant value.

A variant lock compares these strings, so they must be injective (different
values give different strings: ``4``, ``4.0`` and ``"4"`` stay apart, floats
round-trip exactly, NaN and ±inf are representable) and deterministic (key
order, machine and Python version do not matter). JSON with sorted keys gets
us most of the way; the rest is explicit type tagging of what JSON lacks.
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
import pathlib
import re
from typing import Any

# Keys of a mapping that start with this character are escaped by doubling it,
# so a tagged value such as {"$path": "..."} can never collide with user data.
_TAG = "$"
_SURROGATE = re.compile("[\ud800-\udfff]")


def canonical_string(value: Any) -> str:
    """Return the canonical text of a plain value (already resolved, no OmegaConf)."""
    text = json.dumps(
        _tagged(value),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    # YAML's "\ud800" gives a lone surrogate, which UTF-8 (hash, database) cannot hold.
    return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def canonical_hash(text: str) -> str:
    """Short content hash of a canonical string, stored next to it for quick lookups."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _tagged(value: Any) -> Any:
    # bool before int: bool is a subclass of int but a different value.
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, enum.Enum):
        return {_TAG + "enum": f"{type(value).__module__}.{type(value).__qualname__}.{value.name}"}
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, dict):
        return {_mapping_key(k): _tagged(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_tagged(v) for v in value]
    if isinstance(value, pathlib.PurePath):
        return {_TAG + "path": value.as_posix()}
    if isinstance(value, bytes):
        return {_TAG + "bytes": value.hex()}
    raise TypeError(
        f"cannot canonicalize a value of type {type(value).__name__}: {value!r}; "
        "variant values must be YAML scalars, lists or mappings"
    )


def _float(value: float) -> Any:
    if math.isnan(value):
        return {_TAG + "float": "nan"}
    if math.isinf(value):
        return {_TAG + "float": "inf" if value > 0 else "-inf"}
    # json writes float.__repr__, the shortest string that round-trips exactly,
    # and always with a '.' or an exponent, so 4.0 never reads as the int 4.
    return value


def _mapping_key(key: Any) -> str:
    """Mapping keys become strings; non-string keys are tagged so 1 and "1" differ."""
    if isinstance(key, str):
        return _TAG + key if key.startswith(_TAG) else key
    if isinstance(key, bool):
        return f"{_TAG}bool:{key}"
    if isinstance(key, int):
        return f"{_TAG}int:{key}"
    if isinstance(key, float):
        return f"{_TAG}float:{key!r}"
    if isinstance(key, enum.Enum):
        return f"{_TAG}enum:{type(key).__qualname__}.{key.name}"
    raise TypeError(f"cannot canonicalize a mapping key of type {type(key).__name__}: {key!r}")
