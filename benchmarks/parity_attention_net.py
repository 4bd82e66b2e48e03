"""Parity check: zslkit's AttentionNet beside the authors' model, on identical inputs.

Run from the repository root with a checkout of the authors' public code (FouriYe/ReZSL-TIP23;
nothing of it is part of zslkit, and nothing is downloaded)::

    python benchmarks/parity_attention_net.py --reference-dir /path/to/ReZSL-TIP23

What it does, for the CUB (312 attributes, no hidden layer), AWA2 (85 attributes, hidden 4096,
M = 300) and SUN (102 attributes) shapes with the REAL attribute word vectors of
``../shared/data/word-vectors`` and for a ViT-token input (768 channels, 1 + 196 tokens):

1. builds the authors' ``AttentionNet`` from their ``REZSL/modeling/Model/mainModel.py``
   (imported from ``--reference-dir``, unmodified; their module moves the word vectors to the
   current CUDA device, so ``torch.cuda.current_device`` is pointed at the CPU), with an
   identity backbone so that it takes feature maps (and a two-output stand-in for their timm
   ViT wrapper for tokens);
2. saves its ``state_dict`` the way their trainer does (``{"model": ...}`` from a
   ``DataParallel`` wrapper, i.e. ``module.`` names) and loads it with
   :func:`zslkit.models.attention_net.load_rezsl_checkpoint`;
3. compares predictions and attention maps on random post-ReLU feature maps (both evaluation
   paths of zslkit: ``fused`` and ``direct``), then the gradients of every parameter under the
   authors' objective (cosine cross-entropy with scale 20 + lambda1 x RegNorm'ed MSE), then the
   predictions after 5 SGD steps (lr 1e-3, momentum 0.9, weight decay 1e-5) on the same batches.

Output: ``benchmarks/results/parity_attention_net.txt`` (and ``.json``), with the reference
commit when ``--reference-dir`` is a git checkout.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
try:
    import zslkit  # noqa: F401
except ImportError:  # not installed: use the source tree next to this script
    sys.path.insert(0, str(ROOT / "src"))

from zslkit.models.attention_net import _REZSL_LINEARS, load_rezsl_checkpoint  # noqa: E402

W2V = ROOT.parent / "shared" / "data" / "word-vectors"
CASES = [  # name, word-vector file, hidden dim, token input
    ("CUB", "CUB_attribute_w2v.npy", 0, False),
    ("AWA2", "AWA2_attribute_w2v.npy", 4096, False),
    ("SUN", "SUN_attribute_w2v.npy", 0, False),
    ("CUB-ViT-tokens", "CUB_attribute_w2v.npy", 0, True),
]


class _Tokens(torch.nn.Module):
    """Stands in for the authors' ViT wrapper: (B, C, 1 + N) tokens -> (global (B, C), patches (B, N, C))."""

    def forward(self, x: torch.Tensor):
        return x[:, :, 0], x[:, :, 1:].permute(0, 2, 1)


def _their_name(ours: str, their_keys: set[str]) -> str:
    if ours == "attribute_weight":
        return "v2s_branch.V_att_final_branch"
    layer, kind = ours.split(".")
    for cand in (f"v2s_branch.{_REZSL_LINEARS[layer]}.{kind}", f"v2s_branch.{_REZSL_LINEARS[layer]}.0.{kind}"):
        if cand in their_keys:
            return cand
    raise KeyError(ours)


def _objective(pred: torch.Tensor, labels: torch.Tensor, sem: torch.Tensor) -> torch.Tensor:
    """The authors' AttentionNet objective with plain MSE: CE(20 cos) + 0.25 RegNorm'ed MSE."""
    logits = 20.0 * F.normalize(pred, dim=1) @ F.normalize(sem, dim=1).T
    reg = ((F.normalize(pred, dim=1) - F.normalize(sem[labels], dim=1)) ** 2).mean()
    return F.cross_entropy(logits, labels) + 0.25 * reg


def run_case(TheirNet, name: str, w2v_file: str, hid: int, tokens: bool) -> dict:
    torch.manual_seed(0)
    w2v = np.load(W2V / w2v_file)
    A = int(w2v.shape[0])
    C = 768 if tokens else 2048
    backbone, kind = (_Tokens(), "vit") if tokens else (torch.nn.Identity(), "resnet")
    theirs = TheirNet(backbone, kind, False, 448, hid, C, 14, 14, A, 200, 50, None, w2v)
    saved = {"model": {"module." + k: v.clone() for k, v in theirs.state_dict().items()}}
    g = torch.Generator().manual_seed(1)
    x = torch.randn(4, C, 197, generator=g) if tokens else torch.relu(torch.randn(4, C, 14, 14, generator=g))
    res: dict = {"attributes": A, "channels": C, "hidden_dim": hid, "tokens": tokens,
                 "their_state_dict_entries": len(saved["model"]),
                 "their_parameters": sum(p.numel() for p in theirs.parameters())}
    theirs.eval()
    with torch.no_grad():
        ref = theirs(x).double()
        ref_att = theirs(x, getAttention=True)[1].double()
    scale = ref.abs().max().item()
    for fused in (True, False):
        ours = load_rezsl_checkpoint(saved, w2v, fused=fused)
        res["our_parameters"] = sum(p.numel() for p in ours.parameters())
        with torch.no_grad():
            o = ours(x)
        tag = "fused" if fused else "direct"
        res[f"{tag}_prediction_max_abs_diff"] = (o.semantic.double() - ref).abs().max().item()
        res[f"{tag}_prediction_max_rel_diff"] = res[f"{tag}_prediction_max_abs_diff"] / scale
        res[f"{tag}_attention_max_abs_diff"] = (o.attention.flatten(2).double() - ref_att).abs().max().item()
    # gradients under the authors' objective
    sem = torch.rand(5, A, generator=g)
    labels = torch.tensor([0, 1, 2, 3])
    theirs.train()
    theirs.zero_grad()
    _objective(theirs(x), labels, sem).backward()
    their_grads = {n: p.grad for n, p in theirs.named_parameters() if p.grad is not None}
    ours = load_rezsl_checkpoint(saved, w2v).train()
    _objective(ours(x).semantic, labels, sem).backward()
    worst, near_zero = 0.0, []
    top = max(g_.abs().max().item() for g_ in their_grads.values())
    for n, p in ours.named_parameters():
        ref_g = their_grads[_their_name(n, set(their_grads))]
        if ref_g.abs().max().item() < 1e-5 * top:  # the key bias: its gradient is 0 up to rounding (it cancels in the softmax)
            near_zero.append(f"{n} (ours {p.grad.abs().max().item():.1e}, theirs {ref_g.abs().max().item():.1e})")
            continue
        worst = max(worst, ((p.grad - ref_g).abs().max() / ref_g.abs().max()).item())
    res["gradient_zero_parameters"] = near_zero
    res["gradient_max_rel_diff"] = worst
    # five SGD steps on the same batches
    theirs = TheirNet(backbone, kind, False, 448, hid, C, 14, 14, A, 200, 50, None, w2v)
    theirs.load_state_dict({k[len("module."):]: v for k, v in saved["model"].items()})
    ours = load_rezsl_checkpoint(saved, w2v).train()
    theirs.train()
    opts = [torch.optim.SGD([p for p in m.parameters() if p.requires_grad], lr=1e-3, momentum=0.9,
                            weight_decay=1e-5) for m in (theirs, ours)]
    for step in range(5):
        xb = torch.relu(torch.randn(*x.shape, generator=g)) if not tokens else torch.randn(*x.shape, generator=g)
        for model, opt, out_fn in ((theirs, opts[0], lambda m, t: m(t)), (ours, opts[1], lambda m, t: m(t).semantic)):
            opt.zero_grad()
            _objective(out_fn(model, xb), labels, sem).backward()
            opt.step()
    theirs.eval()
    ours.eval()
    with torch.no_grad():
        a, b = theirs(x).double(), ours(x).semantic.double()
    res["after_5_sgd_steps_prediction_max_rel_diff"] = ((a - b).abs().max() / a.abs().max()).item()
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reference-dir", required=True, type=Path,
                    help="a checkout of FouriYe/ReZSL-TIP23 (holds REZSL/modeling/Model/mainModel.py)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "parity_attention_net")
    args = ap.parse_args()
    ref_file = args.reference_dir / "REZSL" / "modeling" / "Model" / "mainModel.py"
    if not ref_file.is_file():
        sys.exit(f"error: {ref_file} not found (--reference-dir must be a checkout of FouriYe/ReZSL-TIP23)")
    torch.set_num_threads(1)
    torch.cuda.current_device = lambda: "cpu"  # their forward moves the word vectors to the current CUDA device
    # The file alone (their package __init__ imports timm and the rest of their code base).
    spec = importlib.util.spec_from_file_location("rezsl_reference_main_model", ref_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    TheirNet = module.AttentionNet

    try:
        commit = subprocess.run(["git", "-C", str(args.reference_dir), "rev-parse", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown (not a git checkout)"
    results = {name: run_case(TheirNet, name, f, hid, tok) for name, f, hid, tok in CASES}
    lines = ["AttentionNet parity: zslkit vs the authors' mainModel.py on identical inputs (random weights and",
             f"feature maps, REAL attribute word vectors); reference commit {commit}", ""]
    cols = ["fused_prediction_max_rel_diff", "direct_prediction_max_rel_diff", "fused_attention_max_abs_diff",
            "gradient_max_rel_diff", "after_5_sgd_steps_prediction_max_rel_diff"]
    lines.append(f"{'case':16s} {'A':>4s} {'hid':>5s} {'params ours/theirs':>20s} " + " ".join(f"{c:>14.14s}" for c in cols))
    for name, r in results.items():
        lines.append(f"{name:16s} {r['attributes']:4d} {r['hidden_dim']:5d} "
                     f"{r['our_parameters']:>9d}/{r['their_parameters']:<10d} " + " ".join(f"{r[c]:14.2e}" for c in cols))
    lines += ["", "columns: max relative difference of the predictions (fused and direct zslkit paths), max absolute",
              "difference of the attention maps, max relative gradient difference over every parameter, max relative",
              "difference of the predictions after 5 identical SGD steps. Parameters whose gradient is 0 up to",
              "rounding in the authors' model (below 1e-5 of the largest; the key bias, which cancels in the",
              "softmax) are listed below with both maxima instead. AWA2's parameter counts differ by the authors'",
              "two unused A = 85 parameters W (300 x 2048) and V (2048 x 85)."]
    lines += [f"zero-gradient parameters, {name}: {', '.join(r['gradient_zero_parameters']) or 'none'}"
              for name, r in results.items()]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".txt").write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps({"reference_commit": commit, "cases": results}, indent=1))


if __name__ == "__main__":
    main()
