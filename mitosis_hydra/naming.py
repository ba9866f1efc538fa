"""Names of trials and of their variant combinations (pure)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

_UNSAFE = re.compile(r"[^A-Za-z0-9._+=-]+")


def _label(group: str) -> str:
    """A group path as it appears in a trial name: nested groups use dots, not slashes."""
    return group.replace("/", ".")


def variant_part(variants: Mapping[str, str]) -> str:
    """`amplitude_big-frequency_slow`: parameters sorted by name."""
    return "-".join(f"{_label(group)}_{name}" for group, name in sorted(variants.items()))


def trial_name(experiment: str, variants: Mapping[str, str], iteration: int) -> str:
    """`<exp>-<param>_<variant>-…-<iteration>`, safe as a folder name."""
    parts = [experiment, variant_part(variants), str(iteration)]
    return _UNSAFE.sub("_", "-".join(part for part in parts if part))


def debug_name(experiment: str, variants: Mapping[str, str], key: str) -> str:
    """Debug trials are not counted: the key keeps their folders apart."""
    parts = [experiment, variant_part(variants), "debug", key]
    return _UNSAFE.sub("_", "-".join(part for part in parts if part))


def combination_key(experiment: str, variants: Mapping[str, str]) -> str:
    """The identity iterations are counted under: experiment plus tracked variant names."""
    return json.dumps([experiment, sorted(variants.items())], separators=(",", ":"))
