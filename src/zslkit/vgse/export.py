"""Write a class-embedding matrix the way the toolkit (and the VGSE authors) read it.

* ``.mat`` in the layout of the authors' ``VGSE_SMO.mat``: field ``att`` = D_v x C (one
  column per class, like xlsa17's ``att``), ``allclasses_names`` (C x 1 cell). It is read
  back by :func:`zslkit.data.read_semantic_matrix` and by ``load_xlsa17(root,
  semantic="vgse")`` when saved as ``VGSE_SMO.mat`` in a dataset directory (rows are matched
  to the dataset's classes by name). Extra fields: ``seen_classes`` / ``unseen_classes``
  (cells of names) and ``relation`` (U x S, when given), which readers ignore.
* ``.npy``: C x D_v float32 (no pickle).
* ``.csv``: header ``class,dim_1..dim_Dv``, one row per class, the class name first.

Every file is written atomically.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Sequence

import numpy as np

from zslkit.data.matfile import save_mat
from zslkit.errors import ZSLDataError
from zslkit.utils.outputs import atomic_path, atomic_write_text


def _check(emb: np.ndarray, class_names: Sequence[str]) -> np.ndarray:
    emb = np.asarray(emb, dtype=np.float64)
    if emb.ndim != 2 or emb.shape[0] != len(class_names):
        raise ZSLDataError(f"embeddings must be C x D with C = {len(class_names)} class names, got {emb.shape}")
    if not np.all(np.isfinite(emb)):
        raise ZSLDataError("embeddings contain NaN/inf")
    if len(set(class_names)) != len(class_names):
        raise ZSLDataError("duplicate class names")
    return emb


def write_embedding_mat(path: str | Path, embeddings: np.ndarray, class_names: Sequence[str],
                        seen: Sequence[str] | None = None, unseen: Sequence[str] | None = None,
                        relation: np.ndarray | None = None) -> Path:
    """``att`` (D_v x C) + ``allclasses_names`` (+ optional seen/unseen lists, relation U x S)."""
    emb = _check(embeddings, class_names)
    out: dict = {"att": np.ascontiguousarray(emb.T), "allclasses_names": [str(c) for c in class_names]}
    if seen:
        out["seen_classes"] = [str(c) for c in seen]
    if unseen:
        out["unseen_classes"] = [str(c) for c in unseen]
    if relation is not None:
        out["relation"] = np.asarray(relation, dtype=np.float64)
    return save_mat(path, out)


def write_embedding_npy(path: str | Path, embeddings: np.ndarray) -> Path:
    with atomic_path(path, suffix=".npy") as tmp:
        np.save(tmp, np.asarray(embeddings, dtype=np.float32), allow_pickle=False)
    return Path(path)


def write_embedding_csv(path: str | Path, embeddings: np.ndarray, class_names: Sequence[str],
                        prefix: str = "dim") -> Path:
    emb = _check(embeddings, class_names)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["class", *[f"{prefix}_{i + 1}" for i in range(emb.shape[1])]])
    for name, row in zip(class_names, emb):
        w.writerow([name, *[f"{v:.8g}" for v in row]])
    return atomic_write_text(path, buf.getvalue())


def export_embeddings(out_dir: str | Path, embeddings: np.ndarray, class_names: Sequence[str],
                      seen: Sequence[str] | None = None, unseen: Sequence[str] | None = None,
                      relation: np.ndarray | None = None, stem: str = "VGSE_SMO") -> dict[str, Path]:
    """Write ``<stem>.mat``, ``<stem>.npy``, ``<stem>.csv`` into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    return {
        "mat": write_embedding_mat(out / f"{stem}.mat", embeddings, class_names, seen, unseen, relation),
        "npy": write_embedding_npy(out / f"{stem}.npy", _check(embeddings, class_names)),
        "csv": write_embedding_csv(out / f"{stem}.csv", embeddings, class_names),
    }
