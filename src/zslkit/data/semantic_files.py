"""Class semantic matrices from files: ``.mat`` (any field), ``.npy``, ``.csv``.

Whatever the file, the result is C x K (one row per class, in the dataset's class order).
Files store either orientation; the orientation is decided from the number of classes and
never guessed when ambiguous.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from zslkit.data.matfile import load_mat, mat_strings
from zslkit.errors import ZSLDataError

#: Fields tried, in order, when a .mat semantic file is given without ``field=``.
MAT_FIELDS = ("att", "embeddings", "embedding", "features", "w2v", "word2vec", "vgse", "semantic")


def orient_class_matrix(mat: np.ndarray, num_classes: int | None, where: str, stored: str = "KxC"
                        ) -> tuple[np.ndarray, str | None]:
    """Return ``(C x K matrix, note)`` from a matrix stored with one row or column per class.

    Args:
        mat: 2-D array.
        num_classes: expected C; if ``None`` the ``stored`` orientation is trusted.
        where: file:field, for messages.
        stored: the orientation the format specifies ("KxC" for xlsa17 ``att``, "CxK" for
            ``.npy``/``.csv``). When the other orientation is the only one that fits, the
            matrix is transposed and the returned note says so.
    """
    if mat.ndim != 2:
        raise ZSLDataError(f"{where}: expected a 2-D class matrix, got shape {mat.shape}")
    natural = mat.T if stored == "KxC" else mat
    if num_classes is None or natural.shape[0] == num_classes:
        if num_classes is not None and mat.shape[0] == mat.shape[1] == num_classes:
            note = f"{where}: square {mat.shape} matrix read as {stored} (the format's layout)"
            return natural, note
        return natural, None
    other = natural.T
    if other.shape[0] == num_classes:
        return other, f"{where}: stored as {'CxK' if stored == 'KxC' else 'KxC'} {mat.shape}, transposed to one row per class"
    raise ZSLDataError(f"{where}: shape {mat.shape} has no dimension equal to the number of classes ({num_classes})")


def _reorder(mat: np.ndarray, file_names: list[str], class_names: Sequence[str] | None, where: str
             ) -> tuple[np.ndarray, str | None]:
    if class_names is None or list(file_names) == list(class_names):
        return mat, None
    index = {n: i for i, n in enumerate(file_names)}
    missing = [n for n in class_names if n not in index]
    if missing:
        raise ZSLDataError(f"{where}: classes missing from the file: {missing[:10]}")
    return mat[[index[n] for n in class_names]], f"{where}: rows reordered by class name to the dataset's order"


def read_semantic_matrix(path: str | os.PathLike, num_classes: int, class_names: Sequence[str] | None = None,
                         field: str | None = None) -> tuple[np.ndarray, str | None]:
    """Read a C x K class semantic matrix from ``.mat``/``.npy``/``.csv``.

    * ``.mat``: ``field`` or the first of :data:`MAT_FIELDS` present, else the only 2-D
      numeric variable; stored K x C as in xlsa17 (C x K accepted when unambiguous). If the file
      has ``allclasses_names`` the rows are matched to ``class_names`` by name.
    * ``.npy``: a 2-D array, C x K (K x C accepted when unambiguous). No pickles are loaded.
    * ``.csv``: one row per class; a first non-numeric column is taken as class names and used
      to match ``class_names``; an optional header row is skipped.

    Returns:
        (matrix float32 C x K, note or None).
    """
    p = Path(path)
    if not p.is_file():
        raise ZSLDataError(f"{p}: semantic file not found")
    ext = p.suffix.lower()
    notes: list[str] = []
    if ext == ".mat":
        m = load_mat(p)
        if field is None:
            field = next((f for f in MAT_FIELDS if f in m), None)
            if field is None:
                cands = [k for k, v in m.items() if isinstance(v, np.ndarray) and v.ndim == 2 and v.dtype != object
                         and min(v.shape) > 1]
                if len(cands) != 1:
                    raise ZSLDataError(f"{p}: cannot tell which variable is the class matrix (candidates {cands}); "
                                       "pass field=...")
                field = cands[0]
        if field not in m:
            raise ZSLDataError(f"{p}: field {field!r} is missing (have {sorted(m)})")
        arr = np.asarray(m[field])
        if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
            raise ZSLDataError(f"{p}:{field}: expected a numeric matrix, got {arr.dtype}")
        _real(arr, f"{p}:{field}")
        mat, note = orient_class_matrix(arr.astype(np.float64), num_classes, f"{p}:{field}", stored="KxC")
        notes += [note] if note else []
        if "allclasses_names" in m:
            mat, note = _reorder(mat, mat_strings(m["allclasses_names"], f"{p}:allclasses_names"), class_names,
                                 str(p))
            notes += [note] if note else []
    elif ext == ".npy":
        arr = read_npy(p)
        mat, note = orient_class_matrix(arr.astype(np.float64), num_classes, str(p), stored="CxK")
        notes += [note] if note else []
    elif ext in (".csv", ".tsv", ".txt"):
        mat, names = _read_csv(p, delimiter="\t" if ext == ".tsv" else None)
        if names is not None:
            if len(names) != len(set(names)):
                raise ZSLDataError(f"{p}: duplicate class names in the first column")
            mat, note = _reorder(mat, names, class_names, str(p))
            notes += [note] if note else []
        mat, note = orient_class_matrix(mat, num_classes, str(p), stored="CxK")
        notes += [note] if note else []
    else:
        raise ZSLDataError(f"{p}: unsupported semantic file type {ext!r} (expected .mat, .npy, .csv)")
    if not np.all(np.isfinite(mat)):
        rows = np.unique(np.argwhere(~np.isfinite(mat))[:, 0])
        raise ZSLDataError(f"{p}: NaN/inf values in the rows of classes {rows[:10].tolist()}")
    if mat.shape[1] == 0:
        raise ZSLDataError(f"{p}: the class matrix has 0 columns ({mat.shape[0]} x 0): each class needs at least one "
                           "value")
    return mat.astype(np.float32), "; ".join(notes) or None


def _real(arr: np.ndarray, where: str) -> None:
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise ZSLDataError(f"{where}: complex values ({arr.dtype}) are not supported; expected a real matrix "
                           "(zslkit never drops imaginary parts silently)")


#: largest .npy class matrix read (bytes): far above any class embedding (SUN: 717 classes x 10^5 dims
#: of float64 is 0.57 GB), far below what a corrupt header may claim
NPY_MAX_BYTES = 4 << 30


def read_npy(path: str | os.PathLike, max_bytes: int = NPY_MAX_BYTES) -> np.ndarray:
    """Read a numeric ``.npy`` array, checking its header against the file before allocating.

    Refused with a :class:`ZSLDataError` naming the file: a zip archive (an ``.npz`` saved as
    ``.npy``), a missing or damaged header, object arrays (pickles are never loaded), a header
    whose shape and dtype need more bytes than the file holds (a truncated file, or a corrupt header
    claiming terabytes), arrays above ``max_bytes``, non-numeric and complex dtypes.
    """
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            head = fh.read(6)
            if head[:4] == b"PK\x03\x04":
                raise ZSLDataError(f"{p}: is a zip archive (an .npz file saved as .npy?); save one array with "
                                   "numpy.save, or pass the .npz's array saved on its own")
            if head != b"\x93NUMPY":
                raise ZSLDataError(f"{p}: not a .npy file (no NUMPY header)")
            fh.seek(0)
            version = np.lib.format.read_magic(fh)
            if version not in ((1, 0), (2, 0), (3, 0)):
                raise ZSLDataError(f"{p}: unsupported .npy format version {version}")
            reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _fortran, dtype = reader(fh, max_header_size=10_000)
            offset = fh.tell()
    except ZSLDataError:
        raise
    except (ValueError, OSError, EOFError, SyntaxError, TypeError) as exc:
        raise ZSLDataError(f"{p}: unreadable .npy header: {exc}") from exc
    if dtype.hasobject:
        raise ZSLDataError(f"{p}: holds Python objects (dtype {dtype}): object arrays and pickles are refused")
    if not np.issubdtype(dtype, np.number) and dtype != bool:
        raise ZSLDataError(f"{p}: expected a numeric array, got dtype {dtype}")
    _real(np.empty(0, dtype=dtype), str(p))
    need = int(np.prod(shape, dtype=object)) * dtype.itemsize
    have = p.stat().st_size - offset
    if need > max_bytes:
        raise ZSLDataError(f"{p}: header declares shape {shape} of {dtype} ({need / 2**30:.3g} GiB), above the "
                           f"{max_bytes / 2**30:.3g} GiB a class matrix may take")
    if need > have:
        raise ZSLDataError(f"{p}: header declares shape {shape} of {dtype} ({need} bytes) but the file holds {have} "
                           "bytes of data (truncated or corrupt)")
    try:
        return np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:  # pragma: no cover - the checks above catch these
        raise ZSLDataError(f"{p}: unreadable .npy file: {exc}") from exc


def _read_csv(p: Path, delimiter: str | None) -> tuple[np.ndarray, list[str] | None]:
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ZSLDataError(f"{p}: not UTF-8 text ({exc})") from exc
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",;\t ").delimiter
        except csv.Error:
            delimiter = ","
    try:
        rows = [r for r in csv.reader(io.StringIO(text), delimiter=delimiter) if any(c.strip() for c in r)]
    except csv.Error as exc:  # e.g. a field over the csv module's 128 KiB limit, a NUL byte
        raise ZSLDataError(f"{p}: not a readable CSV file ({exc})") from None
    if not rows:
        raise ZSLDataError(f"{p}: empty file")

    def is_num(s: str) -> bool:
        try:
            float(s)
            return True
        except ValueError:
            return False

    has_names = not is_num(rows[-1][0].strip())
    first_data = rows[0][1:] if has_names else rows[0]
    if not all(is_num(c.strip()) for c in first_data if c.strip()):
        rows = rows[1:]  # header
    names: list[str] | None = [] if has_names else None
    values = []
    width = None
    for ln, r in enumerate(rows, start=1):
        cells = [c.strip() for c in r]
        if has_names:
            names.append(cells[0])  # type: ignore[union-attr]
            cells = cells[1:]
        cells = [c for c in cells if c != ""]
        if width is None:
            width = len(cells)
        if len(cells) != width:
            raise ZSLDataError(f"{p}: data row {ln} has {len(cells)} values, expected {width}")
        try:
            values.append([float(c) for c in cells])
        except ValueError as exc:
            raise ZSLDataError(f"{p}: data row {ln}: not a number ({exc})") from exc
    return np.asarray(values, dtype=np.float64), names
