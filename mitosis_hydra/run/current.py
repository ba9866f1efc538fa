"""The trial a kernel is running, for the experiment's own code.

    trial = mitosis_hydra.current_trial()
    if trial is not None:
        figure.savefig(trial.folder / "fit.png")  # kept with the trial, listed by `show`

Import-light: it is imported in every kernel.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CurrentTrial:
    """Key, name and folder of the running trial (a debug trial's folder is kept too)."""

    key: str
    name: str
    folder: Path
    debug: bool
    experiment: str
    seed: int


_current: CurrentTrial | None = None


def current_trial() -> CurrentTrial | None:
    """The trial this kernel runs, or None outside a trial (e.g. `run` called in a test)."""
    return _current


def set_current(trial: CurrentTrial) -> None:
    """Called once by the notebook's setup cell."""
    global _current
    _current = trial
