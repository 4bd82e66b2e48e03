"""ZSLData.check_learnable: degenerate features or class semantics are an error (nothing can be learned) or a
warning naming the images / classes, instead of a run at chance without a word."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from zslkit.data.zsldata import ZSLData
from zslkit.errors import ZSLDataError


def _data(features=None, semantic=None) -> ZSLData:
    """6 classes x 6 images: classes 0-3 seen (trainval 4 images, test_seen 2 each), 4-5 unseen."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(6), 6)
    idx = np.arange(36)
    seen = labels < 4
    trainval = idx[seen & (idx % 6 < 4)]
    test_seen = idx[seen & (idx % 6 >= 4)]
    return ZSLData(features=rng.random((36, 5)) if features is None else features, labels=labels,
                   class_names=[f"c{i}" for i in range(6)],
                   semantic=rng.random((6, 3)) if semantic is None else semantic,
                   splits={"trainval": trainval, "test_seen": test_seen, "test_unseen": idx[~seen]},
                   provenance={"root": "/data/tiny"})


def test_a_normal_dataset_is_silent(caplog):
    with caplog.at_level(logging.WARNING, logger="zslkit"):
        assert _data().check_learnable() == []
    assert not caplog.records


@pytest.mark.parametrize("value, what", [(0.0, "all zero"), (0.5, "one constant vector")])
def test_identical_training_features_are_an_error(value, what):
    with pytest.raises(ZSLDataError, match=rf"/data/tiny: features of all 16 trainval images are identical \({what}\)"
                                           r": nothing can be learned"):
        _data(features=np.full((36, 5), value)).check_learnable()
    f = np.random.default_rng(1).random((36, 5))
    d = _data(features=f)
    f[d.splits["trainval"]] = 0.0  # only the training images: still nothing to learn from
    with pytest.raises(ZSLDataError, match="trainval images are identical"):
        _data(features=f).check_learnable()


def test_identical_seen_or_unseen_rows_are_an_error():
    sem = np.random.default_rng(2).random((6, 3))
    sem[4:] = [0.2, 0.4, 0.6]
    with pytest.raises(ZSLDataError, match=r"semantic matrix 'att': all 2 unseen classes have the same row "
                                           r"\(\['c4', 'c5'\]\)"):
        _data(semantic=sem).check_learnable()
    sem = np.random.default_rng(2).random((6, 3))
    sem[:4] = 0.0
    with pytest.raises(ZSLDataError, match=r"all 4 seen classes have the same row \(\['c0', 'c1', 'c2', 'c3'\]\)"):
        _data(semantic=sem).check_learnable()


def test_warnings_name_the_images_and_classes(caplog):
    rng = np.random.default_rng(3)
    f = rng.random((36, 5))
    f[[7, 30]] = 0.0  # two images without features
    sem = rng.random((7, 3))[:6]
    sem[1] = 0.0  # a seen class without semantics
    d = _data(features=f, semantic=sem)
    with caplog.at_level(logging.WARNING, logger="zslkit"):
        warnings = d.check_learnable()
    assert warnings == [
        "/data/tiny: 2 of 36 images have all-zero features (e.g. image 7); they carry no information",
        "semantic matrix 'att': classes ['c1'] have an all-zero row (no semantic information; cosine scores with it "
        "are 0)"]
    assert [r.getMessage() for r in caplog.records] == warnings


def test_identical_test_images_and_shared_unseen_rows_warn(caplog):
    rng = np.random.default_rng(4)
    f = rng.random((36, 5))
    d = _data(features=f)
    f[d.splits["test_unseen"]] = 0.25
    sem = rng.random((8, 3))
    labels = np.repeat(np.arange(8), 6)
    idx = np.arange(48)
    seen = labels < 4
    sem[5] = sem[6] = [0.1, 0.2, 0.3]  # two of the four unseen classes share a row
    big = ZSLData(features=rng.random((48, 5)), labels=labels, class_names=[f"c{i}" for i in range(8)], semantic=sem,
                  splits={"trainval": idx[seen & (idx % 6 < 4)], "test_seen": idx[seen & (idx % 6 >= 4)],
                          "test_unseen": idx[~seen]})
    with caplog.at_level(logging.WARNING, logger="zslkit"):
        w1 = _data(features=f).check_learnable()
        w2 = big.check_learnable()
    assert w1 == ["/data/tiny: features of all 12 test_unseen images are identical: every one gets the same "
                  "prediction"]
    assert w2 == ["semantic matrix 'att': unseen classes ['c5', 'c6'] have identical rows: they cannot be told apart "
                  "(at most one of them is ever predicted)"]
