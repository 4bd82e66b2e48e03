"""Seeding helpers so that every run is reproducible from one integer."""

from __future__ import annotations

import random
import sys

import numpy as np

#: the largest seed zslkit accepts: numpy's global seeding (and much third-party code) takes 32-bit seeds, and
#: seeding it with ``seed % 2**32`` would make seeds 0 and 2**32 the same run counted as two
MAX_SEED = 2**32 - 1


def seed_error(seed: object, name: str = "seed") -> str | None:
    """Why ``seed`` is not a valid seed (an integer in ``[0, MAX_SEED]``), or None when it is."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) <= MAX_SEED:
        return f"{name} must be an integer >= 0 and <= {MAX_SEED} (2**32 - 1), got {seed!r}"
    return None


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
