"""Reading state dicts (name -> tensor) from local files, weights-only."""

from __future__ import annotations

import os
from pathlib import Path

from zslkit.errors import CheckpointError


def read_state_dict(path: str | os.PathLike, what: str = "weight file") -> dict:
    """A state dict from ``path``, read with ``torch.load(weights_only=True)`` (nothing else is unpickled).

    Accepts a bare state dict or a dict holding it under ``"state_dict"`` or ``"model"``; a
    ``"module."`` prefix (saved from DataParallel/DDP) is stripped. Raises
    :class:`CheckpointError` naming the file (``what`` says what the file should be).
    """
    import torch

    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{what} {p} does not exist (zslkit never downloads weights)")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises several types for corrupt or unsafe files
        raise CheckpointError(f"cannot read {what} {p} with torch.load(weights_only=True): "
                              f"{type(exc).__name__}: {exc}") from exc
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if key in obj and not all(isinstance(v, torch.Tensor) for v in obj.values()):
                if not isinstance(obj[key], dict):
                    raise CheckpointError(f"{what} {p}: entry {key!r} is a {type(obj[key]).__name__}, expected a "
                                          "state dict (a dict name -> tensor)")
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj:
        found = f"an empty {type(obj).__name__}" if isinstance(obj, dict) else f"a {type(obj).__name__}"
        raise CheckpointError(f"{what} {p} does not hold a state dict (name -> tensor): found {found}")
    bad = next((k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)), None)
    if bad is not None:
        raise CheckpointError(f"{what} {p}: entry {bad!r} is a {type(obj[bad]).__name__}, expected a tensor (the "
                              "file must hold a state dict, name -> tensor)")
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in obj.items()}
