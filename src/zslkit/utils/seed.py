"""Seeding helpers so that every run is reproducible from one integer."""

from __future__ import annotations

import random

import numpy as np


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, NumPy and (if importable) torch; return a fresh NumPy Generator.

    Library code should prefer the returned ``Generator`` (or one it is given) over the
    global NumPy state; the global seeding is for third-party code that uses it.
    """
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % (2**32))
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency, but keep utils importable
        pass
    else:
        torch.manual_seed(seed)
    return np.random.default_rng(seed)
