"""Modified variants (pure): what differs from an option's own value, and the label naming it.

`model=ridge model.alpha=0.5` runs `ridge` with one field changed. The base name
`ridge` stays locked to its own value; the trial is named and counted under the
label `ridge[alpha=0.5]`, so a name always says exactly what ran.
"""

from __future__ import annotations

import json
import re
from typing import Any

from mitosis_hydra.core.canonical import canonical_hash, canonical_string

# Longer modification lists are shortened to a hash of their canonical form.
MAX_MODIFICATIONS_LENGTH = 48
# Path segments holding these characters are quoted, so a label always reads back one way.
_SPECIAL = re.compile(r"[.\[\]=,~\"#\s]")
REMOVED = "~"
# Strings that read as words are written bare, as in a Hydra override (`user=root`);
# anything that could read as another value (`"0.5"`, `"true"`) keeps its JSON quotes.
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_NOT_WORDS = {"true", "false", "null", "none", "yes", "no", "on", "off", "nan", "inf", "y", "n"}


def modifications(own: Any, value: Any) -> dict[str, Any]:
    """Dotted path → new canonical value for each field of `value` that differs from `own`.

    Removed fields appear as `~path` (Hydra's syntax for deleting a field) with the value None.
    Lists are compared whole: a changed list is one modification.
    """
    found: dict[str, Any] = {}
    _diff(own, value, (), found)
    return found


def _diff(own: Any, value: Any, path: tuple[str, ...], found: dict[str, Any]) -> None:
    if isinstance(own, dict) and isinstance(value, dict):
        for key, item in value.items():
            inner = (*path, _segment(key))
            if key in own:
                _diff(own[key], item, inner, found)
            else:
                found[".".join(inner)] = item
        for key in own:
            if key not in value:
                found[REMOVED + ".".join((*path, _segment(key)))] = None
        return
    if not _same(own, value) and canonical_string(own) != canonical_string(value):
        found[".".join(path)] = value


def _same(own: Any, value: Any) -> bool:
    """A quick, strict equality: True only if the canonical strings are surely equal.

    Spares a 1.5 MB list two canonical strings when unchanged (the usual case); any
    doubt (other types, NaN, -0.0, non-string keys) answers False and the strings decide.
    """
    kind = type(own)
    if kind is not type(value):
        return False
    if kind is list:
        return len(own) == len(value) and all(map(_same, own, value))
    if kind is dict:
        return (
            own.keys() == value.keys()
            and all(type(key) is str for key in own)
            and all(_same(item, value[key]) for key, item in own.items())
        )
    if kind is float:
        return own == value and own != 0.0  # 0.0 and -0.0 are equal but written apart
    return kind in _EXACT and own == value


_EXACT = (str, int, bool, type(None))


def _segment(key: Any) -> str:
    if isinstance(key, str) and key and not _SPECIAL.search(key):
        return key
    return json.dumps(key, ensure_ascii=False)


def variant_label(base: str, changes: dict[str, Any]) -> str:
    """`ridge` unchanged; `ridge[alpha=0.5]` modified; `ridge[#<hash>]` when the list is long.

    Paths are sorted and values written in canonical form (`"4"`, `4` and `4.0` stay
    apart; a plain word is written bare), so two different modifications never give the
    same label.
    """
    if not changes:
        return base
    parts = [
        path if path.startswith(REMOVED) else f"{path}={_value_text(value)}"
        for path, value in sorted(changes.items())
    ]
    text = ",".join(parts)
    if len(text) > MAX_MODIFICATIONS_LENGTH:
        text = "#" + canonical_hash(canonical_string(changes))
    return f"{base}[{text}]"


def _value_text(value: Any) -> str:
    if isinstance(value, str) and _WORD.fullmatch(value) and value.lower() not in _NOT_WORDS:
        return value
    return canonical_string(value)


def locked_name(key: str, label: str) -> tuple[str, str]:
    """The (group, option) a recorded variant is locked under: `db@src`, `mysql[user=root]` →
    (`db`, `mysql`). Records key variants by Hydra's choice key and name them by label."""
    return key.split("@", 1)[0], label.split("[", 1)[0]
