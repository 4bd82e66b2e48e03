r"""ABP: a feature-to-feature translator learnt by alternating back-propagation (Zhu et al., ICCV 2019).

"Learning Feature-to-Feature Translator by Alternating Back-Propagation for Generative Zero-Shot
Learning" (Yizhe Zhu, Jianwen Xie, Bingchen Liu, Ahmed Elgammal). A conditional generator
translates a class semantic vector and a per-image latent code into a visual feature; it is
learnt by maximum likelihood, with the latent codes of the training images *inferred* (no
encoder, no discriminator). Unseen classes then get synthetic features and ordinary
classifiers do the rest. zslkit follows the authors' public code (EthanZhu90/ZSL_ABP,
``train_ABP.py`` and ``classifier.py``, commit 9d697a6); ``docs/PARITY.md`` (section ABP)
says how it was checked and what differs.

Model (features x: D, class semantics a: K, latent code z: Z = ``latent_dim``, 10):

* translator :math:`G(a, z)`: ``Linear(K+Z, h) -> LeakyReLU(0.2) -> Linear(h, D) -> ReLU`` on
  the concatenation ``[a, z]`` (attributes first, as the authors' call ``netG(Z, C)`` ends up
  concatenating), h = 4096 in the paper; weights :math:`\mathcal N(0, 0.02^2)`, biases 0;
* :math:`x = G(a, z) + \epsilon`, :math:`\epsilon \sim \mathcal N(0, \sigma^2 I_D)`,
  :math:`z \sim \mathcal N(0, I_Z)`, so for a batch of B images (the authors' ``getloss``)

  .. math:: L(\theta, Z) = \frac1B \sum_{n=1}^B \Big[\frac{1}{2\sigma^2}\|x_n - G(a_{y_n}, z_n)\|^2
            + \tfrac12 \|z_n\|^2\Big] = -\frac1B \sum_n \log p(x_n, z_n \mid a_{y_n}; \theta) + c.

Every training image n keeps its own latent code :math:`z_n` (N x Z, initialised
:math:`\mathcal N(0, 1)`) across the whole training. One training iteration takes a batch of B
images and runs the authors' schedule, 2 rounds of

1. **learning back-propagation**: one Adam step on :math:`\theta` (lr 2e-4, weight decay 1e-3,
   betas (0.9, 0.999)) for L, gradient norm clipped to 1;
2. **inferential back-propagation**: ``langevin_steps`` (5) updates of the batch's codes,

then writes the codes back. How the codes move in step 2 is ``inference``:

* ``"released"`` (default): what the released ``train_ABP.py`` computes. Its latent tensor never
  requires a gradient, so its Adam optimiser over z never moves it: each step only adds
  ``langevin_s`` x :math:`U`, :math:`U\sim\mathcal N(0, I)`, during the first third of the
  iterations (``it < niter / 3``), and the codes are frozen afterwards. Its inference passes
  still back-propagate :math:`s \cdot L` into :math:`\theta`'s gradients, which nothing zeroes
  before the next learning step, so each learning step uses its own gradient plus
  :math:`s \sum` (the 5 preceding inference passes' gradients), the first round's from the
  previous batch. Both are reproduced exactly (checked side by side, see PARITY).
* ``"adam"``: the released loop with the codes requiring a gradient (what its code evidently
  intends): a fresh Adam(lr, weight decay) over the batch's codes each iteration, steps on
  :math:`s\cdot L` (the code's ``langevin_s*2/2``) with the batch's z-gradient norm clipped to 1,
  then the noise :math:`s U` in the first third of the iterations; gradients accumulate as in
  the released loop (the learning step's backward also feeds the first inference step's z).
* ``"langevin"``: the paper's Langevin dynamics on the posterior of each code,

  .. math:: z_{\tau+1} = z_\tau + \frac{s^2}{2}\,\nabla_z \log p(z_\tau \mid x, a; \theta) + s\,U_\tau,
            \quad \nabla_z \log p = \frac{1}{\sigma^2} J_G^\top (x - G(a, z)) - z,

  per image (not divided by B), noise at every step, and no gradient into :math:`\theta`.

Length: ``steps`` iterations, or ``epochs`` x int(N / B) + 1 iterations (the authors' count:
their loop runs ``range(niter + 1)``); "the first third" is ``it < (steps - 1) / 3``. Batches
are the authors' ``FeatDataLayer``: consecutive slices of a random permutation, a new one drawn
when the next slice would reach its end (so each permutation gives the slices that end before
N; the remainder is skipped).

Features are min-max scaled per dimension with the training images' statistics, then divided
by the largest scaled training value (the authors' ``MinMaxScaler`` + ``mul_(1 / mx)``; the
divisor is 1 unless every dimension is constant); the same map is applied to the images passed
to :meth:`ABP.scores`. Class semantic rows are used as given (the authors do not normalise;
xlsa17's ``att`` is L2-normalised already); ``normalize_semantic=True`` L2-normalises them.

**Classifiers** (``scores(X, S)``, as the authors evaluate): synthetic features
:math:`G(a_c, z)`, :math:`z\sim\mathcal N(0, I)`, ``n_synth`` per row of S that is not a seen
class (the authors' ``nSample``: 1500 AWA, 300 CUB/SUN), then

* S with no seen-class row (ZSL): the authors' ``eval_zsl_knn``, a ``knn``-nearest-neighbour
  vote (K = 20) by cosine similarity among the synthetic features. Scores (N x C') are the vote
  counts plus (K - r_c) / (K + 1), r_c the rank of class c's nearest neighbour, so that the
  argmax is their ``Counter.most_common(1)``: most votes, ties to the class met first.
  ``zsl_classifier="softmax"`` trains the softmax below on the synthetic features instead;
* S with seen-class rows (GZSL; a row equal to a fit-time seen class's, tolerance 1e-5 x
  its scale): the authors' ``CLASSIFIER`` (``LINEAR_LOGSOFTMAX``), a linear softmax over the
  rows of S trained on the *real* training features of the seen rows and the synthetic features
  of the others (the authors synthesise unseen classes only), Xavier-normal weights, zero bias,
  Adam(``cls_lr`` 1e-3, betas (0.5, 0.999)), ``cls_epochs`` (25) epochs of ceil(n / batch) batches,
  batch ``cls_batch_size`` (None = ``n_synth``, as theirs) drawn from consecutive permutations as
  their ``next_batch``. Scores are its log-probabilities.

The classifier (or kNN bank) is cached per candidate set. **No test-set selection**: the
authors evaluate every 60 iterations and keep the iteration with the best test accuracy (ZSL)
and best test H (GZSL), and their softmax keeps its epoch with the best test H; zslkit trains a
fixed length and uses the final generator and classifier (METHODS.md's protocol).

Budget (*choice*, for CPUs): the paper's translator (h = 4096) at the authors' 1000 epochs is
hundreds of thousands of iterations of 12 forward/backward passes each (AWA2: 367,001); the
defaults are h = 512 and **600 iterations** (the authors' learning rate 2e-4 kept): a few
minutes per fit on surrogate AWA2 on 2 cores. ``benchmarks/bench_abp.py`` measures the cost per
iteration at both widths, and the defaults beside lr 1e-3
(``benchmarks/results/bench_abp.txt``). The authors' setting is
``ABP(hidden=4096, epochs=1000, n_synth=1500)`` (AWA; ``n_synth=300`` CUB/SUN), as in
``configs/``. Training is deterministic on CPU for a given ``seed``; the caller's torch RNG
state is left untouched.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from typing import Any, Callable, ClassVar, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from scipy.spatial.distance import cdist
from sklearn.base import clone
from torch import nn

from zslkit.errors import ConfigError, ZSLDataError
from zslkit.models.base import ZSLModel, check_fit_inputs, check_score_inputs
from zslkit.models.clswgan import CachedClassifierState, _init_weights  # _init_weights: the ABP authors' weights_init
from zslkit.models.regressor import _check_choice, _check_float, _check_int, _progress, _seeded

__all__ = ["ABP", "abp_loss", "langevin_step", "knn_vote_scores"]

INFERENCES = ("released", "adam", "langevin")
ZSL_CLASSIFIERS = ("knn", "softmax")
FEATURE_NORMS = ("minmax", "none")
#: learning / inference rounds per iteration (the authors' ``for em_step in range(2)``)
EM_ROUNDS = 2
#: gradient-norm clip of both the translator's and the codes' gradients (the authors' 1)
GRAD_CLIP = 1.0
#: hyperparameters that only affect the classifiers of ``scores``: grid points differing only
#: in these share one trained translator in :meth:`ABP.fit_grid`.
CLASSIFIER_PARAMS = frozenset({"n_synth", "knn", "zsl_classifier", "cls_lr", "cls_beta1", "cls_epochs",
                               "cls_batch_size", "verbose"})
#: relative tolerance for recognising a row of S as a seen class
SEEN_RTOL = 1e-5
#: classifiers kept per fitted model (one per candidate set; ZSL + GZSL need two)
CACHE_SIZE = 8
_HIST_KEYS = ("loss", "recon")


class _Translator(nn.Module):
    """G(a, z) -> x: (B x K), (B x Z) -> (B x D), non-negative; input ``[a, z]``."""

    def __init__(self, k: int, z: int, h: int, d: int):
        super().__init__()
        self.main = nn.Sequential(nn.Linear(k + z, h), nn.LeakyReLU(0.2), nn.Linear(h, d), nn.ReLU())

    def forward(self, a: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.main(torch.cat([a, z], dim=1))


def abp_loss(x: torch.Tensor, g: torch.Tensor, z: torch.Tensor, sigma: float) -> torch.Tensor:
    r"""The authors' objective for a batch: :math:`\frac1B \sum_n [\|x_n - g_n\|^2 / (2\sigma^2) + \|z_n\|^2 / 2]`.

    x, g: (B x D) real and translated features; z: (B x Z) codes. Minus the mean log joint
    density :math:`\log p(x, z \mid a)` up to a constant.
    """
    return ((x - g).pow(2).sum() / (2.0 * sigma ** 2) + 0.5 * z.pow(2).sum()) / x.shape[0]


def langevin_step(G: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], a: torch.Tensor, z: torch.Tensor,
                  x: torch.Tensor, sigma: float, s: float, noise: torch.Tensor) -> torch.Tensor:
    r"""One Langevin update of each code (the paper's inference), no gradient into G's parameters.

    :math:`z \leftarrow z + \frac{s^2}{2}\big[\frac{1}{\sigma^2} J_G(z)^\top (x - G(a, z)) - z\big] + s\,U`
    per row; a, z, x, noise: (B x K), (B x Z), (B x D), (B x Z). Returns the new (B x Z) codes.
    """
    z = z.detach().requires_grad_(True)
    energy = (x - G(a, z)).pow(2).sum() / (2.0 * sigma ** 2) + 0.5 * z.pow(2).sum()  # sum over images
    grad, = torch.autograd.grad(energy, z)  # row n: -grad log p(z_n | x_n, a_n)
    return (z - 0.5 * s ** 2 * grad + s * noise).detach()


def _abp_iteration(G: nn.Module, opt_g: torch.optim.Optimizer, x: torch.Tensor, a: torch.Tensor, z: torch.Tensor,
                   *, inference: str, sigma: float, s: float, n_langevin: int, add_noise: bool,
                   noise: Callable[[tuple[int, ...]], torch.Tensor], z_lr: float, z_weight_decay: float
                   ) -> tuple[torch.Tensor, float, float]:
    """One training iteration on a batch (the authors' loop body); returns (new codes, loss, recon).

    ``loss`` is the last learning step's L, ``recon`` its mean squared error per feature. For
    "released"/"adam" the gradients of G's parameters are accumulated exactly as the authors'
    loop does (their inference passes add to them; only the learning step zeroes them), so the
    caller must not zero them between iterations.
    """
    params = [p for p in G.parameters()]
    z = z.detach().clone()
    opt_z = None
    if inference == "adam":
        z.requires_grad_(True)
        opt_z = torch.optim.Adam([z], lr=z_lr, weight_decay=z_weight_decay)
    loss_v = recon_v = float("nan")
    for _ in range(EM_ROUNDS):
        # learning back-propagation
        pred = G(a, z)
        loss = abp_loss(x, pred, z, sigma)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, GRAD_CLIP)
        opt_g.step()
        opt_g.zero_grad()
        loss_v = loss.item()
        with torch.no_grad():
            recon_v = (x - pred).pow(2).mean().item()
        # inferential back-propagation
        for _ in range(n_langevin):
            u = noise(tuple(z.shape))
            if inference == "langevin":
                z = langevin_step(G, a, z, x, sigma, s, u)
                continue
            pred = G(a, z)
            (s * abp_loss(x, pred, z, sigma)).backward()  # the authors' langevin_s*2/2 * loss
            if opt_z is not None:
                torch.nn.utils.clip_grad_norm_([z], GRAD_CLIP)
                opt_z.step()
                opt_z.zero_grad()
            if add_noise:
                with torch.no_grad():
                    z.add_(s * u)
    return z.detach(), loss_v, recon_v


def _authors_batches(n: int, batch_size: int, gen: torch.Generator) -> Iterator[torch.Tensor]:
    """The authors' FeatDataLayer: slices of a permutation, reshuffled when ``cur + B >= n``."""
    perm, cur = torch.randperm(n, generator=gen), 0
    while True:
        if cur + batch_size >= n:
            perm, cur = torch.randperm(n, generator=gen), 0
        yield perm[cur:cur + batch_size]
        cur += batch_size


def _stream_batches(n: int, batch_size: int, gen: torch.Generator) -> Iterator[torch.Tensor]:
    """The authors' classifier ``next_batch``: full batches from a running order that is re-permuted
    (``order = order[perm]``) whenever a batch would run past its end; the tail joins the next batch."""
    order = torch.arange(n)
    start = 0
    first = True
    while True:
        if first:
            order = order[torch.randperm(n, generator=gen)]
            first = False
        if start + batch_size > n:
            rest = order[start:n]
            order = order[torch.randperm(n, generator=gen)]
            take = batch_size - rest.shape[0]
            yield torch.cat([rest, order[:take]])
            start = take
        else:
            yield order[start:start + batch_size]
            start += batch_size


def _train_softmax(X: torch.Tensor, y: torch.Tensor, n_classes: int, lr: float, beta1: float, epochs: int,
                   batch_size: int, gen: torch.Generator, clf: nn.Linear | None = None) -> nn.Linear:
    """The authors' GZSL classifier: linear log-softmax (D -> C), Xavier-normal weights, zero bias,
    NLL loss, Adam(lr, betas (beta1, 0.999)), ``epochs`` x ceil(n / batch) batches of
    :func:`_stream_batches`. ``clf`` (pre-initialised) is for side-by-side checks."""
    if clf is None:
        clf = nn.Linear(X.shape[1], n_classes)
        nn.init.xavier_normal_(clf.weight)
        nn.init.zeros_(clf.bias)
    opt = torch.optim.Adam(clf.parameters(), lr=lr, betas=(beta1, 0.999))
    n = X.shape[0]
    batches = _stream_batches(n, batch_size, gen)
    for _ in range(epochs):
        for _ in range(math.ceil(n / batch_size)):
            idx = next(batches)
            loss = F.nll_loss(F.log_softmax(clf(X[idx]), dim=1), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    clf.eval()
    for p in clf.parameters():
        p.requires_grad_(False)
    return clf


def knn_vote_scores(X: np.ndarray, bank: np.ndarray, bank_labels: np.ndarray, n_classes: int, k: int,
                    chunk: int = 2048) -> np.ndarray:
    """k-nearest-neighbour vote by cosine similarity (the authors' ``eval_zsl_knn``) as scores.

    X (N x D) queries, bank (M x D) synthetic features with labels (M,) in 0..n_classes-1.
    Returns (N x n_classes): votes among the k most similar bank rows, plus (k - r) / (k + 1)
    for a class whose most similar row has rank r (0-based), 0 for a class without votes, so the
    argmax is the class with most votes, ties going to the one met first (``Counter.most_common``).
    """
    k = min(int(k), bank.shape[0])

    def unit(A: np.ndarray) -> np.ndarray:  # sklearn's cosine_similarity: zero rows stay zero
        nrm = np.linalg.norm(A, axis=1, keepdims=True)
        return A / np.where(nrm == 0, 1.0, nrm)

    B = torch.from_numpy(np.ascontiguousarray(unit(np.asarray(bank, dtype=np.float32)).T))
    labels = torch.from_numpy(np.asarray(bank_labels, dtype=np.int64))
    out = np.zeros((X.shape[0], n_classes), dtype=np.float32)
    ranks = torch.arange(k, dtype=torch.float32)
    for start in range(0, X.shape[0], chunk):
        Q = torch.from_numpy(np.ascontiguousarray(unit(np.asarray(X[start:start + chunk], dtype=np.float32))))
        top = torch.topk(Q @ B, k, dim=1, largest=True, sorted=True).indices  # (n x k), most similar first
        lab = labels[top]
        votes = torch.zeros(lab.shape[0], n_classes).scatter_add_(1, lab, torch.ones_like(lab, dtype=torch.float32))
        # first (smallest) rank of each class among the k: scatter_reduce amin over ranks
        first = torch.full((lab.shape[0], n_classes), float(k)).scatter_reduce_(
            1, lab, ranks.expand_as(lab).contiguous(), reduce="amin")
        tie = torch.where(votes > 0, (k - first) / (k + 1), torch.zeros(()))
        out[start:start + chunk] = (votes + tie).numpy()
    return out


class ABP(CachedClassifierState, ZSLModel):
    """ABP estimator (see the module docstring for the model, inference modes and classifiers).

    Args:
        hidden: width h of the translator's hidden layer (paper 4096; default 512 for CPU).
        latent_dim: Z, dimension of the latent code (the authors' 10).
        sigma: standard deviation of the observation noise (the authors' scripts 0.3).
        langevin_s: step size s of the inference (0.1).
        langevin_steps: inference steps per round (5; two rounds per iteration).
        inference: "released" (the released code's behaviour), "adam" (its intended z update)
            or "langevin" (the paper's Langevin dynamics); see the module docstring.
        lr: Adam learning rate of the translator (and, for "adam", of the codes); the authors' 2e-4.
        weight_decay: Adam weight decay of the translator and codes (1e-3).
        batch_size: images per iteration (64).
        steps: training iterations; ignored when ``epochs`` is set.
        epochs: the authors' unit, int(N / batch_size) iterations each (+1 iteration in all);
            None = use ``steps``.
        n_synth: synthetic features per non-seen class of S (the authors' nSample: 1500 AWA,
            300 CUB/SUN).
        knn: K of the ZSL nearest-neighbour vote (20).
        zsl_classifier: "knn" (the authors') or "softmax" for candidate sets without seen rows.
        cls_lr, cls_beta1, cls_epochs: the softmax's Adam lr (1e-3), beta1 (0.5) and epochs (25).
        cls_batch_size: its batch size; None = ``n_synth`` (the authors pass nSample).
        feature_norm: "minmax" (the authors' preprocessing) or "none" (features must then be
            non-negative; G has a ReLU output).
        normalize_semantic: L2-normalise class semantic rows (the authors do not).
        seed: seed of every random draw (initialisation, codes, batches, noise, synthesis).
        verbose: progress bar over iterations (loss, samples/s per epoch-equivalent).

    Attributes (after ``fit``):
        generator_: the trained translator G (eval mode).
        latent_: (N x Z) the training images' final latent codes (fit order).
        seen_classes_, seen_semantic_: ids and (C_s x K) semantic rows of the training classes.
        steps_: iterations run.
        history_: one dict per epoch-equivalent (int(N / batch_size) iterations, the last one
            possibly shorter): ``epoch``, ``steps`` (cumulative), means over its iterations of
            ``loss`` (L at the last learning step) and ``recon`` (its mean squared error per
            feature), ``z_mean``/``z_std`` of all codes at its end, and ``seconds``.
        throughput_: training images per second (batch x iterations / time).
    """

    param_grid: ClassVar[dict[str, list]] = {"n_synth": [300, 1500]}
    iterative: ClassVar[bool] = True

    def __init__(self, hidden: int = 512, latent_dim: int = 10, sigma: float = 0.3, langevin_s: float = 0.1,
                 langevin_steps: int = 5, inference: str = "released", lr: float = 2e-4,
                 weight_decay: float = 1e-3, batch_size: int = 64, steps: int = 600, epochs: int | None = None,
                 n_synth: int = 300, knn: int = 20, zsl_classifier: str = "knn", cls_lr: float = 1e-3,
                 cls_beta1: float = 0.5, cls_epochs: int = 25, cls_batch_size: int | None = None,
                 feature_norm: str = "minmax", normalize_semantic: bool = False, seed: int = 0,
                 verbose: bool = False):
        self.hidden = hidden
        self.latent_dim = latent_dim
        self.sigma = sigma
        self.langevin_s = langevin_s
        self.langevin_steps = langevin_steps
        self.inference = inference
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.steps = steps
        self.epochs = epochs
        self.n_synth = n_synth
        self.knn = knn
        self.zsl_classifier = zsl_classifier
        self.cls_lr = cls_lr
        self.cls_beta1 = cls_beta1
        self.cls_epochs = cls_epochs
        self.cls_batch_size = cls_batch_size
        self.feature_norm = feature_norm
        self.normalize_semantic = normalize_semantic
        self.seed = seed
        self.verbose = verbose
        self._validate()  # fail at construction (e.g. from a config file), not after loading data

    def _validate(self) -> None:
        """Raise :class:`~zslkit.errors.ConfigError` naming the first bad hyperparameter."""
        _check_int("hidden", self.hidden, minimum=1)
        _check_int("latent_dim", self.latent_dim, minimum=1)
        _check_float("sigma", self.sigma, low=0.0, low_open=True)
        _check_float("langevin_s", self.langevin_s, low=0.0)
        _check_int("langevin_steps", self.langevin_steps, minimum=0)
        _check_choice("inference", self.inference, INFERENCES)
        _check_float("lr", self.lr, low=0.0, low_open=True)
        _check_float("weight_decay", self.weight_decay, low=0.0)
        _check_int("batch_size", self.batch_size, minimum=1)
        _check_int("steps", self.steps, minimum=1)
        if self.epochs is not None:
            _check_int("epochs", self.epochs, minimum=1)
        _check_int("n_synth", self.n_synth, minimum=1)
        _check_int("knn", self.knn, minimum=1)
        _check_choice("zsl_classifier", self.zsl_classifier, ZSL_CLASSIFIERS)
        _check_float("cls_lr", self.cls_lr, low=0.0, low_open=True)
        _check_float("cls_beta1", self.cls_beta1, low=0.0, high=1.0, high_open=True)
        _check_int("cls_epochs", self.cls_epochs, minimum=1)
        if self.cls_batch_size is not None:
            _check_int("cls_batch_size", self.cls_batch_size, minimum=1)
        _check_choice("feature_norm", self.feature_norm, FEATURE_NORMS)
        if not isinstance(self.normalize_semantic, (bool, np.bool_)):
            raise ConfigError(f"normalize_semantic must be True or False, got {self.normalize_semantic!r}")
        _check_int("seed", self.seed, minimum=0)

    # -- preprocessing ------------------------------------------------------------------

    def _semantic(self, S: np.ndarray) -> np.ndarray:
        S = np.asarray(S, dtype=np.float32)
        if self.normalize_semantic:
            S = S / np.linalg.norm(S, axis=1, keepdims=True).clip(1e-12)
        return np.ascontiguousarray(S, dtype=np.float32)

    def _scale(self, X: np.ndarray) -> torch.Tensor:
        X = np.asarray(X, dtype=np.float32)
        if self.feature_norm == "minmax":
            X = (X - self.feat_min_) / self.feat_range_ / self.feat_max_
        return torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))

    def n_steps(self, n_train: int) -> int:
        """Iterations a fit on ``n_train`` images runs: ``steps``, or epochs x int(N / B) + 1."""
        if self.epochs is None:
            return int(self.steps)
        return int(self.epochs) * max(1, n_train // min(int(self.batch_size), n_train)) + 1

    # -- training -----------------------------------------------------------------------

    def fit(self, X: np.ndarray, y: np.ndarray, S: np.ndarray) -> "ABP":
        """Learn the translator on seen features X (N x D), labels y (N,) indexing rows of S (C x K).

        Rows of S without images are not used here; they are only candidates in ``scores``.
        """
        self._validate()
        X, y, S = check_fit_inputs(X, y, S)
        classes = np.unique(y)
        local = np.searchsorted(classes, y)
        if self.feature_norm == "minmax":
            self.feat_min_ = X.min(axis=0)
            rng = X.max(axis=0) - self.feat_min_
            # Constant dimensions: sklearn's MinMaxScaler leaves them unscaled (range 1), as here.
            self.feat_range_ = np.where(rng > 10 * np.finfo(np.float32).eps, rng, 1.0).astype(np.float32)
            self.feat_max_ = np.float32(1.0)
            mx = float(((X - self.feat_min_) / self.feat_range_).max())
            self.feat_max_ = np.float32(mx if mx > 0 else 1.0)
        elif X.min() < 0:
            raise ZSLDataError("feature_norm='none' needs non-negative features (the translator has a ReLU "
                               "output); use feature_norm='minmax'")
        Sn = self._semantic(S)
        self.seen_classes_ = classes
        self.seen_semantic_ = Sn[classes]
        Xt = self._scale(X)
        yt = torch.from_numpy(local.astype(np.int64))
        self.X_seen_ = Xt  # scaled real seen features, for the GZSL classifier of scores()
        self.y_seen_ = yt
        self._cache: OrderedDict[str, Any] = OrderedDict()
        n, d = Xt.shape
        k = Sn.shape[1]
        zdim = int(self.latent_dim)
        sem = torch.from_numpy(self.seen_semantic_)  # (Cs x K)
        bs = min(int(self.batch_size), n)
        total = self.n_steps(n)
        per_epoch = max(1, n // bs)  # the authors' epoch: int(ntrain / batchsize) iterations
        s, sigma = float(self.langevin_s), float(self.sigma)
        self.history_: list[dict[str, Any]] = []
        with _seeded(int(self.seed)) as gen:
            G = _Translator(k, zdim, int(self.hidden), d)
            G.apply(_init_weights)
            Z = torch.randn(n, zdim, generator=gen)  # N(0, 1) initial codes (the authors' latent_var 1)
            opt_g = torch.optim.Adam(G.parameters(), lr=float(self.lr), weight_decay=float(self.weight_decay))
            batches = _authors_batches(n, bs, gen)

            def noise(shape: tuple[int, ...]) -> torch.Tensor:
                return torch.randn(shape, generator=gen)

            bar = _progress(range(total), self.verbose, "ABP", unit="it")
            sums = dict.fromkeys(_HIST_KEYS, 0.0)
            block_start = 0
            t_start = t0 = time.perf_counter()
            for it in bar:
                idx = next(batches)
                add_noise = self.inference == "langevin" or it < (total - 1) / 3  # the authors' it < niter/3
                z_new, loss_v, recon_v = _abp_iteration(
                    G, opt_g, Xt[idx], sem[yt[idx]], Z[idx], inference=self.inference, sigma=sigma, s=s,
                    n_langevin=int(self.langevin_steps), add_noise=add_noise, noise=noise, z_lr=float(self.lr),
                    z_weight_decay=float(self.weight_decay))
                Z[idx] = z_new
                sums["loss"] += loss_v
                sums["recon"] += recon_v
                done = it + 1
                if done - block_start == per_epoch or done == total:
                    k_steps, dt = done - block_start, time.perf_counter() - t0
                    rec = {"epoch": len(self.history_) + 1, "steps": done,
                           **{key: v / k_steps for key, v in sums.items()},
                           "z_mean": float(Z.mean()), "z_std": float(Z.std()), "seconds": dt}
                    if not all(math.isfinite(v) for v in rec.values()):
                        raise ZSLDataError(f"ABP diverged before iteration {done}: {rec}; lower lr (now {self.lr}) "
                                           f"or langevin_s (now {self.langevin_s})")
                    self.history_.append(rec)
                    if self.verbose:
                        bar.set_postfix(loss=f"{rec['loss']:.3f}", z_std=f"{rec['z_std']:.2f}",
                                        samples_s=f"{k_steps * bs / max(dt, 1e-9):.0f}")
                    sums = dict.fromkeys(_HIST_KEYS, 0.0)
                    block_start, t0 = done, time.perf_counter()
            elapsed = time.perf_counter() - t_start
        G.eval()
        for p in G.parameters():
            p.requires_grad_(False)
            p.grad = None  # the authors' loop leaves inference gradients behind; they are not needed now
        self.generator_ = G
        self.latent_ = Z
        self.latent_dim_ = zdim
        self.steps_ = total
        self.throughput_ = total * bs / max(elapsed, 1e-9)
        self.fit_seconds_ = elapsed
        return self

    def fit_grid(self, X: np.ndarray, y: np.ndarray, S: np.ndarray, grid: list[dict[str, Any]]
                 ) -> Iterator[tuple[dict[str, Any], "ABP"]]:
        """Like the default, but grid points that differ only in classifier parameters
        (:data:`CLASSIFIER_PARAMS`) share one trained translator: the default grid costs one fit."""
        trained: dict[tuple, ABP] = {}
        for params in grid:
            model = clone(self).set_params(**params)
            key = tuple(sorted((k, repr(v)) for k, v in model.get_params().items() if k not in CLASSIFIER_PARAMS))
            if key not in trained:
                trained[key] = model.fit(X, y, S)
                yield params, model
                continue
            model._validate()  # fit() is skipped for this point: check its parameters here
            for attr, value in vars(trained[key]).items():
                if attr.endswith("_") and not attr.startswith("__"):
                    setattr(model, attr, value)  # shared read-only fitted state
            model._cache = OrderedDict()
            yield params, model

    # -- scoring ------------------------------------------------------------------------

    def generate(self, S: np.ndarray, n_per_class: int, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Synthetic (scaled) features G(a, z), z ~ N(0, I), for every row a of S (C' x K).

        Returns ``(n_per_class*C' x D, labels)``, labels indexing rows of S; deterministic for a
        given ``seed`` (default: the model's).
        """
        self._check_fitted("generator_")
        _check_int("n_per_class", n_per_class, minimum=1)
        Sn = torch.from_numpy(self._semantic(S))
        g = torch.Generator().manual_seed(int(self.seed if seed is None else seed) + 2)
        labels = torch.arange(Sn.shape[0]).repeat_interleave(int(n_per_class))
        with torch.no_grad():
            z = torch.randn(labels.shape[0], self.latent_dim_, generator=g)
            feats = self.generator_(Sn[labels], z)
        return feats.numpy(), labels.numpy()

    def _seen_match(self, Sn: np.ndarray) -> np.ndarray:
        """For each row of Sn (C' x K), the local seen-class index it equals, or -1."""
        diff = cdist(Sn, self.seen_semantic_, metric="chebyshev")  # (C' x Cs) max abs difference
        tol = SEEN_RTOL * max(1.0, float(np.abs(self.seen_semantic_).max()))
        return np.where(diff.min(axis=1) <= tol, diff.argmin(axis=1), -1)

    def _classifier(self, S: np.ndarray) -> tuple[str, Any]:
        """``("softmax", nn.Linear)`` or ``("knn", (bank, labels))`` for the rows of S, built once per S."""
        Sn = self._semantic(S)
        params = repr((self.n_synth, self.knn, self.zsl_classifier, self.cls_lr, self.cls_beta1, self.cls_epochs,
                       self.cls_batch_size, self.seed)).encode()
        key = hashlib.sha1(np.asarray(Sn.shape, dtype=np.int64).tobytes() + Sn.tobytes() + params).hexdigest()
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        match = self._seen_match(Sn)
        synth_rows = np.flatnonzero(match < 0)
        fx = fy = None
        if synth_rows.size:
            fx, fy = self.generate(Sn[synth_rows], int(self.n_synth))
            fy = synth_rows[fy]
        if not np.any(match >= 0) and self.zsl_classifier == "knn":
            entry: tuple[str, Any] = ("knn", (fx, fy))
        else:
            feats, labels = [], []
            for row in np.flatnonzero(match >= 0):  # seen classes: their real features
                sel = self.y_seen_ == int(match[row])
                feats.append(self.X_seen_[sel])
                labels.append(torch.full((int(sel.sum()),), int(row), dtype=torch.long))
            if fx is not None:
                feats.append(torch.from_numpy(fx))
                labels.append(torch.from_numpy(fy).long())
            Xc, yc = torch.cat(feats), torch.cat(labels)
            bs = int(self.n_synth if self.cls_batch_size is None else self.cls_batch_size)
            # Seeded by the model's seed only: the classifier for a given S is the same whatever was scored before.
            with _seeded(int(self.seed) + 3) as gen:
                clf = _train_softmax(Xc, yc, Sn.shape[0], float(self.cls_lr), float(self.cls_beta1),
                                     int(self.cls_epochs), min(bs, Xc.shape[0]), gen)
            entry = ("softmax", clf)
        self._cache[key] = entry
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return entry

    def scores(self, X: np.ndarray, S: np.ndarray) -> np.ndarray:
        """Scores (N x C') over the rows of S (C' x K): kNN votes (ZSL) or log-probabilities (GZSL).

        The classifier is built on first use for this S (see the module docstring).
        """
        self._check_fitted("generator_")
        self._validate()  # classifier parameters may have been changed by set_params since fit
        X, S = check_score_inputs(X, S, self.X_seen_.shape[1], self.seen_semantic_.shape[1])
        kind, clf = self._classifier(S)
        Xs = self._scale(X)
        if kind == "knn":
            bank, labels = clf
            return knn_vote_scores(Xs.numpy(), bank, labels, S.shape[0], int(self.knn))
        with torch.no_grad():
            return F.log_softmax(clf(Xs), dim=1).numpy()
