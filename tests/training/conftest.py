"""Fixtures of the training tests: a tiny SYNTHETIC feature-map world (one thread per test comes
from the root ``tests/conftest.py``)."""

from __future__ import annotations

import pytest

from zslkit.training.feature_maps import make_synthetic_feature_maps


def tiny_world(seed: int = 0):
    """12 classes (8 seen, 4 unseen) x 10 images, 8 attributes, 8 x 4 x 4 maps, 6-d word vectors."""
    return make_synthetic_feature_maps(num_classes=12, num_unseen=4, images_per_class=10, num_attributes=8,
                                       channels=8, size=4, word_dim=6, clutter=1, seed=seed)


@pytest.fixture(scope="session")
def tiny_maps():
    return tiny_world()
