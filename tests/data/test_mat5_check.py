"""Damaged MAT v5 files end in a ZSLDataError, never in a crashed process.

scipy's v5 reader reads out of bounds (segmentation fault) on some damaged files, e.g. a real
matrix whose 'complex' flag bit is set; zslkit.data.mat5_check walks the element tree first.
"""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.io as sio
import scipy.sparse as sp

from tests.conftest import SHARED
from zslkit.data.mat5_check import check_v5_structure
from zslkit.data.matfile import load_mat
from zslkit.errors import ZSLDataError

VARIETY = {"a": np.arange(12.0).reshape(3, 4), "c": np.array([1 + 2j, 3j]), "s": sp.csr_matrix(np.eye(3)),
           "sc": sp.csr_matrix(np.eye(3) * 1j), "b": np.array([True, False]), "txt": "hello", "uni": "héllo ✓",
           "cell": np.array([["x"], ["yy"], []], dtype=object), "st": {"f": np.arange(3), "g": {"deep": np.ones(2)}},
           "e": np.zeros((0, 3)), "ec": np.empty((0, 0), dtype=object), "i8": np.arange(10, dtype=np.int8),
           "u64": np.arange(5, dtype=np.uint64), "strs": np.array(["ab", "cde"], dtype=object)}


@pytest.mark.parametrize("compress", [False, True])
def test_valid_files_of_every_kind_pass(tmp_path, compress):
    p = tmp_path / "v.mat"
    sio.savemat(p, VARIETY, do_compression=compress)
    check_v5_structure(p)
    assert set(load_mat(p)) == set(VARIETY)


def test_real_xlsa17_files_pass():
    files = sorted(SHARED.glob("*/*.mat"))
    assert files
    for f in files:
        check_v5_structure(f)


def test_complex_flag_without_imaginary_part_is_an_error(tmp_path):
    p = tmp_path / "x.mat"
    sio.savemat(p, {"x": np.arange(60.0).reshape(12, 5)})
    b = bytearray(p.read_bytes())
    b[145] |= 0x08  # the 'complex' bit of the first variable's array flags
    p.write_bytes(bytes(b))
    with pytest.raises(ZSLDataError, match=r"x\.mat: variable #1 .*not a readable MATLAB .mat file \(damaged v5 data: imaginary part"):
        load_mat(p)


CHILD = textwrap.dedent("""
    import sys
    from zslkit.data.matfile import load_mat
    from zslkit.errors import ZSLDataError
    src, dst, start, xor = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    v = open(src, "rb").read()
    for i in range(start, len(v)):
        b = bytearray(v)
        b[i] ^= xor
        open(dst, "wb").write(b)
        print(i, flush=True)
        try:
            load_mat(dst)
        except ZSLDataError:
            pass
    print("END", flush=True)
""")


@pytest.mark.parametrize("compress,xor", [(False, 0xFF), (False, 0x08), (True, 0xFF)])
def test_every_single_byte_corruption_ends_cleanly(tmp_path, compress, xor):
    """Flip each byte of a small file in turn; the reader may raise ZSLDataError, never crash."""
    src = tmp_path / "src.mat"
    sio.savemat(src, {"a": np.arange(12.0).reshape(3, 4), "c": np.array([1 + 2j, 3j]),
                      "cell": np.array([["x"], ["yy"]], dtype=object), "st": {"f": np.arange(3)}},
                do_compression=compress)
    crashed, start = [], 0
    while True:
        r = subprocess.run([sys.executable, "-c", CHILD, str(src), str(tmp_path / "t.mat"), str(start), str(xor)],
                           capture_output=True, text=True, timeout=300)
        lines = r.stdout.split()
        if lines and lines[-1] == "END":
            break
        last = int(lines[-1]) if lines else start
        crashed.append((last, r.returncode, r.stderr[-300:]))
        start = last + 1
    assert crashed == []
