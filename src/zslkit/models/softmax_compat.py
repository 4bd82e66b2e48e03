"""Softmax compatibility classifier: the model VGSE's evaluation script calls "SJE".

The VGSE paper (Xu et al., CVPR 2022) reports its downstream "SJE" column with the script in
``SJE/`` of its public repository (wenjiaXu/VGSE). That script does not train Akata et al.'s SJE
(:class:`zslkit.models.bilinear.SJE`, a structured hinge); it trains a linear compatibility
followed by a softmax over classes, with cross-entropy, Adam and min-max scaled features.
zslkit names it after what it computes. To reproduce the VGSE paper's "SJE" numbers, use this
model (``configs/vgse_*.yaml`` carry the authors' per-dataset settings); to run SJE, use ``sje``.

Model (shapes: X (N x D) features, S (C x K) class semantics, one row per class)::

    h(x)    = x A^T + b                     A: (K x D), b: (K,)  (a torch Linear(D -> K) with bias)
    z_c(x)  = h(x) . s_c                    compatibility with class c
    p(c|x)  = softmax_c z_c(x)              over the classes scored (the seen classes in training)

``scores(X, S)`` returns p (N x C'): the softmax over the C' classes passed, as the authors' script
scores test images (ZSL: over the unseen classes; GZSL: over all classes, then a fixed lambda is
subtracted from the seen-class probabilities, which zslkit's calibrated stacking does with the
gamma chosen on validation classes).

Training, as the authors' script does it:

* loss: ``CrossEntropyLoss`` applied to the softmax *outputs* p, i.e. ``-log softmax(p)[y]``
  (a softmax of probabilities; ``double_softmax=True``, the default). ``double_softmax=False``
  is the ordinary cross-entropy on the logits z.
* ``weight_norm_reg``: their AWA2/AWA1/FLO variant (``classifier2.py``) adds
  ``0.001 * ||A||_F`` (the Frobenius norm itself, not squared) to every batch loss of its ZSL
  training (``fit_zsl``); its GZSL training (``fit``) and every CUB/SUN run have no such term.
* Adam with ``betas=(beta1, 0.999)``, beta1 = 0.5; batches of 64; ``ceil(N / 64)`` steps per
  epoch drawn from a continuous stream of shuffled passes (the last, partial batch of a pass is
  completed with the first images of the next, as their ``next_batch`` does).
* init: A ~ N(0, 0.02^2), b = 0.
* features (``feature_scaling="minmax"``): each dimension min-max scaled with the training
  images' min and max (sklearn ``MinMaxScaler``, a constant dimension maps to 0), then divided by
  the largest scaled training value (1 unless every dimension is constant); test features use
  the same statistics. Class semantics are used as given (``normalize_semantic="none"``).

Deviations (docs/PARITY.md): the authors keep the epoch with the best *test* accuracy (ZSL T1 or
GZSL H, measured every epoch); zslkit chooses ``epochs`` on validation classes (``param_grid``;
one training run serves every epoch value, :meth:`fit_grid`) and never looks at test data. The
authors use two learning rates per dataset, one for the ZSL and one for the GZSL run; one zslkit
run gives both numbers, so the configs run the model twice (one entry per learning rate).
"""

from __future__ import annotations

import math
import numbers
import time
from typing import Any, Callable, ClassVar, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from zslkit.utils.progress import progress_bar

from zslkit.errors import ConfigError
from zslkit.models.base import ZSLModel, check_fit_inputs
from zslkit.utils.threads import torch_threads

FEATURE_SCALINGS = ("minmax", "none")
SEMANTIC_NORMS = ("none", "l2")


class SoftmaxCompat(ZSLModel):
    """VGSE paper's evaluation model (called SJE in their script); see the module docstring.

    Args:
        lr: Adam learning rate (> 0). The authors': AWA2 1e-5 (ZSL) / 2e-4 (GZSL), CUB 1e-3 / 1e-4,
            SUN 1e-3 / 5e-4.
        epochs: passes over the training images (>= 1). The authors train AWA2 200, CUB/SUN 100 epochs
            and keep the best epoch on test; zslkit searches ``epochs`` on validation classes.
        batch_size: images per Adam step (64).
        beta1, beta2: Adam's betas (0.5, 0.999).
        weight_norm_reg: weight of ``||A||_F`` added to the loss (their AWA2 ZSL run: 0.001; else 0).
        double_softmax: cross-entropy on the softmax outputs (True, the authors') or on the logits.
        feature_scaling: "minmax" (the authors') or "none".
        normalize_semantic: "none" (the authors') or "l2" (each class vector L2-normalised).
        seed: seeds the init and the shuffling (torch.Generator; deterministic on CPU).
        device: torch device; num_threads: torch CPU threads while fitting (None keeps torch's).
        verbose: progress bar over epochs.

    Attributes after fit:
        A_ (K x D) float32, b_ (K,) float32, feature_min_ / feature_scale_ (D,) and feature_max_
        (the scaling statistics), history_ (per epoch: loss, seconds, samples_per_s), throughput_.
    """

    iterative: ClassVar[bool] = True
    #: epochs on validation classes; lr is a per-dataset setting (configs/vgse_*.yaml)
    param_grid: ClassVar[dict[str, list]] = {"epochs": [10, 25, 50, 100]}

    def __init__(self, lr: float = 1e-3, epochs: int = 100, batch_size: int = 64, beta1: float = 0.5,
                 beta2: float = 0.999, weight_norm_reg: float = 0.0, double_softmax: bool = True,
                 feature_scaling: str = "minmax", normalize_semantic: str = "none", seed: int = 0,
                 device: str = "cpu", num_threads: int | None = 1, verbose: bool = False):
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.beta1 = beta1
        self.beta2 = beta2
        self.weight_norm_reg = weight_norm_reg
        self.double_softmax = double_softmax
        self.feature_scaling = feature_scaling
        self.normalize_semantic = normalize_semantic
        self.seed = seed
        self.device = device
        self.num_threads = num_threads
        self.verbose = verbose

    # ----------------------------------------------------------------- validation
    @staticmethod
    def _validate(p: dict[str, Any]) -> None:
        def number(key: str, ok: Callable[[float], bool], what: str) -> None:
            v = p[key]
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(float(v)) \
                    or not ok(float(v)):
                raise ConfigError(f"SoftmaxCompat {key} must be {what}, got {v!r}")

        def integer(key: str, minimum: int) -> None:
            v = p[key]
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or int(v) < minimum:
                raise ConfigError(f"SoftmaxCompat {key} must be an integer >= {minimum}, got {v!r}")

        number("lr", lambda v: v > 0, "a positive number")
        integer("epochs", 1)
        integer("batch_size", 1)
        number("beta1", lambda v: 0 <= v < 1, "in [0, 1)")
        number("beta2", lambda v: 0 <= v < 1, "in [0, 1)")
        number("weight_norm_reg", lambda v: v >= 0, "a number >= 0")
        integer("seed", 0)
        if p["num_threads"] is not None:
            integer("num_threads", 1)
        if not isinstance(p["double_softmax"], (bool, np.bool_)):
            raise ConfigError(f"SoftmaxCompat double_softmax must be true or false, got {p['double_softmax']!r}")
        if p["feature_scaling"] not in FEATURE_SCALINGS:
            raise ConfigError(f"SoftmaxCompat feature_scaling must be one of {FEATURE_SCALINGS}, "
                              f"got {p['feature_scaling']!r}")
        if p["normalize_semantic"] not in SEMANTIC_NORMS:
            raise ConfigError(f"SoftmaxCompat normalize_semantic must be one of {SEMANTIC_NORMS}, "
                              f"got {p['normalize_semantic']!r}")
        try:
            dev = torch.device(p["device"])
        except (RuntimeError, TypeError, ValueError):
            raise ConfigError(f"SoftmaxCompat device must be a torch device string such as 'cpu', "
                              f"got {p['device']!r}") from None
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(f"SoftmaxCompat device {p['device']!r} requested but CUDA is not available")

    # ----------------------------------------------------------------- preprocessing
    def _fit_scaling(self, X: np.ndarray) -> None:
        if self.feature_scaling == "minmax":
            lo, hi = X.min(0), X.max(0)
            rng = hi - lo
            # sklearn's MinMaxScaler: a constant dimension gets scale 1 (it maps to 0)
            self.feature_min_ = lo.astype(np.float32)
            self.feature_scale_ = np.where(rng > 0, rng, 1.0).astype(np.float32)
            top = float(((X - lo) / self.feature_scale_).max())
            # the authors divide by the largest scaled training value (``train_feature.max()``)
            self.feature_max_ = top if top > 0 else 1.0

    def _prep_x(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        if self.feature_scaling == "minmax":
            return ((X - self.feature_min_) / self.feature_scale_ / np.float32(self.feature_max_)).astype(np.float32)
        return X

    def _prep_s(self, S: np.ndarray) -> np.ndarray:
        S = np.asarray(S, dtype=np.float32)
        if self.normalize_semantic == "l2":
            return S / np.linalg.norm(S, axis=1, keepdims=True).clip(1e-12)
        return S

    # ----------------------------------------------------------------- training
    def _train(self, X: np.ndarray, y: np.ndarray, S: np.ndarray, snapshots: list[int]
               ) -> dict[int, "SoftmaxCompat"]:
        with torch_threads(None if self.num_threads is None else int(self.num_threads)):
            return self._train_loop(X, y, S, snapshots)

    def _train_loop(self, X: np.ndarray, y: np.ndarray, S: np.ndarray, snapshots: list[int]
                    ) -> dict[int, "SoftmaxCompat"]:
        self._fit_scaling(X)
        dev = torch.device(self.device)
        Xt = torch.from_numpy(np.ascontiguousarray(self._prep_x(X))).to(dev)
        classes = np.unique(y)
        St = torch.from_numpy(np.ascontiguousarray(self._prep_s(S[classes]))).to(dev)  # (Cs x K) seen classes
        yt = torch.from_numpy(np.searchsorted(classes, y)).to(dev)
        n, d = Xt.shape
        k = St.shape[1]
        gen = torch.Generator().manual_seed(int(self.seed))
        A = (torch.randn(k, d, generator=gen) * 0.02).to(dev).requires_grad_(True)
        b = torch.zeros(k, device=dev, requires_grad=True)
        opt = torch.optim.Adam([A, b], lr=float(self.lr), betas=(float(self.beta1), float(self.beta2)))
        bs = int(self.batch_size)
        steps_per_epoch = math.ceil(n / bs)
        reg = float(self.weight_norm_reg)
        # the authors' batch stream: shuffled passes back to back, batches of exactly bs across pass ends
        stream = torch.randperm(n, generator=gen)
        pos = 0
        out: dict[int, SoftmaxCompat] = {}
        history: list[dict[str, Any]] = []
        train_s = 0.0
        bar = progress_bar(range(1, max(snapshots) + 1), desc="SoftmaxCompat", unit="epoch",
                           disable=not self.verbose, leave=False)
        for ep in bar:
            t0 = time.perf_counter()
            tot = torch.zeros((), dtype=torch.float64, device=dev)
            for _ in range(steps_per_epoch):
                if pos + bs <= n:
                    idx = stream[pos:pos + bs]
                    pos += bs
                else:
                    rest = stream[pos:]
                    stream = torch.randperm(n, generator=gen)
                    pos = bs - rest.numel()
                    idx = torch.cat([rest, stream[:pos]])
                idx = idx.to(dev)
                z = (Xt[idx] @ A.T + b) @ St.T  # (B x Cs) compatibilities
                out_ = torch.softmax(z, dim=1) if self.double_softmax else z
                loss = F.cross_entropy(out_, yt[idx])
                if reg:
                    loss = loss + reg * torch.linalg.norm(A)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                tot += loss.detach()
            mean_loss = float(tot) / steps_per_epoch  # one sync per epoch
            train_s += time.perf_counter() - t0
            if not math.isfinite(mean_loss):
                raise ConfigError(f"SoftmaxCompat diverged (loss {mean_loss}) at epoch {ep}: lower lr (now {self.lr})")
            history.append({"epoch": ep, "loss": mean_loss, "seconds": train_s,
                            "samples_per_s": steps_per_epoch * bs * ep / max(train_s, 1e-12)})
            bar.set_postfix(loss=f"{mean_loss:.4f}")
            if ep in snapshots:
                m = SoftmaxCompat(**{**self.get_params(), "epochs": ep})
                m.A_ = A.detach().cpu().numpy().astype(np.float32, copy=True)
                m.b_ = b.detach().cpu().numpy().astype(np.float32, copy=True)
                m.history_ = [dict(h) for h in history]
                m.throughput_ = history[-1]["samples_per_s"]
                m.classes_ = classes
                if self.feature_scaling == "minmax":
                    m.feature_min_, m.feature_scale_, m.feature_max_ = (self.feature_min_, self.feature_scale_,
                                                                        self.feature_max_)
                out[ep] = m
        bar.close()
        return out

    def fit(self, X: np.ndarray, y: np.ndarray, S: np.ndarray) -> "SoftmaxCompat":
        """Train on images X (N x D) with labels y indexing rows of S (C x K), seen classes only."""
        self._validate(self.get_params())
        X, y, S = check_fit_inputs(X, y, S)
        fitted = self._train(X, y, S, [int(self.epochs)])[int(self.epochs)]
        self.__dict__.update({k: v for k, v in fitted.__dict__.items() if k.endswith("_")})
        return self

    def fit_grid(self, X: np.ndarray, y: np.ndarray, S: np.ndarray, grid: list[dict[str, Any]]
                 ) -> Iterator[tuple[dict[str, Any], "SoftmaxCompat"]]:
        """Points differing only in ``epochs`` share one run (snapshots; identical to separate fits)."""
        points = [{**self.get_params(), **params} for params in grid]
        for p in points:
            self._validate(p)
        X, y, S = check_fit_inputs(X, y, S)

        def key(p: dict[str, Any]) -> tuple:
            return tuple(sorted((k, repr(v)) for k, v in p.items() if k not in ("epochs", "verbose")))

        runs: dict[tuple, dict[int, SoftmaxCompat]] = {}
        for params, p in zip(grid, points):
            kp = key(p)
            if kp not in runs:
                wanted = sorted({int(q["epochs"]) for q in points if key(q) == kp})
                runs[kp] = SoftmaxCompat(**p)._train(X, y, S, wanted)
            src = runs[kp][int(p["epochs"])]
            m = SoftmaxCompat(**p)
            m.__dict__.update({k: v for k, v in src.__dict__.items() if k.endswith("_")})
            yield params, m

    # ----------------------------------------------------------------- scoring
    def scores(self, X: np.ndarray, S: np.ndarray) -> np.ndarray:
        """(N x C') softmax over the C' classes of S of ``(x A^T + b) . s_c`` (see module docstring)."""
        self._check_fitted("A_")
        z = (self._prep_x(X) @ self.A_.T + self.b_) @ self._prep_s(S).T
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)
