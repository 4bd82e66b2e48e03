"""Lampert et al.'s AwA1 bag-of-words features (``../shared/data/awa1-lampert/``) as a :class:`ZSLData`.

Read directly with numpy (the files are never copied into the repository). The **standard split**
of the original papers: the images of the 40 classes of ``original-trainclasses.txt`` are seen,
those of the 10 classes of ``original-testclasses.txt`` unseen. The class matrix is the continuous
predicate matrix (``original-predicate-matrix-continuous.txt``, 50 x 85, 4 entries -1 = missing, as
published and as xlsa17's ``original_att``).

ZSLData requires seen-class test images (``test_seen``, for GZSL and the calibration). The
standard split has none, so a fixed share (``test_seen_fraction``, 20 %) of each seen class's images
is held out with a fixed seed as ``test_seen``; the seen-class classifiers are trained on the other
80 % (19,436 of the 24,295 seen-class images). The papers trained on all seen-class images; the
ZSL numbers (unseen classes only) do not use ``test_seen`` at all.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: the five feature types of the release present here, in the column order of the concatenation
BLOCK_NAMES = ("sift", "surf", "lss", "rgsift", "phog")
DEFAULT_ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "awa1-lampert"


def _lines(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]


def load_awa1_standard(root: str | Path = DEFAULT_ROOT, blocks: tuple[str, ...] = BLOCK_NAMES,
                       test_seen_fraction: float = 0.2, seed: int = 0):
    """The AwA1 standard split as a ZSLData (features float32, ``feature_blocks`` set).

    Raises:
        ZSLDataError: a file is missing (naming it) or the files disagree.
    """
    from zslkit.data.zsldata import ZSLData
    from zslkit.errors import ZSLDataError

    root = Path(root)
    need = [f"{b}.npz" for b in blocks] + ["labels.npy", "original-classes.txt", "original-trainclasses.txt",
                                           "original-testclasses.txt", "original-predicate-matrix-continuous.txt"]
    missing = [n for n in need if not (root / n).is_file()]
    if missing:
        raise ZSLDataError(f"AwA1 Lampert features not found: {root} lacks {missing} (expected the shared data "
                           "folder ../shared/data/awa1-lampert beside the checkout)")
    parts, widths = [], []
    for b in blocks:
        with np.load(root / f"{b}.npz") as z:
            a = z["features"]
        parts.append(a)
        widths.append(a.shape[1])
    n = parts[0].shape[0]
    if any(p.shape[0] != n for p in parts):
        raise ZSLDataError(f"feature files have different image counts: {[p.shape[0] for p in parts]}")
    features = np.empty((n, sum(widths)), dtype=np.float32)
    col = 0
    for p in parts:  # one block at a time: no float64 or second full-size copy
        features[:, col:col + p.shape[1]] = p
        col += p.shape[1]
    del parts
    labels = np.load(root / "labels.npy").astype(np.int64) - 1  # 1-based in the file
    names = [ln.split()[1] for ln in _lines(root / "original-classes.txt")]
    train_cls = np.array([names.index(c) for c in _lines(root / "original-trainclasses.txt")])
    test_cls = np.array([names.index(c) for c in _lines(root / "original-testclasses.txt")])
    semantic = np.loadtxt(root / "original-predicate-matrix-continuous.txt")
    rng = np.random.default_rng(seed)
    trainval, test_seen = [], []
    for c in np.sort(train_cls):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(idx.size)]
        k = int(round(test_seen_fraction * idx.size))
        test_seen.append(idx[:k])
        trainval.append(idx[k:])
    splits = {"trainval": np.sort(np.concatenate(trainval)), "test_seen": np.sort(np.concatenate(test_seen)),
              "test_unseen": np.flatnonzero(np.isin(labels, test_cls))}
    return ZSLData(features=features, labels=labels, class_names=names, semantic=semantic, splits=splits,
                   semantic_name="predicate-matrix-continuous",
                   feature_blocks=list(zip(blocks, widths)),
                   provenance={"root": str(root), "split": "standard (Lampert et al.): 40 seen / 10 unseen classes",
                               "notes": [f"test_seen: {test_seen_fraction:.0%} of each seen class's images held out "
                                         f"(seed {seed}); the standard split has no seen-class test images"]})
