"""What a reproduction compares with the original: status, values, error, config (pure).

Values are equal when they are equal (NaN included), or within a relative
tolerance the user asked for; a failed pair compares the last line of its
error, since the traceback above it holds paths that move between checkouts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mitosis_hydra.core.outcomes import last_line
from mitosis_hydra.core.records import TrialRecord, TrialStatus

# Settings that cannot change a result (max_output only bounds what the notebook shows).
_IGNORED_IN_CONFIG = ("seed", "debug", "mitosis.trials_folder", "mitosis.db", "mitosis.max_output")


@dataclass(frozen=True)
class ValueCheck:
    """One compared value: `main` or `metrics.<name>`."""

    name: str
    original: Any
    reproduced: Any
    matches: bool


def outcome_checks(
    original: TrialRecord,
    status: str,
    main: Any,
    metrics: dict[str, Any],
    error: str | None,
    recorded: bool,
    rtol: float,
) -> tuple[ValueCheck, ...]:
    """What is compared: the status when either run did not finish, then the values of a
    finished pair, or the last line of the error of a failed pair (recorded re-runs only)."""
    checks: list[ValueCheck] = []
    old_status = original.status.value
    if old_status != TrialStatus.FINISHED or status != TrialStatus.FINISHED:
        checks.append(ValueCheck("status", old_status, status, old_status == status))
    if old_status == status == TrialStatus.FINISHED:
        checks += compare_values(original.main, original.metrics, main, metrics, rtol)
    elif old_status == status and recorded:
        old, new = last_line(original.error), last_line(error)
        checks.append(ValueCheck("error", old, new, old == new))
    return tuple(checks)


def values_match(original: Any, reproduced: Any, rtol: float = 0.0) -> bool:
    """Equal values (NaN equals NaN); numbers within `rtol` of the original when rtol > 0."""
    numbers = (int, float)
    if isinstance(original, bool) or isinstance(reproduced, bool):
        return type(original) is type(reproduced) and original == reproduced
    if isinstance(original, numbers) and isinstance(reproduced, numbers):
        if original != original and reproduced != reproduced:  # both NaN
            return True
        if rtol > 0:
            return abs(original - reproduced) <= rtol * abs(original)
    return original == reproduced


def compare_values(
    main: Any, metrics: dict[str, Any], new_main: Any, new_metrics: dict[str, Any], rtol: float
) -> tuple[ValueCheck, ...]:
    """The main metric and every metric of either run, each checked for a match."""
    checks = [ValueCheck("main", main, new_main, values_match(main, new_main, rtol))]
    for name in sorted(set(metrics) | set(new_metrics)):
        old, new = metrics.get(name), new_metrics.get(name)
        matches = name in metrics and name in new_metrics and values_match(old, new, rtol)
        checks.append(ValueCheck(f"metrics.{name}", old, new, matches))
    return tuple(checks)


def diff_configs(original: Path, reproduced: Path) -> str:
    """A unified diff of the two resolved configs, without the settings a reproduction sets."""
    import difflib

    if not original.exists() or not reproduced.exists():
        return "" if original.exists() == reproduced.exists() else "(a config.yaml is missing)"
    old, new = (_comparable_config(path) for path in (original, reproduced))
    if old == new:
        return ""
    lines = difflib.unified_diff(
        old.splitlines(), new.splitlines(), "original", "reproduction", lineterm=""
    )
    return "\n".join(lines)


def _comparable_config(path: Path) -> str:
    from omegaconf import OmegaConf

    config = OmegaConf.to_container(OmegaConf.create(path.read_text(encoding="utf-8")))
    assert isinstance(config, dict)
    for dotted in _IGNORED_IN_CONFIG:
        *parents, leaf = dotted.split(".")
        node: Any = config
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(leaf, None)
    return json.dumps(config, sort_keys=True, indent=1, default=repr)
