"""ESZSL: Embarrassingly Simple Zero-Shot Learning (Romera-Paredes & Torr, ICML 2015).

Closed form. With X (N x D) features, Y (N x Cs) one-hot labels, S (Cs x K) seen-class
semantics, the bilinear map V (D x K) minimising

    ||X V S^T - Y||_F^2 + alpha ||V S^T||_F^2 + lam ||X V||_F^2 + alpha*lam ||V||_F^2

is ``V = (X^T X + alpha I)^{-1} X^T Y S (S^T S + lam I)^{-1}``; scores are ``X V S_c^T``.
(The paper calls the two ridge weights gamma and lambda; zslkit names them ``alpha`` and ``lam``
so that "gamma" always means the GZSL calibration constant.) Both are searched over powers of
ten, as in the paper and xlsa17.

Label coding (``label_coding``): ``"01"`` (default) codes Y in {0, 1}, as the standard numpy
reproduction of Xian et al.'s 2018 table and the authors' released MATLAB demo do (Y is the
ground-truth indicator matrix); ``"pm1"`` codes it in {-1, +1}, as the paper's text writes it.
The two differ by a rank-one term: ``Y_pm1 = 2 Y_01 - 1``, so
``X^T Y_pm1 S = 2 X^T Y_01 S - (X^T 1)(1^T S)``, the sum of all features times the sum of all
seen-class signatures. That term does not depend on the image's class and grows with the number
of seen classes; on a SUN-sized problem (645 seen classes) it swamps the class-specific part
(measured in ``docs/PARITY.md``). ``{0, 1}`` is the default because it is what produced the
published numbers.

For the search, ``X^T X = Q diag(e) Q^T`` is eigendecomposed once, so each alpha costs two
D x D products instead of a new D x D solve and all lam values share one alpha. A grid with a
single alpha (e.g. alpha fixed, lam searched, or the refit of the chosen point) uses one linear
solve instead.
"""

from __future__ import annotations

from typing import Any, ClassVar, Iterator

import numpy as np

from zslkit.errors import ConfigError
from zslkit.models.base import ZSLModel, check_fit_inputs

#: label codings of Y: the value of the entries of classes other than the image's own
LABEL_CODINGS = {"01": 0.0, "pm1": -1.0}


class ESZSL(ZSLModel):
    """ESZSL estimator.

    Args:
        alpha: ridge weight on the feature side (the paper's gamma).
        lam: ridge weight on the semantic side (the paper's lambda).
        normalize_features: L2-normalise each feature vector first (xlsa17 uses raw features).
        label_coding: "01" (default; the reproduction's Y in {0, 1}) or "pm1" (Y in {-1, +1}).
    """

    param_grid: ClassVar[dict[str, list]] = {
        "alpha": [10.0 ** k for k in range(-3, 7)],
        "lam": [10.0 ** k for k in range(-3, 4)],
    }

    def __init__(self, alpha: float = 1e3, lam: float = 1.0, normalize_features: bool = False,
                 label_coding: str = "01"):
        self.alpha = alpha
        self.lam = lam
        self.normalize_features = normalize_features
        self.label_coding = label_coding

    def _check_coding(self) -> float:
        """The value of the "other class" entries of Y (0 or -1)."""
        if self.label_coding not in LABEL_CODINGS:
            raise ConfigError(f"ESZSL label_coding must be one of {sorted(LABEL_CODINGS)}, got {self.label_coding!r}")
        return LABEL_CODINGS[self.label_coding]

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
        off = self._check_coding()
        classes = np.unique(y)
        Ss = S[classes].astype(np.float64)
        col = np.searchsorted(classes, y)
        d = X.shape[1]
        XtX = np.zeros((d, d))
        XtYS = np.zeros((d, Ss.shape[0]))
        for s in range(0, X.shape[0], chunk):
            xc = self._prep(X[s:s + chunk], np.float64)
            XtX += xc.T @ xc
            Y = np.full((xc.shape[0], classes.size), off)
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
        # The statistics depend on the feature normalisation and the label coding: one
        # eigendecomposition per combination of those (usually one), shared by every alpha and lam.
        points = [{**self.get_params(), **params} for params in grid]
        alphas: dict[tuple, set] = {}
        for p in points:
            alphas.setdefault((bool(p["normalize_features"]), p["label_coding"]), set()).add(float(p["alpha"]))
        shared: dict[tuple, tuple] = {}
        for params, p in zip(grid, points):
            m = ESZSL(**p)
            key = (bool(p["normalize_features"]), p["label_coding"])
            a = float(p["alpha"])
            if key not in shared:
                XtX, XtYS, Ss = m._stats(X, y, S)
                if len(alphas[key]) == 1:  # one alpha: a linear solve is ~10x cheaper than the eigendecomposition
                    shared[key] = (None, None, None, Ss, {a: np.linalg.solve(XtX + a * np.eye(XtX.shape[0]), XtYS)})
                else:
                    evals, Q = np.linalg.eigh(XtX)
                    shared[key] = (evals, Q, Q.T @ XtYS, Ss, {})
            evals, Q, QtB, Ss, lefts = shared[key]
            if a not in lefts:
                lefts[a] = Q @ (QtB / (evals + a)[:, None])
            m.V_ = (lefts[a] @ self._right(Ss, float(p["lam"]))).astype(np.float32)
            yield params, m

    def scores(self, X: np.ndarray, S: np.ndarray) -> np.ndarray:
        self._check_fitted("V_")
        return (self._prep(X) @ self.V_) @ np.asarray(S, dtype=np.float32).T
