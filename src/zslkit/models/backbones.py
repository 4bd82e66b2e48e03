"""Backbones of the image-level models, and what those models share about them.

* :func:`resnet_backbone`: a torchvision ResNet (18/34/50/101/152) truncated after ``layer4``:
  (B, 3, H, W) -> (B, C, H/32, W/32) feature maps (ResNet-101 at 448 px: 2048 x 14 x 14).
* :func:`tiny_backbone`: a small CNN, (B, 3, S, S) -> (B, 64, S/4, S/4), for tests and synthetic
  image worlds on CPU.
* :func:`vit_backbone`: a torchvision ViT (B/16, B/32, L/16, L/32) whose output is its token
  sequence, channels first: (B, 3, S, S) -> (B, C, 1 + N), the global (class) token first and
  then the N patch tokens (ViT-B/16 at 224 px: 768 x (1 + 196)); this is the layout the ReZSL
  authors feed their models (they concatenate the global token in front of the patch tokens).
  The encoder ends with its final LayerNorm, as the authors' timm wrapper does.

Both take a state dict the caller has read (models never read files;
:func:`zslkit.training.checkpoint.read_backbone_weights` reads one weights-only); nothing is
downloaded. The returned modules carry ``out_channels`` (C), ``arch`` and ``tokens`` (True for
ViTs).

:class:`ImageLevelModel` is the base of AttentionNet, GEM-ZSL and BasicNet: an optional
backbone, frozen (no gradient, eval mode: fixed BatchNorm statistics, so that its outputs equal
cached ones) or fine-tuned, and a head on its (B, C, h, w) maps or (B, C, R) tokens. Without a
backbone the model takes cached maps/tokens directly.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any

import torch
from torch import Tensor, nn

from zslkit.errors import CheckpointError, ConfigError, ZSLDataError, did_you_mean

__all__ = ["BACKBONES", "RESNETS", "TINY", "VITS", "ImageLevelModel", "build_backbone", "resnet_backbone",
           "tiny_backbone", "vit_backbone"]

#: torchvision ResNets usable as backbones, with their output channels.
RESNETS: dict[str, int] = {"resnet18": 512, "resnet34": 512, "resnet50": 2048, "resnet101": 2048, "resnet152": 2048}
#: torchvision ViTs usable as backbones, with their token width.
VITS: dict[str, int] = {"vit_b_16": 768, "vit_b_32": 768, "vit_l_16": 1024, "vit_l_32": 1024}
#: a small CNN for tests and synthetic worlds (random initialisation, or weights the caller has)
TINY: dict[str, int] = {"tiny": 64}
BACKBONES: dict[str, int] = {**RESNETS, **VITS, **TINY}


def _load_matching(net: nn.Module, state_dict: dict[str, Tensor], arch: str, skip: tuple[str, ...]) -> None:
    own = {k for k in net.state_dict() if not k.startswith(skip)}
    given = {k for k in state_dict if not k.startswith(skip)}
    missing, unexpected = sorted(own - given), sorted(given - own)
    if missing or unexpected:
        raise CheckpointError(f"backbone weights do not fit torchvision {arch}: {len(missing)} missing keys "
                              f"{missing[:5]}, {len(unexpected)} unexpected keys {unexpected[:5]}")
    try:
        net.load_state_dict({k: v for k, v in state_dict.items() if not k.startswith(skip)}, strict=False)
    except RuntimeError as exc:  # shape mismatches
        raise CheckpointError(f"backbone weights do not fit torchvision {arch}: {exc}") from exc


def resnet_backbone(arch: str = "resnet101", state_dict: dict[str, Tensor] | None = None) -> nn.Sequential:
    """A torchvision ResNet without its pooling and classifier: (B, 3, H, W) -> (B, C, H/32, W/32).

    Args:
        arch: one of :data:`RESNETS`.
        state_dict: weights of the *full* torchvision model (``fc.*`` keys are ignored) or of
            the truncated one; None leaves the random initialisation (tests, or training
            from scratch). Missing or unexpected keys raise :class:`CheckpointError` listing them.
    """
    if arch not in RESNETS:
        raise ConfigError(f"unknown ResNet backbone {arch!r}{did_you_mean(arch, RESNETS)}; choose one of "
                          f"{sorted(RESNETS)}")
    import torchvision

    net = getattr(torchvision.models, arch)(weights=None)
    if state_dict is not None:
        _load_matching(net, state_dict, arch, skip=("fc.",))
    body = nn.Sequential(OrderedDict((name, getattr(net, name)) for name in
                                     ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")))
    body.out_channels = RESNETS[arch]  # type: ignore[assignment]
    body.arch = arch  # type: ignore[assignment]
    body.tokens = False  # type: ignore[assignment]
    return body


class ViTTokens(nn.Module):
    """A torchvision ``VisionTransformer`` returning its tokens: (B, 3, S, S) -> (B, C, 1 + N).

    Patch embedding, class token in front, position embedding, encoder blocks and the final
    LayerNorm; the classification head is not used.
    """

    def __init__(self, vit: nn.Module, arch: str):
        super().__init__()
        self.vit = vit
        self.arch = arch
        self.out_channels = int(vit.hidden_dim)
        self.tokens = True
        self.image_size = int(vit.image_size)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            raise ZSLDataError(f"{self.arch} expects (B, 3, {self.image_size}, {self.image_size}) images, got "
                               f"{tuple(x.shape)}")
        t = self.vit._process_input(x)  # (B, N, C) patch embeddings
        t = torch.cat([self.vit.class_token.expand(t.shape[0], -1, -1), t], dim=1)
        return self.vit.encoder(t).transpose(1, 2)  # (B, C, 1 + N)


def vit_backbone(arch: str = "vit_b_16", state_dict: dict[str, Tensor] | None = None,
                 image_size: int = 224) -> ViTTokens:
    """A torchvision ViT as a token backbone (see :class:`ViTTokens`).

    Args:
        arch: one of :data:`VITS`.
        state_dict: torchvision's state dict of that model (``heads.*`` keys ignored), or None.
        image_size: input resolution; the position embedding of the weights must match it
            (torchvision's ViT weights are for 224 px).
    """
    if arch not in VITS:
        raise ConfigError(f"unknown ViT backbone {arch!r}{did_you_mean(arch, VITS)}; choose one of {sorted(VITS)}")
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 32:
        raise ConfigError(f"image_size must be an integer >= 32, got {image_size!r}")
    import torchvision

    net = getattr(torchvision.models, arch)(weights=None, image_size=image_size)
    if state_dict is not None:
        _load_matching(net, state_dict, arch, skip=("heads.",))
    return ViTTokens(net, arch)


def tiny_backbone(state_dict: dict[str, Tensor] | None = None, widths: tuple[int, ...] = (16, 32, 64)) -> nn.Sequential:
    """A small CNN: (B, 3, S, S) -> (B, 64, S/4, S/4) maps (conv3x3-BN-ReLU stages, 2x2 max-pooling
    between them). For tests and synthetic image worlds on CPU; not a pretrained model."""
    layers: list[tuple[str, nn.Module]] = []
    c_in = 3
    for i, w in enumerate(widths):
        layers += [(f"conv{i}", nn.Conv2d(c_in, w, 3, padding=1, bias=False)), (f"bn{i}", nn.BatchNorm2d(w)),
                   (f"relu{i}", nn.ReLU(inplace=True))]
        if i < len(widths) - 1:
            layers.append((f"pool{i}", nn.MaxPool2d(2)))
        c_in = w
    body = nn.Sequential(OrderedDict(layers))
    if state_dict is not None:
        _load_matching(body, state_dict, "tiny", skip=())
    body.out_channels = widths[-1]  # type: ignore[assignment]
    body.arch = "tiny"  # type: ignore[assignment]
    body.tokens = False  # type: ignore[assignment]
    return body


def build_backbone(arch: str, state_dict: dict[str, Tensor] | None = None, image_size: int = 224) -> nn.Module:
    """:func:`resnet_backbone`, :func:`vit_backbone` or :func:`tiny_backbone` by name."""
    if arch in RESNETS:
        return resnet_backbone(arch, state_dict)
    if arch in VITS:
        return vit_backbone(arch, state_dict, image_size=image_size)
    if arch in TINY:
        return tiny_backbone(state_dict)
    raise ConfigError(f"unknown backbone {arch!r}{did_you_mean(arch, BACKBONES)}; choose one of {sorted(BACKBONES)}")


def check_real(name: str, value: Any, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite real number, got {value!r}")
    if positive and value <= 0:
        raise ConfigError(f"{name} must be > 0, got {value!r}")
    return float(value)


def check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def as_float_tensor(value: Any, name: str) -> Tensor:
    """A finite, non-empty 2-D float32 tensor (rows x dims), or :class:`ZSLDataError` naming ``name``."""
    t = torch.as_tensor(value)
    if t.ndim != 2 or t.shape[0] == 0 or t.shape[1] == 0:
        raise ZSLDataError(f"{name} must be a 2-D (rows x dims) array, got shape {tuple(t.shape)}")
    if not torch.is_floating_point(t):
        t = t.float()
    if not bool(torch.isfinite(t).all()):
        raise ZSLDataError(f"{name} contains NaN or inf")
    return t.float()


class ImageLevelModel(nn.Module):
    """Base of the models that read feature maps or tokens (optionally through a backbone).

    Subclasses set ``self.feature_channels`` (via :meth:`_init_backbone`) and implement
    ``forward``; :meth:`feature_map` turns images into maps (or checks cached maps).
    """

    backbone: nn.Module | None

    def _init_backbone(self, feature_channels: int | None, backbone: nn.Module | None, freeze_backbone: bool) -> None:
        if feature_channels is None:
            feature_channels = getattr(backbone, "out_channels", None)
            if feature_channels is None:
                raise ConfigError("feature_channels is required (without a backbone, or with a backbone that has "
                                  "no out_channels attribute)")
        self.feature_channels = check_int("feature_channels", feature_channels, 1)
        self.freeze_backbone = bool(freeze_backbone)
        self.backbone = backbone
        if backbone is not None and self.freeze_backbone:
            for p in backbone.parameters():
                p.requires_grad_(False)

    def backbone_config(self) -> dict[str, Any]:
        b = self.backbone
        return {"backbone": getattr(b, "arch", None) if b is not None else None, "has_backbone": b is not None,
                "freeze_backbone": self.freeze_backbone,
                "backbone_image_size": getattr(b, "image_size", None) if b is not None else None}

    @staticmethod
    def backbone_from_config(config: dict[str, Any], backbone: nn.Module | None) -> nn.Module | None:
        """The backbone named in a model config (random weights; a state dict fills them), or ``backbone``."""
        if backbone is not None or not config.get("has_backbone"):
            return backbone
        arch = config.get("backbone")
        if arch not in BACKBONES:
            raise CheckpointError(f"model config names backbone {arch!r}; pass the backbone module explicitly")
        return build_backbone(arch, image_size=int(config.get("backbone_image_size") or 224))

    def train(self, mode: bool = True) -> "ImageLevelModel":
        super().train(mode)
        if self.backbone is not None and self.freeze_backbone:
            self.backbone.eval()  # frozen: BatchNorm statistics stay fixed
        return self

    def feature_map(self, x: Tensor) -> Tensor:
        """(B, C, h, w) or (B, C, R) backbone output for images (with a backbone), or the given input (without)."""
        if not isinstance(x, Tensor) or x.ndim not in (3, 4):
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ZSLDataError(f"{type(self).__name__} input must be a 4-D tensor (B, channels, height, width) or, "
                               f"for tokens, a 3-D tensor (B, channels, positions), got {shape}")
        if self.backbone is None:
            fmap = x
        elif self.freeze_backbone:
            with torch.no_grad():
                fmap = self.backbone(x)
        else:
            fmap = self.backbone(x)
        if fmap.ndim not in (3, 4) or fmap.shape[1] != self.feature_channels:
            what = "backbone output" if self.backbone is not None else "feature map"
            raise ZSLDataError(f"{what} must have shape (B, {self.feature_channels}, h, w) or "
                               f"(B, {self.feature_channels}, positions), got {tuple(fmap.shape)}")
        return fmap

    @staticmethod
    def cosine_scores(semantic: Tensor, class_semantic: Tensor) -> Tensor:
        """cos(s_hat, s_c): (B, A) x (C', A) -> (B, C'), the test-time class scores."""
        import torch.nn.functional as F

        return F.normalize(semantic.float(), dim=1) @ F.normalize(class_semantic.float(), dim=1).T
