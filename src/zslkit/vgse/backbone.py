"""Patch backbones theta: torchvision ResNets with local weights, and a tiny CNN for the demo.

:func:`build_backbone` returns an ``nn.Module`` mapping images ``(B, 3, s, s)`` to pooled
features ``(B, D_f)`` (the classifier replaced by identity), with ``out_dim`` = D_f:

* ``resnet50`` / ``resnet101`` (D_f = 2048; also ``resnet18`` / ``resnet34``, D_f = 512):
  the torchvision architecture, weights read from a file the user names
  (``torch.load(weights_only=True)``; a raw state dict, or one under ``state_dict`` /
  ``model``; a ``module.`` prefix from DataParallel is stripped; ``fc.*`` is ignored). Nothing
  is ever downloaded: without a file the build fails with a :class:`ConfigError`, as it does
  for a missing/unreadable file and for missing or unexpected keys (named in the message).
* ``tiny``: :class:`TinyCNN`, four conv-BN-ReLU stages and global average pooling
  (D_f = 64 by default), seeded initialisation; :func:`pretrain_tiny` can train it briefly
  with cross-entropy on seen-class images (random crops), since no pretrained weights exist
  here. Used by the synthetic-world demo and the tests.

Modules here do no I/O; loading and saving happen in the functions.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from zslkit.errors import ConfigError

log = logging.getLogger(__name__)

RESNETS = {"resnet18": 512, "resnet34": 512, "resnet50": 2048, "resnet101": 2048}
BACKBONES = (*RESNETS, "tiny")


class TinyCNN(nn.Module):
    """Small CNN for 32-64 px inputs: ``(B, 3, s, s) -> (B, widths[-1])``.

    Each stage is conv3x3-BN-ReLU followed by 2x2 max-pooling (except the last), then
    global average pooling. About 25 k parameters with the default widths.
    """

    def __init__(self, widths: tuple[int, ...] = (16, 32, 64)):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for i, w in enumerate(widths):
            layers += [nn.Conv2d(c_in, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
            if i < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
            c_in = w
        self.features = nn.Sequential(*layers)
        self.out_dim = widths[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(self.features(x), 1).flatten(1)


class _PooledResNet(nn.Module):
    """A torchvision ResNet whose ``fc`` is the identity: ``(B, 3, H, W) -> (B, D_f)``."""

    def __init__(self, name: str):
        super().__init__()
        import torchvision

        self.net = getattr(torchvision.models, name)(weights=None)
        self.net.fc = nn.Identity()
        self.out_dim = RESNETS[name]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _unwrap_state_dict(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    if isinstance(obj, dict):
        for key in ("state_dict", "model", "model_state_dict"):
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ConfigError(f"{path}: expected a state dict (parameter name -> tensor), got {type(obj).__name__}")
    out = {}
    for k, v in obj.items():
        k = k[len("module."):] if k.startswith("module.") else k
        out[k] = v
    return out


def load_resnet_weights(model: _PooledResNet, path: str | os.PathLike) -> None:
    """Load a torchvision-style ResNet state dict from ``path`` into ``model`` (in place).

    Raises:
        ConfigError: file missing or unreadable, not a state dict, missing/unexpected keys,
            or shapes that do not fit (each named in the message).
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"backbone weights file {p} not found (no weights are downloaded: name a local "
                          "torchvision ResNet state dict, e.g. resnet101-63fe2227.pth)")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises pickle/zip/runtime errors on foreign files
        raise ConfigError(f"{p}: not a readable torch weights file ({type(exc).__name__}: {exc})") from exc
    sd = _unwrap_state_dict(obj, p)
    sd = {k: v for k, v in sd.items() if not k.startswith("fc.")}  # the classifier is replaced anyway
    target = model.net.state_dict()
    # Old torchvision files predate BatchNorm's num_batches_tracked; load_state_dict fills it in.
    missing = sorted(k for k in target if k not in sd and not k.endswith("num_batches_tracked"))
    unexpected = sorted(k for k in sd if k not in target)
    if missing or unexpected:
        raise ConfigError(f"{p}: state dict does not match torchvision {type(model.net).__name__} "
                          f"({len(missing)} missing keys, e.g. {missing[:5]}; {len(unexpected)} unexpected keys, "
                          f"e.g. {unexpected[:5]}); is it the right architecture?")
    bad = [(k, tuple(sd[k].shape), tuple(target[k].shape)) for k in target
           if k in sd and sd[k].shape != target[k].shape]
    if bad:
        raise ConfigError(f"{p}: {len(bad)} tensors have the wrong shape, e.g. {bad[:3]} (file, expected)")
    model.net.load_state_dict(sd, strict=True)


def build_backbone(name: str, weights: str | os.PathLike | None = None, seed: int = 0,
                   tiny_widths: tuple[int, ...] = (16, 32, 64)) -> nn.Module:
    """Build the patch backbone ``name`` (module docstring), in eval mode, on CPU.

    Args:
        name: one of :data:`BACKBONES`.
        weights: local weights file; required for ResNets; for ``tiny`` an optional state
            dict saved by :func:`save_backbone`.
        seed: initialisation seed of ``tiny`` (the global RNG is left untouched).
    """
    if name not in BACKBONES:
        raise ConfigError(f"unknown backbone {name!r}; choose one of {list(BACKBONES)}")
    if name == "tiny":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model: nn.Module = TinyCNN(tiny_widths)
        if weights is not None:
            p = Path(weights)
            if not p.is_file():
                raise ConfigError(f"tiny backbone weights file {p} not found")
            try:
                sd = _unwrap_state_dict(torch.load(p, map_location="cpu", weights_only=True), p)
                model.load_state_dict(sd, strict=True)
            except RuntimeError as exc:
                raise ConfigError(f"{p}: does not fit the tiny backbone {tiny_widths}: {exc}") from exc
    else:
        if weights is None:
            raise ConfigError(f"backbone {name!r} needs a local weights file (nothing is downloaded); pass "
                              "weights=PATH, or use backbone='tiny' for the synthetic demo")
        model = _PooledResNet(name)
        load_resnet_weights(model, weights)
    return model.eval()


def state_fingerprint(model: nn.Module) -> str:
    """SHA-256 of a module's state dict (names, shapes, bytes): identifies the weights in caches."""
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        t = v.detach().cpu().contiguous()
        h.update(k.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()


def save_backbone(model: nn.Module, path: str | os.PathLike) -> Path:
    """``torch.save`` of the state dict, atomically."""
    from zslkit.utils.outputs import atomic_path

    with atomic_path(path) as tmp:
        torch.save(model.state_dict(), tmp)
    return Path(path)


def pretrain_tiny(model: TinyCNN, images: list[np.ndarray], labels: np.ndarray, size: int, epochs: int = 5,
                  seed: int = 0, lr: float = 3e-3, batch_size: int = 64, crop_scale: tuple[float, float] = (0.15, 1.0),
                  mean: tuple[float, ...] = (0.485, 0.456, 0.406), std: tuple[float, ...] = (0.229, 0.224, 0.225),
                  progress: bool = False, log_fn: Callable[[str], None] | None = None) -> list[dict[str, float]]:
    """Train ``model`` briefly with cross-entropy over the classes of ``labels`` (in place).

    The demo's stand-in for ImageNet pre-training: random-resized crops (area share
    ``crop_scale``, resized to ``size``) with horizontal flips of the seen-class images teach
    the CNN colours, shapes and textures at patch scale. A temporary linear classifier is
    trained with it and thrown away. Deterministic for a given ``seed`` (the global RNG is
    left untouched).

    Args:
        images: list of (H, W, 3) uint8 arrays (seen-class training images only).
        labels: (N,) class ids (any integers; remapped to 0..C-1).
    Returns:
        history: per epoch ``{"epoch", "loss", "acc", "seconds"}``.
    """
    from zslkit.utils.progress import progress_bar

    if epochs <= 0 or not images:
        return []
    classes, y = np.unique(np.asarray(labels), return_inverse=True)
    rng = np.random.default_rng([seed, 11])
    mean_t = torch.tensor(mean).view(1, 3, 1, 1)
    std_t = torch.tensor(std).view(1, 3, 1, 1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = nn.Linear(model.out_dim, classes.size)
        opt = torch.optim.Adam(list(model.parameters()) + list(head.parameters()), lr=lr, weight_decay=1e-4)
        model.train()
        history = []
        for epoch in range(epochs):
            t0 = time.perf_counter()
            order = rng.permutation(len(images))
            tot, correct, count = 0.0, 0, 0
            for b in progress_bar(range(0, len(order), batch_size), disable=not progress,
                                  desc=f"tiny pretrain {epoch + 1}", leave=False):
                idx = order[b:b + batch_size]
                x = torch.stack([_random_crop(images[i], size, crop_scale, rng) for i in idx])
                x = (x - mean_t) / std_t
                target = torch.from_numpy(y[idx].astype(np.int64))
                logits = head(model(x))
                loss = F.cross_entropy(logits, target)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                tot += float(loss.detach()) * idx.size
                correct += int((logits.argmax(1) == target).sum())
                count += idx.size
            history.append({"epoch": epoch + 1, "loss": tot / count, "acc": correct / count,
                            "seconds": time.perf_counter() - t0})
            if log_fn:
                log_fn(f"tiny backbone pretraining epoch {epoch + 1}/{epochs}: loss {tot / count:.3f}, "
                       f"train acc {correct / count:.3f}")
    model.eval()
    return history


def _random_crop(img: np.ndarray, size: int, scale: tuple[float, float], rng: np.random.Generator) -> torch.Tensor:
    """A random-resized crop with flip of an (H, W, 3) uint8 image as a (3, size, size) float tensor in [0, 1]."""
    from zslkit.data.patches import random_boxes

    h, w = img.shape[:2]
    x0, y0, x1, y1 = random_boxes(w, h, 1, rng, scale=scale)[0]
    t = torch.from_numpy(np.array(img[y0:y1, x0:x1])).permute(2, 0, 1).float().div_(255.0)  # copy: writable
    t = F.interpolate(t[None], size=(size, size), mode="bilinear", align_corners=False, antialias=True)[0]
    if rng.random() < 0.5:
        t = t.flip(-1)
    return t
