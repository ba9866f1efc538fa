"""An experiment's goal: is a higher `main` better, or a lower one.

Declared as `goal:` in conf/exp/<name>.yaml, like `name` and `run` an experiment
setting (never passed to `run`), and locked with the experiment.
"""

from __future__ import annotations

from typing import Any

from mitosis_hydra.core.errors import ConfigError

GOALS = ("maximize", "minimize")  # maximize, the default: `main` is a score


def check_goal(exp: dict[str, Any], option: str) -> str:
    """The experiment's goal, or a ConfigError naming the file and the two choices."""
    goal = exp.get("goal", GOALS[0])
    if goal not in GOALS:
        raise ConfigError(
            f"The experiment exp={option} has `goal: {goal!r}`, which is neither maximize nor "
            "minimize.\n"
            f"  conf/exp/{option}.yaml: goal says whether a higher or a lower main is better\n"
            "Write `goal: maximize` or `goal: minimize` (or leave it out: maximize)."
        )
    return goal
