"""Checkpoints: atomic writes, ``torch.load(weights_only=True)`` reads, RNG state capture.

A training checkpoint is a plain dict of tensors and plain Python values (str, int,
float, bool, None, lists, tuples, dicts), so that it loads with
``torch.load(..., weights_only=True)``: unpickling arbitrary objects from a file is never
needed, and a checkpoint from an untrusted source cannot run code. RNG states are stored as
tensors (torch, CUDA, the NumPy global MT19937 key, Python's ``random`` state).

Layout of a run's ``checkpoints/`` folder: ``epoch_0001.pt``, ``epoch_0002.pt``, ... (one
per completed epoch, the newest ``keep`` kept). Each is written to a temporary file beside
the destination and renamed into place (:func:`zslkit.utils.outputs.atomic_path`), so a
process killed at any moment leaves either the previous checkpoint or the new one, never a
truncated file.
"""

from __future__ import annotations

import io
import logging
import os
import random
import re
from pathlib import Path
from typing import IO, Any, Mapping

import numpy as np
import torch

from zslkit.errors import CheckpointError
from zslkit.utils.outputs import atomic_path

log = logging.getLogger(__name__)

__all__ = [
    "CHECKPOINT_FORMAT",
    "capture_rng_state",
    "checkpoint_path",
    "config_differences",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "prune_checkpoints",
    "read_backbone_weights",
    "restore_rng_state",
    "save_checkpoint",
]

#: Version tag stored in every checkpoint; bumped when the layout changes incompatibly.
CHECKPOINT_FORMAT = "zslkit-train-v1"

_NAME = re.compile(r"^epoch_(\d+)\.pt$")


# --------------------------------------------------------------------------------------
# RNG state as tensors
# --------------------------------------------------------------------------------------


def capture_rng_state() -> dict[str, Any]:
    """The states of torch (CPU and every CUDA device), NumPy's global RNG and ``random``.

    Tensors and plain types only.
    """
    py_version, py_internal, py_gauss = random.getstate()
    np_state = np.random.get_state(legacy=False)
    if np_state.get("bit_generator") != "MT19937":  # pragma: no cover - numpy's global RNG is MT19937
        raise CheckpointError(f"cannot store NumPy bit generator {np_state.get('bit_generator')!r}")
    return {
        "torch": torch.get_rng_state(),
        "cuda": list(torch.cuda.get_rng_state_all()) if torch.cuda.is_available() else [],
        "numpy": {
            "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "python": {"version": int(py_version), "internal": torch.tensor(py_internal, dtype=torch.int64),
                   "gauss": py_gauss},
    }


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`. CUDA states are restored when the device count matches."""
    try:
        torch.set_rng_state(state["torch"].to(torch.uint8).cpu())
        cuda = list(state.get("cuda") or [])
        if cuda and torch.cuda.is_available():
            if len(cuda) == torch.cuda.device_count():
                torch.cuda.set_rng_state_all([s.to(torch.uint8).cpu() for s in cuda])
            else:
                log.warning("checkpoint holds RNG states of %d CUDA devices, this machine has %d: not restored",
                            len(cuda), torch.cuda.device_count())
        npst = state["numpy"]
        np.random.set_state({"bit_generator": "MT19937",
                             "state": {"key": npst["key"].numpy().astype(np.uint32), "pos": int(npst["pos"])},
                             "has_gauss": int(npst["has_gauss"]), "gauss": float(npst["gauss"])})
        py = state["python"]
        random.setstate((int(py["version"]), tuple(int(v) for v in py["internal"].tolist()), py["gauss"]))
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"checkpoint RNG state is malformed ({type(exc).__name__}: {exc}); "
                              f"expected the dict written by capture_rng_state") from exc


# --------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------


def checkpoint_path(directory: str | os.PathLike, epoch: int) -> Path:
    """``directory/epoch_0007.pt`` for epoch 7 (1-based: epochs completed)."""
    return Path(directory) / f"epoch_{int(epoch):04d}.pt"


def list_checkpoints(directory: str | os.PathLike) -> list[tuple[int, Path]]:
    """``(epoch, path)`` of every ``epoch_NNNN.pt`` in ``directory``, oldest first."""
    d = Path(directory)
    if not d.is_dir():
        return []
    found = []
    for p in d.iterdir():
        m = _NAME.match(p.name)
        if m and p.is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


def latest_checkpoint(directory: str | os.PathLike) -> Path | None:
    """The checkpoint of the highest completed epoch in ``directory``, or None."""
    found = list_checkpoints(directory)
    return found[-1][1] if found else None


def prune_checkpoints(directory: str | os.PathLike, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` epoch checkpoints (``keep <= 0`` keeps all)."""
    if keep <= 0:
        return []
    from zslkit.utils.outputs import remove_output

    removed = []
    for _, p in list_checkpoints(directory)[:-keep]:
        if remove_output(p):  # only a checkpoint zslkit wrote (listed in the run directory's manifest)
            removed.append(p)
    return removed


def save_checkpoint(path: str | os.PathLike, state: Mapping[str, Any]) -> Path:
    """Write ``state`` atomically with ``torch.save`` (after checking it loads weights-only).

    ``state`` must hold only tensors and plain types; a value that ``weights_only``
    loading would refuse raises :class:`CheckpointError` naming the file, before anything
    is renamed into place.
    """
    dest = Path(path)
    payload = {"format": CHECKPOINT_FORMAT, **state}
    buf = io.BytesIO()
    try:
        torch.save(payload, buf)
    except Exception as exc:  # noqa: BLE001 - pickling errors come in several types
        raise CheckpointError(f"checkpoint for {dest} cannot be serialised: {type(exc).__name__}: {exc}; "
                              f"store tensors and plain types only") from exc
    try:
        buf.seek(0)
        torch.load(buf, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling refusal means a non-plain value
        raise CheckpointError(f"checkpoint for {dest} holds a value that torch.load(weights_only=True) refuses: "
                              f"{exc}; store tensors and plain types only") from exc
    with atomic_path(dest) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(buf.getbuffer())
    return dest


def load_checkpoint(source: str | os.PathLike | IO[bytes], map_location: str | torch.device = "cpu",
                    name: str | None = None) -> dict[str, Any]:
    """Read a checkpoint with ``torch.load(weights_only=True)``.

    ``source`` is a path or a binary file object (e.g. bytes broadcast from rank 0, then
    ``name`` is the path it came from, for messages). Raises :class:`CheckpointError` naming
    the file when it is missing, unreadable, not weights-only, or not a zslkit checkpoint.
    """
    label = name or (str(source) if isinstance(source, (str, os.PathLike)) else "<checkpoint bytes>")
    if isinstance(source, (str, os.PathLike)) and not Path(source).is_file():
        raise CheckpointError(f"checkpoint file {label} does not exist")
    try:
        state = torch.load(source, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises several types for corrupt files
        raise CheckpointError(f"cannot read checkpoint {label} with torch.load(weights_only=True): "
                              f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        found = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise CheckpointError(f"{label} is not a zslkit training checkpoint: format {found!r}, "
                              f"expected {CHECKPOINT_FORMAT!r}")
    return state


def config_differences(saved: Mapping[str, Any], current: Mapping[str, Any],
                       ignore: tuple[str, ...] = ()) -> list[str]:
    """``"field: saved -> current"`` for every top-level field that differs (except ``ignore``)."""
    out = []
    for key in sorted(set(saved) | set(current)):
        if key in ignore:
            continue
        a, b = saved.get(key, "<absent>"), current.get(key, "<absent>")
        if a != b:
            out.append(f"{key}: {a!r} -> {b!r}")
    return out


def read_backbone_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A backbone state dict from a local weight file (no download), weights-only.

    Accepts a bare ``state_dict`` (torchvision's ``resnet101-*.pth`` files), or a dict with
    the state dict under ``"state_dict"`` or ``"model"``; a ``"module."`` prefix (saved
    from DataParallel/DDP) is stripped. Raises :class:`CheckpointError` naming the file.
    """
    from zslkit.utils.torchfiles import read_state_dict

    return read_state_dict(path, what="backbone weight file")
