"""Reading and writing MATLAB ``.mat`` files, v5 (scipy) and v7.3 (HDF5, via h5py).

xlsa17 files are MATLAB v5 for the small datasets, but users re-save large feature files
as v7.3 (the only MATLAB format above 2 GB). Both load into the same representation:
numeric arrays with MATLAB's shape (v7.3 data is stored transposed on disk and is
transposed back here), strings as ``str`` and cell arrays as nested object arrays, so that
callers need not care which format they were given.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Mapping

import h5py
import numpy as np
import scipy.io

from zslkit.data.mat5_check import check_v5_structure
from zslkit.errors import ZSLDataError
from zslkit.utils.outputs import atomic_path

_MAT73_HEADER = b"MATLAB 7.3 MAT-file, Platform: zslkit, Created by: zslkit HDF5 schema 1.00 ."


def is_mat73(path: str | os.PathLike) -> bool:
    """True if ``path`` is an HDF5-based (v7.3) MAT-file."""
    try:
        return bool(h5py.is_hdf5(os.fspath(path)))
    except OSError:
        return False


def load_mat(path: str | os.PathLike, variables: Iterable[str] | None = None) -> dict[str, Any]:
    """Load the variables of a MAT-file (v5 or v7.3) into a dict.

    Args:
        path: the file.
        variables: names to load (all when ``None``); missing names are simply absent from
            the result, callers check and raise with the field name.

    Raises:
        ZSLDataError: the file is missing or is not a readable MAT-file.
    """
    p = Path(path)
    if not p.is_file():
        raise ZSLDataError(f"{p}: file not found")
    names = list(variables) if variables is not None else None
    if is_mat73(p):
        try:
            return _load_mat73(p, names)
        except ZSLDataError:
            raise
        except Exception as exc:  # h5py raises many types on damaged files
            raise ZSLDataError(f"{p}: unreadable MATLAB v7.3 (HDF5) file: {exc}") from exc
    check_v5_structure(p)  # scipy segfaults on some damaged v5 files; fail with a message instead
    try:
        out = scipy.io.loadmat(p, variable_names=names, squeeze_me=False, chars_as_strings=True)
    except Exception as exc:  # scipy raises ValueError/TypeError/OSError/... on truncated or foreign files
        raise ZSLDataError(f"{p}: not a readable MATLAB .mat file (v5 or v7.3): {exc}") from exc
    return {k: v for k, v in out.items() if not k.startswith("__")}


def _load_mat73(path: Path, names: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with h5py.File(path, "r") as f:
        keys = [k for k in f.keys() if not k.startswith("#")]
        for k in keys if names is None else [n for n in names if n in f]:
            out[k] = _h5_value(f, f[k], f"{path}:{k}")
    return out


def _h5_value(f: h5py.File, obj: Any, where: str) -> Any:
    if isinstance(obj, h5py.Group):
        raise ZSLDataError(f"{where}: MATLAB structs are not supported here (expected a matrix or cell array)")
    mclass = obj.attrs.get("MATLAB_class", b"")
    mclass = mclass.decode() if isinstance(mclass, bytes) else str(mclass)
    data = obj[()]
    if mclass == "char":
        arr = np.asarray(data, dtype=np.uint16)
        if obj.attrs.get("MATLAB_empty", 0):
            return ""
        # Stored transposed: a 1 x L MATLAB char row is (L, 1) on disk.
        return "".join(chr(c) for c in arr.T.ravel() if c != 0)
    if mclass == "cell" or data.dtype == h5py.ref_dtype:
        refs = np.asarray(data).T
        cell = np.empty(refs.shape, dtype=object)
        for idx in np.ndindex(refs.shape):
            cell[idx] = _h5_value(f, f[refs[idx]], where)
        return cell
    if obj.attrs.get("MATLAB_empty", 0):
        return np.zeros((0, 0))
    arr = np.asarray(data)
    return arr.T if arr.ndim >= 2 else arr.reshape(1, -1) if arr.ndim == 1 else arr


def mat_strings(value: Any, where: str) -> list[str]:
    """Flatten a MATLAB cell array of strings (as loaded by :func:`load_mat`) into a list."""
    if isinstance(value, str):
        return [value]
    arr = np.asarray(value, dtype=object)
    out: list[str] = []
    for item in arr.ravel(order="F"):
        while isinstance(item, np.ndarray) and item.dtype == object and item.size == 1:
            item = item.ravel()[0]
        if isinstance(item, np.ndarray):
            if item.size == 0:
                item = ""
            elif item.dtype.kind == "U":
                item = "".join(item.ravel().tolist())
            else:
                raise ZSLDataError(f"{where}: expected a cell array of strings, found an element of dtype {item.dtype}")
        if isinstance(item, bytes):
            try:
                item = item.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ZSLDataError(f"{where}: a name is not valid UTF-8: {item!r}") from exc
        if not isinstance(item, str):
            raise ZSLDataError(f"{where}: expected a cell array of strings, found {type(item).__name__}")
        out.append(item)
    return out


def _cell_of_strings(strings: list[str]) -> np.ndarray:
    cell = np.empty((len(strings), 1), dtype=object)
    for i, s in enumerate(strings):
        cell[i, 0] = np.array([s])
    return cell


def save_mat(path: str | os.PathLike, variables: Mapping[str, Any], version: str = "v5") -> Path:
    """Write ``variables`` to a MAT-file atomically.

    Lists of ``str`` become MATLAB cell arrays of strings (column, n x 1, as in xlsa17);
    numeric arrays keep their shape and dtype. ``version="v7.3"`` writes HDF5 readable by
    MATLAB, h5py and :func:`load_mat` (needed above 2 GB).
    """
    if version not in ("v5", "v7.3"):
        raise ZSLDataError(f"save_mat: version must be 'v5' or 'v7.3', got {version!r}")
    with atomic_path(path, suffix=".mat") as tmp:
        if version == "v5":
            conv = {k: _cell_of_strings(v) if _is_str_list(v) else v for k, v in variables.items()}
            scipy.io.savemat(tmp, conv, do_compression=False, oned_as="column")
        else:
            _save_mat73(tmp, variables)
    return Path(path)


def _is_str_list(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and all(isinstance(s, str) for s in v) and len(v) > 0


def _save_mat73(path: Path, variables: Mapping[str, Any]) -> None:
    with h5py.File(path, "w", userblock_size=512) as f:
        refs = f.create_group("#refs#")
        for name, value in variables.items():
            if _is_str_list(value):
                ref_list = []
                for i, s in enumerate(value):
                    codes = np.array([ord(c) for c in s] or [0], dtype=np.uint16).reshape(-1, 1)
                    ds = refs.create_dataset(f"{name}_{i}", data=codes)
                    ds.attrs["MATLAB_class"] = np.bytes_("char")
                    ds.attrs["MATLAB_int_decode"] = np.int32(2)
                    if not s:
                        ds.attrs["MATLAB_empty"] = np.uint8(1)
                    ref_list.append(ds.ref)
                # A MATLAB n x 1 cell is stored as (1, n) on disk.
                ds = f.create_dataset(name, data=np.array([ref_list], dtype=h5py.ref_dtype))
                ds.attrs["MATLAB_class"] = np.bytes_("cell")
            else:
                arr = np.asarray(value)
                if arr.ndim == 1:
                    arr = arr.reshape(-1, 1)
                mclass = {"f": {4: "single", 8: "double"}, "i": {1: "int8", 2: "int16", 4: "int32", 8: "int64"},
                          "u": {1: "uint8", 2: "uint16", 4: "uint32", 8: "uint64"}}.get(arr.dtype.kind, {}).get(
                    arr.dtype.itemsize)
                if mclass is None:
                    raise ZSLDataError(f"save_mat: variable {name!r} has unsupported dtype {arr.dtype}")
                ds = f.create_dataset(name, data=np.ascontiguousarray(arr.T))
                ds.attrs["MATLAB_class"] = np.bytes_(mclass)
    with open(path, "r+b") as fh:  # MATLAB recognises v7.3 files by this text header in the user block
        fh.write(_MAT73_HEADER.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02IM")
