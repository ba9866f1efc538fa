"""The `fit` experiment: fit a penalized regressor on polynomial features, plot, report.

mitosis_hydra calls `run` inside the trial's kernel with one keyword argument
per chosen config group: `data` and `device` arrive as plain dicts, `features`
as the list under `_value_`, `model` as the object its `_target_` built.
"""

from __future__ import annotations

import logging
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from .data import make_dataset, polynomial_features, standardize
from .models import PenalizedRegressor

log = logging.getLogger(__name__)


def run(
    seed: int,
    data: dict[str, Any],
    model: PenalizedRegressor,
    features: list[int],
    device: dict[str, Any],
) -> dict[str, Any]:
    """One fit: returns the test MSE as `main`, a few metrics and the coefficients."""
    rng = np.random.default_rng(seed)
    split = make_dataset(rng, **data)
    x_train, names = polynomial_features(split.x_train, features)
    x_test, _ = polynomial_features(split.x_test, features)
    x_train, x_test = standardize(x_train, x_test)
    log.info("%d training rows, %d columns %s", len(x_train), len(names), names)

    model.fit(x_train, split.y_train)
    # `device` is untracked: it changes how the work is done, never the numbers.
    batch = device.get("batch_size")
    log.info("predicting on %s in batches of %s rows", device.get("name"), batch)
    train_pred = model.predict(x_train, batch_size=batch)
    test_pred = model.predict(x_test, batch_size=batch)

    metrics = {
        "train_mse": mse(split.y_train, train_pred),
        "test_mse": mse(split.y_test, test_pred),
        "test_r2": r_squared(split.y_test, test_pred),
        "nonzero_coefficients": int(np.count_nonzero(np.abs(model.coef_) > 1e-10)),
    }
    log.info("%r: %s", model, metrics)
    plot_fit(split.y_test, test_pred, model.coef_, names, title=repr(model))
    return {
        "main": metrics["test_mse"],
        "metrics": metrics,
        "coefficients": model.coef_.copy(),
        "intercept": model.intercept_,
        "feature_names": names,
    }


def mse(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Mean squared error, as a plain float (what the trial record stores)."""
    return float(np.mean((truth - predicted) ** 2))


def r_squared(truth: np.ndarray, predicted: np.ndarray) -> float:
    """Share of the target's variance the model explains."""
    total = float(np.sum((truth - truth.mean()) ** 2))
    return 1.0 - float(np.sum((truth - predicted) ** 2)) / total if total else 0.0


def plot_fit(
    truth: np.ndarray, predicted: np.ndarray, coef: np.ndarray, names: list[str], title: str
) -> None:
    """Predicted vs true on the test set, and the fitted coefficients.

    `plt.show()` hands the figure to the kernel's inline backend, which embeds
    it as a PNG in the notebook (and so in its HTML export).
    """
    fig, (scatter, bars) = plt.subplots(1, 2, figsize=(10, 4))
    scatter.scatter(truth, predicted, s=12, alpha=0.7)
    low, high = float(min(truth.min(), predicted.min())), float(max(truth.max(), predicted.max()))
    scatter.plot([low, high], [low, high], color="grey", linestyle="--", linewidth=1)
    scatter.set(xlabel="true y", ylabel="predicted y", title=f"test set: {title}")
    bars.bar(range(len(coef)), coef)
    bars.set_xticks(range(len(coef)), names, rotation=90)
    bars.set(ylabel="coefficient", title="fitted coefficients (standardized features)")
    fig.tight_layout()
    plt.show()
