"""Word vectors for class names: streaming readers, writers and class-name embeddings.

Users bring their own vector file; nothing is downloaded. Supported formats:

* ``"word2vec_binary"`` (GoogleNews-style ``.bin``): an ASCII header ``"N D\\n"``, then N
  records ``word<space><D little-endian float32>``; writers (the original ``word2vec.c``)
  may put a ``"\\n"`` after each vector, which the reader skips.
* ``"word2vec_text"``: header ``"N D"``, then lines ``word v1 ... vD``.
* ``"glove"``: GloVe text, lines ``word v1 ... vD`` with no header.

Any of them may be gzip-compressed (detected from the magic bytes); byte offsets in error
messages then count uncompressed bytes.

Memory: :func:`load_word_vectors` streams the file. With ``words=`` it keeps only those
tokens, matched case-insensitively by default so that the case fall-backs of
:func:`class_embeddings` find their candidates. A 3.6 GB GoogleNews file is thus read once,
in 1 MiB chunks, keeping a few hundred vectors. With ``case_insensitive=False`` only exact
tokens are kept and reading stops as soon as all of them have been found (a case-insensitive
search cannot stop early: another case variant may come later in the file). Lines or
records of tokens that are not kept are not parsed, so damage there goes unnoticed unless
it breaks the record structure (binary) or the record count (word2vec text).

Class names (:func:`class_name_to_words`) follow the xlsa17 conventions; the rules are in
that function's docstring.
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, Literal, Sequence

import numpy as np

from zslkit.errors import ConfigError, ZSLDataError
from zslkit.utils.outputs import atomic_path

__all__ = [
    "FORMATS",
    "ClassEmbeddingReport",
    "WordVectors",
    "class_embeddings",
    "class_name_to_words",
    "detect_format",
    "load_word_vectors",
    "phrase_candidates",
    "save_glove_text",
    "save_word2vec_binary",
    "save_word2vec_text",
    "words_for_class_names",
]

Format = Literal["word2vec_binary", "word2vec_text", "glove"]
FORMATS: tuple[str, ...] = ("word2vec_binary", "word2vec_text", "glove")
_FMT_ALIASES = {
    "auto": "auto", "glove": "glove",
    "word2vec_binary": "word2vec_binary", "word2vec-binary": "word2vec_binary", "bin": "word2vec_binary",
    "binary": "word2vec_binary",
    "word2vec_text": "word2vec_text", "word2vec-text": "word2vec_text", "text": "word2vec_text", "txt": "word2vec_text",
}

_CHUNK = 1 << 20
_MAX_WORD_BYTES = 4096          # longer "words" mean we are reading vector bytes as text
_MAX_HEADER_BYTES = 1024
_MAX_DIM = 100_000
_HEADER_RE = re.compile(rb"^\s*(\d+)\s+(\d+)\s*$")
_GZIP_MAGIC = b"\x1f\x8b"


# --------------------------------------------------------------------------- container

@dataclass
class WordVectors:
    """A (sub)vocabulary of word vectors.

    Attributes:
        words: list of N tokens, in file order.
        vectors: (N, D) float32, row i is the vector of ``words[i]``.
        source: file the vectors came from (None if built in memory).
        fmt: format of that file.
    """

    words: list[str]
    vectors: np.ndarray
    source: Path | None = None
    fmt: str | None = None
    _index: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.vectors = np.asarray(self.vectors, dtype=np.float32)
        if self.vectors.ndim != 2 or self.vectors.shape[0] != len(self.words):
            raise ZSLDataError(f"WordVectors: expected vectors of shape ({len(self.words)}, D), "
                               f"got {self.vectors.shape}")
        # First occurrence wins, as in gensim, when a file repeats a token.
        self._index = {}
        for i, w in enumerate(self.words):
            self._index.setdefault(w, i)

    @property
    def dim(self) -> int:
        """Vector dimension D."""
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self._index

    def __getitem__(self, word: str) -> np.ndarray:
        """(D,) float32 vector of ``word`` (exact match); KeyError if absent."""
        try:
            return self.vectors[self._index[word]]
        except KeyError:
            src = f" in {self.source}" if self.source else ""
            raise KeyError(f"word {word!r} not found{src} ({len(self)} words loaded)") from None

    def get(self, word: str, default: np.ndarray | None = None) -> np.ndarray | None:
        i = self._index.get(word)
        return default if i is None else self.vectors[i]

    @classmethod
    def from_dict(cls, mapping: dict[str, Sequence[float] | np.ndarray]) -> "WordVectors":
        """Build from ``{word: vector}`` (all vectors of the same length)."""
        words = list(mapping)
        if not words:
            return cls(words=[], vectors=np.zeros((0, 0), dtype=np.float32))
        return cls(words=words, vectors=np.stack([np.asarray(mapping[w], dtype=np.float32) for w in words]))


# --------------------------------------------------------------------------- file opening

def _open_binary(path: Path) -> BinaryIO:
    if not path.exists():
        raise ZSLDataError(f"{path}: word-vector file not found")
    if path.is_dir():
        raise ZSLDataError(f"{path}: expected a word-vector file, got a directory")
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == _GZIP_MAGIC:
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb", buffering=_CHUNK)


def _parse_header(line: bytes) -> tuple[int, int] | None:
    m = _HEADER_RE.match(line)
    if not m:
        return None
    return int(m.group(1)), int(m.group(2))


def _text_record_ok(line: bytes, dim: int | None) -> bool:
    """Is ``line`` a text record ``word v1 ... vD`` (D == dim when given)?"""
    try:
        text = line.decode("utf-8").strip()
    except UnicodeDecodeError:
        return False
    parts = text.split()
    if len(parts) < 2 or (dim is not None and len(parts) < dim + 1):
        return False
    values = parts[-dim:] if dim is not None else parts[1:]
    try:
        [float(v) for v in values]
    except ValueError:
        return False
    return True


def detect_format(path: str | os.PathLike) -> str:
    """Guess the format of a vector file from its first bytes.

    A first line of two integers is a word2vec header; the format is then
    ``"word2vec_text"`` when the next line parses as ``word`` + D numbers, else
    ``"word2vec_binary"``. Without a header the file must start with a GloVe record.
    """
    p = Path(path)
    with _open_binary(p) as fh:
        first = fh.readline(_MAX_HEADER_BYTES)
        header = _parse_header(first)
        if header is not None:
            n, dim = header
            if n == 0:
                return "word2vec_text"
            # The first record of a text file is at most a few KB; a binary record holds
            # raw float bytes that will not decode to D numbers.
            nxt = fh.readline(max(64 * 1024, dim * 40))
            return "word2vec_text" if _text_record_ok(nxt, dim) else "word2vec_binary"
        if not first:
            raise ZSLDataError(f"{p}: empty word-vector file")
        if _text_record_ok(first, None):
            return "glove"
    raise ZSLDataError(f"{p}: cannot detect the word-vector format: line 1 is neither a word2vec header 'N D' "
                       f"nor a 'word v1 ... vD' record (starts with {first[:60]!r}); pass fmt= explicitly")


def _normalize_fmt(fmt: str) -> str:
    key = str(fmt).lower()
    if key not in _FMT_ALIASES:
        raise ConfigError(f"fmt: expected 'auto' or one of {list(FORMATS)}, got {fmt!r}")
    return _FMT_ALIASES[key]


# --------------------------------------------------------------------------- requested words

class _Wanted:
    """Which tokens to keep while streaming; matches bytes to avoid decoding every word."""

    def __init__(self, words: Iterable[str] | None, case_insensitive: bool) -> None:
        self.all = words is None
        self.case_insensitive = case_insensitive
        if words is None:
            self.keys: set[str] = set()
        else:
            if isinstance(words, str):
                raise ConfigError(f"words: expected an iterable of words, got the single string {words!r}")
            ws = {str(w) for w in words}
            self.keys = {w.lower() for w in ws} if case_insensitive else ws
        self._bytes_keys = {k.encode("utf-8") for k in self.keys}
        self.remaining = set(self.keys)

    def match(self, word_bytes: bytes) -> bool:
        if self.all:
            return True
        if not self.case_insensitive:
            return word_bytes in self._bytes_keys
        # lower() on ASCII bytes is cheap; non-ASCII needs the decoded string.
        if word_bytes.isascii():
            return word_bytes.lower() in self._bytes_keys
        try:
            return word_bytes.decode("utf-8").lower() in self.keys
        except UnicodeDecodeError:
            return False

    def found(self, word: str) -> None:
        if not self.all:
            self.remaining.discard(word.lower() if self.case_insensitive else word)

    @property
    def done(self) -> bool:
        # Only exact matching can stop early: another case variant may come later.
        return not self.all and not self.case_insensitive and not self.remaining


# --------------------------------------------------------------------------- readers

def load_word_vectors(path: str | os.PathLike, words: Iterable[str] | None = None, fmt: str = "auto", *,
                      case_insensitive: bool = True, unicode_errors: str = "strict") -> WordVectors:
    """Read a word2vec binary / word2vec text / GloVe file, keeping only ``words`` if given.

    Args:
        path: vector file (optionally gzip-compressed).
        words: tokens to keep (None: keep all). Multi-word phrases as the file spells them
            (GoogleNews: ``grizzly_bear``); see :func:`words_for_class_names`.
        fmt: "auto" (see :func:`detect_format`), "word2vec_binary", "word2vec_text" or "glove".
        case_insensitive: keep every case variant of a requested token (default), so that
            exact/lower/Capitalised look-ups all work. With False only exact tokens are kept
            and reading stops as soon as all of them were found.
        unicode_errors: how to decode kept tokens ("strict" raises; "replace"/"ignore").

    Returns:
        :class:`WordVectors` with float32 vectors, in file order.

    Raises:
        ZSLDataError: missing file, bad header, truncated or garbled records (the message
            names the file and the byte offset or line number).
        ConfigError: unknown ``fmt``.
    """
    p = Path(path)
    chosen = _normalize_fmt(fmt)
    try:
        if chosen == "auto":
            chosen = detect_format(p)
        wanted = _Wanted(words, case_insensitive)
        if chosen == "word2vec_binary":
            kept_words, vecs = _read_binary(p, wanted, unicode_errors)
        else:
            kept_words, vecs = _read_text(p, wanted, unicode_errors, has_header=chosen == "word2vec_text")
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:  # a damaged .gz: gzip raises these mid-read
        raise ZSLDataError(f"{p}: damaged gzip-compressed word-vector file ({type(exc).__name__}: {exc})") from exc
    return WordVectors(words=kept_words, vectors=vecs, source=p, fmt=chosen)


def _read_header(fh: BinaryIO, path: Path, fmt: str) -> tuple[int, int, int]:
    line = fh.readline(_MAX_HEADER_BYTES)
    header = _parse_header(line)
    if header is None:
        raise ZSLDataError(f"{path}: expected a {fmt} header 'N D' on line 1, got {line[:60]!r}"
                           + (" (a GloVe file has no header: use fmt='glove')" if _text_record_ok(line, None) else ""))
    n, dim = header
    if dim <= 0 or dim > _MAX_DIM:
        raise ZSLDataError(f"{path}: header declares dimension {dim}; expected 1..{_MAX_DIM}")
    return n, dim, len(line)


class _Collector:
    """Kept rows; preallocated when the whole file is wanted and N is known."""

    def __init__(self, dim: int, n_hint: int | None) -> None:
        self.words: list[str] = []
        self.dim = dim
        self._pre = np.empty((n_hint, dim), dtype=np.float32) if n_hint is not None else None
        self._rows: list[np.ndarray] = []

    def add(self, word: str, vec: np.ndarray) -> None:
        if self._pre is not None:
            self._pre[len(self.words)] = vec
        else:
            self._rows.append(np.array(vec, dtype=np.float32))
        self.words.append(word)

    def matrix(self) -> np.ndarray:
        if self._pre is not None:
            return self._pre[: len(self.words)]
        if not self._rows:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack(self._rows)


def _decode(word: bytes, path: Path, where: str, errors: str) -> str:
    try:
        return word.decode("utf-8", errors=errors)
    except UnicodeDecodeError as exc:
        raise ZSLDataError(f"{path}: word {word[:60]!r} at {where} is not valid UTF-8 ({exc.reason}); "
                           "pass unicode_errors='replace' to load it anyway") from None


def _check_finite(vec: np.ndarray, path: Path, word: str, where: str) -> None:
    if not np.all(np.isfinite(vec)):
        raise ZSLDataError(f"{path}: vector of {word!r} at {where} has non-finite values (NaN/inf); "
                           "the file is garbled or not in the declared format")


def _read_binary(path: Path, wanted: _Wanted, errors: str) -> tuple[list[str], np.ndarray]:
    with _open_binary(path) as fh:
        n, dim, offset = _read_header(fh, path, "word2vec binary")
        out = _Collector(dim, n if wanted.all else None)
        for i, word_b, vec_b, off in _iter_binary_records(fh, path, n, dim, offset):
            if not wanted.match(word_b):
                continue
            where = f"byte offset {off} (record {i + 1} of {n})"
            word = _decode(word_b, path, where, errors)
            vec = np.frombuffer(vec_b, dtype="<f4")
            _check_finite(vec, path, word, where)
            out.add(word, vec)
            wanted.found(word)
            if wanted.done:
                break
        return out.words, out.matrix()


def _iter_binary_records(fh: BinaryIO, path: Path, n: int, dim: int,
                         offset: int) -> Iterator[tuple[int, bytes, bytes, int]]:
    """Yield ``(index, word bytes, vector bytes, byte offset of the record)``.

    Reads 1 MiB chunks and slices records out of them: per-record Python work is a
    ``find`` and two slices, so skipping most of GoogleNews' 3M words stays cheap.
    """
    rec = 4 * dim
    buf = b""
    pos = 0           # position of the next record in buf
    base = offset     # file offset of buf[0]
    eof = False
    for i in range(n):
        while True:
            # Skip the newline word2vec.c writes after each vector (and stray blank lines).
            while pos < len(buf) and buf[pos] in b"\n\r":
                pos += 1
            sp = buf.find(b" ", pos, pos + _MAX_WORD_BYTES + 1)
            if sp != -1 and len(buf) - (sp + 1) >= rec:
                break
            if sp == -1 and len(buf) - pos > _MAX_WORD_BYTES:
                raise ZSLDataError(f"{path}: garbled word2vec binary file: no word terminator (space) within "
                                   f"{_MAX_WORD_BYTES} bytes at byte offset {base + pos} (record {i + 1} of {n}); "
                                   "the header's dimension may be wrong or the file is not word2vec binary")
            if eof:
                _raise_truncated(path, i, n, dim, base + pos, buf[pos:], sp - pos if sp != -1 else -1)
            more = fh.read(_CHUNK)
            if not more:
                eof = True
            base += pos
            buf = buf[pos:] + more
            pos = 0
        word = buf[pos:sp]
        if not word or b"\n" in word:
            # A newline inside a word means we are reading vector bytes as a word: the
            # records do not line up with the header's dimension.
            what = "empty word" if not word else f"word {word[:40]!r}"
            raise ZSLDataError(f"{path}: garbled word2vec binary file: {what} at byte offset {base + pos} "
                               f"(record {i + 1} of {n}); the header's dimension {dim} may be wrong or the file "
                               "is not word2vec binary")
        yield i, word, buf[sp + 1: sp + 1 + rec], base + pos
        pos = sp + 1 + rec
    rest = buf[pos:] + fh.read(_MAX_WORD_BYTES)
    if rest.strip():
        raise ZSLDataError(f"{path}: garbled word2vec binary file: data after the {n} records the header declares, "
                           f"at byte offset {base + pos}; expected end of file")


def _raise_truncated(path: Path, i: int, n: int, dim: int, offset: int, tail: bytes, word_len: int) -> None:
    stripped = tail.strip()
    if not stripped:
        raise ZSLDataError(f"{path}: truncated word2vec binary file: the header declares {n} records but the file "
                           f"ends after {i} (byte offset {offset})")
    if word_len < 0:
        raise ZSLDataError(f"{path}: truncated word2vec binary file: record {i + 1} of {n} at byte offset {offset} "
                           f"ends inside its word ({len(tail)} bytes left)")
    have = len(tail) - word_len - 1
    raise ZSLDataError(f"{path}: truncated word2vec binary file: record {i + 1} of {n} "
                       f"({tail[:word_len][:60]!r}) at byte offset {offset} needs {4 * dim} bytes of vector data, "
                       f"only {have} left")


def _read_text(path: Path, wanted: _Wanted, errors: str, has_header: bool) -> tuple[list[str], np.ndarray]:
    fmt = "word2vec text" if has_header else "GloVe"
    with _open_binary(path) as fh:
        n: int | None = None
        dim: int | None = None
        line_no = 0
        if has_header:
            n, dim, _ = _read_header(fh, path, fmt)
            line_no = 1
        out: _Collector | None = _Collector(dim, n if wanted.all else None) if dim is not None else None
        n_records = 0
        for raw in fh:
            line_no += 1
            if not raw.strip():
                continue
            n_records += 1
            if n is not None and n_records > n:
                raise ZSLDataError(f"{path}: line {line_no}: more records than the {n} the header declares")
            if dim is None:
                dim = _glove_dim(raw, path, line_no)
                out = _Collector(dim, None)
            if not wanted.all:
                # Cheap pre-filter on the first token; a requested token with inner
                # whitespace (never in word2vec/GloVe vocabularies we know) would be missed.
                head = raw.split(None, 1)[0]
                if not wanted.match(head):
                    continue
            word, vec = _parse_text_record(raw, path, line_no, dim, errors, fmt)
            assert out is not None
            out.add(word, vec)
            wanted.found(word)
            if wanted.done:
                break
        else:
            if n is not None and n_records < n:
                raise ZSLDataError(f"{path}: truncated word2vec text file: the header declares {n} records, "
                                   f"found {n_records} (file ends at line {line_no})")
        if out is None:
            if not has_header:
                raise ZSLDataError(f"{path}: empty GloVe file")
            out = _Collector(dim or 0, None)
        return out.words, out.matrix()


def _glove_dim(raw: bytes, path: Path, line_no: int) -> int:
    parts = raw.split()
    if _parse_header(raw) is not None:
        raise ZSLDataError(f"{path}: line {line_no} looks like a word2vec header ({raw.strip()[:40]!r}); "
                           "use fmt='word2vec_text' (or fmt='auto')")
    if len(parts) < 2:
        raise ZSLDataError(f"{path}: line {line_no}: expected 'word v1 ... vD', got {raw[:60]!r}")
    return len(parts) - 1


def _parse_text_record(raw: bytes, path: Path, line_no: int, dim: int, errors: str,
                       fmt: str) -> tuple[str, np.ndarray]:
    where = f"line {line_no}"
    text = _decode(raw, path, where, errors).rstrip("\r\n")
    # Split from the right so that the D numbers are found even if a token holds spaces.
    parts = text.rstrip().rsplit(None, dim)
    if len(parts) != dim + 1 or not parts[0].strip():
        n_values = len(text.split()) - 1
        raise ZSLDataError(f"{path}: garbled {fmt} file: {where} has {max(n_values, 0)} values, expected {dim} "
                           f"(line starts with {text[:60]!r}); the file may be truncated or not in {fmt} format")
    word = parts[0].strip()
    try:
        vec = np.array(parts[1:], dtype=np.float32)
    except ValueError:
        bad = next(v for v in parts[1:] if not _is_float(v))
        raise ZSLDataError(f"{path}: garbled {fmt} file: {where} (word {word!r}) has the non-numeric value "
                           f"{bad[:40]!r}; expected {dim} numbers") from None
    _check_finite(vec, path, word, where)
    return word, vec


def _is_float(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- writers

def _check_for_writing(words: Sequence[str], vectors: np.ndarray) -> np.ndarray:
    vecs = np.asarray(vectors, dtype=np.float32)
    if vecs.ndim != 2 or vecs.shape[0] != len(words):
        raise ZSLDataError(f"vectors: expected shape ({len(words)}, D) for {len(words)} words, got {vecs.shape}")
    if vecs.shape[1] == 0:
        raise ZSLDataError("vectors: expected dimension D >= 1, got 0")
    if not np.all(np.isfinite(vecs)):
        raise ZSLDataError("vectors: expected finite values, found NaN/inf")
    seen: set[str] = set()
    for w in words:
        if not isinstance(w, str) or not w or any(c.isspace() for c in w):
            raise ZSLDataError(f"words: expected non-empty tokens without whitespace, got {w!r}")
        if w in seen:
            raise ZSLDataError(f"words: duplicate token {w!r}")
        seen.add(w)
    return vecs


def _format_row(vec: np.ndarray) -> str:
    # 9 significant digits round-trip any float32 exactly.
    return " ".join(f"{x:.9g}" for x in vec.tolist())


def _write_text(path: str | os.PathLike, words: Sequence[str], vectors: np.ndarray, header: bool) -> Path:
    vecs = _check_for_writing(words, vectors)
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            if header:
                fh.write(f"{len(words)} {vecs.shape[1]}\n")
            for w, v in zip(words, vecs):
                fh.write(f"{w} {_format_row(v)}\n")
    return Path(path)


def save_word2vec_text(path: str | os.PathLike, words: Sequence[str], vectors: np.ndarray) -> Path:
    """Write word2vec text (header ``"N D"``, then ``word v1 ... vD``) atomically.

    Args:
        words: N distinct tokens without whitespace; vectors: (N, D).
    """
    return _write_text(path, words, vectors, header=True)


def save_glove_text(path: str | os.PathLike, words: Sequence[str], vectors: np.ndarray) -> Path:
    """Write GloVe text (``word v1 ... vD`` lines, no header) atomically."""
    return _write_text(path, words, vectors, header=False)


def save_word2vec_binary(path: str | os.PathLike, words: Sequence[str], vectors: np.ndarray) -> Path:
    """Write word2vec binary (header ``"N D\\n"``, records ``word<space><D float32 LE>\\n``)
    atomically, the layout of ``word2vec.c`` and GoogleNews."""
    vecs = _check_for_writing(words, vectors).astype("<f4", copy=False)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(f"{len(words)} {vecs.shape[1]}\n".encode("ascii"))
            for w, v in zip(words, vecs):
                fh.write(w.encode("utf-8") + b" " + v.tobytes() + b"\n")
    return Path(path)


# --------------------------------------------------------------------------- class names

_CUB_PREFIX = re.compile(r"^\s*\d+\s*\.\s*")
_SEPARATORS = re.compile(r"[\s+_\-/,;:()\[\]]+")


def class_name_to_words(name: str) -> list[str]:
    """Split an xlsa17 class name into the words whose vectors are averaged.

    Rules, in order:

    1. Surrounding whitespace is stripped.
    2. A numeric prefix ``"<digits>."`` is removed (CUB: ``001.Black_footed_Albatross``).
    3. The rest is split on ``+`` (AWA: ``grizzly+bear``), ``_`` (CUB, SUN:
       ``airport_terminal``), whitespace, ``-``, ``/``, ``,``, ``;``, ``:`` and brackets.
    4. Empty pieces are dropped and a repeated word is kept once (first occurrence), so
       ``airport_airport`` averages ``airport`` once rather than counting it twice.
    5. Case is kept; :func:`class_embeddings` tries case variants when looking words up.

    Raises:
        ZSLDataError: if no word is left (e.g. ``"001."``).
    """
    if not isinstance(name, str):
        raise ZSLDataError(f"class name: expected a string, got {name!r}")
    stripped = _CUB_PREFIX.sub("", name.strip())
    words: list[str] = []
    for piece in _SEPARATORS.split(stripped):
        if piece and piece not in words:
            words.append(piece)
    if not words:
        raise ZSLDataError(f"class name {name!r}: no word left after removing the numeric prefix and separators")
    return words


def phrase_candidates(name: str) -> list[str]:
    """Whole-phrase tokens to try for a multi-word class name (GoogleNews convention:
    words joined by ``_``, e.g. ``grizzly_bear``; if the name had hyphens, also the form
    that keeps them, e.g. ``black-footed_albatross``). Empty for one-word names."""
    words = class_name_to_words(name)
    if len(words) < 2:
        return []
    out = ["_".join(words)]
    stripped = _CUB_PREFIX.sub("", name.strip())
    if "-" in stripped:
        hyph = [p for p in re.split(r"[\s+_/,;:()\[\]]+", stripped) if p]
        if len(hyph) >= 1 and "_".join(hyph) not in out:
            out.append("_".join(hyph))
    return out


def _case_variants(token: str) -> list[str]:
    """exact, lower, Capitalised (first letter upper, rest lower), without duplicates."""
    out: list[str] = []
    for v in (token, token.lower(), token[:1].upper() + token[1:].lower()):
        if v not in out:
            out.append(v)
    return out


def words_for_class_names(class_names: Iterable[str], phrase_first: bool = True) -> set[str]:
    """Every token :func:`class_embeddings` may look up for these names (words, phrases,
    case variants): pass it as ``words=`` to :func:`load_word_vectors` to stream a large
    file keeping only what is needed."""
    out: set[str] = set()
    for name in class_names:
        tokens = list(class_name_to_words(name))
        if phrase_first:
            tokens += phrase_candidates(name)
        for t in tokens:
            out.update(_case_variants(t))
    return out


@dataclass
class ClassEmbeddingReport:
    """What :func:`class_embeddings` used for each class (lists aligned with the names).

    Attributes:
        class_names: the input names.
        used: tokens whose vectors were averaged (one phrase token, or the words found,
            as spelled in the file, e.g. ``"Albatross"`` after the case fallback).
        missing: words of the name not found in any case variant (empty if a phrase was used).
        phrase: True where a whole-phrase vector was used.
    """

    class_names: list[str]
    used: list[list[str]]
    missing: list[list[str]]
    phrase: list[bool]

    def summary(self) -> str:
        """One line per class: ``name: used [...] missing [...]``."""
        lines = []
        for n, u, m, p in zip(self.class_names, self.used, self.missing, self.phrase):
            tag = " (phrase)" if p else ""
            lines.append(f"{n}: used {u}{tag}" + (f", missing {m}" if m else ""))
        return "\n".join(lines)


def _lookup(token: str, vectors: WordVectors) -> str | None:
    for v in _case_variants(token):
        if v in vectors:
            return v
    return None


def class_embeddings(class_names: Sequence[str], vectors: WordVectors, oov: Literal["error", "skip"] = "error",
                     phrase_first: bool = True, normalize: bool = True,
                     return_report: bool = False) -> np.ndarray | tuple[np.ndarray, ClassEmbeddingReport]:
    """Class word vectors: ``phi_w(y) = v(phrase)`` if present, else ``mean_{w in words(y)} v(w)``.

    For each class: if ``phrase_first`` and the name has several words, the phrase tokens of
    :func:`phrase_candidates` are tried first; otherwise (or if absent) the vectors of the
    words of :func:`class_name_to_words` are averaged. Every look-up tries the exact token,
    then lower case, then Capitalised. The average is of the raw vectors; with ``normalize``
    the class vector is then L2-normalised (xlsa17's class embeddings are unit rows).

    Args:
        class_names: C names (xlsa17 spelling, see :func:`class_name_to_words`).
        vectors: a loaded :class:`WordVectors`.
        oov: "error": any class with a missing word (and no phrase) raises one
            :class:`ZSLDataError` listing every such class and its missing words.
            "skip": average the words found; only a class with none found raises
            (documented fallback; the report lists what was skipped).
        phrase_first: try the whole phrase before the words.
        normalize: L2-normalise each class vector.
        return_report: also return a :class:`ClassEmbeddingReport`.

    Returns:
        (C, D) float32 matrix, or ``(matrix, report)`` with ``return_report=True``.
    """
    if oov not in ("error", "skip"):
        raise ConfigError(f"oov: expected 'error' or 'skip', got {oov!r}")
    if isinstance(class_names, str):
        raise ConfigError(f"class_names: expected a sequence of names, got the single string {class_names!r}")
    names = list(class_names)
    used: list[list[str]] = []
    missing: list[list[str]] = []
    phrase: list[bool] = []
    for name in names:
        u, m, p = _resolve_class(name, vectors, phrase_first)
        used.append(u)
        missing.append(m)
        phrase.append(p)
    src = f" in {vectors.source}" if vectors.source else ""
    if oov == "error":
        bad = [(n, m) for n, m in zip(names, missing) if m]
        if bad:
            listing = "; ".join(f"{n!r}: {m}" for n, m in bad)
            raise ZSLDataError(f"{len(bad)} class name(s) have words not found{src} (tried exact, lower and "
                               f"Capitalised case): {listing}; pass oov='skip' to average the words found")
    empty = [n for n, u in zip(names, used) if not u]
    if empty:
        raise ZSLDataError(f"{len(empty)} class name(s) have no word found{src} (tried exact, lower and Capitalised "
                           f"case): {empty}; expected at least one word per class")
    dim = vectors.dim
    out = np.zeros((len(names), dim), dtype=np.float64)
    for i, toks in enumerate(used):
        out[i] = np.mean([vectors[t].astype(np.float64) for t in toks], axis=0)
    if normalize:
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        zero = [names[i] for i in np.flatnonzero(norms[:, 0] == 0)]
        if zero:
            raise ZSLDataError(f"class vector(s) of {zero} are all-zero and cannot be L2-normalised; "
                               "expected non-zero word vectors (or pass normalize=False)")
        out /= norms
    matrix = out.astype(np.float32)
    if not return_report:
        return matrix
    return matrix, ClassEmbeddingReport(class_names=names, used=used, missing=missing, phrase=phrase)


def _resolve_class(name: str, vectors: WordVectors, phrase_first: bool) -> tuple[list[str], list[str], bool]:
    """(tokens used, words missing, phrase used?) for one class name."""
    if phrase_first:
        for cand in phrase_candidates(name):
            hit = _lookup(cand, vectors)
            if hit is not None:
                return [hit], [], True
    used, missing = [], []
    for w in class_name_to_words(name):
        hit = _lookup(w, vectors)
        (used if hit is not None else missing).append(hit if hit is not None else w)
    return used, missing, False
