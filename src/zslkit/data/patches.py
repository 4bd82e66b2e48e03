"""Patch extraction: a regular grid with overlap, plus optional seeded random crops.

VGSE crops every image into N_t patches covering different parts (``docs/METHODS.md``; the grid is
the project's *choice*). Geometry of an ``rows x cols`` grid with overlap ``o`` in [0, 1)
on a W x H image: every patch has the same size

    pw = W / (cols - (cols - 1) * o),   ph = H / (rows - (rows - 1) * o),

neighbours are ``stride = p * (1 - o)`` apart, so the first patch starts at 0, the last
ends at W (H), and two neighbours share ``o * p`` pixels. ``o = 0`` tiles the image;
``3 x 3`` with ``o = 0.5`` gives patches of half the image side, 16 px apart on 64 px.
Boxes are rounded to whole pixels (``left = round(j * stride)``, ``right = round(j * stride
+ pw)``), so sizes may differ by one pixel.

Random crops follow torchvision's RandomResizedCrop parameters (area share ``scale``,
aspect ratio log-uniform in ``ratio``) but are drawn from ``numpy.random.default_rng([seed,
image_index])``: the same image gets the same crops in every run, which the feature cache
relies on.

Each box is cut and resized to ``size x size`` with torchvision's ``resized_crop`` and then
passed through ``transform`` (default: ``ToTensor`` + ImageNet ``Normalize``), giving a
tensor ``(N_t, 3, size, size)`` per image. Patch order: grid row-major, then random crops.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms import functional as TF

from zslkit.errors import ConfigError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def grid_boxes(width: int, height: int, rows: int, cols: int, overlap: float = 0.0) -> np.ndarray:
    """Boxes ``(rows * cols, 4)`` int64 ``[left, top, right, bottom]`` (right/bottom exclusive),
    row-major, of a regular grid with fractional ``overlap`` (module docstring formulas)."""
    if rows < 1 or cols < 1:
        raise ConfigError(f"patch grid must be at least 1x1, got {rows}x{cols}")
    if not 0.0 <= overlap < 1.0:
        raise ConfigError(f"patch overlap must be in [0, 1), got {overlap}")
    if width < 1 or height < 1:
        raise ConfigError(f"image size must be positive, got {width}x{height}")

    def axis(n: int, length: int) -> list[tuple[int, int]]:
        p = length / (n - (n - 1) * overlap)
        stride = p * (1.0 - overlap)
        out = []
        for j in range(n):
            a = int(round(j * stride))
            b = length if j == n - 1 else int(round(j * stride + p))  # last patch ends exactly at the border
            out.append((a, max(b, a + 1)))
        return out

    xs, ys = axis(cols, width), axis(rows, height)
    return np.array([[x0, y0, x1, y1] for (y0, y1) in ys for (x0, x1) in xs], dtype=np.int64)


def random_boxes(width: int, height: int, n: int, rng: np.random.Generator,
                 scale: tuple[float, float] = (0.1, 0.5), ratio: tuple[float, float] = (3 / 4, 4 / 3)) -> np.ndarray:
    """``n`` random boxes ``(n, 4)`` like RandomResizedCrop: area share in ``scale``, aspect in
    ``ratio`` (log-uniform); after 10 failed draws a centred box of the clipped ratio is used."""
    area = width * height
    log_r = (math.log(ratio[0]), math.log(ratio[1]))
    out = np.zeros((n, 4), dtype=np.int64)
    for i in range(n):
        for _ in range(10):
            target = area * rng.uniform(scale[0], scale[1])
            ar = math.exp(rng.uniform(*log_r))
            w = int(round(math.sqrt(target * ar)))
            h = int(round(math.sqrt(target / ar)))
            if 0 < w <= width and 0 < h <= height:
                x0 = int(rng.integers(0, width - w + 1))
                y0 = int(rng.integers(0, height - h + 1))
                out[i] = (x0, y0, x0 + w, y0 + h)
                break
        else:
            w = min(width, int(round(math.sqrt(area * scale[1]))))
            h = min(height, w)
            x0, y0 = (width - w) // 2, (height - h) // 2
            out[i] = (x0, y0, x0 + w, y0 + h)
    return out


@dataclass(frozen=True)
class PatchSpec:
    """How to cut an image into patches.

    Attributes:
        rows, cols: grid size (3 x 3 by default, as a *choice*; ``1 x 1`` with ``overlap=0``
            is the whole image, used for global image features).
        overlap: fraction of a patch shared with its grid neighbour, in [0, 1).
        n_random: extra random crops per image (0 = grid only).
        random_scale, random_ratio: area share and aspect-ratio range of random crops.
        size: output side in pixels (224 for a ResNet; 32 for the tiny demo backbone).
        seed: seed of the random crops (mixed with the image index).
        normalize: apply ImageNet mean/std normalisation after ``ToTensor``.
    """

    rows: int = 3
    cols: int = 3
    overlap: float = 0.5
    n_random: int = 0
    random_scale: tuple[float, float] = (0.1, 0.5)
    random_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    size: int = 224
    seed: int = 0
    normalize: bool = True

    def __post_init__(self) -> None:
        if self.rows < 1 or self.cols < 1:
            raise ConfigError(f"patch grid must be at least 1x1, got {self.rows}x{self.cols}")
        if not 0.0 <= self.overlap < 1.0:
            raise ConfigError(f"patch overlap must be in [0, 1), got {self.overlap}")
        if self.n_random < 0:
            raise ConfigError(f"n_random must be >= 0, got {self.n_random}")
        lo, hi = self.random_scale
        if not 0.0 < lo <= hi <= 1.0:
            raise ConfigError(f"random_scale must satisfy 0 < low <= high <= 1, got {self.random_scale}")
        if not 0.0 < self.random_ratio[0] <= self.random_ratio[1]:
            raise ConfigError(f"random_ratio must satisfy 0 < low <= high, got {self.random_ratio}")
        if self.size < 8:
            raise ConfigError(f"patch size must be >= 8 pixels, got {self.size}")

    @property
    def num_patches(self) -> int:
        return self.rows * self.cols + self.n_random

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["random_scale"], d["random_ratio"] = list(self.random_scale), list(self.random_ratio)
        return d

    @classmethod
    def parse_grid(cls, text: str, **kw: Any) -> "PatchSpec":
        """``PatchSpec.parse_grid("3x3", overlap=0.5)``; accepts ``RxC`` or a single ``N``."""
        parts = str(text).lower().replace(" ", "").split("x")
        try:
            r, c = (parts[0], parts[0]) if len(parts) == 1 else parts
            rows, cols = int(r), int(c)
        except ValueError:
            raise ConfigError(f"patch grid must look like '3x3', got {text!r}") from None
        return cls(rows=rows, cols=cols, **kw)


def default_transform(spec: PatchSpec) -> Callable[[Image.Image], torch.Tensor]:
    """``ToTensor`` (+ ImageNet ``Normalize`` when ``spec.normalize``)."""
    steps: list[Any] = [T.ToTensor()]
    if spec.normalize:
        steps.append(T.Normalize(IMAGENET_MEAN, IMAGENET_STD))
    return T.Compose(steps)


class PatchExtractor:
    """Cut PIL images into patch tensors according to a :class:`PatchSpec`.

    Args:
        spec: the patch layout.
        transform: torchvision transform applied to every ``size x size`` PIL crop, returning a
            (3, size, size) tensor; default :func:`default_transform`.
    """

    def __init__(self, spec: PatchSpec, transform: Callable[[Image.Image], torch.Tensor] | None = None):
        self.spec = spec
        self.transform = transform or default_transform(spec)

    @property
    def num_patches(self) -> int:
        return self.spec.num_patches

    def boxes(self, width: int, height: int, index: int) -> np.ndarray:
        """``(N_t, 4)`` boxes for image number ``index`` of size ``width x height``."""
        s = self.spec
        grid = grid_boxes(width, height, s.rows, s.cols, s.overlap)
        if s.n_random == 0:
            return grid
        rng = np.random.default_rng([s.seed, int(index)])
        return np.concatenate([grid, random_boxes(width, height, s.n_random, rng, s.random_scale, s.random_ratio)])

    def crops(self, img: Image.Image, index: int) -> list[Image.Image]:
        """The patches as ``size x size`` PIL images (for montages)."""
        size = [self.spec.size, self.spec.size]
        return [TF.resized_crop(img, int(y0), int(x0), int(y1 - y0), int(x1 - x0), size, antialias=True)
                for x0, y0, x1, y1 in self.boxes(img.width, img.height, index)]

    def __call__(self, img: Image.Image, index: int) -> torch.Tensor:
        """Patches of ``img`` (the ``index``-th image of its list) as ``(N_t, 3, size, size)``."""
        return torch.stack([self.transform(c) for c in self.crops(img, index)])

    def whole(self, img: Image.Image) -> torch.Tensor:
        """The whole image resized to ``size x size`` and transformed: ``(3, size, size)``."""
        return self.transform(img.resize((self.spec.size, self.spec.size), Image.BILINEAR))
