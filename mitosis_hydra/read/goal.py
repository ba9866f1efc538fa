"""Whether an experiment's `main` is better high or low, read from its trials' own files.

`goal` lives in conf/exp/<name>.yaml and is locked with the experiment, so every
trial's config.yaml holds the value it ran with; the latest trial's says what the
experiment wants now. No column in the database: a copied or rebuilt trials folder
knows it too.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from mitosis_hydra.core.goals import GOALS
from mitosis_hydra.core.layout import CONFIG_FILE
from mitosis_hydra.core.records import TrialRecord

DEFAULT_GOAL = GOALS[0]  # maximize: `main` is a score unless the experiment says otherwise


def experiment_goals(records: Iterable[TrialRecord]) -> dict[str, str]:
    """Experiment name → `maximize` or `minimize`, from each experiment's latest trial."""
    latest: dict[str, TrialRecord] = {}
    for record in records:
        seen = latest.get(record.experiment)
        if seen is None or record.started_at >= seen.started_at:
            latest[record.experiment] = record
    return {name: trial_goal(record) for name, record in latest.items()}


def trial_goal(record: TrialRecord) -> str:
    """The goal a trial ran with (the default if its config is gone or says none)."""
    return folder_goal(record.folder)


def folder_goal(folder: Path) -> str:
    """The goal the trial in this folder ran with (read from its config.yaml)."""
    try:
        text = (folder / CONFIG_FILE).read_text(encoding="utf-8")
    except OSError:
        return DEFAULT_GOAL
    import yaml

    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError:
        return DEFAULT_GOAL
    exp = config.get("exp") if isinstance(config, dict) else None
    goal = exp.get("goal") if isinstance(exp, dict) else None
    return goal if goal in GOALS else DEFAULT_GOAL
