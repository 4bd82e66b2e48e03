"""Patch features computed once: a memory-mapped, resumable on-disk cache.

Layout of a cache directory (one per fingerprint, so a changed image list, patch layout or
backbone never reuses stale features)::

    <cache_root>/patch-features-<fingerprint[:16]>/
        features.npy   (N, N_t, D_f) float32, a .npy opened with np.lib.format.open_memmap
        state.json     {"fingerprint", "shape", "batch_size", "done", "bad", "complete"}

Extraction walks the images in fixed, aligned batches ``[k * B, (k + 1) * B)``. After each
batch the feature rows are flushed to ``features.npy`` and *then* ``state.json`` is
replaced atomically with the new ``done`` count. A process killed at any moment therefore
leaves a state that describes only fully written rows, and a rerun resumes at the first
incomplete batch (re-writing a partial batch is harmless). ``features.npy`` is the one
output written in place rather than atomically: it is a work file whose valid prefix is
defined by the atomically written ``state.json``. Resuming keeps the batch size stored in
the state, so every batch has the same composition (hence the same numbers) as in an
uninterrupted run.

Unreadable images are recorded in ``state["bad"]`` (index, path, reason) with all-zero rows
and ``valid = False``; with ``fail_fast`` the first one raises instead.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from zslkit.data.images import BadImages, ImageList, ImageReadError
from zslkit.data.patches import PatchExtractor
from zslkit.errors import ZSLDataError
from zslkit.utils.outputs import atomic_write_json

log = logging.getLogger(__name__)

STATE_FILE = "state.json"
FEATURES_FILE = "features.npy"


def image_list_fingerprint(images: ImageList) -> str:
    """SHA-256 over the paths, labels, sizes and modification times of the images.

    A file replaced by another (new size or mtime) invalidates the cache; missing files are
    part of the list too (they become bad images).
    """
    h = hashlib.sha256()
    for path, label in zip(images.paths, images.labels.tolist()):
        try:
            st = os.stat(path)
            stamp = f"{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            stamp = "missing"
        h.update(f"{path}\t{label}\t{stamp}\n".encode())
    return h.hexdigest()


def cache_fingerprint(images: ImageList, extractor: PatchExtractor, backbone_id: str, dim: int,
                      extra: dict[str, Any] | None = None) -> str:
    """Fingerprint of everything the cached numbers depend on."""
    payload = {"images": image_list_fingerprint(images), "patches": extractor.spec.to_dict(),
               "backbone": backbone_id, "dim": int(dim), "extra": extra or {}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


@dataclass
class FeatureCache:
    """A finished (or partial) cache: ``features`` is an (N, N_t, D_f) read-only memmap."""

    directory: Path
    fingerprint: str
    features: np.ndarray
    bad: list[dict[str, Any]]
    complete: bool
    resumed_from: int = 0  # images already done when this process started
    seconds: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def valid(self) -> np.ndarray:
        """(N,) True for images whose features were computed."""
        v = np.ones(self.features.shape[0], dtype=bool)
        v[[b["index"] for b in self.bad]] = False
        return v


def _read_state(d: Path) -> dict[str, Any] | None:
    try:
        return json.loads((d / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None


def extract_features(images: ImageList, extractor: PatchExtractor, backbone: nn.Module, cache_root: str | Path,
                     backbone_id: str, batch_size: int = 16, fail_fast: bool = False, device: str = "cpu",
                     progress: bool = True, on_batch: Callable[[int, int], None] | None = None,
                     desc: str = "patch features") -> FeatureCache:
    """Compute (or resume computing, or just open) the patch features of ``images``.

    Args:
        images: the images, in the order rows are stored.
        extractor: cuts each image into ``N_t`` patch tensors.
        backbone: ``(B, 3, s, s) -> (B, D_f)`` module with ``out_dim``; run in eval mode
            under ``torch.inference_mode``.
        cache_root: folder that holds the per-fingerprint cache directories.
        backbone_id: identifies the weights (e.g. :func:`zslkit.vgse.backbone.state_fingerprint`).
        batch_size: images per batch (patches per forward = ``batch_size * N_t``); a resumed
            cache keeps the batch size it was started with.
        fail_fast: raise :class:`ImageReadError` at the first unreadable image instead of
            recording it and going on.
        on_batch: called as ``on_batch(done, total)`` after each batch is durably recorded
            (tests use it to interrupt extraction).

    Returns:
        the :class:`FeatureCache`.
    """
    n, t, dim = len(images), extractor.num_patches, int(backbone.out_dim)
    if n == 0:
        raise ZSLDataError("no images to extract features from")
    from zslkit.utils.outputs import output_dir

    fp = cache_fingerprint(images, extractor, backbone_id, dim)
    d = Path(cache_root) / f"patch-features-{fp[:16]}"
    with output_dir(d, "feature cache"):  # zslkit's own folder (one per fingerprint), locked while it is filled
        return _extract(images, extractor, backbone, d, fp, (n, t, dim), batch_size, fail_fast, device, progress,
                        on_batch, desc)


def _extract(images: ImageList, extractor: PatchExtractor, backbone: nn.Module, d: Path, fp: str,
             shape: tuple[int, int, int], batch_size: int, fail_fast: bool, device: str, progress: bool,
             on_batch: Callable[[int, int], None] | None, desc: str) -> FeatureCache:
    from zslkit.utils.outputs import claim_output

    n, t, dim = shape
    state = _read_state(d)
    feat_path = d / FEATURES_FILE
    if state is not None and (state.get("fingerprint") != fp or state.get("shape") != [n, t, dim]
                              or not feat_path.is_file()):
        log.warning("%s: cache state does not match (or features missing); recomputing from scratch", d)
        state = None
    if state is None:
        state = {"fingerprint": fp, "shape": [n, t, dim], "batch_size": int(batch_size), "done": 0, "bad": [],
                 "complete": False, "root": images.root}
        claim_output(feat_path)  # filled in place, batch by batch (state.json says how far)
        np.lib.format.open_memmap(feat_path, mode="w+", dtype=np.float32, shape=(n, t, dim)).flush()
        atomic_write_json(d / STATE_FILE, state)
    start = int(state["done"])
    if state["complete"]:
        feats = np.load(feat_path, mmap_mode="r")
        return FeatureCache(d, fp, feats, state["bad"], True, resumed_from=n, meta=state)
    if start:
        log.info("%s: resuming feature extraction at image %d of %d", d, start, n)
    bs = int(state["batch_size"])
    bad = BadImages(fail_fast=fail_fast, items=[(b["index"], b["path"], b["reason"]) for b in state["bad"]])
    claim_output(feat_path)
    feats = np.load(feat_path, mmap_mode="r+")
    backbone = backbone.to(device).eval()
    t0 = time.perf_counter()
    from zslkit.utils.progress import progress_bar

    bar = progress_bar(total=n, initial=start, disable=not progress, desc=desc, unit="img")
    try:
        for b0 in range(start, n, bs):
            idx = range(b0, min(b0 + bs, n))
            patches, rows = [], []
            for i in idx:
                try:
                    img = images.load(i)
                except ImageReadError as exc:
                    bad.add(i, exc)  # raises when fail_fast
                    feats[i] = 0.0
                    continue
                patches.append(extractor(img, i))
                rows.append(i)
            if patches:
                x = torch.cat(patches).to(device)
                with torch.inference_mode():
                    f = backbone(x).float().cpu().numpy()
                feats[rows] = f.reshape(len(rows), t, dim)
            feats.flush()  # rows on disk before the state that declares them done
            state["done"] = idx[-1] + 1
            state["bad"] = bad.to_list()
            atomic_write_json(d / STATE_FILE, state)
            bar.update(len(idx))
            if on_batch is not None:
                on_batch(state["done"], n)
    finally:
        bar.close()
        del feats
    state["complete"] = True
    atomic_write_json(d / STATE_FILE, state)
    if bad.items:
        log.warning("%s", bad.report())
    return FeatureCache(d, fp, np.load(feat_path, mmap_mode="r"), state["bad"], True, resumed_from=start,
                        seconds=time.perf_counter() - t0, meta=state)
