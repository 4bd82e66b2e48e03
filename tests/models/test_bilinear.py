"""Tests of zslkit.models.bilinear (ALE, SJE, DeViSE: bilinear compatibility + ranking losses)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone

from tests.models.helpers import trainval, zsl_t1
from zslkit.errors import ConfigError, ZSLDataError
from zslkit.losses.ranking import (
    ale_loss,
    ale_sampled_violator,
    devise_first_violator,
    devise_loss,
    sje_loss,
    sje_most_violating,
)
from zslkit.models.bilinear import ALE, SJE, BilinearRankingModel, DeViSE, per_sample_epoch
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


def test_verbose_progress(toy_data, caplog, monkeypatch):
    from zslkit.utils import progress

    monkeypatch.setattr(progress, "LINE_INTERVAL_S", 0.0)  # a line at every epoch (stderr is no terminal here)
    with caplog.at_level("INFO", logger="zslkit.progress"):
        ALE(epochs=2, verbose=True).fit(*trainval(toy_data))
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == "zslkit.progress")
    assert text.startswith("ALE: 1/2 epoch") and "loss=" in text and "samples_s=" in text


def test_clone_and_params():
    m = SJE(lr=0.5, epochs=3, seed=7)
    c = clone(m)
    assert c.get_params() == m.get_params() and c is not m
    assert set(SJE.param_grid) <= set(m.get_params())


# ----------------------------------------------------------------------------- per-sample SGD (the papers')
def papers_epoch(W, X, y, S, order, pick, lr, standardise=False):
    """The papers' per-image SGD written out: for each image, scores against every seen class, the
    class the rule picks, then W <- W + lr * weight * x (s_y - s_c)^T."""
    W = W.copy()
    for n in order:
        xw = X[n] @ W
        if standardise:  # SJE's reproduction chooses the class from the standardised projection
            xw = (xw - xw.mean()) / xw.std()
        chosen = pick(S @ xw, y[n])
        if chosen is not None:
            c, weight = chosen
            W += lr * weight * np.outer(X[n], S[y[n]] - S[c])
    return W


def tiny_problem(rng, n=60, d=7, k=5, cs=6):
    X = rng.random((n, d))
    y = rng.integers(0, cs, n)
    S = rng.random((cs, k))
    return X, y, S, rng.random((d, k))


def test_per_sample_epoch_devise_first_violator_in_class_order(rng):
    X, y, S, W0 = tiny_problem(rng)
    order = rng.permutation(len(y))

    def first_violator(f, yn, margin=0.1):
        for c in range(len(f)):  # class order
            if c != yn and margin + f[c] - f[yn] > 0:
                return c, 1.0
        return None

    ref = papers_epoch(W0, X, y, S, order, first_violator, lr=0.05)
    W, _, steps = per_sample_epoch(W0.copy(), X, y, S, order, devise_first_violator, 0.05, 0.1)
    assert steps > 0
    np.testing.assert_allclose(W, ref, rtol=0, atol=1e-12)


def test_per_sample_epoch_sje_most_violating_of_standardised_projection(rng):
    X, y, S, W0 = tiny_problem(rng)
    order = rng.permutation(len(y))

    def most_violating(f, yn, margin=1.0):
        v = [margin + f[c] - f[yn] if c != yn else 0.0 for c in range(len(f))]
        c = int(np.argmax(v))
        return None if c == yn else (c, 1.0)

    ref = papers_epoch(W0, X, y, S, order, most_violating, lr=0.1, standardise=True)
    W, _, _ = per_sample_epoch(W0.copy(), X, y, S, order, sje_most_violating, 0.1, 1.0, None, True)
    np.testing.assert_allclose(W, ref, rtol=0, atol=1e-12)
    raw, _, _ = per_sample_epoch(W0.copy(), X, y, S, order, sje_most_violating, 0.1, 1.0, None, False)
    assert not np.allclose(raw, W)  # the standardisation changes which classes are chosen


def test_per_sample_epoch_ale_warp(rng):
    X, y, S, W0 = tiny_problem(rng)
    order = rng.permutation(len(y))
    draws = np.random.default_rng(5)

    def warp(f, yn, margin=1.0):
        others = [c for c in range(len(f)) if c != yn]
        for i, j in enumerate(draws.integers(0, len(others), size=len(others))):
            if margin + f[others[j]] - f[yn] > 0:
                rank = len(others) // (i + 1)
                return others[j], sum(1.0 / r for r in range(1, rank + 1))
        return None

    ref = papers_epoch(W0, X, y, S, order, warp, lr=0.2)
    W, _, _ = per_sample_epoch(W0.copy(), X, y, S, order, ale_sampled_violator, 0.2, 1.0, np.random.default_rng(5))
    np.testing.assert_allclose(W, ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("cls, lr", [(ALE, 0.2), (SJE, 1.0), (DeViSE, 0.2)])
def test_per_sample_option_learns(toy_data, cls, lr):
    X, y, S = trainval(toy_data)
    m = cls(optimizer="per_sample", lr=lr, epochs=3).fit(X, y, S)
    # chance 10 %; measured (seeds 0, 1): ALE 75.9, 76.8; SJE 72.8, 70.1; DeViSE 60.5, 61.4
    assert zsl_t1(m, toy_data) > 45.0
    assert len(m.history_) == 3 and 0 < m.history_[-1]["violated"] <= 1 and m.throughput_ > 0
    again = cls(optimizer="per_sample", lr=lr, epochs=3).fit(X, y, S)
    assert np.array_equal(m.W_, again.W_)  # deterministic with the seed
    other = cls(optimizer="per_sample", lr=lr, epochs=3, seed=1).fit(X, y, S)
    assert not np.array_equal(m.W_, other.W_)


def test_per_sample_fit_grid_snapshots_equal_separate_fits(toy_data):
    X, y, S = trainval(toy_data)
    grid = [{"lr": 0.05, "epochs": 2}, {"lr": 0.05, "epochs": 1}, {"lr": 0.01, "epochs": 1}]
    for p, m in ALE(optimizer="per_sample").fit_grid(X, y, S, grid):
        assert np.array_equal(m.W_, ALE(optimizer="per_sample", **p).fit(X, y, S).W_)


def test_per_sample_uses_the_reproductions_init_and_refuses_batched_only_options(toy_data):
    assert SJE(optimizer="per_sample").effective_init == "uniform" and SJE().effective_init == "normal"
    X, y, S = trainval(toy_data)
    m = DeViSE(optimizer="per_sample", lr=1e-300, epochs=1).fit(X[:40], y[:40], S)  # steps far below rounding
    np.testing.assert_allclose(np.linalg.norm(m.W_, axis=0), 1.0, rtol=1e-6)  # unit columns of U[0, 1)
    assert m.W_.min() >= 0
    b = ALE(init="uniform", epochs=1).fit(X[:40], y[:40], S)  # the batched optimiser takes it too
    assert np.isfinite(b.W_).all()
    for bad, match in (({"optimizer": "per_sample", "weight_decay": 0.01}, "weight_decay"),
                       ({"optimizer": "per_sample", "max_norm": 1.0}, "max_norm"),
                       ({"optimizer": "adam"}, "optimizer"), ({"init": "zeros"}, "init")):
        with pytest.raises(ConfigError, match=match):
            ALE(**bad).fit(X[:40], y[:40], S)


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


def test_score_order_is_chosen_by_multiply_adds_and_both_orders_agree():
    """Issue #14: the batch size enters the choice; at batch 64 on CUB shapes (X W) S^T is the cheaper
    order though C < K (the earlier rule picked X (W S^T) whenever C < K)."""
    import torch

    from zslkit.models.bilinear import w_s_first

    assert not w_s_first(64, 2048, 312, 150)  # CUB: 43.9M vs 115.5M multiply-adds
    assert not w_s_first(64, 2048, 102, 645)  # SUN
    assert w_s_first(4096, 2048, 312, 20)  # few classes, huge batch: W S^T first
    g = torch.Generator().manual_seed(0)
    X, W, S = torch.rand(7, 30, generator=g), torch.rand(30, 5, generator=g), torch.rand(4, 5, generator=g)
    torch.testing.assert_close(X @ (W @ S.T), (X @ W) @ S.T)
