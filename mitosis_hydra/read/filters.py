"""Narrowing and ordering what the reading commands show: `--variant` and `compare --sort`.

Kept apart from cli.py (which only wires commands): both `list` and `compare`
filter by variant, and a sort key is checked against the trials being compared.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence


def add_variant_flag(p: argparse.ArgumentParser) -> None:
    """`--variant GROUP=NAME`, the same for every reading command that filters by it."""
    p.add_argument(
        "--variant",
        "-v",
        action="append",
        default=[],
        metavar="GROUP=NAME",
        help="only trials with this variant (repeatable), e.g. amplitude=big",
    )


def add_compare_flags(p: argparse.ArgumentParser) -> None:
    add_variant_flag(p)
    p.add_argument(
        "--sort",
        default="main",
        metavar="KEY",
        help="main (best first, by the experiment's goal; default), name, trials, "
        "or a metric's name (highest first)",
    )


def parse_variants(texts: Sequence[str]) -> list[tuple[str, str]]:
    """The (group, name) of each `GROUP=NAME` asked for with `--variant`."""
    from mitosis_hydra.core.errors import UsageError

    wanted = []
    for text in texts:
        group, sep, name = text.partition("=")
        if not sep or not group or not name:
            raise UsageError(
                f"--variant {text!r} is not GROUP=NAME.\nTry e.g. `--variant amplitude=big`."
            )
        wanted.append((group, name))
    return wanted


def with_variants(records: list, texts: Sequence[str]) -> list:
    """The records with every `GROUP=NAME` variant asked for (`--variant`)."""
    for group, name in parse_variants(texts):
        records = [r for r in records if r.variants.get(group) == name]
    return records


def sort_key(key: str, records: list) -> str:
    """`--sort` checked against what the compared trials have: a typo is not a silent order."""
    return checked_sort(key, {name for record in records for name in record.metrics})


def checked_sort(key: str, metric_names: Iterable[str]) -> str:
    """`--sort` checked against the metric names of the compared trials."""
    from mitosis_hydra.core.errors import UsageError
    from mitosis_hydra.read.compare import SORTS

    metrics = sorted(metric_names)
    if key in SORTS or key in metrics:
        return key
    raise UsageError(
        f"compare cannot sort by {key!r}: it is neither a column nor a metric of these trials.\n"
        f"  columns: {', '.join(SORTS)}\n"
        f"  metrics: {', '.join(metrics) or '(none)'}\n"
        "Try e.g. `--sort main` (best first) or `--sort name`."
    )
