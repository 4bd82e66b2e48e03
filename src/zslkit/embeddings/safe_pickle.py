"""Read pickled numpy word-vector arrays without executing code from the file.

GEM-ZSL, DAZLE, TransZero and ReZSL publish their attribute word vectors as Python pickles
(``w2v/<DATASET>_attribute.pkl``: one numpy array, attributes x 300). ``pickle.load`` runs
whatever the file tells it to (``os.system``, ``eval``, ...), so zslkit never calls it on a
file. :func:`load_pickled_array` unpickles with a restricted :class:`pickle.Unpickler` whose
``find_class`` admits only the few numpy globals a plain array needs:

* ``numpy.core.multiarray._reconstruct`` / ``numpy._core.multiarray._reconstruct`` (the
  numpy 1.x and 2.x module paths), ``numpy.ndarray`` and ``numpy.dtype`` (arrays pickled with
  protocols 0-4);
* ``numpy.core.numeric._frombuffer`` / ``numpy._core.numeric._frombuffer`` (protocol 5);
* ``numpy.core.multiarray.scalar`` / ``numpy._core.multiarray.scalar`` (numpy scalars),
  for non-object dtypes only;
* ``_codecs.encode(text, 'latin1')``, how protocols 0-2 written by Python 3 spell the bytes of an
  array's data (that one codec and a str argument only).

Any other global (a function, a class, ``builtins.eval``, ``os.system``, ...) stops the load
before anything is called, with a :class:`~zslkit.errors.ZSLDataError` naming the file and the
refused global. Plain containers (dict, list, str, numbers) need no global and are built by the
unpickler itself.

What is accepted as the file's content (*decision*, documented in the CLI help):

* a numeric numpy array (bool, integer, float): returned as is;
* a dict ``{name: vector}`` of 1-D numeric vectors of one length (some repositories store
  class or attribute vectors keyed by name): returned as ``(names, matrix)`` with one row per
  key in the dict's order;

anything else (object arrays, lists, nested structures, other types) is a ZSLDataError saying
what was found.
"""

from __future__ import annotations

import io
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from zslkit.errors import ZSLDataError

__all__ = ["convert_pickled_vectors", "load_pickled_array", "loads_restricted"]


def _numpy_globals() -> dict[tuple[str, str], Any]:
    try:  # numpy >= 2
        from numpy._core import multiarray, numeric
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray, numeric

    def scalar(dtype, *args):
        # numpy scalars: refuse object dtype (its payload would be an arbitrary Python object)
        if not isinstance(dtype, np.dtype) or dtype.hasobject:
            raise pickle.UnpicklingError(f"numpy scalar of dtype {dtype!r} refused (only plain numeric values)")
        return multiarray.scalar(dtype, *args)

    def latin1_bytes(text, encoding="latin1"):
        # protocols 0-2 written by Python 3 spell a bytes object (the array's data) as
        # _codecs.encode(str, 'latin1'); admit exactly that and no other codec or argument type
        if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
            raise pickle.UnpicklingError(f"_codecs.encode({type(text).__name__}, {encoding!r}) refused "
                                         "(only the latin1 spelling of bytes is admitted)")
        return text.encode("latin1")

    allowed: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
                                           ("_codecs", "encode"): latin1_bytes}
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(mod, "_reconstruct")] = multiarray._reconstruct
        allowed[(mod, "scalar")] = scalar
    for mod in ("numpy.core.numeric", "numpy._core.numeric"):
        allowed[(mod, "_frombuffer")] = numeric._frombuffer
    return allowed


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """``find_class`` admits only the numpy globals of plain arrays (module docstring)."""

    def __init__(self, file, source: str):
        super().__init__(file)
        self._source = source
        self._allowed = _numpy_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise ZSLDataError(
                f"{self._source}: refused to unpickle global '{module}.{name}': only plain numpy arrays "
                "(and dicts of them) are admitted, and this file asks for something else (it may not be a "
                "word-vector array, or it may try to run code); nothing from it was executed") from None

    def persistent_load(self, pid: Any) -> Any:
        raise ZSLDataError(f"{self._source}: refused persistent id {pid!r} (only plain numpy arrays are admitted)")


def loads_restricted(data: bytes, source: str = "<bytes>") -> Any:
    """Unpickle ``data`` admitting only plain numpy arrays (module docstring); ``source`` names it in errors."""
    try:
        return _NumpyOnlyUnpickler(io.BytesIO(data), source).load()
    except ZSLDataError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError,
            MemoryError, OverflowError) as exc:
        raise ZSLDataError(f"{source}: not a readable pickle of numpy arrays ({type(exc).__name__}: {exc})") from exc


def _numeric(arr: Any, where: str) -> np.ndarray:
    if not isinstance(arr, np.ndarray):
        raise ZSLDataError(f"{where}: expected a numpy array, found {type(arr).__name__}")
    if arr.dtype.kind not in "biuf":
        raise ZSLDataError(f"{where}: expected a numeric (bool/int/float) array, found dtype {arr.dtype}")
    return arr


def load_pickled_array(path: str | os.PathLike) -> np.ndarray | tuple[list[str], np.ndarray]:
    """Read a pickled word-vector file safely.

    Returns:
        the array, for a file holding one numeric array; ``(names, matrix)`` (one row per key, in
        the dict's order) for a dict of equal-length 1-D numeric vectors.
    Raises:
        ZSLDataError: the file is missing or unreadable, asks for any global other than the numpy
        ones plain arrays need (nothing is executed), or holds anything else.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ZSLDataError(f"{p}: cannot read ({exc.strerror or exc})") from exc
    obj = loads_restricted(data, str(p))
    if isinstance(obj, np.ndarray):
        return _numeric(obj, str(p))
    if isinstance(obj, dict):
        if not obj:
            raise ZSLDataError(f"{p}: the pickled dict is empty")
        names, rows = [], []
        for k, v in obj.items():
            if not isinstance(k, str):
                raise ZSLDataError(f"{p}: dict keys must be names (str), found {type(k).__name__} {k!r}")
            v = _numeric(v, f"{p}: entry {k!r}")
            if v.ndim != 1:
                raise ZSLDataError(f"{p}: entry {k!r} must be a 1-D vector, found shape {v.shape}")
            if rows and v.shape != rows[0].shape:
                raise ZSLDataError(f"{p}: entry {k!r} has {v.shape[0]} dimensions, the first entry {rows[0].shape[0]}")
            names.append(k)
            rows.append(v)
        return names, np.stack(rows)
    raise ZSLDataError(f"{p}: expected a pickled numpy array or a dict {{name: vector}}, found {type(obj).__name__}")


def convert_pickled_vectors(src: str | os.PathLike, dst: str | os.PathLike, overwrite: bool = False) -> dict[str, Any]:
    """``src`` (pickle) -> ``dst`` (``.npy``, readable with ``np.load(..., allow_pickle=False)``), atomically.

    A dict ``{name: vector}`` is written as the stacked matrix plus ``<dst stem>_names.txt`` (one
    name a line, row order). Returns a summary (shape, dtype, files written). A file zslkit did not
    write is never replaced (:mod:`zslkit.utils.outputs`); one it wrote only with ``overwrite``.
    """
    from zslkit.utils.outputs import ForeignFileError, atomic_path, atomic_write_text, output_dir

    dst = Path(dst)
    if dst.suffix != ".npy":
        raise ZSLDataError(f"{dst}: the output must be a .npy file")
    names_file = dst.with_name(dst.stem + "_names.txt")
    loaded = load_pickled_array(src)
    names, arr = (None, loaded) if isinstance(loaded, np.ndarray) else loaded
    targets = [dst] + ([names_file] if names is not None else [])
    if Path(os.path.abspath(src)) in [Path(os.path.abspath(t)) for t in targets]:
        raise ZSLDataError(f"{dst}: is the input file; choose another output file")
    with output_dir(dst.parent, kind=None, scope="files", clean_temps=False) as od:
        for t in targets:
            od.check_writable(od.rel(t))  # a file zslkit did not write: never replaced, --overwrite or not
        existing = [str(t) for t in targets if os.path.lexists(t)]
        if existing and not overwrite:
            raise ForeignFileError(f"{', '.join(existing)} already exists (written by zslkit); pass overwrite "
                                   "(--overwrite) to replace it")
        with atomic_path(dst, suffix=".npy") as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, np.ascontiguousarray(arr), allow_pickle=False)
        written = [str(dst)]
        if names is not None:
            atomic_write_text(names_file, "".join(n + "\n" for n in names))
            written.append(str(names_file))
    return {"shape": list(arr.shape), "dtype": str(arr.dtype), "names": names is not None, "written": written}
