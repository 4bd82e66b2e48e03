"""Human-readable summaries of any supported file or dataset directory (``zslkit data inspect``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from zslkit.data.matfile import is_mat73, load_mat
from zslkit.data.xlsa17 import available_semantics, features_file, load_xlsa17
from zslkit.errors import ZSLDataError


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return f"string {value[:40]!r}"
    arr = np.asarray(value)
    if arr.dtype == object:
        return f"cell array {arr.shape}"
    desc = f"{arr.dtype} {arr.shape}"
    if arr.size and np.issubdtype(arr.dtype, np.number):
        finite = np.isfinite(arr)
        desc += f" min {np.min(arr[finite]) if finite.any() else 'n/a':.4g} max {np.max(arr[finite]) if finite.any() else 'n/a':.4g}"
        if not finite.all():
            desc += f" ({int((~finite).sum())} NaN/inf)"
    return desc


def inspect_path(path: str | os.PathLike) -> dict[str, Any]:
    """Summarise a dataset directory (via :func:`load_xlsa17`) or a single .mat/.npy/.csv file."""
    p = Path(path)
    if p.is_dir():
        try:
            feats = features_file(p)
        except ZSLDataError:
            files = sorted(x.name for x in p.iterdir() if not x.name.startswith(".zslkit"))
            raise ZSLDataError(f"{p}: not an xlsa17 dataset directory (no res101.mat, nor a features file named in "
                               f"BUILD.json); contains {files[:20]}") from None
        sems = available_semantics(p) if (p / "att_splits.mat").is_file() else []
        # an attribute-free dataset (no 'att' in att_splits.mat) is summarised with its first other semantic
        data = load_xlsa17(p, semantic=sems[0] if sems and "att" not in sems else "att")
        out = {"kind": "xlsa17 dataset directory", "path": str(p), "features_file": feats, **data.summary()}
        extra = [f for f in ("word2vec_splits.mat", "sent_splits.mat", "VGSE_SMO.mat") if (p / f).is_file()]
        out["other_semantic_files"] = extra
        if "att" not in sems:
            out["attributes"] = "none (att_splits.mat has no 'att' field)"
        return out
    if not p.is_file():
        raise ZSLDataError(f"{p}: no such file or directory")
    ext = p.suffix.lower()
    if ext == ".mat":
        m = load_mat(p)
        return {"kind": "MATLAB v7.3 (HDF5)" if is_mat73(p) else "MATLAB v5", "path": str(p),
                "surrogate": bool(np.asarray(m.get("zslkit_surrogate", [[0]])).ravel()[0]),
                "variables": {k: _describe(v) for k, v in sorted(m.items())}}
    if ext == ".npy":
        try:
            arr = np.load(p, allow_pickle=False, mmap_mode="r")
        except (ValueError, OSError) as exc:
            raise ZSLDataError(f"{p}: unreadable .npy file: {exc}") from exc
        return {"kind": "NumPy array", "path": str(p), "array": _describe(np.asarray(arr))}
    if ext in (".csv", ".tsv", ".txt"):
        lines = p.read_bytes().decode("utf-8", errors="replace").splitlines()
        return {"kind": "text table", "path": str(p), "lines": len(lines), "head": lines[:3]}
    raise ZSLDataError(f"{p}: unsupported file type {ext!r} (expected a dataset directory, .mat, .npy or .csv)")


def format_summary(d: dict[str, Any], indent: int = 0) -> str:
    """Indented text rendering of a nested summary dict."""
    lines = []
    pad = "  " * indent
    for k, v in d.items():
        if isinstance(v, dict):
            lines.append(f"{pad}{k}:")
            lines.append(format_summary(v, indent + 1))
        elif isinstance(v, list) and v and isinstance(v[0], str) and len(str(v)) > 80:
            lines.append(f"{pad}{k}:")
            lines.extend(f"{pad}  - {x}" for x in v)
        else:
            lines.append(f"{pad}{k}: {v}")
    return "\n".join(lines)
