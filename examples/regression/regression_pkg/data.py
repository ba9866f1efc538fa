"""Synthetic data and polynomial features (plain numpy, deterministic given a generator)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Split:
    """Train and test inputs and targets."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def make_dataset(
    rng: np.random.Generator,
    *,
    n_samples: int,
    n_features: int,
    n_informative: int,
    noise: float,
    curvature: float,
    test_fraction: float,
) -> Split:
    """A target linear in the first `n_informative` inputs plus a quadratic bend, plus noise.

    The other inputs are pure distractors: a good penalty learns to ignore them.
    """
    x = rng.uniform(-2.0, 2.0, size=(n_samples, n_features))
    weights = np.zeros(n_features)
    weights[:n_informative] = rng.normal(scale=2.0, size=min(n_informative, n_features))
    informative = x[:, :n_informative]
    y = x @ weights + curvature * (informative**2).sum(axis=1)
    y = y + rng.normal(scale=noise, size=n_samples)
    order = rng.permutation(n_samples)
    n_test = max(1, round(test_fraction * n_samples))
    test, train = order[:n_test], order[n_test:]
    return Split(x[train], y[train], x[test], y[test])


def polynomial_features(x: np.ndarray, degrees: list[int]) -> tuple[np.ndarray, list[str]]:
    """Each input raised to each degree (no cross terms), with readable column names."""
    columns, names = [], []
    for degree in degrees:
        for j in range(x.shape[1]):
            columns.append(x[:, j] ** degree)
            names.append(f"x{j}" if degree == 1 else f"x{j}^{degree}")
    return np.column_stack(columns), names


def standardize(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale both sets with the training mean and spread, so one penalty fits all columns."""
    mean, spread = train.mean(axis=0), train.std(axis=0)
    spread[spread == 0] = 1.0
    return (train - mean) / spread, (test - mean) / spread
