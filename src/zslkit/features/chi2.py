"""Chi-squared distances and the exponentiated chi-squared Nystroem map, fast.

For non-negative histograms x, y of width d the chi-squared distance is

    chi2(x, y) = sum_j (x_j - y_j)^2 / (x_j + y_j)        (a term with x_j + y_j = 0 is 0)

and the exponentiated chi-squared kernel k(x, y) = exp(-gamma * chi2(x, y)) (scikit-learn's
``chi2_kernel``). Its Nystroem map (scikit-learn's ``Nystroem(kernel="chi2")``) draws m landmark
rows L of the training features, and maps x to

    phi(x) = k(x, L) @ N^T,   N = U diag(1/sqrt(s)) V  from the SVD  k(L, L) = U diag(s) V   (s >= 1e-12)

so phi(x) . phi(y) = k(x, L) k(L, L)^+ k(L, y): exact when x and y are landmarks.

Why not the library: scikit-learn computes these distances one pair and one element at a time, and
AwA1's map (30,475 images x 1000 landmarks x 8,000 histogram bins) is about 2.4e11 of them.
:func:`chi2_distances` computes the same sum with numba, vectorised and over ``threads`` threads, when
numba is installed (the ``fast`` extra; ``benchmarks/bench_chi2_map.py`` measures the ratio on real
histograms); without numba it calls scikit-learn.
``tests/features/test_chi2.py`` checks both paths against scikit-learn's ``additive_chi2_kernel``,
``chi2_kernel`` and ``Nystroem``.

Shapes: X (n, d) and Y (m, d) non-negative, any real dtype (computed in float32, as scikit-learn does
for float32 input); distances and kernels (n, m); the map's output (n, m_landmarks) float32.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state

__all__ = ["ExpChi2Nystroem", "chi2_distances", "exp_chi2_kernel", "have_numba"]

_kernel = None  # the compiled numba kernel, built on first use


def have_numba() -> bool:
    """Whether the numba path is available (``pip install zslkit[fast]``)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def _numba_kernel():
    global _kernel
    if _kernel is None:
        import numba

        # fastmath lets LLVM vectorise the division and the sum (several partial sums: the float32 total
        # differs from a sequential sum by rounding only, ~1e-7 relative); the tiny constant keeps 0/0
        # out (inputs are non-negative, so x + y = 0 only when both are 0, whose term is 0 either way)
        @numba.njit(parallel=True, fastmath=True, cache=True)
        def _chi2(X, Y, out):  # pragma: no cover - compiled (its results are checked in the tests)
            n, d = X.shape
            m = Y.shape[0]
            tiny = np.float32(1e-30)
            for i in numba.prange(n):
                x = X[i]
                for j in range(m):
                    y = Y[j]
                    s = np.float32(0.0)
                    for k in range(d):
                        diff = x[k] - y[k]
                        s += diff * diff / (x[k] + y[k] + tiny)
                    out[i, j] = s

        _kernel = _chi2
    return _kernel


def _threads(threads: int | None) -> int:
    """None: the process's thread setting (``OMP_NUM_THREADS``, which :func:`zslkit.utils.threads.configure_threads`
    exports), else 1."""
    if threads is None:
        try:
            threads = int(os.environ.get("OMP_NUM_THREADS", "1"))
        except ValueError:
            threads = 1
    return max(1, int(threads))


def chi2_distances(X: Any, Y: Any, threads: int | None = None, use_numba: bool | None = None) -> np.ndarray:
    """(n, d), (m, d) non-negative -> (n, m) float32 chi-squared distances (module docstring).

    ``threads``: numba threads (None: ``OMP_NUM_THREADS``, else 1); ``use_numba``: None = when installed,
    False = scikit-learn's ``additive_chi2_kernel`` (its negative is this distance).
    """
    X = np.ascontiguousarray(X, dtype=np.float32)
    Y = np.ascontiguousarray(Y, dtype=np.float32)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[1] != Y.shape[1]:
        raise ValueError(f"chi2_distances needs (n, d) and (m, d) arrays, got {X.shape} and {Y.shape}")
    if use_numba is None:
        use_numba = have_numba()
    if not use_numba:
        from sklearn.metrics.pairwise import additive_chi2_kernel

        return (-additive_chi2_kernel(X, Y)).astype(np.float32, copy=False)
    import numba

    out = np.empty((X.shape[0], Y.shape[0]), dtype=np.float32)
    if out.size == 0:
        return out
    before = numba.get_num_threads()
    numba.set_num_threads(min(_threads(threads), numba.config.NUMBA_NUM_THREADS))
    try:
        _numba_kernel()(X, Y, out)
    finally:
        numba.set_num_threads(before)
    return out


def exp_chi2_kernel(X: Any, Y: Any, gamma: float = 1.0, threads: int | None = None,
                    use_numba: bool | None = None) -> np.ndarray:
    """exp(-gamma * chi2(x, y)) for every row pair: (n, m) float32 (scikit-learn's ``chi2_kernel``)."""
    d = chi2_distances(X, Y, threads=threads, use_numba=use_numba)
    d *= -np.float32(gamma)
    return np.exp(d, out=d)


class ExpChi2Nystroem(TransformerMixin, BaseEstimator):
    """Nystroem map of the exponentiated chi-squared kernel (module docstring): the same landmarks,
    normalisation and output as ``sklearn.kernel_approximation.Nystroem(kernel="chi2", gamma=gamma,
    n_components=n_components, random_state=random_state)``, with the fast distances.

    Attributes after ``fit``: ``components_`` (m, d) landmark rows, ``component_indices_`` (m,),
    ``normalization_`` (m, m) float64.
    """

    def __init__(self, gamma: float = 1.0, n_components: int = 100, random_state: Any = None,
                 threads: int | None = None, use_numba: bool | None = None):
        self.gamma = gamma
        self.n_components = n_components
        self.random_state = random_state
        self.threads = threads
        self.use_numba = use_numba

    def fit(self, X: Any, y: Any = None) -> "ExpChi2Nystroem":
        """Landmarks: the first ``n_components`` rows of a random permutation of X's (n, d) rows (as
        scikit-learn draws them for the same ``random_state``); normalisation from their kernel matrix."""
        X = np.asarray(X, dtype=np.float32)
        n = X.shape[0]
        k = min(int(self.n_components), n)
        inds = check_random_state(self.random_state).permutation(n)[:k]
        basis = X[inds]
        kb = exp_chi2_kernel(basis, basis, self.gamma, self.threads, self.use_numba).astype(np.float64)
        u, s, v = np.linalg.svd(kb)
        s = np.clip(s, 1e-12, None)
        self.normalization_ = (u / np.sqrt(s)) @ v
        self.components_ = basis
        self.component_indices_ = inds
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: Any) -> np.ndarray:
        """(n, d) -> (n, m) float32: phi(x) = k(x, landmarks) @ normalization_^T."""
        k = exp_chi2_kernel(X, self.components_, self.gamma, self.threads, self.use_numba)
        return (k @ self.normalization_.T.astype(np.float32)).astype(np.float32, copy=False)
