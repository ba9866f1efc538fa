"""Hydra's entry point to `hydra/launcher=mitosis`; the engine is mitosis_hydra.sweep.launcher."""
