r"""AttentionNet: ReZSL's attribute-attention model (Ye et al., IEEE TIP 2023).

A backbone turns an image into a feature map :math:`F` (B x C x h x w; ResNet-101 at
448 px gives 2048 x 14 x 14). With R = h w spatial positions :math:`F_r \in \mathbb R^C`
and A attributes whose names have word vectors :math:`\omega_a` (A x D_w, 300-d word2vec
for CUB's 312 attributes):

* attribute queries :math:`q_a = \bar\omega_a W` (A x C), W (D_w x C) learned, with
  :math:`\bar\omega_a = \omega_a / \|\omega_a\|_2` (*choice*, see below);
* spatial attention per attribute :math:`\alpha_{a} = \mathrm{softmax}_r \langle q_a, F_r\rangle`
  (B x A x R), and the attended feature :math:`f_a = \sum_r \alpha_{ar} F_r` (B x A x C);
* attribute branch: :math:`\hat s^{att}_a = \langle U_a, f_a\rangle + c_a` (U: A x C);
* global branch: :math:`\hat s^{glob} = V\,\mathrm{avgpool}(F) + b` (a ``Linear(C, A)``);
* prediction :math:`\hat s = \hat s^{glob} + \rho\,\hat s^{att}` (B x A), ``ratio`` :math:`\rho = 1`.

Training loss (:class:`AttentionNetLoss`), over the seen classes' semantic matrix
:math:`\Phi_s` (Cs x A): cosine-scaled cross-entropy on
:math:`z_{nc} = \tau\cos(\hat s_n, \Phi_s[c])` with :math:`\tau = 20`, plus
:math:`\lambda_1` (0.25) times ReMSE (:class:`zslkit.losses.ReMSELoss`) or the plain
RegNorm'ed MSE between :math:`\hat s_n` and :math:`\Phi_s[y_n]`. At test time a class's
score is :math:`\cos(\hat s, s_c)` (unscaled; the calibration gamma is in cosine units).

Relation to the authors' code (``REZSL/modeling/Model/mainModel.py``): their
``AttentionNet`` adds key/value/output projections (``CrossModalAttentionModule``, med dim
1024) and shares one per-attribute weight between the pooled and attended features,
:math:`\hat s_a = \langle V_a, \mathrm{avgpool}(F) + \rho W_o f_a\rangle`; zslkit follows
METHODS.md (queries :math:`\omega W` directly on the feature map as in their GEMNet, a
separate global ``Linear`` and attribute head). *Choices*, documented: word vectors are
L2-normalised and W is initialised with std :math:`1/\sqrt{D_w}` (theirs: std 1 on raw
word2vec, which with 2048-channel post-ReLU maps makes every attention map one-hot at
initialisation); U is initialised like a ``Linear(C, 1)`` per attribute.

Backbones: :func:`resnet_backbone` builds a torchvision ResNet (18/34/50/101/152)
truncated after ``layer4``, from a state dict the caller has read (models never read
files; see :func:`zslkit.training.checkpoint.read_backbone_weights`). A frozen backbone
(default) gets no gradient and stays in eval mode (fixed BatchNorm statistics), so its
feature maps equal cached ones; a fine-tuned one trains with the rest. Without a
backbone, the model takes cached feature maps (B x C x h x w) directly: the mode in which
CPU users train the head.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any, Callable, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zslkit.errors import CheckpointError, ConfigError, ZSLDataError
from zslkit.losses.remse import ReMSELoss, regnorm, weights_from_error

__all__ = ["RESNETS", "AttentionNet", "AttentionNetLoss", "AttentionNetOutput", "resnet_backbone"]

#: torchvision ResNets usable as backbones, with their output channels.
RESNETS: dict[str, int] = {"resnet18": 512, "resnet34": 512, "resnet50": 2048, "resnet101": 2048, "resnet152": 2048}


class AttentionNetOutput(NamedTuple):
    """What :meth:`AttentionNet.forward` returns (B images, A attributes, h x w positions)."""

    semantic: Tensor  # (B, A) predicted semantic vector s_hat = global + ratio * attribute branch
    attention: Tensor  # (B, A, h, w) softmax attention of every attribute (sums to 1 over h x w)
    global_semantic: Tensor  # (B, A) global branch alone
    attribute_semantic: Tensor  # (B, A) attribute (attention) branch alone


def resnet_backbone(arch: str = "resnet101", state_dict: dict[str, Tensor] | None = None) -> nn.Sequential:
    """A torchvision ResNet without its pooling and classifier: (B, 3, H, W) -> (B, C, H/32, W/32).

    Args:
        arch: one of :data:`RESNETS`.
        state_dict: weights of the *full* torchvision model (``fc.*`` keys are ignored) or of
            the truncated one; None leaves the random initialisation (tests, or training
            from scratch). Missing or unexpected keys raise :class:`CheckpointError` listing them.

    The returned module has attributes ``out_channels`` (C) and ``arch``.
    """
    if arch not in RESNETS:
        raise ConfigError(f"unknown backbone {arch!r}; choose one of {sorted(RESNETS)}")
    import torchvision

    net = getattr(torchvision.models, arch)(weights=None)
    if state_dict is not None:
        own = {k for k in net.state_dict() if not k.startswith("fc.")}
        given = {k for k in state_dict if not k.startswith("fc.")}
        missing, unexpected = sorted(own - given), sorted(given - own)
        if missing or unexpected:
            raise CheckpointError(f"backbone weights do not fit torchvision {arch}: {len(missing)} missing keys "
                                  f"{missing[:5]}, {len(unexpected)} unexpected keys {unexpected[:5]}")
        try:
            net.load_state_dict({k: v for k, v in state_dict.items() if not k.startswith("fc.")}, strict=False)
        except RuntimeError as exc:  # shape mismatches
            raise CheckpointError(f"backbone weights do not fit torchvision {arch}: {exc}") from exc
    body = nn.Sequential(OrderedDict((name, getattr(net, name)) for name in
                                     ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")))
    body.out_channels = RESNETS[arch]  # type: ignore[assignment]
    body.arch = arch  # type: ignore[assignment]
    return body


def _as_float_tensor(value: Any, name: str) -> Tensor:
    t = torch.as_tensor(value)
    if t.ndim != 2 or t.shape[0] == 0 or t.shape[1] == 0:
        raise ZSLDataError(f"{name} must be a 2-D (rows x dims) array, got shape {tuple(t.shape)}")
    if not torch.is_floating_point(t):
        t = t.float()
    if not bool(torch.isfinite(t).all()):
        raise ZSLDataError(f"{name} contains NaN or inf")
    return t.float()


class AttentionNet(nn.Module):
    """ReZSL's AttentionNet (see module docstring for the formulas).

    Args:
        attribute_vectors: (A, D_w) word vectors of the attribute names.
        feature_channels: C, channels of the feature map; optional with a backbone from
            :func:`resnet_backbone` (read from its ``out_channels``).
        backbone: None (inputs are cached feature maps, B x C x h x w) or a module mapping
            images (B x 3 x H x W) to feature maps.
        freeze_backbone: True: the backbone gets no gradient and stays in eval mode.
        scale: tau of the training logits tau * cos(s_hat, s_c) (20 in ReZSL).
        ratio: rho, weight of the attribute branch in s_hat (1 in ReZSL).

    Input: (B, C, h, w) feature maps without a backbone, (B, 3, H, W) images with one.
    Output: :class:`AttentionNetOutput`.
    """

    def __init__(self, attribute_vectors: Tensor, feature_channels: int | None = None, *,
                 backbone: nn.Module | None = None, freeze_backbone: bool = True, scale: float = 20.0,
                 ratio: float = 1.0):
        super().__init__()
        vectors = _as_float_tensor(attribute_vectors, "attribute_vectors")
        if feature_channels is None:
            feature_channels = getattr(backbone, "out_channels", None)
            if feature_channels is None:
                raise ConfigError("feature_channels is required (without a backbone, or with a backbone that has "
                                  "no out_channels attribute)")
        if isinstance(feature_channels, bool) or not isinstance(feature_channels, int) or feature_channels < 1:
            raise ConfigError(f"feature_channels must be an integer >= 1, got {feature_channels!r}")
        for name, value in (("scale", scale), ("ratio", ratio)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ConfigError(f"{name} must be a finite real number, got {value!r}")
        if scale <= 0:
            raise ConfigError(f"scale must be > 0, got {scale!r}")
        num_attributes, word_dim = vectors.shape
        self.num_attributes = int(num_attributes)
        self.word_dim = int(word_dim)
        self.feature_channels = int(feature_channels)
        self.scale = float(scale)
        self.ratio = float(ratio)
        self.freeze_backbone = bool(freeze_backbone)
        # Kept in the state dict: a checkpoint is self-contained.
        self.register_buffer("attribute_vectors", vectors.clone())
        self.query_proj = nn.Parameter(torch.randn(self.word_dim, self.feature_channels) / math.sqrt(self.word_dim))
        bound = 1.0 / math.sqrt(self.feature_channels)
        self.attr_weight = nn.Parameter(torch.empty(self.num_attributes, self.feature_channels).uniform_(-bound, bound))
        self.attr_bias = nn.Parameter(torch.zeros(self.num_attributes))
        self.global_head = nn.Linear(self.feature_channels, self.num_attributes)
        self.backbone = backbone
        if backbone is not None and self.freeze_backbone:
            for p in backbone.parameters():
                p.requires_grad_(False)

    # -- configuration -----------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """Plain-type constructor settings (enough, with the state dict, to rebuild the model)."""
        return {"num_attributes": self.num_attributes, "word_dim": self.word_dim,
                "feature_channels": self.feature_channels, "scale": self.scale, "ratio": self.ratio,
                "backbone": getattr(self.backbone, "arch", None) if self.backbone is not None else None,
                "has_backbone": self.backbone is not None, "freeze_backbone": self.freeze_backbone}

    @classmethod
    def from_config(cls, config: dict[str, Any], backbone: nn.Module | None = None) -> "AttentionNet":
        """An untrained model shaped by :meth:`config` (load a state dict into it next).

        A ResNet backbone named in the config is rebuilt (random weights) when ``backbone`` is None.
        """
        if backbone is None and config.get("has_backbone"):
            arch = config.get("backbone")
            if arch not in RESNETS:
                raise CheckpointError(f"model config names backbone {arch!r}; pass the backbone module explicitly")
            backbone = resnet_backbone(arch)
        vectors = torch.zeros(int(config["num_attributes"]), int(config["word_dim"]))
        vectors[:, 0] = 1.0  # placeholder (finite, non-zero); the state dict overwrites it
        return cls(vectors, int(config["feature_channels"]), backbone=backbone,
                   freeze_backbone=bool(config.get("freeze_backbone", True)), scale=float(config["scale"]),
                   ratio=float(config["ratio"]))

    def train(self, mode: bool = True) -> "AttentionNet":
        super().train(mode)
        if self.backbone is not None and self.freeze_backbone:
            self.backbone.eval()  # frozen: BatchNorm statistics stay fixed
        return self

    def extra_repr(self) -> str:
        return (f"attributes={self.num_attributes}, word_dim={self.word_dim}, channels={self.feature_channels}, "
                f"scale={self.scale}, ratio={self.ratio}, backbone={'none (feature maps)' if self.backbone is None else 'yes'}"
                f"{', frozen' if self.backbone is not None and self.freeze_backbone else ''}")

    # -- pieces ------------------------------------------------------------------------

    def queries(self) -> Tensor:
        """Attribute queries q (A, C) = normalised word vectors (A, D_w) @ W (D_w, C)."""
        return F.normalize(self.attribute_vectors, dim=1) @ self.query_proj

    def feature_map(self, x: Tensor) -> Tensor:
        """(B, C, h, w) feature map of images (with a backbone) or the given maps (without)."""
        if not isinstance(x, Tensor) or x.ndim != 4:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ZSLDataError(f"AttentionNet input must be a 4-D tensor (B, channels, height, width), got {shape}")
        if self.backbone is None:
            fmap = x
        elif self.freeze_backbone:
            with torch.no_grad():
                fmap = self.backbone(x)
        else:
            fmap = self.backbone(x)
        if fmap.ndim != 4 or fmap.shape[1] != self.feature_channels:
            what = "backbone output" if self.backbone is not None else "feature map"
            raise ZSLDataError(f"{what} must have shape (B, {self.feature_channels}, h, w), got {tuple(fmap.shape)}")
        return fmap

    def forward(self, x: Tensor) -> AttentionNetOutput:
        """x: (B, C, h, w) maps or (B, 3, H, W) images -> :class:`AttentionNetOutput`."""
        fmap = self.feature_map(x)
        b, c, h, w = fmap.shape
        flat = fmap.flatten(2)  # (B, C, R)
        q = self.queries().to(flat.dtype)  # (A, C)
        logits = torch.einsum("ac,bcr->bar", q, flat)  # (B, A, R)
        attention = torch.softmax(logits, dim=-1)
        attended = torch.einsum("bar,bcr->bac", attention.to(flat.dtype), flat)  # (B, A, C)
        attr_sem = torch.einsum("bac,ac->ba", attended, self.attr_weight.to(attended.dtype)) + self.attr_bias
        glob_sem = self.global_head(flat.mean(dim=2))  # (B, A)
        semantic = glob_sem + self.ratio * attr_sem
        return AttentionNetOutput(semantic, attention.view(b, self.num_attributes, h, w), glob_sem, attr_sem)

    def predict_semantics(self, x: Tensor) -> Tensor:
        """(B, A) predicted semantic vectors."""
        return self(x).semantic

    def attention_maps(self, x: Tensor) -> Tensor:
        """(B, A, h, w) attention maps (each sums to 1 over the h x w positions)."""
        return self(x).attention

    @staticmethod
    def cosine_scores(semantic: Tensor, class_semantic: Tensor) -> Tensor:
        """cos(s_hat, s_c): (B, A) x (C', A) -> (B, C'), the test-time class scores."""
        return F.normalize(semantic.float(), dim=1) @ F.normalize(class_semantic.float(), dim=1).T

    def logits(self, semantic: Tensor, class_semantic: Tensor) -> Tensor:
        """scale * cos(s_hat, s_c): (B, C') training logits."""
        return self.scale * self.cosine_scores(semantic, class_semantic)


class AttentionNetLoss(nn.Module):
    r"""ReZSL's objective: :math:`w_{ce}\,\mathrm{CE}(\tau\cos(\hat s, \Phi_s), y) + \lambda_1\,\mathcal L_{reg}`.

    Args:
        class_semantic: (Cs, A) semantic vectors of the training classes; labels index its rows.
        lambda1: weight of the regression loss (0.25 in METHODS.md).
        loss: "remse" (ReMSE) or "mse" (RegNorm'ed MSE; what ReMSE gives with p = p2 = 0).
        p, p2, mode: ReMSE settings (official 0.1, 0.75, "in_batch").
        scale: tau of the logits (20).
        ce_weight: weight of the cross-entropy (1).
        reduce_fn: in a distributed run, a function summing a tensor over processes in place
            (``DistContext.all_reduce_sum``). ReMSE ("in_batch") then forms its weights from
            the per-class errors of the *global* batch, exactly as one process holding the
            whole episode would; without it (or in "cross_batch" mode) each process weighs
            its own slice, like the authors' DDP runs.

    ``forward(pred (B, A), labels (B,)) -> (loss, {"ce": ..., "reg": ...})`` (detached parts).
    """

    def __init__(self, class_semantic: Tensor, lambda1: float = 0.25, loss: str = "remse", p: float = 0.1,
                 p2: float = 0.75, mode: str = "in_batch", scale: float = 20.0, ce_weight: float = 1.0,
                 reduce_fn: Callable[[Tensor], Tensor] | None = None):
        super().__init__()
        sem = _as_float_tensor(class_semantic, "class_semantic")
        if loss not in ("remse", "mse"):
            raise ConfigError(f"loss must be 'remse' or 'mse', got {loss!r}")
        for name, value in (("lambda1", lambda1), ("ce_weight", ce_weight), ("scale", scale)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ConfigError(f"{name} must be a finite number >= 0, got {value!r}")
        if lambda1 == 0 and ce_weight == 0:
            raise ConfigError("lambda1 and ce_weight are both 0: nothing to train on")
        self.register_buffer("class_semantic", sem, persistent=False)
        self.lambda1 = float(lambda1)
        self.ce_weight = float(ce_weight)
        self.scale = float(scale)
        self.loss = loss
        self.reduce_fn = reduce_fn
        self.remse = ReMSELoss(sem.shape[0], p=p, p2=p2, mode=mode) if loss == "remse" else None

    @property
    def num_classes(self) -> int:
        return int(self.class_semantic.shape[0])

    def _global_remse(self, pred: Tensor, target: Tensor, labels: Tensor) -> Tensor:
        """In-batch ReMSE with per-class errors summed over processes before weighting."""
        assert self.remse is not None and self.reduce_fn is not None
        sq = (regnorm(pred) - regnorm(target)) ** 2  # (B, A)
        with torch.no_grad():
            c, a = self.num_classes, sq.shape[1]
            stats = sq.new_zeros(c, a + 1)  # per-class error sums | counts: one collective
            stats[:, :a].index_add_(0, labels, sq.detach())
            stats[:, a].index_add_(0, labels, torch.ones_like(labels, dtype=sq.dtype))
            self.reduce_fn(stats)
            counts = stats[:, a:]
            error = stats[:, :a] / counts.clamp_min(1.0)  # absent classes: 0 rows (weight 1, no effect)
            weights = weights_from_error(error, self.remse.p, self.remse.p2)
        return (weights[labels] * sq).mean()

    def forward(self, pred: Tensor, labels: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """pred (B, A) s_hat, labels (B,) rows of class_semantic -> (scalar loss, parts)."""
        if pred.ndim != 2 or pred.shape[1] != self.class_semantic.shape[1]:
            raise ZSLDataError(f"pred must have shape (B, {self.class_semantic.shape[1]}), got {tuple(pred.shape)}")
        with torch.autocast(device_type=pred.device.type, enabled=False):  # losses in float32 under AMP
            return self._forward(pred.float(), labels.to(device=pred.device, dtype=torch.long))

    def _forward(self, pred: Tensor, labels: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        sem = self.class_semantic.to(pred.device)
        parts: dict[str, Tensor] = {}
        loss = pred.new_zeros(())
        if self.ce_weight > 0:
            logits = self.scale * (F.normalize(pred, dim=1) @ F.normalize(sem, dim=1).T)
            ce = F.cross_entropy(logits, labels)
            loss = loss + self.ce_weight * ce
            parts["ce"] = ce.detach()
        if self.lambda1 > 0:
            target = sem[labels]
            if self.remse is None:
                # Same operations as ReMSE's, so that ReMSE with p = p2 = 0 reproduces it.
                reg = ((regnorm(pred) - regnorm(target)) ** 2).mean()
            elif self.reduce_fn is not None and self.remse.mode == "in_batch" and self.remse.weighting == "code":
                reg = self._global_remse(pred, target, labels)
            else:
                reg = self.remse(pred, target, labels)
            loss = loss + self.lambda1 * reg
            parts["reg"] = reg.detach()
        return loss, parts
