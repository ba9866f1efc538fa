"""The `classify` experiment: cross-validate and test a scikit-learn pipeline on digits.

mitosis_hydra calls `run` inside the trial's kernel with one keyword argument
per chosen config group, plus the experiment's own arguments (`cv`, from
conf/exp/classify.yaml): `data` arrives as a plain dict, `preprocessing` and
`model` as the estimators their `_target_` built.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.datasets import load_digits
from sklearn.metrics import confusion_matrix
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.pipeline import Pipeline

import mitosis_hydra

log = logging.getLogger(__name__)


def run(
    seed: int,
    data: dict[str, Any],
    preprocessing: BaseEstimator,
    model: BaseEstimator,
    cv: int = 5,
) -> dict[str, Any]:
    """Test accuracy as `main`; cross-validation scores and the confusion matrix as results."""
    x, y = load_digits(return_X_y=True)  # shipped with scikit-learn: no download
    if data.get("n_samples"):
        x, y = x[: data["n_samples"]], y[: data["n_samples"]]
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=data["test_size"], random_state=seed, stratify=y
    )
    pipeline = Pipeline([("preprocessing", preprocessing), ("model", model)])
    log.info("%d training images, %d-fold cross-validation of %s", len(x_train), cv, pipeline)

    cv_scores = cross_val_score(pipeline, x_train, y_train, cv=cv)
    pipeline.fit(x_train, y_train)
    accuracy = float(pipeline.score(x_test, y_test))
    confusion = confusion_matrix(y_test, pipeline.predict(x_test))
    log.info("test accuracy %.4f, cross-validation %.4f ± %.4f", accuracy, *_mean_std(cv_scores))

    trial = mitosis_hydra.current_trial()
    if trial is not None:  # kept with the trial and listed by `mitosis-hydra show`
        np.savetxt(trial.folder / "confusion.csv", confusion, fmt="%d", delimiter=",")
    mean, std = _mean_std(cv_scores)
    return {
        "main": accuracy,
        "metrics": {"cv_mean": mean, "cv_std": std},
        "cv_scores": cv_scores.tolist(),
        "confusion": confusion,
        "model_params": model.get_params(),
        "steps": [type(step).__name__ for step in preprocessing],
    }


def _mean_std(scores: np.ndarray) -> tuple[float, float]:
    return float(np.mean(scores)), float(np.std(scores))
