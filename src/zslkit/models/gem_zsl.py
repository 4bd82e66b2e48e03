r"""GEM-ZSL: Goal-Oriented Gaze Estimation for Zero-Shot Learning (Liu et al., CVPR 2021), as its authors' code builds it.

Reference: ``GEMNet`` in the authors' code (osierboy/GEM-ZSL, ``GEMZSL/modeling/GEMModel/GEMNet.py``),
whose losses ReZSL's code base reuses (``REZSL/modeling/LossModule/attentionLoss.py``). Checked
formula by formula (``docs/PARITY.md``, ``tests/models/test_gem_zsl.py``).

Inputs: a ResNet feature map F (B x C x h x w; ResNet-101 at 448 px: 2048 x 14 x 14, R = h w
positions :math:`F_r`) and the word vectors :math:`w_a` of the A attribute names (A x L, raw).

* Global branch, the prediction: :math:`\hat s = V^\top \bar F` (A), :math:`\bar F` the mean over
  positions, V a (C x A) parameter initialised N(0, 1) (no bias). Class scores are
  :math:`\cos(\hat s, s_c)`, scaled by :math:`\tau` (``scale``, 20; 25 for SUN) in training.
* Attribute attention (the "gaze"): queries :math:`q = w W` (A x C), W an (L x C) parameter
  initialised N(0, 1); :math:`\alpha_{ar} = \mathrm{softmax}_r \langle q_a, F_r\rangle` (no scaling);
  :math:`m_a = \max_r \alpha_{ar}` (max-pooling of each attention map).

Training loss (:class:`GEMZSLLoss`), weights :math:`\lambda_1, \lambda_2, \lambda_3` (the authors' CUB and
AWA2: 1.0, 0.1, 0.2; SUN: 0.5, 0.1, 0.2):

* :math:`L_{cls}` = cross-entropy of :math:`\tau \cos(\hat s, s_c)` over the seen classes;
* :math:`L_{reg}` (``loss="gem"``, the paper's) = mean squared error between the max-pooled attention
  :math:`m` and the image's class attributes :math:`s_y` (plain MSE, no normalisation; with xlsa17's
  L2-normalised ``att``). ReZSL's code plugs its regression losses into the same model on the
  global prediction instead: ``loss="mse"`` (RegNorm'ed MSE of :math:`\hat s` vs :math:`s_y`) or
  ``loss="remse"`` (:class:`zslkit.losses.ReMSELoss` on it);
* :math:`L_{ad}` (attribute decorrelation) = mean over attribute groups g of the mean over channels
  of :math:`\| q_{g,\cdot} \|_2` (the norm over the group's attributes, per channel): attributes of one
  group (e.g. CUB's 15 wing colours) compete for channels;
* :math:`L_{cpt}` (compactness) = mean over images, attributes and positions of
  :math:`\alpha_{ar}\,\|p_r - p^*_a\|^2`, :math:`p^*_a` the position of the map's maximum (grid units):
  each attention map concentrates around its peak.

Attribute groups (:func:`attribute_groups`): names of the form ``group::value`` are grouped by
their prefix (CUB: ``has_bill_shape::dagger`` -> ``has_bill_shape``, 28 groups); without names the
partitions of the GEM-ZSL authors for CUB (28), AWA2 (9) and SUN (4 groups) are used
(:data:`AUTHORS_GROUPS`), written here as index lists.

The backbone: the authors fine-tune ResNet-101 (all parameters trainable).
"""

from __future__ import annotations

import itertools
from typing import Any, Callable, NamedTuple, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zslkit.errors import ConfigError, ZSLDataError
from zslkit.losses.remse import ReMSELoss, regnorm
from zslkit.models.backbones import ImageLevelModel, as_float_tensor, check_real

__all__ = ["AUTHORS_GROUPS", "GEMZSL", "GEMZSLLoss", "GEMZSLOutput", "attribute_groups"]


def _ranges(*spans: tuple[int, int] | list[int]) -> list[list[int]]:
    out = []
    for s in spans:
        out.append(list(range(*s)) if isinstance(s, tuple) else list(s))
    return out


def _consecutive(sizes: Sequence[int]) -> list[list[int]]:
    starts = list(itertools.accumulate([0, *sizes[:-1]]))
    return [list(range(a, a + n)) for a, n in zip(starts, sizes)]


#: The GEM-ZSL authors' attribute groups, as index lists: CUB's 28 (its attribute-name prefixes,
#: ``has_bill_shape::...``, in the order of ``attributes.txt``), AWA2's 9 and SUN's 4.
AUTHORS_GROUPS: dict[str, list[list[int]]] = {
    "CUB": _consecutive([9, 15, 15, 15, 4, 15, 6, 15, 11, 15, 15, 14, 3, 15, 15, 15, 15, 5, 5, 14, 4, 4, 4, 15, 15, 15,
                         15, 4]),
    "AWA2": _ranges((0, 8), (8, 14), (14, 18), list(range(18, 34)) + [44, 45], (34, 44), (46, 51), (51, 63),
                    (63, 78), (78, 85)),
    "SUN": _ranges((0, 36), list(range(36, 74)) + [80, 99], [74, 75, 76, 77, 78, 79, 81, 82, 83, 84],
                   list(range(85, 99)) + [100, 101]),
}
AUTHORS_GROUPS["AWA1"] = AUTHORS_GROUPS["AWA2"]  # the same 85 attributes


def attribute_groups(num_attributes: int, attribute_names: Sequence[str] | None = None,
                     dataset: str | None = None) -> list[list[int]]:
    """Groups of attribute indices for the decorrelation loss.

    Names of the form ``group::value`` (CUB) are grouped by their prefix (consecutive runs);
    otherwise the authors' partition of ``dataset`` (CUB/AWA1/AWA2/SUN) is used when its size fits;
    otherwise every attribute is its own group (then :math:`L_{ad}` is the mean absolute query
    weight: a plain L1 penalty). Every index appears in exactly one group.
    """
    if attribute_names is not None and len(attribute_names) == num_attributes and \
            all("::" in str(n) for n in attribute_names):
        groups, start = [], 0
        for _, run in itertools.groupby(str(n).split("::")[0] for n in attribute_names):
            size = len(list(run))
            groups.append(list(range(start, start + size)))
            start += size
        return groups
    if dataset is not None:
        key = str(dataset).upper()
        if key in AUTHORS_GROUPS and sum(len(g) for g in AUTHORS_GROUPS[key]) == num_attributes:
            return [list(g) for g in AUTHORS_GROUPS[key]]
    return [[a] for a in range(num_attributes)]


class GEMZSLOutput(NamedTuple):
    """What :meth:`GEMZSL.forward` returns (B images, A attributes, h x w positions)."""

    semantic: Tensor  # (B, A) global prediction V^T mean_r F_r: the one classes are scored with
    attention: Tensor  # (B, A, h, w) softmax attention of every attribute
    attention_max: Tensor  # (B, A) max-pooled attention m_a (regressed to the attributes in GEM-ZSL)
    query: Tensor  # (A, C) attribute queries w W


class GEMZSL(ImageLevelModel):
    """GEM-ZSL's network (formulas in the module docstring).

    Args:
        attribute_vectors: (A, L) word vectors of the attribute names, used raw.
        feature_channels: C; optional with a backbone (read from its ``out_channels``).
        backbone: None (inputs are cached (B, C, h, w) maps) or a ResNet from
            :func:`zslkit.models.backbones.resnet_backbone`.
        freeze_backbone: True: no gradient to the backbone (the authors fine-tune it).
        scale: tau of the training logits (20; 25 for SUN).

    Parameters (the authors' names): ``W`` (L x C), ``V`` (C x A); buffer ``attribute_vectors``.
    """

    def __init__(self, attribute_vectors: Tensor, feature_channels: int | None = None, *,
                 backbone: nn.Module | None = None, freeze_backbone: bool = True, scale: float = 20.0):
        super().__init__()
        vectors = as_float_tensor(attribute_vectors, "attribute_vectors")
        self._init_backbone(feature_channels, backbone, freeze_backbone)
        if getattr(backbone, "tokens", False):
            raise ConfigError("GEM-ZSL needs spatial feature maps (its compactness loss works on the h x w grid): "
                              "use a ResNet backbone, not a ViT")
        self.scale = check_real("scale", scale, positive=True)
        self.num_attributes, self.word_dim = (int(v) for v in vectors.shape)
        self.register_buffer("attribute_vectors", vectors.clone())
        self.W = nn.Parameter(torch.randn(self.word_dim, self.feature_channels))
        self.V = nn.Parameter(torch.randn(self.feature_channels, self.num_attributes))

    def config(self) -> dict[str, Any]:
        return {"architecture": "gem-zsl", "num_attributes": self.num_attributes, "word_dim": self.word_dim,
                "feature_channels": self.feature_channels, "scale": self.scale, **self.backbone_config()}

    @classmethod
    def from_config(cls, config: dict[str, Any], backbone: nn.Module | None = None) -> "GEMZSL":
        backbone = cls.backbone_from_config(config, backbone)
        vectors = torch.zeros(int(config["num_attributes"]), int(config["word_dim"]))
        vectors[:, 0] = 1.0  # placeholder; the state dict overwrites it
        return cls(vectors, int(config["feature_channels"]), backbone=backbone,
                   freeze_backbone=bool(config.get("freeze_backbone", True)), scale=float(config["scale"]))

    def queries(self) -> Tensor:
        """(A, C) attribute queries w W."""
        return self.attribute_vectors @ self.W

    def forward(self, x: Tensor) -> GEMZSLOutput:
        fmap = self.feature_map(x)
        if fmap.ndim != 4:
            raise ZSLDataError(f"GEM-ZSL needs (B, C, h, w) feature maps, got {tuple(fmap.shape)}")
        b, c, h, w = fmap.shape
        flat = fmap.flatten(2)  # (B, C, R)
        semantic = flat.mean(dim=2) @ self.V.to(flat.dtype)  # (B, A)
        q = self.queries().to(flat.dtype)  # (A, C)
        attention = torch.softmax(torch.einsum("ac,bcr->bar", q, flat), dim=-1)  # (B, A, R)
        return GEMZSLOutput(semantic, attention.view(b, self.num_attributes, h, w), attention.amax(dim=-1), q)

    def logits(self, semantic: Tensor, class_semantic: Tensor) -> Tensor:
        return self.scale * self.cosine_scores(semantic, class_semantic)

    def extra_repr(self) -> str:
        return (f"attributes={self.num_attributes}, word_dim={self.word_dim}, channels={self.feature_channels}, "
                f"scale={self.scale}, backbone={'none (feature maps)' if self.backbone is None else 'yes'}")


def decorrelation_loss(query: Tensor, groups: Sequence[Sequence[int]]) -> Tensor:
    """L_ad: mean over groups of mean over channels of the L2 norm of the group's query rows."""
    return torch.stack([query[list(g)].norm(p=2, dim=0).mean() for g in groups]).mean()


def compactness_loss(attention: Tensor) -> Tensor:
    """L_cpt: mean of alpha_ar * squared grid distance of position r to the peak of map a (B, A, h, w)."""
    b, a, h, w = attention.shape
    peak = attention.detach().flatten(2).argmax(dim=-1)  # (B, A); the peak position carries no gradient
    py, px = (peak // w).to(attention.dtype), (peak % w).to(attention.dtype)
    ys = torch.arange(h, device=attention.device, dtype=attention.dtype).view(1, 1, h, 1)
    xs = torch.arange(w, device=attention.device, dtype=attention.dtype).view(1, 1, 1, w)
    dist = (ys - py[..., None, None]) ** 2 + (xs - px[..., None, None]) ** 2
    return (attention * dist).mean()


class GEMZSLLoss(nn.Module):
    r""":math:`L_{cls} + \lambda_1 L_{reg} + \lambda_2 L_{ad} + \lambda_3 L_{cpt}` (module docstring).

    Args:
        class_semantic: (Cs, A) semantic vectors of the training classes; labels index its rows.
        groups: attribute groups of :math:`L_{ad}` (:func:`attribute_groups`).
        lambda_reg, lambda_ad, lambda_cpt: the weights (the authors' CUB: 1.0, 0.1, 0.2).
        loss: "gem" (MSE of the max-pooled attention, the paper's), "mse" or "remse" (ReZSL's
            regression losses on the global prediction).
        p, p2, mode: ReMSE settings (``loss="remse"``).
        scale: tau of the logits.
        reduce_fn: as in :class:`zslkit.models.attention_net.AttentionNetLoss` (in-batch ReMSE
            over the global batch under DDP).

    ``forward(output: GEMZSLOutput, labels) -> (loss, {"ce", "reg", "ad", "cpt"})``.
    """

    def __init__(self, class_semantic: Tensor, groups: Sequence[Sequence[int]], lambda_reg: float = 1.0,
                 lambda_ad: float = 0.1, lambda_cpt: float = 0.2, loss: str = "gem", p: float = 0.1,
                 p2: float = 0.75, mode: str = "in_batch", scale: float = 20.0,
                 reduce_fn: Callable[[Tensor], Tensor] | None = None):
        super().__init__()
        sem = as_float_tensor(class_semantic, "class_semantic")
        if loss not in ("gem", "mse", "remse"):
            raise ConfigError(f"GEM-ZSL loss must be 'gem', 'mse' or 'remse', got {loss!r}")
        for name, value in (("lambda_reg", lambda_reg), ("lambda_ad", lambda_ad), ("lambda_cpt", lambda_cpt)):
            if check_real(name, value) < 0:
                raise ConfigError(f"{name} must be >= 0, got {value!r}")
        flat = sorted(i for g in groups for i in g)
        if flat != list(range(sem.shape[1])):
            raise ConfigError(f"attribute groups must partition the {sem.shape[1]} attributes (each index once)")
        self.register_buffer("class_semantic", sem, persistent=False)
        self.groups = [list(g) for g in groups]
        self.lambda_reg, self.lambda_ad, self.lambda_cpt = float(lambda_reg), float(lambda_ad), float(lambda_cpt)
        self.loss = loss
        self.scale = check_real("scale", scale, positive=True)
        self.remse = ReMSELoss(sem.shape[0], p=p, p2=p2, mode=mode) if loss == "remse" else None
        self.reduce_fn = reduce_fn

    def forward(self, output: GEMZSLOutput, labels: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        with torch.autocast(device_type=output.semantic.device.type, enabled=False):
            return self._forward(output, labels.to(device=output.semantic.device, dtype=torch.long))

    def _forward(self, out: GEMZSLOutput, labels: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        sem = self.class_semantic.to(out.semantic.device)
        pred = out.semantic.float()
        ce = F.cross_entropy(self.scale * (F.normalize(pred, dim=1) @ F.normalize(sem, dim=1).T), labels)
        target = sem[labels]
        if self.loss == "gem":
            reg = F.mse_loss(out.attention_max.float(), target)
        elif self.remse is None:
            reg = ((regnorm(pred) - regnorm(target)) ** 2).mean()
        else:
            reg = self.remse(pred, target, labels)
        ad = decorrelation_loss(out.query.float(), self.groups)
        cpt = compactness_loss(out.attention.float())
        loss = ce + self.lambda_reg * reg + self.lambda_ad * ad + self.lambda_cpt * cpt
        return loss, {"ce": ce.detach(), "reg": reg.detach(), "ad": ad.detach(), "cpt": cpt.detach()}
