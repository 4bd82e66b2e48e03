"""Seeding helpers so that every run is reproducible from one integer."""

from __future__ import annotations

import random
import sys

import numpy as np


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, NumPy and torch (when torch is already imported); return a fresh NumPy Generator.

    Library code should prefer the returned ``Generator`` (or one it is given) over the
    global NumPy state; the global seeding is for third-party code that uses it. torch is not
    imported just to seed it (that costs seconds and ~0.5 GB for closed-form models such as
    ESZSL): zslkit's torch models seed their own generators from their ``seed`` parameter.
    """
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.manual_seed(seed)
    return np.random.default_rng(seed)
