"""Calibrate the surrogate generator's difficulty knobs per dataset on ESZSL and ALE only.

SURROGATE data: this chooses the knobs of ``zslkit.data.surrogate`` so that two models, ESZSL
and ALE, run with the public reproduction's fixed hyperparameters (``surrogate_reference.py``),
land near their *published* T1 and uncalibrated S on the real features. No other model is run
here; SAE, SJE, DeViSE, f-CLSWGAN and the regressor are held out and compared with their
published numbers afterwards by ``bench_surrogate_fidelity.py``.

Protocol, declared before running (a coarse scripted search, nothing tuned by hand):

* knobs searched: ``class_attr_noise`` (how far a class's appearance departs from its
  annotation), ``nuisance_weight`` (intra-class variation) and ``private_weight``
  (class-specific appearance outside the attribute vocabulary), on the grid :data:`GRID`; every
  other knob keeps its ``SurrogateConfig`` default;
* stage 1, every grid point: ESZSL T1 (ZSL hyperparameters) and uncalibrated S (GZSL
  hyperparameters); loss = squared residuals to the published T1 and S;
* stage 1b, refinement: around the best stage-1 point, ``class_attr_noise`` and
  ``nuisance_weight`` at the midpoints to their grid neighbours (up to 8 more points, same loss);
* stage 2, the :data:`TOP` best points of stages 1 and 1b: ALE (epochs chosen on validation classes);
  loss = stage-1 loss + squared residuals of ALE's T1 and (where published) S;
* the point with the smallest stage-2 loss is the dataset's preset; printed as a ``PRESETS``
  entry to paste into ``zslkit/data/surrogate.py``.

Everything runs at the real sizes (no subsampling), seed 0, one thread.

Run:  python benchmarks/calibrate_surrogate.py [--datasets AWA2 CUB SUN APY AWA1]
Writes benchmarks/results/calibrate_surrogate.{txt,json} (rewritten after every dataset).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import surrogate_reference as ref  # noqa: E402

from zslkit.data.surrogate import SURROGATE_VERSION, SurrogateConfig, generate_surrogate  # noqa: E402
from zslkit.utils.outputs import atomic_write_json, atomic_write_text  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "xlsa17-meta"
GRID = {
    "class_attr_noise": [0.25, 0.6, 1.0, 1.4],
    "nuisance_weight": [1.5, 3.0, 4.5],
    "private_weight": [0.3, 0.8],
}
TOP = 2


def evaluate_point(ds: str, knobs: dict, with_ale: bool, seed: int = 0) -> dict:
    t0 = time.perf_counter()
    arr = generate_surrogate(SHARED / ds / "att_splits.mat", seed=seed, config=SurrogateConfig(**knobs))
    data = arr.to_zsldata()
    out = {"knobs": knobs, "generate_s": time.perf_counter() - t0, "eszsl": ref.run_eszsl(data, ds)}
    if with_ale:
        out["ale"] = ref.run_ranking(data, ds, "ale", seed=seed)
    return out


def refine_points(centre: dict) -> list[dict]:
    """Midpoints between ``centre`` and its grid neighbours in class_attr_noise x nuisance_weight."""
    def options(key: str) -> list[float]:
        vals = GRID[key]
        i = vals.index(centre[key])
        mids = [centre[key]]
        if i > 0:
            mids.insert(0, round((vals[i - 1] + vals[i]) / 2, 4))
        if i + 1 < len(vals):
            mids.append(round((vals[i] + vals[i + 1]) / 2, 4))
        return mids

    pts = [{**centre, "class_attr_noise": a, "nuisance_weight": n}
           for a in options("class_attr_noise") for n in options("nuisance_weight")]
    return [p for p in pts if p != centre]


def targets(ds: str, model: str) -> dict:
    t1, _, s, _ = ref.PUBLISHED[ds][model]
    return {"T1": t1, "S": s}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="*", default=["CUB", "SUN", "AWA2", "APY", "AWA1"])
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "calibrate_surrogate"))
    args = ap.parse_args()
    ref.one_thread()
    out = Path(args.out)
    log = [f"# Surrogate calibration ({SURROGATE_VERSION}) on ESZSL and ALE only -- SURROGATE data", "",
           ref.machine_line(), "",
           f"grid: {json.dumps(GRID)}; stage 2 on the {TOP} best stage-1 points; seed 0; real sizes, "
           "no subsampling.", ""]
    record = {"version": SURROGATE_VERSION, "grid": GRID, "top": TOP, "datasets": {}}
    t_all = time.perf_counter()
    for ds in args.datasets:
        t_ds = time.perf_counter()
        log += [f"## {ds}", "", f"targets (published): ESZSL {targets(ds, 'ESZSL')}, ALE {targets(ds, 'ALE')}", "",
                "stage 1 (ESZSL): knobs -> T1 / U / S, loss", ""]
        stage1 = []
        for vals in itertools.product(*GRID.values()):
            knobs = dict(zip(GRID, vals))
            r = evaluate_point(ds, knobs, with_ale=False)
            r["loss1"] = ref.loss(r["eszsl"], targets(ds, "ESZSL"))
            stage1.append(r)
            e = r["eszsl"]
            line = (f"- {knobs}: ESZSL T1 {e['T1']:.1f} U {e['U']:.1f} S {e['S']:.1f}; loss {r['loss1']:.1f} "
                    f"(generate {r['generate_s']:.1f} s, ESZSL {e['seconds']:.1f} s)")
            log.append(line)
            print(ds, line, flush=True)
        log += ["", "stage 1b (ESZSL, midpoints around the best stage-1 point):", ""]
        centre = min(stage1, key=lambda r: r["loss1"])["knobs"]
        for knobs in refine_points(centre):
            r = evaluate_point(ds, knobs, with_ale=False)
            r["loss1"] = ref.loss(r["eszsl"], targets(ds, "ESZSL"))
            stage1.append(r)
            e = r["eszsl"]
            line = (f"- {knobs}: ESZSL T1 {e['T1']:.1f} U {e['U']:.1f} S {e['S']:.1f}; loss {r['loss1']:.1f}")
            log.append(line)
            print(ds, line, flush=True)
        best1 = sorted(stage1, key=lambda r: r["loss1"])[:TOP]
        log += ["", "stage 2 (ALE on the best stage-1 points):", ""]
        stage2 = []
        for r1 in best1:
            r = evaluate_point(ds, r1["knobs"], with_ale=True)
            r["loss1"] = ref.loss(r["eszsl"], targets(ds, "ESZSL"))
            r["loss"] = r["loss1"] + ref.loss(r["ale"], targets(ds, "ALE"))
            stage2.append(r)
            e, a = r["eszsl"], r["ale"]
            line = (f"- {r['knobs']}: ESZSL T1 {e['T1']:.1f} S {e['S']:.1f} | ALE T1 {a['T1']:.1f} U {a['U']:.1f} "
                    f"S {a['S']:.1f} (epochs {a['params']['epochs']}, {a['seconds']:.0f} s); loss {r['loss']:.1f}")
            log.append(line)
            print(ds, line, flush=True)
        best = min(stage2, key=lambda r: r["loss"])
        log += ["", f"chosen preset {ds}: {json.dumps(best['knobs'])} (loss {best['loss']:.1f}; "
                f"{(time.perf_counter() - t_ds) / 60:.1f} min)", ""]
        record["datasets"][ds] = {"stage1": stage1, "stage2": stage2, "chosen": best["knobs"]}
        atomic_write_text(out.with_suffix(".txt"), "\n".join(log) + "\n")
        atomic_write_json(out.with_suffix(".json"), record)
    log += ["## PRESETS (paste into zslkit/data/surrogate.py)", "", "```python"]
    log += [f"    {ds!r}: {json.dumps(v['chosen'])}," for ds, v in record["datasets"].items()]
    log += ["```", "", f"total {(time.perf_counter() - t_all) / 60:.1f} min"]
    atomic_write_text(out.with_suffix(".txt"), "\n".join(log) + "\n")
    atomic_write_json(out.with_suffix(".json"), record)
    print("\n".join(log[-10:]))


if __name__ == "__main__":
    main()
