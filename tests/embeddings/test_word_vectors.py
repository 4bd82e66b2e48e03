"""Tests of zslkit.embeddings.word_vectors on small files written by the tests."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from zslkit.embeddings import word_vectors as wvmod
from zslkit.embeddings.word_vectors import (
    WordVectors,
    class_embeddings,
    class_name_to_words,
    detect_format,
    load_word_vectors,
    phrase_candidates,
    save_glove_text,
    save_word2vec_binary,
    save_word2vec_text,
    words_for_class_names,
)
from zslkit.errors import ConfigError, ZSLDataError

WRITERS = {
    "word2vec_binary": save_word2vec_binary,
    "word2vec_text": save_word2vec_text,
    "glove": save_glove_text,
}


@pytest.fixture
def vocab() -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(0)
    words = ["grizzly", "bear", "grizzly_bear", "Albatross", "black", "footed", "airport", "terminal", "abbey",
             "killer", "whale", "Dalmatian", "über", "x1", "Persian", "cat"]
    return words, rng.normal(size=(len(words), 7)).astype(np.float32)


def _write(tmp_path: Path, fmt: str, words: list[str], vecs: np.ndarray, name: str | None = None) -> Path:
    path = tmp_path / (name or f"vec.{fmt}")
    WRITERS[fmt](path, words, vecs)
    return path


# --------------------------------------------------------------------------- round trips

@pytest.mark.parametrize("fmt", list(WRITERS))
def test_round_trip_and_auto_detection(tmp_path: Path, vocab, fmt: str) -> None:
    words, vecs = vocab
    path = _write(tmp_path, fmt, words, vecs)
    assert detect_format(path) == fmt
    for given in ("auto", fmt):
        wv = load_word_vectors(path, fmt=given)
        assert wv.words == words
        assert wv.dim == 7 and len(wv) == len(words) and wv.fmt == fmt
        np.testing.assert_array_equal(wv.vectors, vecs)   # 9 significant digits: float32 exact
        assert "grizzly_bear" in wv and "nope" not in wv
        np.testing.assert_array_equal(wv["über"], vecs[words.index("über")])


@pytest.mark.parametrize("fmt", list(WRITERS))
def test_gzip_files_are_read(tmp_path: Path, vocab, fmt: str) -> None:
    words, vecs = vocab
    raw = _write(tmp_path, fmt, words, vecs).read_bytes()
    gz = tmp_path / "vec.gz"
    gz.write_bytes(gzip.compress(raw))
    assert detect_format(gz) == fmt
    np.testing.assert_array_equal(load_word_vectors(gz).vectors, vecs)


def test_binary_layout_is_word2vec(tmp_path: Path) -> None:
    path = tmp_path / "v.bin"
    save_word2vec_binary(path, ["ab", "c"], np.array([[1.0, -2.0], [0.5, 0.25]], dtype=np.float32))
    expected = (b"2 2\n" + b"ab " + np.array([1.0, -2.0], "<f4").tobytes() + b"\n"
                + b"c " + np.array([0.5, 0.25], "<f4").tobytes() + b"\n")
    assert path.read_bytes() == expected


def test_binary_without_record_newlines_is_read(tmp_path: Path) -> None:
    # gensim-style files omit the newline after each vector.
    vecs = np.arange(6, dtype="<f4").reshape(3, 2)
    data = b"3 2\n" + b"".join(w + b" " + v.tobytes() for w, v in zip([b"a", b"bb", b"c"], vecs))
    path = tmp_path / "nonl.bin"
    path.write_bytes(data)
    wv = load_word_vectors(path)
    assert wv.words == ["a", "bb", "c"]
    np.testing.assert_array_equal(wv.vectors, vecs)


def test_reads_across_chunk_boundaries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, vocab) -> None:
    words, vecs = vocab
    path = _write(tmp_path, "word2vec_binary", words, vecs)
    monkeypatch.setattr(wvmod, "_CHUNK", 5)
    np.testing.assert_array_equal(load_word_vectors(path).vectors, vecs)


def test_third_party_text_with_crlf_and_fewer_digits(tmp_path: Path) -> None:
    path = tmp_path / "w.txt"
    path.write_bytes(b"2 3\r\nfoo 0.100000 -0.200000 0.300000\r\nbar 1 2 3\r\n")
    wv = load_word_vectors(path)
    assert wv.fmt == "word2vec_text" and wv.words == ["foo", "bar"]
    np.testing.assert_allclose(wv["foo"], [0.1, -0.2, 0.3], rtol=1e-7)


# --------------------------------------------------------------------------- streaming

@pytest.mark.parametrize("fmt", list(WRITERS))
def test_streaming_keeps_only_requested_words(tmp_path: Path, vocab, fmt: str) -> None:
    words, vecs = vocab
    path = _write(tmp_path, fmt, words, vecs)
    wv = load_word_vectors(path, words=["bear", "ALBATROSS", "missing"])
    # Case-insensitive by default: "Albatross" matches the request "ALBATROSS".
    assert wv.words == ["bear", "Albatross"]
    np.testing.assert_array_equal(wv["bear"], vecs[1])
    exact = load_word_vectors(path, words=["bear", "ALBATROSS"], case_insensitive=False)
    assert exact.words == ["bear"]


def test_exact_streaming_stops_early_before_damage(tmp_path: Path, vocab) -> None:
    words, vecs = vocab
    path = _write(tmp_path, "word2vec_binary", words, vecs)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 10])       # the last record is cut
    wv = load_word_vectors(path, words=["grizzly"], case_insensitive=False)
    assert wv.words == ["grizzly"]
    with pytest.raises(ZSLDataError, match="truncated"):
        load_word_vectors(path, words=["grizzly"])  # case-insensitive must read to the end


def test_streaming_large_binary_memory_is_small(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    n, d = 20000, 50
    words = [f"w{i}" for i in range(n)]
    path = tmp_path / "big.bin"
    save_word2vec_binary(path, words, rng.normal(size=(n, d)).astype(np.float32))
    wv = load_word_vectors(path, words={"w5", "w19999", "W123"})
    assert sorted(wv.words) == ["w123", "w19999", "w5"]
    assert wv.vectors.shape == (3, d)


# --------------------------------------------------------------------------- errors

def test_truncated_binary_names_file_and_offset(tmp_path: Path, vocab) -> None:
    words, vecs = vocab
    path = _write(tmp_path, "word2vec_binary", words, vecs)
    data = path.read_bytes()
    cut = tmp_path / "cut.bin"
    cut.write_bytes(data[:-12])
    with pytest.raises(ZSLDataError) as exc:
        load_word_vectors(cut)
    msg = str(exc.value)
    assert str(cut) in msg and "truncated" in msg and "byte offset" in msg and f"record {len(words)} of" in msg
    last_offset = len(data) - (len("cat") + 1 + 4 * 7 + 1)
    assert f"byte offset {last_offset}" in msg and "needs 28 bytes" in msg


def test_binary_missing_records_is_truncated(tmp_path: Path) -> None:
    path = tmp_path / "few.bin"
    save_word2vec_binary(path, ["a", "b"], np.ones((2, 3)))
    data = path.read_bytes().replace(b"2 3\n", b"5 3\n", 1)
    path.write_bytes(data)
    with pytest.raises(ZSLDataError, match=r"few\.bin.*declares 5 records but the file ends after 2"):
        load_word_vectors(path, fmt="word2vec_binary")


def test_binary_with_wrong_dimension_is_garbled(tmp_path: Path) -> None:
    path = tmp_path / "dim.bin"
    rng = np.random.default_rng(3)
    save_word2vec_binary(path, [f"w{i}" for i in range(300)], rng.normal(size=(300, 4)))
    data = path.read_bytes().replace(b"300 4\n", b"300 3\n", 1)
    path.write_bytes(data)
    with pytest.raises(ZSLDataError, match=r"dim\.bin.*(garbled|truncated|non-finite)"):
        load_word_vectors(path)


def test_binary_trailing_garbage(tmp_path: Path) -> None:
    path = tmp_path / "tail.bin"
    save_word2vec_binary(path, ["a"], np.ones((1, 2)))
    path.write_bytes(path.read_bytes() + b"junk")
    with pytest.raises(ZSLDataError, match=r"tail\.bin.*after the 1 records.*byte offset"):
        load_word_vectors(path)


@pytest.mark.parametrize("fmt", ["word2vec_text", "glove"])
def test_garbled_text_line_names_file_and_line(tmp_path: Path, vocab, fmt: str) -> None:
    words, vecs = vocab
    path = _write(tmp_path, fmt, words, vecs)
    lines = path.read_text(encoding="utf-8").splitlines()
    header = 1 if fmt == "word2vec_text" else 0
    bad = lines[header + 4].split()
    bad[3] = "0.1x"
    lines[header + 4] = " ".join(bad)
    lines[header + 6] = " ".join(lines[header + 6].split()[:-2])   # two values missing
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ZSLDataError) as exc:
        load_word_vectors(path, fmt=fmt)
    msg = str(exc.value)
    assert str(path) in msg and f"line {header + 5}" in msg and "'0.1x'" in msg and "black" in msg
    lines[header + 4] = f"black {' '.join(['0'] * 7)}"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ZSLDataError, match=rf"line {header + 7} has 5 values, expected 7"):
        load_word_vectors(path, fmt=fmt)


def test_truncated_text_file(tmp_path: Path, vocab) -> None:
    words, vecs = vocab
    path = _write(tmp_path, "word2vec_text", words, vecs)
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(lines[:5]) + "\n", encoding="utf-8")
    with pytest.raises(ZSLDataError, match=rf"truncated.*declares {len(words)} records, found 4"):
        load_word_vectors(path)
    # Cut mid-line: the last line has too few values.
    path.write_text("\n".join(lines[:5]) + "\n" + lines[5][:12], encoding="utf-8")
    with pytest.raises(ZSLDataError, match="line 6 has"):
        load_word_vectors(path)


def test_non_finite_values_rejected(tmp_path: Path) -> None:
    path = tmp_path / "nan.txt"
    path.write_text("a 1 2\nb nan 3\n", encoding="utf-8")
    with pytest.raises(ZSLDataError, match=r"nan\.txt.*'b'.*line 2.*non-finite"):
        load_word_vectors(path)


def test_detection_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(ZSLDataError, match="empty"):
        load_word_vectors(empty)
    junk = tmp_path / "junk.dat"
    junk.write_bytes(b"\x00\x01\x02 hello world\n")
    with pytest.raises(ZSLDataError, match=r"junk\.dat.*cannot detect.*fmt="):
        load_word_vectors(junk)
    with pytest.raises(ZSLDataError, match="not found"):
        load_word_vectors(tmp_path / "absent.bin")
    with pytest.raises(ConfigError, match="fmt.*'word2vec'"):
        load_word_vectors(junk, fmt="word2vec")


def test_glove_fmt_on_headered_file(tmp_path: Path, vocab) -> None:
    words, vecs = vocab
    path = _write(tmp_path, "word2vec_text", words, vecs)
    with pytest.raises(ZSLDataError, match="word2vec header.*fmt='word2vec_text'"):
        load_word_vectors(path, fmt="glove")
    glove = _write(tmp_path, "glove", words, vecs)
    with pytest.raises(ZSLDataError, match="expected a word2vec text header.*fmt='glove'"):
        load_word_vectors(glove, fmt="word2vec_text")


def test_writers_validate_and_are_atomic(tmp_path: Path) -> None:
    path = tmp_path / "out.bin"
    with pytest.raises(ZSLDataError, match="whitespace"):
        save_word2vec_binary(path, ["two words"], np.ones((1, 2)))
    with pytest.raises(ZSLDataError, match="duplicate"):
        save_word2vec_text(path, ["a", "a"], np.ones((2, 2)))
    with pytest.raises(ZSLDataError, match=r"shape \(2, D\)"):
        save_glove_text(path, ["a", "b"], np.ones((3, 2)))
    assert not path.exists() and not list(tmp_path.iterdir())   # nothing half-written


# --------------------------------------------------------------------------- class names

@pytest.mark.parametrize("name,expected", [
    ("grizzly+bear", ["grizzly", "bear"]),
    ("001.Black_footed_Albatross", ["Black", "footed", "Albatross"]),
    ("200.Common_Yellowthroat", ["Common", "Yellowthroat"]),
    ("airport_terminal", ["airport", "terminal"]),
    ("airport_airport", ["airport"]),
    ("abbey", ["abbey"]),
    ("  killer whale ", ["killer", "whale"]),
    ("black-footed albatross", ["black", "footed", "albatross"]),
    ("bistro/indoor", ["bistro", "indoor"]),
])
def test_class_name_to_words(name: str, expected: list[str]) -> None:
    assert class_name_to_words(name) == expected


def test_class_name_without_words_raises() -> None:
    with pytest.raises(ZSLDataError, match="'001.'"):
        class_name_to_words("001.")


def test_phrase_candidates() -> None:
    assert phrase_candidates("grizzly+bear") == ["grizzly_bear"]
    assert phrase_candidates("abbey") == []
    assert phrase_candidates("Black-footed Albatross") == ["Black_footed_Albatross", "Black-footed_Albatross"]


def _wv(entries: dict[str, list[float]]) -> WordVectors:
    return WordVectors.from_dict(entries)


def test_multi_word_names_are_averaged() -> None:
    wv = _wv({"killer": [1.0, 0.0, 0.0], "whale": [0.0, 2.0, 0.0]})
    emb, rep = class_embeddings(["killer+whale"], wv, normalize=False, return_report=True)
    np.testing.assert_allclose(emb[0], [0.5, 1.0, 0.0])
    assert emb.dtype == np.float32 and rep.used == [["killer", "whale"]] and rep.phrase == [False]
    unit = class_embeddings(["killer+whale"], wv)
    np.testing.assert_allclose(unit[0], np.array([0.5, 1.0, 0.0]) / np.linalg.norm([0.5, 1.0, 0.0]), rtol=1e-6)


def test_phrase_preferred_when_present() -> None:
    wv = _wv({"grizzly": [1.0, 0.0], "bear": [0.0, 1.0], "grizzly_bear": [3.0, 4.0]})
    emb, rep = class_embeddings(["grizzly+bear"], wv, normalize=False, return_report=True)
    np.testing.assert_allclose(emb[0], [3.0, 4.0])
    assert rep.used == [["grizzly_bear"]] and rep.phrase == [True]
    no_phrase = class_embeddings(["grizzly+bear"], wv, normalize=False, phrase_first=False)
    np.testing.assert_allclose(no_phrase[0], [0.5, 0.5])


def test_case_fallback_order() -> None:
    wv = _wv({"albatross": [1.0, 0.0], "Dalmatian": [0.0, 1.0], "Persian": [2.0, 0.0], "persian": [5.0, 0.0]})
    emb, rep = class_embeddings(["001.Black_footed_Albatross", "dalmatian", "persian", "PERSIAN"], wv,
                                oov="skip", normalize=False, return_report=True)
    assert rep.used[0] == ["albatross"] and rep.missing[0] == ["Black", "footed"]
    assert rep.used[1] == ["Dalmatian"]                    # Capitalised fallback
    assert rep.used[2] == ["persian"]                      # exact before Capitalised
    assert rep.used[3] == ["persian"]                      # lower before Capitalised
    np.testing.assert_allclose(emb[1], [0.0, 1.0])
    assert "Black" in rep.summary()


def test_oov_error_lists_every_class_and_word() -> None:
    wv = _wv({"cat": [1.0, 0.0], "bear": [0.0, 1.0]})
    with pytest.raises(ZSLDataError) as exc:
        class_embeddings(["persian+cat", "grizzly+bear", "cat", "blue+whale"], wv)
    msg = str(exc.value)
    assert "3 class name(s)" in msg and "'cat':" not in msg   # the class "cat" is complete
    assert "'persian+cat': ['persian']" in msg and "'grizzly+bear': ['grizzly']" in msg
    assert "'blue+whale': ['blue', 'whale']" in msg and "oov='skip'" in msg


def test_oov_skip_averages_found_and_errors_when_none() -> None:
    wv = _wv({"cat": [1.0, 0.0], "bear": [0.0, 1.0]})
    emb = class_embeddings(["persian+cat", "grizzly+bear"], wv, oov="skip", normalize=False)
    np.testing.assert_allclose(emb, [[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ZSLDataError, match=r"no word found.*\['blue\+whale'\]"):
        class_embeddings(["persian+cat", "blue+whale"], wv, oov="skip")
    with pytest.raises(ConfigError, match="oov"):
        class_embeddings(["cat"], wv, oov="zero")  # type: ignore[arg-type]


def test_end_to_end_streaming_class_embeddings(tmp_path: Path, vocab) -> None:
    words, vecs = vocab
    path = _write(tmp_path, "word2vec_binary", words, vecs)
    names = ["grizzly+bear", "001.Black_footed_Albatross", "airport_terminal", "abbey", "persian+cat"]
    needed = words_for_class_names(names)
    assert {"grizzly_bear", "albatross", "Airport", "abbey"} <= needed
    wv = load_word_vectors(path, words=needed)
    assert set(wv.words) <= set(words) and "killer" not in wv
    emb, rep = class_embeddings(names, wv, return_report=True)
    assert emb.shape == (5, 7)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, rtol=1e-6)
    assert rep.used[0] == ["grizzly_bear"] and rep.used[4] == ["Persian", "cat"]
    expected = vecs[words.index("airport")] + vecs[words.index("terminal")]
    np.testing.assert_allclose(emb[2], expected / np.linalg.norm(expected), rtol=1e-5)


def test_word_vectors_container() -> None:
    wv = WordVectors(words=["a", "b", "a"], vectors=np.arange(6).reshape(3, 2))
    assert wv.dim == 2 and len(wv) == 3 and wv.vectors.dtype == np.float32
    np.testing.assert_array_equal(wv["a"], [0, 1])            # first occurrence wins
    assert wv.get("zzz") is None
    with pytest.raises(KeyError, match="'zzz' not found"):
        wv["zzz"]
    with pytest.raises(ZSLDataError, match=r"shape \(3, D\)"):
        WordVectors(words=["a", "b", "c"], vectors=np.zeros((2, 2)))


def test_truncated_gzip_file_is_a_clear_error(tmp_path):
    import gzip

    from zslkit.embeddings.word_vectors import load_word_vectors
    from zslkit.errors import ZSLDataError

    full = gzip.compress(b"2 3\ncat 1 2 3\ndog 4 5 6\n")
    for cut in (2, 10, len(full) - 4):
        p = tmp_path / f"v{cut}.txt.gz"
        p.write_bytes(full[:cut])
        with pytest.raises(ZSLDataError, match=str(p)):
            load_word_vectors(p)
