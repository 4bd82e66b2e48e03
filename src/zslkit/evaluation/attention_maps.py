"""Per-attribute attention maps as a PNG grid (matplotlib, Agg; no display needed).

As the ReZSL authors' ``tools/visual_attention.py`` does, every chosen attribute's
softmax attention map (h x w, e.g. 14 x 14 for ResNet-101 at 448 px) is upsampled onto the
image (bilinear) and drawn over it with a colour map. Here all images and attributes go
into one grid figure: one row per image, the image itself first, then one panel per
attribute with its name and, when given, the predicted / true attribute values.

Pure rendering: arrays in, a PNG file out (written atomically). Computing the maps is the
model's job (``AttentionNet(x).attention``); :func:`zslkit.image_pipeline.analyze_attention`
does both for a trained model and a dataset.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from zslkit.errors import ZSLDataError
from zslkit.utils.outputs import atomic_path

__all__ = ["render_attention_grid"]


def _as_images(images: np.ndarray | None, n: int) -> np.ndarray | None:
    """(n, H, W, 3) / (n, 3, H, W) / (n, H, W) arrays -> (n, H, W[, 3]) floats in [0, 1]."""
    if images is None:
        return None
    arr = np.asarray(images, dtype=np.float64)
    if arr.shape[0] != n:
        raise ZSLDataError(f"images must hold one image per row ({n}), got shape {arr.shape}")
    if arr.ndim == 4 and arr.shape[1] in (1, 3) and arr.shape[-1] not in (1, 3):
        arr = arr.transpose(0, 2, 3, 1)
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (3, 4) or (arr.ndim == 4 and arr.shape[-1] != 3):
        raise ZSLDataError(f"images must be (n, H, W, 3), (n, 3, H, W) or (n, H, W) arrays, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ZSLDataError("images contain NaN or inf")
    lo = arr.reshape(n, -1).min(axis=1).reshape((n,) + (1,) * (arr.ndim - 1))
    hi = arr.reshape(n, -1).max(axis=1).reshape((n,) + (1,) * (arr.ndim - 1))
    if arr.min() < 0 or arr.max() > 1:  # e.g. ImageNet-normalised tensors: rescale per image for display
        arr = (arr - lo) / np.where(hi > lo, hi - lo, 1.0)
    return arr


def render_attention_grid(attention: np.ndarray, attributes: np.ndarray | Sequence[Sequence[int]],
                          out_path: str | os.PathLike, *, images: np.ndarray | None = None,
                          attribute_names: Sequence[str] | None = None, row_titles: Sequence[str] | None = None,
                          values: np.ndarray | None = None, targets: np.ndarray | None = None,
                          title: str | None = None, cmap: str = "jet", alpha: float = 0.5,
                          panel_inches: float = 1.8, dpi: int = 100) -> Path:
    """Draw attention maps of chosen attributes for n images into one PNG.

    Args:
        attention: (n, A, h, w) attention maps (any non-negative scale; each panel is
            normalised to [0, 1] for display).
        attributes: (n, k) attribute indices to show per image (rows may differ).
        out_path: the PNG to write (atomically).
        images: optional (n, H, W, 3), (n, 3, H, W) or (n, H, W) images the maps are drawn
            over (bilinear upsampling); without them, the maps alone.
        attribute_names: A names for panel titles.
        row_titles: n labels for the first column (e.g. class names).
        values, targets: optional (n, A) predicted and true attribute values shown per panel.
        title: figure title.

    Returns the written path.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    att = np.asarray(attention, dtype=np.float64)
    if att.ndim != 4 or 0 in att.shape:
        raise ZSLDataError(f"attention must be a (n, A, h, w) array, got shape {att.shape}")
    if not np.all(np.isfinite(att)):
        raise ZSLDataError("attention maps contain NaN or inf")
    n, a_count, h, w = att.shape
    chosen = np.asarray(attributes, dtype=np.int64)
    if chosen.ndim != 2 or chosen.shape[0] != n or chosen.shape[1] == 0:
        raise ZSLDataError(f"attributes must be an (n={n}, k) array of attribute indices, got shape {chosen.shape}")
    if chosen.min() < 0 or chosen.max() >= a_count:
        raise ZSLDataError(f"attribute indices must lie in [0, {a_count}), got [{chosen.min()}, {chosen.max()}]")
    if attribute_names is not None and len(attribute_names) != a_count:
        raise ZSLDataError(f"attribute_names has {len(attribute_names)} names, expected {a_count}")
    if row_titles is not None and len(row_titles) != n:
        raise ZSLDataError(f"row_titles has {len(row_titles)} entries, expected {n}")
    for name, arr in (("values", values), ("targets", targets)):
        if arr is not None and np.asarray(arr).shape != (n, a_count):
            raise ZSLDataError(f"{name} must have shape ({n}, {a_count}), got {np.asarray(arr).shape}")
    imgs = _as_images(images, n)
    k = chosen.shape[1]
    cols = k + 1
    fig = Figure(figsize=(panel_inches * cols, panel_inches * n * 1.15 + (0.4 if title else 0.0)), dpi=dpi)
    FigureCanvasAgg(fig)
    axes = fig.subplots(n, cols, squeeze=False)
    for i in range(n):
        if imgs is not None:
            H, W = imgs[i].shape[:2]
        else:
            H, W = h, w
        extent = (0, W, H, 0)
        ax = axes[i, 0]
        if imgs is not None:
            ax.imshow(imgs[i], cmap="gray" if imgs.ndim == 3 else None, extent=extent, interpolation="bilinear")
        else:
            ax.imshow(att[i].mean(axis=0), cmap="gray", extent=extent, interpolation="nearest")
        ax.set_title(row_titles[i] if row_titles is not None else f"image {i}", fontsize=8)
        for j, a in enumerate(chosen[i]):
            ax = axes[i, j + 1]
            m = att[i, a]
            span = m.max() - m.min()
            m = (m - m.min()) / span if span > 0 else np.zeros_like(m)
            if imgs is not None:
                ax.imshow(imgs[i], cmap="gray" if imgs.ndim == 3 else None, extent=extent, interpolation="bilinear")
                ax.imshow(m, cmap=cmap, alpha=alpha, extent=extent, interpolation="bilinear", vmin=0, vmax=1)
            else:
                ax.imshow(m, cmap=cmap, extent=extent, interpolation="bilinear", vmin=0, vmax=1)
            label = attribute_names[a] if attribute_names is not None else f"attr {a}"
            extra = []
            if values is not None:
                extra.append(f"pred {float(np.asarray(values)[i, a]):.2f}")
            if targets is not None:
                extra.append(f"true {float(np.asarray(targets)[i, a]):.2f}")
            ax.set_title(label + ("\n" + " / ".join(extra) if extra else ""), fontsize=7)
        for ax in axes[i]:
            ax.set_xticks([])
            ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    out = Path(out_path)
    with atomic_path(out, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    return out
