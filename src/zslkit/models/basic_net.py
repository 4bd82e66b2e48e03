r"""BasicNet: a backbone and a linear (or one-hidden-layer) attribute head, ReZSL's baseline.

Reference: ``BasicNet`` in the ReZSL authors' code (FouriYe/ReZSL-TIP23,
``REZSL/modeling/Model/mainModel.py``); checked formula by formula (``docs/PARITY.md``,
``tests/models/test_basic_net.py``).

:math:`\hat s = U\,\bar F + b` (A), :math:`\bar F` the mean of the feature map over positions (for ViT
tokens: over all tokens, the global one included, as the authors pool them), or with a hidden
layer (``hidden_dim`` > 0) :math:`\hat s = U_2\,\mathrm{LeakyReLU}_{0.1}(U_1 \bar F + b_1) + b_2`.
PyTorch's default ``nn.Linear`` initialisation. Trained with the same objective as AttentionNet
(:class:`zslkit.models.attention_net.AttentionNetLoss`: cross-entropy on :math:`\tau \cos(\hat s, s_c)`
plus :math:`\lambda_1` ReMSE or RegNorm'ed MSE); classes are scored by :math:`\cos(\hat s, s_c)`.

With a frozen backbone this is the semantic regressor on pooled features
(:class:`zslkit.models.regressor.SemanticRegressor` trains that on cached feature vectors).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from torch import Tensor, nn

from zslkit.models.backbones import ImageLevelModel, check_int, check_real

__all__ = ["BasicNet", "BasicNetOutput"]


class BasicNetOutput(NamedTuple):
    """What :meth:`BasicNet.forward` returns."""

    semantic: Tensor  # (B, A) predicted semantic vector


class BasicNet(ImageLevelModel):
    """ReZSL's BasicNet (see module docstring).

    Args:
        num_attributes: A, the semantic dimension predicted.
        feature_channels: C; optional with a backbone.
        backbone, freeze_backbone: as in :class:`zslkit.models.attention_net.AttentionNet`.
        hidden_dim: 0 (a linear head) or the width of the hidden layer (LeakyReLU 0.1).
        scale: tau of the training logits.

    Parameters (the authors' names in brackets): ``head`` [v2s] without a hidden layer;
    ``hidden`` [v2hid] and ``head`` [hid2s] with one.
    """

    def __init__(self, num_attributes: int, feature_channels: int | None = None, *, backbone: nn.Module | None = None,
                 freeze_backbone: bool = True, hidden_dim: int = 0, scale: float = 20.0):
        super().__init__()
        self._init_backbone(feature_channels, backbone, freeze_backbone)
        self.num_attributes = check_int("num_attributes", num_attributes, 1)
        self.hidden_dim = check_int("hidden_dim", hidden_dim, 0)
        self.scale = check_real("scale", scale, positive=True)
        c = self.feature_channels
        self.hidden = nn.Linear(c, self.hidden_dim) if self.hidden_dim else None
        self.head = nn.Linear(self.hidden_dim or c, self.num_attributes)
        self.activation = nn.LeakyReLU(negative_slope=0.1)

    def config(self) -> dict[str, Any]:
        return {"architecture": "rezsl-basic-net", "num_attributes": self.num_attributes,
                "feature_channels": self.feature_channels, "hidden_dim": self.hidden_dim, "scale": self.scale,
                **self.backbone_config()}

    @classmethod
    def from_config(cls, config: dict[str, Any], backbone: nn.Module | None = None) -> "BasicNet":
        return cls(int(config["num_attributes"]), int(config["feature_channels"]),
                   backbone=cls.backbone_from_config(config, backbone),
                   freeze_backbone=bool(config.get("freeze_backbone", True)), hidden_dim=int(config["hidden_dim"]),
                   scale=float(config["scale"]))

    def forward(self, x: Tensor) -> BasicNetOutput:
        pooled = self.feature_map(x).flatten(2).mean(dim=2)  # (B, C)
        if self.hidden is not None:
            pooled = self.activation(self.hidden(pooled))
        return BasicNetOutput(self.head(pooled))

    def logits(self, semantic: Tensor, class_semantic: Tensor) -> Tensor:
        return self.scale * self.cosine_scores(semantic, class_semantic)

    def extra_repr(self) -> str:
        return (f"attributes={self.num_attributes}, channels={self.feature_channels}, hidden_dim={self.hidden_dim}, "
                f"scale={self.scale}, backbone={'none (feature maps)' if self.backbone is None else 'yes'}")
