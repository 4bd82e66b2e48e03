"""ESZSL: Embarrassingly Simple Zero-Shot Learning (Romera-Paredes & Torr, ICML 2015).

Closed form. With X (N x D) features, Y (N x Cs) labels in {-1, +1}, S (Cs x K) seen-class
semantics, the bilinear map V (D x K) minimising

    ||X V S^T - Y||_F^2 + alpha ||V S^T||_F^2 + lam ||X V||_F^2 + alpha*lam ||V||_F^2

is ``V = (X^T X + alpha I)^{-1} X^T Y S (S^T S + lam I)^{-1}``; scores are ``X V S_c^T``.
(The paper calls the two ridge weights gamma and lambda; zslkit names them ``alpha`` and ``lam``
so that "gamma" always means the GZSL calibration constant.) Both are searched over powers of
ten, as in the paper and xlsa17.

For the search, ``X^T X = Q diag(e) Q^T`` is eigendecomposed once, so each alpha costs two
D x D products instead of a new D x D solve and all lam values share one alpha.
"""

from __future__ import annotations

from typing import Any, ClassVar, Iterator

import numpy as np

from zslkit.models.base import ZSLModel, check_fit_inputs


class ESZSL(ZSLModel):
    """ESZSL estimator.

    Args:
        alpha: ridge weight on the feature side (the paper's gamma).
        lam: ridge weight on the semantic side (the paper's lambda).
        normalize_features: L2-normalise each feature vector first (xlsa17 uses raw features).
    """

    param_grid: ClassVar[dict[str, list]] = {
        "alpha": [10.0 ** k for k in range(-3, 7)],
        "lam": [10.0 ** k for k in range(-3, 4)],
    }

    def __init__(self, alpha: float = 1e3, lam: float = 1.0, normalize_features: bool = False):
        self.alpha = alpha
        self.lam = lam
        self.normalize_features = normalize_features

    def _prep(self, X: np.ndarray, dtype=np.float32) -> np.ndarray:
        X = np.asarray(X, dtype=dtype)
        if self.normalize_features:
            X = X / np.linalg.norm(X, axis=1, keepdims=True).clip(1e-12)
        return X

    def _stats(self, X: np.ndarray, y: np.ndarray, S: np.ndarray, chunk: int = 4096):
        """``X^T X`` (D x D), ``X^T Y S`` (D x K) in float64 and the seen rows of S.

        Accumulated over row chunks so that only one float64 chunk of X exists at a time: the
        features stay held once, in float32 (AWA2: 37k x 2048), while the sums keep double precision.
        """
        classes = np.unique(y)
        Ss = S[classes].astype(np.float64)
        col = np.searchsorted(classes, y)
        d = X.shape[1]
        XtX = np.zeros((d, d))
        XtYS = np.zeros((d, Ss.shape[0]))
        for s in range(0, X.shape[0], chunk):
            xc = self._prep(X[s:s + chunk], np.float64)
            XtX += xc.T @ xc
            Y = -np.ones((xc.shape[0], classes.size))
            Y[np.arange(xc.shape[0]), col[s:s + chunk]] = 1.0
            XtYS += xc.T @ Y
        return XtX, XtYS @ Ss, Ss

    @staticmethod
    def _right(Ss: np.ndarray, lam: float) -> np.ndarray:
        k = Ss.shape[1]
        return np.linalg.inv(Ss.T @ Ss + lam * np.eye(k))

    def fit(self, X: np.ndarray, y: np.ndarray, S: np.ndarray) -> "ESZSL":
        X, y, S = check_fit_inputs(X, y, S)
        XtX, XtYS, Ss = self._stats(X, y, S)
        left = np.linalg.solve(XtX + self.alpha * np.eye(XtX.shape[0]), XtYS)
        self.V_ = (left @ self._right(Ss, self.lam)).astype(np.float32)
        return self

    def fit_grid(self, X: np.ndarray, y: np.ndarray, S: np.ndarray, grid: list[dict[str, Any]]
                 ) -> Iterator[tuple[dict[str, Any], "ESZSL"]]:
        X, y, S = check_fit_inputs(X, y, S)
        XtX, XtYS, Ss = self._stats(X, y, S)
        evals, Q = np.linalg.eigh(XtX)
        QtB = Q.T @ XtYS
        lefts: dict[float, np.ndarray] = {}
        for params in grid:
            p = {**self.get_params(), **params}
            a = float(p["alpha"])
            if a not in lefts:
                lefts[a] = Q @ (QtB / (evals + a)[:, None])
            m = ESZSL(**p)
            m.V_ = (lefts[a] @ self._right(Ss, float(p["lam"]))).astype(np.float32)
            yield params, m

    def scores(self, X: np.ndarray, S: np.ndarray) -> np.ndarray:
        self._check_fitted("V_")
        return (self._prep(X) @ self.V_) @ np.asarray(S, dtype=np.float32).T
