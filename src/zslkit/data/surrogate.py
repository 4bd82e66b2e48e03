"""Surrogate xlsa17 datasets: the real splits and classes, synthetic ResNet-like features.

The real ``res101.mat`` files cannot be fetched here, so tests and relative comparisons run
on a *surrogate*: a dataset directory in the published layout whose ``att_splits.mat`` and
class lists are byte-for-byte the real ones, and whose ``res101.mat`` holds synthetic
features. **Numbers measured on a surrogate are not benchmark results**; every file written
here is flagged (``zslkit_surrogate`` in the .mat files, ``SURROGATE.json`` in the directory)
and every reader propagates the flag.

Generative model of one image ``n`` of class ``c`` (all maps fixed by the seed):

* attribute presence ``z_n = A_c * m_n + sigma_p * eps`` where ``A_c`` in [0, 1] are the real
  class attributes (``original_att / 100``, or min-max scaled ``att``), ``m_n`` a Bernoulli
  mask (a part is not always visible) and ``eps`` Gaussian scaled by each attribute's spread
  across classes; the attribute block is rescaled to a fixed energy (``attr_energy``) so that
  datasets with sparse attributes (SUN) are not made artificially hard;
* nuisance factors ``u_n ~ N(0, I)`` shared by all classes (pose, background, light);
* class-private factors ``v_c ~ N(0, I)`` fixed per class: appearance the attributes do not
  describe, which is what makes unseen classes harder than seen ones;
* ``x_n = relu(W2 tanh(W1 [z_n; u_n; v_c] + b1) + b2 + sigma_x * eps')``: a fixed random
  two-layer map to ``feature_dim`` non-negative dimensions, like pooled ResNet features.

The per-class image counts are not in ``att_splits.mat`` (labels live in ``res101.mat``), so
they are drawn with the seed (mildly imbalanced, every class non-empty) while the split sizes
are exactly the published ones. The surrogate word vectors (``word2vec_splits.mat``) are
300-d vectors correlated with the attributes only through ``rho``, as real word vectors are,
plus a direction shared by all classes (real class-name vectors are far from orthogonal).
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

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
from zslkit.errors import ZSLDataError
from zslkit.utils.atomic import atomic_write_json

log = logging.getLogger(__name__)

#: number of unseen classes of the known xlsa17 datasets, by number of classes
KNOWN_UNSEEN = {50: 10, 200: 50, 717: 72, 102: 20, 32: 12}
CLASS_LIST_FILES = ("allclasses.txt", "trainvalclasses.txt", "testclasses.txt", "trainclasses1.txt",
                    "trainclasses2.txt", "trainclasses3.txt", "valclasses1.txt", "valclasses2.txt",
                    "valclasses3.txt")


@dataclass
class SurrogateConfig:
    """Knobs of the generative model (defaults give realistic, non-trivial difficulty)."""

    feature_dim: int = 2048
    hidden_dim: int = 512
    n_nuisance: int = 16
    n_private: int = 16
    attr_keep: float = 0.8  # probability an attribute is visible in a given image
    attr_noise: float = 0.5  # per-image attribute noise, in units of the attribute's std across classes
    attr_energy: float = 7.0  # norm of the class-centred attribute block (dataset-independent signal level)
    nuisance_weight: float = 0.6
    private_weight: float = 0.7
    feature_noise: float = 0.25
    imbalance: float = 0.3  # log-normal sigma of per-class image counts
    w2v_dim: int = 300
    w2v_rho: float = 0.85  # share of attribute signal in the surrogate word vectors
    w2v_common: float = 0.5  # weight of a direction shared by all classes (real word vectors have one)


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


def synth_features(labels: np.ndarray, attrs01: np.ndarray, cfg: SurrogateConfig, rng: np.random.Generator,
                   chunk: int = 8192) -> np.ndarray:
    """Synthetic non-negative features (N x feature_dim float32) for 0-based ``labels``."""
    c, k = attrs01.shape
    private = rng.standard_normal((c, cfg.n_private))
    d_in = k + cfg.n_nuisance + cfg.n_private
    w1 = rng.standard_normal((d_in, cfg.hidden_dim)) / np.sqrt(d_in)
    b1 = 0.1 * rng.standard_normal(cfg.hidden_dim)
    w2 = rng.standard_normal((cfg.hidden_dim, cfg.feature_dim)) / np.sqrt(cfg.hidden_dim)
    b2 = 0.3 * rng.standard_normal(cfg.feature_dim) + 0.2
    # Datasets differ wildly in attribute scale and sparsity (SUN's are votes averaging 0.08,
    # AWA2's strengths average 21/100), so the attribute block is rescaled to a fixed class-centred
    # energy and its noise is relative to each attribute's spread: the signal-to-noise ratio is
    # then comparable across datasets instead of an accident of their units.
    centred = attrs01 - attrs01.mean(axis=0, keepdims=True)
    a_scale = cfg.attr_energy / max(float(np.sqrt(np.mean(np.sum(centred ** 2, axis=1)))), 1e-12)
    a_std = attrs01.std(axis=0)
    out = np.empty((labels.size, cfg.feature_dim), dtype=np.float32)
    for s in range(0, labels.size, chunk):
        y = labels[s:s + chunk]
        m = y.size
        z = attrs01[y] * (rng.random((m, k)) < cfg.attr_keep) + cfg.attr_noise * a_std * rng.standard_normal((m, k))
        u = rng.standard_normal((m, cfg.n_nuisance))
        h = np.concatenate([a_scale * z, cfg.nuisance_weight * u, cfg.private_weight * private[y]], axis=1)
        x = np.tanh(h @ w1 + b1) @ w2 + b2 + cfg.feature_noise * rng.standard_normal((m, cfg.feature_dim))
        out[s:s + m] = np.maximum(x, 0.0)
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


def make_surrogate(att_splits: str | os.PathLike, out_dir: str | os.PathLike, seed: int = 0,
                   config: SurrogateConfig | None = None, n_unseen: int | None = None,
                   overwrite: bool = False) -> Path:
    """Write a surrogate xlsa17 dataset directory built on a real ``att_splits.mat``.

    Writes ``res101.mat`` (synthetic, flagged), a byte copy of ``att_splits.mat`` and of the
    class lists found beside it, ``word2vec_splits.mat`` (surrogate word vectors) and
    ``SURROGATE.json`` describing the generation. Returns ``out_dir``.
    """
    cfg = config or SurrogateConfig()
    src = Path(att_splits)
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not overwrite:
        if (out / "SURROGATE.json").is_file():
            raise ZSLDataError(f"{out}: already holds a surrogate dataset; pass overwrite=True (--overwrite) to replace it")
        raise ZSLDataError(f"{out}: directory is not empty; refusing to write a dataset into it")
    a = read_att_splits(src)
    if a.att is None:
        raise ZSLDataError(f"{src}: no 'att' field; a surrogate dataset is built from a real att_splits.mat's "
                           "attributes (this one has none)")
    c = a.att.shape[0]
    for k in ("trainval", "test_seen", "test_unseen"):
        if k not in a.locs:
            raise ZSLDataError(f"{src}: field '{k}_loc' is missing")
    rng = np.random.default_rng(seed)
    unseen, unseen_source = _resolve_unseen(src, a.class_names, c, n_unseen, rng)
    labels = assign_labels(a.locs, c, unseen, rng, cfg.imbalance)
    attrs01 = class_attributes_01(a.att, a.original_att)
    feats = synth_features(labels, attrs01, cfg, rng)
    w2v = surrogate_word_vectors(attrs01, cfg, rng)
    names = a.class_names or [f"class_{i + 1:03d}" for i in range(c)]
    files = [f"surrogate/{names[y]}/img_{i:06d}.jpg" for i, y in enumerate(labels)]

    out.mkdir(parents=True, exist_ok=True)
    write_res101(out / "res101.mat", feats, labels, image_files=files, surrogate=True)
    if src.resolve() != (out / "att_splits.mat").resolve():
        shutil.copyfile(src, out / "att_splits.mat")
    raw = load_mat(src, ["allclasses_names"])
    write_att_splits(out / "word2vec_splits.mat", w2v, {k: v for k, v in a.locs.items()},
                     class_names=a.class_names, surrogate=True)
    copied = []
    for name in CLASS_LIST_FILES:
        f = src.parent / name
        if f.is_file():
            shutil.copyfile(f, out / name)
            copied.append(name)
    if "testclasses.txt" not in copied:
        seen = np.setdiff1d(np.arange(c), unseen)
        write_class_list(out / "testclasses.txt", [names[i] for i in unseen])
        write_class_list(out / "trainvalclasses.txt", [names[i] for i in seen])
    atomic_write_json(out / "SURROGATE.json", {
        "surrogate": True,
        "warning": "Synthetic features on real xlsa17 splits: numbers measured on this directory are NOT "
                   "benchmark results for the real dataset.",
        "source_att_splits": str(src.resolve()),
        "source_sha256": sha256_file(src),
        "seed": seed,
        "config": asdict(cfg),
        "unseen_classes": unseen_source,
        "class_lists_copied": copied,
        "has_class_names": "allclasses_names" in raw,
        "num_images": int(labels.size),
        "splits": {k: int(v.size) for k, v in a.locs.items()},
    })
    log.info("wrote surrogate dataset to %s", out)
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
