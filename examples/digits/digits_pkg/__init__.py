"""Handwritten digits with scikit-learn: a mitosis_hydra example project."""
