"""Benchmark: VGSE class-relation (SMO) solver vs a reference QP solver.

Run from the repository root::

    python benchmarks/bench_class_relation.py            # ~3-5 min on 2 busy cores
    python benchmarks/bench_class_relation.py --quick    # AWA2/CUB sizes only

THE WORD VECTORS ARE RANDOM (SYNTHETIC): no GoogleNews file is available here, so the
problems have the real sizes (seen x unseen x 300) of the xlsa17 splits but made-up
vectors. Two generators, both L2-normalised like the solver's default:

* ``iso``:  i.i.d. Gaussian vectors (well-conditioned, easy);
* ``w2v-like``: a shared direction + cluster structure + noise (class-name vectors of one
  dataset share a large common component and form groups, which makes the QP far more
  ill-conditioned; this is the harder, more realistic case).

For each problem it reports:

* ``zslkit`` time: :func:`zslkit.vgse.solve_class_relation` for all unseen classes at once
  (median and min of ``--repeats`` runs, BLAS limited to 1 thread by the solver);
* the certified duality gap (max over classes; an upper bound on ``f - f*``);
* the objective difference ``f_zslkit - f_ref`` vs Clarabel (interior point, via qpsolvers,
  tolerances 1e-12), max and min over the unseen classes (absolute, normalised problem;
  negative means zslkit is lower);
* feasibility: worst bound violation and worst ``|sum r - 1|``;
* the reference's own time (one QP per unseen class, dense P = 2 W W^T).

Output: stdout, also saved to ``benchmarks/results/bench_class_relation.txt``.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from zslkit.utils.outputs import atomic_write_text  # noqa: E402
from zslkit.vgse import class_relation_objective, solve_class_relation  # noqa: E402

SIZES = {  # name: (seen, unseen), xlsa17 proposed splits
    "AWA2": (40, 10),
    "CUB": (150, 50),
    "SUN": (645, 72),
}
DIM = 300
ALPHAS = (0.0, -0.01)


def make_problem(kind: str, n_seen: int, n_unseen: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(word_unseen (U x D), word_seen (S x D)), random, L2-normalised rows."""
    rng = np.random.default_rng(seed)
    if kind == "iso":
        seen, unseen = rng.normal(size=(n_seen, dim)), rng.normal(size=(n_unseen, dim))
    else:
        base = rng.normal(size=dim)
        centres = rng.normal(size=(max(2, n_seen // 30), dim))

        def gen(n: int) -> np.ndarray:
            return 1.5 * base + centres[rng.integers(0, len(centres), n)] + 0.7 * rng.normal(size=(n, dim))

        seen, unseen = gen(n_seen), gen(n_unseen)
    seen /= np.linalg.norm(seen, axis=1, keepdims=True)
    unseen /= np.linalg.norm(unseen, axis=1, keepdims=True)
    return unseen, seen


def reference(word_unseen: np.ndarray, word_seen: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    import qpsolvers
    import scipy.sparse as sp

    n_seen = word_seen.shape[0]
    p_mat = sp.csc_matrix(2.0 * word_seen @ word_seen.T)
    a_mat = sp.csc_matrix(np.ones((1, n_seen)))
    t0 = time.perf_counter()
    rows = []
    for w in word_unseen:
        r = qpsolvers.solve_qp(p_mat, -2.0 * word_seen @ w, A=a_mat, b=np.array([1.0]), lb=np.full(n_seen, alpha),
                               ub=np.ones(n_seen), solver="clarabel", tol_gap_abs=1e-12, tol_gap_rel=1e-12,
                               tol_feas=1e-12, tol_ktratio=1e-10)
        if r is None:
            raise RuntimeError("reference solver failed")
        rows.append(r)
    return np.array(rows), time.perf_counter() - t0


def bench_one(name: str, kind: str, alpha: float, repeats: int, seed: int) -> str:
    n_seen, n_unseen = SIZES[name]
    wu, ws = make_problem(kind, n_seen, n_unseen, DIM, seed)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        rel, info = solve_class_relation(wu, ws, alpha, return_info=True)
        times.append(time.perf_counter() - t0)
    ref, t_ref = reference(wu, ws, alpha)
    diff = class_relation_objective(rel, wu, ws) - class_relation_objective(ref, wu, ws)
    viol = max(float(np.max(alpha - rel)), float(np.max(rel - 1.0)), 0.0)
    sum_err = float(np.max(np.abs(rel.sum(axis=1) - 1.0)))
    return (f"{name:<5} {n_seen:>4}x{n_unseen:<3} {kind:<9} {alpha:>6g} | {np.median(times):8.3f} {min(times):8.3f} "
            f"{info.fista_iterations:>6d} {info.active_set_iterations.mean():6.1f} | {info.gap.max():9.1e} "
            f"{diff.max():+10.1e} {diff.min():+10.1e} | {viol:8.1e} {sum_err:8.1e} | {t_ref:8.2f}")


def run(quick: bool, repeats: int, seed: int) -> None:
    import clarabel
    import qpsolvers

    print("VGSE class relation (SMO) benchmark")
    print("NOTE: THE WORD VECTORS ARE RANDOM (SYNTHETIC); sizes are those of the xlsa17 splits "
          f"(seen x unseen, D_w = {DIM}). Timings are not quality results.")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average at start {os.getloadavg()[0]:.2f} (other jobs share these cores)")
    print(f"numpy {np.__version__}, qpsolvers {qpsolvers.__version__}, clarabel {clarabel.__version__}, "
          f"seed {seed}, zslkit repeats {repeats}")
    print("zslkit: solve_class_relation(defaults: normalize=True, tol=1e-10, blas_threads=1), all classes at once")
    print("ref   : Clarabel via qpsolvers, one QP per unseen class, tolerances 1e-12")
    print("diff  : f_zslkit - f_ref per class, absolute on the normalised objective ||w - r^T W||^2")
    print()
    header = (f"{'data':<5} {'S x U':<8} {'vectors':<9} {'alpha':>6} | {'t_med[s]':>8} {'t_min[s]':>8} "
              f"{'fista':>6} {'as/row':>6} | {'dual gap':>9} {'max diff':>10} {'min diff':>10} | "
              f"{'bound':>8} {'|sum-1|':>8} | {'t_ref[s]':>8}")
    print(header)
    print("-" * len(header))
    names = ("AWA2", "CUB") if quick else ("AWA2", "CUB", "SUN")
    for name in names:
        for kind in ("iso", "w2v-like"):
            for alpha in ALPHAS:
                print(bench_one(name, kind, alpha, repeats, seed), flush=True)
    print()
    print("columns: t_med/t_min = zslkit wall time (all unseen classes); fista = batched FISTA iterations; "
          "as/row = active-set steps per class; dual gap = max certified Frank-Wolfe gap; bound/|sum-1| = "
          "worst feasibility errors of the zslkit solution; t_ref = reference wall time (all classes).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="AWA2 and CUB sizes only")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "bench_class_relation.txt")
    args = parser.parse_args()
    buf = io.StringIO()

    class Tee(io.TextIOBase):
        def write(self, s: str) -> int:
            sys.__stdout__.write(s)
            sys.__stdout__.flush()
            return buf.write(s)

    with redirect_stdout(Tee()):
        run(args.quick, args.repeats, args.seed)
    if not args.quick:
        atomic_write_text(args.out, buf.getvalue())
        print(f"saved {args.out}")


if __name__ == "__main__":
    main()
