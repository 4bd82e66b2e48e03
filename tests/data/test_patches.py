"""Patch grid geometry, random crops and the patch extractor."""

import numpy as np
import pytest
import torch
from PIL import Image

from zslkit.data.patches import PatchExtractor, PatchSpec, grid_boxes, random_boxes
from zslkit.errors import ConfigError


def test_grid_3x3_half_overlap_on_64px():
    b = grid_boxes(64, 64, 3, 3, 0.5)
    xs = sorted({(x0, x1) for x0, _, x1, _ in b})
    assert xs == [(0, 32), (16, 48), (32, 64)]
    assert b[0].tolist() == [0, 0, 32, 32] and b[4].tolist() == [16, 16, 48, 48] and b[8].tolist() == [32, 32, 64, 64]
    assert b[1].tolist() == [16, 0, 48, 32]  # row-major: second box is the top-middle one


@pytest.mark.parametrize("w,h,rows,cols,overlap", [(64, 64, 3, 3, 0.5), (224, 160, 3, 4, 0.25), (101, 37, 2, 5, 0.0),
                                                   (500, 375, 4, 4, 0.3), (33, 33, 1, 1, 0.0), (50, 80, 3, 2, 0.9)])
def test_grid_geometry_properties(w, h, rows, cols, overlap):
    b = grid_boxes(w, h, rows, cols, overlap)
    assert b.shape == (rows * cols, 4)
    for axis, (n, length) in enumerate(((cols, w), (rows, h))):
        lo, hi = b[:, axis], b[:, axis + 2]
        starts, ends = np.unique(lo), np.unique(hi)
        assert starts[0] == 0 and ends[-1] == length  # covers the image border to border
        p = length / (n - (n - 1) * overlap)
        assert np.all(np.abs((hi - lo) - p) <= 1.0)  # equal sizes up to rounding
        shared = ends[:-1] - starts[1:]  # pixels shared by neighbours
        assert np.all(np.abs(shared - overlap * p) <= 1.0)
        assert np.all(shared >= 0)  # no gaps
    assert np.all((b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1]))
    assert np.all(b[:, :2] >= 0) and np.all(b[:, 2] <= w) and np.all(b[:, 3] <= h)


def test_grid_without_overlap_tiles_exactly():
    b = grid_boxes(90, 60, 3, 3, 0.0)
    cover = np.zeros((60, 90), int)
    for x0, y0, x1, y1 in b:
        cover[y0:y1, x0:x1] += 1
    assert np.all(cover == 1)


def test_bad_grid_settings():
    for kw in ({"rows": 0}, {"overlap": 1.0}, {"overlap": -0.1}, {"n_random": -1}, {"size": 4},
               {"random_scale": (0.5, 0.2)}):
        with pytest.raises(ConfigError):
            PatchSpec(**kw)
    with pytest.raises(ConfigError, match="3x3"):
        PatchSpec.parse_grid("three")
    assert (PatchSpec.parse_grid("2x4").rows, PatchSpec.parse_grid("2x4").cols) == (2, 4)
    assert PatchSpec.parse_grid("5").num_patches == 25


def test_random_boxes_are_seeded_and_inside():
    a = random_boxes(64, 48, 20, np.random.default_rng([0, 7]), scale=(0.1, 0.4))
    b = random_boxes(64, 48, 20, np.random.default_rng([0, 7]), scale=(0.1, 0.4))
    assert np.array_equal(a, b)
    area = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]) / (64 * 48)
    assert np.all(a[:, :2] >= 0) and np.all(a[:, 2] <= 64) and np.all(a[:, 3] <= 48)
    assert np.all((area > 0.05) & (area < 0.5))


def test_extractor_shapes_and_determinism():
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 56, 3), dtype=np.uint8))
    ex = PatchExtractor(PatchSpec(rows=3, cols=3, overlap=0.5, n_random=2, size=16, seed=3))
    x = ex(img, index=5)
    assert x.shape == (11, 3, 16, 16) and x.dtype == torch.float32
    assert torch.equal(x, ex(img, index=5))  # same image index, same random crops
    assert not torch.equal(x[9:], ex(img, index=6)[9:])  # another index, other random crops
    assert torch.equal(x[:9], ex(img, index=6)[:9])  # the grid does not depend on the index
    raw = PatchExtractor(PatchSpec(rows=1, cols=1, overlap=0.0, size=56, normalize=False))(img, 0)
    expected = torch.from_numpy(np.array(img.resize((56, 56), Image.BILINEAR))).permute(2, 0, 1) / 255
    assert torch.allclose(raw[0], expected, atol=0.02)
    assert ex.whole(img).shape == (3, 16, 16)
