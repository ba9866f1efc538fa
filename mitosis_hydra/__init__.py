"""mitosis_hydra: reproducible experiments on Hydra.

Public API, re-exported lazily so that importing the package (in every kernel,
and in `python -m <your package> --help`) stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "main": "mitosis_hydra.run.app",
    "current_trial": "mitosis_hydra.run.current",
    "CurrentTrial": "mitosis_hydra.run.current",
    "list_trials": "mitosis_hydra.read.api",
    "load_trial_data": "mitosis_hydra.read.api",
    "compare_trials": "mitosis_hydra.read.comparing",
    "Comparison": "mitosis_hydra.read.compare",
    "reproduce_trial": "mitosis_hydra.read.reproduce",
    "Reproduction": "mitosis_hydra.read.reproduce",
    "write_index": "mitosis_hydra.read.index_page",
    "TrialList": "mitosis_hydra.core.trial_list",
    "TrialRecord": "mitosis_hydra.core.records",
    "TrialStatus": "mitosis_hydra.core.records",
    "TrialMain": "mitosis_hydra.core.records",
    "TrialQueued": "mitosis_hydra.core.records",
    "VariantLock": "mitosis_hydra.core.records",
    "MitosisError": "mitosis_hydra.core.errors",
    "ConfigError": "mitosis_hydra.core.errors",
    "DirtyTreeError": "mitosis_hydra.core.errors",
    "NotARepositoryError": "mitosis_hydra.core.errors",
    "VariantConflictError": "mitosis_hydra.core.errors",
    "TrialNotFoundError": "mitosis_hydra.core.errors",
    "TrialFailedError": "mitosis_hydra.core.errors",
    "TrialInterruptedError": "mitosis_hydra.core.errors",
    "TrialNotFinishedError": "mitosis_hydra.core.errors",
    "StoreError": "mitosis_hydra.core.errors",
    "ReservationError": "mitosis_hydra.core.errors",
    "ReproductionError": "mitosis_hydra.core.errors",
    "VariantInUseError": "mitosis_hydra.core.errors",
    "VariantNotFoundError": "mitosis_hydra.core.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'mitosis_hydra' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
