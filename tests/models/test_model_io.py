"""Saving fitted estimators without pickle (zslkit.models.io): every registered model comes back from
model.json + model.npz scoring exactly as the model in memory; files that are not what zslkit writes are
refused without running anything."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from zslkit.errors import ConfigError, ZSLDataError
from zslkit.models.io import decode, encode, read_state, write_state
from zslkit.registry import get_model, model_names

#: fast settings of every registered feature-level model (a model missing here fails the test below)
FAST = {
    "eszsl": {}, "sae": {}, "dap": {}, "iap": {},
    "ale": {"epochs": 2}, "sje": {"epochs": 2}, "devise": {"epochs": 2},
    "regressor": {"epochs": 2, "hidden": 8, "dropout": 0.1, "feature_norm": "standard"},
    "softmax_compat": {"epochs": 2},
    "clswgan": {"steps": 6, "hidden": 8, "n_synth": 4, "cls_epochs": 2, "pretrain_epochs": 1},
    "abp": {"steps": 4, "hidden": 8, "n_synth": 4, "cls_epochs": 2},
}
#: further variants whose fitted state holds other kinds of objects (scikit-learn SVMs + calibrators)
VARIANTS = [pytest.param(name, FAST.get(name, {}), id=name) for name in model_names()] + [
    pytest.param("dap", {"classifier": "svm"}, id="dap-svm"), pytest.param("iap", {"classifier": "svm"}, id="iap-svm"),
    pytest.param("abp", {**FAST["abp"], "zsl_classifier": "softmax"}, id="abp-softmax")]


@pytest.fixture(scope="module")
def problem():
    """6 classes (4 seen with 12 images each, 2 unseen), K = 5, D = 12, non-negative features; test images."""
    rng = np.random.default_rng(0)
    S = rng.random((6, 5)).astype(np.float32)
    y = np.repeat(np.arange(4), 12)
    proj = rng.normal(size=(5, 12))
    X = np.abs(S[y] @ proj + 0.3 * rng.normal(size=(y.size, 12))).astype(np.float32)
    X_test = np.abs(S[[0, 4, 5, 1, 4, 5, 2, 3]] @ proj + 0.3 * rng.normal(size=(8, 12))).astype(np.float32)
    return X, y, S, X_test


def test_every_registered_model_has_fast_settings_here():
    assert set(model_names()) <= set(FAST), "add the new model's fast settings to FAST (and it is then tested)"


@pytest.mark.parametrize("name, params", VARIANTS)
def test_a_saved_model_scores_exactly_as_the_model_in_memory(problem, tmp_path, name, params):
    X, y, S, X_test = problem
    model = get_model(name, **params).fit(X, y, S)
    candidate_sets = (S[4:], S, S[[5, 0, 4]])  # ZSL, GZSL, and one the model never scored before saving
    before = [model.scores(X_test, Sc) for Sc in candidate_sets[:2]]
    doc, arrays = encode(model, "model")
    json.dumps(doc, allow_nan=False)  # plain JSON
    assert all(isinstance(a, np.ndarray) and not a.dtype.hasobject for a in arrays.values())
    write_state(tmp_path, "model", {"model": doc}, arrays)
    doc2, arrays2 = read_state(tmp_path, "model")
    loaded = decode(doc2["model"], arrays2)
    assert type(loaded) is type(model) and loaded.get_params() == model.get_params()
    for Sc, b in zip(candidate_sets, before + [model.scores(X_test, Sc) for Sc in candidate_sets[2:]]):
        got = loaded.scores(X_test, Sc)
        assert got.shape == (X_test.shape[0], Sc.shape[0]) and np.array_equal(got, b), name
    if hasattr(model, "history_"):
        assert loaded.history_ == model.history_


def test_a_fitted_transform_round_trips(problem, tmp_path):
    from zslkit.features import get_transform

    X, _, _, X_test = problem
    t = get_transform("expchi2(norm=l1, n_components=10)", blocks=[("a", 5), ("b", 7)], weights=[1.0, 2.0]).fit(X)
    doc, arrays = encode(t, "transform")
    write_state(tmp_path, "t", {"transform": doc}, arrays)
    doc2, arrays2 = read_state(tmp_path, "t")
    t2 = decode(doc2["transform"], arrays2)
    assert t2.blocks_ == t.blocks_ and isinstance(t2.blocks_[0], tuple)
    assert np.array_equal(t2.transform(X_test), t.transform(X_test))


def test_values_keep_their_types(tmp_path):
    value = {"a": (1, 2.5, None), "b": {3, 4}, "c": {1: "x", (2, 3): "y"}, "d": float("nan"), "e": np.float32(1.5),
             "f": np.arange(3, dtype=np.int16), "g": [True, "s", -float("inf")], "$type": "a key like a marker"}
    doc, arrays = encode(value, "v")
    back = decode(json.loads(json.dumps(doc, allow_nan=False)), arrays)
    assert back["a"] == (1, 2.5, None) and back["b"] == {3, 4} and back["c"] == {1: "x", (2, 3): "y"}
    assert np.isnan(back["d"]) and back["e"] == np.float32(1.5) and back["e"].dtype == np.float32
    assert back["f"].dtype == np.int16 and back["f"].tolist() == [0, 1, 2]
    assert back["g"] == [True, "s", -float("inf")] and back["$type"] == "a key like a marker"


def test_what_cannot_be_stored_without_pickle_is_refused_by_name():
    from zslkit.models import ESZSL

    m = ESZSL()
    m.V_ = np.zeros((2, 2), dtype=np.float32)
    m.hook_ = lambda x: x
    with pytest.raises(ConfigError, match=r"model\.hook_.*function"):
        encode(m)
    m.hook_ = np.random.default_rng(0)
    with pytest.raises(ConfigError, match=r"model\.hook_"):
        encode(m)
    m.hook_ = np.array([object()])
    with pytest.raises(ConfigError, match=r"model\.hook_.*dtype object"):
        encode(m)


class _Boom:
    """Stands in for any class a crafted file could name: rebuilding must never call it."""

    def __init__(self, *a, **k):  # pragma: no cover - the test fails if this runs
        raise AssertionError("constructor ran")


@pytest.mark.parametrize("cls", ["builtins:eval", "os:system", "subprocess:Popen", "pickle:loads",
                                 "numpy:load", "tests.models.test_model_io:_Boom"])
def test_classes_outside_zslkit_sklearn_and_torch_nn_are_refused(tmp_path, cls):
    doc = {"$type": "object", "class": cls, "state": {}}
    with pytest.raises(ZSLDataError, match="is not from zslkit, sklearn, torch.nn"):
        decode(doc, {}, where="crafted.json")


def test_rebuilding_runs_no_constructor_and_unknown_entries_are_refused():
    from zslkit.models import ESZSL

    doc = {"$type": "object", "class": "zslkit.models.eszsl:ESZSL", "state": {"alpha": "not validated"}}
    m = decode(doc, {})
    assert type(m) is ESZSL and m.alpha == "not validated"  # set as stored: the constructor did not run
    with pytest.raises(ZSLDataError, match=r"x\.json: array 'nope' is missing"):
        decode({"$type": "ndarray", "key": "nope"}, {}, where="x.json")
    with pytest.raises(ZSLDataError, match="unknown entry type 'pickle'"):
        decode({"$type": "pickle", "data": "..."}, {})
    with pytest.raises(ZSLDataError, match="does not exist in this installation"):
        decode({"$type": "object", "class": "zslkit.models.eszsl:Gone", "state": {}}, {})


def test_state_files_missing_damaged_or_foreign(tmp_path):
    with pytest.raises(ZSLDataError, match=r"model\.json: not found"):
        read_state(tmp_path, "model")
    (tmp_path / "model.json").write_text("{not json")
    with pytest.raises(ZSLDataError, match=r"model\.json: unreadable"):
        read_state(tmp_path, "model")
    (tmp_path / "model.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ZSLDataError, match="format 'something-else', expected 'zslkit-state-v1'"):
        read_state(tmp_path, "model")
    write_state(tmp_path, "model", {"model": None}, {"a": np.zeros(2)})
    (tmp_path / "model.npz").unlink()
    with pytest.raises(ZSLDataError, match=r"model\.npz: not found"):
        read_state(tmp_path, "model")
    with open(tmp_path / "model.npz", "wb") as fh:  # an .npz holding a pickled object array
        np.savez(fh, a=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ZSLDataError, match=r"model\.npz: unreadable"):
        read_state(tmp_path, "model")


def test_generative_models_pickle_without_their_classifier_cache(problem):
    X, y, S, X_test = problem
    m = get_model("clswgan", **FAST["clswgan"]).fit(X, y, S)
    a = m.scores(X_test, S)
    assert len(m._cache) == 1
    m2 = pickle.loads(pickle.dumps(m))
    assert len(m2._cache) == 0 and np.array_equal(m2.scores(X_test, S), a)
