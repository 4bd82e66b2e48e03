"""``zslkit analyze RUN_DIR``: figures and imbalance statistics of finished runs.

Reads ``metrics.json`` and ``predictions.npz`` of a run directory (and of runs to compare
with, e.g. the same regressor trained with MSE and with ReMSE) and writes into
``RUN_DIR/figures/``: the seen-unseen (AUSUC) curves, the GZSL and ZSL confusion matrices and,
for models that predict semantic vectors, the per-attribute error plot; plus
``RUN_DIR/analysis.json`` with the per-attribute / per-class error mean and variance summaries
on seen and unseen test images.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from zslkit.errors import ZSLDataError
from zslkit.evaluation.imbalance import confusion_matrix, semantic_error_stats
from zslkit.evaluation.plots import plot_attribute_errors, plot_confusion, plot_seen_unseen_curves
from zslkit.utils.atomic import atomic_write_json


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
    p = d / "predictions.npz"
    if not p.is_file():
        raise ZSLDataError(f"{d}: predictions.npz is missing (run made by an older zslkit?)")
    try:
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (ValueError, OSError) as exc:
        raise ZSLDataError(f"{p}: unreadable ({exc})") from exc
    return metrics, arrays


def _label(run_dir: Path, metrics: dict) -> str:
    loss = metrics.get("params", {}).get("loss")
    sem = str(metrics.get("semantic"))
    sem = Path(sem).name if ("/" in sem or os.sep in sem) else sem  # a file: its name is enough in a legend
    return f"{run_dir.name}: {metrics.get('model')}/{sem}" + (f"/{loss}" if loss else "")


def _imbalance(arrays: dict[str, np.ndarray]) -> dict[str, Any] | None:
    if "pred_semantics" not in arrays:
        return None
    out = {}
    unseen = arrays["gzsl_is_unseen"].astype(bool)
    for name, sel in (("test_seen", ~unseen), ("test_unseen", unseen)):
        st = semantic_error_stats(arrays["pred_semantics"][sel], arrays["semantic"], arrays["gzsl_y_true"][sel])
        out[name] = {"summary": st.summary(), "attr_mean": st.attr_mean, "attr_var": st.attr_var,
                     "class_mean": st.class_mean, "class_var": st.class_var, "classes": st.classes,
                     "_stats": st}
    return out


def analyze_run(run_dir: str | os.PathLike, compare: Sequence[str | os.PathLike] = ()) -> dict[str, Any]:
    """Write figures and ``analysis.json`` for ``run_dir`` (compared with ``compare`` runs)."""
    run_dir = Path(run_dir)
    runs = [(run_dir, *load_run(run_dir))] + [(Path(c), *load_run(c)) for c in compare]
    fig_dir = run_dir / "figures"
    figures = {}
    figures["ausuc"] = plot_seen_unseen_curves([m["curve"] for _, m, _ in runs],
                                               [f"{_label(p, m)} (AUSUC {m['ausuc']:.1f})" for p, m, _ in runs],
                                               fig_dir / "ausuc_curve.png")
    _, metrics, arrays = runs[0]
    names = [str(x) for x in arrays["class_names"]]
    cand = arrays["candidates"]
    cm = confusion_matrix(arrays["gzsl_y_true"], arrays["gzsl_y_pred"], cand)
    figures["confusion_gzsl"] = plot_confusion(cm, [names[i] for i in cand], fig_dir / "confusion_gzsl.png",
                                               title=f"GZSL confusion (gamma {metrics['gzsl']['gamma']:.3g})")
    unseen = arrays["unseen_classes"]
    # zsl_idx is the unseen part of gzsl_idx, in the same order
    cmz = confusion_matrix(arrays["gzsl_y_true"][arrays["gzsl_is_unseen"].astype(bool)], arrays["zsl_y_pred"], unseen)
    figures["confusion_zsl"] = plot_confusion(cmz, [names[i] for i in unseen], fig_dir / "confusion_zsl.png",
                                              title="ZSL confusion (unseen classes)")
    report: dict[str, Any] = {"runs": [str(p) for p, _, _ in runs], "surrogate": any(m.get("surrogate") for _, m, _ in runs)}
    imb = [(_label(p, m), _imbalance(a)) for p, m, a in runs]
    if imb[0][1] is not None:
        for split in ("test_seen", "test_unseen"):
            with_stats = [(lab, x[split]["_stats"]) for lab, x in imb if x is not None]
            figures[f"attribute_errors_{split}"] = plot_attribute_errors(
                [s for _, s in with_stats], [lab for lab, _ in with_stats],
                fig_dir / f"attribute_errors_{split}.png",
                title=f"Per-attribute squared error on {split} (mean ± std over images)")
        report["imbalance"] = {lab: ({k: {kk: vv for kk, vv in v.items() if kk != "_stats"} for k, v in x.items()}
                                     if x is not None else None) for lab, x in imb}
    else:
        report["imbalance"] = "model does not predict semantic vectors; no per-attribute error analysis"
    report["figures"] = {k: str(v) for k, v in figures.items()}
    atomic_write_json(run_dir / "analysis.json", report)
    return report
