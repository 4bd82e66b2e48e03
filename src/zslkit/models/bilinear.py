"""Bilinear compatibility models trained with ranking losses: ALE, SJE, DeViSE.

All three score an image x (D) against a class with semantic vector s_c (K) by

    F(x, c) = x^T W s_c,        W: (D x K),

i.e. ``scores = X W S^T`` for X (N x D) and a class matrix S (C x K), and learn W on seen classes,
by default with minibatch SGD (torch) on a ranking loss over the (B x Cs) score matrix of a batch
against all Cs seen classes, optionally with the papers' per-image SGD (``optimizer``, below;
:mod:`zslkit.losses.ranking` has the formulas of both):

* :class:`ALE` -- Akata et al., "Label-Embedding for Image Classification", TPAMI 2016:
  rank-weighted pairwise hinge, weight ``l(r)/r`` with ``l(k) = sum_{i<=k} 1/i``.
* :class:`SJE` -- Akata et al., "Evaluation of Output Embeddings for Fine-Grained Image
  Classification", CVPR 2015: structured hinge ``max_c [Delta(y, c) + F(x, c) - F(x, y)]``.
* :class:`DeViSE` -- Frome et al., "DeViSE: A Deep Visual-Semantic Embedding Model", NIPS 2013:
  hinge rank loss ``sum_{c != y} max(0, margin - F(x, y) + F(x, c))`` (linear map on frozen
  features, as in Xian et al.'s benchmark).

Implementation choices (neither paper fixes them for this setting; documented here):

* Batched (default): the losses are computed exactly over all seen classes of every batch instead
  of the papers' per-sample choice of violating classes (WARP's sampled rank estimate): with at
  most a few hundred seen classes this is cheap and removes sampling noise.
* Optimiser (``optimizer="batched"``, the default): minibatch SGD with momentum (default 0.9) on
  the mean loss of the batch and a constant learning rate, so that stopping after e epochs of a
  longer run gives exactly the model trained for e epochs; :meth:`fit_grid` uses this to evaluate
  every ``epochs`` value of the grid from one run (validation-based early stopping, the papers'
  regulariser). ``weight_decay`` (L2 on W) and ``max_norm`` (projection of W onto a Frobenius ball
  after each step) are available and off by default. This is a different optimiser from the
  papers'; ``docs/PARITY.md`` measures it against them.
* ``optimizer="per_sample"``: the papers' SGD, as the standard numpy reproduction of Xian et al.'s
  table runs it: one image at a time in a shuffled order, one rank-1 step
  ``W += lr * weight * x (s_y - s_c)^T`` for the class c picked by the model's rule
  (:mod:`zslkit.losses.ranking`: ALE samples violating classes with WARP's rank weight, DeViSE takes
  the first violating class in class order, SJE the most violating class of the standardised
  projection), plain SGD (no momentum, no batch), float64 numpy. ``lr`` multiplies one image's
  step (the batched optimiser's multiplies the batch-mean gradient, with momentum), so the two
  scales are not interchangeable; ``docs/PARITY.md`` lists values measured to work (the
  reproduction's: 0.001-1 depending on dataset and normalisation). ``batch_size`` and
  ``momentum`` do not apply; ``weight_decay`` and
  ``max_norm`` are refused. Slower per epoch (a Python loop over images), deterministic with
  ``seed`` (numpy ``default_rng``: init, order, ALE's draws). Caveat, inherited from the
  reproduction (measured in ``docs/PARITY.md``): per-sample SJE chooses classes from the
  *standardised* projection but scores test images with the raw one, so the mean of ``x W`` over
  the semantic dimensions (invisible to the choice) is never trained; with non-negative features
  (``normalize_features="l2"`` on ReLU features) it can dominate the raw scores (surrogate CUB:
  T1 31 instead of 88). ``normalize_features="std"`` (zero-mean features), the reproduction's
  choice for CUB and SUN, avoids it.
* Normalisation: features L2-normalised per image (``"l2"``, default), or standardised per
  dimension with training statistics (``"std"``), or raw (``"none"``); class semantics
  L2-normalised per class (``"l2"``, default; xlsa17's ``att`` already is) or raw.
* Init (``init``): ``"normal"``, W ~ N(0, 1/D) entries; ``"uniform"``, the reproduction's: entries
  uniform in [0, 1), then every column (one per semantic dimension) scaled to unit L2 norm.
  ``None`` (default) means "normal" for the batched optimiser and "uniform" for per_sample. The
  batched optimiser draws the init and each epoch's shuffle from
  ``torch.Generator().manual_seed(seed)``, so a fit on CPU is a function of ``seed`` alone (the
  global torch RNG is neither used nor touched).
"""

from __future__ import annotations

import math
import numbers
import time
from typing import Any, Callable, ClassVar, Iterator

import numpy as np
import torch
from scipy.linalg.blas import dger
from zslkit.utils.progress import progress_bar

from zslkit.errors import ConfigError
from zslkit.losses.ranking import (
    ale_loss,
    ale_sampled_violator,
    devise_first_violator,
    devise_loss,
    sje_loss,
    sje_most_violating,
    standardise,
)
from zslkit.models.base import ZSLModel, check_fit_inputs
from zslkit.utils.finite import all_finite
from zslkit.utils.threads import torch_threads

FEATURE_NORMS = ("l2", "std", "none")
SEMANTIC_NORMS = ("l2", "none")
OPTIMIZERS = ("batched", "per_sample")
INITS = ("normal", "uniform")


def per_sample_epoch(W: np.ndarray, X: np.ndarray, y: np.ndarray, S: np.ndarray, order: np.ndarray,
                     rule: Callable[..., tuple[int, float] | None], lr: float, margin: float,
                     rng: np.random.Generator | None = None, standardise_projection: bool = False
                     ) -> tuple[np.ndarray, float, int]:
    """One epoch of the papers' per-image SGD for a bilinear compatibility ``x^T W s_c``.

    For each image n in ``order``: scores ``f = S (x_n W)`` against the seen classes (of the
    standardised ``x_n W`` when ``standardise_projection``, SJE's reproduction), ``(c, weight) =
    rule(f, y_n, margin[, rng])`` (:mod:`zslkit.losses.ranking`), and, if the rule picked a class,
    ``W += lr * weight * x_n (s_{y_n} - s_c)^T``.

    Args:
        W: (D x K) float64, updated in place when Fortran-ordered (a copy otherwise; use the return).
        X: (N x D) float64 preprocessed features; y: (N,) columns of S; S: (Cs x K) float64 seen classes.
        order: the visiting order (indices into X).
        rule: the per-sample rule; rng is passed to it when given (ALE's sampling).
    Returns:
        (W, sum over images of the stepped term ``weight * v_c``, number of images that took a step).
    """
    W = np.asfortranarray(W)  # dger updates a Fortran-ordered matrix in place
    tot, steps = 0.0, 0
    for j in order:
        x, yj = X[j], int(y[j])
        xw = x @ W  # (K,)
        f = S @ (standardise(xw) if standardise_projection else xw)  # (Cs,)
        pick = rule(f, yj, margin) if rng is None else rule(f, yj, margin, rng)
        if pick is None:
            continue
        c, weight = pick
        steps += 1
        tot += float(weight * (margin + f[c] - f[yj]))
        # rank-1 step with BLAS dger, in place: np.outer would allocate and add a D x K temporary per
        # step (measured ~80x slower at D = 2048, K = 312)
        W = dger(lr * weight, x, S[yj] - S[c], a=W, overwrite_a=True)
    return W, tot, steps



def w_s_first(b: int, d: int, k: int, c: int) -> bool:
    """Whether ``X (W S^T)`` is cheaper than ``(X W) S^T`` for X (b x d), W (d x k), S (c x k).

    Multiply-adds: ``X (W S^T)`` costs d k c + b d c, ``(X W) S^T`` costs b d k + b k c; the backward pass
    of each order costs twice its forward in the same proportion, so the forward count decides.
    """
    return d * c * (k + b) < b * k * (d + c)


class BilinearRankingModel(ZSLModel):
    """Base of ALE / SJE / DeViSE: bilinear compatibility ``F(x, c) = x^T W s_c`` (see module docstring).

    Subclasses set :attr:`loss_fn` and :attr:`default_margin`.

    Args:
        lr: SGD learning rate (> 0), constant; ``None`` means the model's default (0.1 for ALE/SJE,
            0.01 for DeViSE, whose 10x smaller margin makes steps effectively 10x larger).
        epochs: passes over the training images (>= 1).
        batch_size: images per SGD step.
        margin: ``Delta(y, c)`` for ``c != y``; ``None`` means the model's default
            (1.0 for ALE/SJE as in Akata et al., 0.1 for DeViSE as in Frome et al.).
        momentum: SGD momentum in [0, 1).
        weight_decay: L2 penalty on W (>= 0).
        max_norm: if set, W is projected onto ``||W||_F <= max_norm`` after every step.
        normalize_features: "l2" (per image), "std" (per dimension, training statistics) or "none".
        normalize_semantic: "l2" (per class) or "none".
        optimizer: "batched" (default; minibatch momentum SGD on the mean batch loss, torch) or
            "per_sample" (the papers' per-image SGD with the model's violator rule, numpy); see the
            module docstring.
        init: "normal" (N(0, 1/D)), "uniform" (the reproduction's unit-norm columns of U[0, 1)) or
            None (normal for batched, uniform for per_sample).
        seed: seeds W's initialisation and the shuffling (deterministic on CPU).
        device: torch device to train on ("cpu", "cuda", ...).
        num_threads: torch CPU threads while fitting (restored afterwards); ``None`` keeps torch's
            setting. Default 1: each SGD step multiplies small matrices (B x D by D x Cs), which
            intra-op threads barely speed up, and on a shared, oversubscribed machine they slow
            training down by more than an order of magnitude (measured 40x on 2 busy cores).
        verbose: show a progress bar over epochs (loss, samples/s).

    Attributes after fit:
        W_: (D x K) float32 compatibility matrix.
        history_: one dict per epoch: ``epoch``, ``loss`` (mean training loss), ``violated``
            (share of images with non-zero loss), ``seconds`` (cumulative), ``samples_per_s``.
        throughput_: training samples per second over the whole fit.
        feature_mean_, feature_std_: (D,) standardisation statistics (``normalize_features="std"``).
    """

    iterative: ClassVar[bool] = True
    loss_fn: ClassVar[Callable[..., torch.Tensor]]
    #: the per-sample rule of ``optimizer="per_sample"``: (scores (Cs,), y, margin, rng) -> (c, weight) | None
    sample_rule: ClassVar[Callable[..., tuple[int, float] | None]]
    #: whether the per-sample rule draws random numbers (ALE's sampling: it is then given the rng)
    rule_draws: ClassVar[bool] = False
    #: whether the per-sample rule scores with the standardised projection (SJE's reproduction)
    standardise_projection: ClassVar[bool] = False
    default_margin: ClassVar[float] = 1.0
    default_lr: ClassVar[float] = 0.1
    #: small on purpose: one value of lr costs one training run of max(epochs) epochs (fit_grid)
    param_grid: ClassVar[dict[str, list]] = {
        "lr": [0.01, 0.1, 1.0],
        "epochs": [5, 10, 20],
    }

    def __init__(self, lr: float | None = None, epochs: int = 10, batch_size: int = 64, margin: float | None = None,
                 momentum: float = 0.9, weight_decay: float = 0.0, max_norm: float | None = None,
                 normalize_features: str = "l2", normalize_semantic: str = "l2", optimizer: str = "batched",
                 init: str | None = None, seed: int = 0, device: str = "cpu", num_threads: int | None = 1,
                 verbose: bool = False):
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.margin = margin
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.max_norm = max_norm
        self.normalize_features = normalize_features
        self.normalize_semantic = normalize_semantic
        self.optimizer = optimizer
        self.init = init
        self.seed = seed
        self.device = device
        self.num_threads = num_threads
        self.verbose = verbose

    # ----------------------------------------------------------------- validation
    @classmethod
    def _validate(cls, p: dict[str, Any]) -> None:
        name = cls.__name__

        def number(key: str, ok: Callable[[float], bool], what: str, allow_none: bool = False) -> None:
            v = p[key]
            if v is None and allow_none:
                return
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(float(v)) \
                    or not ok(float(v)):
                raise ConfigError(f"{name} {key} must be {what}, got {v!r}")

        def integer(key: str, minimum: int) -> None:
            v = p[key]
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or int(v) < minimum:
                raise ConfigError(f"{name} {key} must be an integer >= {minimum}, got {v!r}")

        number("lr", lambda v: v > 0, "a positive number or None", allow_none=True)
        integer("epochs", 1)
        integer("batch_size", 1)
        number("margin", lambda v: v > 0, "a positive number or None", allow_none=True)
        number("momentum", lambda v: 0 <= v < 1, "in [0, 1)")
        number("weight_decay", lambda v: v >= 0, "a number >= 0")
        number("max_norm", lambda v: v > 0, "a positive number or None", allow_none=True)
        integer("seed", 0)
        if p["num_threads"] is not None:
            integer("num_threads", 1)
        if p["normalize_features"] not in FEATURE_NORMS:
            raise ConfigError(f"{name} normalize_features must be one of {FEATURE_NORMS}, "
                              f"got {p['normalize_features']!r}")
        if p["optimizer"] not in OPTIMIZERS:
            raise ConfigError(f"{name} optimizer must be one of {OPTIMIZERS}, got {p['optimizer']!r}")
        if p["init"] is not None and p["init"] not in INITS:
            raise ConfigError(f"{name} init must be one of {INITS} or None, got {p['init']!r}")
        if p["optimizer"] == "per_sample":
            for key in ("weight_decay", "max_norm"):
                if p[key]:
                    raise ConfigError(f"{name} {key} is not available with optimizer='per_sample' (the papers' "
                                      f"plain SGD); got {key}={p[key]!r}")
        if p["normalize_semantic"] not in SEMANTIC_NORMS:
            raise ConfigError(f"{name} normalize_semantic must be one of {SEMANTIC_NORMS}, "
                              f"got {p['normalize_semantic']!r}")
        try:
            dev = torch.device(p["device"])
        except (RuntimeError, TypeError, ValueError):
            raise ConfigError(f"{name} device must be a torch device string such as 'cpu', "
                              f"got {p['device']!r}") from None
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(f"{name} device {p['device']!r} requested but CUDA is not available")
        if p["optimizer"] == "per_sample" and dev.type != "cpu":
            raise ConfigError(f"{name} optimizer='per_sample' runs on the CPU (numpy); got device {p['device']!r}")

    @property
    def effective_lr(self) -> float:
        """The learning rate in use (``lr`` or the model's default)."""
        return float(self.default_lr if self.lr is None else self.lr)

    @property
    def effective_init(self) -> str:
        """The initialisation in use (``init`` or the optimiser's default)."""
        if self.init is not None:
            return str(self.init)
        return "uniform" if self.optimizer == "per_sample" else "normal"

    @property
    def effective_margin(self) -> float:
        """The margin in use (``margin`` or the model's default)."""
        return float(self.default_margin if self.margin is None else self.margin)

    # ----------------------------------------------------------------- preprocessing
    def _prep_x(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        if self.normalize_features == "l2":
            return X / np.linalg.norm(X, axis=1, keepdims=True).clip(1e-12)
        if self.normalize_features == "std":
            return (X - self.feature_mean_) / self.feature_std_
        return X

    def _prep_s(self, S: np.ndarray) -> np.ndarray:
        S = np.asarray(S, dtype=np.float32)
        if self.normalize_semantic == "l2":
            return S / np.linalg.norm(S, axis=1, keepdims=True).clip(1e-12)
        return S

    # ----------------------------------------------------------------- training
    def _train(self, X: np.ndarray, y: np.ndarray, S: np.ndarray, snapshots: list[int]
               ) -> dict[int, "BilinearRankingModel"]:
        """Train for ``max(snapshots)`` epochs; return a fitted copy at every epoch in ``snapshots``."""
        with torch_threads(None if self.num_threads is None else int(self.num_threads)):
            if self.optimizer == "per_sample":
                return self._train_per_sample(X, y, S, snapshots)
            return self._train_loop(X, y, S, snapshots)

    def _fit_standardisation(self, X: np.ndarray) -> None:
        if self.normalize_features == "std":
            self.feature_mean_ = X.mean(0)
            # dimensions constant on the training set (e.g. dead ReLU units) are left unscaled
            self.feature_std_ = np.where((sd := X.std(0)) > 1e-8, sd, 1.0).astype(np.float32)

    def _snapshot(self, W: np.ndarray, ep: int, history: list[dict[str, Any]], classes: np.ndarray
                  ) -> "BilinearRankingModel":
        m = type(self)(**{**self.get_params(), "epochs": ep})
        m.W_ = np.asarray(W, dtype=np.float32).copy()
        m.history_ = [dict(h) for h in history]
        m.throughput_ = history[-1]["samples_per_s"]
        m.classes_ = classes
        if self.normalize_features == "std":
            m.feature_mean_, m.feature_std_ = self.feature_mean_, self.feature_std_
        return m

    def _train_per_sample(self, X: np.ndarray, y: np.ndarray, S: np.ndarray, snapshots: list[int]
                          ) -> dict[int, "BilinearRankingModel"]:
        """The papers' per-image SGD (module docstring): float64 numpy, one rank-1 step per violation."""
        self._fit_standardisation(X)
        Xd = np.ascontiguousarray(self._prep_x(X), dtype=np.float64)
        classes = np.unique(y)
        Sd = np.ascontiguousarray(self._prep_s(S[classes]), dtype=np.float64)  # (Cs x K)
        yc = np.searchsorted(classes, y)
        n, d = Xd.shape
        k = Sd.shape[1]
        rng = np.random.default_rng(int(self.seed))
        if self.effective_init == "uniform":
            W = rng.random((d, k))
            W /= np.linalg.norm(W, axis=0, keepdims=True).clip(1e-12)
        else:
            W = rng.standard_normal((d, k)) / math.sqrt(d)
        W = np.asfortranarray(W)
        lr, margin = self.effective_lr, self.effective_margin
        rule = type(self).sample_rule
        needs_rng = type(self).rule_draws
        stdz = type(self).standardise_projection
        out: dict[int, BilinearRankingModel] = {}
        history: list[dict[str, Any]] = []
        train_s = 0.0
        bar = progress_bar(range(1, max(snapshots) + 1), desc=type(self).__name__, unit="epoch",
                           disable=not self.verbose, leave=False)
        for ep in bar:
            t0 = time.perf_counter()
            W, tot_loss, violated = per_sample_epoch(W, Xd, yc, Sd, rng.permutation(n), rule, lr, margin,
                                                     rng if needs_rng else None, stdz)
            train_s += time.perf_counter() - t0
            loss = float(tot_loss) / n
            if not (math.isfinite(loss) and all_finite(W)):
                raise ConfigError(f"{type(self).__name__} diverged (loss {loss}) at epoch {ep}: lower lr "
                                  f"(now {self.effective_lr})")
            history.append({"epoch": ep, "loss": loss, "violated": violated / n, "seconds": train_s,
                            "samples_per_s": n * ep / max(train_s, 1e-12)})
            bar.set_postfix(loss=f"{loss:.4f}", samples_s=f"{history[-1]['samples_per_s']:.0f}")
            if ep in snapshots:
                out[ep] = self._snapshot(W, ep, history, classes)
        bar.close()
        return out

    def _train_loop(self, X: np.ndarray, y: np.ndarray, S: np.ndarray, snapshots: list[int]
                    ) -> dict[int, "BilinearRankingModel"]:
        self._fit_standardisation(X)
        dev = torch.device(self.device)
        Xt = torch.from_numpy(np.ascontiguousarray(self._prep_x(X))).to(dev)
        # Train against the seen classes only: columns of the batch score matrix.
        classes = np.unique(y)
        St = torch.from_numpy(np.ascontiguousarray(self._prep_s(S[classes]))).to(dev)  # (Cs x K)
        yt = torch.from_numpy(np.searchsorted(classes, y)).to(dev)
        n, d = Xt.shape
        k, cs = St.shape[1], St.shape[0]
        gen = torch.Generator().manual_seed(int(self.seed))
        if self.effective_init == "uniform":
            W0 = torch.rand(d, k, generator=gen)
            W0 /= torch.linalg.norm(W0, dim=0, keepdim=True).clamp(min=1e-12)
        else:
            W0 = torch.randn(d, k, generator=gen) / math.sqrt(d)
        W = W0.to(dev).requires_grad_(True)
        opt = torch.optim.SGD([W], lr=self.effective_lr, momentum=float(self.momentum),
                              weight_decay=float(self.weight_decay))
        margin, bs = self.effective_margin, int(self.batch_size)
        loss_fn = type(self).loss_fn
        max_ep = max(snapshots)
        out: dict[int, BilinearRankingModel] = {}
        history: list[dict[str, Any]] = []
        train_s = 0.0
        bar = progress_bar(range(1, max_ep + 1), desc=type(self).__name__, unit="epoch", disable=not self.verbose,
                           leave=False)
        # x^T W s_c for a batch in the cheaper association order for its shapes (the batch size matters:
        # on CUB shapes at batch 64 a step with (X W) S^T took 2.3x less time than with X (W S^T), though C < K:
        # benchmarks/results/bilinear_order.txt)
        w_first = w_s_first(min(bs, n), Xt.shape[1], k, cs)
        for ep in bar:
            t0 = time.perf_counter()
            perm = torch.randperm(n, generator=gen).to(dev)
            tot_loss = torch.zeros((), dtype=torch.float64, device=dev)
            violated = torch.zeros((), dtype=torch.float64, device=dev)
            for start in range(0, n, bs):
                idx = perm[start:start + bs]
                scores = Xt[idx] @ (W @ St.T) if w_first else (Xt[idx] @ W) @ St.T
                per = loss_fn(scores, yt[idx], margin=margin, reduction="none")
                opt.zero_grad(set_to_none=True)
                per.mean().backward()
                opt.step()
                with torch.no_grad():
                    if self.max_norm is not None:
                        norm = torch.linalg.norm(W)
                        if norm > self.max_norm:
                            W.mul_(float(self.max_norm) / norm)
                    tot_loss += per.detach().sum()
                    violated += (per.detach() > 0).sum()
            loss = float(tot_loss) / n  # one sync per epoch, not per step
            train_s += time.perf_counter() - t0
            if not math.isfinite(loss):
                raise ConfigError(f"{type(self).__name__} diverged (loss {loss}) at epoch {ep}: lower lr "
                                  f"(now {self.effective_lr}) or set max_norm")
            history.append({"epoch": ep, "loss": loss, "violated": float(violated) / n, "seconds": train_s,
                            "samples_per_s": n * ep / max(train_s, 1e-12)})
            bar.set_postfix(loss=f"{loss:.4f}", samples_s=f"{history[-1]['samples_per_s']:.0f}")
            if ep in snapshots:
                out[ep] = self._snapshot(W.detach().cpu().numpy(), ep, history, classes)
        bar.close()
        return out

    def fit(self, X: np.ndarray, y: np.ndarray, S: np.ndarray) -> "BilinearRankingModel":
        """Learn W (D x K) on images X (N x D) with labels y indexing rows of S (C x K)."""
        self._validate(self.get_params())
        X, y, S = check_fit_inputs(X, y, S)
        fitted = self._train(X, y, S, [int(self.epochs)])[int(self.epochs)]
        self.__dict__.update({k: v for k, v in fitted.__dict__.items() if k.endswith("_")})
        return self

    def fit_grid(self, X: np.ndarray, y: np.ndarray, S: np.ndarray, grid: list[dict[str, Any]]
                 ) -> Iterator[tuple[dict[str, Any], "BilinearRankingModel"]]:
        """Yield ``(params, fitted)`` in grid order; points differing only in ``epochs`` share one run.

        Identical to fitting each point separately (constant lr, same seed -> same trajectory),
        at the cost of ``max(epochs)`` epochs per combination of the other hyperparameters.
        """
        points = [{**self.get_params(), **params} for params in grid]
        for p in points:
            self._validate(p)
        X, y, S = check_fit_inputs(X, y, S)

        def key(p: dict[str, Any]) -> tuple:
            return tuple(sorted((k, repr(v)) for k, v in p.items() if k not in ("epochs", "verbose")))

        runs: dict[tuple, dict[int, BilinearRankingModel]] = {}
        for params, p in zip(grid, points):
            kp = key(p)
            if kp not in runs:
                wanted = sorted({int(q["epochs"]) for q in points if key(q) == kp})
                runs[kp] = type(self)(**p)._train(X, y, S, wanted)
            m = runs[kp][int(p["epochs"])]
            if m.get_params() != p:  # e.g. the point's own verbose flag: return a model with its params
                m = type(self)(**p)
                m.__dict__.update({k: v for k, v in runs[kp][int(p["epochs"])].__dict__.items()
                                   if k.endswith("_")})
            yield params, m

    # ----------------------------------------------------------------- scoring
    def scores(self, X: np.ndarray, S: np.ndarray) -> np.ndarray:
        """(N x C') compatibilities ``x^T W s_c`` of images X (N x D) with classes S (C' x K)."""
        self._check_fitted("W_")
        return (self._prep_x(X) @ self.W_) @ self._prep_s(S).T


class ALE(BilinearRankingModel):
    """Attribute Label Embedding (Akata et al., TPAMI 2016): rank-weighted pairwise hinge, margin 1."""

    loss_fn = staticmethod(ale_loss)
    sample_rule = staticmethod(ale_sampled_violator)
    rule_draws = True
    default_margin = 1.0


class SJE(BilinearRankingModel):
    """Structured Joint Embedding (Akata et al., CVPR 2015): structured SVM hinge, margin 1."""

    loss_fn = staticmethod(sje_loss)
    sample_rule = staticmethod(sje_most_violating)
    standardise_projection = True
    default_margin = 1.0


class DeViSE(BilinearRankingModel):
    """DeViSE (Frome et al., NIPS 2013) on frozen features: hinge rank loss, margin 0.1.

    Its default grid has 10x smaller learning rates than ALE/SJE: without weight decay, training
    with margin m and rate lr follows the same path (up to the scale of the init) as margin 1 and
    rate lr/m, so the 0.1 margin makes every step effectively 10x larger.
    """

    loss_fn = staticmethod(devise_loss)
    sample_rule = staticmethod(devise_first_violator)
    default_margin = 0.1
    default_lr = 0.01
    param_grid: ClassVar[dict[str, list]] = {
        "lr": [0.001, 0.01, 0.1],
        "epochs": [5, 10, 20],
    }
