"""An example mitosis_hydra project: polynomial regression with a hand-written numpy model.

Run it from the folder holding this package (the root of its git repository):
``python -m regression_pkg +exp=fit``. See ../README.md.
"""
