"""Tests of zslkit.models.softmax_compat (the model VGSE's evaluation script calls "SJE").

The formulas are written out here from the specification (METHODS.md, "VGSE ... evaluation
script"): z_c = (x A^T + b) . s_c, p = softmax(z), training loss = cross-entropy applied to p
(a softmax of the softmax outputs) + reg * ||A||_F, Adam(beta1 = 0.5), features min-max scaled
on the training images then divided by their largest scaled value.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.preprocessing import MinMaxScaler

from tests.models.helpers import trainval, zsl_t1
from zslkit.errors import ConfigError, ZSLDataError
from zslkit.models.softmax_compat import SoftmaxCompat
from zslkit.registry import get_model, model_description


def softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def tiny(rng, n=24, d=6, k=4, c=5):
    X = rng.random((n, d)) * 3.0 + 1.0
    X[:, 2] = 7.0  # a constant dimension: min-max maps it to 0
    y = np.arange(n) % (c - 1)  # class c - 1 is unseen
    S = rng.random((c, k))
    return X, y, S


def test_scores_are_the_softmax_of_the_linear_compatibility(rng):
    X, y, S = tiny(rng)
    m = SoftmaxCompat(lr=0.01, epochs=2, batch_size=8).fit(X, y, S)
    Xt = rng.random((5, 6)) * 4.0  # test features may leave the training range
    sc = MinMaxScaler().fit(X)
    Xs = sc.transform(X)
    xt = sc.transform(Xt) / Xs.max()
    z = (xt @ m.A_.T + m.b_) @ S.T  # semantics used as given
    np.testing.assert_allclose(m.scores(Xt, S), softmax(z), rtol=1e-4, atol=1e-6)
    # ZSL: softmax over the candidate classes only
    np.testing.assert_allclose(m.scores(Xt, S[[4, 1]]), softmax(z[:, [4, 1]]), rtol=1e-4, atol=1e-6)
    assert m.A_.shape == (4, 6) and m.b_.shape == (4,)


@pytest.mark.parametrize("double_softmax, reg", [(True, 0.0), (True, 0.5), (False, 0.0)])
def test_first_adam_step_follows_the_authors_loss(rng, double_softmax, reg):
    """One step on one batch of all images: Adam's first update is -lr * g / (|g| + eps) elementwise,
    so the change of A has the sign of minus the gradient of the loss written out below."""
    X, y, S = tiny(rng)
    lr = 1e-3
    m = SoftmaxCompat(lr=lr, epochs=1, batch_size=len(y), weight_norm_reg=reg, double_softmax=double_softmax,
                      seed=3).fit(X, y, S)
    gen = torch.Generator().manual_seed(3)
    A0 = torch.randn(4, 6, generator=gen, dtype=torch.float32).double() * 0.02  # init N(0, 0.02^2), b = 0
    A = A0.clone().requires_grad_(True)
    b = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    Xs = MinMaxScaler().fit_transform(X)
    x = torch.tensor(Xs / Xs.max())
    s = torch.tensor(S[:4])  # the seen classes 0..3
    z = (x @ A.T + b) @ s.T
    out = torch.softmax(z, 1) if double_softmax else z
    loss = -torch.log_softmax(out, 1)[torch.arange(len(y)), torch.tensor(y)].mean() + reg * torch.linalg.norm(A)
    loss.backward()
    step = torch.tensor(m.A_, dtype=torch.float64) - A0
    big = A.grad.abs() > 1e-6  # Adam's eps (1e-8) matters only for tiny gradients
    assert big.sum() > 10
    np.testing.assert_allclose(step[big].numpy(), (-lr * torch.sign(A.grad))[big].numpy(), rtol=1e-3)
    np.testing.assert_allclose(m.b_, (-lr * torch.sign(b.grad)).numpy(), rtol=1e-3, atol=1e-7)


def test_learns_on_toy_data(toy_data):
    m = SoftmaxCompat(lr=0.01, epochs=20).fit(*trainval(toy_data))
    assert zsl_t1(m, toy_data) > 50.0  # chance 10 %; measured 72.2
    assert len(m.history_) == 20 and m.throughput_ > 0


def test_fit_grid_epochs_share_one_run_and_equal_separate_fits(toy_data):
    X, y, S = trainval(toy_data)
    grid = [{"epochs": 3}, {"epochs": 1}]
    out = list(SoftmaxCompat(lr=0.01, batch_size=100).fit_grid(X, y, S, grid))
    assert [p for p, _ in out] == grid
    for p, m in out:
        ref = SoftmaxCompat(lr=0.01, batch_size=100, **p).fit(X, y, S)
        np.testing.assert_array_equal(m.A_, ref.A_)
        assert m.get_params() == ref.get_params()


def test_deterministic_with_the_seed(rng):
    X, y, S = tiny(rng)
    a = SoftmaxCompat(epochs=3, batch_size=5).fit(X, y, S)  # 24 images: batches cross pass boundaries
    b = SoftmaxCompat(epochs=3, batch_size=5).fit(X, y, S)
    c = SoftmaxCompat(epochs=3, batch_size=5, seed=1).fit(X, y, S)
    assert np.array_equal(a.A_, b.A_) and not np.array_equal(a.A_, c.A_)


def test_registered_under_an_honest_name():
    m = get_model("softmax_compat(lr=0.0001)")
    assert isinstance(m, SoftmaxCompat) and m.lr == 1e-4 and m.beta1 == 0.5 and m.batch_size == 64
    assert "called SJE in their script" in model_description("softmax_compat")


BAD = [{"lr": 0}, {"epochs": 0}, {"batch_size": 0}, {"beta1": 1.0}, {"weight_norm_reg": -1.0},
       {"feature_scaling": "std"}, {"normalize_semantic": "l1"}, {"double_softmax": "yes"}, {"device": "gpu0"}]


@pytest.mark.parametrize("bad", BAD, ids=[str(b) for b in BAD])
def test_bad_hyperparameters(rng, bad):
    X, y, S = tiny(rng)
    with pytest.raises(ConfigError):
        SoftmaxCompat(**bad).fit(X, y, S)


def test_unfitted(rng):
    with pytest.raises(ZSLDataError, match="not fitted"):
        SoftmaxCompat().scores(rng.random((2, 3)), rng.random((2, 2)))
