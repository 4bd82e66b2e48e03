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


# --------------------------------------------------------------------------- issue #15: inputs that get further

NPY_DTYPES = ["<f4", "<f8", ">f8", "<f2", "<i4", "|u1", "|b1", "<c8", "<c16", "|O", "<U3", "|S2", "<M8[s]"]


@FAST
@given(dtype=st.sampled_from(NPY_DTYPES), shape=st.lists(st.integers(0, 2 ** 41), max_size=3),
       fortran=st.booleans(), version=st.sampled_from([(1, 0), (2, 0)]), n_bytes=st.integers(0, 512),
       fill=st.binary(min_size=1, max_size=8), num_classes=st.integers(1, 4))
def test_npy_with_a_valid_header_fuzz(tmp_path, dtype, shape, fortran, version, n_bytes, fill, num_classes):
    """A well-formed .npy header (any dtype, shape, order; sizes up to terabytes) followed by any number of
    bytes: a class matrix or a ZSLDataError, never a MemoryError / ValueError / pickle load."""
    shape = tuple(s if i else min(s, num_classes * 2) for i, s in enumerate(shape))  # often a fitting first dim
    p = tmp_path / "h.npy"
    header = {"descr": dtype, "fortran_order": fortran, "shape": shape}
    with open(p, "wb") as fh:
        (np.lib.format.write_array_header_1_0 if version == (1, 0) else np.lib.format.write_array_header_2_0)(
            fh, header)
        fh.write((fill * (n_bytes // len(fill) + 1))[:n_bytes])
    try:
        m, _ = read_semantic_matrix(p, num_classes)
    except ZSLDataError as exc:
        assert str(p) in str(exc)
        return
    assert m.dtype == np.float32 and m.shape[0] == num_classes and m.shape[1] > 0 and np.all(np.isfinite(m))


# Values a user may type after --param NAME= or put in YAML params:/grid: (typed, then rendered as text)
scalar_values = st.one_of(st.none(), st.booleans(), st.integers(-3, 6), st.floats(allow_nan=True, allow_infinity=True),
                          st.floats(1e-4, 10.0), st.sampled_from(["l2", "none", "mse", "remse", "sgd", "adam", "01",
                                                                  "pm1", "eigh", "cosine", "abc", "", "semantic->visual",
                                                                  "cpu", "yes", "0x10", "1e3"]))
param_values = st.one_of(scalar_values, st.lists(scalar_values, max_size=3))
MODEL_NAMES = ["eszsl", "sae", "ale", "sje", "devise", "regressor"]


def typed_values(tp, default):
    """Values of the annotated type (out-of-range ones included), so that most draws get past the type
    check and into the model; ``param_values`` supplies the wrongly typed ones."""
    import typing

    args = [a for a in typing.get_args(tp) if a is not type(None)]
    inner = args[0] if args else tp
    base = {float: st.one_of(st.floats(-10, 10), st.floats(1e-6, 1.0), st.just(0.0)),
            int: st.integers(-2, 5), bool: st.booleans(),
            str: st.sampled_from(sorted({"l2", "none", "zscore", "minmax", "mse", "remse", "sgd", "adam", "01", "pm1",
                                         "eigh", "solve", "cosine", "euclidean", "semantic->visual",
                                         "visual->semantic", "in_batch", "cpu", "abc", str(default)}))}.get(inner)
    if base is None:
        return st.just(default)
    return st.one_of(st.none(), base) if args and len(typing.get_args(tp)) > len(args) else base


@pytest.fixture(scope="module")
def tiny_problem():
    """12 classes x 6 images of 8-d features, 5-d class semantics: enough for every fit to run in ms."""
    rng = np.random.default_rng(0)
    S = rng.random((12, 5)).astype(np.float32)
    y = np.repeat(np.arange(9), 6)
    X = (S[y] @ rng.random((5, 8)) + 0.1 * rng.random((y.size, 8))).astype(np.float32)
    return X, y, S


def _limited(name: str, params: dict) -> dict:
    """Bound the work (not the validity) of a generated configuration: few epochs and small layers."""
    out = dict(params)
    for k in ("epochs", "steps", "pretrain_epochs", "cls_epochs", "hidden"):
        if isinstance(out.get(k), int) and not isinstance(out.get(k), bool):
            out[k] = min(out[k], 3)
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(MODEL_NAMES), data=st.data(), as_text=st.booleans())
def test_generated_param_values_reach_the_models(tiny_problem, name, data, as_text):
    """Generated hyperparameter values, typed or as ``--param`` text, go through the CLI parsing and the
    registry into a real fit: the result is a fitted model with finite scores or a ConfigError /
    ZSLDataError naming the problem, never another exception."""
    import yaml

    from zslkit.cli import _parse_params
    from zslkit.errors import ZSLKitError
    from zslkit.registry import _signature, get_model, model_class

    defaults, hints, _ = _signature(model_class(name))
    keys = data.draw(st.lists(st.sampled_from([n for n in sorted(defaults) if n not in ("device", "verbose")]
                                              + ["no_such"]), min_size=1, max_size=3, unique=True))
    params = {k: data.draw(typed_values(hints[k], defaults[k]) if k in hints and data.draw(st.booleans())
                           else param_values) for k in keys}
    if as_text:  # what a shell user types: NAME=VALUE, VALUE as YAML flow text
        items = tuple(f"{k}={yaml.safe_dump(v, default_flow_style=True).strip().removesuffix('...').strip()}"
                      for k, v in params.items())
        try:
            params = _parse_params(items)
        except ZSLKitError:
            return
    X, y, S = tiny_problem
    try:
        model = get_model(name, **_limited(name, params))
        model.fit(X, y, S)
        scores = model.scores(X[:5], S[9:])
    except ZSLKitError:
        return
    assert scores.shape == (5, 3) and np.all(np.isfinite(scores))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.fixed_dictionaries({}, optional={
    "seed": st.one_of(st.integers(-2, 3), st.floats(allow_nan=True), st.text(max_size=3)),
    "val_folds": st.one_of(st.lists(st.integers(-1, 7), max_size=3), st.integers(0, 3)),
    "gamma": st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
    "val_holdout": st.floats(-0.5, 1.5), "tune": st.booleans(), "criterion": st.sampled_from(["T1", "H", "X"]),
    "params": st.dictionaries(st.sampled_from(["alpha", "lam", "label_coding", "nope"]), param_values, max_size=2),
    "grid": st.one_of(st.none(), st.dictionaries(st.sampled_from(["alpha", "lam"]),
                                                 st.one_of(st.lists(scalar_values, max_size=2), scalar_values),
                                                 max_size=2)),
}))
def test_generated_train_yaml_reaches_the_run(tmp_path, toy_dir, values):
    """Structurally valid ``kind: train`` YAML files with generated values are loaded and, when they load,
    trained on a real (small surrogate) dataset: metrics or a ZSLKitError, never a traceback."""
    import yaml

    from zslkit.errors import ZSLKitError
    from zslkit.pipeline import train

    p = tmp_path / "t.yaml"
    p.write_text(yaml.safe_dump({"kind": "train", "data": str(toy_dir), "model": "eszsl", **values}))
    try:
        cfg = load_config(p)
        res = train(cfg)
    except ZSLKitError:
        return
    m = res.to_dict()
    assert 0 <= m["zsl"]["T1"] <= 100 and all(np.isfinite(m["gzsl"][k]) for k in ("U", "S", "H"))
