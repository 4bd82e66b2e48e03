"""The exponentiated chi-squared Nystroem map: zslkit's numba distances against scikit-learn's, in one run.

On REAL histograms (AwA1, Lampert features: one block, L1-normalised, the first ``--rows`` images of the
trainval rows of the standard split as in ``bench_real_awa1_standard.py``), fit + transform of
:class:`zslkit.features.chi2.ExpChi2Nystroem` (numba, 1 and 2 threads) and of scikit-learn's
``Nystroem(kernel="chi2")`` with the same landmarks; process CPU time and wall time of each, their
ratios, and the largest difference between the two approximate kernels phi(x) . phi(y).

Writes ``benchmarks/results/chi2_map.txt``. Usage (about a minute)::

    python benchmarks/bench_chi2_map.py [--rows 3000] [--landmarks 1000] [--block sift]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))  # this checkout's zslkit


def timed(fn):
    c, w = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - c, time.perf_counter() - w


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=3000)
    ap.add_argument("--landmarks", type=int, default=1000)
    ap.add_argument("--block", default="sift")
    ap.add_argument("--out", default=str(HERE / "results" / "chi2_map.txt"))
    args = ap.parse_args(argv)
    from sklearn.kernel_approximation import Nystroem
    from threadpoolctl import threadpool_limits

    from awa1_lampert import DEFAULT_ROOT
    from zslkit.features.chi2 import ExpChi2Nystroem, chi2_distances
    from zslkit.features.transforms import normalize_block

    with np.load(DEFAULT_ROOT / f"{args.block}.npz") as z:
        X = normalize_block(z["features"][:args.rows].astype(np.float32), "l1").astype(np.float32)
    gamma = 1.0 / float(np.median(chi2_distances(X[:64], X[64:128])))
    chi2_distances(X[:2], X[:2])  # compile (numba caches it on disk; not part of the timings)
    lines = [f"REAL (AwA1, Lampert features): block {args.block}, {X.shape[0]} images x {X.shape[1]} bins "
             f"(L1-normalised), {args.landmarks} landmarks, gamma = 1 / median chi2 = {gamma:.4g}; fit + transform "
             "of all rows. Produced by benchmarks/bench_chi2_map.py.",
             f"machine: {os.cpu_count()} CPUs, load average at start {os.getloadavg()[0]:.1f} (shared)", "",
             f"{'implementation':<34} {'CPU s':>8} {'wall s':>8}"]
    res = {}
    with threadpool_limits(limits=1):
        ref, c, w = timed(lambda: Nystroem(kernel="chi2", gamma=gamma, n_components=args.landmarks,
                                           random_state=0).fit(X).transform(X))
    res["sklearn"] = (c, w)
    lines.append(f"{'scikit-learn Nystroem(kernel=chi2)':<34} {c:8.1f} {w:8.1f}")
    outs = {}
    for threads in (1, 2):
        with threadpool_limits(limits=threads):
            outs[threads], c, w = timed(lambda: ExpChi2Nystroem(gamma=gamma, n_components=args.landmarks,
                                                                random_state=0, threads=threads).fit(X).transform(X))
        res[threads] = (c, w)
        lines.append(f"{f'zslkit ExpChi2Nystroem, {threads} thread(s)':<34} {c:8.1f} {w:8.1f}")
    K_ref = ref @ ref.T
    diff = max(float(np.abs(o @ o.T - K_ref).max()) for o in outs.values())
    lines += ["", f"CPU time ratio scikit-learn / zslkit (1 thread): {res['sklearn'][0] / res[1][0]:.1f}x",
              f"wall time ratio scikit-learn / zslkit (2 threads): {res['sklearn'][1] / res[2][1]:.1f}x",
              f"largest |phi(x).phi(y) - scikit-learn's| over all pairs: {diff:.2e} (kernel values lie in [0, 1])"]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
