"""The estimator interface every feature-level ZSL model follows.

Like scikit-learn: hyperparameters are plain constructor arguments (``get_params`` /
``set_params`` / ``clone`` come from :class:`sklearn.base.BaseEstimator`), ``fit`` learns from
seen-class data and returns ``self``; unlike a plain classifier, the label space is open:

* ``fit(X, y, S)``: X (N x D) features, y (N,) class ids indexing the rows of S, S (C x K)
  class semantic matrix. Rows of S whose class has no image in y are allowed (generative
  models may use them; discriminative ones ignore them).
* ``scores(X, S)``: (N x C') compatibility of each image with each row of any class matrix
  S (C' x K), e.g. the unseen classes only (ZSL) or all classes (GZSL).
* ``predict(X, S)``: row index of S with the highest score.
* ``score(X, y, S)``: per-class mean top-1 accuracy with ``y`` indexing rows of ``S``.

Models are pure computation: they never read files.
"""

from __future__ import annotations

from typing import Any, ClassVar, Iterator

import numpy as np
from sklearn.base import BaseEstimator

from zslkit.errors import ZSLDataError
from zslkit.evaluation.metrics import per_class_accuracy
from zslkit.utils.finite import all_finite


def check_score_inputs(X: Any, S: Any, d: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert ``scores`` inputs of a fitted model: X (N x d), S (C x k) with C >= 1."""
    X = np.asarray(X, dtype=np.float32)
    S = np.asarray(S, dtype=np.float32)
    if X.ndim != 2 or X.shape[1] != d:
        raise ZSLDataError(f"X must have shape (N, {d}), got {X.shape}")
    if S.ndim != 2 or S.shape[1] != k or S.shape[0] == 0:
        raise ZSLDataError(f"S must have shape (C, {k}) with C >= 1, got {S.shape}")
    return X, S


def check_fit_inputs(X: Any, y: Any, S: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate and convert ``fit`` inputs; errors name the argument and the shapes."""
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y)
    S = np.asarray(S, dtype=np.float32)
    if X.ndim != 2:
        raise ZSLDataError(f"X must be 2-D (N x D), got shape {X.shape}")
    if y.shape != (X.shape[0],):
        raise ZSLDataError(f"y must have shape ({X.shape[0]},) to match X, got {y.shape}")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        raise ZSLDataError(f"y must hold integer class ids, got dtype {y.dtype}")
    if S.ndim != 2:
        raise ZSLDataError(f"S must be 2-D (classes x semantic dims), got shape {S.shape}")
    if y.size and (y.min() < 0 or y.max() >= S.shape[0]):
        raise ZSLDataError(f"y must index rows of S (0..{S.shape[0] - 1}), found range [{y.min()}, {y.max()}]")
    if X.shape[0] == 0:
        raise ZSLDataError("X is empty: no training images")
    for name, arr in (("X", X), ("S", S)):
        if not all_finite(arr):
            raise ZSLDataError(f"{name} contains NaN or inf")
    return X, y.astype(np.int64), S


class ZSLModel(BaseEstimator):
    """Base class of zslkit's feature-level ZSL estimators (see module docstring)."""

    #: default hyperparameter grid searched by :func:`zslkit.training.selection.select` on validation
    #: classes; ``fit_grid`` must yield its results in the order of the grid it is given
    param_grid: ClassVar[dict[str, list]] = {}
    #: whether ``fit`` is iterative (reports progress, has epochs)
    iterative: ClassVar[bool] = False

    def fit(self, X: np.ndarray, y: np.ndarray, S: np.ndarray) -> "ZSLModel":  # pragma: no cover - abstract
        raise NotImplementedError

    def scores(self, X: np.ndarray, S: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, X: np.ndarray, S: np.ndarray) -> np.ndarray:
        return np.argmax(self.scores(X, S), axis=1)

    def score(self, X: np.ndarray, y: np.ndarray, S: np.ndarray) -> float:
        """Per-class mean top-1 accuracy (fraction) with ``y`` indexing rows of ``S``."""
        return per_class_accuracy(np.asarray(y), self.predict(X, S))

    def fit_grid(self, X: np.ndarray, y: np.ndarray, S: np.ndarray, grid: list[dict[str, Any]]
                 ) -> Iterator[tuple[dict[str, Any], "ZSLModel"]]:
        """Yield ``(params, fitted model)`` for every point of ``grid``.

        The default refits a clone per point; closed-form models override this to share the
        expensive part of the fit across the grid.
        """
        from sklearn.base import clone

        for params in grid:
            yield params, clone(self).set_params(**params).fit(X, y, S)

    def _check_fitted(self, *attrs: str) -> None:
        for a in attrs:
            if not hasattr(self, a):
                raise ZSLDataError(f"{type(self).__name__} is not fitted yet: call fit() first")
