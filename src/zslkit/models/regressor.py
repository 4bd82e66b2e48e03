r"""Semantic regressor: ReZSL's "BasicNet" on frozen backbone features (Ye et al., TIP 2023).

A network ``f`` maps a visual feature x (D) to a predicted semantic vector
:math:`\hat s = f(x)` (K): a linear map (``hidden=0``) or a one-hidden-layer MLP
(``Linear(D, hidden) -> ReLU -> Dropout -> Linear(hidden, K)``). With the seen-class
semantic matrix :math:`\Phi_s` (Cs x K) and a batch of B images with labels :math:`y_n`:

* classification score :math:`z_{nc} = \tau \cos(\hat s_n, \Phi_s[c])` with ``scale``
  :math:`\tau` (20 in ReZSL), and :math:`\mathcal L_{ce}` the cross-entropy of z over the
  seen classes;
* regression loss :math:`\mathcal L_{reg}` between :math:`\hat s_n` and
  :math:`s_n = \Phi_s[y_n]`: ``loss="mse"`` is the plain MSE of the per-sample
  L2-normalised vectors (ReZSL's RegNorm),
  :math:`\frac{1}{BK}\sum_{n,a} (\bar{\hat s}_{na} - \bar s_{na})^2`;
  ``loss="remse"`` is :class:`zslkit.losses.ReMSELoss` (p, p2, mode), which re-weights the
  same squared errors per (class, attribute) cell;
* total :math:`\mathcal L = w_{ce}\,\mathcal L_{ce} + \lambda_1 \mathcal L_{reg}` with
  ``ce_weight`` :math:`w_{ce}` (1; 0 gives a pure regression model) and ``lambda1``
  (0.25 as in ReZSL).

Scores for any class matrix S (C' x K): :math:`\cos(\hat s_n, S_c)` in [-1, 1] (N x C'),
*unscaled*: the argmax is the same as for the scaled logits, and the GZSL calibration
gamma (chosen on validation classes) is then in cosine units; multiply it by ``scale`` to
compare with a gamma applied to scaled logits.

With ``loss="remse", p=0, p2=0`` every ReMSE weight is exactly 1 and training is bitwise
identical to ``loss="mse"`` (the MSE here is computed with the same operations as ReMSE).

Defaults (*choices*): SGD with momentum 0.9 and weight decay 1e-5 as in ReZSL, but lr 0.03
(ReZSL's 5e-4 is for fine-tuning a whole ResNet on images, not for a head on frozen
features), 30 epochs, batch 256, step decay x0.1 after 20 epochs, features L2-normalised
per image and rescaled by ``sqrt(D)`` (entries O(1) whatever D is, so one lr fits all
datasets). Measured on surrogate data (synthetic features, not a benchmark): Adam fits the
seen classes as well but generalises clearly worse to unseen ones (e.g. ZSL T1 50 vs 85
on surrogate AWA2), and the MLP (``hidden>0``) overfits the seen classes there. A linear
head on surrogate AWA2 (23.5k x 2048) trains in well under a minute on 2 CPU cores.

For a pure regression model (``ce_weight=0``) prefer ``optimizer="adam"``: the RegNorm'ed
MSE of K-dim unit vectors is O(1/K) with gradients to match, far too small for the SGD
learning rate that suits the cross-entropy.

Training on CPU is deterministic for a given ``seed`` (torch's global RNG is forked, so
the caller's random state is untouched). The helpers prefixed ``_`` at the bottom of this
module (parameter checks, seeded RNG scope, progress bar) are shared with
:mod:`zslkit.models.clswgan`.
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import Any, ClassVar, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from zslkit.errors import ConfigError, ZSLDataError
from zslkit.losses.remse import ReMSELoss, regnorm
from zslkit.models.base import ZSLModel, check_fit_inputs

__all__ = ["SemanticRegressor"]

LOSSES = ("mse", "remse")
OPTIMIZERS = ("adam", "sgd")
FEATURE_NORMS = ("l2", "standard", "none")


class SemanticRegressor(ZSLModel):
    """Visual -> semantic regressor with cosine classification (ReZSL BasicNet on features).

    Args:
        hidden: 0 for a linear map D -> K, else the width of one hidden ReLU layer.
        dropout: dropout rate after the hidden layer (ignored when ``hidden=0``), in [0, 1).
        loss: regression loss, "mse" (RegNorm'ed MSE) or "remse" (ReZSL's ReMSE).
        lambda1: weight of the regression loss (0.25 as in ReZSL).
        ce_weight: weight of the cosine cross-entropy over seen classes (0 = pure regression).
        scale: temperature tau of the training logits tau * cos(s_hat, s_c) (20 as in ReZSL).
        p, p2: ReMSE exponents (intra- / inter-semantic); only for ``loss="remse"``.
        remse_mode: ReMSE statistics mode, "in_batch" (official) or "cross_batch".
        optimizer: "sgd" (momentum ``momentum``, as ReZSL) or "adam".
        lr: initial learning rate (> 0).
        momentum: SGD momentum in [0, 1) (0.9 as in ReZSL).
        weight_decay: L2 weight decay (>= 0; 1e-5 as in ReZSL).
        epochs: passes over the training images (>= 1).
        batch_size: images per step (>= 1).
        lr_step: multiply the lr by ``lr_gamma`` every ``lr_step`` epochs (0 = constant lr).
        lr_gamma: step-decay factor in (0, 1].
        feature_norm: "l2" (per image, times sqrt(D)), "standard" (per dimension, statistics
            of the training images) or "none".
        seed: seed of initialisation, shuffling and dropout.
        verbose: show a progress bar over epochs (loss, samples/s).
        device: "cpu" (default), "cuda", "cuda:K" or "auto" (CUDA when there is one) to train on;
            initialisation and shuffling draw from CPU generators, so a seed gives the same start and
            batches on any device; the fitted network is moved back to the CPU for scoring.

    Attributes (after ``fit``):
        net_: the torch module (D -> K), in eval mode.
        history_: one dict per epoch: ``epoch``, ``loss``, ``ce``, ``reg`` (mean over steps,
            unweighted components), ``lr``, ``seconds``.
        throughput_: training images per second over the whole fit.
        seen_classes_: (Cs,) ids (rows of the fit-time S) of the classes trained on.
    """

    #: 6 fits; on AWA2-sized data the 3 linear ones take seconds, the MLP ones about a minute each
    param_grid: ClassVar[dict[str, list]] = {"lr": [0.01, 0.03, 0.1], "hidden": [0, 512]}
    iterative: ClassVar[bool] = True

    def __init__(self, hidden: int = 0, dropout: float = 0.0, loss: str = "mse", lambda1: float = 0.25,
                 ce_weight: float = 1.0, scale: float = 20.0, p: float = 0.1, p2: float = 0.75,
                 remse_mode: str = "in_batch", optimizer: str = "sgd", lr: float = 0.03, momentum: float = 0.9,
                 weight_decay: float = 1e-5, epochs: int = 30, batch_size: int = 256, lr_step: int = 20,
                 lr_gamma: float = 0.1, feature_norm: str = "l2", seed: int = 0, verbose: bool = False,
                 device: str = "cpu"):
        self.hidden = hidden
        self.dropout = dropout
        self.loss = loss
        self.lambda1 = lambda1
        self.ce_weight = ce_weight
        self.scale = scale
        self.p = p
        self.p2 = p2
        self.remse_mode = remse_mode
        self.optimizer = optimizer
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr_step = lr_step
        self.lr_gamma = lr_gamma
        self.feature_norm = feature_norm
        self.seed = seed
        self.verbose = verbose
        self.device = device
        self._validate()  # fail at construction (e.g. from a config file), not after loading data

    # -- validation ---------------------------------------------------------------------

    def _validate(self) -> None:
        """Raise :class:`ConfigError` naming the first bad hyperparameter."""
        _check_int("hidden", self.hidden, minimum=0)
        _check_float("dropout", self.dropout, low=0.0, high=1.0, high_open=True)
        _check_choice("loss", self.loss, LOSSES)
        _check_float("lambda1", self.lambda1, low=0.0)
        _check_float("ce_weight", self.ce_weight, low=0.0)
        if float(self.lambda1) == 0.0 and float(self.ce_weight) == 0.0:
            raise ConfigError("lambda1 and ce_weight are both 0: the model would have no loss to train on")
        _check_float("scale", self.scale, low=0.0, low_open=True)
        _check_float("p", self.p, low=0.0)
        _check_float("p2", self.p2, low=0.0)
        _check_choice("remse_mode", self.remse_mode, ("in_batch", "cross_batch"))
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_float("lr", self.lr, low=0.0, low_open=True)
        _check_float("momentum", self.momentum, low=0.0, high=1.0, high_open=True)
        _check_float("weight_decay", self.weight_decay, low=0.0)
        _check_int("epochs", self.epochs, minimum=1)
        _check_int("batch_size", self.batch_size, minimum=1)
        _check_int("lr_step", self.lr_step, minimum=0)
        _check_float("lr_gamma", self.lr_gamma, low=0.0, high=1.0, low_open=True)
        _check_choice("feature_norm", self.feature_norm, FEATURE_NORMS)
        _check_int("seed", self.seed, minimum=0)
        torch_device(self.device)

    # -- pieces -------------------------------------------------------------------------

    def _build_net(self, d: int, k: int) -> nn.Module:
        if self.hidden == 0:
            return nn.Linear(d, k)
        return nn.Sequential(nn.Linear(d, int(self.hidden)), nn.ReLU(), nn.Dropout(float(self.dropout)),
                             nn.Linear(int(self.hidden), k))

    def _fit_feature_norm(self, X: np.ndarray) -> None:
        if self.feature_norm == "standard":
            self.feat_mean_ = X.mean(axis=0)
            # Constant dimensions (e.g. dead ReLU units) would divide by 0; leave them unscaled.
            std = X.std(axis=0)
            self.feat_std_ = np.where(std > 1e-8, std, 1.0).astype(np.float32)

    def _prep(self, X: np.ndarray) -> torch.Tensor:
        X = np.asarray(X, dtype=np.float32)
        if self.feature_norm == "l2":
            # sqrt(D) keeps entries O(1) so that the default lr does not depend on D.
            X = X * (math.sqrt(X.shape[1]) / np.linalg.norm(X, axis=1, keepdims=True).clip(1e-12))
        elif self.feature_norm == "standard":
            X = (X - self.feat_mean_) / self.feat_std_
        return torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))

    def _make_optimizer(self, params) -> torch.optim.Optimizer:
        if self.optimizer == "adam":
            return torch.optim.Adam(params, lr=float(self.lr), weight_decay=float(self.weight_decay))
        return torch.optim.SGD(params, lr=float(self.lr), momentum=float(self.momentum),
                               weight_decay=float(self.weight_decay))

    def _regression_loss(self, criterion, pred: torch.Tensor, target: torch.Tensor, labels: torch.Tensor):
        if criterion is not None:
            return criterion(pred, target, labels)
        # Same operations as ReMSE's (RegNorm, then squared difference, then mean), so that
        # ReMSE with p = p2 = 0 (weights exactly 1) reproduces this loss and its gradients bit for bit.
        return ((regnorm(pred) - regnorm(target)) ** 2).mean()

    # -- estimator API ------------------------------------------------------------------

    def fit(self, X: np.ndarray, y: np.ndarray, S: np.ndarray) -> "SemanticRegressor":
        """Train on X (N x D) with labels y (N,) indexing rows of S (C x K).

        Only the classes present in y (the seen classes) enter the cross-entropy and ReMSE;
        other rows of S are ignored.
        """
        self._validate()
        X, y, S = check_fit_inputs(X, y, S)
        classes = np.unique(y)
        local = np.searchsorted(classes, y)  # labels 0..Cs-1 for the seen classes
        self.seen_classes_ = classes
        self._fit_feature_norm(X)
        dev = torch_device(self.device)
        Xt = self._prep(X).to(dev)
        yt = torch.from_numpy(local.astype(np.int64)).to(dev)
        Ss = torch.from_numpy(np.ascontiguousarray(S[classes])).to(dev)
        n, d = Xt.shape
        k = Ss.shape[1]
        self.n_features_in_, self.n_semantic_ = d, k
        Ss_unit = F.normalize(Ss, dim=1)  # for the cosine logits; constant during training

        criterion = None
        if self.loss == "remse":
            criterion = ReMSELoss(int(classes.size), p=float(self.p), p2=float(self.p2), mode=self.remse_mode,
                                  normalize=True)
        use_ce = float(self.ce_weight) > 0.0
        use_reg = float(self.lambda1) > 0.0

        self.history_: list[dict[str, Any]] = []
        with _seeded(int(self.seed)) as gen:
            if dev.type == "cuda":
                torch.cuda.manual_seed(int(self.seed))  # dropout draws from the device's generator
            net = self._build_net(d, k).to(dev)  # initialised on the CPU generator: the same on any device
            opt = self._make_optimizer(net.parameters())
            sched = (torch.optim.lr_scheduler.StepLR(opt, step_size=int(self.lr_step), gamma=float(self.lr_gamma))
                     if int(self.lr_step) > 0 else None)
            bs = int(self.batch_size)
            t_start = time.perf_counter()
            bar = _progress(range(int(self.epochs)), self.verbose, "regressor")
            for epoch in bar:
                t0 = time.perf_counter()
                net.train()
                perm = torch.randperm(n, generator=gen).to(dev)
                tot = ce_sum = reg_sum = 0.0
                steps = 0
                lr_now = opt.param_groups[0]["lr"]
                for start in range(0, n, bs):
                    idx = perm[start:start + bs]
                    xb, yb = Xt[idx], yt[idx]
                    pred = net(xb)  # (B x K) predicted semantics
                    loss = pred.new_zeros(())
                    ce = reg = None
                    if use_ce:
                        logits = float(self.scale) * F.normalize(pred, dim=1) @ Ss_unit.T  # (B x Cs)
                        ce = F.cross_entropy(logits, yb)
                        loss = loss + float(self.ce_weight) * ce
                    if use_reg:
                        reg = self._regression_loss(criterion, pred, Ss[yb], yb)
                        loss = loss + float(self.lambda1) * reg
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    tot += loss.item()
                    ce_sum += ce.item() if ce is not None else 0.0
                    reg_sum += reg.item() if reg is not None else 0.0
                    steps += 1
                if sched is not None:
                    sched.step()
                dt = time.perf_counter() - t0
                rec = {"epoch": epoch + 1, "loss": tot / steps, "ce": ce_sum / steps if use_ce else None,
                       "reg": reg_sum / steps if use_reg else None, "lr": lr_now, "seconds": dt}
                if not math.isfinite(rec["loss"]):
                    raise ZSLDataError(f"SemanticRegressor diverged at epoch {epoch + 1} (loss {rec['loss']}); "
                                       f"lower lr (now {self.lr})")
                self.history_.append(rec)
                if self.verbose:
                    bar.set_postfix(loss=f"{rec['loss']:.4f}", samples_s=f"{n / max(dt, 1e-9):.0f}")
            elapsed = time.perf_counter() - t_start
        net.eval()
        self.net_ = net.cpu()  # a fitted model scores on the CPU (and pickles/saves without a GPU)
        self.throughput_ = n * int(self.epochs) / max(elapsed, 1e-9)
        self.fit_seconds_ = elapsed
        return self

    def predict_semantics(self, X: np.ndarray, normalize: bool = False, batch_size: int = 8192) -> np.ndarray:
        """Predicted semantic vectors s_hat (N x K) for features X (N x D).

        ``normalize=True`` returns them L2-normalised per row (RegNorm), the space in which
        the regression loss and the per-attribute error analysis of ReZSL are measured.
        """
        self._check_fitted("net_")
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ZSLDataError(f"X must have shape (N, {self.n_features_in_}) like the training features, "
                               f"got {X.shape}")
        out = []
        with torch.no_grad():
            for start in range(0, X.shape[0], batch_size):
                s = self.net_(self._prep(X[start:start + batch_size]))
                if normalize:
                    s = regnorm(s)
                out.append(s)
        return torch.cat(out).numpy() if out else np.zeros((0, self.n_semantic_), dtype=np.float32)

    def scores(self, X: np.ndarray, S: np.ndarray) -> np.ndarray:
        """Cosine similarity (N x C') of each predicted s_hat with each row of S (C' x K)."""
        s_hat = self.predict_semantics(X)
        S = np.asarray(S, dtype=np.float32)
        if S.ndim != 2 or S.shape[1] != s_hat.shape[1]:
            raise ZSLDataError(f"S must have shape (C, {s_hat.shape[1]}), got {S.shape}")
        a = F.normalize(torch.from_numpy(s_hat), dim=1)
        b = F.normalize(torch.from_numpy(np.ascontiguousarray(S)), dim=1)
        return (a @ b.T).numpy()


# --------------------------------------------------------------------------------------
# helpers shared with zslkit.models.clswgan
# --------------------------------------------------------------------------------------


def _is_real(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))


def _check_float(name: str, value: Any, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False) -> float:
    """Check a real hyperparameter lies in the interval; raise ConfigError naming it."""
    if not _is_real(value) or not math.isfinite(float(value)):
        raise ConfigError(f"{name} must be a finite real number, got {value!r}")
    v = float(value)
    bad_low = low is not None and (v <= low if low_open else v < low)
    bad_high = high is not None and (v >= high if high_open else v > high)
    if bad_low or bad_high:
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        interval = f"{'(' if low_open or low is None else '['}{lo}, {hi}{')' if high_open or high is None else ']'}"
        raise ConfigError(f"{name} must be in {interval}, got {value!r}")
    return v


def _check_int(name: str, value: Any, minimum: int | None = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(f"unknown {name} {value!r}; choose one of {list(choices)}")
    return value


def torch_device(device: Any) -> torch.device:
    """``"cpu"``, ``"cuda"``, ``"cuda:K"`` or ``"auto"`` (CUDA when there is one) as a torch device;
    :class:`ConfigError` for anything else or a CUDA device that is absent."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"device must be 'cpu', 'cuda', 'cuda:K' or 'auto', got {device!r}") from None
    if dev.type == "cuda" and (not torch.cuda.is_available() or (dev.index or 0) >= torch.cuda.device_count()):
        raise ConfigError(f"device {device!r} was asked for, but no such CUDA device is available "
                          f"(torch.cuda.is_available() is {torch.cuda.is_available()}); use device='cpu' or 'auto'")
    if dev.type not in ("cpu", "cuda"):
        raise ConfigError(f"device must be 'cpu', 'cuda', 'cuda:K' or 'auto', got {device!r}")
    return dev


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[torch.Generator]:
    """Scope in which torch's global CPU RNG is seeded with ``seed`` and restored afterwards.

    Module initialisation and dropout use the global RNG; forking it makes a fit
    reproducible without disturbing the caller's random state. Also yields a dedicated
    generator (seeded from ``seed``) for data shuffling and noise.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed + 1)
        yield gen


def _progress(iterable, verbose: bool, desc: str, unit: str = "epoch"):
    """A progress reporter over ``iterable`` when verbose (:func:`zslkit.utils.progress.progress_bar`), else a
    silent stand-in with the same API."""
    if not verbose:
        return _Quiet(iterable)
    from zslkit.utils.progress import progress_bar

    return progress_bar(iterable, desc=desc, unit=unit, leave=False)


class _Quiet:
    """Stand-in for a progress bar when not verbose."""

    def __init__(self, iterable):
        self._it = iterable

    def __iter__(self):
        return iter(self._it)

    def set_postfix(self, *args, **kwargs) -> None:
        pass
