"""A penalized linear regressor in plain numpy: ridge (L2) or lasso (L1).

It stands for any model a researcher builds from config with `_target_`: the
object is constructed inside the trial's kernel from its hyperparameters, so
it never has to be pickled, and its class path is part of the locked variant.
"""

from __future__ import annotations

import numpy as np

PENALTIES = ("l2", "l1")


class PenalizedRegressor:
    """Least squares with an L2 (ridge) or L1 (lasso) penalty on the weights.

    The objective is ``(1 / 2n) * ||y - X w - b||² + alpha * P(w)`` with
    ``P(w) = ||w||² / 2`` for ``l2`` and ``||w||₁`` for ``l1``. The intercept
    ``b`` is never penalized. Ridge has a closed form; lasso uses cyclic
    coordinate descent with soft thresholding.
    """

    def __init__(
        self, alpha: float = 1.0, penalty: str = "l2", max_iter: int = 1000, tol: float = 1e-8
    ) -> None:
        if penalty not in PENALTIES:
            raise ValueError(f"penalty must be one of {PENALTIES}, got {penalty!r}")
        if alpha < 0:
            raise ValueError(f"alpha must be non-negative, got {alpha!r}")
        self.alpha = float(alpha)
        self.penalty = penalty
        self.max_iter = int(max_iter)
        self.tol = float(tol)
        self.coef_: np.ndarray | None = None
        self.intercept_ = 0.0
        self.n_iter_ = 0

    def __repr__(self) -> str:
        return f"PenalizedRegressor(alpha={self.alpha}, penalty={self.penalty!r})"

    def fit(self, X: np.ndarray, y: np.ndarray) -> PenalizedRegressor:
        """Fit on centred data, then recover the intercept from the means."""
        x_mean, y_mean = X.mean(axis=0), y.mean()
        Xc, yc = X - x_mean, y - y_mean
        if self.penalty == "l2":
            self.coef_ = self._ridge(Xc, yc)
        else:
            self.coef_ = self._lasso(Xc, yc)
        self.intercept_ = float(y_mean - x_mean @ self.coef_)
        return self

    def predict(self, X: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """Predictions, computed `batch_size` rows at a time (same numbers, less memory)."""
        if self.coef_ is None:
            raise RuntimeError("call fit() before predict()")
        step = batch_size or len(X) or 1
        parts = [X[i : i + step] @ self.coef_ + self.intercept_ for i in range(0, len(X), step)]
        return np.concatenate(parts) if parts else np.empty(0)

    def _ridge(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        n, p = X.shape
        gram = X.T @ X / n + self.alpha * np.eye(p)
        return np.linalg.solve(gram, X.T @ y / n)

    def _lasso(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        n, p = X.shape
        w = np.zeros(p)
        residual = y.copy()
        scale = (X**2).sum(axis=0) / n
        for sweep in range(1, self.max_iter + 1):
            largest_step = 0.0
            for j in range(p):
                if scale[j] == 0:
                    continue
                rho = X[:, j] @ residual / n + scale[j] * w[j]
                new = np.sign(rho) * max(abs(rho) - self.alpha, 0.0) / scale[j]
                residual -= X[:, j] * (new - w[j])
                largest_step = max(largest_step, abs(new - w[j]))
                w[j] = new
            self.n_iter_ = sweep
            if largest_step < self.tol:
                break
        return w
