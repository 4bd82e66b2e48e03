"""GPU check: the torch models and the image-level models on a CUDA device at real sizes, beside the CPU.

Prepared for a machine with a GPU (``benchmarks/gpu_check.sh`` runs it; < 8 minutes on one GPU)::

    python benchmarks/gpu_check.py --out benchmarks/results/gpu_check     # CUDA (fails clearly without)
    python benchmarks/gpu_check.py --device cpu --quick --out /tmp/x       # smoke test of the script on a CPU

Random data at the real shapes (the numbers are speeds, not accuracies; nothing is downloaded):

* semantic regressor (MSE and ReMSE): samples/s of one epoch over 23,527 x 2048 features (AWA2
  trainval), batch 256 (timed on ``--device`` and, briefly, on the CPU);
* f-CLSWGAN at the paper's size (hidden 4096): critic samples/s;
* ALE (batched SGD): samples/s of one epoch, 85 attributes;
* AttentionNet head on cached 2048 x 14 x 14 maps (CUB: 312 attributes, 300-d vectors), 16 x 2
  episodes: images/s of training steps, fused and direct evaluation;
* AttentionNet, GEM-ZSL and BasicNet end to end on 448 px images with a ResNet-101 (random weights),
  fine-tuned, bf16 autocast on the GPU: images/s of training steps;
* one ViT-B/16 (224 px) AttentionNet step.

Writes ``<out>.txt`` and ``<out>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
try:
    import zslkit  # noqa: F401
except ImportError:  # not installed: use the source tree next to this script
    sys.path.insert(0, str(ROOT / "src"))

from zslkit.losses import ReMSELoss  # noqa: E402
from zslkit.models.attention_net import AttentionNet, AttentionNetLoss  # noqa: E402
from zslkit.models.backbones import resnet_backbone, vit_backbone  # noqa: E402
from zslkit.models.basic_net import BasicNet  # noqa: E402
from zslkit.models.gem_zsl import GEMZSL, GEMZSLLoss  # noqa: E402


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _rate(fn, n_items: int, dev: torch.device, repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    _sync(dev)
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    _sync(dev)
    return n_items * repeats / (time.perf_counter() - t0)


def feature_models(dev: torch.device, quick: bool) -> dict:
    from zslkit.registry import get_model

    n, d, k, c = (4000 if quick else 23527), 2048, 85, 40
    rng = np.random.default_rng(0)
    X = rng.random((n, d), dtype=np.float32)
    y = rng.integers(0, c, n)
    S = rng.random((c + 10, k)).astype(np.float32)
    out = {}
    for loss in ("mse", "remse"):
        for device in ([dev.type] if dev.type == "cpu" else ["cuda", "cpu"]):
            m = get_model("regressor", loss=loss, epochs=1 if device == "cpu" else 3, device=device)
            m.fit(X if device != "cpu" or dev.type == "cpu" else X[:4000], y if device != "cpu" or dev.type == "cpu"
                  else y[:4000], S)
            out[f"regressor_{loss}_{device}_samples_per_s"] = m.throughput_
    g = get_model("clswgan", hidden=4096 if not quick else 512, steps=20 if quick else 100, device=dev.type,
                  pretrain_epochs=1, n_synth=10, cls_epochs=1)
    g.fit(X[:4000], y[:4000], S)
    out[f"clswgan_hidden{g.hidden}_{dev.type}_critic_samples_per_s"] = g.throughput_
    try:
        a = get_model("ale", epochs=1, device=dev.type)
        a.fit(X, y, S)
        out[f"ale_{dev.type}_samples_per_s"] = float(getattr(a, "throughput_", float("nan")))
    except Exception as exc:  # noqa: BLE001 - report, keep checking the rest
        out["ale_error"] = f"{type(exc).__name__}: {exc}"
    return out


def attention_head(dev: torch.device, quick: bool, amp: bool) -> dict:
    torch.manual_seed(0)
    a, b = 312, 32
    maps = torch.relu(torch.randn(b, 2048, 14, 14, device=dev))
    sem = torch.rand(150, a, device=dev)
    labels = torch.randint(0, 150, (b,), device=dev)
    out = {}
    for fused in (True, False):
        net = AttentionNet(torch.randn(a, 300), 2048, fused=fused).to(dev)
        loss_fn = AttentionNetLoss(sem, loss="remse").to(dev)
        opt = torch.optim.SGD(net.parameters(), lr=5e-4, momentum=0.9)

        def step():
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
                loss, _ = loss_fn(net(maps).semantic, labels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        out[f"attention_net_head_{'fused' if fused else 'direct'}_images_per_s"] = _rate(step, b, dev,
                                                                                         2 if quick else 10)
    return out


def image_models(dev: torch.device, quick: bool, amp: bool) -> dict:
    size, b = (224, 4) if quick else (448, 32)
    a = 312
    x = torch.rand(b, 3, size, size, device=dev)
    sem = torch.rand(150, a, device=dev)
    labels = torch.randint(0, 150, (b,), device=dev)
    groups = [[i] for i in range(a)]
    out = {}
    for name in ("attention_net", "gem_zsl", "basic_net"):
        torch.manual_seed(0)
        backbone = resnet_backbone("resnet101")
        if name == "attention_net":
            net, loss_fn = AttentionNet(torch.randn(a, 300), backbone=backbone, freeze_backbone=False), \
                AttentionNetLoss(sem)
            apply = lambda o, y: loss_fn(o.semantic, y)  # noqa: E731
        elif name == "gem_zsl":
            net, loss_fn = GEMZSL(torch.randn(a, 300), backbone=backbone, freeze_backbone=False), GEMZSLLoss(sem, groups)
            apply = loss_fn
        else:
            net, loss_fn = BasicNet(a, backbone=backbone, freeze_backbone=False), AttentionNetLoss(sem)
            apply = lambda o, y: loss_fn(o.semantic, y)  # noqa: E731
        net, loss_fn = net.to(dev).train(), loss_fn.to(dev)
        opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=5e-4, momentum=0.9)

        def step():
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
                loss, _ = apply(net(x), labels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        out[f"{name}_resnet101_{size}px_images_per_s"] = _rate(step, b, dev, 1 if quick else 5)
        del net, opt
    torch.manual_seed(0)
    net = AttentionNet(torch.randn(a, 300), backbone=vit_backbone("vit_b_16"), freeze_backbone=False).to(dev)
    loss_fn = AttentionNetLoss(sem).to(dev)
    opt = torch.optim.SGD(net.parameters(), lr=5e-4, momentum=0.9)
    xv = torch.rand(b, 3, 224, 224, device=dev)

    def vit_step():
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
            loss, _ = loss_fn(net(xv).semantic, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    out["attention_net_vit_b_16_224px_images_per_s"] = _rate(vit_step, b, dev, 1 if quick else 5)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "gpu_check")
    args = ap.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("error: no CUDA device is available (run with --device cpu for a smoke test)")
    dev = torch.device(args.device)
    amp = dev.type == "cuda"
    info = {"platform": platform.platform(), "torch": torch.__version__, "device": str(dev),
            "gpu": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None, "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "amp_bf16": amp, "quick": args.quick}
    results = {}
    t0 = time.perf_counter()
    for name, fn in (("feature models", lambda: feature_models(dev, args.quick)),
                     ("AttentionNet head on cached maps", lambda: attention_head(dev, args.quick, amp)),
                     ("image-level models end to end", lambda: image_models(dev, args.quick, amp))):
        t = time.perf_counter()
        results[name] = fn()
        print(f"{name}: {json.dumps(results[name])} [{time.perf_counter() - t:.0f} s]", flush=True)
    info["seconds"] = time.perf_counter() - t0
    lines = [f"GPU check ({'quick, ' if args.quick else ''}random data at real shapes: speeds only)",
             json.dumps(info), ""]
    for name, r in results.items():
        lines.append(name)
        lines += [f"  {k:55s} {v:12.1f}" if isinstance(v, float) else f"  {k:55s} {v}" for k, v in r.items()]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".txt").write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps({"info": info, "results": results}, indent=1))


if __name__ == "__main__":
    main()
