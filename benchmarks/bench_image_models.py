"""Benchmark: the image-level models (AttentionNet, GEM-ZSL, BasicNet) with MSE vs ReMSE, trained end to end
from images of the SYNTHETIC image world, 3 seeds each.

Run from the repository root::

    python benchmarks/bench_image_models.py            # ~20-40 min on 2 busy CPU cores
    python benchmarks/bench_image_models.py --quick    # a smaller world and fewer epochs, a smoke test

ALL DATA IS SYNTHETIC (no real images or pretrained weights can be had here): the numbers say how
the models and losses behave relative to each other on a world whose ground truth is known, not how
they do on CUB/AWA2/SUN.

Setup. The world of :mod:`zslkit.data.synthetic_world` (objects whose parts' colours, shapes and
textures are the attributes; unseen classes are new combinations): 26 classes (20 seen, 6 unseen),
30 images each at 64 px, written as PNG files and read back through
:class:`zslkit.training.feature_maps.ImageDataset` with the authors' transforms at 56 px (train:
resize to 64, random 56 crop, flip; test: resize + centre crop). Every model is the same
:func:`zslkit.pipeline.train` path a user runs (through :func:`zslkit.image_pipeline.train_image_model`):
epochs (<= ``--epochs``) and the calibration gamma chosen on validation classes (a seeded partition of
the seen classes), retraining on trainval, test with the validation gamma. Backbone: the ``tiny`` CNN,
fine-tuned from a seeded random initialisation. *Choices* for this small world (the authors' SGD
settings are for fine-tuning a pretrained ResNet-101): Adam lr 1e-3, x0.1 after 2/3 of the epochs,
16 ways x 2 shots, one pass over the images per epoch; lambda1 0.25 for the RegNorm'ed regression
losses (ReZSL's CUB value, ReMSE p 0.1, p2 0.75, in-batch), GEM-ZSL's own loss with its CUB weights
(1.0, 0.1, 0.2). Attribute word vectors: random (50-d, seeded), the same for every run.

Output: ``benchmarks/results/bench_image_models.txt`` (report) and ``.json`` (every run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
try:
    import zslkit  # noqa: F401
except ImportError:  # not installed: use the source tree next to this script
    sys.path.insert(0, str(ROOT / "src"))

from zslkit.data.synthetic_world import WorldConfig, make_world  # noqa: E402
from zslkit.image_pipeline import ImageModelConfig, train_image_model  # noqa: E402
from zslkit.training.feature_maps import AttentionData, ImageDataset, image_transform  # noqa: E402
from zslkit.utils.outputs import atomic_write_json, atomic_write_text  # noqa: E402

SEEDS = (0, 1, 2)
#: (label, model, loss, lambda1)
SETUPS = [
    ("AttentionNet + MSE", "attention_net", "mse", 0.25),
    ("AttentionNet + ReMSE", "attention_net", "remse", 0.25),
    ("BasicNet + MSE", "basic_net", "mse", 0.25),
    ("BasicNet + ReMSE", "basic_net", "remse", 0.25),
    ("GEM-ZSL (its loss)", "gem_zsl", "gem", 1.0),
    ("GEM-ZSL + MSE", "gem_zsl", "mse", 0.25),
    ("GEM-ZSL + ReMSE", "gem_zsl", "remse", 0.25),
]
PAIRS = [("AttentionNet", "AttentionNet + MSE", "AttentionNet + ReMSE"), ("BasicNet", "BasicNet + MSE", "BasicNet + ReMSE"),
         ("GEM-ZSL", "GEM-ZSL + MSE", "GEM-ZSL + ReMSE")]


def world_data(tmp: Path, quick: bool) -> AttentionData:
    cfg = WorldConfig(n_seen=14 if quick else 20, n_unseen=5 if quick else 6, images_per_class=16 if quick else 30)
    world = make_world(seed=0, config=cfg)
    order = world.image_ids("trainval") + world.image_ids("test_seen") + world.image_ids("test_unseen")
    paths = []
    for n, (c, i) in enumerate(order):
        p = tmp / f"{n:05d}.png"
        world.render(c, i).save(p)
        paths.append(str(p))
    n0, n1 = len(world.image_ids("trainval")), len(world.image_ids("test_seen"))
    splits = {"trainval": np.arange(n0), "test_seen": np.arange(n0, n0 + n1),
              "test_unseen": np.arange(n0 + n1, len(order))}
    vectors = np.random.default_rng(0).normal(size=(world.attributes.shape[1], 50)).astype(np.float32)
    return AttentionData(inputs=ImageDataset(paths, image_transform(56, train=True)),
                         eval_inputs=ImageDataset(paths, image_transform(56, train=False)),
                         labels=np.array([c for c, _ in order]), class_names=world.class_names,
                         semantic=world.attributes, attribute_vectors=vectors, splits=splits,
                         attribute_names=world.attribute_names, kind="images", surrogate=True,
                         image_files=paths, provenance={"notes": ["SYNTHETIC image world"], "dataset": "world"})


def run(data: AttentionData, model: str, loss: str, lambda1: float, seed: int, epochs: int, ways: int) -> dict:
    cfg = ImageModelConfig(model=model, loss=loss, lambda1=lambda1, backbone="tiny", image_size=56,
                           finetune_backbone=True, epochs=epochs, optimizer="adam", lr=1e-3,
                           lr_step=max(1, epochs * 2 // 3), lr_gamma=0.1, ways=ways, shots=2, seed=seed,
                           progress=False, device="cpu", eval_batch_size=128)
    t0 = time.perf_counter()
    res = train_image_model(cfg, data)
    m = res.metrics
    return {"T1": m.T1, "U": m.U, "S": m.S, "H": m.H, "U0": m.U0, "S0": m.S0, "H0": m.H0, "oracle_H": m.oracle_H,
            "ausuc": m.ausuc, "gamma": res.gamma, "epochs": res.selection["best_epoch"],
            "val_T1": res.selection["val_at_best"]["val_T1"], "images_per_s": res.throughput,
            "seconds": time.perf_counter() - t0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--epochs", type=int, default=None, help="epoch budget of each phase (default 15, quick 3)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "bench_image_models")
    args = ap.parse_args()
    torch.set_num_threads(1)
    epochs = args.epochs or (3 if args.quick else 15)
    seeds = SEEDS[:2] if args.quick else SEEDS
    lines = ["Image-level models, MSE vs ReMSE, trained end to end on the SYNTHETIC image world",
             "ALL DATA SYNTHETIC: not benchmark results for any real dataset.",
             f"platform: {platform.platform()}; python {platform.python_version()}; torch {torch.__version__}; "
             f"1 torch thread; os.cpu_count()={os.cpu_count()}",
             f"load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}",
             f"mode: {'quick' if args.quick else 'full'}; epoch budget {epochs}; seeds {list(seeds)}", ""]
    print("\n".join(lines), flush=True)
    runs = []
    with tempfile.TemporaryDirectory(prefix="zslkit-bench-img-") as tmp:
        data = world_data(Path(tmp), args.quick)
        lines.append(f"world: {data.num_classes} classes ({len(data.seen_classes)} seen, {len(data.unseen_classes)} "
                     f"unseen), {data.num_images} images, {data.num_attributes} attributes")
        for label, model, loss, lam in SETUPS:
            for seed in seeds:
                r = {"setup": label, "model": model, "loss": loss, "lambda1": lam, "seed": seed,
                     **run(data, model, loss, lam, seed, epochs, ways=8 if args.quick else 16)}
                runs.append(r)
                print(f"  {label:22s} seed {seed}: T1 {r['T1']:5.1f}  U {r['U']:5.1f} S {r['S']:5.1f} H {r['H']:5.1f} "
                      f"({r['epochs']} epochs, {r['images_per_s']:.0f} img/s, {r['seconds']:.0f} s)", flush=True)
    lines += ["", f"{'setup':22s} {'T1':>12s} {'U':>12s} {'S':>12s} {'H':>12s} {'AUSUC':>12s} {'img/s':>7s}"]
    summary = {}
    for label, *_ in SETUPS:
        rows = [r for r in runs if r["setup"] == label]
        st = {k: (float(np.mean([r[k] for r in rows])), float(np.std([r[k] for r in rows])))
              for k in ("T1", "U", "S", "H", "ausuc", "images_per_s")}
        summary[label] = st
        lines.append(f"{label:22s} " + " ".join(f"{st[k][0]:6.1f}±{st[k][1]:4.1f}" for k in ("T1", "U", "S", "H", "ausuc"))
                     + f" {st['images_per_s'][0]:7.0f}")
    lines += ["", "ReMSE - MSE (mean over seeds; wins = seeds where ReMSE is ahead), as it comes:"]
    for name, mse, remse in PAIRS:
        a = {r["seed"]: r for r in runs if r["setup"] == mse}
        b = {r["seed"]: r for r in runs if r["setup"] == remse}
        for k in ("T1", "H"):
            d = [b[s][k] - a[s][k] for s in seeds]
            lines.append(f"  {name:12s} {k}: {np.mean(d):+6.2f} (per seed {', '.join(f'{x:+.1f}' for x in d)}; "
                         f"ReMSE ahead in {sum(x > 0 for x in d)}/{len(d)})")
    lines += ["", f"load average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}",
              "Numbers are on a SYNTHETIC world with a small CNN trained from scratch; they compare losses and",
              "models under one protocol, they are not benchmark results."]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out.with_suffix(".txt"), text)
    atomic_write_json(args.out.with_suffix(".json"), {"runs": runs, "summary": summary, "epochs": epochs})


if __name__ == "__main__":
    main()
