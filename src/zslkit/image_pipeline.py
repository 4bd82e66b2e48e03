"""The recipe of the image-level models: AttentionNet (ReZSL), GEM-ZSL and BasicNet.

:func:`zslkit.pipeline.train` runs these models like the feature-level ones and returns the same
:class:`~zslkit.pipeline.RunResult`; this module holds what is particular to them. Data is an
:class:`~zslkit.training.feature_maps.AttentionData`: cached backbone feature maps (or ViT tokens)
or images (an xlsa17 directory whose ``image_files`` name the images under an image root, read
with the authors' transforms). The models are trained by the episodic engine
(:class:`zslkit.training.loop.Trainer`: checkpoints, exact resume, torchrun/DDP).

1. **Selection on validation classes** (never test): the model is trained on the images of
   the train classes of ``data.validation_split(fold, holdout, seed)`` and evaluated on its
   validation classes after every epoch. The best epoch (by validation T1, or H) is kept, and
   the GZSL calibration gamma is :func:`zslkit.evaluation.protocol.validation_gamma` at that
   epoch. (The authors' trainers instead keep the epoch with the best *test* H; zslkit does not.)
2. **Final training** on all trainval images for the selected number of epochs.
3. **Test evaluation** with the protocol (:func:`zslkit.evaluation.evaluate`) and the
   validation gamma; the oracle (test-chosen) gamma is reported separately, labelled.

Every model predicts a semantic vector per image; classes are scored by cosine similarity.

Run directory (``out_dir``), the layout of every zslkit run plus the engine's files::

    config.yaml        the TrainConfig (model name, data, params = this model's settings)
    metrics.json       test metrics (validation gamma), selection, timings, throughput, model config
    predictions.npz    per-image predictions and predicted semantic vectors (zslkit analyze)
    model.pt           final weights + model config (load with :func:`load_image_model`)
    selection/         phase 1: checkpoints/, log.jsonl, metrics.csv (validation metrics per epoch)
    selection.json     chosen epoch and gamma, validation table, validation-split source
    checkpoints/       phase 2 checkpoints (epoch_NNNN.pt, newest ``keep_checkpoints``)
    log.jsonl, metrics.csv  phase 2 per-epoch log

``resume=True`` continues a killed run from the newest checkpoint of whichever phase it was in.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import time
import warnings
import zlib
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from zslkit.errors import CheckpointError, ConfigError, ZSLDataError
from zslkit.evaluation.protocol import EvalSplit, Metrics, evaluate, prediction_arrays, validation_gamma
from zslkit.models.attention_net import AttentionNet, AttentionNetLoss
from zslkit.models.backbones import BACKBONES, VITS, build_backbone
from zslkit.models.basic_net import BasicNet
from zslkit.models.gem_zsl import GEMZSL, GEMZSLLoss, attribute_groups
from zslkit.registry import IMAGE_MODELS, parse_model_spec
from zslkit.training.checkpoint import (
    config_differences,
    latest_checkpoint,
    load_checkpoint,
    read_backbone_weights,
    save_checkpoint,
)
from zslkit.training.distributed import DistContext, init_distributed, resolve_device, shutdown_distributed
from zslkit.training.feature_maps import AttentionData
from zslkit.training.loop import AMP_MODES, AmpSettings, Callback, Trainer, fetch_batch, resolve_amp
from zslkit.training.samplers import build_sampler
from zslkit.utils.outputs import atomic_write_json, to_jsonable
from zslkit.utils.seed import seed_everything

log = logging.getLogger(__name__)

__all__ = [
    "MODEL_CLASSES",
    "PRESETS",
    "BASIC_PRESETS",
    "REZSL_PRESETS",
    "AttentionNetConfig",
    "EvaluateCallback",
    "ImageModelConfig",
    "analyze_attention",
    "build_image_model",
    "evaluate_attention_net",
    "evaluate_image_model",
    "load_attention_net",
    "load_image_model",
    "predict_semantics",
    "train_attention_net",
    "train_from_config",
    "train_image_model",
]

#: the image-level models' classes (names and descriptions: :data:`zslkit.registry.IMAGE_MODELS`)
MODEL_CLASSES: dict[str, type] = {"attention_net": AttentionNet, "gem_zsl": GEMZSL, "basic_net": BasicNet}
#: regression losses each model accepts (the first is its default)
MODEL_LOSSES = {"attention_net": ("remse", "mse"), "basic_net": ("remse", "mse"), "gem_zsl": ("gem", "mse", "remse")}


# --------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------


@dataclass
class ImageModelConfig:
    """Settings of one image-level training run (defaults: ReZSL's CUB recipe for AttentionNet).

    Model: ``model`` (:data:`IMAGE_MODELS`); ``scale`` (tau of the cosine logits), ``ratio``,
    ``hidden_dim`` (AttentionNet/BasicNet; 0 = no hidden layer), ``attention_dim`` and ``fused``
    (AttentionNet: None = the authors' 1024, or 300 for 85 attributes; exact fast evaluation).
    ``backbone`` None for cached feature maps, or a ResNet / ViT name (:data:`BACKBONES`) for
    images (``backbone_weights`` a local torchvision weight file; ``finetune_backbone``;
    ``sync_bn``: SyncBatchNorm when fine-tuning under DDP on GPUs); ``image_size`` and
    ``augment`` (the authors' train transform: resize to 8/7 of the size, random crop, flip) say
    how images are read.

    Optimisation: ``optimizer`` "sgd" (momentum, weight decay) or "adam"; lr decays x
    ``lr_gamma`` every ``lr_step`` epochs (0 = constant); ``lr_step_first`` steps the schedule at
    the start of every epoch, as the authors' trainers do, so the first decay comes one epoch
    early (their 30-epoch runs: 9, 10, 10 and 1 epochs at lr x gamma^0..3). Sampling: ``sampler``
    "episode" (``ways`` classes x ``shots`` images per step, *global* over processes;
    ``episodes_per_epoch`` None = about one pass over the images; the authors use 300) or
    "random" (``batch_size`` images).

    Loss: cross-entropy over seen classes on ``scale`` x cosine + ``lambda1`` x the regression
    loss ``loss``: "remse" (``p``, ``p2``, ``remse_mode``) or "mse" (RegNorm'ed); GEM-ZSL also
    "gem" (its MSE of the max-pooled attention, the default there) and adds ``lambda_ad`` x its
    attribute-decorrelation and ``lambda_cpt`` x its compactness loss.

    Selection: ``gamma`` None = chosen on validation classes; ``select_epochs`` picks the epoch
    count on validation classes (fold ``val_fold``, ``val_holdout`` of train-class images held out
    as validation seen images), by ``criterion`` "T1" or "H". Runtime: ``device``
    "auto"/"cpu"/"cuda[:k]", ``amp`` (see :func:`zslkit.training.loop.resolve_amp`), ``out_dir``
    (None = write nothing), ``resume``, ``num_workers``, ``progress``.
    """

    model: str = "attention_net"
    out_dir: str | None = None
    epochs: int = 30
    lr: float = 5e-4
    optimizer: str = "sgd"
    momentum: float = 0.9
    weight_decay: float = 1e-5
    lr_step: int = 10
    lr_gamma: float = 0.1
    lr_step_first: bool = False
    sampler: str = "episode"
    ways: int = 16
    shots: int = 2
    episodes_per_epoch: int | None = None
    batch_size: int = 32
    lambda1: float = 0.25
    loss: str | None = None  # None = the model's default (MODEL_LOSSES)
    p: float = 0.1
    p2: float = 0.75
    remse_mode: str = "in_batch"
    lambda_ad: float = 0.1
    lambda_cpt: float = 0.2
    scale: float = 20.0
    ratio: float = 1.0
    hidden_dim: int = 0
    attention_dim: int | None = None
    fused: bool = True
    backbone: str | None = None
    backbone_weights: str | None = None
    finetune_backbone: bool = False
    sync_bn: bool = True
    image_size: int = 448
    augment: bool = True
    seed: int = 0
    gamma: float | None = None
    select_epochs: bool = True
    val_fold: int = 1
    val_holdout: float = 0.2
    criterion: str = "T1"
    device: str = "auto"
    amp: str = "auto"
    grad_clip: float | None = None
    eval_batch_size: int = 64
    num_workers: int = 0
    keep_checkpoints: int = 2
    resume: bool = False
    progress: bool = True

    #: fields that do not change what is computed (excluded from the resume fingerprint)
    RUNTIME_FIELDS = ("out_dir", "resume", "progress", "num_workers", "eval_batch_size", "keep_checkpoints",
                      "device", "epochs")

    @property
    def regression_loss(self) -> str:
        return self.loss if self.loss is not None else MODEL_LOSSES.get(self.model, ("remse",))[0]

    def validate(self) -> "ImageModelConfig":
        _choice("model", self.model, tuple(IMAGE_MODELS))
        _int("epochs", self.epochs, 1)
        _real("lr", self.lr, low=0.0, low_open=True)
        _choice("optimizer", self.optimizer, ("sgd", "adam"))
        _real("momentum", self.momentum, low=0.0, high=1.0, high_open=True)
        _real("weight_decay", self.weight_decay, low=0.0)
        _int("lr_step", self.lr_step, 0)
        _real("lr_gamma", self.lr_gamma, low=0.0, high=1.0, low_open=True)
        for name in ("lr_step_first", "fused", "finetune_backbone", "sync_bn", "augment", "select_epochs", "resume",
                     "progress"):
            _bool(name, getattr(self, name))
        _choice("sampler", self.sampler, ("episode", "random"))
        _int("ways", self.ways, 1)
        _int("shots", self.shots, 1)
        if self.episodes_per_epoch is not None:
            _int("episodes_per_epoch", self.episodes_per_epoch, 1)
        _int("batch_size", self.batch_size, 1)
        _real("lambda1", self.lambda1, low=0.0)
        _choice("loss", self.regression_loss, MODEL_LOSSES[self.model])
        _real("p", self.p, low=0.0)
        _real("p2", self.p2, low=0.0)
        _choice("remse_mode", self.remse_mode, ("in_batch", "cross_batch"))
        _real("lambda_ad", self.lambda_ad, low=0.0)
        _real("lambda_cpt", self.lambda_cpt, low=0.0)
        _real("scale", self.scale, low=0.0, low_open=True)
        _real("ratio", self.ratio)
        _int("hidden_dim", self.hidden_dim, 0)
        if self.attention_dim is not None:
            _int("attention_dim", self.attention_dim, 1)
        if self.backbone is not None:
            _choice("backbone", self.backbone, tuple(BACKBONES))
            if self.model == "gem_zsl" and self.backbone in VITS:
                raise ConfigError("gem_zsl needs a ResNet backbone (its compactness loss works on the spatial map)")
        elif self.backbone_weights is not None:
            raise ConfigError("backbone_weights given without backbone; name the backbone (e.g. backbone='resnet101')")
        _int("image_size", self.image_size, 32)
        _int("seed", self.seed, 0)
        if self.gamma is not None:
            _real("gamma", self.gamma)
        _int("val_fold", self.val_fold, 1)
        _real("val_holdout", self.val_holdout, low=0.0, high=1.0, low_open=True, high_open=True)
        _choice("criterion", self.criterion, ("T1", "H"))
        _choice("amp", self.amp, AMP_MODES)
        if self.grad_clip is not None:
            _real("grad_clip", self.grad_clip, low=0.0, low_open=True)
        _int("eval_batch_size", self.eval_batch_size, 1)
        _int("num_workers", self.num_workers, 0)
        _int("keep_checkpoints", self.keep_checkpoints, 0)
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def fingerprint(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k not in self.RUNTIME_FIELDS}

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> "ImageModelConfig":
        """The authors' settings of a model for a dataset (:data:`PRESETS`), with ``overrides`` on top.

        ``model`` (in ``overrides``) picks the model family, default ``attention_net``.
        """
        model = overrides.get("model", "attention_net")
        table = PRESETS.get(model, {})
        key = str(name).lower()
        if key not in table:
            have = sorted(table) or "none"
            raise ConfigError(f"unknown {model} preset {name!r}; choose one of {have}")
        return cls.from_dict({**table[key], **overrides, "model": model})

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ImageModelConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown {values.get('model', 'attention_net')} config fields {unknown} (--param names); "
                              f"known: {sorted(known)}")
        return cls(**values)


#: kept for code written against earlier zslkit versions
AttentionNetConfig = ImageModelConfig


def _preset(common: dict[str, Any], per_dataset: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: {**common, **values} for name, values in per_dataset.items()}


#: AttentionNet, the ReZSL authors' configs (``config/*_16w_2s_AttentionNet*.yaml``): 16 ways x 2
#: shots, 300 episodes per epoch, 30 epochs, SGD momentum 0.9, weight decay 1e-5, lr x
#: ``lr_gamma`` every 10 epochs stepped before each epoch, backbone fine-tuned (ResNet-101 at
#: 448 px, or ViT-B/16 at 224 px for ``*_vit``), in-batch ReMSE (the ViT configs set p = p2 = 0:
#: RegNorm'ed MSE). Their YAML seeds are listed for reference; their code sets the seed before
#: reading the YAML, so it never used them.
REZSL_PRESETS: dict[str, dict[str, Any]] = _preset(
    {"model": "attention_net", "epochs": 30, "episodes_per_epoch": 300, "ways": 16, "shots": 2, "optimizer": "sgd",
     "momentum": 0.9, "weight_decay": 1e-5, "lr_step": 10, "lr_step_first": True, "finetune_backbone": True,
     "remse_mode": "in_batch", "loss": "remse", "backbone": "resnet101", "image_size": 448},
    {"awa2": {"lr": 1e-4, "lr_gamma": 0.5, "lambda1": 1.0, "p": 1.0, "p2": 0.1, "scale": 20.0, "hidden_dim": 4096,
              "seed": 1514},
     "cub": {"lr": 5e-4, "lr_gamma": 0.1, "lambda1": 0.25, "p": 0.1, "p2": 0.75, "scale": 20.0, "hidden_dim": 0,
             "seed": 214},
     "sun": {"lr": 5e-4, "lr_gamma": 0.5, "lambda1": 0.1, "p": 0.1, "p2": 0.0, "scale": 25.0, "hidden_dim": 0,
             "seed": 214},
     "awa2_vit": {"lr": 1e-4, "lr_gamma": 0.5, "lambda1": 0.1, "p": 0.0, "p2": 0.0, "scale": 20.0,
                  "hidden_dim": 4096, "seed": 1514, "backbone": "vit_b_16", "image_size": 224},
     "cub_vit": {"lr": 5e-4, "lr_gamma": 0.1, "lambda1": 0.1, "p": 0.0, "p2": 0.0, "scale": 20.0, "hidden_dim": 0,
                 "seed": 214, "backbone": "vit_b_16", "image_size": 224},
     "sun_vit": {"lr": 5e-4, "lr_gamma": 0.5, "lambda1": 0.1, "p": 0.0, "p2": 0.0, "scale": 25.0, "hidden_dim": 0,
                 "seed": 214, "backbone": "vit_b_16", "image_size": 224}})

#: GEM-ZSL, its authors' configs (osierboy/GEM-ZSL ``config/GEMZSL/*_4w_2s.yaml``): 4 ways x 2 shots,
#: 300 episodes per epoch, SGD lr 1e-3 momentum 0.9, weight decay 1e-5, lr x 0.5 every 10 epochs
#: stepped before each epoch, ResNet-101 at 448 px fine-tuned, the paper's losses.
GEM_PRESETS: dict[str, dict[str, Any]] = _preset(
    {"model": "gem_zsl", "episodes_per_epoch": 300, "ways": 4, "shots": 2, "optimizer": "sgd", "lr": 1e-3,
     "momentum": 0.9, "weight_decay": 1e-5, "lr_step": 10, "lr_gamma": 0.5, "lr_step_first": True,
     "finetune_backbone": True, "loss": "gem", "lambda_ad": 0.1, "lambda_cpt": 0.2, "backbone": "resnet101",
     "image_size": 448},
    {"cub": {"epochs": 15, "lambda1": 1.0, "scale": 20.0},
     "awa2": {"epochs": 12, "lambda1": 1.0, "scale": 20.0},
     "sun": {"epochs": 20, "lambda1": 0.5, "scale": 25.0}})

#: BasicNet, ReZSL's baseline: the authors published no BasicNet YAML; their code builds the model named by
#: ``MODEL.META_ARCHITECTURE`` (``BasicNet`` is its default) from the same config, so these are their
#: AttentionNet configs with the architecture switched (same recipe, loss settings and hidden layer).
BASIC_PRESETS: dict[str, dict[str, Any]] = {name: {**values, "model": "basic_net"}
                                            for name, values in REZSL_PRESETS.items()}

#: every model's presets
PRESETS: dict[str, dict[str, dict[str, Any]]] = {"attention_net": REZSL_PRESETS, "gem_zsl": GEM_PRESETS,
                                                 "basic_net": BASIC_PRESETS}


def _real(name: str, value: Any, low: float | None = None, high: float | None = None, low_open: bool = False,
          high_open: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(float(value)):
        raise ConfigError(f"config field {name} must be a finite number, got {value!r}")
    v = float(value)
    if (low is not None and (v <= low if low_open else v < low)) or \
            (high is not None and (v >= high if high_open else v > high)):
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise ConfigError(f"config field {name} must be in {'(' if low_open else '['}{lo}, {hi}"
                          f"{')' if high_open else ']'}, got {value!r}")


def _int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"config field {name} must be an integer >= {minimum}, got {value!r}")


def _bool(name: str, value: Any) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"config field {name} must be true or false, got {value!r}")


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"config field {name} must be one of {list(choices)}, got {value!r}")


# --------------------------------------------------------------------------------------
# inference and evaluation
# --------------------------------------------------------------------------------------


@torch.no_grad()
def predict_semantics(model: nn.Module, dataset: Any, indices: np.ndarray, *, ctx: DistContext | None = None,
                      batch_size: int = 64, amp: AmpSettings | None = None, device: str | torch.device = "cpu",
                      ) -> np.ndarray:
    """(len(indices), A) predicted semantic vectors (``model(x)[0]``), sharded over processes and gathered.

    Every process returns the full array, rows in the order of ``indices``.
    """
    ctx = ctx if ctx is not None else DistContext(device=torch.device(device))
    indices = np.asarray(indices, dtype=np.int64)
    shard = np.array_split(indices, ctx.world_size)[ctx.rank]
    was_training = model.training
    model.eval()
    outs = []
    autocast = amp.autocast() if amp is not None else contextlib.nullcontext()
    try:
        with autocast:
            for start in range(0, shard.size, batch_size):
                idx = shard[start:start + batch_size]
                x = fetch_batch(dataset, idx.tolist()).to(ctx.device, non_blocking=True)
                outs.append(model(x)[0].float())
    finally:
        model.train(was_training)
    local = torch.cat(outs) if outs else torch.zeros((0, model.num_attributes), device=ctx.device)
    return ctx.gather_rows(local).cpu().numpy()


def _cosine_scores_fn(semantic: np.ndarray) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    def scores(X: np.ndarray, classes: np.ndarray) -> np.ndarray:
        a = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
        b = torch.from_numpy(np.ascontiguousarray(semantic[classes], dtype=np.float32))
        return (F.normalize(a, dim=1) @ F.normalize(b, dim=1).T).numpy()

    return scores


def _split_predictions(model: nn.Module, data: AttentionData, split: EvalSplit, ctx: DistContext,
                       batch_size: int, amp: AmpSettings | None) -> np.ndarray:
    """Dense (N, A) predictions, filled at the split's images (zeros elsewhere, never read)."""
    idx = np.unique(np.concatenate([split.seen_idx, split.unseen_idx]).astype(np.int64))
    dense = np.zeros((data.num_images, data.num_attributes), dtype=np.float32)
    dense[idx] = predict_semantics(model, data.eval_dataset, idx, ctx=ctx, batch_size=batch_size, amp=amp)
    return dense


class EvaluateCallback(Callback):
    """After every ``every`` epochs, run the protocol on ``split`` and add ``{prefix}_...`` to the record.

    Records T1, U/S/H at gamma 0 (``_U0``...), the split's own best gamma (``_gamma``,
    from :func:`validation_gamma`), H at that gamma (``_H``) and AUSUC. Use it on
    validation splits: on a validation split its best gamma *is* the validation gamma.
    """

    def __init__(self, data: AttentionData, split: EvalSplit, prefix: str = "val", every: int = 1,
                 batch_size: int = 64):
        self.data = data
        self.split = split
        self.prefix = prefix
        self.every = max(1, int(every))
        self.batch_size = batch_size

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        if record["epoch"] % self.every and record["epoch"] != trainer.epochs:
            return
        model = trainer.model
        feats = _split_predictions(model, self.data, self.split, trainer.ctx, self.batch_size, trainer.amp)
        scores_fn = _cosine_scores_fn(self.data.semantic)
        m = evaluate(scores_fn, feats, self.data.labels, self.split, gamma=0.0)
        g = validation_gamma(scores_fn, feats, self.data.labels, self.split) if len(self.split.seen_idx) else 0.0
        p = self.prefix
        record.update({f"{p}_T1": m.T1, f"{p}_U0": m.U0, f"{p}_S0": m.S0, f"{p}_H0": m.H0, f"{p}_gamma": float(g),
                       f"{p}_H": m.oracle_H, f"{p}_U": m.oracle_U, f"{p}_S": m.oracle_S, f"{p}_ausuc": m.ausuc})


# --------------------------------------------------------------------------------------
# models and losses
# --------------------------------------------------------------------------------------


def _data_fingerprint(data: AttentionData, train_idx: np.ndarray, classes: np.ndarray) -> dict[str, Any]:
    return {"num_images": data.num_images, "num_classes": data.num_classes, "num_attributes": data.num_attributes,
            "map_shape": list(data.map_shape) if data.map_shape else None, "kind": data.kind,
            "train_idx_crc32": zlib.crc32(np.asarray(train_idx, dtype=np.int64).tobytes()),
            "classes_crc32": zlib.crc32(np.asarray(classes, dtype=np.int64).tobytes()),
            "semantic_crc32": zlib.crc32(np.ascontiguousarray(data.semantic).tobytes())}


def build_image_model(cfg: ImageModelConfig, data: AttentionData) -> nn.Module:
    """An untrained model of ``cfg.model`` for ``data`` (its backbone weights read from ``cfg.backbone_weights``)."""
    if cfg.backbone is None:
        if data.kind != "feature_maps":
            raise ConfigError("data holds images but config.backbone is None; name a backbone "
                              "(e.g. 'resnet101') or pass cached feature maps")
        backbone, channels = None, data.map_shape[0]  # type: ignore[index]
    else:
        if data.kind != "images":
            raise ConfigError(f"config.backbone={cfg.backbone!r} needs image inputs, but data holds feature maps; "
                              f"set backbone=None to train the head on the cached maps")
        weights = read_backbone_weights(cfg.backbone_weights) if cfg.backbone_weights else None
        if weights is None and cfg.backbone != "tiny":  # the tiny CNN is meant to start from scratch
            log.warning("backbone %s starts from random weights (no backbone_weights file given)", cfg.backbone)
        backbone, channels = build_backbone(cfg.backbone, weights, image_size=cfg.image_size), None
    common = {"backbone": backbone, "freeze_backbone": not cfg.finetune_backbone, "scale": cfg.scale}
    if cfg.model == "basic_net":
        return BasicNet(data.num_attributes, channels, hidden_dim=cfg.hidden_dim, **common)
    if data.attribute_vectors is None:
        raise ConfigError(f"{cfg.model} needs the word vectors of the attribute names (attribute_vectors); "
                          f"the data has none")
    vectors = torch.from_numpy(data.attribute_vectors)
    if cfg.model == "gem_zsl":
        return GEMZSL(vectors, channels, **common)
    return AttentionNet(vectors, channels, ratio=cfg.ratio, hidden_dim=cfg.hidden_dim,
                        attention_dim=cfg.attention_dim, fused=cfg.fused, **common)


def _build_loss(cfg: ImageModelConfig, data: AttentionData, classes: np.ndarray,
                reduce_fn: Callable | None) -> tuple[nn.Module, Callable]:
    """The model's objective and how a step applies it: ``(loss module, fn(output, labels))``."""
    sem = torch.from_numpy(data.semantic[classes])
    if cfg.model == "gem_zsl":
        groups = attribute_groups(data.num_attributes, data.attribute_names,
                                  dataset=(data.provenance or {}).get("dataset"))
        loss_fn = GEMZSLLoss(sem, groups, lambda_reg=cfg.lambda1, lambda_ad=cfg.lambda_ad, lambda_cpt=cfg.lambda_cpt,
                             loss=cfg.regression_loss, p=cfg.p, p2=cfg.p2, mode=cfg.remse_mode, scale=cfg.scale,
                             reduce_fn=reduce_fn)
        return loss_fn, loss_fn
    loss_fn = AttentionNetLoss(sem, lambda1=cfg.lambda1, loss=cfg.regression_loss, p=cfg.p, p2=cfg.p2,
                               mode=cfg.remse_mode, scale=cfg.scale, reduce_fn=reduce_fn)
    return loss_fn, lambda out, y: loss_fn(out[0], y)


def _run_phase(cfg: ImageModelConfig, data: AttentionData, ctx: DistContext, *, classes: np.ndarray,
               train_idx: np.ndarray, epochs: int, run_dir: Path | None, phase: str,
               callbacks: Sequence[Callback], logger: Any = None) -> tuple[nn.Module, Trainer]:
    """Build model, loss, optimiser, sampler; train ``epochs`` (resuming if asked)."""
    seed_everything(cfg.seed)  # identical initialisation on every process
    model = build_image_model(cfg, data)
    if cfg.finetune_backbone and cfg.sync_bn and ctx.is_distributed and ctx.device.type == "cuda":
        # BatchNorm statistics over the global batch, as in one process (SyncBatchNorm needs CUDA).
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    torch.manual_seed(cfg.seed + 1 + ctx.rank)  # per-process stream (augmentation, dropout)
    loss_fn, apply_loss = _build_loss(cfg, data, classes, ctx.all_reduce_sum if ctx.is_distributed else None)
    loss_fn = loss_fn.to(ctx.device)
    if ctx.is_distributed and cfg.regression_loss == "remse" and cfg.remse_mode != "in_batch" and ctx.is_main:
        log.warning("remse_mode=%r under DDP: each process tracks ReMSE statistics of its own slice", cfg.remse_mode)
    to_local = torch.full((data.num_classes,), -1, dtype=torch.long)
    to_local[torch.from_numpy(np.asarray(classes, dtype=np.int64))] = torch.arange(len(classes))
    to_local = to_local.to(ctx.device)
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "sgd":
        optimizer: torch.optim.Optimizer = torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum,
                                                           weight_decay=cfg.weight_decay)
    else:
        optimizer = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.lr_step, gamma=cfg.lr_gamma) \
        if cfg.lr_step > 0 else None
    if scheduler is not None and cfg.lr_step_first:
        # The authors call scheduler.step() before each epoch's updates; one step ahead of the
        # end-of-epoch steps reproduces their schedule exactly (a resumed run restores its state).
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler.step\(\)` before")
            scheduler.step()
    sampler = build_sampler(cfg.sampler, data.labels[train_idx], train_idx, ways=cfg.ways, shots=cfg.shots,
                            episodes_per_epoch=cfg.episodes_per_epoch, batch_size=cfg.batch_size, seed=cfg.seed,
                            num_replicas=ctx.world_size, rank=ctx.rank)

    def step_fn(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return apply_loss(net(x), to_local[y])

    if ctx.device.type == "cuda" and data.kind == "images":
        torch.backends.cudnn.benchmark = True
    trainer = Trainer(model, step_fn, optimizer, sampler, data.dataset, data.labels, epochs=epochs,
                      scheduler=scheduler, ctx=ctx, amp=cfg.amp, run_dir=run_dir,
                      keep_checkpoints=cfg.keep_checkpoints, callbacks=callbacks, extra_state={"loss": loss_fn},
                      fingerprint={**cfg.fingerprint(), "phase": phase,
                                   **_data_fingerprint(data, train_idx, classes)},
                      meta={"model_config": model.config(), "phase": phase}, num_workers=cfg.num_workers,
                      progress=cfg.progress, desc=f"{cfg.model} {phase}", grad_clip=cfg.grad_clip, logger=logger)
    trainer.fit(resume=cfg.resume)
    return model, trainer


# --------------------------------------------------------------------------------------
# the recipe
# --------------------------------------------------------------------------------------


def train_image_model(config: ImageModelConfig, data: AttentionData, callbacks: Sequence[Callback] = (),
                      train_config: Any = None, logger: Any = None) -> Any:
    """Train and evaluate an image-level model (see module docstring); works under torchrun as is.

    Args:
        config: :class:`ImageModelConfig`.
        data: :class:`~zslkit.training.feature_maps.AttentionData` (feature maps or images).
        callbacks: extra :class:`~zslkit.training.loop.Callback` s for the final phase.
        train_config: the :class:`zslkit.pipeline.TrainConfig` this run came from (recorded in
            ``config.yaml``); None builds one from ``config``.
        logger: an :class:`zslkit.tracking.ExperimentLogger` receiving every epoch's record of both phases
            (``MODEL selection/KEY``, ``MODEL final/KEY``); None = TensorBoard event files in the run
            directory's ``tensorboard/`` when the package is installed.

    Returns a :class:`zslkit.pipeline.RunResult` (on every process); its ``model`` is the trained
    network. With ``out_dir``, global rank 0 writes the run directory of the module docstring.

    Under torchrun the process group is created on entry and destroyed on return. To call
    this function several times in one process, create the group once yourself
    (``torch.distributed.init_process_group()``) before the first call: it is then reused and
    left alone (re-creating a default group under the same torchrun store is unreliable).
    """
    cfg = config.validate()
    ctx = init_distributed(cfg.device)
    try:
        return _train(cfg, data, ctx, callbacks, train_config, logger)
    finally:
        shutdown_distributed(ctx)


def _train(cfg: ImageModelConfig, data: AttentionData, ctx: DistContext, callbacks: Sequence[Callback],
           train_config: Any, logger: Any = None) -> Any:
    from zslkit.utils.outputs import output_dir

    out = Path(cfg.out_dir) if cfg.out_dir else None
    if cfg.resume and out is None:
        raise ConfigError("resume=True needs out_dir (the run directory to resume)")
    # only the main process writes; the run directory is zslkit's (new, empty or its own)
    with output_dir(out, "run") if ctx.is_main and out is not None else contextlib.nullcontext():
        return _train_phases(cfg, data, ctx, callbacks, train_config, out, logger)


def _train_phases(cfg: ImageModelConfig, data: AttentionData, ctx: DistContext, callbacks: Sequence[Callback],
                  train_config: Any, out: Path | None, logger: Any = None) -> Any:
    from zslkit.pipeline import RunResult, TrainConfig

    timings: dict[str, float] = {}
    amp = resolve_amp(cfg.amp, ctx.device)
    if ctx.is_main:
        log.info("%s: %d process(es), device %s, amp %s, data %s", cfg.model, ctx.world_size, ctx.device,
                 amp.describe(), "SYNTHETIC" if data.surrogate else data.kind)

    # -- phase 1: selection on validation classes -------------------------------------
    selection: dict[str, Any] | None = None
    epochs = cfg.epochs
    gamma = cfg.gamma
    if cfg.select_epochs or cfg.gamma is None:
        t0 = time.perf_counter()
        vs = data.validation_split(fold=cfg.val_fold, holdout=cfg.val_holdout, seed=cfg.seed)
        sel_fp = {**cfg.fingerprint(), "epochs": cfg.epochs, **_data_fingerprint(data, vs.train_idx, vs.train_classes)}
        sel_path = out / "selection.json" if out is not None else None
        if cfg.resume and sel_path is not None:
            found = None
            if ctx.is_main and sel_path.is_file():
                found = json.loads(sel_path.read_text(encoding="utf-8"))
            selection = ctx.broadcast_object(found)
            if selection is not None and config_differences(selection.get("fingerprint", {}), to_jsonable(sel_fp)):
                raise CheckpointError(f"cannot resume: {sel_path} was written for another configuration: "
                                      + "; ".join(config_differences(selection["fingerprint"], to_jsonable(sel_fp))[:8]))
        if selection is None:
            cb = EvaluateCallback(data, vs.eval, prefix="val", batch_size=cfg.eval_batch_size)
            _, trainer = _run_phase(cfg, data, ctx, classes=vs.train_classes, train_idx=vs.train_idx,
                                    epochs=cfg.epochs, run_dir=None if out is None else out / "selection",
                                    phase="selection", callbacks=[cb], logger=logger)
            table = [{k: v for k, v in r.items() if k == "epoch" or k == "loss" or k.startswith("val_")}
                     for r in trainer.history]
            key = "val_T1" if cfg.criterion == "T1" else "val_H"
            best = max(range(len(table)), key=lambda i: (table[i][key], -i))  # first best on ties
            selection = {
                "criterion": cfg.criterion, "best_epoch": int(table[best]["epoch"]),
                "gamma": float(table[best]["val_gamma"]), "val_at_best": table[best],
                "source": vs.source, "val_fold": cfg.val_fold, "num_train_classes": int(len(vs.train_classes)),
                "num_val_classes": int(len(vs.val_classes)), "table": table,
                "note": "epochs and gamma chosen on validation classes (seen classes only); never on test",
                "fingerprint": to_jsonable(sel_fp),
            }
            if ctx.is_main and sel_path is not None:
                atomic_write_json(sel_path, selection)
        timings["selection"] = time.perf_counter() - t0
        if cfg.select_epochs:
            epochs = int(selection["best_epoch"])
        if cfg.gamma is None:
            gamma = float(selection["gamma"])

    # -- phase 2: all trainval images ---------------------------------------------------
    t0 = time.perf_counter()
    model, trainer = _run_phase(cfg, data, ctx, classes=data.seen_classes, train_idx=data.splits["trainval"],
                                epochs=epochs, run_dir=out, phase="final", callbacks=callbacks, logger=logger)
    timings["final"] = time.perf_counter() - t0
    stopped_early = len(trainer.history) < epochs

    # -- test ---------------------------------------------------------------------------
    t0 = time.perf_counter()
    metrics, arrays = _test(model, data, ctx, cfg.eval_batch_size, amp, gamma)
    timings["evaluate"] = time.perf_counter() - t0
    summary = data.summary()
    summary.pop("provenance", None)
    if train_config is None:
        defaults = ImageModelConfig()
        params = {k: v for k, v in cfg.to_dict().items()
                  if k not in ("model", "seed", "gamma", "val_fold", "val_holdout", "criterion", "select_epochs")
                  and k not in cfg.RUNTIME_FIELDS and v != getattr(defaults, k)}
        train_config = TrainConfig(data=str((data.provenance or {}).get("path", "<in memory>")), model=cfg.model,
                                   seed=cfg.seed, params=params, tune=cfg.select_epochs, val_folds=[cfg.val_fold],
                                   val_holdout=cfg.val_holdout, criterion=cfg.criterion, gamma=cfg.gamma)
    imgs = sum(r["images"] for r in trainer.history)
    secs = sum(r["seconds"] for r in trainer.history)
    result = RunResult(
        config=train_config, metrics=metrics,
        selection=None if selection is None else {k: v for k, v in selection.items() if k != "fingerprint"},
        params=cfg.to_dict(), surrogate=data.surrogate, dataset=summary, timings=timings, arrays=arrays,
        model=model, history=trainer.history,
        extra={"model_config": model.config(), "world_size": ctx.world_size,
               "train_images_per_s": imgs / secs if secs > 0 else float("nan"), "final_epochs": len(trainer.history),
               "final_loss": trainer.history[-1]["loss"] if trainer.history else None,
               "gamma_source": "fixed in config" if cfg.gamma is not None else
               "validation classes (validation_gamma)"}, out_dir=out, data_files=_data_files(data))
    if ctx.is_main and out is not None and not stopped_early:
        _save_model(out / "model.pt", model, data, float(gamma or 0.0))
        result.save(out)
    if ctx.is_main:
        log.info("%s", metrics.summary())
    ctx.barrier()
    return result


def train_from_config(train_config: Any, data: AttentionData | None = None, out_dir: str | Path | None = None,
                      callbacks: Sequence[Callback] = (), logger: Any = None) -> Any:
    """Run an image-level model from a :class:`zslkit.pipeline.TrainConfig` (what :func:`zslkit.pipeline.train` does).

    ``train_config.model`` names the model (optionally ``NAME(key=value)``); ``params`` are
    :class:`ImageModelConfig` fields, ``preset`` (e.g. ``"cub"``) starting from the authors'
    settings; ``seed``, ``gamma``, ``val_folds`` (one fold), ``val_holdout``, ``criterion`` and
    ``tune`` (choose the epoch count on validation classes) map onto the same fields. Data:
    ``data`` if given, else the feature-map directory ``train_config.data``, else the xlsa17
    directory ``train_config.data`` with the images under ``train_config.images``.
    """
    from zslkit.training.feature_maps import is_feature_map_dir, load_feature_maps, load_image_data

    cfg = train_config
    name, inline = parse_model_spec(cfg.model)
    params = {**inline, **cfg.params}
    preset = params.pop("preset", None)
    if len(cfg.val_folds) != 1:
        raise ConfigError(f"image-level models are selected on one validation fold, got val_folds={cfg.val_folds}")
    values = {"model": name, "seed": cfg.seed, "val_fold": int(cfg.val_folds[0]), "val_holdout": cfg.val_holdout,
              "criterion": cfg.criterion, "gamma": cfg.gamma, "select_epochs": bool(cfg.tune),
              "out_dir": None if out_dir is None else str(out_dir), "progress": bool(cfg.progress),
              **({"device": cfg.device} if cfg.device is not None else {}), **params}
    icfg = (ImageModelConfig.from_preset(preset, **values) if preset is not None
            else ImageModelConfig.from_dict(values)).validate()
    if data is None:
        vectors = None
        if cfg.attribute_vectors is not None:
            try:
                vectors = np.load(cfg.attribute_vectors, allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise ZSLDataError(f"attribute_vectors {cfg.attribute_vectors}: not a readable .npy array "
                                   f"({exc})") from exc
        if is_feature_map_dir(cfg.data):
            if cfg.images is not None:
                raise ConfigError(f"{cfg.data} is a feature-map directory; images are for xlsa17 directories")
            if cfg.semantic != "att":
                raise ConfigError(f"{cfg.data} is a feature-map directory: its class semantic matrix is fixed "
                                  f"(semantic.npy); semantic={cfg.semantic!r} cannot be used with it")
            data = load_feature_maps(cfg.data)
            if vectors is not None:
                data = replace(data, attribute_vectors=vectors, inputs=data.dataset)
        elif cfg.images is not None:
            data = load_image_data(cfg.data, cfg.images, semantic=cfg.semantic, attribute_vectors=vectors,
                                   image_size=icfg.image_size, augment=icfg.augment)
        else:
            raise ConfigError(f"{name} needs a feature-map directory (zslkit.training.feature_maps), or an xlsa17 "
                              f"directory with images (--images IMAGE_ROOT); {cfg.data} is not a feature-map "
                              f"directory and no image root was given")
    return train_image_model(icfg, data, callbacks, train_config=cfg, logger=logger)


def _data_files(data: AttentionData) -> list[str]:
    """The files an image-level run read: a feature-map directory's, or the xlsa17 files (not every image)."""
    pv = data.provenance or {}
    if data.kind == "feature_maps" and pv.get("path"):
        d = Path(pv["path"])
        return [str(d / n) for n in ("meta.json", "labels.npy", "semantic.npy", "splits.npz", "attribute_vectors.npy",
                                     "maps.npy")]
    return [pv[k] for k in ("res101", "att_splits") if pv.get(k)]


def train_attention_net(config: ImageModelConfig, data: AttentionData, callbacks: Sequence[Callback] = ()) -> Any:
    """:func:`train_image_model` (kept for code written against earlier zslkit versions)."""
    return train_image_model(config, data, callbacks)


def _test(model: nn.Module, data: AttentionData, ctx: DistContext, batch_size: int, amp: AmpSettings | None,
          gamma: float | None) -> tuple[Metrics, dict[str, np.ndarray]]:
    """The protocol on the test split, and the arrays of ``predictions.npz`` (with the predicted semantics)."""
    split = data.test_split()
    feats = _split_predictions(model, data, split, ctx, batch_size, amp)
    metrics = evaluate(_cosine_scores_fn(data.semantic), feats, data.labels, split, gamma=gamma)
    arrays = prediction_arrays(metrics, data.semantic, data.seen_classes, data.unseen_classes, data.class_names,
                               feats[metrics.predictions["gzsl_idx"]])
    return metrics, arrays


def _save_model(path: Path, model: nn.Module, data: AttentionData, gamma: float) -> None:
    save_checkpoint(path, {"model": model.state_dict(), "meta": {"model_config": model.config()},
                           "class_names": data.class_names, "attribute_names": data.attribute_names, "gamma": gamma})


def evaluate_image_model(model: nn.Module, data: AttentionData, *, gamma: float | None = None,
                         out_dir: str | Path | None = None, source: dict[str, Any] | None = None,
                         device: str = "auto", batch_size: int = 64, amp: str = "auto",
                         overwrite: bool = False) -> dict[str, Any]:
    """Evaluate a trained image-level model under zslkit's protocol and (optionally) write a run directory.

    For models trained elsewhere, e.g. the authors' released checkpoints loaded with
    :func:`zslkit.models.attention_net.load_rezsl_checkpoint`. Such a model was trained on all
    seen classes, so no validation classes are left to choose the calibration gamma on:
    ``gamma`` None reports the uncalibrated GZSL numbers (gamma 0) as the headline, a given
    ``gamma`` (e.g. the authors' 0.7) is used as fixed, and the test-oracle gamma (the figure the
    authors' evaluation reports) is always reported separately, labelled "oracle".

    ``data`` must hold what the model takes (feature maps from the backbone the model was
    trained with, or images when it has its backbone). ``out_dir`` receives ``config.yaml``
    (what was evaluated), ``model.pt`` (zslkit format), ``predictions.npz`` and ``metrics.json``,
    the layout of a ``zslkit train`` run, so that ``zslkit analyze`` reads it. ``out_dir`` is a
    zslkit output directory (:func:`zslkit.utils.outputs.output_dir`): new, empty or zslkit's; one
    holding a finished run is refused unless ``overwrite``, which first removes what zslkit wrote
    there (and only that). Returns the ``metrics.json`` dict.
    """
    from zslkit.utils.outputs import output_dir

    if out_dir is None:
        return _evaluate_image_model(model, data, gamma, None, source, device, batch_size, amp)
    with output_dir(out_dir, "run", overwrite=overwrite) as od:
        if od.owns("metrics.json"):
            raise ConfigError(f"{out_dir}: holds a finished run; pass --overwrite (overwrite=True) to replace it with "
                              "this evaluation, or choose another --out")
        od.expect("config.yaml", "model.pt", "predictions.npz", "metrics.json")
        return _evaluate_image_model(model, data, gamma, Path(out_dir), source, device, batch_size, amp)


def _evaluate_image_model(model: nn.Module, data: AttentionData, gamma: float | None, out_dir: Path | None,
                          source: dict[str, Any] | None, device: str, batch_size: int, amp: str) -> dict[str, Any]:
    import yaml

    from zslkit.utils.outputs import atomic_path, atomic_write_text

    if gamma is not None:
        _real("gamma", gamma)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if data.num_attributes != model.num_attributes:
        raise ZSLDataError(f"the model predicts {model.num_attributes} attributes, the data's class semantic matrix "
                           f"has {data.num_attributes}")
    ctx = DistContext(device=resolve_device(device))
    model = model.to(ctx.device).eval()
    t0 = time.perf_counter()
    metrics, arrays = _test(model, data, ctx, batch_size, resolve_amp(amp, ctx.device), gamma)
    summary = data.summary()
    summary.pop("provenance", None)
    config = model.config()
    result = metrics.to_dict(with_curve=True)
    result.update({"model": _MODEL_OF_ARCHITECTURE.get(config.get("architecture"), "attention_net"),
                   "evaluated": source or {}, "surrogate": data.surrogate,
                   "gamma_source": "fixed by the caller" if gamma is not None else
                   "none: uncalibrated (gamma 0); no validation classes are left for a model trained elsewhere",
                   "model_config": config, "dataset": summary, "timings_s": {"evaluate": time.perf_counter() - t0}})
    if data.surrogate:
        result["warning"] = "SYNTHETIC/SURROGATE data: not a benchmark result for any real dataset"
    if out_dir is not None:
        out = Path(out_dir)
        atomic_write_text(out / "config.yaml", yaml.safe_dump(to_jsonable({"evaluate": source or {}, "gamma": gamma,
                                                                           "batch_size": batch_size}), sort_keys=False))
        _save_model(out / "model.pt", model, data, float(gamma or 0.0))
        with atomic_path(out / "predictions.npz", suffix=".npz") as tmp:
            np.savez_compressed(tmp, **arrays)
        atomic_write_json(out / "metrics.json", result)
    return result


evaluate_attention_net = evaluate_image_model


# --------------------------------------------------------------------------------------
# loading and attention figures
# --------------------------------------------------------------------------------------

_ARCHITECTURES = {"rezsl-attention-net": AttentionNet, "gem-zsl": GEMZSL, "rezsl-basic-net": BasicNet}
_MODEL_OF_ARCHITECTURE = {"rezsl-attention-net": "attention_net", "gem-zsl": "gem_zsl", "rezsl-basic-net": "basic_net"}


#: largest dimension (attributes, channels, ...) a model config may declare
MAX_CONFIG_DIM = 1 << 20
#: integer settings of each architecture's model config, with their minimum
_CONFIG_INTS = {"rezsl-attention-net": (("num_attributes", 1), ("word_dim", 1), ("feature_channels", 1),
                                        ("attention_dim", 1), ("hidden_dim", 0)),
                "gem-zsl": (("num_attributes", 1), ("word_dim", 1), ("feature_channels", 1)),
                "rezsl-basic-net": (("num_attributes", 1), ("feature_channels", 1), ("hidden_dim", 0))}


def _head_shapes(arch: str, c: dict[str, int]) -> dict[str, tuple[int, ...]]:
    """The shape of every parameter / buffer of the model's head (everything but ``backbone.*``) that the
    config ``c`` (checked integers) describes, computed without building the model."""
    a, ch = c["num_attributes"], c["feature_channels"]
    if arch == "gem-zsl":
        return {"attribute_vectors": (a, c["word_dim"]), "W": (c["word_dim"], ch), "V": (ch, a)}
    h = c["hidden_dim"]
    shapes: dict[str, tuple[int, ...]] = {}
    if arch == "rezsl-basic-net":
        shapes = {"head.weight": (a, h or ch), "head.bias": (a,)}
    else:
        m = c["attention_dim"]
        shapes = {"attribute_weight": (a, h or ch), "attribute_vectors": (a, c["word_dim"]),
                  "query.weight": (m, c["word_dim"]), "query.bias": (m,), "key.weight": (m, ch), "key.bias": (m,),
                  "value.weight": (m, ch), "value.bias": (m,), "out.weight": (ch, m), "out.bias": (ch,)}
    if h:
        shapes.update({"hidden.weight": (h, ch), "hidden.bias": (h,)})
    return shapes


def _check_model_config(cfg: dict[str, Any], weights: dict[str, torch.Tensor], p: Path, with_backbone: bool) -> None:
    """Every setting of ``meta.model_config`` of the right type and range, and every head tensor of the state
    dict of the shape the config implies, before the model is built: a crafted config (a string or 1e6 for a
    dimension) or state dict (a 1-D tensor for a matrix, a bias of the wrong length) is a CheckpointError
    naming the file and the key, and the model built next is no larger than the tensors the file holds."""
    arch = cfg["architecture"]
    dims: dict[str, int] = {}
    for key, low in _CONFIG_INTS[arch]:
        if key not in cfg:
            raise CheckpointError(f"{p}: meta.model_config.{key} is missing (needed to rebuild the {arch} model)")
        v = cfg[key]
        if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= MAX_CONFIG_DIM:
            raise CheckpointError(f"{p}: meta.model_config.{key} = {v!r}, expected an integer in "
                                  f"[{low}, {MAX_CONFIG_DIM}]")
        dims[key] = v
    reals = [("scale", True)] + ([("ratio", False)] if arch == "rezsl-attention-net" else [])
    for key, positive in reals:
        v = cfg.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or (positive and v <= 0):
            raise CheckpointError(f"{p}: meta.model_config.{key} = {v!r}, expected a finite "
                                  f"{'positive ' if positive else ''}number")
    for key in ("fused", "freeze_backbone", "has_backbone"):
        if key in cfg and not isinstance(cfg[key], bool) and not (key == "has_backbone" and cfg[key] is None):
            raise CheckpointError(f"{p}: meta.model_config.{key} = {cfg[key]!r}, expected true or false")
    size = cfg.get("backbone_image_size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or not 16 <= size <= 4096):
        raise CheckpointError(f"{p}: meta.model_config.backbone_image_size = {size!r}, expected an integer in "
                              f"[16, 4096] or null")
    expected = _head_shapes(arch, dims)
    for key, shape in expected.items():
        if key not in weights:
            raise CheckpointError(f"{p}: model.{key} is missing (the {arch} of meta.model_config has it, shape "
                                  f"{shape})")
        t = weights[key]
        if tuple(t.shape) != shape:
            raise CheckpointError(f"{p}: model.{key} has shape {tuple(t.shape)}, expected {shape} from "
                                  f"meta.model_config ({', '.join(f'{k} {v}' for k, v in dims.items())})")
        if not t.is_floating_point():
            raise CheckpointError(f"{p}: model.{key} has dtype {t.dtype}, expected floating point")
    extra = sorted(k for k in weights if k not in expected and not (with_backbone and k.startswith("backbone.")))
    if extra:
        raise CheckpointError(f"{p}: unexpected entries {['model.' + k for k in extra[:5]]} for the {arch} of "
                              "meta.model_config")


def load_image_model(path: str | Path, map_location: str | torch.device = "cpu",
                     backbone: nn.Module | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild a trained model from ``model.pt``, a training checkpoint, or a run directory.

    Returns ``(model in eval mode, info)``; info holds ``gamma``, ``class_names``,
    ``attribute_names`` when present. Weights-only loading; :class:`CheckpointError` names the file.
    """
    p = Path(path)
    if p.is_dir():
        candidates = [p / "model.pt", latest_checkpoint(p / "checkpoints")]
        found = next((c for c in candidates if c is not None and c.is_file()), None)
        if found is None:
            raise CheckpointError(f"{p} holds neither model.pt nor checkpoints/epoch_*.pt")
        p = found
    state = load_checkpoint(p, map_location=map_location)
    meta = state.get("meta")
    cfg = meta.get("model_config") if isinstance(meta, dict) else None
    if not isinstance(cfg, dict) or "model" not in state:
        raise CheckpointError(f"{p} has no model config / weights (meta.model_config, model)")
    weights = state["model"]
    if not isinstance(weights, dict):
        raise CheckpointError(f"{p}: entry 'model' is a {type(weights).__name__}, expected the model's state dict "
                              "(a dict name -> tensor)")
    bad = [k for k, v in weights.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{p}: model.{bad[0]} is a {type(weights[bad[0]]).__name__}, expected a tensor "
                              f"(entry 'model' must map parameter names to tensors)")
    if cfg.get("architecture") is None:  # no tag: an older AttentionNet, refused there with its reason
        AttentionNet.from_config(cfg, backbone=backbone)
    cls = _ARCHITECTURES.get(cfg["architecture"]) if isinstance(cfg["architecture"], str) else None
    if cls is None:
        raise CheckpointError(f"{p}: meta.model_config.architecture = {cfg['architecture']!r}, expected one of "
                              f"{sorted(_ARCHITECTURES)}")
    _check_model_config(cfg, weights, p, with_backbone=backbone is not None or cfg.get("has_backbone") is True)
    model = cls.from_config(cfg, backbone=backbone)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as exc:
        raise CheckpointError(f"weights in {p} do not fit the model config: {exc}") from exc
    info = {k: state.get(k) for k in ("gamma", "class_names", "attribute_names", "epoch")}
    return model.eval(), info


load_attention_net = load_image_model


def check_attention_request(data: AttentionData, indices: Sequence[int], top_k: int) -> list[int]:
    """The image indices of an attention-map request, checked (each in ``0..N-1``, at least one;
    ``top_k >= 1``); raises :class:`ConfigError` naming the bad value."""
    idx = [int(i) for i in indices]
    if not idx:
        raise ConfigError("analyze_attention needs at least one image index")
    n = int(data.labels.shape[0])
    bad = [i for i in idx if not 0 <= i < n]
    if bad:
        raise ConfigError(f"image index {bad[0]} is out of range: the data has {n} images, valid indices are "
                          f"0..{n - 1}")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ConfigError(f"top_k must be an integer >= 1, got {top_k!r}")
    return idx


@torch.no_grad()
def analyze_attention(model: nn.Module, data: AttentionData, indices: Sequence[int], out_path: str | Path, *,
                      images: np.ndarray | None = None, top_k: int = 6, device: str | torch.device = "cpu",
                      title: str | None = None) -> Path:
    """Render a PNG grid of per-attribute attention maps for the images ``indices``.

    For AttentionNet and GEM-ZSL on spatial maps. For every image, the ``top_k`` attributes
    with the largest value in its class's semantic vector are shown (as the authors' tool shows
    the attributes the class has), each map upsampled onto the image (``images``: (n, H, W, 3)
    or (n, 3, H, W) arrays in [0, 1], one per index) or, without images, onto the input
    (feature maps: their mean activation). Panel captions give the predicted and true attribute
    values, both L2-normalised per image (RegNorm, the space of the regression loss).
    """
    from zslkit.evaluation.attention_maps import render_attention_grid

    idx = check_attention_request(data, indices, top_k)
    dev = torch.device(device)
    model = model.to(dev).eval()
    x = fetch_batch(data.eval_dataset, idx).to(dev)
    out = model(x)
    if not hasattr(out, "attention"):
        raise ConfigError(f"{type(model).__name__} has no attention maps to render")
    if out.attention.ndim != 4:
        raise ConfigError("attention maps can be rendered for spatial feature maps (B, C, h, w) only, not tokens")
    attention = out.attention.float().cpu().numpy()  # (n, A, h, w)
    if images is None:  # feature maps: their mean activation; images: the (normalised) input, rescaled
        images = x.float().mean(dim=1).cpu().numpy() if data.kind == "feature_maps" else x.float().cpu().numpy()
    sem = data.semantic[data.labels[idx]]
    names = data.attribute_names or [f"attribute {a}" for a in range(data.num_attributes)]
    chosen = np.argsort(-sem, axis=1, kind="stable")[:, :top_k]
    # Shown values are L2-normalised per image (RegNorm), the space the regression loss compares.
    pred = F.normalize(out.semantic.float(), dim=1).cpu().numpy()
    sem = sem / np.maximum(np.linalg.norm(sem, axis=1, keepdims=True), 1e-12)
    captions = [data.class_names[data.labels[i]] for i in idx]
    return render_attention_grid(attention, chosen, out_path, images=images, attribute_names=names,
                                 row_titles=captions, values=pred, targets=sem, title=title)
