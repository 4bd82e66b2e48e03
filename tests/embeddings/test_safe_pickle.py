"""Tests of zslkit.embeddings.safe_pickle: pickled word-vector arrays read without running code."""

from __future__ import annotations

import io
import os
import pickle
import pickletools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import shared_file
from zslkit.embeddings.safe_pickle import convert_pickled_vectors, load_pickled_array, loads_restricted
from zslkit.errors import ZSLDataError
from zslkit.utils.outputs import ForeignFileError

REPO = Path(__file__).resolve().parents[2]


def globals_of(data: bytes) -> set[str]:
    """The globals a pickle names (GLOBAL args; STACK_GLOBAL's from the preceding strings)."""
    out, strings = set(), []
    for op, arg, _ in pickletools.genops(data):
        if op.name == "GLOBAL":
            out.add(arg.replace(" ", "."))
        elif op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(arg)
        elif op.name == "STACK_GLOBAL":
            out.add(f"{strings[-2]}.{strings[-1]}")
    return out


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16])
def test_arrays_roundtrip_with_every_protocol(tmp_path, rng, protocol, dtype):
    arr = (rng.standard_normal((85, 300)) * 10).astype(dtype)
    p = tmp_path / "AWA2_attribute.pkl"
    p.write_bytes(pickle.dumps(arr, protocol=protocol))
    out = load_pickled_array(p)
    assert out.dtype == arr.dtype and np.array_equal(out, arr)


def test_fortran_order_and_scalars(rng):
    arr = np.asfortranarray(rng.random((4, 3)))
    np.testing.assert_array_equal(loads_restricted(pickle.dumps(arr, protocol=2)), arr)
    assert loads_restricted(pickle.dumps({"a": np.float32(2.5)}, protocol=4))["a"] == np.float32(2.5)


def test_numpy1_module_paths_are_admitted(rng):
    """Files written with numpy 1.x name ``numpy.core.multiarray._reconstruct``; numpy 2 writes
    ``numpy._core...``. Rewrite the module path in a protocol-2 pickle to build the 1.x form."""
    arr = rng.random((5, 7)).astype(np.float32)
    data = pickle.dumps(arr, protocol=2)
    if b"numpy._core.multiarray" in data:  # numpy 2 wrote it: make the numpy 1.x spelling
        old = data.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    else:  # pragma: no cover - numpy 1.x wrote it already
        old = data
    assert "numpy.core.multiarray._reconstruct" in globals_of(old)
    np.testing.assert_array_equal(loads_restricted(old), arr)


class _Evil:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    _Evil.marker = marker
    p = tmp_path / "evil.pkl"
    p.write_bytes(pickle.dumps(_Evil(), protocol=4))
    assert any(g.endswith(".system") for g in globals_of(p.read_bytes()))
    with pytest.raises(ZSLDataError, match=r"refused to unpickle global '(posix|os|nt)\.system'") as err:
        load_pickled_array(p)
    assert str(p) in str(err.value)
    assert not marker.exists()  # nothing ran
    # the same payload hidden inside an array's container is refused too
    p.write_bytes(pickle.dumps({"w2v": np.zeros(3), "x": _Evil()}, protocol=2))
    with pytest.raises(ZSLDataError, match="refused to unpickle global"):
        load_pickled_array(p)
    assert not marker.exists()


@pytest.mark.parametrize("payload, match", [
    (np.array([object(), 1], dtype=object), "refused to unpickle global 'builtins.object'"),
    (np.array(["a", "b"]), "numeric"),
    ([np.zeros(3), np.zeros(3)], "found list"),
    ({"a": np.zeros(3), "b": np.zeros(4)}, "has 4 dimensions"),
    ({"a": np.zeros((2, 3))}, "1-D vector"),
    ({1: np.zeros(3)}, "keys must be names"),
    ({}, "empty"),
    ("hello", "found str"),
])
def test_other_payloads_are_clear_errors(tmp_path, payload, match):
    p = tmp_path / "x.pkl"
    p.write_bytes(pickle.dumps(payload, protocol=4))
    with pytest.raises(ZSLDataError, match=match):
        load_pickled_array(p)


def test_eval_and_builtins_refused():
    data = b"cbuiltins\neval\n(S'1+1'\ntR."
    with pytest.raises(ZSLDataError, match="builtins.eval"):
        loads_restricted(data, "f.pkl")
    # _codecs.encode is admitted only as protocol 2's latin1 spelling of bytes
    assert loads_restricted(b"c_codecs\nencode\n(Vabc\nVlatin1\ntR.") == b"abc"
    with pytest.raises(ZSLDataError, match="only the latin1 spelling"):
        loads_restricted(b"c_codecs\nencode\n(Vabc\nVrot13\ntR.")


@pytest.mark.parametrize("data", [b"", b"not a pickle", pickle.dumps(np.zeros(4), protocol=4)[:-7]])
def test_damaged_files(data):
    with pytest.raises(ZSLDataError, match="not a readable pickle"):
        loads_restricted(data, "f.pkl")


def test_dict_of_vectors_becomes_matrix_and_names(tmp_path, rng):
    d = {"zebra": rng.random(300), "horse": rng.random(300), "grizzly bear": rng.random(300)}
    src = tmp_path / "classes.pkl"
    src.write_bytes(pickle.dumps(d, protocol=4))
    info = convert_pickled_vectors(src, tmp_path / "out" / "classes.npy")
    assert info["shape"] == [3, 300] and info["names"]
    arr = np.load(tmp_path / "out" / "classes.npy", allow_pickle=False)
    np.testing.assert_array_equal(arr, np.stack(list(d.values())))
    assert (tmp_path / "out" / "classes_names.txt").read_text().splitlines() == list(d)


def test_convert_real_attribute_vectors_and_refuse_overwrite(tmp_path):
    """The real AWA2 attribute vectors (shipped as .npy, published as a pickle) pickled with numpy's
    protocol 2, as the published w2v/*_attribute.pkl are: converted back bit for bit."""
    real = np.load(shared_file("..", "word-vectors", "AWA2_attribute_w2v.npy"), allow_pickle=False)
    src = tmp_path / "AWA2_attribute.pkl"
    src.write_bytes(pickle.dumps(real, protocol=2))
    dst = tmp_path / "AWA2_attribute.npy"
    convert_pickled_vectors(src, dst)
    np.testing.assert_array_equal(np.load(dst, allow_pickle=False), real)
    with pytest.raises(ForeignFileError, match="already exists"):
        convert_pickled_vectors(src, dst)
    convert_pickled_vectors(src, dst, overwrite=True)
    theirs = tmp_path / "theirs.npy"
    np.save(theirs, np.zeros(3))
    with pytest.raises(ForeignFileError, match="theirs.npy: exists and was not written by zslkit"):
        convert_pickled_vectors(src, theirs, overwrite=True)  # --overwrite replaces only zslkit's own output
    np.testing.assert_array_equal(np.load(theirs), np.zeros(3))
    named_npy = tmp_path / "pickle_named.npy"  # a pickle saved under a .npy name, converted onto itself
    named_npy.write_bytes(src.read_bytes())
    with pytest.raises(ZSLDataError, match="is the input file"):
        convert_pickled_vectors(named_npy, named_npy, overwrite=True)
    assert named_npy.read_bytes() == src.read_bytes()
    with pytest.raises(ZSLDataError, match=r"\.npy"):
        convert_pickled_vectors(src, tmp_path / "x.txt")


def test_cli_convert_w2v(tmp_path, rng):
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    src = tmp_path / "a.pkl"
    src.write_bytes(pickle.dumps(rng.random((3, 4)).astype(np.float32), protocol=4))
    run = [sys.executable, "-m", "zslkit", "data", "convert-w2v", str(src), str(tmp_path / "a.npy")]
    p = subprocess.run(run, capture_output=True, text=True, env=env)
    assert p.returncode == 0 and "3 x 4 float32" in p.stdout
    _Evil.marker = tmp_path / "pwned"
    src.write_bytes(pickle.dumps(_Evil(), protocol=2))
    p = subprocess.run(run + ["--overwrite"], capture_output=True, text=True, env=env)
    assert p.returncode == 2 and p.stderr.startswith("error:") and "refused to unpickle global" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and not (tmp_path / "pwned").exists()


def test_loads_restricted_never_calls_pickle_load(monkeypatch, rng):
    """The restricted unpickler is the only path: a plain pickle.load would be caught here."""
    def forbidden(*a, **k):  # pragma: no cover - must not be reached
        raise AssertionError("pickle.load/loads called")
    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    arr = rng.random(3)
    buf = io.BytesIO()
    pickle.Pickler(buf, protocol=4).dump(arr)
    np.testing.assert_array_equal(loads_restricted(buf.getvalue()), arr)


class _Reduce:
    """Pickles as ``func(*args)``: how a crafted file calls an admitted global with arguments of its choice."""

    def __init__(self, func, args, state=None):
        self.func, self.args, self.state = func, args, state

    def __reduce__(self):
        return (self.func, self.args) if self.state is None else (self.func, self.args, self.state)


def _multiarray():
    try:
        from numpy._core import multiarray
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray
    return multiarray


def test_zero_stride_array_is_refused_before_allocating(tmp_path):
    """106 bytes: numpy.ndarray((4096, 4096), 'f8', 8 bytes, 0, strides (0, 0)) is a 128 MB array of one
    repeated value; writing it would allocate and write 128 MB (80 GB at 1e5 x 1e5)."""
    data = pickle.dumps(_Reduce(np.ndarray, ((4096, 4096), "f8", b"\0" * 8, 0, (0, 0))), protocol=2)
    assert len(data) == 106
    src = tmp_path / "zero_stride.pkl"
    src.write_bytes(data)
    with pytest.raises(ZSLDataError, match=r"zero_stride\.pkl.*numpy\.ndarray\(\.\.\.\) called directly refused"):
        convert_pickled_vectors(src, tmp_path / "out.npy")
    assert not (tmp_path / "out.npy").exists()


@pytest.mark.parametrize("how", ["reconstruct without state", "ndarray without buffer", "short state"])
def test_arrays_without_their_data_are_refused(tmp_path, how):
    """An array made with a shape but no (or too little) data is uninitialised memory: never written."""
    ma = _multiarray()
    obj = {"reconstruct without state": _Reduce(ma._reconstruct, (np.ndarray, (1000,), b"b")),
           "ndarray without buffer": _Reduce(np.ndarray, ((1000,), "f8")),
           "short state": _Reduce(ma._reconstruct, (np.ndarray, (0,), b"b"),
                                  (1, (1000,), np.dtype("f8"), False, b"\0" * 8))}[how]
    src = tmp_path / "nodata.pkl"
    src.write_bytes(pickle.dumps(obj, protocol=2))
    with pytest.raises(ZSLDataError, match=r"nodata\.pkl"):
        convert_pickled_vectors(src, tmp_path / "out.npy")
    assert not (tmp_path / "out.npy").exists()


def test_state_must_hold_exactly_the_arrays_bytes():
    ma = _multiarray()
    data = pickle.dumps(_Reduce(ma._reconstruct, (np.ndarray, (0,), b"b"),
                                (1, (10 ** 5, 10 ** 5), np.dtype("f8"), False, b"\0" * 8)), protocol=2)
    with pytest.raises(ZSLDataError, match=r"needs 80000000000 bytes of data, the file holds 8 bytes"):
        loads_restricted(data, "big.pkl")


def test_dict_repeating_one_vector_is_bounded_before_stacking(tmp_path, rng):
    """Pickle's memo stores one 64 KiB vector once and refers to it 2000 times: a 90 KB file whose
    stacked matrix would be 128 MB. Refused (with the sizes) before np.stack allocates it."""
    v = rng.random(8192)
    src = tmp_path / "memo.pkl"
    src.write_bytes(pickle.dumps({f"k{i}": v for i in range(2000)}, protocol=4))
    assert src.stat().st_size < 200_000
    with pytest.raises(ZSLDataError, match=r"memo\.pkl: the array to write would be 131072000 bytes"):
        convert_pickled_vectors(src, tmp_path / "out.npy")
    assert not (tmp_path / "out.npy").exists()
    # a genuine dict (every vector its own data) and int8 vectors stacked as float64 stay well inside
    src.write_bytes(pickle.dumps({"a": np.ones(300, np.int8), "b": np.ones(300, np.float64)}, protocol=2))
    assert convert_pickled_vectors(src, tmp_path / "out.npy")["shape"] == [2, 300]


@pytest.mark.parametrize("key", ["zebra\nhorse", "zebra\r", "a\u2028b", "x\x0by", "", "  "])
def test_dict_keys_that_would_misalign_the_names_file_are_refused(tmp_path, rng, key):
    src = tmp_path / "classes.pkl"
    src.write_bytes(pickle.dumps({"cat": rng.random(4), key: rng.random(4), "dog": rng.random(4)}, protocol=4))
    with pytest.raises(ZSLDataError, match=r"classes.pkl: dict key .* (line break|blank); .* one line") as exc:
        convert_pickled_vectors(src, tmp_path / "classes.npy")
    assert repr(key) in str(exc.value)
    assert not (tmp_path / "classes.npy").exists() and not (tmp_path / "classes_names.txt").exists()
