"""mitosis_hydra: reproducible experiments on Hydra.

Public API, re-exported lazily so that importing the package (in every kernel,
and in `python -m <your package> --help`) stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "main": "mitosis_hydra.app",
    "current_trial": "mitosis_hydra.current",
    "CurrentTrial": "mitosis_hydra.current",
    "list_trials": "mitosis_hydra.api",
    "load_trial_data": "mitosis_hydra.api",
    "compare_trials": "mitosis_hydra.compare",
    "Comparison": "mitosis_hydra.compare",
    "reproduce_trial": "mitosis_hydra.reproduce",
    "Reproduction": "mitosis_hydra.reproduce",
    "write_index": "mitosis_hydra.index_page",
    "TrialList": "mitosis_hydra.trial_list",
    "TrialRecord": "mitosis_hydra.records",
    "TrialStatus": "mitosis_hydra.records",
    "TrialMain": "mitosis_hydra.records",
    "VariantLock": "mitosis_hydra.records",
    "MitosisError": "mitosis_hydra.errors",
    "ConfigError": "mitosis_hydra.errors",
    "DirtyTreeError": "mitosis_hydra.errors",
    "NotARepositoryError": "mitosis_hydra.errors",
    "VariantConflictError": "mitosis_hydra.errors",
    "TrialNotFoundError": "mitosis_hydra.errors",
    "TrialFailedError": "mitosis_hydra.errors",
    "TrialInterruptedError": "mitosis_hydra.errors",
    "TrialNotFinishedError": "mitosis_hydra.errors",
    "StoreError": "mitosis_hydra.errors",
    "ReproductionError": "mitosis_hydra.errors",
    "VariantInUseError": "mitosis_hydra.errors",
    "VariantNotFoundError": "mitosis_hydra.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'mitosis_hydra' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
