"""Figures of runs (PNG, matplotlib's Agg backend, written atomically), legible at any class count.

* :func:`seen_unseen_curves`: the (U, S) curves traced by calibrated stacking, one line per run
  (human labels), the operating point of each run marked.
* :func:`confusion_figure`: up to :data:`FULL_CONFUSION_MAX` classes, the row-normalised matrix with
  classes ordered seen first then unseen and the divider drawn; above, an aggregated 2 x 2 view
  (seen/unseen true x predicted) beside the matrix of the unseen classes sorted by accuracy, without
  per-class tick labels (the top confusions are listed as a table by the report instead:
  :func:`top_confusions`).
* :func:`attribute_error_figure`: the per-attribute squared error of the ``top_k`` worst
  attributes (of the first run), one marker style per run, a dashed line at each run's mean.

Every figure made from surrogate or synthetic data carries the mark in its title and a watermark,
so a PNG copied out of a report still says what it is.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from zslkit.utils.outputs import atomic_path  # noqa: E402

__all__ = ["FULL_CONFUSION_MAX", "attribute_error_figure", "confusion_figure", "seen_unseen_curves",
           "top_confusions"]

#: largest class count drawn as a full confusion matrix with readable tick labels
FULL_CONFUSION_MAX = 60
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
SYNTHETIC_MARK = "SURROGATE / SYNTHETIC DATA - not a benchmark result"


def _save(fig, path: str | os.PathLike, synthetic: bool) -> Path:
    if synthetic:
        fig.text(0.5, 0.5, "SYNTHETIC", fontsize=46, color="red", alpha=0.10, ha="center", va="center",
                 rotation=30, transform=fig.transFigure)
        fig.text(0.01, 0.005, SYNTHETIC_MARK, fontsize=8, color="#b00", ha="left", va="bottom")
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png")
    plt.close(fig)
    return Path(path)


def _title(text: str, synthetic: bool) -> str:
    return f"{text}\n[{SYNTHETIC_MARK}]" if synthetic else text


def seen_unseen_curves(curves: Sequence[dict], labels: Sequence[str], path: str | os.PathLike, *,
                       points: Sequence[tuple[float, float]] | None = None, synthetic: bool = False,
                       title: str = "Seen-unseen accuracy as the calibration gamma moves") -> Path:
    """x = U, y = S (%), one step line per run; ``points`` (U, S) mark each run's validation-gamma operating point."""
    fig, ax = plt.subplots(figsize=(6.4, 5.2))
    for i, (c, lab) in enumerate(zip(curves, labels)):
        u, s = np.asarray(c["U"]), np.asarray(c["S"])
        line, = ax.step(u, s, where="post", label=lab, lw=1.6)
        if points is not None and i < len(points):
            ax.plot(*points[i], marker=_MARKERS[i % len(_MARKERS)], ms=8, color=line.get_color(), mec="black")
    ax.set_xlabel("U: unseen-class accuracy (%, per class)", fontsize=11)
    ax.set_ylabel("S: seen-class accuracy (%, per class)", fontsize=11)
    ax.set_xlim(-1, 101)
    ax.set_ylim(-1, 101)
    ax.grid(alpha=0.3)
    ax.set_title(_title(title + ("\n(markers: the validation gamma)" if points is not None else ""), synthetic),
                 fontsize=10)
    if curves:  # a run without a recorded curve draws empty axes, without a legend
        ax.legend(fontsize=8, loc="upper right")
    else:
        ax.text(50, 50, "no seen-unseen curve recorded", ha="center", va="center", fontsize=10, color="gray")
    return _save(fig, path, synthetic)


def confusion_figure(y_true: np.ndarray, y_pred: np.ndarray, candidates: np.ndarray, class_names: Sequence[str],
                     unseen: np.ndarray, path: str | os.PathLike, *, synthetic: bool = False,
                     title: str = "GZSL confusion") -> Path:
    """Row-normalised confusion over ``candidates`` (class ids), seen classes first (see module docstring)."""
    unseen_set = set(int(u) for u in unseen)
    order = [int(c) for c in candidates if int(c) not in unseen_set] + [int(c) for c in candidates
                                                                        if int(c) in unseen_set]
    pos = {c: i for i, c in enumerate(order)}
    n, n_seen = len(order), sum(int(c) not in unseen_set for c in candidates)
    cm = np.zeros((n, n))
    for t, p in zip(np.asarray(y_true), np.asarray(y_pred)):
        if int(t) in pos and int(p) in pos:
            cm[pos[int(t)], pos[int(p)]] += 1
    rows = cm.sum(axis=1, keepdims=True)
    cmn = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    if n <= FULL_CONFUSION_MAX:
        size = min(5 + 0.17 * n, 14)
        fig, ax = plt.subplots(figsize=(size + 1, size))
        im = ax.imshow(cmn, cmap="viridis", vmin=0, vmax=1)
        fs = 8 if n <= 30 else 6
        ax.set_xticks(range(n), [class_names[c] for c in order], rotation=90, fontsize=fs)
        ax.set_yticks(range(n), [class_names[c] for c in order], fontsize=fs)
        if 0 < n_seen < n:
            ax.axhline(n_seen - 0.5, color="white", lw=1.5)
            ax.axvline(n_seen - 0.5, color="white", lw=1.5)
        ax.set_xlabel("predicted class (seen | unseen)")
        ax.set_ylabel("true class (seen | unseen)")
        ax.set_title(_title(f"{title}: rows normalised to 1 (share of each true class's images)", synthetic),
                     fontsize=10)
        fig.colorbar(im, ax=ax, fraction=0.046)
        return _save(fig, path, synthetic)
    # many classes: aggregated seen/unseen blocks + the unseen classes' matrix sorted by accuracy
    blocks = np.zeros((2, 2))
    for ti, tname in enumerate((slice(0, n_seen), slice(n_seen, n))):
        for pi, pname in enumerate((slice(0, n_seen), slice(n_seen, n))):
            blocks[ti, pi] = cm[tname, pname].sum()
    blocks = blocks / np.maximum(blocks.sum(axis=1, keepdims=True), 1)
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(12, 5.5), gridspec_kw={"width_ratios": [1, 2]})
    a0.imshow(blocks, cmap="viridis", vmin=0, vmax=1)
    for (i, j), v in np.ndenumerate(blocks):
        a0.text(j, i, f"{100 * v:.1f} %", ha="center", va="center", color="white" if v < 0.6 else "black",
                fontsize=12)
    a0.set_xticks([0, 1], ["seen", "unseen"])
    a0.set_yticks([0, 1], ["seen", "unseen"])
    a0.set_xlabel("predicted")
    a0.set_ylabel("true")
    a0.set_title(f"images by true/predicted group\n({n_seen} seen, {n - n_seen} unseen classes)", fontsize=10)
    sub = cmn[n_seen:, n_seen:]
    by_acc = np.argsort(-np.diag(sub), kind="stable")
    im = a1.imshow(sub[np.ix_(by_acc, by_acc)], cmap="viridis", vmin=0, vmax=max(0.05, float(sub.max())))
    a1.set_xlabel("predicted unseen class (sorted by accuracy)")
    a1.set_ylabel("true unseen class (sorted by accuracy)")
    a1.set_title("unseen classes among themselves (row-normalised over all candidates)", fontsize=10)
    fig.colorbar(im, ax=a1, fraction=0.046)
    fig.suptitle(_title(title, synthetic), fontsize=11)
    return _save(fig, path, synthetic)


def top_confusions(y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str], unseen: np.ndarray,
                   k: int = 15) -> list[dict]:
    """The ``k`` most frequent (true -> predicted) mistakes, with the share of the true class's images."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    unseen_set = set(int(u) for u in unseen)
    counts: dict[tuple[int, int], int] = {}
    for t, p in zip(y_true, y_pred):
        if t != p:
            counts[(int(t), int(p))] = counts.get((int(t), int(p)), 0) + 1
    per_class = {int(c): int(n) for c, n in zip(*np.unique(y_true, return_counts=True))}
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
    return [{"true class": f"{class_names[t]} ({'unseen' if t in unseen_set else 'seen'})",
             "predicted as": f"{class_names[p]} ({'unseen' if p in unseen_set else 'seen'})",
             "images": n, "% of the true class": 100.0 * n / per_class[t]} for (t, p), n in top]


def attribute_error_figure(attr_means: Sequence[np.ndarray], labels: Sequence[str], path: str | os.PathLike, *,
                           attribute_names: Sequence[str] | None = None, top_k: int = 30, synthetic: bool = False,
                           title: str = "Per-attribute squared error") -> Path:
    """The ``top_k`` attributes with the largest error in the first run, every run's error on them."""
    first = np.asarray(attr_means[0])
    k = min(int(top_k), first.size)
    order = np.argsort(-first, kind="stable")[:k]
    names = [attribute_names[i] if attribute_names is not None else f"attribute {i}" for i in order]
    fig, ax = plt.subplots(figsize=(max(7.0, 0.32 * k + 2), 4.8))
    x = np.arange(k)
    width = 0.8 / max(1, len(attr_means))
    for j, (m, lab) in enumerate(zip(attr_means, labels)):
        m = np.asarray(m)
        bars = ax.bar(x + (j - (len(attr_means) - 1) / 2) * width, m[order], width, label=f"{lab} (mean over all "
                      f"{m.size}: {m.mean():.3g})", hatch=("", "//", "..", "xx")[j % 4], edgecolor="black", lw=0.4)
        ax.axhline(m.mean(), ls="--", lw=1, color=bars.patches[0].get_facecolor())
    ax.set_xticks(x, names, rotation=70, ha="right", fontsize=8)
    ax.set_ylabel("mean squared error (RegNorm'ed, per image)")
    ax.set_title(_title(f"{title}: the {k} worst of {first.size} attributes (by the first run); dashed: means",
                        synthetic), fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path, synthetic)
