"""Tests of zslkit.models.bilinear (ALE, SJE, DeViSE: bilinear compatibility + ranking losses)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone

from tests.models.helpers import trainval, zsl_t1
from zslkit.errors import ConfigError, ZSLDataError
from zslkit.losses.ranking import ale_loss, devise_loss, sje_loss
from zslkit.models.bilinear import ALE, SJE, BilinearRankingModel, DeViSE
from zslkit.training.selection import select

MODELS = [ALE, SJE, DeViSE]


@pytest.fixture(scope="module")
def fitted(toy_data):
    """Each model with default hyperparameters, seed 0, fitted on the toy trainval images."""
    return {cls: cls().fit(*trainval(toy_data)) for cls in MODELS}


# ----------------------------------------------------------------------------- accuracy
@pytest.mark.parametrize("cls", MODELS)
def test_beats_chance_widely(toy_data, fitted, cls):
    # 10 unseen classes: chance is 10 %. Measured over seeds 0-4 (surrogate v2, easy preset):
    # ALE 47-50, SJE 50-70, DeViSE 37-54.
    assert zsl_t1(fitted[cls], toy_data) > 30.0


def test_ale_word2vec_beats_chance(toy_data_w2v):
    m = ALE().fit(*trainval(toy_data_w2v))
    assert zsl_t1(m, toy_data_w2v) > 30.0  # measured 49-55 over seeds 0-4


# ----------------------------------------------------------------------------- the model
@pytest.mark.parametrize("cls", MODELS)
def test_scores_are_bilinear(toy_data, fitted, cls):
    m = fitted[cls]
    X, S = toy_data.features[:6], toy_data.semantic[:5]
    assert m.W_.shape == (X.shape[1], S.shape[1])  # D x K
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    Sn = S / np.linalg.norm(S, axis=1, keepdims=True)
    np.testing.assert_allclose(m.scores(X, S), Xn @ m.W_ @ Sn.T, rtol=1e-5, atol=1e-5)


def test_loss_and_margin_per_model():
    assert ALE.loss_fn is ale_loss and SJE.loss_fn is sje_loss and DeViSE.loss_fn is devise_loss
    assert ALE().effective_margin == 1.0 and SJE().effective_margin == 1.0 and DeViSE().effective_margin == 0.1
    assert DeViSE(margin=0.5).effective_margin == 0.5
    # lr=None: 0.1 for ALE/SJE, 10x smaller for DeViSE (its 10x smaller margin scales steps up)
    assert ALE().effective_lr == SJE().effective_lr == 0.1 and DeViSE().effective_lr == 0.01
    assert DeViSE(lr=0.3).effective_lr == 0.3
    assert np.allclose(DeViSE.param_grid["lr"], [0.1 * lr for lr in ALE.param_grid["lr"]])
    assert all(issubclass(c, BilinearRankingModel) and c.iterative for c in MODELS)


@pytest.mark.parametrize("cls", MODELS)
def test_history_and_throughput(fitted, cls):
    m = fitted[cls]
    assert [h["epoch"] for h in m.history_] == list(range(1, m.epochs + 1))
    losses = [h["loss"] for h in m.history_]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]  # training makes progress
    assert all(0.0 <= h["violated"] <= 1.0 for h in m.history_)
    assert np.all(np.diff([h["seconds"] for h in m.history_]) >= 0)
    assert m.throughput_ > 0 and m.throughput_ == m.history_[-1]["samples_per_s"]


# ----------------------------------------------------------------------------- determinism
@pytest.mark.parametrize("cls", MODELS)
def test_same_seed_identical_different_seed_differs(toy_data, cls):
    X, y, S = trainval(toy_data)
    a, b = cls(seed=5, epochs=3).fit(X, y, S), cls(seed=5, epochs=3).fit(X, y, S)
    Xt, St = toy_data.features[:100], toy_data.semantic
    assert np.array_equal(a.scores(Xt, St), b.scores(Xt, St))
    assert [h["loss"] for h in a.history_] == [h["loss"] for h in b.history_]
    other = cls(seed=6, epochs=3).fit(X, y, S)
    assert not np.allclose(other.W_, a.W_)
    assert not np.allclose(other.scores(Xt, St), a.scores(Xt, St))


def test_global_torch_rng_neither_used_nor_changed(toy_data):
    X, y, S = trainval(toy_data)
    torch.manual_seed(123)
    a = ALE(epochs=2).fit(X, y, S)
    after = torch.rand(1)
    torch.manual_seed(999)
    b = ALE(epochs=2).fit(X, y, S)
    torch.manual_seed(123)
    assert torch.equal(torch.rand(1), after)
    assert np.array_equal(a.W_, b.W_)


def test_fit_grid_snapshots_equal_separate_fits(toy_data):
    X, y, S = trainval(toy_data)
    grid = [{"lr": 0.1, "epochs": 3}, {"lr": 1.0, "epochs": 1}, {"lr": 0.1, "epochs": 1}]
    out = list(SJE().fit_grid(X, y, S, grid))
    assert [p for p, _ in out] == grid  # order preserved: select() zips results with the grid
    for p, m in out:
        ref = SJE(**p).fit(X, y, S)
        assert m.get_params() == ref.get_params()
        assert np.array_equal(m.W_, ref.W_)
        assert len(m.history_) == p["epochs"]


def test_num_threads_restored(toy_data):
    X, y, S = trainval(toy_data)
    before = torch.get_num_threads()
    DeViSE(epochs=1, num_threads=1).fit(X, y, S)
    assert torch.get_num_threads() == before


# ----------------------------------------------------------------------------- options
def test_max_norm_is_respected(toy_data):
    m = ALE(lr=1.0, epochs=2, max_norm=3.0).fit(*trainval(toy_data))
    assert np.linalg.norm(m.W_) <= 3.0 * (1 + 1e-5)


def test_weight_decay_shrinks_W(toy_data):
    X, y, S = trainval(toy_data)
    plain = SJE(epochs=3).fit(X, y, S)
    decayed = SJE(epochs=3, weight_decay=0.05).fit(X, y, S)
    assert np.linalg.norm(decayed.W_) < np.linalg.norm(plain.W_)


def test_standardised_features(toy_data):
    X, y, S = trainval(toy_data)
    m = ALE(normalize_features="std", lr=0.01).fit(X, y, S)
    assert m.feature_mean_.shape == (X.shape[1],) and np.all(m.feature_std_ > 0)
    Xt = toy_data.features[:4]
    Sn = S / np.linalg.norm(S, axis=1, keepdims=True)
    np.testing.assert_allclose(m.scores(Xt, S), ((Xt - m.feature_mean_) / m.feature_std_) @ m.W_ @ Sn.T,
                               rtol=1e-4, atol=1e-4)
    assert zsl_t1(m, toy_data) > 30.0


def test_verbose_progress_bar(toy_data, capsys):
    ALE(epochs=2, verbose=True).fit(*trainval(toy_data))
    err = capsys.readouterr().err
    assert "ALE" in err and "loss" in err and "samples_s" in err


def test_clone_and_params():
    m = SJE(lr=0.5, epochs=3, seed=7)
    c = clone(m)
    assert c.get_params() == m.get_params() and c is not m
    assert set(SJE.param_grid) <= set(m.get_params())


# ----------------------------------------------------------------------------- selection
def test_select_returns_grid_params(toy_data):
    grid = {"lr": [0.1, 1.0], "epochs": [2, 4]}
    sel = select(DeViSE(), toy_data, grid=grid)
    assert sel.params["lr"] in grid["lr"] and sel.params["epochs"] in grid["epochs"]
    assert len(sel.table) == 4 and np.isfinite(sel.gamma)


# ----------------------------------------------------------------------------- errors
BAD = [{"lr": -0.1}, {"lr": 0}, {"lr": float("nan")}, {"lr": "fast"}, {"epochs": 0}, {"epochs": 2.5},
       {"epochs": True}, {"batch_size": 0}, {"margin": -1.0}, {"margin": 0.0}, {"momentum": 1.0},
       {"momentum": -0.1}, {"weight_decay": -1e-3}, {"max_norm": 0.0}, {"normalize_features": "l1"},
       {"normalize_semantic": "std"}, {"seed": -1}, {"device": "gpu0"}, {"num_threads": 0}]


@pytest.mark.parametrize("bad", BAD, ids=[str(b) for b in BAD])
def test_bad_hyperparameters_raise_config_error(toy_data, bad):
    X, y, S = trainval(toy_data)
    with pytest.raises(ConfigError):
        ALE(**bad).fit(X[:64], y[:64], S)
    with pytest.raises(ConfigError):
        list(SJE().fit_grid(X[:64], y[:64], S, [bad]))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error when CUDA is absent")
def test_cuda_unavailable_is_config_error(toy_data):
    X, y, S = trainval(toy_data)
    with pytest.raises(ConfigError, match="CUDA"):
        DeViSE(device="cuda").fit(X[:64], y[:64], S)


def test_divergence_is_reported(toy_data):
    X, y, S = trainval(toy_data)
    with pytest.raises(ConfigError, match="diverged"):
        SJE(lr=1e38, momentum=0.0, normalize_features="none", normalize_semantic="none", epochs=3).fit(X, y, S)


def test_bad_data_and_unfitted(toy_data):
    X, y, S = trainval(toy_data)
    with pytest.raises(ZSLDataError, match="not fitted"):
        ALE().scores(X, S)
    with pytest.raises(ZSLDataError, match="y must have shape"):
        ALE().fit(X, y[:-1], S)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ZSLDataError, match="NaN"):
        ALE().fit(bad, y, S)
