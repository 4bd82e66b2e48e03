"""SAE: Semantic Autoencoder for zero-shot learning (Kodirov, Xiang & Gong, CVPR 2017).

A linear autoencoder whose code is forced to be the class semantic vector. Row-sample
convention: X (N x D) features, Y = S[y] (N x K) the semantic vector of each image's class
(one row per image), W (K x D). The encoder maps features to semantics (``Y_hat = X W^T``),
the decoder maps semantics back to features (``X_hat = Y W``, tied weights). SAE minimises

    ||X - Y W||_F^2 + lam * ||X W^T - Y||_F^2.

Setting the gradient with respect to W to zero gives the paper's Sylvester equation, here in
row-sample form (the paper writes it with samples as columns: S S^T W + lam W X X^T = (1+lam) S X^T)

    (Y^T Y) W + lam * W (X^T X) = (1 + lam) * Y^T X,        shapes (K x K)(K x D) + (K x D)(D x D) = (K x D),

solved in closed form with :func:`scipy.linalg.solve_sylvester` (``A W + W B = Q`` with
``A = Y^T Y``, ``B = lam X^T X``, ``Q = (1 + lam) Y^T X``). ``Y^T Y = sum_c n_c s_c s_c^T`` and
``Y^T X = sum_c s_c (sum_{n in c} x_n)^T`` are accumulated per class, never forming Y.

Scoring, ``direction`` hyperparameter (both use the same W):

* ``"semantic->visual"`` (default): decode each class, ``x_hat_c = s_c W`` (1 x D), and score an
  image by cosine similarity to it (or negative Euclidean distance, ``metric="euclidean"``).
  The authors' code evaluates both directions; this one does much better on AWA2 (public
  reproductions: T1 about 60 vs 54.1 in Xian et al.'s table, see ``docs/METHODS.md``), in line with the
  known argument that comparing in the (higher-dimensional) feature space reduces hubness.
* ``"visual->semantic"``: encode each image, ``s_hat = x W^T`` (1 x K), and score by cosine to
  each class's semantic vector.

Both directions are in the default ``param_grid``, so validation picks one per dataset.

Scoring W (``normalize_w``): by default each row of W (one row per semantic dimension, 1 x D) is
L2-normalised before scoring, in both directions, as the authors' MATLAB demo does
(``NormalizeFea`` on W) and the standard numpy reproduction of Xian et al.'s table does after it:
the encoder is then ``s_hat = x Wn^T`` and the decoder ``x_hat_c = s_c Wn``. The row norms of the
raw W vary by more than an order of magnitude across attributes (attributes with little support
get small rows), so without this a few attributes dominate the scores. ``normalize_w=False``
scores with the raw W (the earlier zslkit behaviour; measured in ``docs/PARITY.md``).

Normalisation, as in the authors' demo code (``NormalizeFea``): each feature vector is L2
normalised (``normalize_features="l2"``). *Choice*: class semantic vectors are L2 normalised
per class too (``normalize_semantic="l2"``); xlsa17's ``att`` already is, and it makes word
vectors of different norms comparable. Both can be switched off ("none").

``lam`` scales with the data: with L2-normalised features and semantics, ``trace(X^T X) =
trace(Y^T Y) = N``, so the grid 10^-3 .. 10^6 covers "mostly decoder" to "mostly encoder".

Solvers (``solver`` hyperparameter; same W up to rounding, ~1e-12 relative):

* ``"sylvester"``: :func:`scipy.linalg.solve_sylvester` (Bartels-Stewart on Schur forms,
  as the authors' MATLAB ``sylvester``).
* ``"eigh"`` (default): both coefficient matrices are symmetric PSD, so with ``Y^T Y = U diag(a) U^T`` and
  ``X^T X = V diag(b) V^T`` the solution is ``W = U [(U^T Q V)_{ij} / (a_i + lam b_j)] V^T``.
  ``eigh`` of the D x D Gram matrix is much cheaper than a general Schur decomposition (measured
  on D = 2048: 3.5 s vs 16 s on one core).

:meth:`SAE.fit_grid` always uses the ``"eigh"`` route with the two eigendecompositions computed
once and shared by every lam of the grid; the direction costs nothing (same W).
"""

from __future__ import annotations

from typing import Any, ClassVar, Iterator

import numpy as np
from scipy import sparse
from scipy.linalg import solve_sylvester

from zslkit.errors import ConfigError
from zslkit.models.base import ZSLModel, check_fit_inputs

DIRECTIONS = ("semantic->visual", "visual->semantic")
METRICS = ("cosine", "euclidean")
NORMS = ("l2", "none")
SOLVERS = ("sylvester", "eigh")


def _l2(A: np.ndarray) -> np.ndarray:
    return A / np.linalg.norm(A, axis=1, keepdims=True).clip(1e-12)


def _cosine(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """(N x M) cosine similarities between the rows of A (N x d) and B (M x d)."""
    return _l2(A) @ _l2(B).T


class SAE(ZSLModel):
    """Semantic autoencoder (see module docstring for the formula and shapes).

    Args:
        lam: weight of the encoder term ``||X W^T - Y||^2`` (the paper's lambda), > 0.
        direction: "semantic->visual" (default, better on AWA2) or "visual->semantic";
            which space images and classes are compared in.
        metric: "cosine" (default, as the public code) or "euclidean" (negative distance).
        normalize_features: "l2" (per image; the public code) or "none".
        normalize_semantic: "l2" (per class) or "none".
        solver: "eigh" (default: two eigendecompositions, ~3x faster at D = 2048) or "sylvester"
                (scipy.linalg.solve_sylvester, the library reference; the tests pin "eigh" to it).
        normalize_w: L2-normalise each row of W before scoring (default True, as the authors'
            demo and the reproduction), or score with the raw W (False).

    Attributes after fit:
        W_: (K x D) float32 encoder (its transpose is the decoder).
    """

    param_grid: ClassVar[dict[str, list]] = {
        "lam": [10.0 ** k for k in range(-3, 7)],
        "direction": list(DIRECTIONS),
    }

    def __init__(self, lam: float = 0.2, direction: str = "semantic->visual", metric: str = "cosine",
                 normalize_features: str = "l2", normalize_semantic: str = "l2", solver: str = "eigh",
                 normalize_w: bool = True):
        self.lam = lam
        self.direction = direction
        self.metric = metric
        self.normalize_features = normalize_features
        self.normalize_semantic = normalize_semantic
        self.solver = solver
        self.normalize_w = normalize_w

    # ----------------------------------------------------------------- helpers
    def _validate(self, p: dict[str, Any] | None = None) -> None:
        p = self.get_params() if p is None else p
        try:
            lam = float(p["lam"])
        except (TypeError, ValueError):
            raise ConfigError(f"SAE lam must be a positive number, got {p['lam']!r}") from None
        if not (np.isfinite(lam) and lam > 0):
            raise ConfigError(f"SAE lam must be a positive finite number, got {p['lam']!r}")
        for name, allowed in (("direction", DIRECTIONS), ("metric", METRICS), ("normalize_features", NORMS),
                              ("normalize_semantic", NORMS), ("solver", SOLVERS)):
            if p[name] not in allowed:
                raise ConfigError(f"SAE {name} must be one of {allowed}, got {p[name]!r}")
        if not isinstance(p["normalize_w"], (bool, np.bool_)):
            raise ConfigError(f"SAE normalize_w must be true or false, got {p['normalize_w']!r}")

    def _prep_x(self, X: np.ndarray, dtype=np.float32) -> np.ndarray:
        X = np.asarray(X, dtype=dtype)
        return _l2(X) if self.normalize_features == "l2" else X

    def _prep_s(self, S: np.ndarray, dtype=np.float32) -> np.ndarray:
        S = np.asarray(S, dtype=dtype)
        return _l2(S) if self.normalize_semantic == "l2" else S

    def _stats(self, X: np.ndarray, y: np.ndarray, S: np.ndarray, chunk: int = 4096
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(Y^T Y, X^T X, Y^T X)`` in float64 (K x K, D x D, K x D), from per-class sums.

        Accumulated over row chunks so that only one float64 chunk of the (normalised) features
        exists at a time: a float64 copy of all of X (AWA2 trainval: 385 MB, twice with the
        normalisation) is never made, while the sums keep double precision.
        """
        Sd = self._prep_s(S, np.float64)
        classes, inv, counts = np.unique(y, return_inverse=True, return_counts=True)
        Sc = Sd[classes]  # (Cs x K)
        d = X.shape[1]
        sums = np.zeros((classes.size, d))  # per-class feature sums (Cs x D)
        XtX = np.zeros((d, d))
        for s in range(0, X.shape[0], chunk):
            xc = self._prep_x(X[s:s + chunk], np.float64)
            m = xc.shape[0]
            onehot = sparse.csr_matrix((np.ones(m), (inv[s:s + chunk], np.arange(m))), shape=(classes.size, m))
            sums += onehot @ xc  # np.add.at is far slower
            XtX += xc.T @ xc  # the expensive part: N x D^2
        YtY = Sc.T @ (counts[:, None] * Sc)
        YtX = Sc.T @ sums
        return YtY, XtX, YtX

    # ----------------------------------------------------------------- estimator API
    def fit(self, X: np.ndarray, y: np.ndarray, S: np.ndarray) -> "SAE":
        """Solve ``(Y^T Y) W + lam W (X^T X) = (1 + lam) Y^T X`` for W (K x D)."""
        self._validate()
        X, y, S = check_fit_inputs(X, y, S)
        YtY, XtX, YtX = self._stats(X, y, S)
        lam = float(self.lam)
        if self.solver == "sylvester":
            W = solve_sylvester(YtY, lam * XtX, (1.0 + lam) * YtX)
        else:
            W = self._solve_eigh(self._eig(YtY, XtX, YtX), lam)
        self.W_ = W.astype(np.float32)
        return self

    @staticmethod
    def _eig(YtY: np.ndarray, XtX: np.ndarray, YtX: np.ndarray) -> tuple:
        a, U = np.linalg.eigh(YtY)
        b, V = np.linalg.eigh(XtX)
        return a, U, b, V, U.T @ YtX @ V

    @staticmethod
    def _solve_eigh(eig: tuple, lam: float) -> np.ndarray:
        """W = U [(1 + lam) (U^T Y^T X V)_ij / (a_i + lam b_j)] V^T (see module docstring)."""
        a, U, b, V, Qt = eig
        denom = a[:, None] + lam * b[None, :]
        # Both matrices are PSD, so denom >= 0; a zero denominator (a null direction shared by
        # Y^T Y and X^T X) also has a zero numerator: take the minimum-norm solution there.
        tiny = np.finfo(np.float64).eps * max(float(np.abs(denom).max()), 1.0)
        coef = np.where(denom > tiny, (1.0 + lam) * Qt / np.where(denom > tiny, denom, 1.0), 0.0)
        return U @ coef @ V.T

    def fit_grid(self, X: np.ndarray, y: np.ndarray, S: np.ndarray, grid: list[dict[str, Any]]
                 ) -> Iterator[tuple[dict[str, Any], "SAE"]]:
        """All grid points from one pair of eigendecompositions (see module docstring)."""
        points = [{**self.get_params(), **params} for params in grid]
        for p in points:
            self._validate(p)
        X, y, S = check_fit_inputs(X, y, S)
        # Normalisation options change the statistics; group points by them (usually one group).
        cache: dict[tuple[str, str], tuple] = {}
        for params, p in zip(grid, points):
            key = (p["normalize_features"], p["normalize_semantic"])
            m = SAE(**p)
            if key not in cache:
                cache[key] = m._eig(*m._stats(X, y, S))
            m.W_ = m._solve_eigh(cache[key], float(p["lam"])).astype(np.float32)
            yield params, m

    def scores(self, X: np.ndarray, S: np.ndarray) -> np.ndarray:
        """(N x C') scores of images X (N x D) against classes S (C' x K); higher is better."""
        self._check_fitted("W_")
        self._validate()
        Xp = self._prep_x(X)
        Sp = self._prep_s(S)
        W = _l2(self.W_) if self.normalize_w else self.W_
        if self.direction == "semantic->visual":
            A, B = Xp, Sp @ W  # images vs decoded classes, both in feature space (D)
        else:
            A, B = Xp @ W.T, Sp  # encoded images vs classes, both in semantic space (K)
        if self.metric == "cosine":
            return _cosine(A, B)
        # negative Euclidean distance via ||a||^2 - 2 a.b + ||b||^2 (clipped: rounding can go < 0)
        d2 = (A * A).sum(1)[:, None] - 2.0 * A @ B.T + (B * B).sum(1)[None, :]
        return -np.sqrt(np.clip(d2, 0.0, None))
