"""``ZSLData``: one dataset in memory, the contract every other part of zslkit relies on."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np

from zslkit.errors import ZSLDataError
from zslkit.evaluation.protocol import EvalSplit
from zslkit.utils.finite import all_finite
from zslkit.utils.seed import seed_error

#: Split names a ZSLData may hold. ``train``/``val`` are the *published* xlsa17 train_loc and
#: val_loc, kept for inspection only: their union contains every test_seen image.
SPLIT_NAMES = ("trainval", "test_seen", "test_unseen", "train", "val")
#: the splits the protocol uses: each must be non-empty, and no image may sit in two of them
REQUIRED_SPLITS = ("trainval", "test_seen", "test_unseen")
#: validation folds offered by the seeded partition (datasets without trainclassesK/valclassesK lists)
SEEDED_FOLDS = 5

log = logging.getLogger(__name__)


def check_blocks(blocks: Any, dim: int | None = None, where: str = "feature_blocks") -> list[tuple[str, int]] | None:
    """Validate a block list ``[(name, width), ...]`` (names unique non-empty strings, widths positive
    integers) and, with ``dim``, that the widths sum to it; returns it as a list of tuples."""
    if blocks is None:
        return None
    if isinstance(blocks, (str, bytes)) or not isinstance(blocks, (list, tuple)) or not blocks:
        raise ZSLDataError(f"{where} must be a non-empty list of (name, width) pairs, got {blocks!r}")
    out: list[tuple[str, int]] = []
    for i, b in enumerate(blocks):
        if not isinstance(b, (list, tuple)) or len(b) != 2:
            raise ZSLDataError(f"{where}[{i}] must be a (name, width) pair, got {b!r}")
        name, width = b
        if not isinstance(name, str) or not name:
            raise ZSLDataError(f"{where}[{i}]: block name must be a non-empty string, got {name!r}")
        if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 1:
            raise ZSLDataError(f"{where}[{i}] ({name!r}): width must be an integer >= 1, got {width!r}")
        out.append((name, int(width)))
    names = [n for n, _ in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ZSLDataError(f"{where}: duplicate block names {dup}")
    if dim is not None and sum(w for _, w in out) != dim:
        raise ZSLDataError(f"{where}: widths {[w for _, w in out]} sum to {sum(w for _, w in out)}, but the "
                           f"features have {dim} dimensions")
    return out


def check_split_indices(splits: dict[str, Any], n: int, name: Callable[[str], str] = lambda k: f"split {k!r}"
                        ) -> dict[str, np.ndarray]:
    """Validate split index arrays (0-based) of a dataset of ``n`` images; returns them as int64.

    Every split: integer indices in ``[0, n)``, none repeated. The :data:`REQUIRED_SPLITS`: present,
    non-empty and pairwise disjoint (an image in both ``trainval`` and ``test_seen`` is a test leak).
    ``name(k)`` names split ``k`` in messages (``"att_splits.mat:trainval_loc"`` for files).
    """
    for k in REQUIRED_SPLITS:
        if k not in splits:
            raise ZSLDataError(f"{name(k)} is missing (have {sorted(splits)})")
    checked = {}
    for k, idx in splits.items():
        idx = np.asarray(idx).ravel()
        if idx.size and not np.issubdtype(idx.dtype, np.integer):
            raise ZSLDataError(f"{name(k)}: indices must be integers, got dtype {idx.dtype}")
        idx = idx.astype(np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise ZSLDataError(f"{name(k)}: index out of range [0, {n}): found [{idx.min()}, {idx.max()}]")
        uniq, counts = np.unique(idx, return_counts=True)
        if uniq.size != idx.size:
            dup = uniq[counts > 1]
            raise ZSLDataError(f"{name(k)}: {idx.size - uniq.size} duplicate indices (e.g. image {dup[0]} appears "
                               f"{counts[counts > 1][0]} times); each image belongs to a split once")
        checked[k] = idx
    for k in REQUIRED_SPLITS:
        if checked[k].size == 0:
            need = {"trainval": "training images of the seen classes", "test_seen": "seen-class test images (GZSL "
                    "S, H and the calibration need them)", "test_unseen": "unseen-class test images"}[k]
            raise ZSLDataError(f"{name(k)} is empty: the protocol needs {need}")
    for i, a in enumerate(REQUIRED_SPLITS):
        for b in REQUIRED_SPLITS[i + 1:]:
            both = np.intersect1d(checked[a], checked[b], assume_unique=True)
            if both.size:
                leak = " (a test leak: test images used for training)" if a == "trainval" else ""
                raise ZSLDataError(f"{name(a)} and {name(b)} share {both.size} images{leak}, e.g. image {both[0]}; "
                                   "the splits must be disjoint")
    return checked


@dataclass(frozen=True)
class ValidationSplit:
    """Images for model selection, built from seen classes only (never from test images).

    The seen classes are partitioned into ``train_classes`` and ``val_classes`` (xlsa17's
    ``trainclassesK.txt`` / ``valclassesK.txt``, or a seeded partition). A model is fitted on
    ``train_idx`` (images of train classes, minus a held-out share) and evaluated as a small ZSL
    problem: ``val_classes`` play the unseen classes, the held-out images of train classes the
    seen test images (needed to choose the GZSL calibration gamma).
    """

    train_idx: np.ndarray
    eval: EvalSplit
    train_classes: np.ndarray
    val_classes: np.ndarray
    source: str  # e.g. "xlsa17 class lists, fold 1" or "seeded partition (seed 0)"


@dataclass(repr=False)
class ZSLData:
    """A ZSL dataset: features, labels, classes, a class semantic matrix and splits.

    Attributes:
        features: (N, D) float32 image features.
        labels: (N,) int64 class ids in ``[0, C)``.
        class_names: C class names (row order of ``semantic``).
        semantic: (C, K) float32 class semantic matrix (attributes, word vectors, VGSE...).
        splits: name -> int64 0-based indices into ``features``; must contain ``trainval``,
            ``test_seen`` and ``test_unseen``.
        semantic_name: what ``semantic`` is ("att", "word2vec", a file name, ...).
        class_folds: list of (train_class_ids, val_class_ids) partitions of the seen classes
            (xlsa17 ``trainclassesK``/``valclassesK``); empty if the dataset has none.
        surrogate: True when features are synthetic (numbers on them are not benchmark results).
        image_files: optional N image paths.
        provenance: where everything came from (paths, checksums, notes, warnings).
        feature_blocks: optional ``[(name, width), ...]``: the feature vector is a concatenation of
            blocks (e.g. several bag-of-words histograms), consecutive column ranges whose widths sum
            to D; per-block transforms (:mod:`zslkit.features`) use it. None = one block.

    ``seen_classes`` are the classes of ``trainval`` and ``unseen_classes`` those of
    ``test_unseen``; both are derived, and validated to be disjoint.
    """

    features: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    semantic: np.ndarray
    splits: dict[str, np.ndarray]
    semantic_name: str = "att"
    class_folds: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    surrogate: bool = False
    image_files: list[str] | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    feature_blocks: list[tuple[str, int]] | None = None

    def __post_init__(self) -> None:
        self.features = np.asarray(self.features)
        if self.features.ndim != 2:
            raise ZSLDataError(f"features must be 2-D (N x D), got shape {self.features.shape}")
        if not np.issubdtype(self.features.dtype, np.number) or np.issubdtype(self.features.dtype,
                                                                                np.complexfloating):
            raise ZSLDataError(f"features must be real numbers, got dtype {self.features.dtype}")
        if self.features.dtype != np.float32:
            self.features = self.features.astype(np.float32)
        n = self.features.shape[0]
        self.labels = np.asarray(self.labels)
        if self.labels.shape != (n,):
            raise ZSLDataError(f"labels must have shape ({n},) to match features {self.features.shape}, "
                               f"got {self.labels.shape}")
        self.labels = self.labels.astype(np.int64)
        self.class_names = [str(c) for c in self.class_names]
        c = len(self.class_names)
        if len(set(self.class_names)) != c:
            dup = sorted({x for x in self.class_names if self.class_names.count(x) > 1})
            raise ZSLDataError(f"duplicate class names: {dup[:10]}")
        if n and (self.labels.min() < 0 or self.labels.max() >= c):
            raise ZSLDataError(f"labels must lie in [0, {c}) for {c} classes, found range "
                               f"[{self.labels.min()}, {self.labels.max()}]")
        self.semantic = self._check_semantic(self.semantic, c, self.semantic_name)
        self.feature_blocks = check_blocks(self.feature_blocks, self.features.shape[1], "feature_blocks")
        self.splits = check_split_indices(self.splits, n)
        if not all_finite(self.features):
            bad = np.argwhere(~np.isfinite(self.features))
            raise ZSLDataError(f"features contain {len(bad)} NaN/inf values (first at image {bad[0][0]}, "
                               f"dimension {bad[0][1]})")
        seen, unseen = self.seen_classes, self.unseen_classes
        both = np.intersect1d(seen, unseen)
        if both.size:
            names = [self.class_names[i] for i in both[:10]]
            raise ZSLDataError(f"classes {names} appear both in trainval (seen) and test_unseen (unseen)")
        ts = np.setdiff1d(np.unique(self.labels[self.splits["test_seen"]]), seen)
        if ts.size:
            raise ZSLDataError(f"test_seen contains classes absent from trainval: "
                               f"{[self.class_names[i] for i in ts[:10]]}")
        if seen.size == 0 or unseen.size == 0:
            raise ZSLDataError(f"need at least one seen and one unseen class, got {seen.size} seen and "
                               f"{unseen.size} unseen")
        for i, (tr, va) in enumerate(self.class_folds):
            tr, va = np.asarray(tr, dtype=np.int64), np.asarray(va, dtype=np.int64)
            if np.intersect1d(tr, va).size or np.setdiff1d(np.union1d(tr, va), seen).size:
                raise ZSLDataError(f"validation fold {i + 1}: train/val classes must partition the seen classes")
            self.class_folds[i] = (tr, va)

    @staticmethod
    def _check_semantic(sem: np.ndarray, c: int, name: str) -> np.ndarray:
        sem = np.asarray(sem)
        if sem.ndim != 2:
            raise ZSLDataError(f"semantic matrix {name!r} must be 2-D (classes x dims), got shape {sem.shape}")
        if sem.shape[0] != c:
            raise ZSLDataError(f"semantic matrix {name!r} has {sem.shape[0]} rows, expected one per class ({c})")
        if not np.issubdtype(sem.dtype, np.number) or np.issubdtype(sem.dtype, np.complexfloating):
            raise ZSLDataError(f"semantic matrix {name!r} must be real numbers, got dtype {sem.dtype}")
        if sem.shape[1] == 0:
            raise ZSLDataError(f"semantic matrix {name!r} has 0 dimensions ({sem.shape[0]} x 0): one value per "
                               "class at least is needed")
        if not np.all(np.isfinite(sem)):
            rows = np.unique(np.argwhere(~np.isfinite(sem))[:, 0])
            raise ZSLDataError(f"semantic matrix {name!r} has NaN/inf for classes {rows[:10].tolist()}")
        return sem.astype(np.float32)

    # ----------------------------------------------------------------- derived views
    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def seen_classes(self) -> np.ndarray:
        """Sorted ids of classes with trainval images."""
        return np.unique(self.labels[self.splits["trainval"]])

    @property
    def unseen_classes(self) -> np.ndarray:
        """Sorted ids of classes with test_unseen images."""
        return np.unique(self.labels[self.splits["test_unseen"]])

    def test_split(self) -> EvalSplit:
        return EvalSplit(seen_idx=self.splits["test_seen"], unseen_idx=self.splits["test_unseen"],
                         seen_classes=self.seen_classes, unseen_classes=self.unseen_classes, name="test")

    def with_semantic(self, semantic: np.ndarray, name: str) -> "ZSLData":
        """A copy sharing features/splits with another class semantic matrix (C x K')."""
        return replace(self, semantic=self._check_semantic(semantic, self.num_classes, name), semantic_name=name,
                       provenance={**self.provenance, "semantic": name})

    def validation_split(self, fold: int = 1, holdout: float = 0.2, seed: int = 0) -> ValidationSplit:
        """Validation images for model selection, from seen classes only.

        Args:
            fold: 1-based class fold (xlsa17 ships 3). Without class lists, a seeded
                partition holding out ``max(1, round(0.2 * |seen|))`` seen classes is used
                (fold changes the seed; folds 1..:data:`SEEDED_FOLDS`), and the split's ``source``
                says so. Any other fold is a :class:`ZSLDataError`.
            holdout: share of each train class's trainval images held out as validation
                "seen test" images (for choosing gamma), like xlsa17's 80/20 test_seen split.
            seed: seed of the held-out draw.

        The published ``train_loc``/``val_loc`` are deliberately not used: their union
        contains all test_seen images.
        """
        seen = self.seen_classes
        if isinstance(fold, bool) or not isinstance(fold, (int, np.integer)):
            raise ZSLDataError(f"validation fold must be an integer, got {fold!r}")
        if self.class_folds:
            if not 1 <= fold <= len(self.class_folds):
                raise ZSLDataError(f"validation fold must be in 1..{len(self.class_folds)} (the dataset's "
                                   f"trainclassesK/valclassesK lists), got {fold}")
            tr_cls, va_cls = self.class_folds[fold - 1]
            source = f"xlsa17 class lists, fold {fold}"
        else:
            if not 1 <= fold <= SEEDED_FOLDS:
                raise ZSLDataError(f"validation fold must be in 1..{SEEDED_FOLDS}, got {fold}: the dataset has no "
                                   "trainclassesK/valclassesK lists, so its folds are seeded partitions 1.."
                                   f"{SEEDED_FOLDS} of the seen classes")
            if seed_error(seed):
                raise ZSLDataError(seed_error(seed))
            rng = np.random.default_rng([seed, fold])
            n_val = max(1, int(round(0.2 * seen.size)))
            if seen.size < 2:
                raise ZSLDataError("need at least 2 seen classes to build a validation split")
            va_cls = np.sort(rng.choice(seen, size=n_val, replace=False))
            tr_cls = np.setdiff1d(seen, va_cls)
            source = f"seeded partition of seen classes (seed {seed}, fold {fold}): no class lists found"
        tv = self.splits["trainval"]
        tv_labels = self.labels[tv]
        rng = np.random.default_rng([seed, fold, 1])
        train_idx, held_idx = [], []
        for c in tr_cls:
            idx = tv[tv_labels == c]
            idx = idx[rng.permutation(idx.size)]
            k = int(round(holdout * idx.size)) if idx.size >= 2 else 0
            held_idx.append(idx[:k])
            train_idx.append(idx[k:])
        val_unseen = tv[np.isin(tv_labels, va_cls)]
        split = EvalSplit(seen_idx=np.sort(np.concatenate(held_idx)) if held_idx else np.zeros(0, np.int64),
                          unseen_idx=np.sort(val_unseen), seen_classes=np.asarray(tr_cls),
                          unseen_classes=np.asarray(va_cls), name=f"val{fold}")
        return ValidationSplit(train_idx=np.sort(np.concatenate(train_idx)), eval=split,
                               train_classes=np.asarray(tr_cls), val_classes=np.asarray(va_cls), source=source)

    def check_learnable(self) -> list[str]:
        """Degenerate input that would train at chance without a word: features or class semantics that carry
        nothing. Raises :class:`ZSLDataError` where nothing can be learned (every trainval image with the same
        feature vector; every seen, or every unseen, class with the same semantic row); logs a warning naming
        the images or classes for the rest (all-zero feature vectors; all test images of a split identical;
        unseen classes sharing a row; classes whose row is all zero) and returns the warnings.

        Cheap: a few passes over the features (column max/min of trainval, one ``any`` per row) and one
        ``np.unique`` over the (small) semantic matrix. Called where a run starts (``pipeline.train``).
        """
        where = self.provenance.get("root") or "the dataset"
        warnings: list[str] = []

        def names(ids) -> str:
            ids = [int(i) for i in ids]
            shown = [self.class_names[i] for i in ids[:10]]
            return f"{shown}{f' and {len(ids) - 10} more' if len(ids) > 10 else ''}"

        tv = self.splits["trainval"]
        x = self.features[tv]
        if np.array_equal(x.max(axis=0), x.min(axis=0)):
            what = "all zero" if not x[0].any() else "one constant vector"
            raise ZSLDataError(f"{where}: features of all {tv.size} trainval images are identical ({what}): nothing "
                               "can be learned from them (a failed feature extraction?)")
        zero_rows = np.flatnonzero(~self.features.any(axis=1))
        if zero_rows.size:
            warnings.append(f"{where}: {zero_rows.size} of {self.features.shape[0]} images have all-zero features "
                            f"(e.g. image {int(zero_rows[0])}); they carry no information")
        for split in ("test_seen", "test_unseen"):
            t = self.features[self.splits[split]]
            if t.shape[0] > 1 and np.array_equal(t.max(axis=0), t.min(axis=0)):
                warnings.append(f"{where}: features of all {t.shape[0]} {split} images are identical: every one "
                                "gets the same prediction")
        sem = self.semantic
        for kind, classes in (("seen", self.seen_classes), ("unseen", self.unseen_classes)):
            if classes.size > 1 and np.array_equal(sem[classes].max(axis=0), sem[classes].min(axis=0)):
                raise ZSLDataError(f"semantic matrix {self.semantic_name!r}: all {classes.size} {kind} classes have "
                                   f"the same row ({names(classes)}): they cannot be told apart, nothing can be "
                                   "learned")
        zero = np.flatnonzero(~sem.any(axis=1))
        zero = zero[np.isin(zero, np.concatenate([self.seen_classes, self.unseen_classes]))]
        if zero.size:
            warnings.append(f"semantic matrix {self.semantic_name!r}: classes {names(zero)} have an all-zero row "
                            "(no semantic information; cosine scores with it are 0)")
        unseen = self.unseen_classes
        _, inverse, counts = np.unique(sem[unseen], axis=0, return_inverse=True, return_counts=True)
        for g in np.flatnonzero(counts > 1):
            same = unseen[inverse.ravel() == g]
            warnings.append(f"semantic matrix {self.semantic_name!r}: unseen classes {names(same)} "
                            "have identical rows: they cannot be told apart (at most one of them is ever predicted)")
        for w in warnings:
            log.warning("%s", w)
        return warnings

    def __repr__(self) -> str:
        """A one-line summary (never the arrays: AWA2's features are 37k x 2048)."""
        return (f"ZSLData({self.features.shape[0]} images x {self.features.shape[1]} features, "
                f"{len(self.class_names)} classes ({len(self.seen_classes)} seen, {len(self.unseen_classes)} unseen), "
                f"semantic {self.semantic_name!r} {self.semantic.shape[0]} x {self.semantic.shape[1]}"
                f"{', SURROGATE' if self.surrogate else ''})")

    def summary(self) -> dict[str, Any]:
        """Sizes and provenance, for printing and for run directories."""
        counts = np.bincount(self.labels, minlength=self.num_classes)
        present = counts[counts > 0]
        return {
            "surrogate": self.surrogate,
            "num_images": int(self.features.shape[0]),
            "feature_dim": int(self.features.shape[1]),
            "num_classes": self.num_classes,
            "num_seen": int(self.seen_classes.size),
            "num_unseen": int(self.unseen_classes.size),
            "semantic": self.semantic_name,
            "semantic_dim": int(self.semantic.shape[1]),
            "splits": {k: int(v.size) for k, v in self.splits.items()},
            "images_per_class": {"min": int(present.min()), "median": float(np.median(present)),
                                 "max": int(present.max())} if present.size else {},
            "validation_folds": len(self.class_folds),
            "feature_blocks": None if self.feature_blocks is None else [list(b) for b in self.feature_blocks],
            "provenance": self.provenance,
        }
