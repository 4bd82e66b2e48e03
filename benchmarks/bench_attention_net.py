"""Benchmark: AttentionNet with ReMSE vs MSE (T1, H; 3 seeds) and DDP throughput on CPU.

Run from the repository root::

    python benchmarks/bench_attention_net.py            # everything (~5 min on 2 busy cores)
    python benchmarks/bench_attention_net.py --quick    # smaller, for a smoke test

All data here is SYNTHETIC (no real images or pretrained weights can be had in this
environment); the numbers say how the code behaves, not how AttentionNet does on CUB/AWA2/SUN.

1. **ReMSE vs MSE** on the synthetic feature-map world of
   :func:`zslkit.training.feature_maps.make_synthetic_feature_maps` (30 classes, 8 unseen, 40
   images each, 24 attributes as blob patterns in 32 x 7 x 7 maps; data seed 0). For each of 3
   training seeds and both losses, :func:`zslkit.image_pipeline.train_image_model` runs the
   full protocol: epochs (<= 30) and the calibration gamma chosen on validation classes
   (seeded partition of the seen classes), retraining on trainval, test with the validation
   gamma. Settings (*choices* for a head on cached maps; ReZSL's SGD lr 5e-4 is for
   fine-tuning a ResNet, and with its N(0, 1) attribute vectors SGD at that rate barely moves a
   head on these small maps): Adam lr 1e-3, x0.1 after 20 epochs, episodes 16 ways x 2 shots,
   CE (scale 20) + 0.25 x {ReMSE p=0.1, p2=0.75, in_batch | RegNorm'ed MSE}.
2. **Same on the synthetic image world** (:mod:`zslkit.data.synthetic_world`, 64 px images of
   objects whose parts are the attributes) through a frozen, randomly initialised 3-layer CNN
   (64 x 8 x 8 maps, cached with :func:`extract_feature_maps`, divided by their global std);
   attribute word vectors random. Skipped with ``--skip-world`` or if the module is missing.
3. **Throughput** (training images/s, all processes) of one process vs two DDP processes
   (torchrun, gloo) on CPU, on larger maps (64 attributes, 256 x 14 x 14 float16 maps, 300-d
   word vectors, episodes 16 x 2; median over epochs 2..E of a run, 3 interleaved runs per
   setup). Configurations: 1 process x 1 thread, 1 process x 2 threads, 2 processes x 1 thread. The first-epoch losses of the 1-
   and 2-process runs are compared (they must agree: same global episodes).

Saved output: ``benchmarks/results/bench_attention_net.txt`` (report), ``.json`` (raw) and
``bench_attention_net_maps.png`` (per-attribute attention maps of section 1's first ReMSE model,
rendered with :func:`zslkit.image_pipeline.analyze_attention`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
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

from zslkit.training.feature_maps import (  # noqa: E402
    AttentionData,
    extract_feature_maps,
    load_feature_maps,
    make_synthetic_feature_maps,
    save_feature_maps,
)
from zslkit.image_pipeline import AttentionNetConfig, analyze_attention, train_attention_net  # noqa: E402
from zslkit.utils.outputs import atomic_write_json, atomic_write_text  # noqa: E402

SEEDS = (0, 1, 2)
LOSSES = ("remse", "mse")


def head_config(seed: int, loss: str, epochs: int) -> AttentionNetConfig:
    return AttentionNetConfig(epochs=epochs, lr=1e-3, optimizer="adam", lr_step=max(1, epochs * 2 // 3), lr_gamma=0.1,
                              ways=16, shots=2, lambda1=0.25, loss=loss, p=0.1, p2=0.75, remse_mode="in_batch",
                              seed=seed, progress=False, device="cpu")


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def loadavg() -> str:
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover
        return "n/a"


# --------------------------------------------------------------------------------------
# 1 + 2: ReMSE vs MSE
# --------------------------------------------------------------------------------------


def compare_losses(data: AttentionData, epochs: int, seeds=SEEDS) -> tuple[dict, object]:
    """Both losses x seeds; returns (results, the ReMSE model of the first seed)."""
    runs = []
    first_model = None
    for loss in LOSSES:
        for seed in seeds:
            t0 = time.perf_counter()
            r = train_attention_net(head_config(seed, loss, epochs), data)
            if first_model is None:
                first_model = r.model
            m = r.metrics
            runs.append({"loss": loss, "seed": seed, "T1": m.T1, "U": m.U, "S": m.S, "H": m.H, "gamma": r.gamma,
                         "oracle_H": m.oracle_H, "ausuc": m.ausuc, "epochs": r.selection["best_epoch"],
                         "val_T1": r.selection["val_at_best"]["val_T1"], "seconds": time.perf_counter() - t0})
            print(f"  {loss:5s} seed {seed}: T1 {m.T1:5.2f}  U {m.U:5.2f} S {m.S:5.2f} H {m.H:5.2f} "
                  f"(val gamma {r.gamma:+.3f}, {r.selection['best_epoch']} epochs)  oracle H {m.oracle_H:5.2f}  "
                  f"[{time.perf_counter() - t0:.1f} s]", flush=True)
    summary = {}
    for loss in LOSSES:
        rows = [r for r in runs if r["loss"] == loss]
        summary[loss] = {k: (float(np.mean([r[k] for r in rows])), float(np.std([r[k] for r in rows])))
                         for k in ("T1", "U", "S", "H", "oracle_H", "ausuc")}
    return {"runs": runs, "summary": summary}, first_model


def world_feature_maps(tmp: Path, quick: bool) -> AttentionData | None:
    try:
        from zslkit.data.synthetic_world import WorldConfig, make_world
    except ImportError:
        return None
    cfg = WorldConfig(n_seen=24, n_unseen=8, images_per_class=20 if quick else 40)
    import hashlib
    import inspect

    import zslkit.data.synthetic_world as sw

    digest = hashlib.sha256(inspect.getsource(sw).encode()).hexdigest()[:12]
    world = make_world(seed=0, config=cfg)
    ids = {s: world.image_ids(s) for s in ("trainval", "test_seen", "test_unseen")}
    order = ids["trainval"] + ids["test_seen"] + ids["test_unseen"]
    images = torch.from_numpy(np.stack([np.asarray(world.render(c, i), dtype=np.float32) / 255.0
                                        for c, i in order]).transpose(0, 3, 1, 2).copy())
    images = (images - images.mean(dim=(0, 2, 3), keepdim=True)) / images.std(dim=(0, 2, 3), keepdim=True)
    torch.manual_seed(0)
    cnn = torch.nn.Sequential(torch.nn.Conv2d(3, 32, 3, 2, 1), torch.nn.ReLU(), torch.nn.Conv2d(32, 64, 3, 2, 1),
                              torch.nn.ReLU(), torch.nn.Conv2d(64, 64, 3, 2, 1), torch.nn.ReLU())
    path = extract_feature_maps(cnn, list(images), tmp / "world_maps.npy", batch_size=128, dtype=np.float32)
    maps = np.load(path)
    maps /= maps.std()
    n0, n1 = len(ids["trainval"]), len(ids["test_seen"])
    splits = {"trainval": np.arange(n0), "test_seen": np.arange(n0, n0 + n1),
              "test_unseen": np.arange(n0 + n1, len(order))}
    rng = np.random.default_rng(0)
    return AttentionData(inputs=maps, labels=np.array([c for c, _ in order]), class_names=world.class_names,
                         semantic=world.attributes, attribute_vectors=rng.normal(size=(world.attributes.shape[1], 50)),
                         splits=splits, attribute_names=world.attribute_names, surrogate=True,
                         provenance={"notes": ["SYNTHETIC image world through a random-init frozen CNN"],
                                     "synthetic_world_source_sha256": digest})


# --------------------------------------------------------------------------------------
# 3: throughput, 1 vs 2 processes
# --------------------------------------------------------------------------------------


def throughput_worker(data_dir: str, out_json: str, epochs: int) -> None:
    """One run (1 process, or one rank under torchrun): writes images/s per epoch (rank 0)."""
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
    data = load_feature_maps(data_dir)
    cfg = AttentionNetConfig(epochs=epochs, lr=1e-3, optimizer="adam", lr_step=0, ways=16, shots=2, loss="remse",
                             seed=0, gamma=0.0, select_epochs=False, progress=False, device="cpu")
    result = train_attention_net(cfg, data)
    if int(os.environ.get("RANK", "0")) == 0:
        atomic_write_json(out_json, {"history": result.history, "world_size": result.world_size,
                                     "threads": torch.get_num_threads()})


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure_throughput(tmp: Path, quick: bool, repeats: int) -> dict:
    data = make_synthetic_feature_maps(num_classes=24, num_unseen=4, images_per_class=24 if quick else 40,
                                       num_attributes=64, channels=256, size=14, word_dim=300, seed=0,
                                       dtype=np.float16)
    save_feature_maps(tmp / "tp_data", data)
    epochs = 3 if quick else 4
    env_base = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    setups = [("1 process x 1 thread", 1, 1), ("1 process x 2 threads", 1, 2), ("2 processes x 1 thread (DDP gloo)", 2, 1)]
    runs: dict[str, list[dict]] = {name: [] for name, _, _ in setups}
    for rep in range(repeats):  # interleaved, so that a change in machine load hits every setup alike
        for name, procs, threads in setups:
            out = tmp / f"tp_{procs}_{threads}_{rep}.json"
            env = {**env_base, "BENCH_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}
            args = [str(Path(__file__).resolve()), "--throughput-worker", str(tmp / "tp_data"), str(out), str(epochs)]
            if procs == 1:
                cmd = [sys.executable, *args]
            else:
                cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", f"--nproc_per_node={procs}",
                       "--master_addr=127.0.0.1", f"--master_port={free_port()}", *args]
            load_before = loadavg()
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1200)
            if proc.returncode != 0:
                raise RuntimeError(f"{name} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
            rec = json.loads(out.read_text())
            ips = [h["images_per_s"] for h in rec["history"]]
            runs[name].append({"images_per_s_per_epoch": ips, "median_images_per_s": statistics.median(ips[1:]),
                               "first_epoch_loss": rec["history"][0]["loss"], "load_before": load_before})
            print(f"  round {rep + 1}: {name:36s} {runs[name][-1]['median_images_per_s']:8.1f} images/s  (epochs: "
                  f"{', '.join(f'{v:.1f}' for v in ips)}; load {load_before})", flush=True)
    results = []
    for name, procs, threads in setups:
        meds = [r["median_images_per_s"] for r in runs[name]]
        results.append({"setup": name, "processes": procs, "threads_per_process": threads, "runs": runs[name],
                        "median_images_per_s": statistics.median(meds), "min_images_per_s": min(meds),
                        "max_images_per_s": max(meds), "first_epoch_loss": runs[name][0]["first_epoch_loss"],
                        "load_before": [r["load_before"] for r in runs[name]]})
    c, h, w = data.map_shape
    return {"setups": results, "map_shape": [c, h, w], "num_attributes": data.num_attributes,
            "train_images": int(data.splits["trainval"].size), "epochs": epochs, "repeats": repeats,
            "loss_1proc_vs_2proc_rel_diff": abs(results[0]["first_epoch_loss"] - results[2]["first_epoch_loss"])
            / abs(results[0]["first_epoch_loss"])}


# --------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------


def loss_table(title: str, res: dict) -> list[str]:
    lines = [title, "  loss   | T1 (ZSL)      | U             | S             | H (val gamma) | oracle H      | AUSUC",
             "  -------+---------------+---------------+---------------+---------------+---------------+--------------"]
    for loss in LOSSES:
        s = res["summary"][loss]
        cells = " | ".join(f"{s[k][0]:5.2f} +- {s[k][1]:4.2f}" for k in ("T1", "U", "S", "H", "oracle_H", "ausuc"))
        lines.append(f"  {loss:6s} | {cells}")
    lines.append("  per seed (loss, seed: T1 / H / val-chosen epochs / val gamma):")
    for r in res["runs"]:
        lines.append(f"    {r['loss']:5s} {r['seed']}: {r['T1']:5.2f} / {r['H']:5.2f} / {r['epochs']:2d} / "
                     f"{r['gamma']:+.3f}")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller worlds and fewer epochs")
    ap.add_argument("--skip-world", action="store_true", help="skip the synthetic image-world section")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"), help="results folder")
    ap.add_argument("--throughput-worker", nargs=3, metavar=("DATA", "OUT", "EPOCHS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.throughput_worker:
        data_dir, out_json, epochs = args.throughput_worker
        throughput_worker(data_dir, out_json, int(epochs))
        return 0

    torch.set_num_threads(1)  # tiny ops: one thread is fastest and most stable on a shared machine
    epochs = 10 if args.quick else 30
    started = time.time()
    header = [
        "AttentionNet benchmark (zslkit.models.attention_net, zslkit.training.loop)",
        "ALL DATA SYNTHETIC: not benchmark results for any real dataset.",
        f"platform: {platform.platform()}; python {platform.python_version()}; torch {torch.__version__}",
        f"cpu: {cpu_name()}; os.cpu_count()={os.cpu_count()}; torch threads (sections 1-2)=1",
        f"load average (1, 5, 15 min) at start: {loadavg()}",
        f"mode: {'quick' if args.quick else 'full'}",
        "",
    ]
    print("\n".join(header), flush=True)
    report = {"mode": "quick" if args.quick else "full", "synthetic": True}
    lines = list(header)

    print("[1] ReMSE vs MSE, synthetic feature-map world", flush=True)
    maps = make_synthetic_feature_maps(images_per_class=20 if args.quick else 40, seed=0)
    res1, model1 = compare_losses(maps, epochs)
    report["feature_map_world"] = {"data": maps.summary(), **res1}
    lines += loss_table(f"[1] ReMSE vs MSE on the SYNTHETIC feature-map world ({maps.num_classes} classes, "
                        f"{maps.unseen_classes.size} unseen, maps {maps.map_shape}, {maps.num_attributes} attributes); "
                        f"epochs <= {epochs} and gamma chosen on validation classes; mean +- std over seeds "
                        f"{list(SEEDS)}", res1)
    lines.append("")
    figure = Path(args.out) / "bench_attention_net_maps.png"
    unseen_images = [int(np.flatnonzero(maps.labels == c)[0]) for c in maps.unseen_classes[:4]]
    analyze_attention(model1, maps, unseen_images, figure, top_k=5,
                      title="SYNTHETIC feature-map world: attention of the 5 strongest class attributes "
                            "(unseen-class images; ReMSE, seed 0)")
    lines += [f"[1b] attention maps of 4 unseen-class test images (ReMSE, seed 0): {figure.name}", ""]

    with tempfile.TemporaryDirectory(prefix="bench_attention_") as tmpdir:
        tmp = Path(tmpdir)
        if not args.skip_world:
            print("[2] ReMSE vs MSE, synthetic image world through a random-init CNN", flush=True)
            world = world_feature_maps(tmp, args.quick)
            if world is None:
                lines += ["[2] skipped: zslkit.data.synthetic_world is not available", ""]
            else:
                res2, _ = compare_losses(world, epochs)
                report["image_world"] = {"data": world.summary(), **res2}
                lines += loss_table(f"[2] ReMSE vs MSE on the SYNTHETIC image world (64 px, {world.num_classes} "
                                    f"classes, {world.unseen_classes.size} unseen, {world.num_attributes} part "
                                    f"attributes) via a frozen random-init 3-layer CNN (maps {world.map_shape}); "
                                    f"zslkit.data.synthetic_world source sha256 "
                                    f"{world.provenance['synthetic_world_source_sha256']} (the world changes "
                                    f"with that module)", res2)
                lines.append("")
        if not args.skip_throughput:
            print("[3] throughput, 1 vs 2 processes (CPU, gloo)", flush=True)
            tp = measure_throughput(tmp, args.quick, 1 if args.quick else 3)
            report["throughput"] = tp
            lines += [f"[3] training throughput on CPU (SYNTHETIC maps {tuple(tp['map_shape'])}, "
                      f"{tp['num_attributes']} attributes, {tp['train_images']} trainval images, episodes 16 x 2, "
                      f"ReMSE; images/s of all processes, median over epochs 2..{tp['epochs']} of a run; "
                      f"{tp['repeats']} interleaved runs per setup: median [min, max])"]
            base = tp["setups"][0]["median_images_per_s"]
            for s_ in tp["setups"]:
                lines.append(f"  {s_['setup']:36s} {s_['median_images_per_s']:8.1f} images/s "
                             f"[{s_['min_images_per_s']:.1f}, {s_['max_images_per_s']:.1f}]  "
                             f"({s_['median_images_per_s'] / base:4.2f}x)")
            lines.append("  load averages before the runs: " + "; ".join(
                f"{s_['setup'].split(' (')[0]}: " + " | ".join(s_["load_before"]) for s_ in tp["setups"]))
            lines.append(f"  first-epoch loss, 1 process vs 2 processes: relative difference "
                         f"{tp['loss_1proc_vs_2proc_rel_diff']:.2e}")
            lines.append("")
    lines.append(f"load average at end: {loadavg()}; total {time.time() - started:.0f} s")
    out = Path(args.out)
    atomic_write_text(out / "bench_attention_net.txt", "\n".join(lines) + "\n")
    atomic_write_json(out / "bench_attention_net.json", report)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
