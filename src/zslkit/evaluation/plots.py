"""Figures of the evaluation (PNG, matplotlib's Agg backend, written atomically)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from zslkit.utils.atomic import atomic_path  # noqa: E402


def _save(fig, path: str | os.PathLike) -> Path:
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)
    return Path(path)


def plot_seen_unseen_curves(curves: Sequence[dict], labels: Sequence[str], path: str | os.PathLike,
                            title: str = "Seen-unseen accuracy curve (calibrated stacking)") -> Path:
    """AUSUC curves: x = U (unseen accuracy), y = S (seen accuracy), one line per run."""
    fig, ax = plt.subplots(figsize=(5, 4.5))
    for c, lab in zip(curves, labels):
        u, s = np.asarray(c["U"]), np.asarray(c["S"])
        ax.step(u, s, where="post", label=lab)
    ax.set_xlabel("U: unseen-class accuracy (%)")
    ax.set_ylabel("S: seen-class accuracy (%)")
    ax.set_xlim(-1, 101)  # margins keep segments at 0 % / 100 % visible off the frame
    ax.set_ylim(-1, 101)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_confusion(cm: np.ndarray, class_names: Sequence[str], path: str | os.PathLike,
                   title: str = "Confusion matrix (row-normalised)") -> Path:
    n = len(class_names)
    size = min(4 + 0.18 * n, 16)
    fig, ax = plt.subplots(figsize=(size, size))
    im = ax.imshow(cm, cmap="viridis", vmin=0, vmax=1)
    if n <= 60:
        ax.set_xticks(range(n), class_names, rotation=90, fontsize=6)
        ax.set_yticks(range(n), class_names, fontsize=6)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.046)
    return _save(fig, path)


def plot_attribute_errors(stats: Sequence, labels: Sequence[str], path: str | os.PathLike,
                          attribute_names: Sequence[str] | None = None,
                          title: str = "Per-attribute squared error (mean ± std over images)") -> Path:
    """Per-attribute mean error of one or more :class:`ImbalanceStats`, attributes sorted by the first."""
    order = np.argsort(-stats[0].attr_mean)
    k = order.size
    fig, ax = plt.subplots(figsize=(min(4 + 0.06 * k, 18), 4))
    x = np.arange(k)
    for st, lab in zip(stats, labels):
        m, sd = st.attr_mean[order], np.sqrt(st.attr_var[order])
        ax.plot(x, m, lw=1, label=f"{lab} (CV {st.attr_cv:.2f})")
        ax.fill_between(x, np.maximum(m - sd, 0), m + sd, alpha=0.15)
    if attribute_names is not None and k <= 90:
        ax.set_xticks(x, [attribute_names[i] for i in order], rotation=90, fontsize=5)
    else:
        ax.set_xlabel("attribute (sorted by error of the first run)")
    ax.set_ylabel("squared error")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)
