"""Surrogate datasets keep the real splits and classes exactly, and are flagged everywhere."""

import json

import numpy as np
import pytest

from tests.conftest import shared_file
from zslkit.data import load_xlsa17, read_att_splits
from zslkit.data.surrogate import SurrogateConfig, _apportion, make_surrogate
from zslkit.errors import ZSLDataError
from zslkit.utils.outputs import ForeignFileError

SMALL = SurrogateConfig(feature_dim=32, hidden_dim=64)


@pytest.mark.parametrize("dataset, fname, n_seen, n_unseen", [
    ("AWA2", "att_splits.mat", 40, 10),
    ("SUN", "att_splits.mat", 645, 72),
    ("CUB", "sent_splits.mat", 150, 50),
])
def test_surrogate_matches_real_splits(tmp_path, dataset, fname, n_seen, n_unseen):
    src = shared_file(dataset, fname)
    out = make_surrogate(src, tmp_path / dataset, seed=1, config=SMALL)
    real = read_att_splits(src)
    d = load_xlsa17(out, splits="att_splits.mat")
    for k, v in real.locs.items():
        np.testing.assert_array_equal(d.splits[k], v)
    assert d.seen_classes.size == n_seen and d.unseen_classes.size == n_unseen
    assert d.features.shape == (sum(real.locs[k].size for k in ("trainval", "test_seen", "test_unseen")), 32)
    assert d.features.min() >= 0  # non-negative like pooled ResNet features
    assert d.surrogate
    meta = json.loads((out / "SURROGATE.json").read_text())
    assert meta["surrogate"] is True and "NOT" in meta["warning"]
    # the real unseen classes are kept where the class list exists
    test_names = (src.parent / "testclasses.txt").read_text().split()
    assert sorted(d.class_names[i] for i in d.unseen_classes) == sorted(test_names)
    # every seen class has test_seen images (as in xlsa17)
    assert np.unique(d.labels[d.splits["test_seen"]]).size == n_seen
    w = load_xlsa17(out, semantic="word2vec")
    assert w.semantic.shape == (len(d.class_names), 300) and w.surrogate


def test_surrogate_deterministic_and_seed_dependent(tmp_path):
    src = shared_file("AWA2", "att_splits.mat")
    a = load_xlsa17(make_surrogate(src, tmp_path / "a", seed=3, config=SMALL))
    b = load_xlsa17(make_surrogate(src, tmp_path / "b", seed=3, config=SMALL))
    c = load_xlsa17(make_surrogate(src, tmp_path / "c", seed=4, config=SMALL))
    np.testing.assert_array_equal(a.features, b.features)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.features, c.features)


def test_surrogate_without_class_lists_draws_unseen(tmp_path):
    out = make_surrogate(shared_file("FLO", "att_splits.mat"), tmp_path / "flo", seed=0, config=SMALL)
    d = load_xlsa17(out)
    assert d.unseen_classes.size == 20  # FLO's known count
    assert "drawn with the seed" in json.loads((out / "SURROGATE.json").read_text())["unseen_classes"]


def test_surrogate_refuses_to_clobber(tmp_path):
    src = shared_file("AWA2", "att_splits.mat")
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "precious.txt").write_text("keep me")
    with pytest.raises(ForeignFileError, match="not empty and not written by zslkit.*precious.txt"):
        make_surrogate(src, tmp_path / "x", config=SMALL)
    with pytest.raises(ForeignFileError, match="precious.txt"):
        make_surrogate(src, tmp_path / "x", config=SMALL, overwrite=True)
    assert (tmp_path / "x" / "precious.txt").read_text() == "keep me"
    # the source's own folder (its att_splits.mat and class lists) is the user's: never written into
    (tmp_path / "y").mkdir()
    own = tmp_path / "y" / "att_splits.mat"
    own.write_bytes(src.read_bytes())
    with pytest.raises(ForeignFileError, match="att_splits.mat"):
        make_surrogate(own, tmp_path / "y", config=SMALL)
    assert own.read_bytes() == src.read_bytes()


def test_apportion_exact_and_minimum():
    counts = _apportion(100, np.array([1.0, 2.0, 7.0]))
    assert counts.sum() == 100 and counts.min() >= 1 and list(counts) == sorted(counts)
    with pytest.raises(ZSLDataError):
        _apportion(2, np.ones(3))


# ----------------------------------------------------------------------------- generator v2
from zslkit.data.surrogate import (  # noqa: E402
    PRESETS,
    SURROGATE_VERSION,
    SurrogateWorld,
    detect_preset,
    generate_surrogate,
    preset_config,
    synth_features,
)
from zslkit.errors import ConfigError  # noqa: E402

W2V = shared_file("AWA2", "att_splits.mat").parents[2] / "word-vectors"


def test_surrogate_json_records_version_preset_and_knobs(tmp_path):
    out = make_surrogate(shared_file("CUB", "att_splits.mat"), tmp_path / "c", seed=0, config=SMALL, preset="mine")
    meta = json.loads((out / "SURROGATE.json").read_text())
    assert meta["version"] == SURROGATE_VERSION and meta["preset"] == "mine"
    assert meta["config"]["feature_dim"] == 32 and meta["class_embeddings"]["source"] == "synthetic"


@pytest.mark.parametrize("dataset", ["AWA1", "AWA2", "CUB", "SUN", "APY", "FLO"])
def test_preset_detected_from_the_real_files(dataset):
    a = read_att_splits(shared_file(dataset, "att_splits.mat"))
    n = int(max(int(v.max()) for v in a.locs.values())) + 1
    expected = dataset if dataset in PRESETS else "generic"
    assert detect_preset(a.num_classes, n, a.class_names) == expected
    # AWA1 and AWA2 share classes and attributes: the image count tells them apart
    assert detect_preset(50, 12345, a.class_names) == "generic"


def test_preset_config_rejects_unknown_names_and_knobs():
    with pytest.raises(ConfigError, match="unknown surrogate preset"):
        preset_config("nope")
    with pytest.raises(ConfigError, match="unknown SurrogateConfig field"):
        preset_config("generic", colour=3)
    with pytest.raises(ConfigError, match="visibility"):
        SurrogateConfig(visibility=0.0).validate()
    with pytest.raises(ConfigError, match="depth"):
        SurrogateConfig(depth=-1).validate()


def test_features_independent_of_chunk_size_and_scaled(rng):
    attrs = rng.random((12, 9))
    labels = np.repeat(np.arange(12), 300)
    cfg = SurrogateConfig(feature_dim=48, hidden_dim=32)
    a = synth_features(labels, attrs, cfg, seed=5, unseen=np.array([0, 1]), chunk=1024)
    b = synth_features(labels, attrs, cfg, seed=5, unseen=np.array([0, 1]), chunk=3000)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and a.min() >= 0
    assert abs(a.mean() - cfg.feature_mean) < 0.1  # rescaled to the chosen mean entry
    assert 0.02 < (a == 0).mean() < 0.5  # most units active, some silent (ReLU)


def _within_between(x: np.ndarray, y: np.ndarray) -> float:
    means = np.stack([x[y == c].mean(0) for c in np.unique(y)])
    within = np.mean([x[y == c].var(0).sum() for c in np.unique(y)])
    return float(within / means.var(0).sum())


def test_difficulty_knobs_do_what_they_say(rng):
    attrs = rng.random((10, 16))
    labels = np.repeat(np.arange(10), 200)
    base = dict(feature_dim=64, hidden_dim=64, n_nuisance=8, n_private=8, private_jitter=0.0, attr_noise=0.0,
                attr_floor_noise=0.0, visibility=1.0, feature_noise=0.05)
    calm = synth_features(labels, attrs, SurrogateConfig(nuisance_weight=0.2, **base), seed=1)
    noisy = synth_features(labels, attrs, SurrogateConfig(nuisance_weight=3.0, **base), seed=1)
    assert _within_between(noisy, labels) > 10 * _within_between(calm, labels)  # intra-class variation
    # nothing random per image: every image of a class is the same (output noise off too)
    x = synth_features(labels, attrs, SurrogateConfig(**{**base, "nuisance_weight": 0.0, "feature_noise": 0.0}),
                       seed=1)
    assert np.allclose(x[labels == 3], x[labels == 3][0], atol=1e-5)


def test_attribute_evidence_is_noisier_for_stronger_attributes():
    # ReZSL's pattern: the error of an attribute grows with its value. In the latent, the evidence of a
    # visible attribute has a spread proportional to its (saturated) value, and an invisible one drops
    # a larger value.
    attrs = np.array([[0.05] * 6, [0.9] * 6])
    cfg = SurrogateConfig(class_attr_noise=0.0, attr_floor_noise=0.0, n_nuisance=2, n_private=2,
                          feature_dim=8, hidden_dim=8)
    world = SurrogateWorld.build(attrs, np.array([1]), cfg, seed=0)
    ev = world.latent(np.repeat([0, 1], 4000), np.random.default_rng(0))[:, :6]
    weak, strong = ev[:4000], ev[4000:]
    assert (strong.std(0) / weak.std(0)).min() > 4  # per attribute (gains differ between attributes)
    assert 0.0 < world.visibility.min() and world.visibility.max() <= 1.0
    assert world.gain.std() > 0  # attributes are unevenly predictable


def test_unseen_images_are_shifted(rng):
    attrs = rng.random((6, 5))
    cfg = SurrogateConfig(unseen_shift=3.0, n_nuisance=4, n_private=2, feature_dim=8, hidden_dim=8)
    world = SurrogateWorld.build(attrs, np.array([0]), cfg, seed=0)
    lat = world.latent(np.repeat([0, 1], 3000), np.random.default_rng(1))
    k = attrs.shape[1]
    nuis = lat[:, k:k + 4] / cfg.nuisance_weight
    shift = nuis[:3000].mean(0) - nuis[3000:].mean(0)
    assert np.linalg.norm(shift) == pytest.approx(3.0, rel=0.1)


def test_generate_surrogate_in_memory_matches_written(tmp_path):
    src = shared_file("APY", "att_splits.mat")
    arr = generate_surrogate(src, seed=2, config=SMALL)
    d = load_xlsa17(make_surrogate(src, tmp_path / "apy", seed=2, config=SMALL))
    np.testing.assert_array_equal(arr.features, d.features)
    np.testing.assert_array_equal(arr.labels, d.labels)
    mem = arr.to_zsldata()
    np.testing.assert_array_equal(mem.semantic, d.semantic)
    assert mem.surrogate and len(mem.class_folds) == 3


def test_real_word2vec_class_embeddings_matched_by_name(tmp_path):
    src = shared_file("AWA2", "att_splits.mat")
    out = make_surrogate(src, tmp_path / "a", config=SMALL, class_embeddings=W2V / "AWA2_class_w2v.npy",
                         class_embedding_names=W2V / "AWA2_class_names.txt")
    w = load_xlsa17(out, semantic="word2vec")
    raw = np.load(W2V / "AWA2_class_w2v.npy")
    names = (W2V / "AWA2_class_names.txt").read_text().split()
    i = names.index(w.class_names[7])
    np.testing.assert_allclose(w.semantic[7], raw[i] / np.linalg.norm(raw[i]), rtol=1e-5)
    meta = json.loads((out / "SURROGATE.json").read_text())["class_embeddings"]
    assert meta["source"] == "file" and meta["dim"] == 300 and len(meta["sha256"]) == 64


def test_class_embedding_errors_name_the_problem(tmp_path):
    src = shared_file("CUB", "att_splits.mat")
    with pytest.raises(ZSLDataError, match="names file"):
        make_surrogate(src, tmp_path / "a", config=SMALL, class_embeddings=W2V / "CUB_class_w2v.npy")
    with pytest.raises(ZSLDataError, match="200 class.*no row.*Laysan"):
        make_surrogate(src, tmp_path / "b", config=SMALL, class_embeddings=W2V / "AWA2_class_w2v.npy",
                       class_embedding_names=W2V / "AWA2_class_names.txt")
    with pytest.raises(ZSLDataError, match="not found"):
        make_surrogate(src, tmp_path / "c", config=SMALL, class_embeddings=tmp_path / "missing.npy")
    assert not (tmp_path / "b").exists()  # checked before anything is generated or written


def test_wordllama_class_embeddings(tmp_path):
    out = make_surrogate(shared_file("APY", "att_splits.mat"), tmp_path / "w", config=SMALL,
                         class_embeddings="wordllama")
    w = load_xlsa17(out, semantic="word2vec")
    assert w.semantic.shape == (32, 256)
    np.testing.assert_allclose(np.linalg.norm(w.semantic, axis=1), 1.0, rtol=1e-5)
    assert json.loads((out / "SURROGATE.json").read_text())["class_embeddings"]["source"] == "wordllama"
