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

Arrays must carry their data (*decision*): a pickle can describe an array far larger than
itself without holding its bytes, e.g. by calling ``numpy.ndarray(shape, dtype, buffer, 0,
strides)`` with zero strides (a 106-byte file asking for 128 MB, or 80 GB at 1e5 x 1e5), or by
``_reconstruct`` with a shape and no data (uninitialised memory, which would be written to the
``.npy``). So ``numpy.ndarray`` is admitted only as the class argument of ``_reconstruct`` (never
called), ``_reconstruct`` only with numpy's own empty shape ``(0,)``, and the array's state
(shape, dtype, raw bytes) must hold exactly ``prod(shape) * itemsize`` bytes of a non-object
dtype. The output is bounded before it is allocated: at most :data:`MAX_OUTPUT_FACTOR` times the
pickle's size (plus :data:`MAX_OUTPUT_SLACK`), which a genuine file never exceeds (its bytes are
in the file; the factor leaves room for stacking int8/bool vectors as float64), but a dict
repeating one vector by reference (pickle's memo) would. Dict keys become lines of
``<stem>_names.txt``, so a key that is empty or holds a line separator (``\\n``, ``\\r``,
``\\u2028``, ...) is refused, naming it.
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


#: the output (.npy) may be at most this many times the pickle's size (plus MAX_OUTPUT_SLACK): a pickle
#: holds its arrays' bytes, so only made-up or repeated data could be larger
MAX_OUTPUT_FACTOR = 8
MAX_OUTPUT_SLACK = 1 << 20


class _NdarrayClass:
    """What ``numpy.ndarray`` unpickles to: a token accepted as ``_reconstruct``'s class argument and
    nothing else; calling it (``ndarray(shape, dtype, buffer, offset, strides)``: an array made of
    repeated or uninitialised bytes) is refused."""

    def __call__(self, *args, **kwargs):
        raise pickle.UnpicklingError("numpy.ndarray(...) called directly refused: it builds an array from a "
                                     "buffer and strides, or from no data at all (only arrays pickled with their "
                                     "data are admitted)")

    def __repr__(self) -> str:
        return "numpy.ndarray"


_NDARRAY = _NdarrayClass()


def _nbytes(shape: Any, dtype: np.dtype) -> int:
    """Bytes of an array of ``shape`` and ``dtype``, in Python integers (no overflow), shape checked."""
    if not isinstance(shape, tuple) or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                                               for n in shape):
        raise pickle.UnpicklingError(f"array shape {shape!r} refused (expected a tuple of integers >= 0)")
    total = int(dtype.itemsize)
    for n in shape:
        total *= n
    return total


class _CheckedArray(np.ndarray):
    """The arrays ``_reconstruct`` makes: their state (``__setstate__``, pickle's BUILD) must carry
    exactly the bytes of their shape and dtype, before numpy sees it. Views as plain ndarrays when done."""

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise pickle.UnpicklingError("array state refused (expected numpy's (version, shape, dtype, "
                                         "fortran, data))")
        shape, dtype, raw = state[-4], state[-3], state[-1]
        if not isinstance(dtype, np.dtype) or dtype.hasobject:
            raise pickle.UnpicklingError(f"array dtype {dtype!r} refused (only plain numeric arrays)")
        need = _nbytes(shape, dtype)
        if not isinstance(raw, (bytes, bytearray)) or len(raw) != need:
            have = f"{len(raw)} bytes" if isinstance(raw, (bytes, bytearray)) else type(raw).__name__
            raise pickle.UnpicklingError(f"array of shape {shape} and dtype {dtype} needs {need} bytes of data, "
                                         f"the file holds {have} for it")
        super().__setstate__(state)
        self._has_data = True


def _plain(obj: Any) -> Any:
    """``obj`` with the arrays of :class:`_CheckedArray` viewed as plain ndarrays (dict values too); an
    array that ``_reconstruct`` made but no state filled (it has no data) is refused."""
    if isinstance(obj, _CheckedArray) and not getattr(obj, "_has_data", False):
        raise pickle.UnpicklingError("an array without data (its state, with the bytes, is missing) refused")
    if isinstance(obj, np.ndarray):
        return obj.view(np.ndarray)
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    return obj


def _numpy_globals() -> dict[tuple[str, str], Any]:
    try:  # numpy >= 2
        from numpy._core import multiarray, numeric
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray, numeric

    def reconstruct(cls, shape, dtype):
        # numpy pickles an array as _reconstruct(ndarray, (0,), b'b') then sets its state (with the data);
        # another shape would be an array of uninitialised memory if no state followed
        if cls is not _NDARRAY:
            raise pickle.UnpicklingError(f"_reconstruct of {cls!r} refused (only numpy.ndarray)")
        if shape != (0,):
            raise pickle.UnpicklingError(f"_reconstruct with shape {shape!r} refused (numpy writes (0,) and the "
                                         "data in the array's state; another shape is memory without data)")
        return multiarray._reconstruct(_CheckedArray, (0,), b"b")

    def frombuffer(buf, dtype, shape, order):
        # protocol 5: the array's bytes are the buffer itself, so its size is the data's size
        if not isinstance(buf, (bytes, bytearray, pickle.PickleBuffer)):
            raise pickle.UnpicklingError(f"_frombuffer of {type(buf).__name__} refused (expected bytes)")
        if not isinstance(dtype, np.dtype) or dtype.hasobject:
            raise pickle.UnpicklingError(f"array dtype {dtype!r} refused (only plain numeric arrays)")
        size = memoryview(buf).nbytes
        if _nbytes(tuple(shape) if isinstance(shape, list) else shape, dtype) != size:
            raise pickle.UnpicklingError(f"array of shape {shape} and dtype {dtype} does not match its {size} "
                                         "bytes of data")
        return numeric._frombuffer(buf, dtype, shape, order)

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

    allowed: dict[tuple[str, str], Any] = {("numpy", "ndarray"): _NDARRAY, ("numpy", "dtype"): np.dtype,
                                           ("_codecs", "encode"): latin1_bytes}
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(mod, "_reconstruct")] = reconstruct
        allowed[(mod, "scalar")] = scalar
    for mod in ("numpy.core.numeric", "numpy._core.numeric"):
        allowed[(mod, "_frombuffer")] = frombuffer
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
        return _plain(_NumpyOnlyUnpickler(io.BytesIO(data), source).load())
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


def _check_output_size(p: Path, shape: tuple[int, ...], dtype: np.dtype, limit: int, file_size: int) -> None:
    """Refuse, before anything of that size is allocated, an output larger than the file can hold."""
    need = _nbytes(tuple(int(n) for n in shape), np.dtype(dtype))
    if need > limit:
        raise ZSLDataError(f"{p}: the array to write would be {need} bytes ({' x '.join(map(str, shape))} "
                           f"{np.dtype(dtype)}) from a {file_size}-byte pickle; at most {limit} bytes "
                           f"({MAX_OUTPUT_FACTOR} x the file + {MAX_OUTPUT_SLACK}) are accepted: a genuine file holds "
                           "its data, this one repeats or makes it up")


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
    limit = MAX_OUTPUT_FACTOR * len(data) + MAX_OUTPUT_SLACK
    if isinstance(obj, np.ndarray):
        arr = _numeric(obj, str(p))
        _check_output_size(p, arr.shape, arr.dtype, limit, len(data))
        return arr
    if isinstance(obj, dict):
        if not obj:
            raise ZSLDataError(f"{p}: the pickled dict is empty")
        names, rows = [], []
        for k, v in obj.items():
            if not isinstance(k, str):
                raise ZSLDataError(f"{p}: dict keys must be names (str), found {type(k).__name__} {k!r}")
            if not k.strip() or len(k.splitlines()) != 1 or k.splitlines()[0] != k:
                why = "is blank" if not k.strip() else "holds a line break"
                raise ZSLDataError(f"{p}: dict key {k!r} {why}; each key becomes one line of the names file, so keys "
                                   "must be non-empty single-line names")
            v = _numeric(v, f"{p}: entry {k!r}")
            if v.ndim != 1:
                raise ZSLDataError(f"{p}: entry {k!r} must be a 1-D vector, found shape {v.shape}")
            if rows and v.shape != rows[0].shape:
                raise ZSLDataError(f"{p}: entry {k!r} has {v.shape[0]} dimensions, the first entry {rows[0].shape[0]}")
            names.append(k)
            rows.append(v)
        out_dtype = np.result_type(*{r.dtype for r in rows})  # the few distinct dtypes (numpy 1.x takes <= 32)
        _check_output_size(p, (len(rows), rows[0].shape[0]), out_dtype, limit, len(data))
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
