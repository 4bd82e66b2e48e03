"""The fast chi-squared distances and Nystroem map (zslkit.features.chi2) against scikit-learn:
``additive_chi2_kernel`` (distance = its negative), ``chi2_kernel`` and ``Nystroem(kernel="chi2")``,
on the numba path and on the library fallback."""

import numpy as np
import pytest
from sklearn.kernel_approximation import Nystroem
from sklearn.metrics.pairwise import additive_chi2_kernel, chi2_kernel

from zslkit.features import chi2 as chi2_mod
from zslkit.features.chi2 import ExpChi2Nystroem, chi2_distances, exp_chi2_kernel, have_numba

PATHS = [pytest.param(True, id="numba"), pytest.param(False, id="sklearn")]


def hist(rng, n, d, zeros=0.4):
    x = rng.random((n, d))
    x[rng.random((n, d)) < zeros] = 0.0  # empty bins, and bins empty in both rows of a pair
    x[:, 0] += 0.05
    return (x / x.sum(1, keepdims=True)).astype(np.float32)


def test_numba_is_installed_for_the_tests():
    """CI installs the ``fast`` extra (in ``test``): the numba path below must really run."""
    assert have_numba()


@pytest.mark.parametrize("use_numba", PATHS)
def test_distances_equal_sklearn(rng, use_numba):
    X, Y = hist(rng, 37, 203), hist(rng, 19, 203)
    Y[3] = X[5]  # identical rows: distance 0
    want = -additive_chi2_kernel(X.astype(np.float64), Y.astype(np.float64))
    got = chi2_distances(X, Y, threads=2, use_numba=use_numba)
    assert got.shape == (37, 19) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    assert abs(got[5, 3]) < 1e-7


def test_distances_by_hand_with_empty_bins():
    """sum_j (x_j - y_j)^2 / (x_j + y_j), a bin empty in both rows contributing 0."""
    x = np.array([[0.5, 0.5, 0.0, 0.0]])
    y = np.array([[0.25, 0.0, 0.75, 0.0]])
    want = 0.25**2 / 0.75 + 0.5 + 0.75
    np.testing.assert_allclose(chi2_distances(x, y, use_numba=True), [[want]], rtol=1e-6)
    np.testing.assert_allclose(chi2_distances(x, y, use_numba=False), [[want]], rtol=1e-6)


@pytest.mark.parametrize("use_numba", PATHS)
def test_kernel_equals_sklearn_chi2_kernel(rng, use_numba):
    X, Y = hist(rng, 25, 64), hist(rng, 30, 64)
    for gamma in (0.3, 2.0):
        np.testing.assert_allclose(exp_chi2_kernel(X, Y, gamma, use_numba=use_numba),
                                   chi2_kernel(X.astype(np.float64), Y.astype(np.float64), gamma=gamma),
                                   rtol=1e-5, atol=1e-7)


def test_threads_do_not_change_the_result(rng):
    X, Y = hist(rng, 50, 300), hist(rng, 40, 300)
    np.testing.assert_array_equal(chi2_distances(X, Y, threads=1), chi2_distances(X, Y, threads=2))


def test_threads_default_follows_omp_num_threads(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert chi2_mod._threads(None) == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "junk")
    assert chi2_mod._threads(None) == 1
    assert chi2_mod._threads(0) == 1


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match=r"\(n, d\) and \(m, d\)"):
        chi2_distances(np.ones((2, 3)), np.ones((2, 4)))


@pytest.mark.parametrize("use_numba", PATHS)
def test_nystroem_equals_sklearn(rng, use_numba):
    """Same landmarks for the same random_state; the approximate kernel phi(x) . phi(y) agrees with
    scikit-learn's (individual coordinates may rotate where k(L, L) has tiny singular values)."""
    X, Z = hist(rng, 120, 50), hist(rng, 40, 50)
    ours = ExpChi2Nystroem(gamma=1.5, n_components=60, random_state=7, use_numba=use_numba).fit(X)
    ref = Nystroem(kernel="chi2", gamma=1.5, n_components=60, random_state=7).fit(X.astype(np.float64))
    np.testing.assert_array_equal(ours.component_indices_, ref.component_indices_)
    a, b = ours.transform(Z), ref.transform(Z.astype(np.float64))
    assert a.shape == (40, 60) and a.dtype == np.float32
    np.testing.assert_allclose(a @ a.T, b @ b.T, rtol=1e-3, atol=1e-4)
    # on the landmarks the map is exact: phi(l) . phi(l') = k(l, l')
    L = X[ours.component_indices_]
    pl = ours.transform(L)
    np.testing.assert_allclose(pl @ pl.T, chi2_kernel(L.astype(np.float64), gamma=1.5), atol=2e-3)


def test_nystroem_with_fewer_rows_than_components(rng):
    X = hist(rng, 10, 20)
    t = ExpChi2Nystroem(gamma=1.0, n_components=50, random_state=0).fit(X)
    assert t.transform(X).shape == (10, 10)
