"""Figures of a VGSE discovery: top patches per cluster (montage) and a t-SNE of patch embeddings.

Both draw with matplotlib's object API on an Agg canvas (no pyplot, no global backend
switch, no display needed) and are written atomically as PNG.

* :func:`cluster_montage`: for the ``n_clusters`` clusters holding the most assignment mass,
  the ``per_cluster`` patches with the highest probability for that cluster (at most one
  patch per image, so that a row shows the cluster across images), re-cut from the images.
* :func:`patch_tsne`: ``sklearn.manifold.TSNE`` of up to ``max_points`` patch embeddings
  a_nt (seeded subsample), coloured by argmax cluster (the 10 biggest clusters, others grey)
  and by class, as in the paper's qualitative figure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from zslkit.data.images import ImageList, ImageReadError
from zslkit.data.patches import PatchExtractor
from zslkit.utils.outputs import atomic_path


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str | Path) -> Path:
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    return Path(path)


def top_patches(assign: np.ndarray, valid: np.ndarray, n_clusters: int = 8, per_cluster: int = 8,
                ) -> list[tuple[int, list[tuple[int, int, float]]]]:
    """``[(cluster, [(image, patch, prob), ...]), ...]`` for the heaviest clusters (module doc).

    Args:
        assign: (N, N_t, D_v) patch assignments.
        valid: (N,) images to consider.
    """
    n, t, dv = assign.shape
    mass = assign[valid].sum(axis=(0, 1))
    out = []
    for k in np.argsort(-mass, kind="stable")[: min(n_clusters, dv)]:
        p = assign[:, :, k].copy()
        p[~valid] = -1
        best_t = p.argmax(axis=1)  # one patch per image
        best_p = p[np.arange(n), best_t]
        imgs = [i for i in np.argsort(-best_p, kind="stable")[:per_cluster] if best_p[i] >= 0]
        out.append((int(k), [(int(i), int(best_t[i]), float(best_p[i])) for i in imgs]))
    return out


def cluster_montage(path: str | Path, assign: np.ndarray, valid: np.ndarray, images: ImageList,
                    extractor: PatchExtractor, n_clusters: int = 8, per_cluster: int = 8,
                    class_names: Sequence[str] | None = None) -> Path:
    """Montage PNG: one row per cluster, its top patches left to right (module docstring)."""
    rows = top_patches(assign, valid, n_clusters, per_cluster)
    fig = _figure(1.1 * per_cluster + 1.4, 1.15 * max(len(rows), 1))
    cache: dict[int, list] = {}
    for r, (k, items) in enumerate(rows):
        for c in range(per_cluster):
            ax = fig.add_subplot(len(rows), per_cluster, r * per_cluster + c + 1)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(f"cluster {k}", fontsize=7)
            if c >= len(items):
                ax.axis("off")
                continue
            i, t, prob = items[c]
            if i not in cache:
                try:
                    cache[i] = extractor.crops(images.load(i), i)
                except ImageReadError:  # pragma: no cover - invalid images are excluded upstream
                    cache[i] = []
            if cache[i]:
                ax.imshow(np.asarray(cache[i][t]))
            label = f"{prob:.2f}"
            if class_names is not None:
                label = f"{class_names[images.labels[i]][:10]} {prob:.2f}"
            ax.set_title(label, fontsize=5, pad=1)
    fig.suptitle("VGSE clusters: top patches (probability)", fontsize=8)
    fig.subplots_adjust(left=0.06, right=0.99, top=0.92, bottom=0.01, wspace=0.05, hspace=0.35)
    return _save(fig, path)


def patch_tsne(path: str | Path, assign: np.ndarray, valid: np.ndarray, labels: np.ndarray, max_points: int = 1000,
               seed: int = 0, class_names: Sequence[str] | None = None) -> Path:
    """t-SNE PNG of patch embeddings a_nt (module docstring).

    Args:
        assign: (N, N_t, D_v); labels: (N,) class ids of the images; valid: (N,) mask.
    """
    from sklearn.manifold import TSNE

    n, t, dv = assign.shape
    flat = assign[valid].reshape(-1, dv)
    lab = np.repeat(labels[valid], t)
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(flat.shape[0], size=min(max_points, flat.shape[0]), replace=False))
    x, lab = flat[pick], lab[pick]
    perplexity = float(min(30.0, max(2.0, (x.shape[0] - 1) / 3.0)))
    emb = TSNE(n_components=2, init="pca", random_state=seed, perplexity=perplexity, max_iter=500).fit_transform(x)
    hard = x.argmax(1)
    top = np.argsort(-np.bincount(hard, minlength=dv), kind="stable")[:10]
    fig = _figure(11, 5)
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    other = ~np.isin(hard, top)
    ax1.scatter(emb[other, 0], emb[other, 1], s=3, c="lightgrey", label="other clusters")
    for j, k in enumerate(top):
        m = hard == k
        ax1.scatter(emb[m, 0], emb[m, 1], s=3, color=_tab10(j), label=f"cluster {k}")
    ax1.set_title("patch embeddings, coloured by cluster (argmax)", fontsize=9)
    ax1.legend(fontsize=6, markerscale=3, loc="best")
    classes = np.unique(lab)
    for j, c in enumerate(classes):
        m = lab == c
        ax2.scatter(emb[m, 0], emb[m, 1], s=3, color=_cmap(j, classes.size),
                    label=(class_names[c] if class_names is not None else str(c)) if classes.size <= 20 else None)
    if classes.size <= 20:
        ax2.legend(fontsize=5, markerscale=3, loc="best", ncol=2)
    ax2.set_title("coloured by the image's class", fontsize=9)
    for ax in (ax1, ax2):
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"t-SNE of {x.shape[0]} patch embeddings a_nt (D_v = {dv})", fontsize=10)
    return _save(fig, path)


def _tab10(j: int):
    from matplotlib import colormaps

    return colormaps["tab10"](j % 10)


def _cmap(j: int, n: int):
    from matplotlib import colormaps

    return colormaps["tab20" if n <= 20 else "turbo"](j % 20 if n <= 20 else j / max(n - 1, 1))
