"""Association order of the bilinear models' batch scores x^T W S^T (ALE / SJE / DeViSE training step).

For each xlsa17 shape (D = 2048 features; AWA2 K 85 attributes, 40 trainval classes; CUB K 312,
150 classes; SUN K 102, 645 classes) and batch sizes 64 and 1024, times one training step (scores,
ALE's rank-weighted hinge, backward, SGD update) with ``(X_b W) S^T`` and with ``X_b (W S^T)``, 1 torch thread,
median of repeats, random data (timing only: no accuracy is measured), and reports which order
``zslkit.models.bilinear.w_s_first`` picks from the multiply-add count.

Run:    python benchmarks/bench_bilinear_order.py
Output: benchmarks/results/bilinear_order.txt
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
try:
    import zslkit  # noqa: F401
except ImportError:
    sys.path.insert(0, str(ROOT / "src"))

import torch  # noqa: E402

from zslkit.losses.ranking import ale_loss  # noqa: E402
from zslkit.models.bilinear import w_s_first  # noqa: E402
from zslkit.utils.outputs import atomic_write_text  # noqa: E402

SHAPES = {"AWA2": (85, 40), "CUB": (312, 150), "SUN": (102, 645)}
D = 2048


def step_seconds(b: int, k: int, c: int, w_first: bool, repeats: int = 30) -> float:
    g = torch.Generator().manual_seed(0)
    X = torch.rand(b, D, generator=g)
    S = torch.rand(c, k, generator=g)
    y = torch.randint(0, c, (b,), generator=g)
    W = (0.01 * torch.randn(D, k, generator=g)).requires_grad_(True)
    opt = torch.optim.SGD([W], lr=0.01, momentum=0.9)
    times = []
    for i in range(repeats + 3):
        t0 = time.perf_counter()
        scores = X @ (W @ S.T) if w_first else (X @ W) @ S.T
        loss = ale_loss(scores, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i >= 3:  # warm-up excluded
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    torch.set_num_threads(1)
    lines = ["# Bilinear models: association order of the batch scores (random data, timing only)", "",
             f"machine: {platform.platform()}, {os.cpu_count()} CPUs, torch {torch.__version__}, 1 thread, "
             f"load average at start {os.getloadavg()[0]:.2f}",
             "command: python benchmarks/bench_bilinear_order.py", "",
             "| shape | batch | (X W) S^T ms/step | X (W S^T) ms/step | slower/faster | w_s_first picks | picked is faster |",
             "|---|---|---|---|---|---|---|"]
    for name, (k, c) in SHAPES.items():
        for b in (64, 1024):
            a = step_seconds(b, k, c, False)
            w = step_seconds(b, k, c, True)
            pick = w_s_first(b, D, k, c)
            faster_is_w = w < a
            lines.append(f"| {name} (K {k}, C {c}) | {b} | {1e3 * a:.3f} | {1e3 * w:.3f} | {max(a, w) / min(a, w):.2f}x "
                         f"| {'X (W S^T)' if pick else '(X W) S^T'} | {'yes' if pick == faster_is_w else 'NO'} |")
            print(lines[-1], flush=True)
    out = ROOT / "benchmarks" / "results" / "bilinear_order.txt"
    atomic_write_text(out, "\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
