"""Precomputed image features and labels from files: what ``zslkit data build --features`` reads.

A feature file holds one matrix, N images x D dimensions, of any real numeric dtype:

* ``.npy`` (header checked against the file before anything is allocated, no pickles),
* ``.npz`` with one array (or an array named ``features``),
* ``.mat`` (v5 or v7.3) with one 2-D numeric variable (or one named ``features``),
* ``.h5`` / ``.hdf5`` with one 2-D numeric dataset (or one named ``features``),
* ``.csv`` / ``.txt``: numeric rows, one image a row (comma, semicolon, tab or space separated).

Several files ("blocks", e.g. the five bag-of-words types of Lampert et al.'s Animals with
Attributes release) are kept apart by name and width (:func:`read_feature_blocks`), so a transform
or model can treat each type on its own.

Labels (:func:`read_labels`): one class per image, as 1-based indices into the class list (a
``.npy`` integer vector or a text file with one integer a line) or as class names (a text file with
one name a line).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from zslkit.errors import ZSLDataError

log = logging.getLogger(__name__)

#: feature file suffixes read by :func:`read_feature_file`
FEATURE_SUFFIXES = (".npy", ".npz", ".mat", ".h5", ".hdf5", ".csv", ".txt")
#: largest feature matrix read (bytes, in float32): far above AwA1's 30,475 x 8,252 (1 GB), far below what a
#: damaged header may claim
MAX_FEATURE_BYTES = 32 << 30


@dataclass
class FeatureBlock:
    """One named block of features: ``values`` (N x D float32) read from ``path``."""

    name: str
    path: Path
    values: np.ndarray
    dtype: str  # the dtype stored in the file

    @property
    def dim(self) -> int:
        return int(self.values.shape[1])


def _check_matrix(arr: np.ndarray, where: str) -> np.ndarray:
    if arr.dtype.hasobject or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ZSLDataError(f"{where}: expected a numeric N x D matrix, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise ZSLDataError(f"{where}: complex values ({arr.dtype}); expected real features")
    if arr.ndim != 2:
        raise ZSLDataError(f"{where}: expected a 2-D matrix (N images x D dims), got shape {arr.shape}")
    if 0 in arr.shape:
        raise ZSLDataError(f"{where}: empty block (shape {arr.shape}); expected N images x D > 0 dims")
    if arr.size * 4 > MAX_FEATURE_BYTES:
        raise ZSLDataError(f"{where}: {arr.shape} is {arr.size * 4 / 2**30:.3g} GiB as float32, above the "
                           f"{MAX_FEATURE_BYTES / 2**30:.3g} GiB zslkit reads")
    return arr


def _one(names: Sequence[str], p: Path, what: str) -> str:
    if "features" in names:
        return "features"
    if len(names) == 1:
        return names[0]
    raise ZSLDataError(f"{p}: holds {len(names)} {what} ({', '.join(sorted(names)[:6])}); expected one, or one named "
                       "'features'")


def read_feature_file(path: str | os.PathLike) -> tuple[np.ndarray, str]:
    """The N x D matrix of one feature file (see the module docstring) as float32, and its stored dtype.

    Raises:
        ZSLDataError: a missing or unreadable file, not exactly one matrix, a non-numeric or complex
            dtype, not 2-D, an empty block, NaN/inf (naming the first bad image), a size beyond
            :data:`MAX_FEATURE_BYTES`.
    """
    p = Path(path)
    if not p.is_file():
        raise ZSLDataError(f"{p}: feature file not found")
    suffix = p.suffix.lower()
    if suffix not in FEATURE_SUFFIXES:
        raise ZSLDataError(f"{p}: unknown feature file type {suffix or '(no suffix)'}; expected one of "
                           f"{', '.join(FEATURE_SUFFIXES)}")
    if suffix == ".npy":
        from zslkit.data.semantic_files import read_npy

        arr = read_npy(p, max_bytes=MAX_FEATURE_BYTES)
    elif suffix == ".npz":
        try:
            with np.load(p, allow_pickle=False) as z:
                arr = z[_one(list(z.files), p, "arrays")]
        except ZSLDataError:
            raise
        except (ValueError, OSError, EOFError, KeyError) as exc:
            raise ZSLDataError(f"{p}: unreadable .npz file ({exc})") from exc
    elif suffix == ".mat":
        from zslkit.data.matfile import load_mat

        m = {k: v for k, v in load_mat(p).items() if isinstance(v, np.ndarray) and v.ndim == 2 and v.dtype != object}
        if not m:
            raise ZSLDataError(f"{p}: no 2-D numeric variable; expected one N x D matrix")
        arr = m[_one(list(m), p, "2-D variables")]
    elif suffix in (".h5", ".hdf5"):
        arr = _read_h5(p)
    else:
        from zslkit.data.semantic_files import _read_csv

        arr, _ = _read_csv(p, None)
    stored = str(arr.dtype)
    arr = _check_matrix(np.asarray(arr), str(p))
    out = np.asarray(arr, dtype=np.float32)
    bad = ~np.isfinite(out)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise ZSLDataError(f"{p}: {int(bad.sum())} NaN or infinite value(s), the first in image {row} (0-based row); "
                           "features must be finite")
    return out, stored


def _read_h5(p: Path) -> np.ndarray:
    import h5py

    try:
        with h5py.File(p, "r") as f:
            found: dict[str, h5py.Dataset] = {}
            f.visititems(lambda name, obj: found.setdefault(name, obj)
                         if isinstance(obj, h5py.Dataset) and obj.ndim == 2 else None)
            if not found:
                raise ZSLDataError(f"{p}: no 2-D dataset; expected one N x D matrix")
            key = _one([k.rsplit("/", 1)[-1] for k in found], p, "2-D datasets")
            ds = next(v for k, v in found.items() if k.rsplit("/", 1)[-1] == key)
            if int(np.prod(ds.shape)) * 4 > MAX_FEATURE_BYTES:
                raise ZSLDataError(f"{p}:{key}: shape {ds.shape} is above the {MAX_FEATURE_BYTES / 2**30:.3g} GiB "
                                   "zslkit reads")
            return np.asarray(ds[()])
    except ZSLDataError:
        raise
    except (OSError, ValueError, TypeError) as exc:
        raise ZSLDataError(f"{p}: unreadable HDF5 file ({exc})") from exc


def read_feature_blocks(files: dict[str, str | os.PathLike], num_images: int | None = None) -> list[FeatureBlock]:
    """Read every named block (``{name: file}``, in the given order); all must have the same number of
    rows (and ``num_images`` when given)."""
    if not files:
        raise ZSLDataError("no feature file given (--features NAME=FILE)")
    blocks = []
    for name, path in files.items():
        values, stored = read_feature_file(path)
        blocks.append(FeatureBlock(name=name, path=Path(path), values=values, dtype=stored))
        log.info("feature block %s: %d x %d (%s) from %s", name, *values.shape, stored, path)
        n = num_images if num_images is not None else blocks[0].values.shape[0]
        if values.shape[0] != n:
            ref = "the labels" if num_images is not None else f"block {blocks[0].name!r} ({blocks[0].path})"
            raise ZSLDataError(f"{path}: block {name!r} has {values.shape[0]} rows (images), {ref} "
                               f"{'have' if num_images is not None else 'has'} {n}; every block needs one row per "
                               "image, in the same order")
    return blocks


def stack_blocks(blocks: Sequence[FeatureBlock]) -> np.ndarray:
    """The blocks side by side (N x sum of widths, float32), filled into one array (no intermediate copies)."""
    n = blocks[0].values.shape[0]
    out = np.empty((n, sum(b.dim for b in blocks)), dtype=np.float32)
    c = 0
    for b in blocks:
        out[:, c:c + b.dim] = b.values
        c += b.dim
    return out


def read_labels(path: str | os.PathLike, class_names: Sequence[str]) -> np.ndarray:
    """0-based class ids (N,) of the images from ``path``: a ``.npy`` integer vector or a text file with one
    integer a line (1-based indices into ``class_names``), or a text file with one class name a line.

    Raises:
        ZSLDataError: unreadable file, an index outside ``1..len(class_names)`` or a name not in the class
            list (naming the line), a non-integer value, an empty file.
    """
    p = Path(path)
    c = len(class_names)
    if not p.is_file():
        raise ZSLDataError(f"{p}: labels file not found")
    if p.suffix.lower() in (".npy", ".npz"):
        if p.suffix.lower() == ".npz":
            with np.load(p, allow_pickle=False) as z:
                raw = z[_one(list(z.files), p, "arrays")]
        else:
            from zslkit.data.semantic_files import read_npy

            raw = read_npy(p)
        raw = np.asarray(raw).ravel() if np.asarray(raw).ndim == 2 and 1 in np.asarray(raw).shape else raw
        if raw.ndim != 1 or raw.size == 0:
            raise ZSLDataError(f"{p}: expected a non-empty vector of labels (one per image), got shape {raw.shape}")
        if not np.issubdtype(raw.dtype, np.integer):
            if not np.issubdtype(raw.dtype, np.floating) or not np.all(np.isfinite(raw)) or \
                    np.any(raw != np.round(raw)):
                raise ZSLDataError(f"{p}: labels must be integers (1-based class indices), got dtype {raw.dtype}")
        ids = raw.astype(np.int64)
        bad = np.flatnonzero((ids < 1) | (ids > c))
        if bad.size:
            raise ZSLDataError(f"{p}: label {ids[bad[0]]} of image {bad[0]} (0-based) is outside 1..{c} (1-based "
                               f"indices into the {c} classes)")
        return ids - 1
    try:
        lines = [ln.strip() for ln in p.read_bytes().decode("utf-8-sig").splitlines()]
    except UnicodeDecodeError as exc:
        raise ZSLDataError(f"{p}: labels file is not UTF-8 text ({exc})") from exc
    lines = [ln for ln in lines if ln]
    if not lines:
        raise ZSLDataError(f"{p}: labels file is empty")
    if all(ln.lstrip("+-").isdigit() for ln in lines):
        ids = np.array([int(ln) for ln in lines], dtype=np.int64)
        bad = np.flatnonzero((ids < 1) | (ids > c))
        if bad.size:
            raise ZSLDataError(f"{p}:{bad[0] + 1}: label {ids[bad[0]]} is outside 1..{c} (1-based indices into the "
                               f"{c} classes)")
        return ids - 1
    index = {n: i for i, n in enumerate(class_names)}
    unknown = [(i + 1, ln) for i, ln in enumerate(lines) if ln not in index]
    if unknown:
        line, name = unknown[0]
        raise ZSLDataError(f"{p}:{line}: label {name!r} is not in the class list ({len(unknown)} unknown label(s)); "
                           "labels are class names or 1-based class indices")
    return np.array([index[ln] for ln in lines], dtype=np.int64)
