r"""ReMSE, the re-balanced mean-squared error of ReZSL (Ye et al., IEEE TIP 2023).

ZSL as regression: a model predicts a semantic vector :math:`\hat s_n` (B x A) for each
image and is regressed onto its class's semantic vector :math:`s_n = \Phi[y_n]` (B x A).
ReMSE re-weights the squared error of every (class, attribute) cell by how hard that
cell currently is, relative to the easiest class (intra-semantic) and to the easiest
attribute of the class (inter-semantic).

What is implemented (the authors' code, https://github.com/FouriYe/ReZSL-TIP23, whose
tracker produced the paper's numbers), with B samples, A attributes, C classes:

1. RegNorm (``normalize=True``): :math:`\hat s_n \leftarrow \hat s_n / (\|\hat s_n\|_2 + 10^{-10})`
   and likewise :math:`s_n`; the epsilon is the authors' (zero vectors stay zero).
2. Per-class mean error, on detached values (C x A):
   :math:`e[c,a] = \frac{1}{|\{n: y_n=c\}|}\sum_{n: y_n=c} (\hat s_{na} - s_{na})^2`,
   and :math:`e[c,\cdot] = 0` for a class absent from the batch.
3. Intra-semantic (across classes) weight, minimum over classes with :math:`e > 0`:
   :math:`W_1[c,a] = \big(1 + \log\frac{e[c,a]}{\min_{c': e[c',a]>0} e[c',a]}\big)^{p}`.
4. Inter-semantic (across attributes) weight, minimum over attributes with :math:`e > 0`:
   :math:`W_2[c,a] = \big(1 + \log\frac{e[c,a]}{\min_{a': e[c,a']>0} e[c,a']}\big)^{p_2}`.
5. :math:`W = W_1 \odot W_2`, set to 1 wherever :math:`e[c,a] = 0` (absent class, or a
   cell with exactly zero error). Every weight is :math:`\ge 1`; W carries no gradient.
6. :math:`\mathcal{L} = \frac{1}{BA}\sum_{n,a} W[y_n,a]\,(\hat s_{na} - s_{na})^2`.

With ``p = p2 = 0`` every weight is exactly 1 and the loss is exactly
``F.mse_loss`` of the (normalised) vectors. Official CUB setting (``docs/METHODS.md``):
``p=0.1, p2=0.75``, ``mode="in_batch"``, loss weight ``lambda1 = 0.25`` next to the
cross-entropy. (One stored version of the authors' ``config/cub_16w_2s_AttentionNet.yaml``
reads ``P: 0.75, P2: 0.0, LAMBDA1: 0.1, WEIGHT_TYPE: cross_batch`` instead; compare
with the config of the version you reproduce.)

Modes of :class:`ReMSELoss`:

* ``"in_batch"`` -- e is recomputed from the current batch only (the official setting).
* ``"cross_batch"`` -- classes absent from the batch keep their last known row of e
  (a persistent buffer, so ``state_dict``/checkpoints resume exactly); W is computed
  from the merged e, so the minima also see absent classes.

Weightings of :class:`ReMSELoss`:

* ``"code"`` -- the formulas above; what produced the paper's numbers.
* ``"meanvar"`` -- a zslkit option, **not** what produced the paper's numbers. The
  paper's text says ReMSE tracks the mean *and variance* of each class's error
  distribution; zslkit realises that by tracking, per (class, attribute), the first two
  moments of the per-sample squared error :math:`\epsilon_{na} = (\hat s_{na}-s_{na})^2`,
  :math:`m_1 = \mathrm{E}[\epsilon]`, :math:`m_2 = \mathrm{E}[\epsilon^2]`, and feeding the
  upper error level :math:`\tilde e = m_1 + \kappa \sqrt{\max(m_2 - m_1^2, 0)}`
  (``var_coef`` = :math:`\kappa`, default 1) into the same :math:`W_1, W_2` formulas. A
  class whose error is as large on average but more spread out gets more weight.
  ``var_coef=0`` gives exactly the ``"code"`` weights.

In ``"cross_batch"`` mode, ``momentum`` < 1 turns "last known statistics" into an
exponential moving average for classes seen before:
``stat <- (1 - momentum) * stat + momentum * batch_stat``; ``momentum=1`` (default) is
the plain "last known" rule.

Usage in any training loop (``class_semantics``: C x A tensor, ``labels``: B class
indices into it, ``pred_semantics``: the model's B x A output)::

    from zslkit.losses import ReMSELoss
    criterion = ReMSELoss(num_classes=150, p=0.1, p2=0.75)       # once, before training
    # per batch (F = torch.nn.functional):
    logits = 20.0 * F.normalize(pred_semantics, dim=1) @ F.normalize(class_semantics, dim=1).T
    ce_loss = F.cross_entropy(logits, labels)
    loss = ce_loss + 0.25 * criterion(pred_semantics, class_semantics[labels], labels)

``criterion.last_weights`` (C x A) and ``criterion.last_error`` (C x A) hold the weights
and errors of the latest call, for analysis.

Relation to the authors' code (ReZSL-TIP23, ``REZSL/modeling/Model/rezsl.py``):

* Same formulas and order of floating-point operations as their loops:
  ``_remse_weights_loop`` (their loop structure, used as the benchmark baseline) and the
  vectorised code give bitwise-equal float32 weights on CPU.
* Their dispatcher sends ``WeightType="cross_batch"`` to the in-batch update too, so
  every official run was in-batch whatever the config said. Their unused cross-batch
  routine restores the previous value of every *cell* whose new e is exactly 0 (which
  also catches a present class with a zero-error attribute); zslkit keeps whole rows of
  *absent classes* only, as the authors' code does: a present cell with zero error is a
  fresh 0 (weight 1).
* They compute W from ``pred.detach()`` and multiply a detached weight tensor; zslkit
  computes W under ``torch.no_grad()``: the same gradients.

Implementation notes: the per-class means are a scatter (``index_add``) over the K
classes present in the batch (``torch.unique``), the minima are masked ``amin``
reductions; there is no Python loop over samples, classes or attributes. On CUDA,
``index_add`` accumulates with atomics, so with 3 or more samples of a class the last
bit of e may vary between runs unless ``torch.use_deterministic_algorithms(True)`` is
set. Every call synchronises with the host once or twice (``torch.unique`` and the
label-range / finiteness checks).
"""

from __future__ import annotations

import math
from typing import Any, Literal, NamedTuple

import torch
from torch import Tensor, nn

from zslkit.errors import ConfigError, ZSLDataError

__all__ = [
    "MODES",
    "REDUCTIONS",
    "WEIGHTINGS",
    "ReMSELoss",
    "class_error_stats",
    "regnorm",
    "remse_loss",
    "remse_weights",
    "weights_from_error",
]

#: Added to the L2 norm before dividing, as in the authors' RegNorm.
NORM_EPS: float = 1e-10

MODES: tuple[str, ...] = ("in_batch", "cross_batch")
WEIGHTINGS: tuple[str, ...] = ("code", "meanvar")
REDUCTIONS: tuple[str, ...] = ("mean", "sum", "none")

Mode = Literal["in_batch", "cross_batch"]
Weighting = Literal["code", "meanvar"]
Reduction = Literal["mean", "sum", "none"]


class _BatchMoments(NamedTuple):
    """Per-class moments of a batch's squared errors, for the K classes present only."""

    classes: Tensor  # (K,) sorted class indices present in the batch
    inverse: Tensor  # (B,) position of each sample's class in ``classes``
    counts: Tensor  # (K,) samples per present class
    mean: Tensor  # (K x A) mean squared error per present class: the rows of e
    sq_mean: Tensor | None  # (K x A) second moment, mean of sq_err**2, if asked for


# --------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------


def _check_nonneg_float(name: str, value: Any) -> float:
    # bool is an int subclass; p=True is almost surely a mistake.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a real number >= 0, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"{name} must be a finite number >= 0, got {value!r}")
    return value


def _check_num_classes(num_classes: Any) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ConfigError(f"num_classes must be an integer >= 1, got {num_classes!r}")
    return int(num_classes)


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    # Half-precision inputs get float32 statistics: log-ratios of tiny float16 errors
    # would be mostly rounding noise.
    return torch.promote_types(dtype, torch.float32)


def _check_inputs(pred: Any, target: Any, labels: Any, num_classes: int) -> tuple[Tensor, Tensor, Tensor]:
    """Check types and shapes of (pred, target, labels); return (B x A, B x A, B long).

    pred and target are cast to a common floating dtype (at least float32); labels are
    moved to pred's device. Raises :class:`ZSLDataError` naming the argument. Value
    checks (label range, finiteness) follow in :func:`_check_values`.
    """
    for name, value in (("pred", pred), ("target", target), ("labels", labels)):
        if not isinstance(value, Tensor):
            raise ZSLDataError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if pred.ndim != 2 or pred.shape[0] == 0 or pred.shape[1] == 0:
        raise ZSLDataError(
            f"pred must have shape (B, A) with B >= 1 samples and A >= 1 attributes, "
            f"got shape {tuple(pred.shape)}"
        )
    if tuple(target.shape) != tuple(pred.shape):
        raise ZSLDataError(
            f"target must have the same shape as pred {tuple(pred.shape)}, got shape {tuple(target.shape)}"
        )
    batch = pred.shape[0]
    if tuple(labels.shape) != (batch,):
        raise ZSLDataError(
            f"labels must have shape ({batch},) (one class index per sample), got shape {tuple(labels.shape)}"
        )
    if not pred.is_floating_point():
        raise ZSLDataError(f"pred must be a floating-point tensor, got dtype {pred.dtype}")
    if not target.is_floating_point():
        raise ZSLDataError(f"target must be a floating-point tensor, got dtype {target.dtype}")
    if labels.dtype == torch.bool or labels.is_floating_point() or labels.is_complex():
        raise ZSLDataError(f"labels must be an integer tensor of class indices, got dtype {labels.dtype}")
    if target.device != pred.device:
        raise ZSLDataError(f"target must be on pred's device {pred.device}, got device {target.device}")

    dtype = _compute_dtype(torch.promote_types(pred.dtype, target.dtype))
    return pred.to(dtype), target.to(dtype), labels.to(device=pred.device, dtype=torch.long)


def _check_values(moments: _BatchMoments, pred: Tensor, target: Tensor, num_classes: int) -> None:
    """Value checks, done on the small per-class results instead of the raw batch.

    The sorted unique labels give the label range, and a non-finite input always shows
    up in the class means, so the common (valid) case costs two tiny reductions.
    """
    classes = moments.classes  # sorted: its ends are the label range
    ends = classes[:: max(classes.shape[0] - 1, 1)].tolist()  # a view; one host sync
    low, high = ends[0], ends[-1]
    if low < 0 or high >= num_classes:
        raise ZSLDataError(f"labels must lie in [0, num_classes={num_classes}), got values in [{low}, {high}]")
    if not bool(torch.isfinite(moments.mean).all()):
        for name, value in (("pred", pred), ("target", target)):
            if not bool(torch.isfinite(value).all()):
                raise ZSLDataError(
                    f"{name} contains NaN or inf (shape {tuple(value.shape)}); expected finite values"
                )
        raise ZSLDataError(
            f"the squared error of pred and target overflows {pred.dtype}; "
            f"use normalize=True or float64 inputs"
        )


def _prepare(
    pred: Any, target: Any, labels: Any, num_classes: int, normalize: bool, second_moment: bool = False
) -> tuple[Tensor, _BatchMoments]:
    """Validate, RegNorm, and return (squared error B x A with grad, batch moments)."""
    pred, target, labels = _check_inputs(pred, target, labels, num_classes)
    raw_pred, raw_target = pred, target
    if normalize:
        pred, target = regnorm(pred), regnorm(target)
    sq_err = (pred - target) ** 2
    with torch.no_grad():
        moments = _batch_moments(sq_err.detach(), labels, second_moment=second_moment)
        _check_values(moments, raw_pred, raw_target, num_classes)
    return sq_err, moments


# --------------------------------------------------------------------------------------
# functional core
# --------------------------------------------------------------------------------------


def regnorm(x: Tensor) -> Tensor:
    r"""Per-row L2 normalisation as in the authors' RegNorm: :math:`x / (\|x\|_2 + 10^{-10})`.

    x: (B x A) -> (B x A). Differentiable; an all-zero row stays zero (no NaN).
    """
    return x / (torch.linalg.vector_norm(x, ord=2, dim=1, keepdim=True) + NORM_EPS)


def _batch_moments(sq_err: Tensor, labels: Tensor, second_moment: bool = False) -> _BatchMoments:
    """Scatter-mean of sq_err (B x A, detached) over labels (B,), present classes only.

    Working on the K <= B present classes instead of all C keeps the cost independent of
    C (K = 16 against C = 150 in a CUB episode); absent classes are all-zero rows of e,
    which affect neither minimum.
    """
    classes, inverse, counts = torch.unique(labels, sorted=True, return_inverse=True, return_counts=True)
    denom = counts.to(sq_err.dtype).unsqueeze(1)
    zeros = sq_err.new_zeros((classes.shape[0], sq_err.shape[1]))
    mean = zeros.index_add(0, inverse, sq_err) / denom
    sq_mean = zeros.index_add(0, inverse, sq_err * sq_err) / denom if second_moment else None
    return _BatchMoments(classes, inverse, counts, mean, sq_mean)


def _scatter_rows(rows: Tensor, index: Tensor, num_rows: int, fill: float) -> Tensor:
    """(num_rows x A) matrix filled with ``fill`` except rows ``index`` = ``rows`` (K x A)."""
    out = rows.new_full((num_rows, rows.shape[1]), fill)
    return out.index_copy_(0, index, rows)


def _log_ratio_power(error: Tensor, minimum: Tensor, power: float) -> Tensor:
    """(1 + log(e / minimum)) ** power where e > 0, exactly 1 where e == 0.

    minimum (1 x A or C x 1) is the minimum of the positive entries (+inf if none). For
    e > 0, e >= minimum so e / minimum >= 1 (IEEE division is monotone) and the clamp
    changes nothing; for e == 0 the ratio is 0 and the clamp turns it into 1, giving
    weight 1 without a separate mask and without ever forming log(0).
    """
    if power == 0.0:
        # (1 + log r) ** 0 == 1 exactly; skip the transcendental work.
        return torch.ones_like(error)
    ratio = (error / minimum).clamp_min_(1.0)
    return ratio.log_().add_(1.0).pow_(power)


def _weights_from_error(error: Tensor, p: float, p2: float, rows: Tensor | None = None) -> Tensor:
    """weights_from_error without validation (error: C x A, finite, >= 0, no grad).

    With ``rows`` (K,), only W[rows] (K x A) is formed; the minima over classes still
    see every row of ``error``.
    """
    # Cells with e == 0 must not win a minimum; +inf makes them neutral.
    masked = error.masked_fill(error == 0, math.inf)
    min_over_classes = masked.amin(dim=0, keepdim=True)  # (1 x A)
    if rows is not None:
        error, masked = error[rows], masked[rows]
    min_over_attributes = masked.amin(dim=1, keepdim=True)  # (C x 1) or (K x 1)
    weights = _log_ratio_power(error, min_over_classes, p)
    return weights.mul_(_log_ratio_power(error, min_over_attributes, p2))


def weights_from_error(error: Tensor, p: float = 0.1, p2: float = 0.75) -> Tensor:
    r"""ReMSE weights from a per-class error matrix.

    error: (C x A), finite, >= 0 (e.g. ``class_error_stats(...)[1]``); rows of zeros
    stand for absent classes. Returns W (C x A, no gradient) with
    :math:`W_1[c,a] = (1+\log(e[c,a]/\min_{c': e>0} e[c',a]))^{p}`,
    :math:`W_2[c,a] = (1+\log(e[c,a]/\min_{a': e>0} e[c,a']))^{p_2}`,
    :math:`W = W_1 W_2`, and :math:`W = 1` where :math:`e = 0`.
    """
    p = _check_nonneg_float("p", p)
    p2 = _check_nonneg_float("p2", p2)
    if not isinstance(error, Tensor) or error.ndim != 2 or not error.is_floating_point():
        shape = tuple(error.shape) if isinstance(error, Tensor) else type(error).__name__
        raise ZSLDataError(f"error must be a floating-point tensor of shape (C, A), got {shape}")
    error = error.detach()
    if not bool((torch.isfinite(error) & (error >= 0)).all()):
        raise ZSLDataError("error must contain finite values >= 0 (mean squared errors), got negative/NaN/inf entries")
    return _weights_from_error(error.to(_compute_dtype(error.dtype)), p, p2)


def class_error_stats(
    pred: Tensor, target: Tensor, labels: Tensor, num_classes: int, normalize: bool = True
) -> tuple[Tensor, Tensor, Tensor]:
    r"""Per-class statistics of the per-sample squared error, without gradient.

    pred, target: (B x A); labels: (B,) in [0, num_classes). With
    :math:`\epsilon_{na} = (\hat s_{na} - s_{na})^2` (on RegNorm'ed vectors when
    ``normalize``), returns ``(counts, mean, var)``: counts (C) samples per class, mean
    (C x A) = e of ReMSE, var (C x A) the population variance of :math:`\epsilon` within
    each class (0 for single-sample or absent classes). For analysis of the imbalance.
    """
    num_classes = _check_num_classes(num_classes)
    with torch.no_grad():
        sq_err, moments = _prepare(pred, target, labels, num_classes, normalize, second_moment=True)
        assert moments.sq_mean is not None
        var = (moments.sq_mean - moments.mean * moments.mean).clamp_min(0.0)
        counts = sq_err.new_zeros(num_classes).index_copy_(0, moments.classes, moments.counts.to(sq_err.dtype))
        mean = _scatter_rows(moments.mean, moments.classes, num_classes, 0.0)
        var = _scatter_rows(var, moments.classes, num_classes, 0.0)
    return counts, mean, var


def remse_weights(
    pred: Tensor,
    target: Tensor,
    labels: Tensor,
    num_classes: int,
    p: float = 0.1,
    p2: float = 0.75,
    normalize: bool = True,
) -> Tensor:
    r"""In-batch ReMSE weight matrix W (num_classes x num_attributes), no gradient.

    pred, target: (B x A), L2-normalised per row first when ``normalize`` (RegNorm);
    labels: (B,) integer class indices in [0, num_classes). Implements
    :math:`e[c,a]` = mean over the batch's samples of class c of
    :math:`(\hat s_a - s_a)^2`, then :math:`W = W_1 \odot W_2` as in
    :func:`weights_from_error` (1 for absent classes and cells with e = 0).
    Vectorised (scatter-add + masked min); float32/float64, CPU/CUDA.
    """
    num_classes = _check_num_classes(num_classes)
    p = _check_nonneg_float("p", p)
    p2 = _check_nonneg_float("p2", p2)
    with torch.no_grad():
        _, moments = _prepare(pred, target, labels, num_classes, normalize)
        # In-batch, the present rows alone give the same minima as the full C x A matrix.
        weights = _weights_from_error(moments.mean, p, p2)
        return _scatter_rows(weights, moments.classes, num_classes, 1.0)


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def remse_loss(
    pred: Tensor,
    target: Tensor,
    labels: Tensor,
    num_classes: int,
    p: float = 0.1,
    p2: float = 0.75,
    normalize: bool = True,
    reduction: Reduction = "mean",
) -> Tensor:
    r"""Functional in-batch ReMSE: ``reduce(W[labels] * (pred - target)**2)``.

    pred, target: (B x A) (RegNorm'ed when ``normalize``); labels: (B,). W comes from
    :func:`remse_weights` and is a constant for autograd. ``reduction`` as in
    ``F.mse_loss``: "mean" (scalar, mean over B x A), "sum" (scalar) or "none" (B x A).
    With ``p = p2 = 0`` this equals ``F.mse_loss`` of the (normalised) inputs exactly.
    """
    num_classes = _check_num_classes(num_classes)
    p = _check_nonneg_float("p", p)
    p2 = _check_nonneg_float("p2", p2)
    reduction = _check_choice("reduction", reduction, REDUCTIONS)  # type: ignore[assignment]
    sq_err, moments = _prepare(pred, target, labels, num_classes, normalize)
    with torch.no_grad():
        weights = _weights_from_error(moments.mean, p, p2)  # (K x A), rows of the present classes
    return _reduce(weights[moments.inverse] * sq_err, reduction)


def _remse_weights_loop(
    pred: Tensor,
    target: Tensor,
    labels: Tensor,
    num_classes: int,
    p: float = 0.1,
    p2: float = 0.75,
    normalize: bool = True,
) -> Tensor:
    """Loop reference of :func:`remse_weights` (for tests and benchmarks only).

    Same structure as the authors' tracker: a Python loop over samples to accumulate
    per-class sums, over all classes to average, over attributes for W1 and over
    classes for W2, with row-wise tensor operations inside. Unvalidated inputs.
    """
    pred, target = pred.detach(), target.detach()
    if normalize:
        pred, target = regnorm(pred), regnorm(target)
    sq_err = (pred - target) ** 2
    batch, num_attributes = sq_err.shape
    sums = sq_err.new_zeros((num_classes, num_attributes))
    counts = torch.zeros(num_classes, dtype=torch.long, device=sq_err.device)
    for n in range(batch):
        sums[labels[n]] = sums[labels[n]] + sq_err[n]
        counts[labels[n]] = counts[labels[n]] + 1
    error = sq_err.new_zeros((num_classes, num_attributes))
    for c in range(num_classes):
        if counts[c] > 0:
            error[c] = sums[c] / counts[c]

    positive = error > 0
    weights1 = torch.ones_like(error)
    for a in range(num_attributes):
        column = error[:, a]
        kept = column[positive[:, a]]
        if kept.numel() > 0:
            weights1[:, a] = torch.log(column / kept.min()) + 1.0
    weights1 = torch.where(positive, weights1**p, torch.ones_like(error))
    weights2 = torch.ones_like(error)
    for c in range(num_classes):
        row = error[c]
        kept = row[positive[c]]
        if kept.numel() > 0:
            weights2[c] = torch.log(row / kept.min()) + 1.0
    weights2 = torch.where(positive, weights2**p2, torch.ones_like(error))
    return weights1 * weights2


# --------------------------------------------------------------------------------------
# module
# --------------------------------------------------------------------------------------


class ReMSELoss(nn.Module):
    r"""Re-balanced MSE of ReZSL as an ``nn.Module`` (see the module docstring).

    ``forward(pred, target, labels)`` with pred, target: (B x A) and labels: (B,) in
    [0, num_classes) returns :math:`\frac{1}{BA}\sum_{n,a} W[y_n,a](\hat s_{na}-s_{na})^2`
    (RegNorm'ed vectors when ``normalize``); gradient flows to pred (and target), never
    through W.

    Args:
        num_classes: C, number of (training) classes that labels index.
        p: exponent of the intra-semantic (across classes) weight W1, >= 0.
        p2: exponent of the inter-semantic (across attributes) weight W2, >= 0.
        mode: "in_batch" (official) or "cross_batch" (absent classes keep their last
            known statistics).
        normalize: RegNorm both vectors per sample before the errors (official: True).
        weighting: "code" (authors' code; the paper's numbers) or "meanvar" (zslkit's
            mean + var_coef * std variant of the paper's description; not the paper's
            numbers).
        num_attributes: A; if None, fixed by the first forward call.
        momentum: "cross_batch" only: EMA rate for classes seen before, in (0, 1];
            1 = replace by the batch statistics (the "last known" rule).
        var_coef: "meanvar" only: kappa in e~ = m1 + kappa * std, >= 0.
        reduction: "mean" | "sum" | "none" as in ``nn.MSELoss``.

    Attributes:
        last_weights: W (C x A) of the latest forward call, or None.
        last_error: the (effective) e (C x A) W was computed from, or None.
        error_mean, error_sq_mean: buffers (C x A), per-class first/second moment of the
            squared error (merged across batches in "cross_batch"); saved in state_dict.
        class_seen: buffer (C,) bool, classes with statistics.
        num_updates: buffer (), number of forward calls in training statistics.
    """

    error_mean: Tensor
    error_sq_mean: Tensor
    class_seen: Tensor
    num_updates: Tensor

    def __init__(
        self,
        num_classes: int,
        p: float = 0.1,
        p2: float = 0.75,
        mode: Mode = "in_batch",
        normalize: bool = True,
        weighting: Weighting = "code",
        *,
        num_attributes: int | None = None,
        momentum: float = 1.0,
        var_coef: float = 1.0,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__()
        self.num_classes = _check_num_classes(num_classes)
        self.p = _check_nonneg_float("p", p)
        self.p2 = _check_nonneg_float("p2", p2)
        self.mode = _check_choice("mode", mode, MODES)
        self.weighting = _check_choice("weighting", weighting, WEIGHTINGS)
        self.reduction = _check_choice("reduction", reduction, REDUCTIONS)
        if not isinstance(normalize, bool):
            raise ConfigError(f"normalize must be True or False, got {normalize!r}")
        self.normalize = normalize
        if num_attributes is not None and (
            isinstance(num_attributes, bool) or not isinstance(num_attributes, int) or num_attributes < 1
        ):
            raise ConfigError(f"num_attributes must be None or an integer >= 1, got {num_attributes!r}")
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0.0 < float(momentum) <= 1.0:
            raise ConfigError(f"momentum must be a number in (0, 1], got {momentum!r}")
        self.momentum = float(momentum)
        if self.mode == "in_batch" and self.momentum != 1.0:
            raise ConfigError(
                f"momentum={momentum!r} only applies to mode='cross_batch'; with mode='in_batch' leave it at 1.0"
            )
        self.var_coef = _check_nonneg_float("var_coef", var_coef)

        width = 0 if num_attributes is None else num_attributes
        self.register_buffer("error_mean", torch.zeros(self.num_classes, width))
        self.register_buffer("error_sq_mean", torch.zeros(self.num_classes, width))
        self.register_buffer("class_seen", torch.zeros(self.num_classes, dtype=torch.bool))
        self.register_buffer("num_updates", torch.zeros((), dtype=torch.long))
        self.last_error: Tensor | None = None
        self._last_weights: Tensor | None = None

    # -- state --------------------------------------------------------------------------

    @property
    def num_attributes(self) -> int | None:
        """A once known (constructor or first forward), else None."""
        width = self.error_mean.shape[1]
        return width if width > 0 else None

    @property
    def error_var(self) -> Tensor:
        """Tracked variance of the per-sample squared error (C x A); meaningful for "meanvar"."""
        return (self.error_sq_mean - self.error_mean**2).clamp_min(0.0)

    def reset(self) -> None:
        """Forget all tracked statistics (keeps the number of attributes)."""
        self.error_mean.zero_()
        self.error_sq_mean.zero_()
        self.class_seen.zero_()
        self.num_updates.zero_()
        self.last_error = None
        self._last_weights = None

    def _prepare_buffers(self, num_attributes: int, dtype: torch.dtype, device: torch.device) -> None:
        width = self.error_mean.shape[1]
        if width == 0:
            self.error_mean = torch.zeros(self.num_classes, num_attributes, dtype=dtype, device=device)
            self.error_sq_mean = torch.zeros_like(self.error_mean)
        elif width != num_attributes:
            raise ZSLDataError(
                f"pred has {num_attributes} attributes but this ReMSELoss tracks {width} "
                f"(set by num_attributes or an earlier batch); use a new ReMSELoss for other semantics"
            )
        # Follow the inputs, so that a loss not moved with .to() still works and a
        # float64 run keeps float64 statistics.
        if self.error_mean.dtype != dtype or self.error_mean.device != device:
            self.error_mean = self.error_mean.to(dtype=dtype, device=device)
            self.error_sq_mean = self.error_sq_mean.to(dtype=dtype, device=device)
        if self.class_seen.device != device:
            self.class_seen = self.class_seen.to(device)
            self.num_updates = self.num_updates.to(device)

    def _load_from_state_dict(
        self,
        state_dict: dict[str, Any],
        prefix: str,
        local_metadata: dict[str, Any],
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        # A loss built without num_attributes has (C x 0) buffers until its first batch;
        # adopt the checkpoint's width so that it resumes exactly.
        for name in ("error_mean", "error_sq_mean"):
            key = prefix + name
            own = getattr(self, name)
            incoming = state_dict.get(key)
            if (
                isinstance(incoming, Tensor)
                and own.shape[1] == 0
                and incoming.ndim == 2
                and incoming.shape[0] == own.shape[0]
            ):
                setattr(self, name, torch.zeros(incoming.shape, dtype=incoming.dtype, device=own.device))
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    # -- statistics ---------------------------------------------------------------------

    @torch.no_grad()
    def _update_statistics(self, moments: _BatchMoments) -> Tensor:
        """Fold the batch's per-class moments into the buffers.

        Returns the (effective) error e (C x A) the weights are computed from.
        """
        meanvar = self.weighting == "meanvar"
        classes, mean, sq_mean = moments.classes, moments.mean, moments.sq_mean
        if self.mode == "in_batch":
            self.error_mean.zero_().index_copy_(0, classes, mean)
            self.class_seen.zero_().index_fill_(0, classes, True)
            if sq_mean is not None:
                self.error_sq_mean.zero_().index_copy_(0, classes, sq_mean)
        else:
            if self.momentum != 1.0:
                # EMA only for classes with history; a first sighting takes the batch value.
                seen = self.class_seen[classes].unsqueeze(1)
                mean = torch.where(seen, torch.lerp(self.error_mean[classes], mean, self.momentum), mean)
                if sq_mean is not None:
                    old = self.error_sq_mean[classes]
                    sq_mean = torch.where(seen, torch.lerp(old, sq_mean, self.momentum), sq_mean)
            # Rows of absent classes are left as they are: their last known statistics.
            self.error_mean.index_copy_(0, classes, mean)
            self.class_seen.index_fill_(0, classes, True)
            if sq_mean is not None:
                self.error_sq_mean.index_copy_(0, classes, sq_mean)
        self.num_updates.add_(1)

        if not meanvar:
            return self.error_mean.clone()
        return self.error_mean + self.var_coef * self.error_var.sqrt()

    @property
    def last_weights(self) -> Tensor | None:
        """W (C x A) of the latest forward call (None before the first); built on first access.

        forward only forms the rows of the classes in the batch; the full matrix is
        derived here from ``last_error`` with the same formula.
        """
        if self._last_weights is None and self.last_error is not None:
            self._last_weights = _weights_from_error(self.last_error, self.p, self.p2)
        return self._last_weights

    # -- forward ------------------------------------------------------------------------

    def forward(self, pred: Tensor, target: Tensor, labels: Tensor) -> Tensor:
        """ReMSE of pred (B x A) against target (B x A) for classes labels (B,).

        Returns a scalar for reduction "mean"/"sum", (B x A) for "none". Updates the
        tracked statistics and ``last_weights`` / ``last_error`` on every call.
        """
        sq_err, moments = _prepare(
            pred, target, labels, self.num_classes, self.normalize, second_moment=self.weighting == "meanvar"
        )
        self._prepare_buffers(sq_err.shape[1], sq_err.dtype, sq_err.device)
        with torch.no_grad():
            error = self._update_statistics(moments)
            if self.mode == "in_batch" and self.weighting == "code":
                # The present rows alone give the same minima as the full matrix.
                weights = _weights_from_error(moments.mean, self.p, self.p2)
            else:
                weights = _weights_from_error(error, self.p, self.p2, rows=moments.classes)
        self.last_error = error
        self._last_weights = None
        # weights: (K x A) for the present classes; inverse maps samples to those rows.
        return _reduce(weights[moments.inverse] * sq_err, self.reduction)

    def extra_repr(self) -> str:
        text = (
            f"num_classes={self.num_classes}, p={self.p}, p2={self.p2}, mode={self.mode!r}, "
            f"normalize={self.normalize}, weighting={self.weighting!r}"
        )
        if self.mode == "cross_batch":
            text += f", momentum={self.momentum}"
        if self.weighting == "meanvar":
            text += f", var_coef={self.var_coef}"
        if self.reduction != "mean":
            text += f", reduction={self.reduction!r}"
        return text
