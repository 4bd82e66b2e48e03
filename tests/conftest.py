"""Shared fixtures: small surrogate datasets built by the tests themselves, and the real xlsa17 metadata."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_limits

# Small matrices dominate the suite; with several BLAS threads on a 2-core machine that also
# runs subprocesses, they are far slower than with one (and less reproducible). One thread, globally.
threadpool_limits(1)
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _one_thread():
    """Every test starts on one BLAS and one torch thread, whatever a previous test set."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(old)

from zslkit.data.surrogate import make_surrogate, make_toy_att_splits, preset_config
from zslkit.data.xlsa17 import load_xlsa17

#: Real xlsa17 split files shipped beside the repository (../shared); CI has them too.
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "xlsa17-meta"


def shared_file(*parts: str) -> Path:
    p = SHARED.joinpath(*parts)
    if not p.exists():  # pragma: no cover - CI has ../shared; fail loudly rather than skip silently
        pytest.fail(f"real xlsa17 metadata not found at {p} (expected ../shared beside the checkout)")
    return p


@pytest.fixture(scope="session")
def toy_dir(tmp_path_factory) -> Path:
    """A small surrogate xlsa17 directory: 40 classes (30 seen, 10 unseen), 60 images each, 128-d,
    generated with the uncalibrated ``easy`` preset (models must learn something on it)."""
    root = tmp_path_factory.mktemp("toy")
    src = make_toy_att_splits(root / "src" / "att_splits.mat", seed=0)
    return make_surrogate(src, root / "data", seed=0, config=preset_config("easy", feature_dim=128), preset="easy")


@pytest.fixture(scope="session")
def toy_data(toy_dir):
    """``ZSLData`` of :func:`toy_dir` with attributes as the semantic matrix."""
    return load_xlsa17(toy_dir)


@pytest.fixture(scope="session")
def toy_data_w2v(toy_dir):
    return load_xlsa17(toy_dir, semantic="word2vec")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
