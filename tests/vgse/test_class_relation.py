"""Tests of the VGSE Class Relation module (zslkit.vgse.class_relation).

Accuracy is checked against an independent interior-point QP solver (Clarabel, through
qpsolvers, run with tight tolerances on the plain un-centred problem). Objectives are
compared in **absolute** terms on the L2-normalised problem (objective values lie in
[0, 4]): |f_ours - f_ref| <= 1e-6, and in practice ours is never worse than the reference
by more than 1e-12.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from zslkit.errors import ConfigError, ZSLDataError
from zslkit.vgse import (
    ClassRelation,
    ClassRelationConvergenceWarning,
    class_relation_objective,
    duality_gap,
    predict_unseen_embeddings,
    project_capped_simplex,
    solve_class_relation,
    wavg_relation,
)

import qpsolvers  # noqa: E402  (test dependency: the reference QP solver; must not skip silently)
assert "clarabel" in qpsolvers.available_solvers, "install the test extras: pip install -e '.[test]'"

OBJ_TOL = 1e-6     # absolute, on the normalised problem
FEAS_TOL = 1e-8

_CLARABEL_TIGHT = dict(tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12, tol_ktratio=1e-10)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _word_vectors(seed: int, n_seen: int, n_unseen: int, dim: int, correlated: bool) -> tuple[np.ndarray, np.ndarray]:
    """Random (synthetic) unit word vectors; ``correlated`` mimics real word2vec class
    names: a shared direction plus cluster structure, which makes the QP ill-conditioned."""
    rng = np.random.default_rng(seed)
    if correlated:
        base = rng.normal(size=dim)
        centres = rng.normal(size=(max(2, n_seen // 30), dim))

        def gen(n: int) -> np.ndarray:
            return 1.5 * base + centres[rng.integers(0, len(centres), n)] + 0.7 * rng.normal(size=(n, dim))

        seen, unseen = gen(n_seen), gen(n_unseen)
    else:
        seen, unseen = rng.normal(size=(n_seen, dim)), rng.normal(size=(n_unseen, dim))
    return _unit(unseen), _unit(seen)


def _reference(word_unseen: np.ndarray, word_seen: np.ndarray, alpha: float) -> np.ndarray:
    """Per-class QP with Clarabel: min r^T (W W^T) r - 2 (W w)^T r, alpha <= r <= 1, 1^T r = 1."""
    n_seen = word_seen.shape[0]
    p_mat = sp.csc_matrix(2.0 * word_seen @ word_seen.T)
    a_mat = sp.csc_matrix(np.ones((1, n_seen)))
    rows = []
    for w in word_unseen:
        r = qpsolvers.solve_qp(p_mat, -2.0 * word_seen @ w, A=a_mat, b=np.array([1.0]),
                               lb=np.full(n_seen, alpha), ub=np.ones(n_seen), solver="clarabel", **_CLARABEL_TIGHT)
        assert r is not None, "reference solver failed"
        rows.append(r)
    return np.array(rows)


def _assert_feasible(rel: np.ndarray, alpha: float) -> None:
    assert np.all(rel >= alpha - FEAS_TOL)
    assert np.all(rel <= 1.0 + FEAS_TOL)
    np.testing.assert_allclose(rel.sum(axis=1), 1.0, rtol=0, atol=FEAS_TOL)


def _assert_matches_reference(wu: np.ndarray, ws: np.ndarray, alpha: float, rows: np.ndarray | None = None) -> None:
    rel, info = solve_class_relation(wu, ws, alpha, return_info=True)
    _assert_feasible(rel, alpha)
    assert info.converged.all()
    assert np.all(info.gap <= 1e-9)
    rows = np.arange(wu.shape[0]) if rows is None else rows
    ref = _reference(wu[rows], ws, alpha)
    _assert_feasible(ref, alpha)
    f_ours = class_relation_objective(rel[rows], wu[rows], ws)
    f_ref = class_relation_objective(ref, wu[rows], ws)
    np.testing.assert_allclose(f_ours, f_ref, rtol=0, atol=OBJ_TOL)
    # Ours is certified optimal to ~1e-10, so it may beat the reference but never lose.
    assert np.all(f_ours <= f_ref + 1e-9)
    np.testing.assert_allclose(info.objective[rows], f_ours, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- accuracy

@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("alpha", [0.0, 0.01, -0.05])
@pytest.mark.parametrize("correlated", [False, True])
def test_small_problems_match_reference(seed: int, alpha: float, correlated: bool) -> None:
    wu, ws = _word_vectors(seed, n_seen=40, n_unseen=10, dim=300, correlated=correlated)
    _assert_matches_reference(wu, ws, alpha)


@pytest.mark.parametrize("seed", [5, 6])
def test_more_seen_than_dims_matches_reference(seed: int) -> None:
    # S > D_w: the Gram matrix is singular, the typical SUN regime in miniature.
    wu, ws = _word_vectors(seed, n_seen=80, n_unseen=12, dim=30, correlated=seed % 2 == 0)
    for alpha in (0.0, 0.005, -0.02):
        _assert_matches_reference(wu, ws, alpha)


@pytest.mark.parametrize("seed,alpha,correlated", [(0, 0.0, True), (1, 0.001, False), (2, -0.01, True)])
def test_sun_size_matches_reference(seed: int, alpha: float, correlated: bool) -> None:
    # All 72 rows are solved together and certified by the duality gap; the (slow)
    # reference checks a few of them.
    wu, ws = _word_vectors(seed, n_seen=645, n_unseen=72, dim=300, correlated=correlated)
    _assert_matches_reference(wu, ws, alpha, rows=np.array([0, 71]))


def test_positive_alpha_bound_is_active() -> None:
    wu, ws = _word_vectors(7, n_seen=40, n_unseen=5, dim=300, correlated=True)
    alpha = 0.02
    rel = solve_class_relation(wu, ws, alpha)
    _assert_feasible(rel, alpha)
    assert np.isclose(rel.min(), alpha, atol=1e-12)   # many classes sit at the floor


def test_negative_alpha_beats_convex_hull() -> None:
    wu, ws = _word_vectors(8, n_seen=40, n_unseen=5, dim=300, correlated=True)
    f0 = class_relation_objective(solve_class_relation(wu, ws, 0.0), wu, ws)
    rel_neg = solve_class_relation(wu, ws, -0.05)
    _assert_feasible(rel_neg, -0.05)
    assert rel_neg.min() < 0
    assert np.all(class_relation_objective(rel_neg, wu, ws) <= f0 + 1e-12)


def test_large_negative_alpha_converges() -> None:
    # alpha * S = -64.5: a huge feasible set with a whole face of zero-residual minimisers.
    wu, ws = _word_vectors(9, n_seen=645, n_unseen=8, dim=300, correlated=False)
    rel, info = solve_class_relation(wu, ws, -0.1, return_info=True)
    _assert_feasible(rel, -0.1)
    assert info.converged.all()


# --------------------------------------------------------------------------- exact recovery

def test_convex_combination_recovered_when_unique() -> None:
    # S <= D_w + 1 affinely independent points: the combination is unique.
    rng = np.random.default_rng(11)
    ws = rng.normal(size=(20, 50))
    r_true = np.zeros((3, 20))
    r_true[0, [1, 4, 7]] = [0.5, 0.3, 0.2]
    r_true[1, :] = 1.0 / 20
    r_true[2, 19] = 1.0
    wu = r_true @ ws
    rel, info = solve_class_relation(wu, ws, 0.0, normalize=False, return_info=True)
    assert np.all(info.objective < 1e-12)
    np.testing.assert_allclose(rel, r_true, atol=1e-6)


def test_convex_combination_zero_objective_when_not_unique() -> None:
    rng = np.random.default_rng(12)
    ws = rng.normal(size=(200, 30))
    r_true = rng.dirichlet(np.ones(200), size=4)
    rel, info = solve_class_relation(r_true @ ws, ws, 0.0, normalize=False, return_info=True)
    _assert_feasible(rel, 0.0)
    assert np.all(info.objective < 1e-9)


def test_unseen_equal_to_a_seen_class() -> None:
    wu, ws = _word_vectors(13, n_seen=30, n_unseen=1, dim=300, correlated=True)
    rel = solve_class_relation(ws[[4]], ws, 0.0)
    np.testing.assert_allclose(rel[0], np.eye(30)[4], atol=1e-8)


def test_duplicate_seen_vectors_match_reference() -> None:
    # Repeated seen vectors make every sub-problem containing both copies singular.
    wu, ws = _word_vectors(14, n_seen=30, n_unseen=6, dim=40, correlated=True)
    ws = np.concatenate([ws, ws[:10]])
    for alpha in (0.0, -0.02):
        _assert_matches_reference(wu, ws, alpha)


# --------------------------------------------------------------------------- alpha / input checks

def test_infeasible_alpha_raises() -> None:
    wu, ws = _word_vectors(0, n_seen=40, n_unseen=2, dim=10, correlated=False)
    with pytest.raises(ConfigError, match=r"alpha=0\.03.*40 seen classes.*alpha <= 0\.025"):
        solve_class_relation(wu, ws, alpha=0.03)
    for bad in (float("nan"), float("inf"), "x"):
        with pytest.raises(ConfigError, match="alpha"):
            solve_class_relation(wu, ws, alpha=bad)


def test_alpha_at_feasibility_limit_gives_uniform() -> None:
    wu, ws = _word_vectors(0, n_seen=40, n_unseen=2, dim=10, correlated=False)
    rel = solve_class_relation(wu, ws, alpha=1.0 / 40)
    np.testing.assert_allclose(rel, 1.0 / 40, atol=1e-15)


def test_single_seen_class() -> None:
    rel = solve_class_relation(np.ones((2, 3)), np.array([[1.0, 2.0, 3.0]]))
    np.testing.assert_allclose(rel, 1.0)


def test_bad_inputs_raise_data_errors() -> None:
    wu, ws = _word_vectors(0, n_seen=5, n_unseen=2, dim=10, correlated=False)
    with pytest.raises(ZSLDataError, match="dimension 10.*word_seen has 9"):
        solve_class_relation(wu, ws[:, :9])
    zero = ws.copy()
    zero[3] = 0
    with pytest.raises(ZSLDataError, match=r"word_seen.*all-zero.*\[3\]"):
        solve_class_relation(wu, zero)
    nan = wu.copy()
    nan[1, 2] = np.nan
    with pytest.raises(ZSLDataError, match="word_unseen.*finite.*row 1, column 2"):
        solve_class_relation(nan, ws)
    with pytest.raises(ConfigError, match="tol"):
        solve_class_relation(wu, ws, tol=-1.0)


def test_budget_exhaustion_warns_and_stays_feasible() -> None:
    wu, ws = _word_vectors(15, n_seen=150, n_unseen=10, dim=300, correlated=True)
    with pytest.warns(ClassRelationConvergenceWarning, match="did not reach duality gap"):
        rel, info = solve_class_relation(wu, ws, -0.01, max_iter=1, active_set_max_iter=1, return_info=True)
    _assert_feasible(rel, -0.01)
    assert not info.converged.all()


def test_one_dimensional_unseen_vector() -> None:
    wu, ws = _word_vectors(3, n_seen=15, n_unseen=1, dim=20, correlated=False)
    np.testing.assert_allclose(solve_class_relation(wu[0], ws), solve_class_relation(wu, ws), atol=1e-12)


def test_normalize_false_uses_raw_scale() -> None:
    wu, ws = _word_vectors(4, n_seen=12, n_unseen=3, dim=20, correlated=False)
    rel_raw, info = solve_class_relation(3.0 * wu, 3.0 * ws, normalize=False, return_info=True)
    rel_norm = solve_class_relation(wu, ws)
    np.testing.assert_allclose(rel_raw, rel_norm, atol=1e-7)   # same problem up to a factor 9
    assert info.tol_abs == pytest.approx(1e-10 * 9.0)


# --------------------------------------------------------------------------- gap / projection

def test_duality_gap_bounds_suboptimality() -> None:
    wu, ws = _word_vectors(21, n_seen=30, n_unseen=6, dim=40, correlated=True)
    rel = solve_class_relation(wu, ws, 0.0)
    f_star = class_relation_objective(rel, wu, ws)
    rng = np.random.default_rng(0)
    other = rng.dirichlet(np.ones(30), size=6)
    gap = duality_gap(other, wu, ws, 0.0)
    assert np.all(class_relation_objective(other, wu, ws) - f_star <= gap + 1e-12)
    assert np.all(duality_gap(rel, wu, ws, 0.0) <= 1e-9)


@pytest.mark.parametrize("lower", [0.0, 0.01, -0.3])
def test_projection_variational_inequality(lower: float) -> None:
    # p = proj_C(v)  <=>  <v - p, s - p> <= 0 for every s in C; the vertices-and-random
    # points below probe it, plus the closed form p = clip(v - tau).
    rng = np.random.default_rng(1)
    n = 25
    v = rng.normal(scale=2.0, size=(30, n))
    p = project_capped_simplex(v, lower)
    _assert_feasible(p, lower)
    probes = project_capped_simplex(rng.normal(scale=3.0, size=(200, n)), lower)
    for vi, pi in zip(v, p):
        assert np.max((probes - pi) @ (vi - pi)) <= 1e-10
        free = (pi > lower + 1e-12) & (pi < 1 - 1e-12)
        if free.any():
            shift = vi[free] - pi[free]
            assert np.ptp(shift) < 1e-10


def test_projection_rejects_empty_set() -> None:
    with pytest.raises(ConfigError, match="empty feasible set"):
        project_capped_simplex(np.zeros(4), lower=0.3)


# --------------------------------------------------------------------------- WAvg

def test_wavg_rows_sum_to_one_on_top_k() -> None:
    wu, ws = _word_vectors(31, n_seen=50, n_unseen=8, dim=30, correlated=True)
    k = 5
    rel = wavg_relation(wu, ws, k=k)
    np.testing.assert_allclose(rel.sum(axis=1), 1.0, atol=1e-12)
    sim = wu @ ws.T
    for row, s in zip(rel, sim):
        top = set(np.argsort(-s)[:k].tolist())
        assert set(np.flatnonzero(row).tolist()) <= top
        expected = np.zeros_like(s)
        idx = np.array(sorted(top))
        expected[idx] = np.maximum(s[idx], 0) / np.maximum(s[idx], 0).sum()
        np.testing.assert_allclose(row, expected, atol=1e-12)


def test_wavg_softmax_temperature_and_k_clipping() -> None:
    wu, ws = _word_vectors(32, n_seen=6, n_unseen=3, dim=10, correlated=False)
    rel = wavg_relation(wu, ws, k=3, temperature=0.1)
    np.testing.assert_allclose(rel.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(np.count_nonzero(rel, axis=1) == 3)
    sim = wu @ ws.T
    top = np.argsort(-sim[0])[:3]
    e = np.exp(sim[0, top] / 0.1)
    np.testing.assert_allclose(rel[0, top], e / e.sum(), atol=1e-12)
    assert np.all(np.count_nonzero(wavg_relation(wu, ws, k=100), axis=1) <= 6)


def test_wavg_all_negative_similarity_falls_back_to_uniform() -> None:
    ws = np.array([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]])
    rel = wavg_relation(np.array([[-1.0, -1.0]]), ws, k=2)
    np.testing.assert_allclose(rel.sum(), 1.0)
    np.testing.assert_allclose(np.sort(rel[0])[-2:], [0.5, 0.5])


def test_wavg_bad_parameters() -> None:
    wu, ws = _word_vectors(0, n_seen=5, n_unseen=2, dim=4, correlated=False)
    with pytest.raises(ConfigError, match="k: expected a positive integer, got 0"):
        wavg_relation(wu, ws, k=0)
    with pytest.raises(ConfigError, match="temperature"):
        wavg_relation(wu, ws, temperature=-1.0)


# --------------------------------------------------------------------------- embeddings / estimator

def test_predict_unseen_embeddings() -> None:
    rel = np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    phi = np.arange(12, dtype=np.float32).reshape(3, 4)
    out = predict_unseen_embeddings(rel, phi)
    assert out.shape == (2, 4) and out.dtype == np.float32
    np.testing.assert_allclose(out, [[2, 3, 4, 5], [8, 9, 10, 11]])
    with pytest.raises(ZSLDataError, match="3 seen columns.*2 rows"):
        predict_unseen_embeddings(rel, phi[:2])


@pytest.mark.parametrize("method", ["smo", "wavg"])
def test_class_relation_estimator(method: str) -> None:
    wu, ws = _word_vectors(41, n_seen=30, n_unseen=7, dim=50, correlated=True)
    phi_seen = np.random.default_rng(0).random((30, 16))
    cr = ClassRelation(method=method, alpha=0.0, k=4)
    with pytest.raises(ConfigError, match="not fitted"):
        cr.transform(phi_seen)
    out = cr.fit(ws, wu).transform(phi_seen)
    assert cr.relation_.shape == (7, 30)
    assert out.shape == (7, 16)
    np.testing.assert_allclose(out, cr.relation_ @ phi_seen)
    if method == "smo":
        np.testing.assert_allclose(cr.relation_, solve_class_relation(wu, ws), atol=1e-12)
        assert cr.info_ is not None and cr.info_.converged.all()
    else:
        np.testing.assert_allclose(cr.relation_, wavg_relation(wu, ws, k=4))
    np.testing.assert_allclose(ClassRelation(method=method, k=4).fit_transform(ws, wu, phi_seen), out)


def test_class_relation_unknown_method() -> None:
    with pytest.raises(ConfigError, match="method: expected 'smo' or 'wavg', got 'qp'"):
        ClassRelation(method="qp")  # type: ignore[arg-type]
