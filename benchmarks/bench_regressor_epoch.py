"""Seconds per training epoch of the semantic regressor with ReMSE vs MSE (SURROGATE AWA2, 2048-d, all
23,527 trainval images, batch 256, 1 torch thread). Synthetic features: a speed figure, not an accuracy result.

Run: python benchmarks/bench_regressor_epoch.py [--data DIR]  (DIR: a surrogate AWA2 directory; made if missing)
"""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path

import numpy as np
import torch

from zslkit.data import load_xlsa17, make_surrogate
from zslkit.models import SemanticRegressor
from zslkit.utils.outputs import atomic_write_text

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "xlsa17-meta"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/tmp/zslkit-bench-models/data/AWA2")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "regressor_epoch.txt"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    if not (Path(args.data) / "SURROGATE.json").is_file():
        make_surrogate(SHARED / "AWA2" / "att_splits.mat", args.data, seed=0)
    d = load_xlsa17(args.data)
    tv = d.splits["trainval"]
    lines = ["Semantic regressor: seconds per epoch, ReMSE vs MSE (SURROGATE AWA2: synthetic features)",
             f"machine: {platform.platform()}, {os.cpu_count()} CPUs, torch {torch.__version__}, 1 thread, "
             f"load average at start {os.getloadavg()[0]:.1f}",
             f"data: {tv.size} trainval images x {d.features.shape[1]} dims, {d.semantic.shape[1]} attributes, "
             f"{d.seen_classes.size} seen classes; batch 256, {args.epochs} epochs; median over epochs 2..N", ""]
    res = {}
    for loss in ("mse", "remse", "mse", "remse"):  # interleaved, so load changes hit both
        m = SemanticRegressor(loss=loss, epochs=args.epochs, lr=0.01, seed=0)
        m.fit(d.features[tv], d.labels[tv], d.semantic)
        secs = [h["seconds"] for h in m.history_[1:]]
        res.setdefault(loss, []).extend(secs)
    for loss, secs in res.items():
        lines.append(f"{loss:6s}: {np.median(secs):.3f} s/epoch (min {min(secs):.3f}, max {max(secs):.3f}), "
                     f"{tv.size / np.median(secs):.0f} images/s")
    lines.append(f"ratio ReMSE/MSE: {np.median(res['remse']) / np.median(res['mse']):.2f}x")
    atomic_write_text(args.out, "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
