"""Class embeddings from a file (or a text model), matched to a dataset's classes by name.

Used by ``zslkit data synth --class-embeddings`` to write a real class embedding (for example
the GoogleNews word2vec vectors of the AWA2 or CUB class names) as ``word2vec_splits.mat``
instead of synthetic vectors. Accepted sources:

* ``.npy``: a C' x D array, with its row names in a text file (one name a line) given as
  ``names_file``; no pickles are loaded;
* ``.mat`` with ``allclasses_names`` (the xlsa17 layout, field ``att`` or another of
  :data:`zslkit.data.semantic_files.MAT_FIELDS`, stored D x C');
* ``.csv``/``.tsv``/``.txt`` with the class name in the first column;
* ``"wordllama"``: WordLlama embeddings of the class names (:mod:`zslkit.embeddings.text_models`).

Rows are matched to the dataset's classes by exact name (every class must be present; extra
rows are ignored), and each class vector is L2-normalised.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from zslkit.errors import ZSLDataError


def _match(mat: np.ndarray, row_names: list[str], class_names: Sequence[str], where: str) -> np.ndarray:
    if len(row_names) != mat.shape[0]:
        raise ZSLDataError(f"{where}: {len(row_names)} row names for {mat.shape[0]} rows")
    dup = sorted({n for n in row_names if row_names.count(n) > 1})
    if dup:
        raise ZSLDataError(f"{where}: duplicate row names {dup[:10]}")
    index = {n: i for i, n in enumerate(row_names)}
    missing = [n for n in class_names if n not in index]
    if missing:
        raise ZSLDataError(f"{where}: {len(missing)} class(es) of the dataset have no row: {missing[:10]} "
                           f"(rows are matched by exact class name; the file has e.g. {row_names[:3]})")
    return mat[[index[n] for n in class_names]]


def _unit_rows(mat: np.ndarray, class_names: Sequence[str], where: str) -> np.ndarray:
    mat = np.asarray(mat, dtype=np.float64)
    if not np.all(np.isfinite(mat)):
        raise ZSLDataError(f"{where}: NaN/inf values")
    norms = np.linalg.norm(mat, axis=1, keepdims=True)
    zero = [class_names[i] for i in np.flatnonzero(norms[:, 0] == 0)]
    if zero:
        raise ZSLDataError(f"{where}: all-zero vector(s) for class(es) {zero[:10]}; cannot L2-normalise")
    return (mat / norms).astype(np.float32)


def resolve_class_embeddings(source: str | os.PathLike, class_names: Sequence[str] | None, num_classes: int,
                             names_file: str | os.PathLike | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """(C x D float32 unit rows in the dataset's class order, provenance dict) from ``source``."""
    from zslkit.embeddings.text_models import is_text_model, text_class_embeddings

    if class_names is None:
        raise ZSLDataError("class embeddings are matched by class name, but the dataset's att_splits.mat has no "
                           "allclasses_names")
    if is_text_model(source):
        emb, info = text_class_embeddings(class_names, str(source), return_info=True)  # type: ignore[misc]
        return emb, info
    p = Path(source)
    if not p.is_file():
        raise ZSLDataError(f"{p}: class-embedding file not found (expected .npy + names file, .mat with "
                           "allclasses_names, .csv with names, or 'wordllama')")
    ext = p.suffix.lower()
    where = str(p)
    if ext == ".npy":
        if names_file is None:
            raise ZSLDataError(f"{p}: a .npy file has no row names; pass its names file (one class name a line, "
                               "--class-embedding-names) so that rows can be matched to classes by name")
        from zslkit.data.xlsa17 import read_class_list

        try:
            mat = np.load(p, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise ZSLDataError(f"{p}: unreadable .npy file (object arrays/pickles are refused): {exc}") from exc
        if mat.ndim != 2 or not np.issubdtype(mat.dtype, np.number):
            raise ZSLDataError(f"{p}: expected a 2-D numeric array (one row per class), got {mat.dtype} {mat.shape}")
        rows = read_class_list(names_file)
        mat = _match(mat.astype(np.float64), rows, class_names, f"{p} (names {names_file})")
    elif ext in (".mat", ".csv", ".tsv", ".txt"):
        if names_file is not None:
            raise ZSLDataError(f"{p}: --class-embedding-names is only for .npy files (this file names its rows)")
        from zslkit.data.semantic_files import read_semantic_matrix

        mat, _ = read_semantic_matrix(p, num_classes, class_names)
    else:
        raise ZSLDataError(f"{p}: unsupported class-embedding file type {ext!r} (expected .npy, .mat, .csv)")
    if mat.shape[0] != num_classes:
        raise ZSLDataError(f"{where}: {mat.shape[0]} rows after matching, expected {num_classes} classes")
    emb = _unit_rows(mat, class_names, where)
    info = {"source": "file", "file": str(p.resolve()), "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
            "names_file": None if names_file is None else str(Path(names_file).resolve()), "dim": int(emb.shape[1])}
    return emb, info
