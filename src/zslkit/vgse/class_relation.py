"""VGSE Class Relation module: semantic embeddings of unseen classes from seen ones.

VGSE (Xu et al., CVPR 2022, Sec. "Class relation module") learns embeddings only for the
seen classes (from their images) and transfers them to each unseen class ``y_m`` through
a similarity vector ``r`` over the seen classes, fitted on word vectors::

    r_m = argmin_r || w_m - r^T W_s ||_2^2   s.t.  alpha <= r_i <= 1,  sum_i r_i = 1      (SMO)
    phi(y_m) = r_m^T Phi_s

with ``W_s`` (S x D_w) the seen word vectors, ``w_m`` (D_w,) the unseen one and ``Phi_s``
(S x D_v) the seen-class embeddings. The paper writes the bounds as strict
(``alpha < r < 1``); a minimum over an open set need not exist, so the closed bounds
``alpha <= r_i <= 1`` are used here (the usual reading of such a constraint). The authors
release the result as ``VGSE_SMO.mat``; their public repository ships no code for this
step and no value of ``alpha`` (it holds only an SJE evaluation script), so the default
``alpha = 0`` (r is a convex combination) is a *choice* of this package.

Word-vector normalisation (*choice*): the paper does not say. By default each word vector
is L2-normalised before fitting (``normalize=True``), so the fit compares directions, as
the cosine similarity of the WAvg baseline does, and classes whose names have many words
(averaged vectors are shorter) are not penalised; xlsa17's own class-embedding matrices
are L2-normalised per class too. Pass ``normalize=False`` to fit raw vectors.

The solver (:func:`solve_class_relation`) treats all unseen classes at once:

1. Centring. Because ``sum_i r_i = 1``, ``w - r^T W = (w - mu) - r^T (W - 1 mu^T)`` for
   any ``mu``; subtracting the seen mean removes the large common component that real word
   vectors share, which otherwise dominates the Lipschitz constant (15-30x smaller on the
   word-vector-like synthetic problems of the benchmark).
2. Batched FISTA (accelerated projected gradient with gradient-based adaptive restart)
   with an exact projection onto ``C = {alpha <= r <= 1, 1^T r = 1}``
   (:func:`project_capped_simplex`), run until the duality gap is moderate.
3. Per-row primal active-set refinement (Nocedal & Wright, Alg. 16.3) warm-started from
   the FISTA iterate: it solves the equality-constrained least-squares problem on the free
   coordinates exactly, so it reaches the optimum to rounding error in a handful of steps.
4. Certificate: the Frank-Wolfe duality gap
   ``gap(r) = max_{s in C} grad f(r)^T (r - s) >= f(r) - f*`` is computed for every row;
   rows whose gap exceeds the tolerance go back to FISTA (with a tighter switch-over).

The returned ``R`` therefore has ``f(r_m) - f* <= tol * scale`` for every converged row,
where ``scale = max(1, max_m ||w_m||^2)`` (1 for normalised vectors).
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass, field
from typing import Iterator, Literal

import numpy as np

from zslkit.errors import ConfigError, ZSLDataError

__all__ = [
    "ClassRelation",
    "ClassRelationInfo",
    "ClassRelationConvergenceWarning",
    "class_relation_objective",
    "duality_gap",
    "predict_unseen_embeddings",
    "project_capped_simplex",
    "solve_class_relation",
    "wavg_relation",
]

_UPPER = 1.0
# alpha * S within this of 1 is treated as the degenerate single-point feasible set.
_FEAS_EPS = 1e-12
_SWITCH_GAP = 1e-3


class ClassRelationConvergenceWarning(UserWarning):
    """The SMO solver stopped (max_iter) before certifying the requested duality gap."""


@dataclass
class ClassRelationInfo:
    """Diagnostics of :func:`solve_class_relation` (one entry per unseen class).

    Attributes:
        objective: (U,) ``||w_m - r_m^T W_s||^2`` at the returned ``r_m`` (on the
            normalised vectors when ``normalize=True``).
        gap: (U,) Frank-Wolfe duality gap, an upper bound on ``objective - optimum``.
        converged: (U,) ``gap <= tol * scale``.
        fista_iterations: total batched FISTA iterations run.
        active_set_iterations: (U,) active-set steps (equality-constrained solves) per row.
        tol_abs: the absolute gap tolerance used (``tol * scale``).
    """

    objective: np.ndarray
    gap: np.ndarray
    converged: np.ndarray
    fista_iterations: int = 0
    active_set_iterations: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    tol_abs: float = 0.0


# --------------------------------------------------------------------------- validation

def _as_matrix(x: object, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ZSLDataError(f"{name}: expected a non-empty 2-D array (classes x dims), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ZSLDataError(f"{name}: expected finite values, found {arr[tuple(bad)]} at row {bad[0]}, column {bad[1]}")
    return arr


def _l2_normalize(x: np.ndarray, name: str) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    zero = np.flatnonzero(norms[:, 0] == 0)
    if zero.size:
        raise ZSLDataError(f"{name}: cannot L2-normalise all-zero word vector(s) at row(s) {zero[:10].tolist()}; "
                           "expected non-zero vectors (or pass normalize=False)")
    return x / norms


def _check_word_pair(word_unseen: object, word_seen: object, normalize: bool) -> tuple[np.ndarray, np.ndarray]:
    wu = _as_matrix(word_unseen, "word_unseen")
    ws = _as_matrix(word_seen, "word_seen")
    if wu.shape[1] != ws.shape[1]:
        raise ZSLDataError(f"word_unseen has dimension {wu.shape[1]} but word_seen has {ws.shape[1]}; "
                           "expected the same word-vector dimension D_w")
    if normalize:
        wu, ws = _l2_normalize(wu, "word_unseen"), _l2_normalize(ws, "word_seen")
    return wu, ws


def _check_alpha(alpha: float, n_seen: int) -> float:
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise ConfigError(f"alpha: expected a real number, got {alpha!r}") from None
    if not np.isfinite(a):
        raise ConfigError(f"alpha: expected a finite lower bound, got {alpha!r}")
    if a * n_seen > 1.0 + _FEAS_EPS:
        raise ConfigError(f"alpha={a!r} is infeasible with {n_seen} seen classes: the constraints "
                          f"alpha <= r_i <= 1 and sum(r) = 1 need alpha * n_seen <= 1, "
                          f"i.e. alpha <= {1.0 / n_seen!r}")
    return a


def _check_positive(value: float, name: str, integer: bool = False) -> None:
    ok = isinstance(value, (int, np.integer)) if integer else isinstance(value, (int, float, np.number))
    if not ok or isinstance(value, bool) or not np.isfinite(value) or value <= 0:
        kind = "a positive integer" if integer else "a positive number"
        raise ConfigError(f"{name}: expected {kind}, got {value!r}")


@contextlib.contextmanager
def _blas_threads(n: int | None) -> Iterator[None]:
    # The solver does many small matrix products; on a busy 2-core machine multi-threaded
    # BLAS thrashes and is several times slower than one thread, so limit it when asked.
    if n is None:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # threadpoolctl ships with scikit-learn, but do not require it
        yield
        return
    with threadpool_limits(limits=n, user_api="blas"):
        yield


# --------------------------------------------------------------------------- projection

def project_capped_simplex(v: np.ndarray, lower: float, upper: float = 1.0, max_iter: int = 200) -> np.ndarray:
    """Euclidean projection of each row of ``v`` onto ``{lower <= r <= upper, sum r = 1}``.

    The projection is ``r = clip(v - tau, lower, upper)`` with the scalar ``tau`` that makes
    ``g(tau) = sum clip(v - tau, lower, upper) - 1`` vanish. ``g`` is piecewise linear and
    non-increasing, so a bracketed Newton iteration (bisection when Newton leaves the
    bracket) finds the root; once it is on the right linear piece the Newton step is exact.

    Args:
        v: (U, S) or (S,) points to project.
        lower, upper: bounds, with ``S * lower <= 1 <= S * upper``.
    Returns:
        Array of the same shape as ``v``; each row sums to 1 up to rounding.
    """
    arr = np.asarray(v, dtype=np.float64)
    if arr.ndim not in (1, 2):
        raise ZSLDataError(f"v: expected a 1-D or 2-D array, got shape {arr.shape}")
    rows = arr[None, :] if arr.ndim == 1 else arr
    n = rows.shape[1]
    if not (n * lower <= 1.0 + _FEAS_EPS and n * upper >= 1.0 - _FEAS_EPS and lower <= upper):
        raise ConfigError(f"bounds lower={lower!r}, upper={upper!r}: empty feasible set for {n} coordinates; "
                          "expected n*lower <= 1 <= n*upper")
    out, _ = _project_rows(rows, lower, upper, None, max_iter)
    return out[0] if arr.ndim == 1 else out


def _project_rows(v: np.ndarray, lo: float, hi: float, tau0: np.ndarray | None,
                  max_iter: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise projection; ``tau0`` warm-starts the threshold (FISTA moves it little)."""
    n = v.shape[1]
    t_lo = v.min(axis=1) - hi          # g(t_lo) = n*hi - 1 >= 0
    t_hi = v.max(axis=1) - lo          # g(t_hi) = n*lo - 1 <= 0
    tau = 0.5 * (t_lo + t_hi) if tau0 is None else np.clip(tau0, t_lo, t_hi)
    thresh = 1e-14 * max(n, 1)
    for _ in range(max_iter):
        x = v - tau[:, None]
        g = np.clip(x, lo, hi).sum(axis=1) - 1.0
        done = np.abs(g) <= thresh
        if done.all():
            break
        n_free = np.count_nonzero((x > lo) & (x < hi), axis=1)
        pos = g > 0
        t_lo = np.where(pos, tau, t_lo)
        t_hi = np.where(pos, t_hi, tau)
        newton = tau + g / np.maximum(n_free, 1)
        use_newton = (n_free > 0) & (newton > t_lo) & (newton < t_hi)
        tau = np.where(done, tau, np.where(use_newton, newton, 0.5 * (t_lo + t_hi)))
    # One last Newton step from the final point: exact on its linear piece, it removes the
    # residual the stopping threshold allowed (sum(r) = 1 to rounding, not to 1e-14 * n).
    x = v - tau[:, None]
    n_free = np.count_nonzero((x > lo) & (x < hi), axis=1)
    g = np.clip(x, lo, hi).sum(axis=1) - 1.0
    tau = tau + np.where(n_free > 0, g / np.maximum(n_free, 1), 0.0)
    return np.clip(v - tau[:, None], lo, hi), tau


# --------------------------------------------------------------------------- objective and gap

def class_relation_objective(relation: np.ndarray, word_unseen: np.ndarray, word_seen: np.ndarray,
                             normalize: bool = True) -> np.ndarray:
    """Per-row SMO objective ``f(r_m) = ||w_m - r_m^T W_s||_2^2``.

    Args:
        relation: (U, S) relation matrix R.
        word_unseen: (U, D_w); word_seen: (S, D_w).
        normalize: L2-normalise word vectors first (as :func:`solve_class_relation` does).
    Returns:
        (U,) objective values. Computed from the residual, not the expanded quadratic, so it
        stays accurate when the optimum is ~0.
    """
    wu, ws = _check_word_pair(word_unseen, word_seen, normalize)
    r = _as_matrix(relation, "relation")
    if r.shape != (wu.shape[0], ws.shape[0]):
        raise ZSLDataError(f"relation: expected shape {(wu.shape[0], ws.shape[0])} (unseen x seen), got {r.shape}")
    return np.sum((wu - r @ ws) ** 2, axis=1)


def _lmo_value(grad: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``min_{s in C} <grad_m, s>`` per row: put every coordinate at ``lo`` and pour the
    remaining mass ``1 - S*lo`` into the coordinates with the smallest gradient."""
    n = grad.shape[1]
    mass = 1.0 - n * lo
    cap = hi - lo
    n_full = int(np.floor(mass / cap + 1e-12)) if cap > 0 else 0
    base = lo * grad.sum(axis=1)
    if mass <= cap:  # always the case for alpha >= 0: one coordinate takes all the mass
        return base + mass * grad.min(axis=1)
    weights = np.zeros(n)
    n_full = min(n_full, n)
    weights[:n_full] = cap
    if n_full < n:
        weights[n_full] = max(mass - n_full * cap, 0.0)
    return base + np.sort(grad, axis=1) @ weights


def _fw_gap(r: np.ndarray, grad: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.maximum(np.sum(grad * r, axis=1) - _lmo_value(grad, lo, hi), 0.0)


def duality_gap(relation: np.ndarray, word_unseen: np.ndarray, word_seen: np.ndarray, alpha: float = 0.0,
                normalize: bool = True) -> np.ndarray:
    """Frank-Wolfe duality gap of each row of ``relation`` for the SMO problem.

    ``gap(r) = max_{s in C} grad f(r)^T (r - s)`` with ``grad f(r) = 2 (W_s W_s^T r - W_s w)``;
    for convex ``f`` it bounds ``f(r) - min_C f`` from above, and is 0 exactly at the optimum.
    Returns (U,) gaps (meaningful for feasible ``relation`` only).
    """
    wu, ws = _check_word_pair(word_unseen, word_seen, normalize)
    a = _check_alpha(alpha, ws.shape[0])
    r = _as_matrix(relation, "relation")
    if r.shape != (wu.shape[0], ws.shape[0]):
        raise ZSLDataError(f"relation: expected shape {(wu.shape[0], ws.shape[0])} (unseen x seen), got {r.shape}")
    grad = 2.0 * ((r @ ws - wu) @ ws.T)
    return _fw_gap(r, grad, a, _UPPER)


# --------------------------------------------------------------------------- solver pieces

@dataclass
class _Problem:
    """Quadratic form of the centred problem: f(r) = r^T G r - 2 b^T r + const."""

    gram: np.ndarray      # (S, S)  G = W_c W_c^T
    lin: np.ndarray       # (U, S)  B = w_c W_c^T (rows b_m)
    lipschitz: float      # L of grad f = 2 (G r - b), i.e. 2 * lambda_max(G)
    lo: float
    hi: float


def _build_problem(wu: np.ndarray, ws: np.ndarray, lo: float) -> _Problem:
    mu = ws.mean(axis=0)
    wsc, wuc = ws - mu, wu - mu
    gram = wsc @ wsc.T
    small = wsc.T @ wsc if wsc.shape[1] < wsc.shape[0] else gram  # same non-zero spectrum, cheaper
    lam_max = float(np.linalg.eigvalsh(small)[-1]) if small.size else 0.0
    return _Problem(gram=gram, lin=wuc @ wsc.T, lipschitz=max(2.0 * lam_max, 1e-12), lo=lo, hi=_UPPER)


def _gradient(p: _Problem, r: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return 2.0 * (r @ p.gram - p.lin[rows])


def _fista(p: _Problem, r0: np.ndarray, rows: np.ndarray, gap_target: float, max_iter: int,
           check_every: int = 10) -> tuple[np.ndarray, int]:
    """Batched FISTA with gradient restart on the given rows; stops when every row's
    duality gap is <= gap_target (rows already there are frozen to save work)."""
    r = r0.copy()
    active = np.arange(r.shape[0])
    y = r.copy()
    t = np.ones(r.shape[0])
    tau: np.ndarray | None = None
    it = 0
    for it in range(1, max_iter + 1):
        ra, ya = r[active], y[active]
        grad_y = _gradient(p, ya, rows[active])
        r_new, tau = _project_rows(ya - grad_y / p.lipschitz, p.lo, p.hi, tau)
        # O'Donoghue & Candes: restart momentum when it points uphill.
        restart = np.sum(grad_y * (r_new - ra), axis=1) > 0
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t[active] ** 2))
        beta = np.where(restart, 0.0, (t[active] - 1.0) / t_new)
        y[active] = r_new + beta[:, None] * (r_new - ra)
        t[active] = np.where(restart, 1.0, t_new)
        r[active] = r_new
        if it % check_every == 0 or it == max_iter:
            gap = _fw_gap(r[active], _gradient(p, r[active], rows[active]), p.lo, p.hi)
            keep = gap > gap_target
            if not keep.any():
                break
            active, tau = active[keep], tau[keep]
    return r, it


def _solve_eqp(gram: np.ndarray, b: np.ndarray, r: np.ndarray, free: np.ndarray) -> tuple[np.ndarray, float]:
    """Minimise f over the free coordinates with the others fixed and sum(r) = 1.

    KKT system (halved):  [G_FF  -1] [r_F]   [b_F - G_FX r_X]
                          [1^T    0] [ mu] = [1 - sum r_X   ]
    where ``mu`` is half the common gradient value on the free set. The least-squares
    objective is bounded below, so the system is consistent; when G_FF is singular on the
    constraint's null space a minimum-norm least-squares solution is one of the minimisers.
    """
    fixed = ~free
    fi = np.flatnonzero(free)
    k = fi.size
    kkt = np.zeros((k + 1, k + 1))
    kkt[:k, :k] = gram[np.ix_(fi, fi)]
    kkt[:k, k] = -1.0
    kkt[k, :k] = 1.0
    rhs = np.empty(k + 1)
    rhs[:k] = b[fi] - gram[fi][:, fixed] @ r[fixed]
    rhs[k] = 1.0 - r[fixed].sum()
    sol: np.ndarray | None = None
    with np.errstate(all="ignore"):
        try:
            sol = np.linalg.solve(kkt, rhs)
            resid = np.linalg.norm(kkt @ sol - rhs)
            if not np.all(np.isfinite(sol)) or resid > 1e-9 * (1.0 + np.linalg.norm(rhs)):
                sol = None
        except np.linalg.LinAlgError:
            sol = None
        if sol is None:
            sol = np.linalg.lstsq(kkt, rhs, rcond=None)[0]
    return sol[:k], float(sol[k])


def _active_set(p: _Problem, r0: np.ndarray, b: np.ndarray, max_iter: int, max_free: int,
                gap_target: float) -> tuple[np.ndarray, int]:
    """Primal active-set method for one row, warm-started from a feasible ``r0``.

    Working set = coordinates at a bound. Each step solves the equality-constrained
    problem on the free set; if the solution is infeasible it moves to the first bound hit
    (adding it to the working set), else it releases the bound with the most negative
    multiplier. Finite and exact (up to rounding) in the absence of cycling. Every step
    keeps ``r`` feasible and does not increase ``f``, so stopping early is safe.

    It gives up (returning the current, improved ``r``) when more than ``max_free``
    coordinates are free: with more free coordinates than ``D_w + 1`` the sub-problem is
    singular by dimension (a whole face of minimisers), where this method would crawl one
    bound per expensive least-squares solve and FISTA does better.
    """
    lo, hi = p.lo, p.hi
    r = r0.copy()
    at_lo, at_hi = r <= lo, r >= hi
    r[at_lo], r[at_hi] = lo, hi
    grad_scale = 1e-12 * (1.0 + np.abs(b).max() + np.abs(p.gram).max())
    solves = 0
    while solves < max_iter:
        free = ~(at_lo | at_hi)
        n_free = int(np.count_nonzero(free))
        if n_free == 0 or n_free > max_free:
            # n_free == 0 only in degenerate cases (sum constraint met by bounds alone).
            break
        fi = np.flatnonzero(free)
        r_free, mu = _solve_eqp(p.gram, b, r, free)
        solves += 1
        d = r_free - r[fi]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(d < 0, (lo - r[fi]) / d, np.where(d > 0, (hi - r[fi]) / d, np.inf))
        j = int(np.argmin(ratio))
        if ratio[j] < 1.0:
            r[fi] += max(ratio[j], 0.0) * d
            idx = fi[j]
            if d[j] < 0:
                at_lo[idx], r[idx] = True, lo
            else:
                at_hi[idx], r[idx] = True, hi
            continue
        r[fi] = r_free
        half_grad = p.gram @ r - b
        if _fw_gap(r[None, :], 2.0 * half_grad[None, :], lo, hi)[0] <= gap_target:
            break
        # Optimal iff half_grad_i >= mu at the lower bound and <= mu at the upper bound.
        viol_lo = np.where(at_lo, half_grad - mu, np.inf)
        viol_hi = np.where(at_hi, mu - half_grad, np.inf)
        i_lo, i_hi = int(np.argmin(viol_lo)), int(np.argmin(viol_hi))
        if min(viol_lo[i_lo], viol_hi[i_hi]) >= -grad_scale:
            break
        if viol_lo[i_lo] <= viol_hi[i_hi]:
            at_lo[i_lo] = False
        else:
            at_hi[i_hi] = False
    return np.clip(r, lo, hi), solves


# --------------------------------------------------------------------------- public solver

def solve_class_relation(word_unseen: np.ndarray, word_seen: np.ndarray, alpha: float = 0.0, *,
                         normalize: bool = True, tol: float = 1e-10, max_iter: int = 5000,
                         active_set_max_iter: int = 50, blas_threads: int | None = 1,
                         return_info: bool = False) -> np.ndarray | tuple[np.ndarray, ClassRelationInfo]:
    """Solve the VGSE class-relation QP for every unseen class (the "SMO" embeddings).

    For each unseen class m::

        r_m = argmin_r ||w_m - r^T W_s||_2^2   s.t.  alpha <= r_i <= 1,  sum_i r_i = 1

    Args:
        word_unseen: (U, D_w) unseen-class word vectors ``w_m`` (a 1-D vector is one class).
        word_seen: (S, D_w) seen-class word vectors ``W_s``.
        alpha: lower bound on every ``r_i`` (closed bound; the paper writes ``alpha < r``).
            Must satisfy ``alpha * S <= 1``; ``alpha < 0`` lets the unseen vector leave the
            convex hull of the seen ones. ``alpha * S == 1`` leaves the single point 1/S.
        normalize: L2-normalise every word vector first (default; see module docstring).
        tol: certified accuracy: on return ``f(r_m) - f* <= tol * max(1, max_m ||w_m||^2)``
            for every converged row (absolute on the normalised problem).
        max_iter: budget of batched FISTA iterations over all rounds.
        active_set_max_iter: budget of active-set steps per row and round.
        blas_threads: cap BLAS threads while solving (None leaves them alone).
        return_info: also return a :class:`ClassRelationInfo`.

    Returns:
        R: (U, S) float64; row m is ``r_m`` (feasible; sums to 1 up to ~1e-15).
        With ``return_info=True``, ``(R, info)``.

    Raises:
        ConfigError: infeasible or non-finite ``alpha``, bad ``tol``/``max_iter``.
        ZSLDataError: bad shapes, non-finite or (with ``normalize``) zero vectors.
    """
    _check_positive(tol, "tol")
    _check_positive(max_iter, "max_iter", integer=True)
    _check_positive(active_set_max_iter, "active_set_max_iter", integer=True)
    wu, ws = _check_word_pair(word_unseen, word_seen, normalize)
    n_unseen, n_seen = wu.shape[0], ws.shape[0]
    lo = _check_alpha(alpha, n_seen)
    tol_abs = float(tol) * max(1.0, float(np.max(np.sum(wu**2, axis=1))))

    if lo * n_seen >= 1.0 - _FEAS_EPS:
        # The feasible set is the single point r = 1/S (alpha == 1/S, or S == 1 with alpha == 1).
        rel = np.full((n_unseen, n_seen), 1.0 / n_seen)
        return _finish(rel, wu, ws, lo, tol_abs, 0, np.zeros(n_unseen, dtype=int), return_info)

    with _blas_threads(blas_threads):
        rel, fista_its, as_its = _solve(wu, ws, lo, tol_abs, max_iter, active_set_max_iter)
    return _finish(rel, wu, ws, lo, tol_abs, fista_its, as_its, return_info)


def _solve(wu: np.ndarray, ws: np.ndarray, lo: float, tol_abs: float, max_iter: int,
           as_max_iter: int) -> tuple[np.ndarray, int, np.ndarray]:
    p = _build_problem(wu, ws, lo)
    n_unseen, n_seen = p.lin.shape
    rows = np.arange(n_unseen)
    rel = np.full((n_unseen, n_seen), 1.0 / n_seen)
    as_its = np.zeros(n_unseen, dtype=int)
    # FISTA only has to find roughly the right active set; the active-set step then jumps to
    # the exact optimum. A loose switch-over keeps FISTA short; if the active-set step does
    # not certify a row, that row gets a longer FISTA run with a tighter switch-over.
    switch = max(_SWITCH_GAP * max(1.0, float(np.max(np.sum(wu**2, axis=1)))), tol_abs)
    max_free = wu.shape[1] + 1
    budget = max_iter
    pending = rows
    while pending.size and budget > 0:
        round_budget = min(budget, max(300, budget // 4))
        sub, its = _fista(p, rel[pending], pending, switch, round_budget)
        budget -= its
        rel[pending] = sub
        gap = _fw_gap(rel[pending], _gradient(p, rel[pending], pending), lo, p.hi)
        for m in pending[gap > tol_abs]:
            rel[m], k = _active_set(p, rel[m], p.lin[m], as_max_iter, max_free, tol_abs)
            as_its[m] += k
        gap = _fw_gap(rel[pending], _gradient(p, rel[pending], pending), lo, p.hi)
        pending = pending[gap > tol_abs]
        switch = max(switch * 1e-3, tol_abs)
    return rel, max_iter - budget, as_its


def _finish(rel: np.ndarray, wu: np.ndarray, ws: np.ndarray, lo: float, tol_abs: float, fista_its: int,
            as_its: np.ndarray, return_info: bool) -> np.ndarray | tuple[np.ndarray, ClassRelationInfo]:
    objective = np.sum((wu - rel @ ws) ** 2, axis=1)
    gap = _fw_gap(rel, 2.0 * ((rel @ ws - wu) @ ws.T), lo, _UPPER)
    converged = gap <= tol_abs * (1.0 + 1e-6) + 1e-14
    if not converged.all():
        bad = np.flatnonzero(~converged)
        warnings.warn(f"solve_class_relation: {bad.size} unseen class(es) (rows {bad[:10].tolist()}) did not reach "
                      f"duality gap {tol_abs:.1e} (worst {gap.max():.2e}); increase max_iter",
                      ClassRelationConvergenceWarning, stacklevel=3)
    if not return_info:
        return rel
    return rel, ClassRelationInfo(objective=objective, gap=gap, converged=converged, fista_iterations=fista_its,
                                  active_set_iterations=as_its, tol_abs=tol_abs)


# --------------------------------------------------------------------------- WAvg baseline

def wavg_relation(word_unseen: np.ndarray, word_seen: np.ndarray, k: int = 5,
                  temperature: float | None = None) -> np.ndarray:
    """The paper's WAvg baseline: weights over the k seen classes most similar by cosine.

    With ``c_mi = cos(w_m, w_i)`` and ``N_k(m)`` the k seen classes of largest ``c_mi``
    (ties broken by lower index)::

        temperature=None:  r_mi = max(c_mi, 0) / sum_{j in N_k(m)} max(c_mj, 0)   for i in N_k(m)
        temperature=T>0:   r_mi = exp(c_mi / T) / sum_{j in N_k(m)} exp(c_mj / T)

    and ``r_mi = 0`` outside ``N_k(m)``. If all top-k similarities are <= 0 (only possible
    with the proportional rule) the k classes get equal weight 1/k.

    Args:
        word_unseen: (U, D_w); word_seen: (S, D_w).
        k: number of seen neighbours, 1 <= k (clipped to S).
        temperature: None for cosine-proportional weights, else softmax temperature.
    Returns:
        R: (U, S) non-negative, rows sum to 1, at most k non-zeros per row.
    """
    _check_positive(k, "k", integer=True)
    if temperature is not None:
        _check_positive(temperature, "temperature")
    wu, ws = _check_word_pair(word_unseen, word_seen, normalize=True)
    sim = wu @ ws.T
    k_eff = min(int(k), ws.shape[0])
    top = np.argsort(-sim, axis=1, kind="stable")[:, :k_eff]
    top_sim = np.take_along_axis(sim, top, axis=1)
    if temperature is None:
        weights = np.maximum(top_sim, 0.0)
        total = weights.sum(axis=1, keepdims=True)
        weights = np.where(total > 0, weights / np.where(total > 0, total, 1.0), 1.0 / k_eff)
    else:
        z = (top_sim - top_sim.max(axis=1, keepdims=True)) / float(temperature)
        weights = np.exp(z)
        weights /= weights.sum(axis=1, keepdims=True)
    rel = np.zeros_like(sim)
    np.put_along_axis(rel, top, weights, axis=1)
    return rel


# --------------------------------------------------------------------------- embeddings

def predict_unseen_embeddings(relation: np.ndarray, seen_embeddings: np.ndarray) -> np.ndarray:
    """Unseen-class embeddings ``Phi_u = R Phi_s`` (row m: ``phi(y_m) = r_m^T Phi_s``).

    Args:
        relation: (U, S) relation matrix R.
        seen_embeddings: (S, D_v) seen-class embeddings (e.g. VGSE cluster embeddings).
    Returns:
        (U, D_v) array, in the floating dtype of ``seen_embeddings`` (float64 otherwise).
    """
    rel = _as_matrix(relation, "relation")
    emb_in = np.asarray(seen_embeddings)
    emb = _as_matrix(emb_in, "seen_embeddings")
    if emb_in.ndim != 2:
        raise ZSLDataError(f"seen_embeddings: expected a 2-D array (seen classes x D_v), got shape {emb_in.shape}")
    if rel.shape[1] != emb.shape[0]:
        raise ZSLDataError(f"relation has {rel.shape[1]} seen columns but seen_embeddings has {emb.shape[0]} rows; "
                           "expected one embedding row per seen class, in the same order")
    out = rel @ emb
    return out.astype(emb_in.dtype, copy=False) if np.issubdtype(emb_in.dtype, np.floating) else out


class ClassRelation:
    """Estimator-style wrapper: fit relations on word vectors, transform seen embeddings.

    Example::

        cr = ClassRelation(method="smo", alpha=0.0).fit(word_seen, word_unseen)
        phi_unseen = cr.transform(phi_seen)      # (U, D_v)

    Args:
        method: "smo" (the VGSE QP, :func:`solve_class_relation`) or "wavg"
            (:func:`wavg_relation`).
        alpha, normalize, tol, max_iter: passed to :func:`solve_class_relation` ("smo").
        k, temperature: passed to :func:`wavg_relation` ("wavg").

    Attributes (after fit):
        relation_: (U, S) relation matrix.
        info_: :class:`ClassRelationInfo` for "smo", None for "wavg".
        n_seen_, n_unseen_: sizes seen at fit time.
    """

    def __init__(self, method: Literal["smo", "wavg"] = "smo", alpha: float = 0.0, *, normalize: bool = True,
                 tol: float = 1e-10, max_iter: int = 5000, k: int = 5, temperature: float | None = None) -> None:
        if method not in ("smo", "wavg"):
            raise ConfigError(f"method: expected 'smo' or 'wavg', got {method!r}")
        self.method = method
        self.alpha = alpha
        self.normalize = normalize
        self.tol = tol
        self.max_iter = max_iter
        self.k = k
        self.temperature = temperature
        self.relation_: np.ndarray | None = None
        self.info_: ClassRelationInfo | None = None

    def fit(self, word_seen: np.ndarray, word_unseen: np.ndarray) -> "ClassRelation":
        """Fit ``relation_`` (U x S) from seen (S x D_w) and unseen (U x D_w) word vectors."""
        if self.method == "smo":
            rel, info = solve_class_relation(word_unseen, word_seen, self.alpha, normalize=self.normalize,
                                             tol=self.tol, max_iter=self.max_iter, return_info=True)
            self.info_ = info
        else:
            rel = wavg_relation(word_unseen, word_seen, k=self.k, temperature=self.temperature)
            self.info_ = None
        self.relation_ = rel
        self.n_unseen_, self.n_seen_ = rel.shape
        return self

    def transform(self, seen_embeddings: np.ndarray) -> np.ndarray:
        """Unseen embeddings (U x D_v) from seen embeddings (S x D_v): ``relation_ @ Phi_s``."""
        if self.relation_ is None:
            raise ConfigError("ClassRelation.transform: the estimator is not fitted; "
                              "call fit(word_seen, word_unseen) first")
        return predict_unseen_embeddings(self.relation_, seen_embeddings)

    def fit_transform(self, word_seen: np.ndarray, word_unseen: np.ndarray, seen_embeddings: np.ndarray) -> np.ndarray:
        """``fit(word_seen, word_unseen).transform(seen_embeddings)``."""
        return self.fit(word_seen, word_unseen).transform(seen_embeddings)

    def __repr__(self) -> str:
        if self.method == "smo":
            return f"ClassRelation(method='smo', alpha={self.alpha!r}, normalize={self.normalize!r})"
        return f"ClassRelation(method='wavg', k={self.k!r}, temperature={self.temperature!r})"
