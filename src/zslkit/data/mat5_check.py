"""Structural check of MATLAB v5 files before scipy reads them.

scipy's v5 reader trusts the array flags of a variable: a numeric matrix whose "complex" flag
is set but which holds no imaginary part makes ``scipy.io.loadmat`` read past its buffer and
kill the process with a segmentation fault (scipy 1.17; one flipped bit in a file is enough).
A reader of user files must end in an error message instead, so :func:`check_v5_structure`
walks the element tree (tags and sizes only) and raises :class:`ZSLDataError` on an element
that overruns its parent or a complex/sparse matrix missing a part. Plain numeric variables
(the large feature matrices) are only checked in their first bytes, so the check costs little
even on big files; cell arrays, structs, sparse and complex matrices are walked whole.

Layout reference: MathWorks, "MAT-File Format" (v5): 128-byte header; then data elements, each
an 8-byte tag (type, byte count; or the 4-byte "small data element" form) and its data padded
to 8 bytes; ``miMATRIX`` (14) holds array flags, dimensions, name and the class's parts;
``miCOMPRESSED`` (15) holds one zlib-compressed element.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

from zslkit.errors import ZSLDataError

MI_INT8, MI_INT32, MI_UINT32, MI_MATRIX, MI_COMPRESSED = 1, 5, 6, 14, 15
CELL, STRUCT, OBJECT, CHAR, SPARSE = 1, 2, 3, 4, 5
NUMERIC = set(range(6, 16))  # double, single, int8..uint64
_HEAD = 1 << 16  # bytes of a variable read to classify it


class _Bad(Exception):
    pass


_SIZES = {1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8}  # numeric miTYPES -> bytes
_TEXT = {16: 1, 17: 2, 18: 4}  # miUTF8/16/32 (char data)


def _sub(buf: bytes, pos: int, end: int, e: str) -> tuple[int, int, int, int]:
    """(type, data start, nbytes, next position) of the sub-element at ``pos``; ``end`` is where the
    parent ends (``buf`` may hold less: only tags are read from it)."""
    if pos + 8 > end:
        raise _Bad("element tag runs past its parent")
    if pos + 8 > len(buf):
        raise _Bad("element tag beyond the bytes read")  # callers only read tags near the start
    w0, w1 = struct.unpack(e + "II", buf[pos:pos + 8])
    if w0 >> 16:  # small data element: nbytes in the upper half, data in the next 4 bytes
        n = w0 >> 16
        if n > 4:
            raise _Bad(f"small data element claims {n} bytes")
        return w0 & 0xFFFF, pos + 4, n, pos + 8
    start = pos + 8
    if start + w1 > end:
        raise _Bad(f"element of {w1} bytes runs past its parent")
    return w0, start, w1, min(start + w1 + (-w1 % 8), end)


def _data(buf: bytes, pos: int, end: int, e: str, count: int, char: bool, what: str) -> int:
    """Check one data part (real or imaginary) of ``count`` values; returns the next position."""
    if pos + 8 > end:
        raise _Bad(f"{what} is missing (the array flags promise it)")
    typ, _, n, nxt = _sub(buf, pos, end, e)
    if typ in _SIZES:
        if n != count * _SIZES[typ] and not (char and n % _SIZES[typ] == 0):
            raise _Bad(f"{what} holds {n} bytes of type {typ}, expected {count} values")
    elif not (char and typ in _TEXT):
        raise _Bad(f"{what} has data type {typ}")
    return nxt


def _matrix(buf: bytes, pos: int, end: int, e: str) -> None:
    """Walk the content of one miMATRIX, ``buf[pos:end]`` (``buf`` may stop earlier when the
    variable is a large real numeric matrix: then only its tags are checked)."""
    if pos == end:
        return  # an empty miMATRIX (scipy writes them for empty cells)
    typ, d, n, pos = _sub(buf, pos, end, e)
    if typ != MI_UINT32 or n != 8:
        raise _Bad(f"array flags have type {typ} / {n} bytes (expected uint32, 8 bytes)")
    word = struct.unpack(e + "I", buf[d:d + 4])[0]
    cls, complex_ = word & 0xFF, bool(word & 0x800)
    if cls not in NUMERIC | {CELL, STRUCT, OBJECT, CHAR, SPARSE}:
        raise _Bad(f"unknown array class {cls}")
    if (complex_ or cls not in NUMERIC | {CHAR}) and len(buf) < end:
        raise _NeedAll
    typ, d, n, pos = _sub(buf, pos, end, e)  # dimensions
    if typ != MI_INT32 or n < 8 or n % 4:
        raise _Bad(f"dimensions have type {typ} / {n} bytes (expected int32, >= 2 values)")
    dims = struct.unpack(e + f"{n // 4}i", buf[d:d + n])
    if min(dims) < 0:
        raise _Bad(f"negative dimension {dims}")
    count = 1
    for k in dims:
        count *= k
    if cls == OBJECT:
        raise _Bad("MATLAB objects are not supported")
    typ, d, n, pos = _sub(buf, pos, end, e)  # name
    if typ != MI_INT8:
        raise _Bad(f"array name has type {typ}")
    if cls in NUMERIC | {CHAR}:
        pos = _data(buf, pos, end, e, count, cls == CHAR, "real part")
        if complex_:
            _data(buf, pos, end, e, count, cls == CHAR, "imaginary part")
        return
    if cls == SPARSE:
        for _ in range(3 + complex_):  # ir, jc, pr (and pi)
            _, _, _, pos = _sub(buf, pos, end, e)
        return
    if cls == STRUCT:
        typ, d, n, pos = _sub(buf, pos, end, e)  # field name length
        flen = struct.unpack(e + "i", buf[d:d + 4])[0] if n >= 4 else 0
        typ, d, n, pos = _sub(buf, pos, end, e)  # field names
        count *= n // flen if flen > 0 else 0
    for _ in range(count):  # cell / struct items: one miMATRIX each
        typ, d, n, pos = _sub(buf, pos, end, e)
        if typ != MI_MATRIX:
            raise _Bad(f"cell/struct item of type {typ} (expected miMATRIX)")
        _matrix(buf, d, d + n, e)


class _NeedAll(Exception):
    """The head of a variable is not enough to check it (complex, sparse, cell, struct)."""


def _inflate(f, n: int, limit: int | None) -> bytes:
    """Decompress an miCOMPRESSED payload of ``n`` bytes (the first ``limit`` output bytes only)."""
    z = zlib.decompressobj()
    out = bytearray()
    left = n
    while left > 0 and (limit is None or len(out) < limit):
        chunk = f.read(min(left, 1 << 20))
        if not chunk:
            break
        left -= len(chunk)
        out += z.decompress(chunk) if limit is None else z.decompress(chunk, limit - len(out))
        if limit is not None and z.unconsumed_tail:
            break
    return bytes(out)


def check_v5_structure(path: str | os.PathLike) -> None:
    """Raise :class:`ZSLDataError` if the v5 MAT-file at ``path`` has an element scipy would read out
    of bounds. Files that are not v5 (or too short to be) are left to the reader's own errors."""
    p = Path(path)
    size = p.stat().st_size
    with open(p, "rb") as f:
        head = f.read(128)
        if len(head) < 128 or head[126:128] not in (b"IM", b"MI"):
            return
        e = "<" if head[126:128] == b"IM" else ">"
        pos, index = 128, 0
        while pos + 8 <= size:
            f.seek(pos)
            typ, n = struct.unpack(e + "II", f.read(8))
            where = f"{p}: variable #{index + 1} (at byte {pos})"
            try:
                if typ == MI_MATRIX:
                    if pos + 8 + n > size:
                        raise _Bad(f"element of {n} bytes runs past the end of the file ({size} bytes)")
                    try:
                        _matrix(f.read(min(n, _HEAD)), 0, n, e)
                    except _NeedAll:
                        f.seek(pos + 8)
                        _matrix(f.read(n), 0, n, e)
                elif typ == MI_COMPRESSED:
                    try:
                        buf = _inflate(f, n, _HEAD + 8)
                        if len(buf) >= 8:
                            t2, n2 = struct.unpack(e + "II", buf[:8])
                            if t2 == MI_MATRIX:
                                try:
                                    _matrix(buf, 8, 8 + n2, e)
                                except _NeedAll:
                                    f.seek(pos + 8)
                                    buf = _inflate(f, n, None)
                                    if n2 + 8 > len(buf):
                                        raise _Bad(f"compressed variable claims {n2} bytes, holds "
                                                   f"{len(buf) - 8}") from None
                                    _matrix(buf, 8, 8 + n2, e)
                    except zlib.error:
                        return  # damaged compressed data: scipy raises a clean error for it
            except _Bad as exc:
                raise ZSLDataError(f"{where}: not a readable MATLAB .mat file (damaged v5 data: {exc})") from None
            except struct.error as exc:
                raise ZSLDataError(f"{where}: not a readable MATLAB .mat file (damaged v5 data: {exc})") from None
            pos += 8 + n + (-n % 8 if typ != MI_COMPRESSED else 0)
            index += 1
