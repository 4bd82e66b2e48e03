"""Tests of zslkit.models.sae (Semantic Autoencoder, Kodirov et al. CVPR 2017)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone

from tests.models.helpers import trainval, zsl_t1
from zslkit.errors import ConfigError, ZSLDataError
from zslkit.models.sae import SAE
from zslkit.training.selection import select


def normalised_problem(X, y, S):
    """(X, Y) in float64 as SAE sees them: L2 rows, Y = per-image class semantics."""
    Xn = X.astype(np.float64) / np.linalg.norm(X.astype(np.float64), axis=1, keepdims=True)
    Sn = S.astype(np.float64) / np.linalg.norm(S.astype(np.float64), axis=1, keepdims=True)
    return Xn, Sn[y]


@pytest.fixture(scope="module")
def fitted(toy_data):
    return SAE().fit(*trainval(toy_data))


# ----------------------------------------------------------------------------- accuracy
def test_default_beats_chance_widely(toy_data, fitted):
    # 10 unseen classes: chance is 10 %; measured 78 % on this toy set
    assert zsl_t1(fitted, toy_data) > 50.0


def test_visual_to_semantic_direction_beats_chance(toy_data):
    m = SAE(lam=100.0, direction="visual->semantic").fit(*trainval(toy_data))
    assert zsl_t1(m, toy_data) > 45.0  # measured 72 %


def test_word2vec_semantics_beat_chance(toy_data_w2v):
    m = SAE().fit(*trainval(toy_data_w2v))
    assert zsl_t1(m, toy_data_w2v) > 35.0  # measured 60 %


# ----------------------------------------------------------------------------- the closed form
@pytest.mark.parametrize("solver", ["sylvester", "eigh"])
@pytest.mark.parametrize("lam", [1e-3, 0.2, 50.0, 1e6])
def test_W_solves_the_sylvester_equation(toy_data, lam, solver):
    X, y, S = trainval(toy_data)
    m = SAE(lam=lam, solver=solver).fit(X, y, S)
    Xn, Y = normalised_problem(X, y, S)
    W = m.W_.astype(np.float64)
    assert W.shape == (S.shape[1], X.shape[1])  # K x D
    rhs = (1 + lam) * Y.T @ Xn
    resid = Y.T @ Y @ W + lam * W @ (Xn.T @ Xn) - rhs
    # W_ is stored in float32: the residual is at float32 rounding level of the right-hand side
    assert np.abs(resid).max() <= 1e-5 * np.abs(rhs).max()


def test_W_minimises_the_autoencoder_objective(toy_data):
    """Independent of the derivation: autograd gradient of the objective vanishes at W_."""
    lam = 3.0
    X, y, S = trainval(toy_data)
    m = SAE(lam=lam).fit(X, y, S)
    Xn, Y = normalised_problem(X, y, S)
    Xt, Yt = torch.from_numpy(Xn), torch.from_numpy(Y)

    def objective(W):
        return ((Xt - Yt @ W) ** 2).sum() + lam * ((Xt @ W.T - Yt) ** 2).sum()

    W = torch.tensor(m.W_, dtype=torch.float64, requires_grad=True)
    f = objective(W)
    (g,) = torch.autograd.grad(f, W)
    g_scale = 2 * (1 + lam) * np.abs(Y.T @ Xn).max()  # size of each term of the gradient
    assert g.abs().max().item() < 1e-4 * g_scale
    with torch.no_grad():
        gen = torch.Generator().manual_seed(0)
        for _ in range(3):
            d = torch.randn(W.shape, generator=gen, dtype=torch.float64)
            assert objective(W + 1e-2 * d) > f and objective(W - 1e-2 * d) > f


def test_solvers_agree_with_more_semantic_dims_than_classes(toy_data_w2v):
    # 300-d word vectors, 30 seen classes: Y^T Y is singular (rank 30), the equation still has a
    # unique solution because lam X^T X is positive definite
    X, y, S = trainval(toy_data_w2v)
    a = SAE(lam=0.5).fit(X, y, S).W_
    b = SAE(lam=0.5, solver="eigh").fit(X, y, S).W_
    assert a.shape == (300, X.shape[1])
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-5 * np.abs(a).max())


def test_fit_grid_matches_fit(toy_data):
    X, y, S = trainval(toy_data)
    grid = [{"lam": lam, "direction": d} for lam in (1e-3, 1.0, 1e5) for d in ("semantic->visual", "visual->semantic")]
    out = list(SAE().fit_grid(X, y, S, grid))
    assert [p for p, _ in out] == grid  # order preserved: select() zips results with the grid
    for p, m in out:
        assert m.get_params()["lam"] == p["lam"] and m.direction == p["direction"]
        ref = SAE(**p).fit(X, y, S)
        np.testing.assert_allclose(m.W_, ref.W_, rtol=0, atol=1e-5 * np.abs(ref.W_).max())
        np.testing.assert_allclose(m.scores(X[:50], S), ref.scores(X[:50], S), atol=1e-4)


def test_deterministic(toy_data, fitted):
    again = SAE().fit(*trainval(toy_data))
    assert np.array_equal(fitted.W_, again.W_)


# ----------------------------------------------------------------------------- scoring
@pytest.mark.parametrize("normalize_w", [True, False])
def test_scores_shapes_and_directions(toy_data, fitted, normalize_w):
    X = toy_data.features[:7]
    S = toy_data.semantic[toy_data.unseen_classes]
    s2v_model = clone(fitted).set_params(normalize_w=normalize_w)
    s2v_model.W_ = fitted.W_
    s2v = s2v_model.scores(X, S)
    v2s = clone(s2v_model).set_params(direction="visual->semantic")
    v2s.W_ = fitted.W_
    sv = v2s.scores(X, S)
    assert s2v.shape == sv.shape == (7, S.shape[0])
    assert np.all(np.abs(s2v) <= 1 + 1e-5) and np.all(np.abs(sv) <= 1 + 1e-5)  # cosines
    assert not np.allclose(s2v, sv)
    # the authors' demo scores with W whose rows (one per semantic dimension) have unit norm
    W = fitted.W_ / np.linalg.norm(fitted.W_, axis=1, keepdims=True) if normalize_w else fitted.W_
    # semantic->visual: cosine between the image and the decoded class s_c W
    x = X[0] / np.linalg.norm(X[0])
    dec = (S[3] / np.linalg.norm(S[3])) @ W
    assert s2v[0, 3] == pytest.approx(float(x @ dec / np.linalg.norm(dec)), abs=1e-5)
    # visual->semantic: cosine between the encoded image x W^T and the class
    enc = x @ W.T
    assert sv[0, 3] == pytest.approx(float(enc @ S[3] / np.linalg.norm(enc) / np.linalg.norm(S[3])), abs=1e-5)


def test_row_normalised_w_is_the_default_and_changes_scores(toy_data, fitted):
    assert SAE().normalize_w is True
    raw = clone(fitted).set_params(normalize_w=False)
    raw.W_ = fitted.W_ * np.linspace(0.2, 5.0, fitted.W_.shape[0])[:, None].astype(np.float32)
    scaled = clone(fitted)
    scaled.W_ = raw.W_
    X, S = toy_data.features[:20], toy_data.semantic
    # rescaling rows of W does not change the normalised scores, but does change the raw ones
    np.testing.assert_allclose(scaled.scores(X, S), fitted.scores(X, S), atol=1e-5)
    assert not np.allclose(raw.scores(X, S), fitted.scores(X, S), atol=1e-3)


def test_euclidean_metric_is_negative_distance(toy_data, fitted):
    m = clone(fitted).set_params(metric="euclidean", normalize_w=False)
    m.W_ = fitted.W_
    X, S = toy_data.features[:5], toy_data.semantic[:4]
    s = m.scores(X, S)
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    dec = (S / np.linalg.norm(S, axis=1, keepdims=True)) @ fitted.W_
    ref = -np.linalg.norm(Xn[:, None, :] - dec[None, :, :], axis=2)
    np.testing.assert_allclose(s, ref, atol=1e-4)


# ----------------------------------------------------------------------------- selection
def test_select_returns_grid_params(toy_data):
    grid = {"lam": [0.1, 100.0], "direction": ["semantic->visual", "visual->semantic"]}
    sel = select(SAE(), toy_data, grid=grid)
    assert sel.params["lam"] in grid["lam"] and sel.params["direction"] in grid["direction"]
    assert len(sel.table) == 4 and all(0 <= row["val_T1"] <= 100 for row in sel.table)
    assert np.isfinite(sel.gamma)


def test_default_grid_is_searchable():
    grid = SAE.param_grid
    assert set(grid) == {"lam", "direction"}
    assert set(grid["direction"]) == {"semantic->visual", "visual->semantic"}
    assert min(grid["lam"]) <= 1e-2 and max(grid["lam"]) >= 1e6


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("bad", [{"lam": -1.0}, {"lam": 0.0}, {"lam": float("inf")}, {"lam": "big"},
                                 {"direction": "visual->visual"}, {"metric": "manhattan"},
                                 {"normalize_features": "std"}, {"normalize_semantic": True},
                                 {"solver": "lstsq"}])
def test_bad_hyperparameters_raise_config_error(toy_data, bad):
    X, y, S = trainval(toy_data)
    with pytest.raises(ConfigError):
        SAE(**bad).fit(X[:100], y[:100], S)
    with pytest.raises(ConfigError):
        list(SAE().fit_grid(X[:100], y[:100], S, [bad]))


def test_bad_data_and_unfitted(toy_data):
    X, y, S = trainval(toy_data)
    with pytest.raises(ZSLDataError, match="not fitted"):
        SAE().scores(X, S)
    with pytest.raises(ZSLDataError, match="y must index rows of S"):
        SAE().fit(X, np.full(len(y), S.shape[0]), S)
    with pytest.raises(ZSLDataError, match="X must be 2-D"):
        SAE().fit(X[0], y[:1], S)


@pytest.mark.parametrize("chunk", [1, 7, 100, 4096])
@pytest.mark.parametrize("norm", ["l2", "none"])
def test_chunked_statistics_match_the_dense_float64_formulas(toy_data, chunk, norm):
    """_stats accumulates over row chunks (no float64 copy of all of X); it must equal the dense
    float64 formulas Y^T Y, X^T X, Y^T X (Y = per-image class semantics) up to summation order."""
    X, y, S = trainval(toy_data)
    m = SAE(normalize_features=norm)
    YtY, XtX, YtX = m._stats(X, y, S, chunk=chunk)
    Xd = X.astype(np.float64)
    if norm == "l2":
        Xd = Xd / np.linalg.norm(Xd, axis=1, keepdims=True)
    Sd = S.astype(np.float64)
    Y = (Sd / np.linalg.norm(Sd, axis=1, keepdims=True))[y]
    for got, ref in ((YtY, Y.T @ Y), (XtX, Xd.T @ Xd), (YtX, Y.T @ Xd)):
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())


@pytest.mark.parametrize("direction", ["visual->semantic", "semantic->visual"])
def test_authors_demo_formula_on_a_tiny_problem(rng, direction):
    """The authors' demo in the paper's column-sample form, written out: X (D x N) L2-normalised per image,
    S (K x N) the images' class signatures, W = sylvester(S S^T, lam X X^T, (1 + lam) S X^T), then every row
    of W L2-normalised; F-->S scores cos(W x, s_c), S-->F scores cos(x, W^T s_c)."""
    from scipy.linalg import solve_sylvester

    D, K, C, lam = 9, 4, 5, 0.7
    y = rng.integers(0, C, 40)
    feats = rng.random((40, D))
    sig = rng.random((C, K))
    sig /= np.linalg.norm(sig, axis=1, keepdims=True)
    X = (feats / np.linalg.norm(feats, axis=1, keepdims=True)).T  # D x N
    S = sig[y].T  # K x N
    W = solve_sylvester(S @ S.T, lam * X @ X.T, (1 + lam) * S @ X.T)  # K x D
    Wn = W / np.linalg.norm(W, axis=1, keepdims=True)
    test = rng.random((7, D))

    def cos(A, B):
        return (A / np.linalg.norm(A, axis=1, keepdims=True)) @ (B / np.linalg.norm(B, axis=1, keepdims=True)).T

    expected = cos(test @ Wn.T, sig) if direction == "visual->semantic" else cos(test, sig @ Wn)
    m = SAE(lam=lam, direction=direction).fit(feats, y, sig)
    np.testing.assert_allclose(m.W_, W, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(m.scores(test, sig), expected, rtol=1e-4, atol=1e-5)
    assert np.array_equal(m.predict(test, sig), expected.argmax(1))
