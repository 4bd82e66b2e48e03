r"""AttentionNet: ReZSL's attribute-attention model (Ye et al., IEEE TIP 2023), as the authors' code builds it.

Reference: ``AttentionNet`` and ``CrossModalAttentionModule`` in the authors' public code
(FouriYe/ReZSL-TIP23, ``REZSL/modeling/Model/mainModel.py``); checked against it formula by
formula (``docs/PARITY.md``, ``tests/models/test_attention_net.py``).

Inputs: a backbone feature map F with R positions :math:`F_r \in \mathbb R^C` (ResNet-101 at
448 px: C = 2048, R = 14 x 14; a ViT: C = 768 and its R = N + 1 tokens, the global token first),
given as (B, C, h, w) maps or (B, C, R) tokens, and the word vectors :math:`w_a` of the A
attribute names (A x L, L = 300 for word2vec), used **raw** (not normalised).

* Projections, ``nn.Linear`` layers with bias, of width M (``attention_dim``; the authors use
  M = 1024, and M = 300 when A = 85, i.e. AWA2): query :math:`q_a = Q(w_a)` (L -> M), key
  :math:`k_r = K(F_r)` and value :math:`v_r = V(F_r)` (C -> M), output :math:`O` (M -> C).
* Attention :math:`\alpha_{ar} = \mathrm{softmax}_r \langle q_a, k_r\rangle` (no 1/sqrt(M) scaling).
* Attended feature :math:`f_a = \bar F + \rho\, O(\sum_r \alpha_{ar} v_r)` (C), with
  :math:`\bar F` the mean over positions and :math:`\rho` = ``ratio`` = 1.
* Prediction :math:`\hat s_a = \langle U_a, f_a\rangle` with ONE vector :math:`U_a` per attribute
  (``attribute_weight``, A x C, initialised N(0, 1)), shared by the pooled and the attended part;
  with a hidden layer (``hidden_dim`` > 0; the authors' AWA2 setting is 4096),
  :math:`\hat s_a = \langle U_a, H(f_a)\rangle`, H = ``nn.Linear(C, hidden_dim)`` (no activation), U: A x hidden_dim.

Training loss (:class:`AttentionNetLoss`): cross-entropy on :math:`\tau \cos(\hat s, s_c)` over the
seen classes (:math:`\tau` = ``scale``, 20; 25 for SUN) plus :math:`\lambda_1` times ReMSE
(:class:`zslkit.losses.ReMSELoss`) or the RegNorm'ed MSE. At test time a class's score is
:math:`\cos(\hat s, s_c)`; the calibration gamma is in cosine units.

Fast exact evaluation (``fused=True``, the default). Nothing between the projections is
nonlinear except the softmax, so the same function can be evaluated without forming keys,
values or the (B, A, C) attended features:

* :math:`\langle q_a, K F_r + b_K\rangle = \langle K^\top q_a, F_r\rangle + \langle q_a, b_K\rangle`, so the
  logits are :math:`\tilde q_a F_r` (plus a term constant over r) with :math:`\tilde q = Q(w) K` (A x C);
* with :math:`P = U` (no hidden layer) or :math:`P = U H_W` (A x C) and :math:`c = U b_H` (or 0),
  :math:`\hat s_a = \langle P_a, \bar F\rangle + c_a + \rho\,(\sum_r \alpha_{ar} \langle \tilde U_a, F_r\rangle + \langle P_a, O_W b_V + b_O\rangle)`
  with :math:`\tilde U = P\, O_W V_W` (A x C), because :math:`\sum_r \alpha_{ar} = 1`.

Per image this costs O(A R C) instead of O(R C M + A M C) (+ O(A C hidden_dim) with a hidden
layer): about 6x fewer operations on CUB shapes and 15x on AWA2's. The parameters, their
gradients and the outputs are those of the direct evaluation (``fused=False``, which follows the
authors' code step by step) up to float rounding; a test pins the two together.

The authors' model also creates, for A = 85, two parameters (``W``: L x C, ``V``: C x A) that
its forward pass never uses; zslkit does not (:func:`load_rezsl_checkpoint` skips them).

Backbones: :func:`resnet_backbone` builds a torchvision ResNet (18/34/50/101/152)
truncated after ``layer4``, from a state dict the caller has read (models never read
files; see :func:`zslkit.training.checkpoint.read_backbone_weights`). A frozen backbone
(default) gets no gradient and stays in eval mode (fixed BatchNorm statistics), so its
feature maps equal cached ones; a fine-tuned one trains with the rest (the authors fine-tune).
Without a backbone, the model takes cached feature maps (B x C x h x w) or tokens (B x C x R)
directly: the mode in which CPU users train the head.
"""

from __future__ import annotations

import math
import os
from typing import Any, Callable, Mapping, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zslkit.errors import CheckpointError, ConfigError, ZSLDataError
from zslkit.losses.remse import ReMSELoss, regnorm, weights_from_error
from zslkit.models.backbones import (
    RESNETS,
    ImageLevelModel,
    as_float_tensor,
    check_int,
    check_real,
    resnet_backbone,
)

__all__ = ["ARCHITECTURE", "RESNETS", "AttentionNet", "AttentionNetLoss", "AttentionNetOutput", "default_attention_dim",
           "load_rezsl_checkpoint", "resnet_backbone", "rezsl_state_dict_to_zslkit"]


ARCHITECTURE = "rezsl-attention-net"  #: tag in model configs; older zslkit checkpoints lack it


def default_attention_dim(num_attributes: int) -> int:
    """M, the width of the query/key/value projections, as the authors choose it (300 for A = 85, else 1024)."""
    return 300 if num_attributes == 85 else 1024


class AttentionNetOutput(NamedTuple):
    """What :meth:`AttentionNet.forward` returns (B images, A attributes, R positions).

    ``output[0]`` is the prediction, so code written for the authors' model (which returns
    the prediction, or a tuple starting with it) works unchanged.
    """

    semantic: Tensor  # (B, A) predicted semantic vector s_hat = global + ratio * attribute part
    attention: Tensor  # (B, A, h, w) for map inputs, (B, A, R) for token inputs; sums to 1 over positions
    global_semantic: Tensor  # (B, A) part of s_hat from the pooled feature: <U_a, H(mean_r F_r)>
    attribute_semantic: Tensor  # (B, A) attended part, before ratio: <U_a, H_W O(sum_r alpha_ar v_r)>


class AttentionNet(ImageLevelModel):
    """ReZSL's AttentionNet (formulas in the module docstring).

    Args:
        attribute_vectors: (A, L) word vectors of the attribute names, used raw.
        feature_channels: C, channels of the feature map; optional with a backbone from
            :func:`resnet_backbone` (read from its ``out_channels``).
        backbone: None (inputs are cached feature maps (B, C, h, w) or tokens (B, C, R)) or a
            module mapping images (B, 3, H, W) to feature maps.
        freeze_backbone: True: the backbone gets no gradient and stays in eval mode.
        scale: tau of the training logits tau * cos(s_hat, s_c) (20 in ReZSL; 25 for SUN).
        ratio: rho, weight of the attended feature (1 in ReZSL).
        hidden_dim: width of the optional hidden layer H (0 = none; the authors' AWA2 setting 4096).
        attention_dim: M, width of the query/key/value projections; None = the authors' choice
            (:func:`default_attention_dim`: 300 for 85 attributes, else 1024).
        fused: evaluate with the exact fast form (default) or step by step as the authors' code.

    Parameters (names zslkit uses; the authors' in brackets): ``query`` [QueryW], ``key``
    [KeyW], ``value`` [ValueW], ``out`` [W_o], ``hidden`` [V_att_hidden_branch],
    ``attribute_weight`` [V_att_final_branch]; the buffer ``attribute_vectors`` [w2v_att].

    Input: (B, C, h, w) maps or (B, C, R) tokens without a backbone, (B, 3, H, W) images with one.
    Output: :class:`AttentionNetOutput`.
    """

    def __init__(self, attribute_vectors: Tensor, feature_channels: int | None = None, *,
                 backbone: nn.Module | None = None, freeze_backbone: bool = True, scale: float = 20.0,
                 ratio: float = 1.0, hidden_dim: int = 0, attention_dim: int | None = None, fused: bool = True):
        super().__init__()
        vectors = as_float_tensor(attribute_vectors, "attribute_vectors")
        check_real("scale", scale, positive=True)
        check_real("ratio", ratio)
        check_int("hidden_dim", hidden_dim, 0)
        num_attributes, word_dim = (int(v) for v in vectors.shape)
        if attention_dim is None:
            attention_dim = default_attention_dim(num_attributes)
        check_int("attention_dim", attention_dim, 1)
        if not isinstance(fused, bool):
            raise ConfigError(f"fused must be true or false, got {fused!r}")
        self._init_backbone(feature_channels, backbone, freeze_backbone)
        self.num_attributes = num_attributes
        self.word_dim = word_dim
        self.attention_dim = int(attention_dim)
        self.hidden_dim = int(hidden_dim)
        self.scale = float(scale)
        self.ratio = float(ratio)
        self.fused = fused
        # Kept in the state dict: a checkpoint is self-contained.
        self.register_buffer("attribute_vectors", vectors.clone())
        c, m = self.feature_channels, self.attention_dim
        # Created in the authors' order (query, key, value, output, hidden, U) with PyTorch's
        # default Linear initialisation and U ~ N(0, 1), as their module does.
        self.query = nn.Linear(word_dim, m)
        self.key = nn.Linear(c, m)
        self.value = nn.Linear(c, m)
        self.out = nn.Linear(m, c)
        self.hidden = nn.Linear(c, self.hidden_dim) if self.hidden_dim else None
        self.attribute_weight = nn.Parameter(torch.randn(num_attributes, self.hidden_dim or c))

    # -- configuration -----------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """Plain-type constructor settings (enough, with the state dict, to rebuild the model)."""
        return {"architecture": ARCHITECTURE, "num_attributes": self.num_attributes, "word_dim": self.word_dim,
                "feature_channels": self.feature_channels, "attention_dim": self.attention_dim,
                "hidden_dim": self.hidden_dim, "scale": self.scale, "ratio": self.ratio, "fused": self.fused,
                **self.backbone_config()}

    @classmethod
    def from_config(cls, config: dict[str, Any], backbone: nn.Module | None = None) -> "AttentionNet":
        """An untrained model shaped by :meth:`config` (load a state dict into it next).

        A ResNet backbone named in the config is rebuilt (random weights) when ``backbone`` is None.
        """
        if config.get("architecture") != ARCHITECTURE:
            raise CheckpointError("this AttentionNet checkpoint was written by an earlier zslkit whose AttentionNet "
                                  "was a simplified variant (no query/key/value projections); it cannot be loaded "
                                  "into ReZSL's architecture: train it again")
        backbone = cls.backbone_from_config(config, backbone)
        vectors = torch.zeros(int(config["num_attributes"]), int(config["word_dim"]))
        vectors[:, 0] = 1.0  # placeholder (finite, non-zero); the state dict overwrites it
        return cls(vectors, int(config["feature_channels"]), backbone=backbone,
                   freeze_backbone=bool(config.get("freeze_backbone", True)), scale=float(config["scale"]),
                   ratio=float(config["ratio"]), hidden_dim=int(config["hidden_dim"]),
                   attention_dim=int(config["attention_dim"]), fused=bool(config.get("fused", True)))

    def extra_repr(self) -> str:
        return (f"attributes={self.num_attributes}, word_dim={self.word_dim}, channels={self.feature_channels}, "
                f"attention_dim={self.attention_dim}, hidden_dim={self.hidden_dim}, scale={self.scale}, "
                f"ratio={self.ratio}, fused={self.fused}, "
                f"backbone={'none (feature maps)' if self.backbone is None else 'yes'}"
                f"{', frozen' if self.backbone is not None and self.freeze_backbone else ''}")

    # -- pieces ------------------------------------------------------------------------

    def queries(self) -> Tensor:
        """(A, M) attribute queries q_a = Q(w_a) from the raw word vectors."""
        return self.query(self.attribute_vectors)

    def _prediction_weights(self) -> tuple[Tensor, Tensor | None]:
        """P (A, C) and c (A,) or None: s_hat_a = <P_a, g> + c_a for any C-dim feature g fed to U (and H)."""
        if self.hidden is None:
            return self.attribute_weight, None
        return self.attribute_weight @ self.hidden.weight, self.attribute_weight @ self.hidden.bias

    def _forward_direct(self, flat: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The authors' evaluation order. flat (B, C, R) -> (alpha (B, A, R), global (B, A), attended (B, A))."""
        tokens = flat.transpose(1, 2)  # (B, R, C)
        q = self.queries().to(flat.dtype)  # (A, M)
        k, v = self.key(tokens), self.value(tokens)  # (B, R, M)
        alpha = torch.softmax(torch.einsum("am,brm->bar", q, k), dim=-1)  # (B, A, R)
        o = self.out(alpha @ v)  # (B, A, C)
        pooled = flat.mean(dim=2)  # (B, C)
        if self.hidden is None:
            glob = pooled @ self.attribute_weight.T
            att = torch.einsum("bac,ac->ba", o, self.attribute_weight)
        else:  # U_a . H(pooled + rho o_a), split into its pooled and attended parts (H is affine)
            glob = self.hidden(pooled) @ self.attribute_weight.T
            att = torch.einsum("bah,ah->ba", o @ self.hidden.weight.T, self.attribute_weight)
        return alpha, glob, att

    def _forward_fused(self, flat: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Same values as :meth:`_forward_direct` in O(A R C) per image (see module docstring)."""
        P, c = self._prediction_weights()  # (A, C), (A,)
        q = self.queries()  # (A, M)
        q_feat = q @ self.key.weight  # (A, C)
        u_feat = (P @ self.out.weight) @ self.value.weight  # (A, C)
        both = torch.einsum("kc,bcr->bkr", torch.cat([q_feat, u_feat]).to(flat.dtype), flat)  # (B, 2A, R)
        logits, per_position = both.split(self.num_attributes, dim=1)
        # <q_a, b_K> is constant over positions and cancels in the softmax; it is added anyway so
        # that every parameter takes part in the graph (DDP requires it), as in the direct form.
        alpha = torch.softmax(logits + (q @ self.key.bias).to(logits.dtype)[None, :, None], dim=-1)
        const = P @ (self.out.weight @ self.value.bias + self.out.bias)  # (A,), since sum_r alpha_ar = 1
        att = (alpha * per_position).sum(-1) + const
        glob = flat.mean(dim=2) @ P.T.to(flat.dtype)
        if c is not None:
            glob = glob + c
        return alpha, glob, att

    def forward(self, x: Tensor) -> AttentionNetOutput:
        """x: (B, C, h, w) maps, (B, C, R) tokens or (B, 3, H, W) images -> :class:`AttentionNetOutput`."""
        fmap = self.feature_map(x)
        flat = fmap.flatten(2)  # (B, C, R)
        alpha, glob, att = (self._forward_fused if self.fused else self._forward_direct)(flat)
        semantic = glob + self.ratio * att
        attention = alpha.view(fmap.shape[0], self.num_attributes, *fmap.shape[2:])
        return AttentionNetOutput(semantic, attention, glob, att)

    def predict_semantics(self, x: Tensor) -> Tensor:
        """(B, A) predicted semantic vectors."""
        return self(x).semantic

    def attention_maps(self, x: Tensor) -> Tensor:
        """(B, A, h, w) attention maps (or (B, A, R) for tokens); each sums to 1 over the positions."""
        return self(x).attention

    def logits(self, semantic: Tensor, class_semantic: Tensor) -> Tensor:
        """scale * cos(s_hat, s_c): (B, C') training logits."""
        return self.scale * self.cosine_scores(semantic, class_semantic)


class AttentionNetLoss(nn.Module):
    r"""ReZSL's objective: :math:`w_{ce}\,\mathrm{CE}(\tau\cos(\hat s, \Phi_s), y) + \lambda_1\,\mathcal L_{reg}`.

    Args:
        class_semantic: (Cs, A) semantic vectors of the training classes; labels index its rows.
        lambda1: weight of the regression loss (0.25 in the authors' CUB config).
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
        sem = as_float_tensor(class_semantic, "class_semantic")
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


# --------------------------------------------------------------------------------------
# the authors' checkpoints
# --------------------------------------------------------------------------------------

#: zslkit parameter <- the authors' (``v2s_branch.`` + name; ``.0`` inserted for their
#: ``nn.Sequential``-wrapped layers, which they use when A = 85).
_REZSL_LINEARS = {"query": "QueryW", "key": "KeyW", "value": "ValueW", "out": "W_o", "hidden": "V_att_hidden_branch"}
#: ResNet layouts: (blocks per layer, bottleneck blocks) -> torchvision name
_RESNET_LAYOUTS = {((2, 2, 2, 2), False): "resnet18", ((3, 4, 6, 3), False): "resnet34",
                   ((3, 4, 6, 3), True): "resnet50", ((3, 4, 23, 3), True): "resnet101",
                   ((3, 8, 36, 3), True): "resnet152"}


def _strip_prefix(state: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    while state and all(k.startswith(prefix) for k in state):
        state = {k[len(prefix):]: v for k, v in state.items()}
    return dict(state)


def _resnet_arch(backbone_state: Mapping[str, Tensor], label: str) -> str:
    blocks = tuple(len({k.split(".")[1] for k in backbone_state if k.startswith(f"layer{i}.")}) for i in range(1, 5))
    layout = (blocks, "layer1.0.conv3.weight" in backbone_state)
    if layout not in _RESNET_LAYOUTS:
        raise CheckpointError(f"{label}: backbone weights are not a torchvision-style ResNet (blocks per layer "
                              f"{blocks}); only ResNet backbones can be rebuilt, load with with_backbone=False")
    return _RESNET_LAYOUTS[layout]


def rezsl_state_dict_to_zslkit(state: Mapping[str, Any], label: str = "state dict"
                               ) -> tuple[dict[str, Tensor], dict[str, Tensor], dict[str, int]]:
    """Rename the authors' AttentionNet parameters to zslkit's and infer the shapes.

    Args:
        state: the authors' ``model.state_dict()`` (their training script saves it as
            ``{"model": state_dict}``, from a ``DataParallel`` wrapper, so names start with
            ``module.``; both are accepted).
        label: the file name, for messages.

    Returns ``(head, backbone, dims)``: the head's state dict in zslkit names (without the
    ``attribute_vectors`` buffer, which the authors do not save), the backbone's state dict
    (``backbone.`` prefix removed; empty when absent), and ``dims`` with ``num_attributes``,
    ``word_dim``, ``feature_channels``, ``attention_dim``, ``hidden_dim``.
    """
    if isinstance(state.get("model"), Mapping):
        state = state["model"]
    elif isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]
    state = _strip_prefix(state, "module.")
    bad = sorted(k for k, v in state.items() if not isinstance(v, Tensor))
    if bad:
        raise CheckpointError(f"{label}: entries {bad[:5]} are not tensors; expected the authors' "
                              f"AttentionNet state dict (name -> tensor)")
    backbone = {k[len("backbone."):]: v for k, v in state.items() if k.startswith("backbone.")}
    head: dict[str, Tensor] = {}
    theirs_of: dict[str, str] = {}  # our name -> the checkpoint's, for messages
    used = {k for k in state if k.startswith("backbone.")}
    for ours, theirs in _REZSL_LINEARS.items():
        for name in (f"v2s_branch.{theirs}", f"v2s_branch.{theirs}.0"):
            if f"{name}.weight" in state and f"{name}.bias" in state:
                head[f"{ours}.weight"], head[f"{ours}.bias"] = state[f"{name}.weight"], state[f"{name}.bias"]
                theirs_of[f"{ours}.weight"], theirs_of[f"{ours}.bias"] = f"{name}.weight", f"{name}.bias"
                used |= {f"{name}.weight", f"{name}.bias"}
                break
    if "v2s_branch.V_att_final_branch" in state:
        head["attribute_weight"] = state["v2s_branch.V_att_final_branch"]
        theirs_of["attribute_weight"] = "v2s_branch.V_att_final_branch"
        used.add("v2s_branch.V_att_final_branch")
    for ours, t in head.items():  # before any shape is read: a 0-d/1-d tensor for a matrix, a bias of another length
        want = 1 if ours.endswith(".bias") else 2
        if t.ndim != want or not t.is_floating_point():
            raise CheckpointError(f"{label}: {theirs_of[ours]} has shape {tuple(t.shape)} and dtype {t.dtype}, "
                                  f"expected a floating-point {'vector' if want == 1 else 'matrix'} ({want}-D)")
        if want == 1 and f"{ours[:-5]}.weight" in head and t.shape[0] != head[f"{ours[:-5]}.weight"].shape[0]:
            raise CheckpointError(f"{label}: {theirs_of[ours]} has {t.shape[0]} values, expected "
                                  f"{head[ours[:-5] + '.weight'].shape[0]} (one per row of "
                                  f"{theirs_of[ours[:-5] + '.weight']})")
    missing = [f"v2s_branch.{_REZSL_LINEARS[k]}.weight" for k in ("query", "key", "value", "out")
               if f"{k}.weight" not in head]
    if "attribute_weight" not in head:
        missing.append("v2s_branch.V_att_final_branch")
    if missing:
        raise CheckpointError(f"{label} is not a ReZSL AttentionNet state dict: missing {missing} (found "
                              f"{len(state)} entries, e.g. {sorted(state)[:5]}); BasicNet and GEMNet "
                              f"checkpoints have other parameters")
    num_attributes = int(head["attribute_weight"].shape[0])
    # The authors' model creates W (L x C) and V (C x A) for A = 85 and never uses them.
    for unused in ("W", "V"):
        if unused in state and num_attributes == 85:
            used.add(unused)
    unexpected = sorted(set(state) - used)
    if unexpected:
        raise CheckpointError(f"{label}: unexpected entries {unexpected[:8]} for ReZSL's AttentionNet")
    dims = {"num_attributes": num_attributes, "word_dim": int(head["query.weight"].shape[1]),
            "feature_channels": int(head["out.weight"].shape[0]), "attention_dim": int(head["query.weight"].shape[0]),
            "hidden_dim": int(head["hidden.weight"].shape[0]) if "hidden.weight" in head else 0}
    expected = {"key.weight": (dims["attention_dim"], dims["feature_channels"]),
                "value.weight": (dims["attention_dim"], dims["feature_channels"]),
                "out.weight": (dims["feature_channels"], dims["attention_dim"]),
                "attribute_weight": (num_attributes, dims["hidden_dim"] or dims["feature_channels"])}
    if dims["hidden_dim"]:
        expected["hidden.weight"] = (dims["hidden_dim"], dims["feature_channels"])
    for key, shape in expected.items():
        if tuple(head[key].shape) != shape:
            raise CheckpointError(f"{label}: {theirs_of[key]} has shape {tuple(head[key].shape)}, expected {shape} "
                                  f"from the other parameters")
    return head, backbone, dims


def load_rezsl_checkpoint(path_or_state_dict: str | os.PathLike | Mapping[str, Any], attribute_vectors: Any, *,
                          with_backbone: bool = False, freeze_backbone: bool = True, scale: float = 20.0,
                          ratio: float = 1.0, fused: bool = True) -> AttentionNet:
    """An :class:`AttentionNet` that computes what the authors' model computes from their weights.

    Args:
        path_or_state_dict: a checkpoint file written by the authors' training script
            (``torch.save({"model": model.state_dict()}, ...)``; read with
            ``torch.load(weights_only=True)``, nothing else is unpickled) or the state dict itself,
            with or without the backbone's parameters and the ``module.`` prefix of DataParallel.
        attribute_vectors: (A, L) attribute word vectors the model was trained with (the authors'
            ``w2v/<DATASET>_attribute.pkl``; convert it with ``zslkit data convert-w2v``). They
            are not part of the state dict. The shape must match the checkpoint's.
        with_backbone: False (default): the model takes (B, C, h, w) feature maps (or (B, C, R)
            tokens) and the backbone's parameters are ignored. True: rebuild the ResNet from
            them (layout inferred from the parameter names) so that the model takes images.
        freeze_backbone, scale, ratio, fused: as in :class:`AttentionNet` (the authors: scale
            20, 25 for SUN; ratio 1). ``scale`` only affects training logits.

    The configuration (A, L, C, M, hidden layer) is inferred from the tensor shapes. Their
    unused A = 85 parameters ``W`` and ``V`` are skipped; anything else unexpected is an error.
    The model is returned in eval mode.
    """
    if isinstance(path_or_state_dict, Mapping):
        state, label = path_or_state_dict, "state dict"
    else:
        from zslkit.utils.torchfiles import read_state_dict

        label = str(path_or_state_dict)
        state = read_state_dict(path_or_state_dict, what="ReZSL checkpoint")
    head, backbone_state, dims = rezsl_state_dict_to_zslkit(state, label)
    vectors = as_float_tensor(attribute_vectors, "attribute_vectors")
    if tuple(vectors.shape) != (dims["num_attributes"], dims["word_dim"]):
        raise ZSLDataError(f"attribute_vectors has shape {tuple(vectors.shape)}, but {label} was trained with "
                           f"{dims['num_attributes']} attributes x {dims['word_dim']}-d word vectors")
    backbone = None
    if with_backbone:
        if not backbone_state:
            raise CheckpointError(f"{label} holds no backbone parameters (backbone.*); load with with_backbone=False "
                                  f"and feed feature maps")
        backbone = resnet_backbone(_resnet_arch(backbone_state, label), backbone_state)
        if backbone.out_channels != dims["feature_channels"]:
            raise CheckpointError(f"{label}: the backbone gives {backbone.out_channels} channels, the head expects "
                                  f"{dims['feature_channels']}")
    model = AttentionNet(vectors, dims["feature_channels"], backbone=backbone, freeze_backbone=freeze_backbone,
                         scale=scale, ratio=ratio, hidden_dim=dims["hidden_dim"], attention_dim=dims["attention_dim"],
                         fused=fused)
    head["attribute_vectors"] = vectors
    if backbone is not None:
        head.update({f"backbone.{k}": v for k, v in backbone.state_dict().items()})
    try:
        model.load_state_dict(head)
    except RuntimeError as exc:  # pragma: no cover - the shapes were checked above
        raise CheckpointError(f"{label}: the weights do not fit the model: {exc}") from exc
    return model.eval()
