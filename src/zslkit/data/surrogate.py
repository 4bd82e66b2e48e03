"""Surrogate xlsa17 datasets: the real splits and classes, synthetic ResNet-like features.

The real ``res101.mat`` files cannot be fetched here, so tests and relative comparisons run
on a *surrogate*: a dataset directory in the published layout whose ``att_splits.mat`` and
class lists are byte-for-byte the real ones, and whose ``res101.mat`` holds synthetic
features. **Numbers measured on a surrogate are not benchmark results**; every file written
here is flagged (``zslkit_surrogate`` in the .mat files, ``SURROGATE.json`` in the directory)
and every reader propagates the flag.

What the generator models (version :data:`SURROGATE_VERSION`)
---------------------------------------------------------------

The aim is a dataset on which ZSL models *behave* as they do on the real Caffe ResNet-101
features: hard for the same reasons, so that a model that leans on a shortcut the real data
does not offer is not rewarded. Real image features are hard for ZSL because (i) a deep
network maps what is in the image to its features non-linearly, (ii) images of one class vary
a lot (pose, background, light, occlusion), (iii) a class looks like things its attribute
vector does not describe (a zebra's stripes are in the vocabulary; the exact texture of its
coat, its usual savannah background are not), (iv) an attribute is visible in only some of a
class's images and some attributes are far easier to see than others, (v) the annotated
class attributes are not the class's true appearance, and (vi) unseen classes come from a
somewhat different distribution than the seen ones. The generator builds each of these in,
each with its own knob in :class:`SurrogateConfig`.

One image ``n`` of class ``c`` (every random map is fixed by the seed):

1. **Attributes as seen.** ``A`` (C x K, in [0, 1]) are the real class attributes
   (``original_att / 100``, or ``att`` min-max scaled when there is no ``original_att``).
   The class's *visual* attribute state departs from its annotation:
   ``A~_ck = clip(A_ck + class_attr_noise * sd_k * e_ck, 0, 1)`` with ``sd_k`` the spread of
   attribute k across classes (annotators describe a class, the images show it).
2. **Uneven visibility and predictability.** Attribute k is visible in an image with
   probability ``q_k`` (drawn once per attribute from a Beta distribution with mean
   ``visibility`` and concentration ``visibility_concentration``), and its evidence has a gain
   ``g_k`` (log-normal, sigma ``gain_spread``): some attributes are easy, some hard. The
   evidence saturates with the attribute's strength, ``sat(a) = (1 - exp(-a / saturation)) /
   (1 - exp(-1 / saturation))`` (``saturation = 0`` means linear), and is noisier the
   stronger it is: ``ev_nk = m_nk * g_k * sat(A~_ck) * (1 + attr_noise * e_nk) +
   attr_floor_noise * sd_k * e'_nk`` with ``m_nk ~ Bernoulli(q_k)``. An invisible or noisy
   attribute costs more the larger its value, which is the error pattern ReZSL reports
   (errors growing with the attribute's value, different across classes). The attribute
   block is rescaled to a fixed class-centred energy (``attr_energy``) so that datasets with
   sparse attributes (SUN votes average 0.08) are not made artificially hard by their units.
3. **Class-specific appearance outside the vocabulary.** ``p_c ~ N(0, I_P)`` (``n_private``
   factors) fixed per class, with per-image variation ``p_c + private_jitter * nu_n``, weight
   ``private_weight``. Seen classes' appearance can be learnt from their images; an unseen
   class's cannot be predicted from its attributes.
4. **Intra-class variation.** Nuisance factors ``u_n ~ N(0, I_U)`` (``n_nuisance``; pose,
   background, light), shared by all classes, weight ``nuisance_weight``.
5. **Seen/unseen domain shift.** Unseen-class images draw their nuisance factors around a
   shifted mean, ``u_n ~ N(unseen_shift * d, I_U)`` with a fixed unit direction ``d``.
6. **A deep non-linear image model.** The latent ``h_n = [ev_n * s_a, nuisance_weight * u_n,
   private_weight * (p_c + private_jitter * nu_n)]`` goes through a fixed random ReLU network
   with ``depth`` hidden layers of ``hidden_dim`` units (He-initialised, small biases), then a
   last linear layer to ``feature_dim`` units with independent pre-activation noise
   (``feature_noise``) and a ReLU: non-negative features like pooled ResNet activations,
   rescaled to a mean entry of ``feature_mean`` (a chosen scale of the order of ResNet pooled
   activations, so that the fixed ridge constants of the published reproductions act on
   features of comparable magnitude).

Per-dataset presets (:data:`PRESETS`) set three difficulty knobs (``class_attr_noise``,
``nuisance_weight``, ``private_weight``) for ``AWA2``, ``CUB``, ``SUN`` and ``APY``; they were
chosen by ``benchmarks/calibrate_surrogate.py`` (a coarse scripted search, log in
``benchmarks/results/calibrate_surrogate.txt``) so that ESZSL and ALE, run with the public
reproduction's fixed hyperparameters, land near their published T1 and uncalibrated S on the
real features. The other models were left out of the calibration and are compared with their
published numbers by ``benchmarks/bench_surrogate_fidelity.py``: that table, not this
docstring, says how far the surrogate can be trusted. AWA1 (not calibrated) and any other
``att_splits.mat`` get the ``generic`` preset (the defaults of :class:`SurrogateConfig`);
``easy`` (uncalibrated, little noise) is for the test suite's small toy splits. The preset is picked by the dataset's signature (class count, image count
and first class names) or named explicitly (``preset=`` / ``--preset``), and is recorded with
the whole configuration and :data:`SURROGATE_VERSION` in ``SURROGATE.json``.

The per-class image counts are not in ``att_splits.mat`` (labels live in ``res101.mat``), so
they are drawn with the seed (mildly imbalanced, every class non-empty) while the split sizes
are exactly the published ones.

Class embeddings (``word2vec_splits.mat``): by default 300-d synthetic vectors correlated with
the attributes only through ``w2v_rho``, plus a direction shared by all classes (real class-name
vectors are far from orthogonal). ``class_embeddings=`` replaces them by a real embedding file
(rows matched by class name, e.g. the real GoogleNews vectors of the AWA2 / CUB class names) or
by the WordLlama text model (``"wordllama"``, :mod:`zslkit.embeddings.text_models`).

Generation is chunked (``chunk`` images at a time, float32), deterministic for a given seed
and independent of the chunk size.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from zslkit.data.matfile import load_mat
from zslkit.data.xlsa17 import (
    read_att_splits,
    read_class_list,
    sha256_file,
    write_att_splits,
    write_class_list,
    write_res101,
)
from zslkit.errors import ConfigError, ZSLDataError
from zslkit.utils.outputs import atomic_write_json

log = logging.getLogger(__name__)

#: version of the generative model; recorded in SURROGATE.json (bump when features change)
SURROGATE_VERSION = "zslkit-surrogate-2"

#: number of unseen classes of the known xlsa17 datasets, by number of classes
KNOWN_UNSEEN = {50: 10, 200: 50, 717: 72, 102: 20, 32: 12}
CLASS_LIST_FILES = ("allclasses.txt", "trainvalclasses.txt", "testclasses.txt", "trainclasses1.txt",
                    "trainclasses2.txt", "trainclasses3.txt", "valclasses1.txt", "valclasses2.txt",
                    "valclasses3.txt")


@dataclass
class SurrogateConfig:
    """Knobs of the generative model (module docstring); the defaults are the ``generic`` preset.

    Every field is recorded in ``SURROGATE.json``. :meth:`validate` checks ranges.
    """

    feature_dim: int = 2048
    hidden_dim: int = 1024
    depth: int = 2  # hidden ReLU layers of the random image model
    feature_mean: float = 0.5  # mean feature entry after rescaling
    feature_noise: float = 0.3  # pre-activation noise of the last layer, relative to its spread
    out_bias: float = 1.0  # last-layer bias in units of each unit's spread (1: ~16 % of entries are zero)
    n_nuisance: int = 48
    n_private: int = 48
    attr_energy: float = 6.0  # norm of the class-centred attribute block of the latent
    visibility: float = 0.75  # mean probability that an attribute is visible in an image
    visibility_concentration: float = 4.0  # Beta concentration of the per-attribute visibility
    gain_spread: float = 0.6  # log-normal sigma of the per-attribute evidence gain
    saturation: float = 0.5  # evidence saturation constant (0 = linear)
    attr_noise: float = 0.5  # multiplicative per-image evidence noise (grows with the value)
    attr_floor_noise: float = 0.3  # additive per-image evidence noise, in units of the attribute's spread
    class_attr_noise: float = 0.5  # class-level departure of appearance from annotation, in spread units
    nuisance_weight: float = 2.5
    private_weight: float = 0.3
    private_jitter: float = 0.5
    private_smoothness: float = 0.5  # share of the private appearance shared with attribute-similar classes
    unseen_shift: float = 1.5  # norm of the nuisance mean shift of unseen-class images
    imbalance: float = 0.3  # log-normal sigma of per-class image counts
    w2v_dim: int = 300
    w2v_rho: float = 0.85  # share of attribute signal in the synthetic word vectors
    w2v_common: float = 0.5  # weight of a direction shared by all classes (real word vectors have one)

    def validate(self) -> "SurrogateConfig":
        ints = {"feature_dim": 1, "hidden_dim": 1, "depth": 0, "n_nuisance": 0, "n_private": 0, "w2v_dim": 1}
        for name, lo in ints.items():
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                raise ConfigError(f"SurrogateConfig.{name} must be an integer >= {lo}, got {v!r}")
        for f in dataclasses.fields(self):
            if f.name in ints:
                continue
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating)) or not np.isfinite(v) or v < 0:
                raise ConfigError(f"SurrogateConfig.{f.name} must be a finite number >= 0, got {v!r}")
        if not 0.0 < self.visibility <= 1.0:
            raise ConfigError(f"SurrogateConfig.visibility must be in (0, 1], got {self.visibility!r}")
        if self.visibility_concentration <= 0:
            raise ConfigError("SurrogateConfig.visibility_concentration must be > 0")
        if self.feature_mean <= 0:
            raise ConfigError("SurrogateConfig.feature_mean must be > 0")
        if not 0.0 <= self.private_smoothness <= 1.0:
            raise ConfigError(f"SurrogateConfig.private_smoothness must be in [0, 1], got {self.private_smoothness!r}")
        if not 0.0 <= self.w2v_rho <= 1.0:
            raise ConfigError(f"SurrogateConfig.w2v_rho must be in [0, 1], got {self.w2v_rho!r}")
        return self


#: per-dataset difficulty knobs (overrides of the SurrogateConfig defaults), chosen by
#: benchmarks/calibrate_surrogate.py; see its log in benchmarks/results/calibrate_surrogate.txt
PRESETS: dict[str, dict[str, Any]] = {
    "AWA2": {"class_attr_noise": 0.6, "nuisance_weight": 4.5, "private_weight": 0.8},
    "CUB": {"class_attr_noise": 0.25, "nuisance_weight": 3.0, "private_weight": 0.8},
    "SUN": {"class_attr_noise": 0.25, "nuisance_weight": 3.0, "private_weight": 0.8},
    "APY": {"class_attr_noise": 0.25, "nuisance_weight": 3.75, "private_weight": 0.3},
    # AWA1 was not calibrated (the calibration run was stopped before it): it gets "generic".
    "generic": {},
    # Not calibrated, and not like any real benchmark: little noise and no domain shift, so that the
    # mechanics of a model show clearly on small synthetic splits (the test suite's toy datasets).
    "easy": {"class_attr_noise": 0.0, "nuisance_weight": 0.4, "private_weight": 0.5, "attr_noise": 0.2,
             "attr_floor_noise": 0.3, "visibility": 0.8, "unseen_shift": 0.0, "depth": 1, "hidden_dim": 512,
             "attr_energy": 7.0},
}

#: how a preset is recognised: (number of classes, number of images, first class name or None)
DATASET_SIGNATURES: dict[str, tuple[int, int, str | None]] = {
    "AWA1": (50, 30475, "antelope"),
    "AWA2": (50, 37322, "antelope"),
    "CUB": (200, 11788, "002.Laysan_Albatross"),
    "SUN": (717, 14340, "abbey"),
    "APY": (32, 15339, "aeroplane"),
}


def detect_preset(num_classes: int, num_images: int, class_names: Sequence[str] | None) -> str:
    """Name of the preset whose dataset signature matches, else ``"generic"``."""
    for name, (c, n, first) in DATASET_SIGNATURES.items():
        if c == num_classes and n == num_images and (first is None or (class_names and class_names[0] == first)):
            return name if name in PRESETS else "generic"
    return "generic"


def preset_config(preset: str, **overrides: Any) -> SurrogateConfig:
    """The :class:`SurrogateConfig` of a preset, with ``overrides`` applied on top."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown surrogate preset {preset!r}; expected one of {sorted(PRESETS)}")
    known = {f.name for f in dataclasses.fields(SurrogateConfig)}
    bad = sorted(set(overrides) - known)
    if bad:
        raise ConfigError(f"unknown SurrogateConfig field(s) {bad}; expected some of {sorted(known)}")
    return SurrogateConfig(**{**PRESETS[preset], **overrides}).validate()


def class_attributes_01(att: np.ndarray, original_att: np.ndarray | None) -> np.ndarray:
    """Class attributes in [0, 1] (C x K) from ``original_att`` (0-100, -1 = missing) or ``att``."""
    if original_att is not None:
        a = np.clip(original_att.astype(np.float64), 0.0, None)
        return a / 100.0 if a.max() > 1.5 else a
    a = att.astype(np.float64)
    lo, hi = a.min(axis=0, keepdims=True), a.max(axis=0, keepdims=True)
    return (a - lo) / np.where(hi > lo, hi - lo, 1.0)


def _apportion(total: int, weights: np.ndarray, minimum: int = 1) -> np.ndarray:
    """Integer counts summing to ``total``, proportional to ``weights``, each >= ``minimum``."""
    k = weights.size
    if total < minimum * k:
        raise ZSLDataError(f"cannot give {k} classes at least {minimum} image(s) each out of {total} images")
    rest = total - minimum * k
    raw = rest * weights / weights.sum()
    counts = np.floor(raw).astype(np.int64)
    short = rest - counts.sum()
    counts[np.argsort(-(raw - counts), kind="stable")[:short]] += 1
    return counts + minimum


def assign_labels(locs: dict[str, np.ndarray], num_classes: int, unseen: np.ndarray, rng: np.random.Generator,
                  imbalance: float) -> np.ndarray:
    """0-based labels for all images consistent with the split indices (see module doc)."""
    n = int(max(int(v.max()) for v in locs.values() if v.size)) + 1
    seen = np.setdiff1d(np.arange(num_classes), unseen)
    labels = np.full(n, -1, dtype=np.int64)
    w = np.exp(imbalance * rng.standard_normal(num_classes))
    for split, classes in (("trainval", seen), ("test_seen", seen), ("test_unseen", unseen)):
        idx = locs[split]
        counts = _apportion(idx.size, w[classes])
        lab = np.repeat(classes, counts)
        labels[idx] = lab[rng.permutation(lab.size)]
    rest = np.flatnonzero(labels < 0)  # images outside the three splits (if any): seen classes
    labels[rest] = rng.choice(seen, size=rest.size)
    return labels


def _resolve_unseen(src: Path, names: list[str] | None, c: int, n_unseen: int | None,
                    rng: np.random.Generator) -> tuple[np.ndarray, str]:
    tc = src.parent / "testclasses.txt"
    if names is not None and tc.is_file():
        index = {nm: i for i, nm in enumerate(names)}
        listed = read_class_list(tc)
        missing = [x for x in listed if x not in index]
        if missing:
            raise ZSLDataError(f"{tc}: classes not in allclasses_names: {missing[:5]}")
        if n_unseen is not None and n_unseen != len(listed):
            raise ZSLDataError(f"--n-unseen {n_unseen} contradicts {tc} ({len(listed)} classes)")
        return np.array(sorted(index[x] for x in listed)), f"real unseen classes from {tc}"
    k = n_unseen if n_unseen is not None else KNOWN_UNSEEN.get(c, max(1, round(0.2 * c)))
    if not 0 < k < c:
        raise ZSLDataError(f"number of unseen classes must be in 1..{c - 1}, got {k}")
    return np.sort(rng.choice(c, size=k, replace=False)), f"{k} unseen classes drawn with the seed (no class list)"


# --------------------------------------------------------------------------- the generative model

def _private_appearance(attrs01: np.ndarray, cfg: SurrogateConfig, rng: np.random.Generator) -> np.ndarray:
    """(C, n_private) class-private appearance, unit variance per factor.

    A share ``private_smoothness`` of its variance is a smooth random function of the class
    attributes (random Fourier features, bandwidth the median distance between classes), so
    classes that are close in attribute space also look alike in ways the attributes do not
    describe, as related species do; the rest is independent per class. An unseen image then
    resembles its attribute neighbours among the seen classes beyond their shared attributes,
    which is what biases GZSL towards seen classes.
    """
    c = attrs01.shape[0]
    iid = rng.standard_normal((c, cfg.n_private))
    omega = rng.standard_normal((attrs01.shape[1], cfg.n_private))
    phase = rng.uniform(0.0, 2 * np.pi, cfg.n_private)
    sample = attrs01[rng.choice(c, size=min(c, 200), replace=False)]
    dist = np.sqrt(((sample[:, None, :] - sample[None, :, :]) ** 2).sum(-1))
    band = float(np.median(dist[np.triu_indices(len(sample), 1)])) if len(sample) > 1 else 1.0
    smooth = np.sqrt(2.0) * np.cos(attrs01 @ omega / max(band, 1e-9) + phase)
    r = cfg.private_smoothness
    return np.sqrt(r) * smooth + np.sqrt(1.0 - r) * iid


def _saturate(a: np.ndarray, k: float) -> np.ndarray:
    """``(1 - exp(-a/k)) / (1 - exp(-1/k))``: 0 at 0, 1 at 1, concave; identity for ``k == 0``."""
    if k <= 0:
        return a
    return -np.expm1(-a / k) / -np.expm1(-1.0 / k)


@dataclass
class SurrogateWorld:
    """The fixed random parts of one surrogate (everything but the per-image draws).

    Attributes (C classes, K attributes):
        visual_att: (C, K) the classes' visual attribute states ``A~`` in [0, 1].
        visibility: (K,) per-attribute visibility probabilities ``q_k``.
        gain: (K,) per-attribute evidence gains ``g_k``.
        spread: (K,) attribute spreads ``sd_k`` across classes.
        attr_scale: scalar ``s_a`` that gives the attribute block its energy.
        private: (C, n_private) class-private appearance ``p_c``.
        shift: (n_nuisance,) nuisance mean of unseen-class images.
        unseen_mask: (C,) bool.
        layers: [(W, b), ...] of the random ReLU network, last one to ``feature_dim``.
        out_scale: rescaling of the features to ``feature_mean``.
    """

    cfg: SurrogateConfig
    seed: int
    visual_att: np.ndarray
    visibility: np.ndarray
    gain: np.ndarray
    spread: np.ndarray
    attr_scale: float
    private: np.ndarray
    shift: np.ndarray
    unseen_mask: np.ndarray
    layers: list[tuple[np.ndarray, np.ndarray]]
    out_noise: float = 0.0
    out_scale: float = 1.0

    @classmethod
    def build(cls, attrs01: np.ndarray, unseen: np.ndarray, cfg: SurrogateConfig, seed: int) -> "SurrogateWorld":
        cfg.validate()
        rng = np.random.default_rng([int(seed), 101])
        c, k = attrs01.shape
        spread = attrs01.std(axis=0)
        spread = np.where(spread > 1e-6, spread, max(float(spread.mean()), 1e-3))
        visual = np.clip(attrs01 + cfg.class_attr_noise * spread * rng.standard_normal((c, k)), 0.0, 1.0)
        m, kappa = cfg.visibility, cfg.visibility_concentration
        if m >= 1.0:
            vis = np.ones(k)
        else:
            vis = rng.beta(m * kappa, (1 - m) * kappa, size=k).clip(0.02, 1.0)
        gain = np.exp(cfg.gain_spread * rng.standard_normal(k) - 0.5 * cfg.gain_spread ** 2)
        # Energy of the class-centred *expected* evidence sets the attribute block's scale.
        mean_ev = vis * gain * _saturate(visual, cfg.saturation)
        centred = mean_ev - mean_ev.mean(axis=0, keepdims=True)
        energy = float(np.sqrt(np.mean(np.sum(centred ** 2, axis=1))))
        attr_scale = cfg.attr_energy / max(energy, 1e-12)
        private = _private_appearance(attrs01, cfg, rng)
        d = rng.standard_normal(cfg.n_nuisance)
        shift = cfg.unseen_shift * d / max(float(np.linalg.norm(d)), 1e-12) if cfg.n_nuisance else d
        mask = np.zeros(c, dtype=bool)
        mask[np.asarray(unseen, dtype=np.int64)] = True
        d_in = k + cfg.n_nuisance + cfg.n_private
        layers = []
        fan = d_in
        for _ in range(cfg.depth):  # He initialisation keeps the activations' scale through the ReLUs
            layers.append(((rng.standard_normal((fan, cfg.hidden_dim)) * np.sqrt(2.0 / fan)).astype(np.float32),
                           (0.1 * rng.standard_normal(cfg.hidden_dim)).astype(np.float32)))
            fan = cfg.hidden_dim
        w_out = (rng.standard_normal((fan, cfg.feature_dim)) * np.sqrt(2.0 / fan)).astype(np.float32)
        layers.append((w_out, np.zeros(cfg.feature_dim, dtype=np.float32)))
        world = cls(cfg=cfg, seed=int(seed), visual_att=visual, visibility=vis, gain=gain, spread=spread,
                    attr_scale=attr_scale, private=private, shift=shift, unseen_mask=mask, layers=layers)
        # Output bias, noise and scale are set on a probe batch of four images per class (seeded):
        # each unit's bias puts it at ``out_bias`` of its own spread above its mean, so that most
        # units are active on most images, as pooled activations are; the noise is relative to
        # the same spread.
        probe = world._pre_activation(np.repeat(np.arange(c), 4), np.random.default_rng([int(seed), 102]))
        mu, sd = probe.mean(axis=0), probe.std(axis=0).clip(1e-6)
        bias = (cfg.out_bias * sd - mu).astype(np.float32)
        world.layers[-1] = (w_out, bias)
        probe += bias
        world.out_noise = float(cfg.feature_noise * sd.mean())
        x = np.maximum(probe + world.out_noise * np.random.default_rng([int(seed), 103]).standard_normal(probe.shape),
                       0.0)
        world.out_scale = float(cfg.feature_mean / max(float(x.mean()), 1e-12))
        return world

    def latent(self, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(len(y), K + n_nuisance + n_private) latent vectors of images of classes ``y``."""
        cfg = self.cfg
        m = y.size
        k = self.visual_att.shape[1]
        visible = rng.random((m, k)) < self.visibility
        base = self.gain * _saturate(self.visual_att[y], cfg.saturation)
        ev = visible * base * (1.0 + cfg.attr_noise * rng.standard_normal((m, k)))
        ev += cfg.attr_floor_noise * self.spread * rng.standard_normal((m, k))
        u = rng.standard_normal((m, cfg.n_nuisance)) + self.unseen_mask[y, None] * self.shift
        p = self.private[y] + cfg.private_jitter * rng.standard_normal((m, cfg.n_private))
        return np.concatenate([self.attr_scale * ev, cfg.nuisance_weight * u, cfg.private_weight * p], axis=1)

    def _pre_activation(self, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        h = self.latent(y, rng).astype(np.float32)
        for w, b in self.layers[:-1]:
            h = np.maximum(h @ w + b, 0.0)
        w, b = self.layers[-1]
        return h @ w + b

    def features(self, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(len(y), feature_dim) float32 non-negative features of images of classes ``y``."""
        z = self._pre_activation(y, rng)
        z += self.out_noise * rng.standard_normal(z.shape, dtype=np.float32)
        np.maximum(z, 0.0, out=z)
        z *= np.float32(self.out_scale)
        return z


def synth_features(labels: np.ndarray, attrs01: np.ndarray, cfg: SurrogateConfig, seed: int,
                   unseen: np.ndarray | None = None, chunk: int = 4096) -> np.ndarray:
    """Synthetic non-negative features (N x feature_dim float32) for 0-based ``labels``.

    Deterministic in ``seed``; images are drawn in fixed blocks of 1024 with their own
    generator, so the result does not depend on ``chunk`` (which only bounds memory).
    """
    world = SurrogateWorld.build(attrs01, np.array([], dtype=np.int64) if unseen is None else unseen, cfg, seed)
    out = np.empty((labels.size, cfg.feature_dim), dtype=np.float32)
    block = 1024
    step = max(block, (int(chunk) // block) * block)
    for s in range(0, labels.size, step):
        e = min(s + step, labels.size)
        for b in range(s, e, block):
            be = min(b + block, e)
            out[b:be] = world.features(labels[b:be], np.random.default_rng([int(seed), 7, b // block]))
    return out


def surrogate_word_vectors(attrs01: np.ndarray, cfg: SurrogateConfig, rng: np.random.Generator) -> np.ndarray:
    """C x w2v_dim unit vectors: ``rho`` * projected attributes + noise (see module doc)."""
    a = attrs01 - attrs01.mean(axis=0, keepdims=True)
    a /= np.linalg.norm(a, axis=1, keepdims=True).clip(1e-12)
    proj = a @ rng.standard_normal((a.shape[1], cfg.w2v_dim))
    proj /= np.linalg.norm(proj, axis=1, keepdims=True).clip(1e-12)
    noise = rng.standard_normal((a.shape[0], cfg.w2v_dim))
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    common = rng.standard_normal(cfg.w2v_dim)
    common /= np.linalg.norm(common)
    w = cfg.w2v_rho * proj + np.sqrt(1 - cfg.w2v_rho ** 2) * noise + cfg.w2v_common * common
    return (w / np.linalg.norm(w, axis=1, keepdims=True)).astype(np.float32)


# --------------------------------------------------------------------------- dataset directories

@dataclass
class SurrogateArrays:
    """A surrogate dataset in memory (what :func:`make_surrogate` writes)."""

    features: np.ndarray  # (N, D) float32
    labels: np.ndarray  # (N,) 0-based
    unseen: np.ndarray  # sorted unseen class ids
    unseen_source: str
    attrs01: np.ndarray  # (C, K)
    config: SurrogateConfig
    preset: str
    seed: int
    att_splits: Any = None  # the AttSplits it was built on
    source: Path | None = None

    def to_zsldata(self, semantic: np.ndarray | None = None, semantic_name: str = "att"):
        """A :class:`~zslkit.data.ZSLData` of these arrays (no files): the real splits, the class
        folds of the class lists beside the source file, and ``semantic`` (default: ``att``)."""
        from zslkit.data.xlsa17 import read_class_folds
        from zslkit.data.zsldata import ZSLData

        a = self.att_splits
        names = a.class_names or [f"class_{i + 1:03d}" for i in range(a.num_classes)]
        sem = a.att if semantic is None else np.asarray(semantic, dtype=np.float32)
        data = ZSLData(features=self.features, labels=self.labels, class_names=names, semantic=sem,
                       splits={k: v for k, v in a.locs.items()}, semantic_name=semantic_name, surrogate=True,
                       provenance={"att_splits": str(self.source), "surrogate_version": SURROGATE_VERSION,
                                   "preset": self.preset, "notes": []})
        if a.class_names is not None and self.source is not None:
            data.class_folds.extend(read_class_folds(self.source.parent, names, data.seen_classes))
        return data


def generate_surrogate(att_splits: str | os.PathLike, seed: int = 0, config: SurrogateConfig | None = None,
                       preset: str | None = None, n_unseen: int | None = None) -> SurrogateArrays:
    """Labels and features of a surrogate of ``att_splits`` in memory (no files written).

    ``config`` wins over ``preset``; with neither, the preset is detected from the dataset
    (:func:`detect_preset`).
    """
    from zslkit.utils.seed import seed_error

    if seed_error(seed):
        raise ZSLDataError(seed_error(seed))
    src = Path(att_splits)
    a = read_att_splits(src)
    if a.att is None:
        raise ZSLDataError(f"{src}: no 'att' field; a surrogate dataset is built from a real att_splits.mat's "
                           "attributes (this one has none)")
    c = a.att.shape[0]
    for k in ("trainval", "test_seen", "test_unseen"):
        if k not in a.locs:
            raise ZSLDataError(f"{src}: field '{k}_loc' is missing")
    n_images = int(max(int(v.max()) for v in a.locs.values() if v.size)) + 1
    if config is not None:
        name = preset or "custom"
        cfg = config.validate()
    else:
        name = preset or detect_preset(c, n_images, a.class_names)
        cfg = preset_config(name)
    rng = np.random.default_rng(seed)
    unseen, unseen_source = _resolve_unseen(src, a.class_names, c, n_unseen, rng)
    labels = assign_labels(a.locs, c, unseen, rng, cfg.imbalance)
    attrs01 = class_attributes_01(a.att, a.original_att)
    feats = synth_features(labels, attrs01, cfg, seed, unseen=unseen)
    return SurrogateArrays(features=feats, labels=labels, unseen=unseen, unseen_source=unseen_source,
                           attrs01=attrs01, config=cfg, preset=name, seed=int(seed), att_splits=a, source=src)


def make_surrogate(att_splits: str | os.PathLike, out_dir: str | os.PathLike, seed: int = 0,
                   config: SurrogateConfig | None = None, n_unseen: int | None = None,
                   overwrite: bool = False, preset: str | None = None,
                   class_embeddings: str | os.PathLike | None = None,
                   class_embedding_names: str | os.PathLike | None = None) -> Path:
    """Write a surrogate xlsa17 dataset directory built on a real ``att_splits.mat``.

    Writes ``res101.mat`` (synthetic, flagged), a byte copy of ``att_splits.mat`` and of the
    class lists found beside it, ``word2vec_splits.mat`` and ``SURROGATE.json`` describing the
    generation (version, preset, every knob). Returns ``out_dir``, a zslkit output directory
    (:func:`zslkit.utils.outputs.output_dir`: new, empty or zslkit's; ``overwrite`` replaces what
    zslkit wrote there, and only that).

    Args:
        config: the generator's knobs; ``None`` takes the preset's.
        preset: a name of :data:`PRESETS`; ``None`` detects it from the dataset.
        class_embeddings: source of ``word2vec_splits.mat``: ``None`` for synthetic vectors, a
            file (``.mat`` with ``allclasses_names``, ``.csv`` with names in the first column, or
            ``.npy`` with ``class_embedding_names``) whose rows are matched to the classes by
            name, or ``"wordllama"`` (WordLlama embeddings of the class names; the ``text`` extra).
        class_embedding_names: one class name a line, the row names of a ``.npy`` file.
    """
    from zslkit.utils.outputs import output_dir

    with output_dir(out_dir, "dataset", overwrite=overwrite) as od:
        if od.owns("SURROGATE.json"):
            raise ZSLDataError(f"{out_dir}: already holds a surrogate dataset; pass overwrite=True (--overwrite) to "
                               "replace it")
        od.expect("res101.mat", "att_splits.mat", "word2vec_splits.mat", "SURROGATE.json", *CLASS_LIST_FILES)
        return _make_surrogate(Path(att_splits), Path(out_dir), seed, config, n_unseen, preset, class_embeddings,
                               class_embedding_names)


def _make_surrogate(src: Path, out: Path, seed: int, config: SurrogateConfig | None, n_unseen: int | None,
                    preset: str | None, class_embeddings: str | os.PathLike | None,
                    class_embedding_names: str | os.PathLike | None) -> Path:
    from zslkit.utils.outputs import copy_output

    a = read_att_splits(src)
    # Resolve the class embeddings first: a bad file must fail before minutes of generation.
    emb, emb_info = None, {"source": "synthetic", "w2v_rho": None}
    if class_embeddings is not None:
        from zslkit.embeddings.class_files import resolve_class_embeddings

        names_for_match = a.class_names
        emb, emb_info = resolve_class_embeddings(class_embeddings, names_for_match, a.num_classes,
                                                 names_file=class_embedding_names)
    arr = generate_surrogate(src, seed=seed, config=config, preset=preset, n_unseen=n_unseen)
    cfg, unseen, labels = arr.config, arr.unseen, arr.labels
    c = a.num_classes
    if emb is None:
        emb = surrogate_word_vectors(arr.attrs01, cfg, np.random.default_rng([int(seed), 301]))
        emb_info = {"source": "synthetic", "w2v_rho": cfg.w2v_rho, "dim": cfg.w2v_dim}
    names = a.class_names or [f"class_{i + 1:03d}" for i in range(c)]
    files = [f"surrogate/{names[y]}/img_{i:06d}.jpg" for i, y in enumerate(labels)]

    write_res101(out / "res101.mat", arr.features, labels, image_files=files, surrogate=True)
    copy_output(src, out / "att_splits.mat")
    raw = load_mat(src, ["allclasses_names"])
    write_att_splits(out / "word2vec_splits.mat", emb, {k: v for k, v in a.locs.items()},
                     class_names=a.class_names, surrogate=True)
    copied = []
    for name in CLASS_LIST_FILES:
        f = src.parent / name
        if f.is_file():
            copy_output(f, out / name)
            copied.append(name)
    if "testclasses.txt" not in copied:
        seen = np.setdiff1d(np.arange(c), unseen)
        write_class_list(out / "testclasses.txt", [names[i] for i in unseen])
        write_class_list(out / "trainvalclasses.txt", [names[i] for i in seen])
    atomic_write_json(out / "SURROGATE.json", {
        "surrogate": True,
        "version": SURROGATE_VERSION,
        "warning": "Synthetic features on real xlsa17 splits: numbers measured on this directory are NOT "
                   "benchmark results for the real dataset.",
        "source_att_splits": str(src.resolve()),
        "source_sha256": sha256_file(src),
        "seed": seed,
        "preset": arr.preset,
        "config": asdict(cfg),
        "class_embeddings": emb_info,
        "unseen_classes": arr.unseen_source,
        "class_lists_copied": copied,
        "has_class_names": "allclasses_names" in raw,
        "num_images": int(labels.size),
        "splits": {k: int(v.size) for k, v in a.locs.items()},
    })
    log.info("wrote surrogate dataset to %s (%s, preset %s)", out, SURROGATE_VERSION, arr.preset)
    return out


def make_toy_att_splits(path: str | os.PathLike, num_classes: int = 40, num_unseen: int = 10,
                        num_attributes: int = 48, images_per_class: int = 60, test_seen_share: float = 0.2,
                        seed: int = 0) -> Path:
    """Write a small, fully synthetic ``att_splits.mat`` (no real data needed).

    Class attributes are drawn from a few latent "families" (classes of a family share most
    attributes, as real animal or bird classes do), in the 0-100 ``original_att`` convention,
    with ``att`` L2-normalised per class. Splits follow xlsa17: seen-class images split into
    trainval / test_seen by ``test_seen_share``, unseen images all in test_unseen. Used by
    ``zslkit demo`` and the tests; flagged surrogate.
    """
    rng = np.random.default_rng(seed)
    n_fam = max(2, num_classes // 8)
    fam_proto = rng.random((n_fam, num_attributes)) < 0.3
    fam = rng.integers(0, n_fam, num_classes)
    flip = rng.random((num_classes, num_attributes)) < 0.15
    binary = np.logical_xor(fam_proto[fam], flip)
    original = np.clip(100 * (0.8 * binary + 0.2 * rng.random((num_classes, num_attributes))), 0, 100)
    att = original / np.linalg.norm(original, axis=1, keepdims=True).clip(1e-12)
    unseen = np.sort(rng.choice(num_classes, size=num_unseen, replace=False))
    seen = np.setdiff1d(np.arange(num_classes), unseen)
    order = rng.permutation(num_classes * images_per_class)  # image ids shuffled across classes
    locs: dict[str, list[int]] = {"trainval": [], "test_seen": [], "test_unseen": []}
    for c in range(num_classes):
        ids = order[c * images_per_class:(c + 1) * images_per_class]
        if c in unseen:
            locs["test_unseen"].extend(ids)
        else:
            k = int(round(test_seen_share * ids.size))
            locs["test_seen"].extend(ids[:k])
            locs["trainval"].extend(ids[k:])
    names = [f"toyclass_{i:02d}" for i in range(num_classes)]
    p = Path(path)
    write_att_splits(p, att, {k: np.sort(np.array(v)) for k, v in locs.items()}, class_names=names,
                     original_att=original, surrogate=True)
    write_class_list(p.parent / "testclasses.txt", [names[i] for i in unseen])
    write_class_list(p.parent / "trainvalclasses.txt", [names[i] for i in seen])
    return p
