"""The names of what a trials folder holds: shared by every layer that reads or writes it."""

from __future__ import annotations

TRIALS_DIRNAME = "trials"
# The files of one trial, inside trials/<trial name>/
RESULTS_FILE = "results.pkl"
SUMMARY_FILE = "summary.json"
LOG_FILE = "trial.log"
CONFIG_FILE = "config.yaml"
ENVIRONMENT_FILE = "environment.json"
DIFF_FILE = "git-diff.patch"
HYDRA_FILE = "hydra.yaml"  # Hydra's own config of the job, read by HydraConfig in the kernel
RECORD_FILE = "record.json"
ARGUMENTS_FILE = "arguments.json"  # what `run` is passed, when too long to show in the notebook
# What mitosis_hydra writes in a trial's folder; anything else there was written by `run`.
OWN_FILES = (
    RESULTS_FILE,
    SUMMARY_FILE,
    LOG_FILE,
    CONFIG_FILE,
    ENVIRONMENT_FILE,
    DIFF_FILE,
    HYDRA_FILE,
    RECORD_FILE,
    ARGUMENTS_FILE,
    "notebook.html",
    "notebook.ipynb",
)
