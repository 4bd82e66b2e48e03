"""Benchmark: vectorised ReMSE weights vs the loop version of the authors' tracker.

Run from the repository root::

    python benchmarks/bench_remse.py

Setting: one ReZSL episode on CUB-sized semantics, 16 classes x 2 images (B = 32),
A = 312 attributes, C = 150 training classes, float32 on CPU (and on CUDA when one is
present). Reports medians over repeats after warm-up, checks that both versions give
the same weights, and requires a speed-up >= 20x (exit status 1 otherwise). Also times
one forward + backward of ReMSELoss against nn.MSELoss on the same batch.
Saved output: benchmarks/results/bench_remse.txt.
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

try:
    import zslkit  # noqa: F401
except ImportError:  # not installed: use the source tree next to this script
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from zslkit.losses import ReMSELoss, regnorm, remse_weights  # noqa: E402
from zslkit.losses.remse import _remse_weights_loop  # noqa: E402

NUM_CLASSES = 150
NUM_ATTRIBUTES = 312
WAYS, SHOTS = 16, 2
P, P2 = 0.1, 0.75
MIN_SPEEDUP = 20.0
SEED = 0


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def median_ms(fn: Callable[[], object], warmup: int, repeats: int, sync: Callable[[], None]) -> float:
    """Median wall time of fn() in milliseconds, after warm-up calls."""
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def make_episode(device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(SEED)
    semantics = torch.rand(NUM_CLASSES, NUM_ATTRIBUTES, generator=gen)
    classes = torch.randperm(NUM_CLASSES, generator=gen)[:WAYS]
    labels = classes.repeat_interleave(SHOTS)
    target = semantics[labels]
    pred = target + 0.2 * torch.randn(labels.shape[0], NUM_ATTRIBUTES, generator=gen)
    return pred.to(device), target.to(device), labels.to(device)


def run(device: torch.device) -> bool:
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    pred, target, labels = make_episode(device)
    print(f"\n== device: {device} ==")
    print(
        f"episode: {WAYS} classes x {SHOTS} images (B={labels.shape[0]}), A={NUM_ATTRIBUTES}, "
        f"C={NUM_CLASSES}, dtype={pred.dtype}, p={P}, p2={P2}"
    )

    # -- weights ------------------------------------------------------------------------
    w_vec = remse_weights(pred, target, labels, NUM_CLASSES, P, P2)
    w_loop = _remse_weights_loop(pred, target, labels, NUM_CLASSES, P, P2)
    max_diff = (w_vec - w_loop).abs().max().item()
    agree = torch.allclose(w_vec, w_loop, rtol=0, atol=1e-6)
    print(
        f"weights agree: {agree} (max |diff| = {max_diff:.3e}, bitwise equal: {torch.equal(w_vec, w_loop)}; "
        f"W in [{w_vec.min().item():.4f}, {w_vec.max().item():.4f}], {int((w_vec > 1).sum())} cells > 1)"
    )

    t_vec = median_ms(lambda: remse_weights(pred, target, labels, NUM_CLASSES, P, P2), 20, 300, sync)
    t_loop = median_ms(lambda: _remse_weights_loop(pred, target, labels, NUM_CLASSES, P, P2), 3, 25, sync)
    speedup = t_loop / t_vec
    print(f"remse_weights, loop (authors' structure): {t_loop:9.3f} ms  (median of 25)")
    print(f"remse_weights, vectorised (zslkit)      : {t_vec:9.3f} ms  (median of 300)")
    ok = agree and speedup >= MIN_SPEEDUP
    print(f"speed-up: {speedup:.1f}x  (required >= {MIN_SPEEDUP:.0f}x: {'PASS' if ok else 'FAIL'})")

    # -- forward + backward -------------------------------------------------------------
    leaf = pred.clone().requires_grad_(True)
    mse = nn.MSELoss()
    remse_in = ReMSELoss(NUM_CLASSES, P, P2, mode="in_batch")
    remse_cross = ReMSELoss(NUM_CLASSES, P, P2, mode="cross_batch")

    def step(loss_fn: Callable[[], torch.Tensor]) -> Callable[[], None]:
        def go() -> None:
            leaf.grad = None
            loss_fn().backward()

        return go

    def loop_remse() -> torch.Tensor:
        weights = _remse_weights_loop(leaf, target, labels, NUM_CLASSES, P, P2)
        return (weights[labels] * (regnorm(leaf) - regnorm(target)) ** 2).mean()

    cases = [
        ("nn.MSELoss (raw vectors)", step(lambda: mse(leaf, target)), 300),
        ("nn.MSELoss (RegNorm'ed vectors)", step(lambda: mse(regnorm(leaf), regnorm(target))), 300),
        ("ReMSELoss in_batch", step(lambda: remse_in(leaf, target, labels)), 300),
        ("ReMSELoss cross_batch", step(lambda: remse_cross(leaf, target, labels)), 300),
        ("ReMSE with loop weights", step(loop_remse), 25),
    ]
    print("forward + backward, one batch:")
    base = None
    for name, fn, repeats in cases:
        ms = median_ms(fn, 10 if repeats > 100 else 3, repeats, sync)
        base = base or ms
        print(f"  {name:<32s} {ms:9.3f} ms  ({ms / base:5.1f}x nn.MSELoss)")
    return ok


def main() -> int:
    torch.manual_seed(SEED)
    # One intra-op thread: these tensors are too small to gain from more, and on a shared
    # machine a busy second thread turns every parallel kernel into a scheduling stall.
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
    print("ReMSE benchmark (zslkit.losses.remse)")
    print(f"platform: {platform.platform()}; python {platform.python_version()}; torch {torch.__version__}")
    print(f"cpu: {cpu_name()}; os.cpu_count()={os.cpu_count()}; torch threads={torch.get_num_threads()}")
    if hasattr(os, "getloadavg"):
        print("load average (1, 5, 15 min) at start: " + ", ".join(f"{v:.2f}" for v in os.getloadavg()))
    ok = run(torch.device("cpu"))
    if torch.cuda.is_available():
        print(f"gpu: {torch.cuda.get_device_name(0)}")
        ok = run(torch.device("cuda")) and ok
    else:
        print("\n(no CUDA device: GPU timings skipped)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
