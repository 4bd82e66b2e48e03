"""The numbers behind ``zslkit analyze`` and ``zslkit report``: a run directory read back, and the
imbalance of its predicted semantic vectors (per-attribute / per-class error means and variances
on seen and unseen test images). The figures and files are :mod:`zslkit.report.analysis`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from zslkit.errors import ZSLDataError
from zslkit.evaluation.imbalance import semantic_error_stats


def load_run(run_dir: str | os.PathLike) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``(metrics dict, arrays)`` of a run directory; clear errors for incomplete runs."""
    d = Path(run_dir)
    m = d / "metrics.json"
    if not m.is_file():
        raise ZSLDataError(f"{d}: not a finished run directory (no metrics.json)")
    try:
        metrics = json.loads(m.read_text())
    except json.JSONDecodeError as exc:
        raise ZSLDataError(f"{m}: invalid JSON ({exc})") from exc
    # runs keep the curve in its own file
    if isinstance(metrics, dict) and "curve" not in metrics and (d / "curve.json").is_file():
        from zslkit.report.runs import check_curve

        try:
            metrics["curve"] = check_curve(json.loads((d / "curve.json").read_text()), d / "curve.json")
        except json.JSONDecodeError as exc:
            raise ZSLDataError(f"{d / 'curve.json'}: invalid JSON ({exc})") from exc
    p = d / "predictions.npz"
    if not p.is_file():
        raise ZSLDataError(f"{d}: predictions.npz is missing (run made by an older zslkit?)")
    try:
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (ValueError, OSError) as exc:
        raise ZSLDataError(f"{p}: unreadable ({exc})") from exc
    return metrics, check_prediction_arrays(arrays, p)


#: arrays of a run's predictions.npz that analyses read (zslkit.evaluation.protocol.prediction_arrays writes them)
PREDICTION_ARRAYS = ("candidates", "class_names", "gzsl_is_unseen", "gzsl_y_pred", "gzsl_y_true", "semantic",
                     "unseen_classes", "zsl_y_pred")


def check_prediction_arrays(arrays: dict[str, np.ndarray], where: str | os.PathLike) -> dict[str, np.ndarray]:
    """``arrays`` if it holds every array the analyses read; else a :class:`ZSLDataError` naming ``where`` and
    the missing arrays."""
    missing = [k for k in PREDICTION_ARRAYS if k not in arrays]
    if missing:
        raise ZSLDataError(f"{where}: lacks array(s) {missing} (not a predictions.npz written by zslkit train)")
    return arrays


def run_imbalance(arrays: dict[str, np.ndarray]) -> dict[str, Any] | None:
    """Per-split :class:`~zslkit.evaluation.imbalance.ImbalanceStats` (``test_seen``, ``test_unseen``) of a
    run's predicted semantic vectors; None for models that predict none."""
    if "pred_semantics" not in arrays:
        return None
    unseen = arrays["gzsl_is_unseen"].astype(bool)
    return {name: semantic_error_stats(arrays["pred_semantics"][sel], arrays["semantic"], arrays["gzsl_y_true"][sel])
            for name, sel in (("test_seen", ~unseen), ("test_unseen", unseen))}
