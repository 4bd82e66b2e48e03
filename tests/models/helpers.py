"""Helpers shared by the model tests."""

from __future__ import annotations

import numpy as np

from zslkit.evaluation.protocol import evaluate
from zslkit.training.selection import scores_fn_for


def trainval(data) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, y, S) of a dataset's trainval images, for ``model.fit(*trainval(data))``."""
    tv = data.splits["trainval"]
    return data.features[tv], data.labels[tv], data.semantic


def zsl_t1(model, data) -> float:
    """ZSL top-1 (per class) of a fitted model on the dataset's unseen test images."""
    return evaluate(scores_fn_for(model, data.semantic), data.features, data.labels, data.test_split()).T1
