"""ReZSL's imbalance on the SURROGATE, and the semantic regressor with ReMSE vs MSE over 3 seeds.

SURROGATE data (synthetic features on the real xlsa17 splits; NOT results on AWA2/CUB/SUN).
For each dataset the calibrated surrogate (its preset) is generated once (seed 0) and the
semantic regressor (ReZSL's BasicNet on features, linear) is trained with MSE and with ReMSE,
seeds 0-2, at zslkit's default optimiser settings and the authors' per-dataset loss settings
(lambda1, p, p2 of their AWA2 / CUB / SUN ResNet configs, METHODS.md). The calibration gamma
of U/S/H comes from validation classes. Every run is saved as a run directory and analysed
with ``zslkit.evaluation.analysis.analyze_run`` (what ``zslkit analyze RUN_DIR`` runs):

* error vs attribute value: Spearman correlation, over (class, attribute) cells, of the
  class's attribute value (RegNorm'ed target) and the mean squared error of that cell, and
  the mean error per quintile of the value (MSE runs, seed 0);
* variance across classes / attributes: coefficient of variation (std / mean) of the
  per-class and per-attribute mean errors (``class_cv``, ``attr_cv``), MSE vs ReMSE;
* ReMSE vs MSE: T1 and H (mean ± std over seeds), the per-seed differences with their sign,
  and the share of ZSL test predictions that differ between the two losses.

With ``--world-data DEMO_OUT/data`` the same study runs on the demo's synthetic image world (the
xlsa17 directory ``zslkit demo`` builds from it; zslkit's default loss settings).

Run:  python benchmarks/bench_rezsl_imbalance.py [--datasets AWA2 CUB SUN] [--world-data DIR]
Writes benchmarks/results/rezsl_imbalance.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import surrogate_reference as ref  # noqa: E402

from zslkit.data.surrogate import SURROGATE_VERSION, generate_surrogate  # noqa: E402
from zslkit.data.xlsa17 import load_xlsa17  # noqa: E402
from zslkit.evaluation.analysis import analyze_run  # noqa: E402
from zslkit.evaluation.imbalance import error_by_value  # noqa: E402
from zslkit.pipeline import TrainConfig, train  # noqa: E402
from zslkit.utils.outputs import atomic_write_json, atomic_write_text  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "xlsa17-meta"
#: the authors' ResNet configs (METHODS.md): lambda1, p, p2
LOSS_HP = {"AWA2": (1.0, 1.0, 0.1), "CUB": (0.25, 0.1, 0.75), "SUN": (0.1, 0.1, 0.0)}
SEEDS = (0, 1, 2)


def value_error(pred: np.ndarray, semantic: np.ndarray, labels: np.ndarray) -> dict:
    """Spearman(value, error) over (class, attribute) cells and the error per value quintile
    (:func:`zslkit.evaluation.imbalance.error_by_value`)."""
    d = error_by_value(pred, semantic, labels)
    return {"spearman": d["spearman"], "quintile_mean_error": d["quantile_mean_error"], "class_cv": d["class_cv"],
            "attr_cv": d["attr_cv"], "mse": d["mse"]}


def study(ds: str, data, preset: str, lam1: float, p: float, p2: float, work: Path) -> tuple[list[str], dict]:
    """Regressor MSE vs ReMSE (seeds 0-2) on ``data`` and the error analysis of the seed-0 pair."""
    lines: list[str] = []
    runs: dict = {}
    for loss in ("mse", "remse"):
        for seed in SEEDS:
            params = {"loss": loss, "lambda1": lam1, "p": p, "p2": p2}
            r = train(TrainConfig(data=f"<surrogate {ds}>", model="regressor", params=params, tune=False,
                                  seed=seed), data=data)
            run_dir = r.save(work / ds / f"{loss}_seed{seed}")
            runs[(loss, seed)] = {"T1": r.metrics.T1, "H": r.metrics.H, "U": r.metrics.U, "S": r.metrics.S,
                                  "zsl_pred": r.arrays["zsl_y_pred"], "dir": str(run_dir), "arrays": r.arrays}
            print(f"{ds} {loss} seed {seed}: T1 {r.metrics.T1:.2f} H {r.metrics.H:.2f}", flush=True)
    # zslkit analyze on the seed-0 pair (figures + analysis.json in the MSE run directory)
    rep = analyze_run(runs[("mse", 0)]["dir"], compare=[runs[("remse", 0)]["dir"]])
    a = runs[("mse", 0)]["arrays"]
    unseen = a["gzsl_is_unseen"].astype(bool)
    ve = {}
    for loss in ("mse", "remse"):
        b = runs[(loss, 0)]["arrays"]
        ve[loss] = {split: value_error(b["pred_semantics"][sel], b["semantic"], b["gzsl_y_true"][sel])
                    for split, sel in (("test_seen", ~unseen), ("test_unseen", unseen))}
    t1 = {lo: np.array([runs[(lo, s)]["T1"] for s in SEEDS]) for lo in ("mse", "remse")}
    h = {lo: np.array([runs[(lo, s)]["H"] for s in SEEDS]) for lo in ("mse", "remse")}
    diff_pred = [float(np.mean(runs[("mse", s)]["zsl_pred"] != runs[("remse", s)]["zsl_pred"])) for s in SEEDS]
    d_t1, d_h = t1["remse"] - t1["mse"], h["remse"] - h["mse"]
    lines += [f"## {ds} ({preset}; lambda1 {lam1}, p {p}, p2 {p2})", "",
              "| loss | T1 (mean ± std) | H (mean ± std) | T1 per seed | H per seed |", "|---|---|---|---|---|"]
    for lo in ("mse", "remse"):
        lines.append(f"| {lo} | {t1[lo].mean():.2f} ± {t1[lo].std():.2f} | {h[lo].mean():.2f} ± {h[lo].std():.2f} "
                     f"| {', '.join(f'{x:.2f}' for x in t1[lo])} | {', '.join(f'{x:.2f}' for x in h[lo])} |")
    lines += ["", f"ReMSE - MSE per seed: T1 {', '.join(f'{x:+.2f}' for x in d_t1)} (mean {d_t1.mean():+.2f}); "
              f"H {', '.join(f'{x:+.2f}' for x in d_h)} (mean {d_h.mean():+.2f}). ZSL test predictions that "
              f"differ between the losses: {', '.join(f'{100 * x:.1f} %' for x in diff_pred)}.", "",
              "Error vs attribute value (seed 0; cells = (class, attribute); error = mean squared error of the "
              "RegNorm'ed prediction):", "",
              "| loss | split | Spearman(value, error) | mean error by value quintile (low -> high) | "
              "class CV | attribute CV | MSE |", "|---|---|---|---|---|---|---|"]
    for lo in ("mse", "remse"):
        for split in ("test_seen", "test_unseen"):
            v = ve[lo][split]
            lines.append(f"| {lo} | {split} | {v['spearman']:+.3f} | "
                         f"{' / '.join(f'{x:.2e}' for x in v['quintile_mean_error'])} | {v['class_cv']:.3f} | "
                         f"{v['attr_cv']:.3f} | {v['mse']:.2e} |")
    lines += ["", f"`zslkit analyze` output: {rep['figures'].get('attribute_errors_test_unseen', '')} "
              "(run directories in the workdir, not kept)", ""]
    rec = {"data": preset, "loss_hp": [lam1, p, p2], "T1": {k: v.tolist() for k, v in t1.items()},
           "H": {k: v.tolist() for k, v in h.items()}, "zsl_pred_differ": diff_pred, "value_error": ve}
    return lines, rec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="*", default=["AWA2", "CUB", "SUN"])
    ap.add_argument("--workdir", default="/tmp/zslkit-bench-rezsl")
    ap.add_argument("--world-data", default=None,
                    help="Also study the xlsa17 directory of a zslkit demo run (OUT/data: its synthetic image world).")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "rezsl_imbalance"))
    args = ap.parse_args()
    ref.one_thread()
    work = Path(args.workdir)
    shutil.rmtree(work, ignore_errors=True)
    lines = [f"# ReZSL's imbalance and ReMSE vs MSE on the SURROGATE ({SURROGATE_VERSION})", "",
             "**SURROGATE data: synthetic features on the real xlsa17 splits; NOT results on AWA2/CUB/SUN.**", "",
             ref.machine_line(), "",
             "Semantic regressor (linear, zslkit defaults: SGD lr 0.03, 30 epochs), loss settings (lambda1, p, p2) "
             "of the authors' per-dataset ResNet configs; gamma from validation classes; seeds 0-2.", ""]
    record: dict = {"version": SURROGATE_VERSION, "datasets": {}}
    t_all = time.perf_counter()
    jobs = [(ds, None) for ds in args.datasets] + ([("WORLD", args.world_data)] if args.world_data else [])
    for ds, world_dir in jobs:
        if world_dir is None:
            arr = generate_surrogate(SHARED / ds / "att_splits.mat", seed=0)
            data, preset = arr.to_zsldata(), f"preset {arr.preset}"
        else:  # the demo's synthetic image world (features of its tiny CNN), zslkit's default loss settings
            data, preset = load_xlsa17(world_dir), f"SYNTHETIC image world of zslkit demo, {world_dir}"
        lam1, p, p2 = LOSS_HP.get(ds, (0.25, 0.1, 0.75))
        lines_ds, rec = study(ds, data, preset, lam1, p, p2, work)
        lines += lines_ds
        record["datasets"][ds] = rec
        atomic_write_text(Path(args.out).with_suffix(".md"), "\n".join(lines) + "\n")
        atomic_write_json(Path(args.out).with_suffix(".json"), json.loads(json.dumps(record, default=float)))
    lines += [f"total {(time.perf_counter() - t_all) / 60:.1f} min"]
    atomic_write_text(Path(args.out).with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
