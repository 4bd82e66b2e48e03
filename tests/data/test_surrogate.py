"""Surrogate datasets keep the real splits and classes exactly, and are flagged everywhere."""

import json

import numpy as np
import pytest

from tests.conftest import shared_file
from zslkit.data import load_xlsa17, read_att_splits
from zslkit.data.surrogate import SurrogateConfig, _apportion, make_surrogate
from zslkit.errors import ZSLDataError

SMALL = SurrogateConfig(feature_dim=32, hidden_dim=64)


@pytest.mark.parametrize("dataset, fname, n_seen, n_unseen", [
    ("AWA2", "att_splits.mat", 40, 10),
    ("SUN", "att_splits.mat", 645, 72),
    ("CUB", "sent_splits.mat", 150, 50),
])
def test_surrogate_matches_real_splits(tmp_path, dataset, fname, n_seen, n_unseen):
    src = shared_file(dataset, fname)
    out = make_surrogate(src, tmp_path / dataset, seed=1, config=SMALL)
    real = read_att_splits(src)
    d = load_xlsa17(out, splits="att_splits.mat")
    for k, v in real.locs.items():
        np.testing.assert_array_equal(d.splits[k], v)
    assert d.seen_classes.size == n_seen and d.unseen_classes.size == n_unseen
    assert d.features.shape == (sum(real.locs[k].size for k in ("trainval", "test_seen", "test_unseen")), 32)
    assert d.features.min() >= 0  # non-negative like pooled ResNet features
    assert d.surrogate
    meta = json.loads((out / "SURROGATE.json").read_text())
    assert meta["surrogate"] is True and "NOT" in meta["warning"]
    # the real unseen classes are kept where the class list exists
    test_names = (src.parent / "testclasses.txt").read_text().split()
    assert sorted(d.class_names[i] for i in d.unseen_classes) == sorted(test_names)
    # every seen class has test_seen images (as in xlsa17)
    assert np.unique(d.labels[d.splits["test_seen"]]).size == n_seen
    w = load_xlsa17(out, semantic="word2vec")
    assert w.semantic.shape == (len(d.class_names), 300) and w.surrogate


def test_surrogate_deterministic_and_seed_dependent(tmp_path):
    src = shared_file("AWA2", "att_splits.mat")
    a = load_xlsa17(make_surrogate(src, tmp_path / "a", seed=3, config=SMALL))
    b = load_xlsa17(make_surrogate(src, tmp_path / "b", seed=3, config=SMALL))
    c = load_xlsa17(make_surrogate(src, tmp_path / "c", seed=4, config=SMALL))
    np.testing.assert_array_equal(a.features, b.features)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.features, c.features)


def test_surrogate_without_class_lists_draws_unseen(tmp_path):
    out = make_surrogate(shared_file("FLO", "att_splits.mat"), tmp_path / "flo", seed=0, config=SMALL)
    d = load_xlsa17(out)
    assert d.unseen_classes.size == 20  # FLO's known count
    assert "drawn with the seed" in json.loads((out / "SURROGATE.json").read_text())["unseen_classes"]


def test_surrogate_refuses_to_clobber(tmp_path):
    src = shared_file("AWA2", "att_splits.mat")
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "precious.txt").write_text("keep me")
    with pytest.raises(ZSLDataError, match="not empty"):
        make_surrogate(src, tmp_path / "x", config=SMALL)
    assert (tmp_path / "x" / "precious.txt").read_text() == "keep me"


def test_apportion_exact_and_minimum():
    counts = _apportion(100, np.array([1.0, 2.0, 7.0]))
    assert counts.sum() == 100 and counts.min() >= 1 and list(counts) == sorted(counts)
    with pytest.raises(ZSLDataError):
        _apportion(2, np.ones(3))
