"""``zslkit analyze RUN_DIR``: figures, comparison table and imbalance statistics of finished runs.

Reads ``metrics.json`` and ``predictions.npz`` of a run directory (and of runs to compare with, e.g.
the same regressor trained with MSE and with ReMSE) and writes into ``OUT/figures/`` (``OUT``: the
folder the user names with ``--out``, by default a new folder ``RUN_DIR-analysis`` beside the run,
:func:`analysis_dir`; never one of the runs read; :func:`analyze_run` called without ``out`` writes
into the run directory itself, as the demo does for its own runs): the
seen-unseen curves, the GZSL and ZSL confusions and, for models that predict semantic vectors, the
per-attribute errors (:mod:`zslkit.report.figures`); plus ``RUN_DIR/analysis.json`` with the
comparison table and the per-attribute / per-class error mean and variance summaries on seen and
unseen test images, into ``OUT/analysis.json``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from zslkit.evaluation.analysis import load_run, run_imbalance
from zslkit.report.figures import attribute_error_figure, confusion_figure, seen_unseen_curves
from zslkit.report.runs import RunRecord, attribute_names_of, check_run_metrics, comparison_table, group_runs, run_label
from zslkit.utils.outputs import atomic_write_json

__all__ = ["analysis_dir", "analyze_run"]


def analysis_dir(run_dir: str | os.PathLike, out: str | os.PathLike | None = None,
                 compare: Sequence[str | os.PathLike] = ()) -> Path:
    """The folder ``zslkit analyze`` writes into: ``out``, or by default ``RUN_DIR-analysis`` beside the run
    directory. Neither may be one of the runs read (``run_dir``, ``compare``) nor lie inside one: an analysis
    never changes the runs it reads.

    Raises:
        ConfigError: ``out`` is, or is inside, one of the runs.
    """
    from zslkit.errors import ConfigError

    run = Path(run_dir).resolve()
    target = Path(out) if out is not None else run.parent / f"{run.name}-analysis"
    resolved = target.resolve()
    for d in (run_dir, *compare):
        src = Path(d).resolve()
        if resolved == src or src in resolved.parents:
            raise ConfigError(f"--out {target}: {'is' if resolved == src else 'lies inside'} the run directory {d}, "
                              "which analyze only reads; choose a folder of its own (default: "
                              f"{run.parent / (run.name + '-analysis')})")
    return target


def analyze_run(run_dir: str | os.PathLike, compare: Sequence[str | os.PathLike] = (),
                out: str | os.PathLike | None = None) -> dict[str, Any]:
    """Write figures and ``analysis.json`` for ``run_dir`` (compared with ``compare`` runs) into ``out``
    (default: ``run_dir`` itself, a zslkit run directory; else a new, empty or zslkit-written folder);
    returns the report dict (``table``: the comparison rows, ``figures``: name -> PNG path, ``imbalance``)."""
    from zslkit.utils.outputs import output_dir

    target = Path(run_dir if out is None else out)
    with output_dir(target, "run" if out is None else "analysis"):
        return _analyze_run(Path(run_dir), compare, target)


def _analyze_run(run_dir: Path, compare: Sequence[str | os.PathLike], target: Path) -> dict[str, Any]:
    runs, seen = [], set()
    for d in [run_dir, *map(Path, compare)]:
        if d.resolve() in seen:  # the same run named twice (RUN --compare RUN/../RUN) is one run, not two seeds
            continue
        seen.add(d.resolve())
        metrics, arrays = load_run(d)  # a curve read from curve.json is checked there
        runs.append((d, check_run_metrics(metrics, d / "metrics.json"), arrays))
    records = [RunRecord(p, m) for p, m, _ in runs]
    labels = [f"{p.name}: {run_label(r)}" for (p, _, _), r in zip(runs, records)]
    synthetic = any(m.get("surrogate") for _, m, _ in runs)
    fig_dir = target / "figures"
    figures = {"ausuc": seen_unseen_curves([m["curve"] for _, m, _ in runs if m.get("curve")],
                                           [f"{lab} (AUSUC {m.get('ausuc', float('nan')):.1f})"
                                            for lab, (_, m, _) in zip(labels, runs) if m.get("curve")],
                                           fig_dir / "ausuc_curve.png", synthetic=synthetic,
                                           points=[(m["gzsl"]["U"], m["gzsl"]["S"]) for _, m, _ in runs
                                                   if m.get("curve")])}
    _, metrics, arrays = runs[0]
    names = [str(x) for x in arrays["class_names"]]
    unseen = arrays["unseen_classes"]
    figures["confusion_gzsl"] = confusion_figure(arrays["gzsl_y_true"], arrays["gzsl_y_pred"], arrays["candidates"],
                                                 names, unseen, fig_dir / "confusion_gzsl.png", synthetic=synthetic,
                                                 title=f"GZSL confusion (gamma {metrics['gzsl']['gamma']:.3g})")
    # zsl_idx is the unseen part of gzsl_idx, in the same order
    is_unseen = arrays["gzsl_is_unseen"].astype(bool)
    figures["confusion_zsl"] = confusion_figure(arrays["gzsl_y_true"][is_unseen], arrays["zsl_y_pred"], unseen, names,
                                                unseen, fig_dir / "confusion_zsl.png", synthetic=synthetic,
                                                title="ZSL confusion (unseen classes only)")
    report: dict[str, Any] = {"runs": [str(p) for p, _, _ in runs], "surrogate": synthetic,
                              "table": comparison_table(group_runs(records))}
    imb = [(lab, run_imbalance(a)) for lab, (_, _, a) in zip(labels, runs)]
    if imb[0][1] is not None:
        with_stats = [(lab, x) for lab, x in imb if x is not None]
        for split in ("test_seen", "test_unseen"):
            figures[f"attribute_errors_{split}"] = attribute_error_figure(
                [x[split].attr_mean for _, x in with_stats], [lab for lab, _ in with_stats],
                fig_dir / f"attribute_errors_{split}.png",
                attribute_names=attribute_names_of(metrics, arrays["semantic"].shape[1]),
                synthetic=synthetic, title=f"Per-attribute squared error on {split}")
        report["imbalance"] = {lab: ({split: {"summary": st.summary(), "attr_mean": st.attr_mean,
                                               "attr_var": st.attr_var, "class_mean": st.class_mean,
                                               "class_var": st.class_var, "classes": st.classes}
                                       for split, st in x.items()} if x is not None else None) for lab, x in imb}
    else:
        report["imbalance"] = "model does not predict semantic vectors; no per-attribute error analysis"
    report["figures"] = {k: str(v) for k, v in figures.items()}
    atomic_write_json(target / "analysis.json", report)
    return report
