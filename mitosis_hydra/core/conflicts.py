"""Variant locks as pure logic: which requested values clash with stored ones, and how to say so."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mitosis_hydra.core.records import VariantLock, VariantValue


@dataclass(frozen=True)
class Conflict:
    """A requested variant whose name is locked to another value."""

    requested: VariantValue
    stored: VariantLock


def find_conflicts(
    requested: Iterable[VariantValue], stored: Mapping[tuple[str, str], VariantLock]
) -> list[Conflict]:
    """Every requested variant whose (group, name) is stored with a different canonical value."""
    conflicts = []
    for variant in requested:
        lock = stored.get((variant.group, variant.name))
        if lock is not None and lock.canonical != variant.canonical:
            conflicts.append(Conflict(variant, lock))
    return conflicts


def display_value(canonical: str) -> str:
    """A canonical string as a person reads it: scalars as they are, containers indented."""
    value = json.loads(canonical)
    if isinstance(value, dict | list):
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
    return canonical


def one_line_value(canonical: str) -> str:
    """A canonical string on one line, for a table cell: `{"run": "m:f", "samples": 200}`."""
    value = json.loads(canonical)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))
    return canonical


def conflict_message(conflicts: list[Conflict], *, job: str | None = None) -> str:
    """One paragraph per conflict, in the house style: what, where, what to do."""
    paragraphs = [_one_conflict(conflict, job) for conflict in conflicts]
    if len(conflicts) > 1:
        header = f"{len(conflicts)} variant names are already locked to different values.\n"
        return header + "\n".join(paragraphs)
    return paragraphs[0]


def _one_conflict(conflict: Conflict, job: str | None) -> str:
    new, old = conflict.requested, conflict.stored
    where = f" ({new.source_path})" if new.source_path else ""
    lines = [
        f"Variant {new.group}={new.name} is already locked to a different value.",
        f"  first locked by trial {old.first_trial} "
        f"(commit {old.first_commit[:7]}, {old.locked_at:%Y-%m-%d %H:%M})",
    ]
    if job:
        lines.append(f"  in sweep job: {job}")
    stored_text, new_text = display_value(old.canonical), display_value(new.canonical)
    if "\n" in stored_text or "\n" in new_text:
        lines.append(f"  stored vs new{where}:")
        diff = difflib.unified_diff(
            stored_text.splitlines(), new_text.splitlines(), "stored", "new", lineterm=""
        )
        lines.extend("    " + line for line in diff)
    else:
        lines.append(f"  stored: {stored_text}    new: {new_text}{where}")
    suggestion = new.new_name or f"conf/{new.group}/{new.name}_v2.yaml"
    lines.append(
        f"Give the new value a new name (e.g. {suggestion}), "
        f"or release the old one: mitosis-hydra variants release {new.group}/{new.name}"
    )
    return "\n".join(lines)
