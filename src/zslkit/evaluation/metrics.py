"""ZSL/GZSL accuracy metrics (xlsa17 protocol, Xian et al. TPAMI 2018; AUSUC, Chao et al. 2016).

All accuracies here are fractions in [0, 1]; the protocol layer reports percent.

* Per-class top-1 accuracy: ``mean_c (#correct in c / #samples of c)`` over the classes that
  occur in ``y_true``. It differs from per-image accuracy whenever classes are imbalanced.
* GZSL: ``U`` (unseen test images, all classes as candidates), ``S`` (seen test images, all
  classes as candidates) and their harmonic mean ``H = 2 U S / (U + S)``.
* Calibrated stacking: ``gamma`` is subtracted from the scores of seen classes before the
  argmax, trading S for U.
* AUSUC: area under the (U(gamma), S(gamma)) curve traced by sweeping gamma from the value
  that sends every prediction to a seen class to the one that sends every prediction to
  an unseen class. Computed exactly from the breakpoints of the piecewise-constant curve.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zslkit.errors import ZSLDataError


def _as_labels(y: np.ndarray, name: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise ZSLDataError(f"{name} must be a 1-D array of class ids, got shape {y.shape}")
    if y.size and not np.issubdtype(y.dtype, np.integer):
        raise ZSLDataError(f"{name} must hold integer class ids, got dtype {y.dtype}")
    return y.astype(np.int64, copy=False)


def per_class_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean over the classes present in ``y_true`` of the fraction of their samples predicted right.

    Args:
        y_true: (N,) integer class ids.
        y_pred: (N,) integer class ids, same id space as ``y_true``.

    Returns:
        Accuracy in [0, 1]; ``nan`` for empty input.
    """
    y_true = _as_labels(y_true, "y_true")
    y_pred = _as_labels(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ZSLDataError(f"y_true and y_pred differ in length: {y_true.shape[0]} vs {y_pred.shape[0]}")
    if y_true.size == 0:
        return float("nan")
    classes, inverse, counts = np.unique(y_true, return_inverse=True, return_counts=True)
    correct = np.bincount(inverse, weights=(y_true == y_pred).astype(np.float64), minlength=classes.size)
    return float(np.mean(correct / counts))


def per_class_accuracies(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(classes, accuracy_per_class)`` for the classes present in ``y_true``."""
    y_true = _as_labels(y_true, "y_true")
    y_pred = _as_labels(y_pred, "y_pred")
    classes, inverse, counts = np.unique(y_true, return_inverse=True, return_counts=True)
    correct = np.bincount(inverse, weights=(y_true == y_pred).astype(np.float64), minlength=classes.size)
    return classes, correct / counts


def harmonic_mean(u: float, s: float) -> float:
    """``H = 2 u s / (u + s)``; 0 when both are 0."""
    if u + s <= 0:
        return 0.0
    return float(2.0 * u * s / (u + s))


def calibrated_predictions(scores: np.ndarray, candidates: np.ndarray, seen_mask: np.ndarray,
                           gamma: float) -> np.ndarray:
    """Argmax over ``scores - gamma * seen_mask``; returns class ids taken from ``candidates``.

    Args:
        scores: (N, C) scores for the C candidate classes.
        candidates: (C,) class ids of the score columns.
        seen_mask: (C,) bool, True for seen-class columns.
        gamma: calibration constant subtracted from seen columns.
    """
    adjusted = scores - gamma * seen_mask[None, :].astype(scores.dtype)
    return np.asarray(candidates)[np.argmax(adjusted, axis=1)]


@dataclass(frozen=True)
class GZSLSweep:
    """The exact (gamma, U, S) curve of calibrated stacking.

    ``gammas[i]`` is a representative gamma of the i-th constant piece; ``u[i]`` and
    ``s[i]`` are the per-class accuracies (fractions) there. Pieces are ordered by
    increasing gamma, so ``u`` is non-decreasing and ``s`` non-increasing.
    """

    gammas: np.ndarray
    u: np.ndarray
    s: np.ndarray

    @property
    def h(self) -> np.ndarray:
        denom = self.u + self.s
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(denom > 0, 2 * self.u * self.s / np.where(denom > 0, denom, 1), 0.0)

    def ausuc(self) -> float:
        """Area under the S-vs-U curve (trapezoidal over the breakpoints; x = U, y = S)."""
        order = np.argsort(self.u, kind="stable")
        u, s = self.u[order], self.s[order]
        # The curve is a staircase; anchor it on the axes so the area is over [0, max U].
        u = np.concatenate([[0.0], u, [u[-1]]])
        s = np.concatenate([[s[0]], s, [0.0]])
        return float(np.trapezoid(s, u) if hasattr(np, "trapezoid") else np.trapz(s, u))

    def best(self) -> tuple[float, float, float, float]:
        """(gamma, U, S, H) at the piece with the highest H (first one on ties)."""
        i = int(np.argmax(self.h))
        return float(self.gammas[i]), float(self.u[i]), float(self.s[i]), float(self.h[i])


def gzsl_sweep(scores: np.ndarray, y_true: np.ndarray, candidates: np.ndarray, seen_mask: np.ndarray,
               is_unseen_sample: np.ndarray) -> GZSLSweep:
    """Exact sweep of calibrated stacking over every gamma where some prediction changes.

    For sample i let ``d_i = max_seen_score_i - max_unseen_score_i``. With calibration gamma
    the sample is assigned to its best unseen class iff ``gamma > d_i`` (ties go to seen, as
    ``np.argmax`` picks the first maximum and seen columns keep their order), otherwise to its
    best seen class. So U and S only change at the ``d_i`` and both are step functions,
    computed here with one sort and cumulative sums (O(N log N)) instead of one argmax per gamma.

    Args:
        scores: (N, C) scores over all candidate classes (seen and unseen).
        y_true: (N,) true class ids (in the id space of ``candidates``).
        candidates: (C,) class ids of the columns.
        seen_mask: (C,) True for seen classes; at least one seen and one unseen column.
        is_unseen_sample: (N,) True for test_unseen samples, False for test_seen samples.
    """
    scores = np.asarray(scores)
    y_true = _as_labels(y_true, "y_true")
    seen_mask = np.asarray(seen_mask, dtype=bool)
    is_unseen_sample = np.asarray(is_unseen_sample, dtype=bool)
    candidates = np.asarray(candidates)
    if scores.ndim != 2 or scores.shape != (y_true.size, candidates.size):
        raise ZSLDataError(f"scores must be (N={y_true.size}, C={candidates.size}), got {scores.shape}")
    if not seen_mask.any() or seen_mask.all():
        raise ZSLDataError("GZSL needs at least one seen and one unseen candidate class")
    seen_cols = np.flatnonzero(seen_mask)
    unseen_cols = np.flatnonzero(~seen_mask)
    best_seen = seen_cols[np.argmax(scores[:, seen_cols], axis=1)]
    best_unseen = unseen_cols[np.argmax(scores[:, unseen_cols], axis=1)]
    d = scores[np.arange(y_true.size), best_seen] - scores[np.arange(y_true.size), best_unseen]
    correct_if_seen = candidates[best_seen] == y_true
    correct_if_unseen = candidates[best_unseen] == y_true

    # Weight of one correct sample in its per-class mean: 1 / (n_c * n_classes_of_its_group).
    weight = np.zeros(y_true.size)
    for group in (True, False):
        sel = is_unseen_sample == group
        if sel.any():
            cls, inv, cnt = np.unique(y_true[sel], return_inverse=True, return_counts=True)
            weight[sel] = 1.0 / (cnt[inv] * cls.size)

    # Breakpoints: gamma just above each distinct d flips those samples to "unseen".
    breaks = np.unique(d)
    order = np.argsort(d, kind="stable")
    d_sorted = d[order]
    # Index of first sample with d >= threshold, for each piece: piece 0 is gamma <= min(d).
    flip_counts = np.searchsorted(d_sorted, breaks, side="right")  # samples flipped once gamma > break
    flipped_upto = np.concatenate([[0], flip_counts])  # per piece, number of flipped samples (prefix)
    u_gain = np.concatenate([[0.0], np.cumsum((weight * (is_unseen_sample & correct_if_unseen))[order])])
    u_loss = np.concatenate([[0.0], np.cumsum((weight * (is_unseen_sample & correct_if_seen))[order])])
    s_loss = np.concatenate([[0.0], np.cumsum((weight * (~is_unseen_sample & correct_if_seen))[order])])
    s_gain = np.concatenate([[0.0], np.cumsum((weight * (~is_unseen_sample & correct_if_unseen))[order])])
    u0 = float(np.sum(weight * (is_unseen_sample & correct_if_seen)))
    s0 = float(np.sum(weight * (~is_unseen_sample & correct_if_seen)))
    k = flipped_upto
    u = u0 - u_loss[k] + u_gain[k]
    s = s0 - s_loss[k] + s_gain[k]
    # Representative gamma of each piece: below the smallest d, then midpoints, then above the largest.
    if breaks.size:
        span = max(float(breaks[-1] - breaks[0]), 1e-6)
        mids = (breaks[:-1] + breaks[1:]) / 2
        gammas = np.concatenate([[breaks[0] - 0.01 * span], mids, [breaks[-1] + 0.01 * span]])
    else:
        gammas = np.zeros(1)
        u, s = u[:1], s[:1]
    # Cumulative sums leave ~1e-16 residues where an accuracy is exactly 0 or 1; snap them.
    return GZSLSweep(gammas=gammas, u=np.clip(np.round(u, 12), 0.0, 1.0), s=np.clip(np.round(s, 12), 0.0, 1.0))
