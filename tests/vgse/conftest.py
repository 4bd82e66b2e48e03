"""A tiny synthetic world on disk and fast discovery settings shared by the VGSE tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from zslkit.data.synthetic_world import WorldConfig, make_world

#: 6 seen + 2 unseen classes, 6 images each (4 for training), 32 px: discovery runs in seconds.
TINY_WORLD = WorldConfig(n_seen=6, n_unseen=2, images_per_class=6, image_size=32, w2v_dim=16,
                         n_distractor_words=4)


def fast_settings(world_files, out: Path, **kw) -> dict:
    """DiscoverConfig fields for a few-second run on :data:`TINY_WORLD`."""
    d = {"images": str(world_files.train_dir), "classes": str(world_files.classes),
         "unseen": str(world_files.unseen), "word_vectors": str(world_files.word_vectors), "out": str(out),
         "backbone": "tiny", "patch_size": 16, "patch_grid": "2x2", "overlap": 0.5, "n_clusters": 8, "epochs": 3,
         "batch_size": 32, "k_neighbours": 3, "tiny_pretrain_epochs": 1, "extract_batch_size": 8, "plots": False,
         "progress": False, "seed": 0}
    d.update(kw)
    return d


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory):
    """(world, files) of :data:`TINY_WORLD` written as user data (read-only for tests)."""
    root = tmp_path_factory.mktemp("tiny_world")
    world = make_world(0, TINY_WORLD)
    return world, world.write(root / "world")


@pytest.fixture
def world_copy(tiny_world, tmp_path):
    """A private copy of the tiny world that a test may damage."""
    world, files = tiny_world
    dst = tmp_path / "world"
    shutil.copytree(files.root, dst)
    from zslkit.data.synthetic_world import WorldFiles

    return world, WorldFiles(root=dst, train_dir=dst / "train", test_dir=dst / "test", classes=dst / "classes.txt",
                             unseen=dst / "unseen.txt", word_vectors=dst / "word_vectors.txt",
                             attributes=dst / "attributes.csv", meta=dst / "world.json")


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """These models are tiny: on a busy 2-core machine one intra-op thread is several times
    faster than two fighting over the cores. Restored after each test."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
