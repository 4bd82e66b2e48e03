"""Determinism: the same seed gives the same numbers; what a different thread count changes.

Run from the repository root (~3 min on 2 cores)::

    python benchmarks/bench_determinism.py

zslkit's default thread count depends on the machine and its load (``--threads auto``), so a rerun
may use another count than the first run. This script measures what that changes: each model is
fitted twice with the same seed on 1 and on 2 threads (torch and BLAS) on random data of the real
feature width (6,000 x 2048 features, 40 seen + 10 unseen classes, 85-d semantics), and the maximum
absolute difference of its learnt parameters / predicted semantics and the number of test
predictions (argmax over the unseen classes) that differ are reported. A third fit on 1 thread checks
that the same thread count reproduces bit for bit.

Output: ``benchmarks/results/determinism.txt``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
try:
    import zslkit  # noqa: F401
except ImportError:  # not installed: use the source tree next to this script
    sys.path.insert(0, str(ROOT / "src"))

from zslkit.registry import get_model  # noqa: E402
from zslkit.utils.outputs import atomic_write_text  # noqa: E402

MODELS = [("eszsl", {}, "V_"), ("sae", {}, "W_"), ("regressor", {"epochs": 3, "hidden": 512, "loss": "remse"}, None),
          ("ale", {"epochs": 2}, "W_")]


def fit(name: str, params: dict, attr: str | None, threads: int, X, y, S, Xt, unseen) -> tuple[np.ndarray, np.ndarray]:
    torch.set_num_threads(threads)
    with threadpool_limits(threads):
        m = get_model(name, **params)
        if "seed" in m.get_params():
            m.set_params(seed=0)
        m.fit(X, y, S)
        learnt = getattr(m, attr) if attr else m.predict_semantics(Xt)
        learnt = learnt.detach().cpu().numpy() if isinstance(learnt, torch.Tensor) else np.asarray(learnt)
        return learnt, m.predict(Xt, S[unseen])


def main() -> None:
    rng = np.random.default_rng(0)
    X = rng.random((6000, 2048), dtype=np.float32)
    y = rng.integers(0, 40, 6000)
    S = rng.random((50, 85)).astype(np.float32)
    Xt = rng.random((1000, 2048), dtype=np.float32)
    unseen = np.arange(40, 50)
    lines = ["Determinism: 1 vs 2 threads, same seed (random data of the real width; numbers describe the code)",
             f"torch {torch.__version__}, numpy {np.__version__}; load average {os.getloadavg()[0]:.2f}", "",
             f"{'model':10s} {'max |diff| 1 vs 2 threads':>26s} {'flipped predictions':>20s} {'1 thread twice':>15s}"]
    for name, params, attr in MODELS:
        a1, p1 = fit(name, params, attr, 1, X, y, S, Xt, unseen)
        a2, p2 = fit(name, params, attr, 2, X, y, S, Xt, unseen)
        b1, q1 = fit(name, params, attr, 1, X, y, S, Xt, unseen)
        same = np.array_equal(a1, b1) and np.array_equal(p1, q1)
        lines.append(f"{name:10s} {float(np.abs(a1 - a2).max()):26.3g} {int((p1 != p2).sum()):>13d} of {p1.size}"
                     f" {'identical' if same else 'DIFFERENT':>15s}")
    lines += ["", "What is compared: ESZSL's V, SAE's W, ALE's W, the regressor's predicted semantics of 500 images;",
              "predictions are the argmax over the 10 unseen classes of 1,000 test images."]
    text = "\n".join(lines) + "\n"
    print(text)
    atomic_write_text(ROOT / "benchmarks" / "results" / "determinism.txt", text)


if __name__ == "__main__":
    main()
