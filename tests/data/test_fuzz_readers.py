"""Property-based tests: every reader either returns valid data or raises ZSLDataError/ConfigError.

No input, however broken, may escape as another exception type (which the CLI would show as
a traceback) or return NaN/inf or wrongly shaped data.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zslkit.config import load_config
from zslkit.data import read_att_splits, read_res101, read_semantic_matrix, write_res101
from zslkit.data.matfile import load_mat, save_mat
from zslkit.errors import ConfigError, ZSLDataError

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(data=st.binary(max_size=2048))
def test_load_mat_arbitrary_bytes(tmp_path, data):
    p = tmp_path / "x.mat"
    p.write_bytes(data)
    try:
        load_mat(p)
    except ZSLDataError as exc:
        assert str(p) in str(exc)


@pytest.fixture(scope="module")
def valid_res101(tmp_path_factory):
    p = tmp_path_factory.mktemp("r") / "res101.mat"
    rng = np.random.default_rng(0)
    write_res101(p, rng.random((12, 5)).astype(np.float32), np.arange(12) % 3, image_files=[f"{i}" for i in range(12)])
    return p.read_bytes()


@FAST
@given(cut=st.integers(min_value=0, max_value=4000), flip=st.integers(min_value=0, max_value=4000))
def test_truncated_or_corrupted_res101(tmp_path, valid_res101, cut, flip):
    raw = bytearray(valid_res101[: max(cut, 1)])
    if raw and flip < len(raw):
        raw[flip] ^= 0xFF
    p = tmp_path / "res101.mat"
    p.write_bytes(bytes(raw))
    try:
        r = read_res101(p)
    except ZSLDataError:
        return
    assert r.features.dtype == np.float32 and r.features.shape[0] == r.labels.size
    assert np.all(np.isfinite(r.features)) and r.labels.min() >= 0


finite_or_not = st.floats(allow_nan=True, allow_infinity=True, width=32)


@FAST
@given(n=st.integers(1, 6), d=st.integers(1, 6), values=st.lists(finite_or_not, min_size=36, max_size=36),
       label_shift=st.integers(-2, 2), version=st.sampled_from(["v5", "v7.3"]), transpose=st.booleans())
def test_res101_shapes_and_values(tmp_path, n, d, values, label_shift, version, transpose):
    feats = np.array(values[: n * d], dtype=np.float32).reshape(n, d)
    labels = np.arange(n) + label_shift
    p = tmp_path / "res101.mat"
    save_mat(p, {"features": feats if transpose else feats.T, "labels": labels.reshape(-1, 1).astype(float)},
             version=version)
    try:
        r = read_res101(p)
    except ZSLDataError:
        return
    assert np.all(np.isfinite(r.features)) and r.labels.min() >= 0
    assert r.features.shape[0] == n


@FAST
@given(text=st.text(alphabet=st.sampled_from(list("abc,;\t 0123456789.-eE\nnaif")), max_size=300),
       num_classes=st.integers(1, 5))
def test_csv_semantic_fuzz(tmp_path, text, num_classes):
    p = tmp_path / "s.csv"
    p.write_text(text)
    try:
        m, _ = read_semantic_matrix(p, num_classes)
    except ZSLDataError:
        return
    assert m.shape[0] == num_classes and np.all(np.isfinite(m))


@FAST
@given(data=st.binary(max_size=512))
def test_npy_semantic_fuzz(tmp_path, data):
    p = tmp_path / "s.npy"
    p.write_bytes(b"\x93NUMPY" + data)
    try:
        m, _ = read_semantic_matrix(p, 3)
    except ZSLDataError:
        return
    assert m.shape[0] == 3 and np.all(np.isfinite(m))


@FAST
@given(raw=st.binary(max_size=300))
def test_non_utf8_and_garbage_names(tmp_path, raw):
    # class names that are not UTF-8, duplicated, or empty end in ZSLDataError, not UnicodeDecodeError
    p = tmp_path / "a.mat"
    names = [raw.decode("latin-1")[:20] or "x", "dup", "dup"]
    save_mat(p, {"att": np.ones((2, 3)), "allclasses_names": names, "trainval_loc": np.array([[1]])})
    with pytest.raises(ZSLDataError):
        read_att_splits(p)


@FAST
@given(text=st.text(max_size=200))
def test_yaml_config_fuzz(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    try:
        load_config(p)
    except ConfigError:
        pass


def test_absurd_sizes_are_refused_cleanly(tmp_path):
    # a semantic matrix claiming an absurd class count is rejected by shape, without allocating it
    p = tmp_path / "big.npy"
    np.save(p, np.zeros((2, 3)))
    with pytest.raises(ZSLDataError, match="number of classes"):
        read_semantic_matrix(p, 10**9)


@FAST
@given(data=st.binary(max_size=1024), fmt=st.sampled_from(["auto", "word2vec_binary", "word2vec_text", "glove"]),
       header=st.sampled_from([b"", b"3 4\n", b"2 300\n", b"-1 4\n", b"99999999999 99999999\n"]))
def test_word_vector_file_fuzz(tmp_path, data, fmt, header):
    from zslkit.embeddings.word_vectors import load_word_vectors

    p = tmp_path / "vectors.txt"
    p.write_bytes(header + data)
    try:
        wv = load_word_vectors(p, fmt=fmt)
    except (ZSLDataError, ConfigError) as exc:
        assert str(p) in str(exc) or "format" in str(exc).lower()
    else:
        for w in list(getattr(wv, "words", []))[:50]:
            assert np.all(np.isfinite(wv[w]))


@FAST
@given(data=st.binary(max_size=512), suffix=st.sampled_from([".jpg", ".png", ".JPEG", ".bmp"]))
def test_unreadable_image_bytes_fuzz(tmp_path, data, suffix):
    from zslkit.data.images import ImageReadError, scan_image_folder

    import tempfile
    from pathlib import Path

    root = Path(tempfile.mkdtemp(dir=tmp_path))  # a fresh folder per example (tmp_path is shared)
    (root / "cat").mkdir()
    p = root / "cat" / f"x{suffix}"
    p.write_bytes(data)
    imgs = scan_image_folder(root, ["cat"])
    try:
        img = imgs.load(0)
    except ImageReadError as exc:
        assert str(p) in str(exc)
    else:
        assert img.mode == "RGB" and img.size[0] > 0
