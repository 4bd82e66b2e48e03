"""A fixed, small subset of the REAL AwA1 data (Lampert features, standard split) for CI regression tests.

The first ``PER_CLASS`` images of every class (in the file order of ``../shared/data/awa1-lampert``),
all five feature blocks, imported through ``zslkit data build --features`` (its library path) with the
original release's class lists and continuous predicate matrix. The same subset every time: the
headline models run on it in seconds, deterministically, and ``benchmarks/bench_real_awa1.py ci``
records their figures in ``benchmarks/results/real_awa1_ci.json``, which the tests must reproduce.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

AWA1 = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "awa1-lampert"
BLOCKS = ("sift", "surf", "lss", "rgsift", "phog")
PER_CLASS = 40
#: the transform of the subset runs: the full benchmark's, with fewer landmarks (the subset has 1,600
#: training images)
TRANSFORM = "expchi2(norm=l1, n_components=100)"
#: the headline models of the standard split and their fixed settings (no search: fast and deterministic)
HEADLINE = {"dap": "dap(C=1.0)", "iap": "iap(C=1.0)", "eszsl": "eszsl(alpha=1.0, lam=1.0)"}


def subset_rows(labels: np.ndarray, per_class: int = PER_CLASS) -> np.ndarray:
    """Indices of the first ``per_class`` images of every class, in file order."""
    return np.sort(np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in np.unique(labels)]))


def build_subset(out: Path) -> Path:
    """Write the subset's feature blocks and labels under ``out/in`` and import them as a standard-split
    dataset directory ``out/ds``; returns it."""
    from zslkit.build import FeatureBuildConfig, build_from_features

    missing = [p for p in [AWA1 / "labels.npy", *(AWA1 / f"{b}.npz" for b in BLOCKS)] if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"REAL AwA1 data not found: {missing[0]} (expected ../shared beside the checkout)")
    labels = np.load(AWA1 / "labels.npy")
    rows = subset_rows(labels)
    src = out / "in"
    src.mkdir(parents=True, exist_ok=True)
    np.save(src / "labels.npy", labels[rows])
    files = {}
    for b in BLOCKS:
        with np.load(AWA1 / f"{b}.npz") as z:
            np.save(src / f"{b}.npy", z["features"][rows])
        files[b] = str(src / f"{b}.npy")
    build_from_features(FeatureBuildConfig(
        features=files, labels=str(src / "labels.npy"), classes=str(AWA1 / "original-classes.txt"),
        unseen=str(AWA1 / "original-testclasses.txt"), attributes=str(AWA1 / "original-predicate-matrix-continuous.txt"),
        attribute_names=str(AWA1 / "original-predicates.txt"), feature_name="lampert_bow_subset", out=str(out / "ds"),
        progress=False))
    return out / "ds"


def headline(ds: Path) -> dict[str, float]:
    """ZSL T1 of every headline model on the subset (semantic: the continuous predicate matrix). The data is
    loaded once, so the transform fitted on its trainval images is computed once and shared; gamma is fixed
    (0: ZSL T1 does not depend on it), so no validation search runs."""
    from zslkit.data.xlsa17 import load_xlsa17
    from zslkit.pipeline import TrainConfig, train

    data = load_xlsa17(ds, semantic="original_att")
    return {m: float(train(TrainConfig(data=str(ds), model=spec, semantic="original_att", transform=TRANSFORM,
                                       tune=False, gamma=0.0, seed=0), data=data).metrics.T1)
            for m, spec in HEADLINE.items()}
