"""REAL data (AwA1, Lampert et al.'s features in ../shared/data/awa1-lampert): the importer's alignment.

These tests read the research-use files from ../shared (never copied into the repository) and fail,
not skip, when they are missing: CI has them.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import SHARED
from zslkit.build import FeatureBuildConfig, build_from_features
from zslkit.data.xlsa17 import load_xlsa17, read_class_list

AWA1 = SHARED.parent / "awa1-lampert"
META = SHARED / "AWA1"
WORDS = SHARED.parent / "word-vectors"
PROPOSED_UNSEEN = ["bat", "blue+whale", "bobcat", "dolphin", "giraffe", "horse", "rat", "seal", "sheep", "walrus"]


def real(path):
    if not path.exists():  # pragma: no cover - CI has ../shared
        pytest.fail(f"real AwA1 data not found at {path} (expected ../shared beside the checkout)")
    return path


@pytest.fixture(scope="module")
def proposed(tmp_path_factory):
    """The proposed split (xlsa17 AWA1 att_splits.mat) with the PHOG block (the smallest) and real word2vec."""
    out = tmp_path_factory.mktemp("awa1") / "proposed"
    rep = build_from_features(FeatureBuildConfig(
        features={"phog": str(real(AWA1 / "phog.npz"))}, labels=str(real(AWA1 / "labels.npy")),
        att_splits=str(real(META / "att_splits.mat")), class_embeddings=str(real(WORDS / "AWA2_class_w2v.npy")),
        class_embedding_names=str(real(WORDS / "AWA2_class_names.txt")), feature_name="lampert_phog",
        out=str(out), progress=False))
    return out, rep


def test_proposed_split_aligns_with_the_xlsa17_awa1_files(proposed):
    out, rep = proposed
    d = load_xlsa17(out)
    assert d.features.shape == (30475, 252) and d.feature_blocks == [("phog", 252)]
    assert {k: int(v.size) for k, v in d.splits.items() if k in ("trainval", "test_seen", "test_unseen")} == \
        {"trainval": 19832, "test_seen": 4958, "test_unseen": 5685}
    assert sorted(d.class_names[i] for i in d.unseen_classes) == PROPOSED_UNSEEN
    assert d.seen_classes.size == 40 and len(d.class_folds) == 3
    # only seen classes in trainval/test_seen, exactly the unseen ones in test_unseen
    assert set(d.labels[d.splits["test_seen"]]) <= set(d.seen_classes.tolist())
    assert set(d.labels[d.splits["test_unseen"]]) == set(d.unseen_classes.tolist())
    counts = np.bincount(d.labels, minlength=50)
    assert counts.sum() == 30475 and counts.min() == 92 and counts.max() == 1168
    np.testing.assert_array_equal(d.features, np.load(AWA1 / "phog.npz")["features"].astype(np.float32))
    assert json.loads((out / "BUILD.json").read_text())["features"]["blocks"][0]["stored_dtype"] == "float16"
    w2v = load_xlsa17(out, semantic="word2vec")
    assert w2v.semantic.shape == (50, 300)


def test_standard_split_from_the_original_release_files(tmp_path):
    """The original 40/10 split: classes.txt/testclasses.txt of the AwA release (numbered lines) and its
    continuous predicate matrix as a bare matrix with the predicate names."""
    rep = build_from_features(FeatureBuildConfig(
        features={"phog": str(AWA1 / "phog.npz")}, labels=str(AWA1 / "labels.npy"),
        classes=str(real(AWA1 / "original-classes.txt")), unseen=str(real(AWA1 / "original-testclasses.txt")),
        attributes=str(real(AWA1 / "original-predicate-matrix-continuous.txt")),
        attribute_names=str(real(AWA1 / "original-predicates.txt")), out=str(tmp_path / "std"), progress=False))
    d = load_xlsa17(tmp_path / "std", semantic="original_att")
    unseen = read_class_list(AWA1 / "original-testclasses.txt")
    assert sorted(d.class_names[i] for i in d.unseen_classes) == sorted(unseen) and len(unseen) == 10
    assert d.splits["test_unseen"].size == int(np.isin(d.labels, d.unseen_classes).sum())
    np.testing.assert_allclose(d.semantic, np.loadtxt(AWA1 / "original-predicate-matrix-continuous.txt"), rtol=1e-6)
    assert rep.num_attributes == 85 and (tmp_path / "std" / "attribute_names.txt").read_text().split()[:2] == \
        ["black", "white"]
