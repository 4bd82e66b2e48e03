"""Imbalance of semantic predictions (ReZSL's analysis): error statistics per attribute and class.

For a model that predicts a semantic vector ``s_hat_n`` (N x K) for each image, with target
``s_{y_n}`` (the class's row of the semantic matrix), the squared error
``e_{na} = (s_hat_na - s_{y_n,a})^2`` (after L2-normalising both vectors, as ReZSL's RegNorm
does, when ``normalize=True``) is summarised:

* per attribute: mean and variance over images (``attr_mean``, ``attr_var``: K);
* per class: mean over its images and attributes, and the variance of its per-attribute means
  (``class_mean``, ``class_var``: C');
* per class and attribute: mean error (``class_attr_mean``: C' x K), the matrix ReMSE re-weights;
* imbalance scalars: coefficient of variation (std / mean) of the per-attribute and per-class
  mean errors; ReMSE aims to lower them.

:func:`error_by_value` tests ReZSL's central observation, that the error of a (class, attribute)
cell grows with the attribute's value: the Spearman correlation between the (RegNorm'ed) target value
and the mean squared error over all (class, attribute) cells, and the mean error per quintile of the
value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zslkit.errors import ZSLDataError


@dataclass
class ImbalanceStats:
    classes: np.ndarray  # (C',) class ids present
    attr_mean: np.ndarray  # (K,)
    attr_var: np.ndarray  # (K,)
    class_mean: np.ndarray  # (C',)
    class_var: np.ndarray  # (C',)
    class_attr_mean: np.ndarray  # (C', K)

    @property
    def attr_cv(self) -> float:
        return float(self.attr_mean.std() / max(self.attr_mean.mean(), 1e-12))

    @property
    def class_cv(self) -> float:
        return float(self.class_mean.std() / max(self.class_mean.mean(), 1e-12))

    def summary(self) -> dict:
        return {"mse": float(self.attr_mean.mean()), "attr_cv": self.attr_cv, "class_cv": self.class_cv,
                "attr_mean_max": float(self.attr_mean.max()), "attr_mean_min": float(self.attr_mean.min()),
                "num_classes": int(self.classes.size), "num_attributes": int(self.attr_mean.size)}


def _l2(x: np.ndarray) -> np.ndarray:
    return x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-10)


def semantic_error_stats(pred: np.ndarray, semantic: np.ndarray, labels: np.ndarray,
                         normalize: bool = True) -> ImbalanceStats:
    """Error statistics of predicted semantics (see module docstring).

    Args:
        pred: (N, K) predicted semantic vectors.
        semantic: (C, K) class semantic matrix.
        labels: (N,) class ids (rows of ``semantic``).
        normalize: L2-normalise predictions and targets first (ReZSL's RegNorm).
    """
    pred = np.asarray(pred, dtype=np.float64)
    semantic = np.asarray(semantic, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64)
    if pred.ndim != 2 or pred.shape[1] != semantic.shape[1] or pred.shape[0] != labels.size:
        raise ZSLDataError(f"pred {pred.shape}, semantic {semantic.shape} and labels {labels.shape} do not match "
                           "(expected N x K, C x K, N)")
    if labels.size == 0:
        raise ZSLDataError("no samples to analyse")
    target = semantic[labels]
    if normalize:
        pred, target = _l2(pred), _l2(target)
    err = (pred - target) ** 2
    classes, inv = np.unique(labels, return_inverse=True)
    counts = np.bincount(inv)
    ca = np.zeros((classes.size, err.shape[1]))
    np.add.at(ca, inv, err)
    ca /= counts[:, None]
    return ImbalanceStats(classes=classes, attr_mean=err.mean(axis=0), attr_var=err.var(axis=0),
                          class_mean=ca.mean(axis=1), class_var=ca.var(axis=1), class_attr_mean=ca)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Row-normalised confusion matrix (rows: true class, columns: predicted), over ``classes``."""
    index = {int(c): i for i, c in enumerate(classes)}
    cm = np.zeros((len(classes), len(classes)))
    for t, p in zip(np.asarray(y_true), np.asarray(y_pred)):
        if int(t) in index and int(p) in index:
            cm[index[int(t)], index[int(p)]] += 1
    rows = cm.sum(axis=1, keepdims=True)
    return np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)


def error_by_value(pred: np.ndarray, semantic: np.ndarray, labels: np.ndarray, bins: int = 5) -> dict:
    """Error against attribute value over the (class, attribute) cells of the images' classes.

    Cells: each class c present in ``labels`` and attribute a; value v_ca = s_ca / ||s_c|| (RegNorm),
    error e_ca = mean over the images of c of (s_hat_na / ||s_hat_n|| - v_ca)^2 (``class_attr_mean`` of
    :func:`semantic_error_stats`). Returns ``spearman`` (Spearman rank correlation of v and e; scipy),
    ``quantile_mean_error`` (the mean e of ``bins`` equal-count groups of cells by increasing v; ties
    broken by position) and ``top_over_bottom`` (last group's mean over the first's), plus the
    coefficients of variation and the mean error of :class:`ImbalanceStats`.
    """
    from scipy.stats import spearmanr

    st = semantic_error_stats(pred, semantic, labels)
    v = _l2(np.asarray(semantic, dtype=np.float64)[st.classes]).ravel()
    e = st.class_attr_mean.ravel()
    order = np.argsort(v, kind="stable")
    group = np.empty(v.size, dtype=np.int64)
    group[order] = np.arange(v.size) * bins // v.size
    per = [float(e[group == b].mean()) for b in range(bins)]
    return {"spearman": float(spearmanr(v, e).statistic), "quantile_mean_error": per,
            "top_over_bottom": per[-1] / per[0] if per[0] > 0 else None, "class_cv": st.class_cv,
            "attr_cv": st.attr_cv, "mse": float(st.attr_mean.mean())}
