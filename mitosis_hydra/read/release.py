"""Releasing a locked variant name on purpose, with an audit entry (never a silent reuse).

A release deletes the lock row only: every trial recorded with the name keeps
its record, its files and its config. The released value and where it came
from are kept in the audit table, so the history of a name can be told later.
The storage side (one transaction, the audit entry) is storage/variants.py;
this module adds how a user names a variant on the command line.
"""

from __future__ import annotations

from mitosis_hydra.core.errors import VariantNotFoundError
from mitosis_hydra.storage.variants import (
    RELEASE_ACTION,
    audit_log,
    release_variant,
    variant_lock,
)

__all__ = ["RELEASE_ACTION", "audit_log", "parse_variant", "release_variant", "variant_lock"]


def parse_variant(text: str) -> tuple[str, str]:
    """`amplitude/big` or `amplitude=big` (nested: `model/optimizer/adam`) → (group, name)."""
    if "=" in text:
        group, _, name = text.partition("=")
    else:
        group, _, name = text.rpartition("/")
    if not group or not name:
        raise VariantNotFoundError(
            f"{text!r} does not name a variant.\n"
            "  a variant is written GROUP/NAME, e.g. amplitude/my_variant\n"
            "Try `mitosis-hydra variants` to see every locked name."
        )
    return group, name
