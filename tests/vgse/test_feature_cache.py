"""The memory-mapped patch-feature cache: batches, reuse, resume, unreadable images."""

import json

import numpy as np
import pytest
import torch

from zslkit.data.images import ImageList, ImageReadError
from zslkit.data.patches import PatchExtractor, PatchSpec
from zslkit.vgse.backbone import build_backbone, state_fingerprint
from zslkit.vgse.feature_cache import extract_features


class Stop(Exception):
    pass


@pytest.fixture
def setup(tiny_world, tmp_path):
    world, files = tiny_world
    names = world.class_names
    from zslkit.data.images import scan_image_folder

    imgs = scan_image_folder(files.train_dir, names, classes=[names[c] for c in world.seen])
    bb = build_backbone("tiny", seed=0)
    return imgs, PatchExtractor(PatchSpec(rows=2, cols=2, overlap=0.5, size=16)), bb, tmp_path / "cache"


def test_extract_reuse_and_rows(setup):
    imgs, ex, bb, cache_dir = setup
    c = extract_features(imgs, ex, bb, cache_dir, state_fingerprint(bb), batch_size=5, progress=False)
    assert c.complete and c.features.shape == (len(imgs), 4, bb.out_dim) and c.valid.all()
    # row i is the backbone applied to image i's patches
    with torch.no_grad():
        direct = bb(ex(imgs.load(7), 7)).numpy()
    assert np.allclose(c.features[7], direct, atol=1e-5)
    calls = []
    again = extract_features(imgs, ex, bb, cache_dir, state_fingerprint(bb), progress=False,
                             on_batch=lambda d, n: calls.append(d))
    assert calls == [] and again.directory == c.directory  # nothing recomputed
    other = extract_features(imgs, PatchExtractor(PatchSpec(rows=1, cols=1, overlap=0, size=16)), bb, cache_dir,
                             state_fingerprint(bb), progress=False)
    assert other.directory != c.directory and other.features.shape[1] == 1  # a new layout gets its own cache


def test_interrupted_extraction_resumes_to_the_same_numbers(setup, tmp_path):
    imgs, ex, bb, cache_dir = setup
    full = extract_features(imgs, ex, bb, tmp_path / "full", "bb", batch_size=5, progress=False)

    def stop_after_two(done, total):
        if done >= 10:
            raise Stop

    with pytest.raises(Stop):
        extract_features(imgs, ex, bb, cache_dir, "bb", batch_size=5, progress=False, on_batch=stop_after_two)
    state = json.loads(next(cache_dir.glob("patch-features-*/state.json")).read_text())
    assert state["done"] == 10 and not state["complete"]
    # a rerun asking for another batch size keeps the stored one (same batches as uninterrupted)
    resumed = extract_features(imgs, ex, bb, cache_dir, "bb", batch_size=7, progress=False)
    assert resumed.resumed_from == 10 and resumed.meta["batch_size"] == 5
    assert np.array_equal(np.asarray(resumed.features), np.asarray(full.features))


def test_unreadable_images_are_skipped_and_reported(setup, tmp_path):
    imgs, ex, bb, cache_dir = setup
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG garbage")
    paths = list(imgs.paths)
    paths[3] = str(broken)
    paths[5] = str(tmp_path / "missing.png")
    bad_list = ImageList(paths, imgs.labels, imgs.class_names)
    c = extract_features(bad_list, ex, bb, cache_dir, "bb", batch_size=4, progress=False)
    assert [b["index"] for b in c.bad] == [3, 5]
    assert c.bad[0]["path"] == str(broken) and "file not found" in c.bad[1]["reason"]
    assert c.valid.sum() == len(imgs) - 2 and np.all(np.asarray(c.features[3]) == 0)
    with pytest.raises(ImageReadError, match="broken.png"):
        extract_features(bad_list, ex, bb, tmp_path / "ff", "bb", batch_size=4, fail_fast=True, progress=False)
