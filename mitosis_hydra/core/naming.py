"""Names of trials and of their variant combinations (pure).

A trial name is read by people and used as a folder name, so characters a
file system or a shell may mangle are replaced. Replacing is not injective
(`sub/deep` and `sub_deep` would share a folder), so whenever a name had to
change, a short hash of the exact names is added: two different combinations
never give one name.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping

# Kept as typed: modified-variant labels such as `ridge[alpha=0.5,fit=true]` stay readable.
_UNSAFE = re.compile(r"[^A-Za-z0-9._+=,\[\]-]+")
_HASH_CHARS = 8


def _label(group: str) -> str:
    """A group path as it appears in a trial name: nested groups use dots, not slashes."""
    return group.replace("/", ".")


def variant_part(variants: Mapping[str, str]) -> str:
    """`amplitude_big-frequency_slow`: parameters sorted by name."""
    return "-".join(f"{_label(group)}_{name}" for group, name in sorted(variants.items()))


def _changed_by_sanitising(experiment: str, variants: Mapping[str, str]) -> bool:
    """True when the readable form lost information about the exact names."""
    texts = [experiment, *variants.values()]
    # `/` in a group is written `.`: a bijection as long as groups themselves have no dot
    texts += [group.replace("/", "") for group in variants]
    return any(_UNSAFE.search(text) for text in texts) or any("." in g for g in variants)


def names_hash(experiment: str, variants: Mapping[str, str]) -> str:
    """A short stable hash of the exact experiment and variant names."""
    exact = json.dumps([experiment, sorted(variants.items())], separators=(",", ":"))
    return hashlib.sha256(exact.encode("utf-8")).hexdigest()[:_HASH_CHARS]


def _stem(experiment: str, variants: Mapping[str, str]) -> list[str]:
    parts = [experiment, variant_part(variants)]
    if _changed_by_sanitising(experiment, variants):
        parts.append(f"h{names_hash(experiment, variants)}")
    return parts


def trial_name(experiment: str, variants: Mapping[str, str], iteration: int) -> str:
    """`<exp>-<param>_<variant>-…-<iteration>`, safe as a folder name.

    With `-h<hash>` before the iteration when some name had to be sanitised.
    """
    parts = [*_stem(experiment, variants), str(iteration)]
    return _UNSAFE.sub("_", "-".join(part for part in parts if part))


def debug_name(experiment: str, variants: Mapping[str, str], key: str) -> str:
    """Debug trials are not counted: the key keeps their folders apart."""
    parts = [*_stem(experiment, variants), "debug", key]
    return _UNSAFE.sub("_", "-".join(part for part in parts if part))


def combination_key(experiment: str, variants: Mapping[str, str]) -> str:
    """The identity iterations are counted under: experiment plus tracked variant names."""
    return json.dumps([experiment, sorted(variants.items())], separators=(",", ":"))
