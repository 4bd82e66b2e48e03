"""The standard ZSL / GZSL evaluation protocol (xlsa17 proposed splits).

One function, :func:`evaluate`, takes a scoring function and an :class:`EvalSplit` (the
test split of a :class:`~zslkit.data.ZSLData`, or a validation split built from class
lists) and returns :class:`Metrics`:

* ``T1``: per-class top-1 on unseen test images, candidates = unseen classes only (ZSL).
* ``U``, ``S``, ``H``: GZSL per-class top-1 on unseen / seen test images, candidates = all
  classes, with calibrated stacking ``gamma`` subtracted from seen-class scores.
* ``ausuc`` and its curve (exact breakpoints of the gamma sweep).
* ``oracle_gamma`` / ``oracle_H``: the best gamma *on this split*. On the test split this is
  the figure papers such as ReZSL report; zslkit labels it "oracle" and never uses it for
  model selection.

Accuracies in :class:`Metrics` are in percent, like the papers' tables.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import numpy as np

from zslkit.errors import ZSLDataError
from zslkit.evaluation.metrics import GZSLSweep, gzsl_sweep, harmonic_mean, per_class_accuracy

#: ``scores_fn(X, class_ids) -> (N, len(class_ids))`` scores; higher is better.
ScoresFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class EvalSplit:
    """Which images and classes an evaluation uses.

    Attributes:
        seen_idx: indices (into the feature matrix) of seen-class test images.
        unseen_idx: indices of unseen-class test images.
        seen_classes: ids of the seen classes (GZSL candidates, together with unseen).
        unseen_classes: ids of the unseen classes (ZSL candidates).
        name: "test" or e.g. "val1" (validation fold 1); recorded in the metrics.
    """

    seen_idx: np.ndarray
    unseen_idx: np.ndarray
    seen_classes: np.ndarray
    unseen_classes: np.ndarray
    name: str = "test"

    def __post_init__(self) -> None:
        overlap = np.intersect1d(self.seen_classes, self.unseen_classes)
        if overlap.size:
            raise ZSLDataError(f"split {self.name!r}: classes {overlap.tolist()[:10]} are both seen and unseen")
        if len(self.unseen_classes) == 0 or len(self.unseen_idx) == 0:
            raise ZSLDataError(f"split {self.name!r} has no unseen classes or no unseen test images")


@dataclass
class Metrics:
    """Results of the protocol on one split (accuracies in percent)."""

    T1: float
    U: float
    S: float
    H: float
    gamma: float
    ausuc: float
    U0: float  # GZSL without calibration (gamma = 0)
    S0: float
    H0: float
    oracle_gamma: float
    oracle_U: float
    oracle_S: float
    oracle_H: float
    split: str = "test"
    curve: dict = field(default_factory=dict, repr=False)  # {"gamma": [...], "U": [...], "S": [...]}
    #: per-image predictions behind the numbers (for analysis; not part of ``to_dict``)
    predictions: dict = field(default_factory=dict, repr=False)

    def to_dict(self, with_curve: bool = True) -> dict:
        """Nested dict in the layout of ``metrics.json`` (``zsl``, ``gzsl``, ``ausuc``, ...)."""
        d = {
            "split": self.split,
            "zsl": {"T1": self.T1},
            "gzsl": {"U": self.U, "S": self.S, "H": self.H, "gamma": self.gamma},
            "gzsl_uncalibrated": {"U": self.U0, "S": self.S0, "H": self.H0, "gamma": 0.0},
            "gzsl_oracle": {"U": self.oracle_U, "S": self.oracle_S, "H": self.oracle_H,
                            "gamma": self.oracle_gamma,
                            "note": "gamma chosen on this split itself; for comparison with papers only"},
            "ausuc": self.ausuc,
        }
        if with_curve:
            d["curve"] = self.curve
        return d

    def summary(self) -> str:
        return (f"[{self.split}] ZSL T1 {self.T1:.2f} | GZSL U {self.U:.2f} S {self.S:.2f} H {self.H:.2f} "
                f"(gamma {self.gamma:.4g}) | AUSUC {self.ausuc:.2f} | oracle H {self.oracle_H:.2f}")


def _checked_scores(scores_fn: ScoresFn, X: np.ndarray, classes: np.ndarray) -> np.ndarray:
    s = np.asarray(scores_fn(X, classes), dtype=np.float64)
    if s.shape != (X.shape[0], classes.size):
        raise ZSLDataError(f"scores function returned shape {s.shape}, expected ({X.shape[0]}, {classes.size})")
    if not np.all(np.isfinite(s)):
        raise ZSLDataError("scores function returned NaN or inf scores (the model diverged or the input is bad)")
    return s


def gzsl_scores(scores_fn: ScoresFn, features: np.ndarray, labels: np.ndarray, split: EvalSplit):
    """Scores of seen+unseen test images over all classes, with the bookkeeping the sweep needs."""
    candidates = np.concatenate([split.seen_classes, split.unseen_classes]).astype(np.int64)
    seen_mask = np.zeros(candidates.size, dtype=bool)
    seen_mask[: len(split.seen_classes)] = True
    idx = np.concatenate([split.seen_idx, split.unseen_idx]).astype(np.int64)
    is_unseen = np.zeros(idx.size, dtype=bool)
    is_unseen[len(split.seen_idx):] = True
    scores = _checked_scores(scores_fn, features[idx], candidates)
    return scores, labels[idx], candidates, seen_mask, is_unseen


def choose_gamma(sweep: GZSLSweep) -> float:
    """Calibration gamma maximising H on a (validation) sweep."""
    return sweep.best()[0]


def zsl_accuracy(scores_fn: ScoresFn, features: np.ndarray, labels: np.ndarray, split: EvalSplit) -> float:
    """ZSL T1 (%) alone: per-class top-1 of the unseen images among the unseen classes (no GZSL sweep)."""
    unseen = np.asarray(split.unseen_classes, dtype=np.int64)
    zs = _checked_scores(scores_fn, np.asarray(features)[split.unseen_idx], unseen)
    return 100 * per_class_accuracy(np.asarray(labels)[split.unseen_idx], unseen[np.argmax(zs, axis=1)])


def evaluate(scores_fn: ScoresFn, features: np.ndarray, labels: np.ndarray, split: EvalSplit,
             gamma: float | None = None) -> Metrics:
    """Run the full ZSL + GZSL protocol on one split.

    Args:
        scores_fn: ``scores_fn(X, class_ids) -> (N, len(class_ids))``.
        features: (N_all, D) feature matrix the split indexes into.
        labels: (N_all,) class ids.
        split: the images and classes to evaluate.
        gamma: calibrated-stacking constant for U/S/H. ``None`` means 0 (no calibration);
            it must come from validation, never from this split (the oracle figure is
            reported separately).
    """
    features = np.asarray(features)
    labels = np.asarray(labels)
    # ZSL: unseen images among unseen classes only.
    unseen = np.asarray(split.unseen_classes, dtype=np.int64)
    zs = _checked_scores(scores_fn, features[split.unseen_idx], unseen)
    t1 = per_class_accuracy(labels[split.unseen_idx], unseen[np.argmax(zs, axis=1)])

    if len(split.seen_idx) == 0 or len(split.seen_classes) == 0:
        nan = float("nan")
        return Metrics(T1=100 * t1, U=nan, S=nan, H=nan, gamma=nan, ausuc=nan, U0=nan, S0=nan, H0=nan,
                       oracle_gamma=nan, oracle_U=nan, oracle_S=nan, oracle_H=nan, split=split.name)

    scores, y, candidates, seen_mask, is_unseen = gzsl_scores(scores_fn, features, labels, split)
    sweep = gzsl_sweep(scores, y, candidates, seen_mask, is_unseen)
    g = 0.0 if gamma is None else float(gamma)
    u, s = _us_at(scores, y, candidates, seen_mask, is_unseen, g)
    u0, s0 = _us_at(scores, y, candidates, seen_mask, is_unseen, 0.0)
    og, ou, os_, oh = sweep.best()
    predictions = {
        "gzsl_idx": np.concatenate([split.seen_idx, split.unseen_idx]).astype(np.int64), "gzsl_y_true": y,
        "gzsl_y_pred": candidates[np.argmax(scores - g * seen_mask[None, :], axis=1)], "gzsl_is_unseen": is_unseen,
        "candidates": candidates, "zsl_idx": np.asarray(split.unseen_idx, dtype=np.int64),
        "zsl_y_pred": unseen[np.argmax(zs, axis=1)],
    }
    return Metrics(
        T1=100 * t1, U=100 * u, S=100 * s, H=100 * harmonic_mean(u, s), gamma=g,
        ausuc=100 * sweep.ausuc(), U0=100 * u0, S0=100 * s0, H0=100 * harmonic_mean(u0, s0),
        oracle_gamma=og, oracle_U=100 * ou, oracle_S=100 * os_, oracle_H=100 * oh, split=split.name,
        curve={"gamma": sweep.gammas.tolist(), "U": (100 * sweep.u).tolist(), "S": (100 * sweep.s).tolist()},
        predictions=predictions,
    )


def _us_at(scores, y, candidates, seen_mask, is_unseen, gamma: float) -> tuple[float, float]:
    pred = candidates[np.argmax(scores - gamma * seen_mask[None, :], axis=1)]
    u = per_class_accuracy(y[is_unseen], pred[is_unseen])
    s = per_class_accuracy(y[~is_unseen], pred[~is_unseen])
    return u, s


def validation_gamma(scores_fn: ScoresFn, features: np.ndarray, labels: np.ndarray, split: EvalSplit) -> float:
    """The gamma that maximises GZSL H on a validation split (exact sweep)."""
    scores, y, candidates, seen_mask, is_unseen = gzsl_scores(scores_fn, features, labels, split)
    return choose_gamma(gzsl_sweep(scores, y, candidates, seen_mask, is_unseen))


def metrics_dict(m: Metrics) -> dict:
    """Plain-dict view (all fields) for logging."""
    return asdict(m)


def prediction_arrays(metrics: Metrics, semantic: np.ndarray, seen_classes: np.ndarray, unseen_classes: np.ndarray,
                      class_names: Sequence[str], pred_semantics: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """What a run directory's ``predictions.npz`` holds (the arrays :func:`load_run` reads back).

    ``metrics.predictions`` (per-image predictions of the protocol, see
    :func:`zslkit.evaluation.evaluate`), the class semantic matrix, seen / unseen class ids, class
    names and, for models that predict semantic vectors, ``pred_semantics``: one row per image of
    ``gzsl_idx`` (enables the per-attribute / per-class imbalance analysis).
    """
    arrays = {k: np.asarray(v) for k, v in metrics.predictions.items()}
    arrays["semantic"] = np.asarray(semantic)
    arrays["seen_classes"] = np.asarray(seen_classes)
    arrays["unseen_classes"] = np.asarray(unseen_classes)
    arrays["class_names"] = np.array(list(class_names), dtype=str)
    if pred_semantics is not None:
        if pred_semantics.shape[0] != arrays["gzsl_idx"].shape[0]:
            raise ValueError(f"pred_semantics has {pred_semantics.shape[0]} rows, expected one per gzsl_idx "
                             f"image ({arrays['gzsl_idx'].shape[0]})")
        arrays["pred_semantics"] = np.asarray(pred_semantics, dtype=np.float32)
    return arrays
