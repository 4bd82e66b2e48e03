"""DAP and IAP: attribute-based classification (Lampert, Nickisch & Harmeling, CVPR 2009 / TPAMI 2014).

Both models describe every class c by a **binary signature** a^c in {0, 1}^M (M attributes) and
classify an image x by the MAP rule over the candidate classes (the unseen classes for ZSL, all
classes for GZSL):

    f(x) = argmax_c  prod_m  p(a_m = a^c_m | x) / p(a_m = a^c_m)

``scores(X, S)`` returns the logarithm of that product, an (N x C') matrix

    score(x, c) = sum_m  log p(a_m = a^c_m | x) - log p(a_m = a^c_m),

so that calibrated stacking (a constant subtracted from seen-class scores) and AUSUC apply as to
any other model. The two models differ in how they estimate the attribute posteriors p(a_m | x):

* **DAP** (direct attribute prediction): one probabilistic binary classifier per attribute,
  trained on the seen-class images with the image's class attribute a^{y_i}_m as label. Default
  ``classifier="logistic"``: L2-regularised logistic regression, the same objective as
  scikit-learn's ``LogisticRegression(C=C)`` (intercept not penalised),
  min_{w,b} ||w||^2 / (2 C N) + (1/N) sum_i log(1 + exp(-s_i (w . x_i + b))), s_i = 2 a^{y_i}_m - 1;
  the M problems are independent, so zslkit minimises their sum in one L-BFGS run over the
  (D + 1) x M parameter matrix (matrix-matrix products instead of M separate passes over X; tests
  show it equals M separate scikit-learn fits). ``classifier="svm"``: a linear SVM per attribute
  with Platt scaling (scikit-learn ``CalibratedClassifierCV(LinearSVC(C=C), method="sigmoid")``),
  as the papers' SVMs with Platt-scaled outputs. An attribute with one label value on all
  training images gets no classifier: its posterior is its prior, so it contributes 0 to every
  score.
* **IAP** (indirect attribute prediction): one probabilistic multi-class classifier over the
  K seen classes (multinomial logistic regression, scikit-learn ``LogisticRegression(C=C)``; or
  ``classifier="svm"``: one-vs-rest linear SVMs with Platt scaling, normalised), whose class
  posteriors give p(a_m = 1 | x) = sum_k p(y_k | x) a^{k}_m.

**Priors.** p(a_m = 1) is the mean of the seen classes' signatures (the classes of ``y`` in
``fit``), clipped to [``prior_clip``, 1 - ``prior_clip``] so that an attribute every seen class has
(or lacks) does not divide by zero; p(a_m = 0) = 1 - p(a_m = 1). Attribute posteriors are clipped to
[``eps``, 1 - ``eps``] before the logarithm (one over-confident attribute cannot veto a class).

**Binary signatures from any class matrix.** Like every zslkit model, ``fit(X, y, S)`` and
``scores(X, S)`` take the (continuous) class matrix S (C x M). It is binarised inside:
a^c_m = 1 if S[c, m] > t. By default (``threshold=None``) t is the mean of all entries of the S
given to ``fit`` — how the AwA binary predicate matrix was made from the continuous one (the
overall mean, all 50 classes; class descriptions, never test images) — and an S whose entries
are all 0 or 1 is kept as it is (t = 0.5). The threshold is stored (``threshold_``) and applied
unchanged to the S given to ``scores``.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar, Iterator

import numpy as np

from zslkit.errors import ConfigError, ZSLDataError
from zslkit.models.base import ZSLModel, check_fit_inputs, check_score_inputs

log = logging.getLogger(__name__)

CLASSIFIERS = ("logistic", "svm")
#: hyperparameters that only change how scores are computed: grid points differing in them share a fit
_SCORE_TIME = ("eps", "prior_clip")


def binarize(S: np.ndarray, threshold: float) -> np.ndarray:
    """(C x M) class matrix -> float64 {0, 1} signatures, 1 where S > threshold."""
    return (np.asarray(S, dtype=np.float64) > threshold).astype(np.float64)


def fit_threshold(S: np.ndarray, threshold: float | None) -> float:
    """The binarisation threshold for the class matrix given to ``fit`` (see module docstring)."""
    if threshold is not None:
        return float(threshold)
    S = np.asarray(S, dtype=np.float64)
    if np.all((S == 0) | (S == 1)):
        return 0.5
    return float(S.mean())


def map_scores(log_p1: np.ndarray, log_p0: np.ndarray, B: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """MAP scores sum_m log p(a_m = B[c, m] | x) - log p(a_m = B[c, m]).

    Args:
        log_p1, log_p0: (N, M) log p(a_m = 1 | x), log p(a_m = 0 | x).
        B: (C', M) binary signatures of the candidate classes.
        prior: (M,) p(a_m = 1), strictly inside (0, 1).
    Returns:
        (N, C') float32 scores.
    """
    B = np.asarray(B, dtype=np.float64)
    prior = np.asarray(prior, dtype=np.float64)
    lp1 = np.asarray(log_p1, dtype=np.float64)
    lp0 = np.asarray(log_p0, dtype=np.float64)
    img = lp1 @ B.T + lp0 @ (1.0 - B).T
    cls = np.log(prior) @ B.T + np.log1p(-prior) @ (1.0 - B).T
    return (img - cls[None, :]).astype(np.float32)


def joint_logistic(X: np.ndarray, T: np.ndarray, C: float, W0: np.ndarray | None = None, max_iter: int = 500,
                   tol: float = 1e-4, memory: int = 10) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """M independent L2-regularised logistic regressions sharing X, solved as one problem.

    Minimises sum_m [ ||w_m||^2 / (2 C N) + (1/N) sum_i log(1 + exp(-s_im (x_i . w_m + b_m))) ],
    s_im = 2 T[i, m] - 1 — per m, scikit-learn's ``LogisticRegression(C=C)`` objective divided by
    C N (the same minimiser). The sum separates over m, so its minimiser is the M separate ones.

    Args:
        X: (N, D) features (their dtype is used for the two matrix products per iteration).
        T: (N, M) labels in {0, 1}.
        W0: (D + 1, M) warm start (last row: intercepts).
        max_iter, tol: L-BFGS iterations and the largest gradient entry at convergence.
        memory: L-BFGS correction pairs kept (scipy's ``maxcor``).
    Returns:
        (coef (D, M) float32, intercept (M,) float64, info {"iterations", "converged", "message"}).
    """
    from scipy.optimize import minimize
    from scipy.special import expit, log_expit

    X = np.asarray(X)
    N, D = X.shape
    T = np.asarray(T, dtype=np.float64)
    M = T.shape[1]
    sign = 2.0 * T - 1.0
    reg = 1.0 / (C * N)

    def f(wflat: np.ndarray) -> tuple[float, np.ndarray]:
        W = wflat.reshape(D + 1, M)
        Z = (X @ W[:D].astype(X.dtype, copy=False)).astype(np.float64) + W[D]
        loss = -log_expit(sign * Z).sum() / N
        G = (expit(Z) - T) / N
        grad = np.empty_like(W)
        grad[:D] = (X.T @ G.astype(X.dtype, copy=False)).astype(np.float64) + reg * W[:D]
        grad[D] = G.sum(axis=0)
        return float(loss + 0.5 * reg * np.sum(W[:D] ** 2)), grad.ravel()

    w0 = np.zeros((D + 1) * M) if W0 is None else np.asarray(W0, dtype=np.float64).ravel()
    res = minimize(f, w0, jac=True, method="L-BFGS-B",
                   options={"maxiter": max_iter, "gtol": tol, "ftol": 64 * np.finfo(float).eps, "maxcor": memory})
    W = res.x.reshape(D + 1, M)
    info = {"iterations": int(res.nit), "converged": bool(res.success), "message": str(res.message)}
    return W[:D].astype(np.float32), W[D].copy(), info


class _AttributeMAP(ZSLModel):
    """Shared part of DAP and IAP: binarisation, priors, the MAP scores (see module docstring)."""

    #: measured on AWA1 validation classes (Lampert features, expchi2 map): DAP val T1 36.8 / 38.8 / 38.1
    #: and IAP 33.3 / 38.9 / 38.4 at C = 0.1 / 1 / 10, so the grid brackets C = 1
    param_grid: ClassVar[dict[str, list]] = {"C": [0.3, 1.0, 3.0]}

    def _check(self) -> None:
        if self.classifier not in CLASSIFIERS:
            raise ConfigError(f"{type(self).__name__} classifier must be one of {list(CLASSIFIERS)}, got "
                              f"{self.classifier!r}")
        for key, lo, hi in (("C", 0.0, np.inf), ("eps", 0.0, 0.5), ("prior_clip", 0.0, 0.5)):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or not lo < v < hi:
                raise ConfigError(f"{type(self).__name__} {key} must be a number in ({lo}, {hi}), got {v!r}")
        if self.threshold is not None and (isinstance(self.threshold, bool) or not np.isfinite(self.threshold)):
            raise ConfigError(f"{type(self).__name__} threshold must be a finite number or None, got "
                              f"{self.threshold!r}")
        if isinstance(self.max_iter, bool) or not isinstance(self.max_iter, int) or self.max_iter < 1:
            raise ConfigError(f"{type(self).__name__} max_iter must be an integer >= 1, got {self.max_iter!r}")

    def _prepare(self, y: np.ndarray, S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sets ``threshold_``, ``classes_`` (seen class ids), ``prior_``; returns (B (C x M), seen B)."""
        self._check()
        self.threshold_ = fit_threshold(S, self.threshold)
        B = binarize(S, self.threshold_)
        self.classes_ = np.unique(y)
        self.n_attributes_ = B.shape[1]
        p = B[self.classes_].mean(axis=0)
        self.prior_ = p  # unclipped; clipped when scoring (prior_clip is a score-time setting)
        return B, B[self.classes_]

    def _log_posteriors(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def attribute_posteriors(self, X: np.ndarray) -> np.ndarray:
        """(N, M) p(a_m = 1 | x), clipped to [eps, 1 - eps]."""
        return np.exp(self._log_posteriors(np.asarray(X, dtype=np.float32))[0])

    def scores(self, X: np.ndarray, S: np.ndarray) -> np.ndarray:
        self._check_fitted("threshold_", "prior_")
        X, S = check_score_inputs(X, S, self.n_features_in_, self.n_attributes_)
        lp1, lp0 = self._log_posteriors(X)
        prior = np.clip(self.prior_, self.prior_clip, 1.0 - self.prior_clip)
        return map_scores(lp1, lp0, binarize(S, self.threshold_), prior)

    def _clipped_logs(self, p1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p1 = np.clip(np.asarray(p1, dtype=np.float64), self.eps, 1.0 - self.eps)
        return np.log(p1), np.log1p(-p1)

    # grid search: one fit per (fit-relevant settings, C), warm-started along increasing C
    def _fit_key(self, p: dict[str, Any]) -> tuple:
        return tuple(sorted((k, repr(v)) for k, v in p.items() if k not in _SCORE_TIME and k != "C"))

    def fit_grid(self, X: np.ndarray, y: np.ndarray, S: np.ndarray, grid: list[dict[str, Any]]
                 ) -> Iterator[tuple[dict[str, Any], "_AttributeMAP"]]:
        X, y, S = check_fit_inputs(X, y, S)
        points = [{**self.get_params(), **params} for params in grid]
        order = sorted(range(len(points)), key=lambda i: (self._fit_key(points[i]), float(points[i]["C"])))
        fits: dict[tuple, _AttributeMAP] = {}
        last: dict[tuple, _AttributeMAP] = {}
        models: list[_AttributeMAP | None] = [None] * len(points)
        for i in order:
            p = points[i]
            key = (self._fit_key(p), float(p["C"]))
            if key not in fits:
                m = type(self)(**p)
                m._fit(X, y, S, warm=last.get(key[0]))
                fits[key] = last[key[0]] = m
            m = type(self)(**p)
            m.__dict__.update({k: v for k, v in fits[key].__dict__.items() if k.endswith("_")})
            models[i] = m
        for params, m in zip(grid, models):
            yield params, m

    def fit(self, X: np.ndarray, y: np.ndarray, S: np.ndarray) -> "_AttributeMAP":
        X, y, S = check_fit_inputs(X, y, S)
        return self._fit(X, y, S, warm=None)

    def _fit(self, X, y, S, warm) -> "_AttributeMAP":  # pragma: no cover - abstract
        raise NotImplementedError


def _svm_calibrated(C: float, max_iter: int, seed: int, cv: int):
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import LinearSVC

    return CalibratedClassifierCV(LinearSVC(C=C, max_iter=max_iter, random_state=seed), method="sigmoid", cv=cv,
                                  ensemble=False)


class DAP(_AttributeMAP):
    """Direct attribute prediction (see module docstring).

    Args:
        C: inverse regularisation of the attribute classifiers (scikit-learn's C).
        classifier: "logistic" (joint L-BFGS, default) or "svm" (linear SVM + Platt scaling).
        threshold: binarisation threshold of the class matrix; None = mean of the S given to fit.
        eps: attribute posteriors are clipped to [eps, 1 - eps].
        prior_clip: attribute priors are clipped to [prior_clip, 1 - prior_clip].
        max_iter, tol: of the L-BFGS solver (``tol``: largest gradient entry of the objective divided
            by C N at convergence, scikit-learn's default; a looser 1e-3 stops warm starts along the C
            grid at once on AWA1-sized data, since the change of the regularisation gradient between
            two C values, ~w / N, is below it) or LinearSVC (max_iter).
        calibration_cv: folds of the Platt scaling with ``classifier="svm"``.
        seed: of LinearSVC and the calibration folds.
    """

    def __init__(self, C: float = 1.0, classifier: str = "logistic", threshold: float | None = None,
                 eps: float = 1e-3, prior_clip: float = 0.01, max_iter: int = 500, tol: float = 1e-4,
                 calibration_cv: int = 3, seed: int = 0):
        self.C = C
        self.classifier = classifier
        self.threshold = threshold
        self.eps = eps
        self.prior_clip = prior_clip
        self.max_iter = max_iter
        self.tol = tol
        self.calibration_cv = calibration_cv
        self.seed = seed

    def _fit(self, X: np.ndarray, y: np.ndarray, S: np.ndarray, warm: "DAP | None") -> "DAP":
        B, _ = self._prepare(y, S)
        T = B[y]  # (N, M): each image's class signature
        frac = T.mean(axis=0)
        self.active_ = np.flatnonzero((frac > 0) & (frac < 1))  # attributes with both labels among the images
        self.n_features_in_ = X.shape[1]
        Ta = T[:, self.active_]
        if self.active_.size == 0:
            log.warning("DAP: every attribute has one value on all training images; no classifier is trained")
        if self.classifier == "logistic":
            W0 = None
            if warm is not None and getattr(warm, "coef_", None) is not None and np.array_equal(warm.active_,
                                                                                                  self.active_):
                W0 = np.vstack([warm.coef_.astype(np.float64), warm.intercept_[None, :]])
            if self.active_.size:
                self.coef_, self.intercept_, info = joint_logistic(X, Ta, float(self.C), W0, self.max_iter, self.tol)
                if W0 is not None and info["iterations"] == 0:  # the warm start already met tol: solve from 0
                    self.coef_, self.intercept_, info = joint_logistic(X, Ta, float(self.C), None, self.max_iter,
                                                                       self.tol)
            else:
                self.coef_, self.intercept_, info = np.zeros((X.shape[1], 0), np.float32), np.zeros(0), {}
            self.solver_ = info
            if info and not info["converged"]:
                log.warning("DAP (C=%g): L-BFGS stopped after %d iterations without reaching tol=%g (%s)", self.C,
                            info["iterations"], self.tol, info["message"])
        else:
            self.svms_ = [_svm_calibrated(float(self.C), self.max_iter, self.seed, self.calibration_cv).fit(X, Ta[:, j])
                          for j in range(self.active_.size)]
        return self

    def decision_values(self, X: np.ndarray) -> np.ndarray:
        """(N, M_active) logistic decision values x . w_m + b_m of the trained attributes."""
        self._check_fitted("coef_")
        X = np.asarray(X, dtype=np.float32)
        return (X @ self.coef_).astype(np.float64) + self.intercept_

    def _log_posteriors(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p1 = np.tile(np.clip(self.prior_, self.prior_clip, 1 - self.prior_clip), (X.shape[0], 1))
        if self.active_.size:
            if self.classifier == "logistic":
                from scipy.special import expit

                p1[:, self.active_] = expit(self.decision_values(X))
            else:
                p1[:, self.active_] = np.stack([s.predict_proba(X)[:, 1] for s in self.svms_], axis=1)
        lp1, lp0 = self._clipped_logs(p1)
        inactive = np.setdiff1d(np.arange(self.n_attributes_), self.active_)
        if inactive.size:  # exactly the clipped prior: these attributes add 0 to every score
            prior = np.clip(self.prior_[inactive], self.prior_clip, 1 - self.prior_clip)
            lp1[:, inactive] = np.log(prior)
            lp0[:, inactive] = np.log1p(-prior)
        return lp1, lp0


class IAP(_AttributeMAP):
    """Indirect attribute prediction (see module docstring).

    Args:
        C: inverse regularisation of the seen-class classifier (scikit-learn's C).
        classifier: "logistic" (multinomial logistic regression, default) or "svm" (one-vs-rest
            linear SVMs + Platt scaling, normalised over classes).
        threshold, eps, prior_clip, calibration_cv, seed: as for :class:`DAP`.
        max_iter, tol: of scikit-learn's LogisticRegression (its default tol) or LinearSVC.
    """

    def __init__(self, C: float = 1.0, classifier: str = "logistic", threshold: float | None = None,
                 eps: float = 1e-3, prior_clip: float = 0.01, max_iter: int = 500, tol: float = 1e-4,
                 calibration_cv: int = 3, seed: int = 0):
        self.C = C
        self.classifier = classifier
        self.threshold = threshold
        self.eps = eps
        self.prior_clip = prior_clip
        self.max_iter = max_iter
        self.tol = tol
        self.calibration_cv = calibration_cv
        self.seed = seed

    def _fit(self, X: np.ndarray, y: np.ndarray, S: np.ndarray, warm: "IAP | None") -> "IAP":
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression

        _, Bseen = self._prepare(y, S)
        self.seen_signatures_ = Bseen  # (K, M), rows in the order of classes_
        self.n_features_in_ = X.shape[1]
        if self.classes_.size < 2:
            raise ZSLDataError(f"IAP needs images of at least 2 seen classes, got {self.classes_.size}")
        if self.classifier == "logistic":
            warm_ok = warm is not None and hasattr(warm, "clf_") and np.array_equal(warm.classes_, self.classes_)
            clf = LogisticRegression(C=float(self.C), max_iter=self.max_iter, tol=self.tol, warm_start=warm_ok)
            if warm_ok:
                clf.coef_ = warm.clf_.coef_.copy()
                clf.intercept_ = warm.clf_.intercept_.copy()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ConvergenceWarning)
                clf.fit(X, y)
            if any(issubclass(w.category, ConvergenceWarning) for w in caught):
                log.warning("IAP (C=%g): the logistic regression did not converge in max_iter=%d iterations", self.C,
                            self.max_iter)
            self.clf_ = clf
        else:
            self.clf_ = _svm_calibrated(float(self.C), self.max_iter, self.seed, self.calibration_cv).fit(X, y)
        return self

    def class_posteriors(self, X: np.ndarray) -> np.ndarray:
        """(N, K) p(y_k | x) over the seen classes ``classes_``."""
        self._check_fitted("clf_")
        return self.clf_.predict_proba(np.asarray(X, dtype=np.float32))

    def _log_posteriors(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p1 = self.class_posteriors(X).astype(np.float64) @ self.seen_signatures_
        return self._clipped_logs(p1)
