"""Parity check: zslkit's GEM-ZSL and BasicNet beside the authors' models, on identical inputs.

Run from the repository root with checkouts of the authors' public code (nothing of it is part of
zslkit, and nothing is downloaded)::

    python benchmarks/parity_image_models.py --gem-dir /path/to/GEM-ZSL --rezsl-dir /path/to/ReZSL-TIP23

* GEM-ZSL (osierboy/GEM-ZSL, ``GEMZSL/modeling/GEMModel/GEMNet.py``): the authors' ``GEMNet`` is
  built from their file (its two package imports, the ResNet builder and a helper module, are
  stubbed: an identity backbone takes the feature maps), on CUB shapes (312 attributes with the REAL
  word vectors and their attribute groups, 2048 x 14 x 14 maps). Its training-mode forward returns its
  four losses; zslkit's :class:`~zslkit.models.gem_zsl.GEMZSL` gets the same parameters (``W``, ``V``)
  and :class:`~zslkit.models.gem_zsl.GEMZSLLoss` the same batch; compared: the class scores (eval
  mode), each loss, and the gradients of ``W`` and ``V`` of the weighted sum (1, 1.0, 0.1, 0.2).
* BasicNet (FouriYe/ReZSL-TIP23, ``REZSL/modeling/Model/mainModel.py``): the authors' ``BasicNet``
  with and without the hidden layer (AWA2-like: 85 attributes, hidden 4096) on ResNet maps and on ViT
  tokens; its state dict is loaded into zslkit's :class:`~zslkit.models.basic_net.BasicNet` (names
  ``v2s`` / ``v2hid`` / ``hid2s`` -> ``head`` / ``hidden``); predictions compared.

Output: ``benchmarks/results/parity_image_models.txt`` (and ``.json``), with the reference commits.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
try:
    import zslkit  # noqa: F401
except ImportError:  # not installed: use the source tree next to this script
    sys.path.insert(0, str(ROOT / "src"))

from zslkit.models.basic_net import BasicNet  # noqa: E402
from zslkit.models.gem_zsl import GEMZSL, GEMZSLLoss, attribute_groups  # noqa: E402

W2V = ROOT.parent / "shared" / "data" / "word-vectors"


def _commit(path: Path) -> str:
    try:
        return subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"


def _load_file(path: Path, name: str, stubs: dict[str, types.ModuleType] | None = None) -> types.ModuleType:
    for mod_name, mod in (stubs or {}).items():
        sys.modules[mod_name] = mod
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def gem_parity(gem_dir: Path) -> dict:
    pkg = types.ModuleType("GEMZSL")
    modeling = types.ModuleType("GEMZSL.modeling")
    backbone = types.ModuleType("GEMZSL.modeling.backbone")
    backbone.resnet101_features = lambda **kw: torch.nn.Identity()
    utils = types.ModuleType("GEMZSL.modeling.utils")
    pkg.modeling, modeling.backbone, modeling.utils = modeling, backbone, utils
    mod = _load_file(gem_dir / "GEMZSL" / "modeling" / "GEMModel" / "GEMNet.py", "gem_reference",
                     {"GEMZSL": pkg, "GEMZSL.modeling": modeling, "GEMZSL.modeling.backbone": backbone,
                      "GEMZSL.modeling.utils": utils})
    names = [n for n in (W2V / "CUB_attribute_names.txt").read_text().split("\n") if n.strip()]
    w2v = np.load(W2V / "CUB_attribute_w2v.npy")
    groups = attribute_groups(312, names)
    torch.manual_seed(0)
    theirs = mod.GEMNet(torch.nn.Identity(), 448, 2048, 14, 14, 312, 200, 50,
                        {i + 1: g for i, g in enumerate(groups)}, w2v, scale=20.0, device="cpu")
    ours = GEMZSL(torch.from_numpy(w2v), 2048)
    with torch.no_grad():
        ours.W.copy_(theirs.W)
        ours.V.copy_(theirs.V)
    g = torch.Generator().manual_seed(1)
    x = torch.relu(torch.randn(4, 2048, 14, 14, generator=g))
    seen = torch.rand(150, 312, generator=g)
    seen = seen / seen.norm(dim=1, keepdim=True)  # xlsa17's att is L2-normalised per class
    labels = torch.tensor([0, 7, 7, 149])
    theirs.train()
    losses = theirs(x, att=seen[labels], label=labels, seen_att=seen)
    total = losses["Cls_loss"] + 1.0 * losses["Reg_loss"] + 0.1 * losses["AD_loss"] + 0.2 * losses["CPT_loss"]
    total.backward()
    out = ours(x)
    loss, parts = GEMZSLLoss(seen, groups, lambda_reg=1.0, lambda_ad=0.1, lambda_cpt=0.2)(out, labels)
    loss.backward()
    res = {"loss_rel_diff": {o: abs(float(parts[o]) - float(losses[t].detach())) / abs(float(losses[t].detach()))
                             for o, t in (("ce", "Cls_loss"), ("reg", "Reg_loss"), ("ad", "AD_loss"),
                                          ("cpt", "CPT_loss"))},
           "total_rel_diff": abs(float(loss.detach()) - float(total.detach())) / abs(float(total.detach())),
           "grad_W_max_rel_diff": float((ours.W.grad - theirs.W.grad).abs().max() / theirs.W.grad.abs().max()),
           "grad_V_max_rel_diff": float((ours.V.grad - theirs.V.grad).abs().max() / theirs.V.grad.abs().max())}
    theirs.eval()
    with torch.no_grad():
        ref = theirs(x, seen_att=seen)  # eval mode: the scaled cosine scores
        mine = ours.logits(ours(x).semantic, seen)
    res["scores_max_abs_diff"] = float((mine - ref).abs().max())
    res["scores_scale"] = float(ref.abs().max())
    return res


def basic_net_parity(rezsl_dir: Path) -> dict:
    mod = _load_file(rezsl_dir / "REZSL" / "modeling" / "Model" / "mainModel.py", "rezsl_reference_main_model")

    class Tokens(torch.nn.Module):  # stands in for their ViT wrapper: (global, patches)
        def forward(self, t):
            return t[:, :, 0], t[:, :, 1:].permute(0, 2, 1)

    out = {}
    g = torch.Generator().manual_seed(2)
    for name, hid, tokens in (("resnet, linear", 0, False), ("resnet, hidden 4096", 4096, False),
                              ("vit tokens, linear", 0, True)):
        torch.manual_seed(0)
        c = 768 if tokens else 2048
        theirs = mod.BasicNet(Tokens() if tokens else torch.nn.Identity(), "vit" if tokens else "resnet", False,
                              448, hid, c, 14, 14, 85, 50, 10, scale=20.0, device="cpu").eval()
        sd = theirs.state_dict()
        mapped = ({"hidden.weight": sd["v2hid.0.weight"], "hidden.bias": sd["v2hid.0.bias"],
                   "head.weight": sd["hid2s.0.weight"], "head.bias": sd["hid2s.0.bias"]} if hid else
                  {"head.weight": sd["v2s.0.weight"], "head.bias": sd["v2s.0.bias"]})
        ours = BasicNet(85, c, hidden_dim=hid).eval()
        ours.load_state_dict(mapped)
        x = torch.randn(3, c, 197, generator=g) if tokens else torch.relu(torch.randn(3, c, 14, 14, generator=g))
        with torch.no_grad():
            ref = theirs(x, None)
            mine = ours(x).semantic
        out[name] = float((mine - ref).abs().max() / ref.abs().max())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gem-dir", type=Path, required=True, help="a checkout of osierboy/GEM-ZSL")
    ap.add_argument("--rezsl-dir", type=Path, required=True, help="a checkout of FouriYe/ReZSL-TIP23")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "parity_image_models")
    args = ap.parse_args()
    torch.set_num_threads(1)
    gem = gem_parity(args.gem_dir)
    basic = basic_net_parity(args.rezsl_dir)
    lines = ["Parity of image-level models: zslkit vs the authors' code on identical inputs (random weights and maps)",
             f"GEM-ZSL reference: osierboy/GEM-ZSL commit {_commit(args.gem_dir)}",
             f"BasicNet reference: FouriYe/ReZSL-TIP23 commit {_commit(args.rezsl_dir)}", "",
             "GEM-ZSL, CUB shapes (REAL attribute word vectors and groups, 2048 x 14 x 14 maps, batch of 4):"]
    for k, v in gem["loss_rel_diff"].items():
        lines.append(f"  loss {k:4s} relative difference {v:.2e}")
    lines += [f"  weighted total (1, 1.0, 0.1, 0.2) relative difference {gem['total_rel_diff']:.2e}",
              f"  gradient of W, max relative difference {gem['grad_W_max_rel_diff']:.2e}",
              f"  gradient of V, max relative difference {gem['grad_V_max_rel_diff']:.2e}",
              f"  class scores (20 cos), max abs difference {gem['scores_max_abs_diff']:.2e} (scores up to "
              f"{gem['scores_scale']:.1f}; the authors add 1e-5 to the norms)", "",
              "BasicNet (85 attributes), max relative difference of the predictions:"]
    lines += [f"  {k:22s} {v:.2e}" for k, v in basic.items()]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".txt").write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps({"gem_zsl": gem, "basic_net": basic,
                                                         "gem_commit": _commit(args.gem_dir),
                                                         "rezsl_commit": _commit(args.rezsl_dir)}, indent=1))


if __name__ == "__main__":
    main()
