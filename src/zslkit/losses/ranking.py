"""Ranking losses of the bilinear-compatibility ZSL models (ALE, SJE, DeViSE).

All three are pure functions of a score matrix and the true labels:

* ``scores``: (B x C) tensor, ``scores[n, c] = F(x_n, c)`` (higher = more compatible);
* ``labels``: (B,) integer tensor, the column of the true class of each row.

With the 0/1 label loss ``Delta(y, c) = margin * [c != y]`` (so ``Delta(y, y) = 0``), the
per-sample margin violation of class ``c`` is

    v_nc = Delta(y_n, c) + F(x_n, c) - F(x_n, y_n),      v_{n, y_n} = 0 by construction.

* :func:`ale_loss` -- ALE (Akata et al., TPAMI 2016, eq. 7), the weighted approximate-rank
  pairwise loss (WARP, Weston et al. 2011) computed exactly over all classes of the batch:

      L_n = l(r_n) / r_n * sum_c max(0, v_nc),   r_n = #{c : v_nc > 0},   l(k) = sum_{i=1}^k 1/i,

  and ``L_n = 0`` when ``r_n = 0``. The weight ``l(r)/r`` is piecewise constant in the scores
  (it has no gradient); it puts more weight on samples whose true class ranks near the top, so
  that top-1 accuracy, not the full ranking, is optimised.
* :func:`sje_loss` -- SJE (Akata et al., CVPR 2015): the structured SVM hinge
  ``L_n = max_c v_nc`` (>= 0 because ``v_{n, y_n} = 0``): only the most violating class counts.
* :func:`devise_loss` -- DeViSE (Frome et al., NIPS 2013), the hinge rank loss
  ``L_n = sum_{c != y_n} max(0, margin - F(x_n, y_n) + F(x_n, c))``: every violating class
  counts with weight 1 (ALE with ``l(k) = k``). Frome et al. use margin 0.1.

``reduction``: "mean" (over the batch, the default), "sum", or "none" (the (B,) vector).

Per-sample update rules (the papers' SGD, used by ``optimizer="per_sample"`` of
:mod:`zslkit.models.bilinear`). Each takes one image's scores ``f`` (Cs,) against the seen
classes (numpy) and its class ``y`` and returns the class ``c`` whose term the SGD step follows
and the step's weight, or ``None`` when no step is taken; the caller then applies
``W += lr * weight * x (s_y - s_c)^T`` (the negative gradient of ``weight * v_c``):

* :func:`ale_sampled_violator` -- ALE / WARP (Akata et al. TPAMI 2016, Weston et al. 2011):
  draw other classes uniformly at random, with replacement, until one violates the margin
  (at most Cs - 1 draws). After N draws the rank of y is estimated as ``floor((Cs - 1) / N)`` and
  the step is weighted by ``l(rank) = sum_{i <= rank} 1/i``.
* :func:`devise_first_violator` -- DeViSE (Frome et al. 2013), as in the standard reproduction of
  Xian et al.'s table: the first violating class in class order (the authors found it practical to
  stop at the first violating term), weight 1.
* :func:`sje_most_violating` -- SJE (Akata et al. CVPR 2015): the most violating class
  ``argmax_c Delta(y, c) + f_c - f_y``, weight 1; no step when it is y itself. The reproduction
  computes ``f`` from the *standardised* projection (``x W`` minus its mean over the K semantic
  dimensions, divided by its standard deviation, :func:`standardise`) to choose the class, while
  the step uses the raw x.
"""

from __future__ import annotations

import numpy as np
import torch

from zslkit.errors import ConfigError, ZSLDataError

_REDUCTIONS = ("mean", "sum", "none")
_EULER_GAMMA = 0.5772156649015329


def _check(scores: torch.Tensor, labels: torch.Tensor, margin: float, reduction: str) -> torch.Tensor:
    if not isinstance(scores, torch.Tensor) or scores.ndim != 2:
        raise ZSLDataError(f"scores must be a 2-D (B x C) tensor, got {getattr(scores, 'shape', type(scores))}")
    labels = torch.as_tensor(labels, device=scores.device)
    if labels.ndim != 1 or labels.shape[0] != scores.shape[0]:
        raise ZSLDataError(f"labels must have shape ({scores.shape[0]},) to match scores {tuple(scores.shape)}, "
                           f"got {tuple(labels.shape)}")
    if labels.is_floating_point() or labels.is_complex():
        raise ZSLDataError(f"labels must be integer class columns, got dtype {labels.dtype}")
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= scores.shape[1]):
        raise ZSLDataError(f"labels must index the {scores.shape[1]} columns of scores, found range "
                           f"[{int(labels.min())}, {int(labels.max())}]")
    if not margin > 0:  # also rejects NaN
        raise ConfigError(f"margin must be > 0, got {margin}")
    if reduction not in _REDUCTIONS:
        raise ConfigError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    return labels.long()


def _reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def margin_violations(scores: torch.Tensor, labels: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """(B x C) ``v_nc = margin*[c != y_n] + F(x_n, c) - F(x_n, y_n)``, exactly 0 at ``c = y_n``."""
    return _violations(scores, _check(scores, labels, margin, "none"), margin)


def _violations(scores: torch.Tensor, labels: torch.Tensor, margin: float) -> torch.Tensor:
    true = scores.gather(1, labels[:, None])  # (B, 1) F(x_n, y_n)
    delta = torch.full_like(scores, float(margin))
    delta.scatter_(1, labels[:, None], 0.0)
    v = delta + scores - true
    # The true column is 0 mathematically; force it so rounding can never count it as violated.
    return v.scatter(1, labels[:, None], 0.0)


def rank_weight(r: torch.Tensor) -> torch.Tensor:
    """ALE's ``l(r) / r`` with ``l(k) = sum_{i<=k} 1/i`` (harmonic number); 0 where ``r = 0``.

    Args:
        r: integer (or integral float) tensor of violation counts, any shape.
    """
    r = r.to(torch.float64)
    # H_k = digamma(k + 1) + Euler's gamma: exact to float64 rounding, no lookup table or host sync
    lr = torch.special.digamma(r + 1.0) + _EULER_GAMMA
    return torch.where(r > 0, lr / r.clamp(min=1), torch.zeros_like(lr))


def ale_loss(scores: torch.Tensor, labels: torch.Tensor, margin: float = 1.0, reduction: str = "mean") -> torch.Tensor:
    """ALE's rank-weighted pairwise hinge (see module docstring); (B x C) scores -> loss."""
    labels = _check(scores, labels, margin, reduction)
    hinge = _violations(scores, labels, margin).clamp(min=0)  # (B, C), 0 in the true column
    with torch.no_grad():  # the weight is piecewise constant: no gradient flows through it
        w = rank_weight((hinge > 0).sum(1)).to(scores.dtype)
    return _reduce(w * hinge.sum(1), reduction)


def sje_loss(scores: torch.Tensor, labels: torch.Tensor, margin: float = 1.0, reduction: str = "mean") -> torch.Tensor:
    """SJE's structured hinge ``max_c [Delta(y, c) + F(x, c) - F(x, y)]`` (>= 0); (B x C) -> loss."""
    labels = _check(scores, labels, margin, reduction)
    return _reduce(_violations(scores, labels, margin).max(1).values, reduction)


def devise_loss(scores: torch.Tensor, labels: torch.Tensor, margin: float = 0.1, reduction: str = "mean"
                ) -> torch.Tensor:
    """DeViSE's hinge rank loss ``sum_{c != y} max(0, margin - F(x, y) + F(x, c))``; (B x C) -> loss."""
    labels = _check(scores, labels, margin, reduction)
    return _reduce(_violations(scores, labels, margin).clamp(min=0).sum(1), reduction)


#: name -> loss function, used by :mod:`zslkit.models.bilinear`
RANKING_LOSSES = {"ale": ale_loss, "sje": sje_loss, "devise": devise_loss}


# ----------------------------------------------------------------------------- per-sample rules (numpy)
def harmonic(k: int) -> float:
    """``l(k) = sum_{i=1}^k 1/i`` (0 for k = 0), ALE/WARP's rank weight."""
    return float(np.sum(1.0 / np.arange(1, k + 1))) if k > 0 else 0.0


def standardise(v: np.ndarray) -> np.ndarray:
    """``(v - mean(v)) / std(v)`` over the entries of a vector (population std; a constant vector is
    only centred), the scaling SJE's reproduction applies to ``x W`` before choosing a class."""
    v = np.asarray(v, dtype=np.float64)
    sd = v.std()
    return (v - v.mean()) / (sd if sd > 0 else 1.0)


def ale_sampled_violator(f: np.ndarray, y: int, margin: float, rng: np.random.Generator
                         ) -> tuple[int, float] | None:
    """ALE's WARP sampling for one image (see module docstring): ``(c, l(floor((Cs-1)/N)))`` or None.

    The Cs - 1 candidate draws are made at once (``rng.integers``), and the first violating one is
    taken: the same distribution as drawing one at a time and stopping at the first violation.
    """
    cs = f.shape[0]
    if cs < 2:
        return None
    draws = rng.integers(0, cs - 1, size=cs - 1)
    cand = draws + (draws >= y)  # index into the other classes, in class order, skipping y
    hit = np.flatnonzero(margin + f[cand] - f[y] > 0)
    if hit.size == 0:
        return None
    n_draws = int(hit[0]) + 1
    return int(cand[hit[0]]), harmonic((cs - 1) // n_draws)


def devise_first_violator(f: np.ndarray, y: int, margin: float) -> tuple[int, float] | None:
    """DeViSE's rule for one image: the first class c != y (class order) with ``margin + f_c - f_y > 0``."""
    v = margin + f - f[y]
    v[y] = -np.inf
    hit = np.flatnonzero(v > 0)
    return (int(hit[0]), 1.0) if hit.size else None


def sje_most_violating(f: np.ndarray, y: int, margin: float) -> tuple[int, float] | None:
    """SJE's rule for one image: ``c = argmax_c [margin [c != y] + f_c - f_y]`` (first on ties);
    None when that is y (every margin satisfied)."""
    v = margin + f - f[y]
    v[y] = 0.0
    c = int(np.argmax(v))
    return None if c == y else (c, 1.0)
