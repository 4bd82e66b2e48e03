"""Parallel benchmark grid: 2 worker processes x 1 thread vs 1 worker x 2 threads, SURROGATE data.

The same grid (default: surrogate SUN and CUB x {att, surrogate word2vec} x {ESZSL, SAE,
semantic regressor (15 epochs, lr searched)} = 12 cells, each seconds to tens of seconds) is
run from scratch in a fresh work directory and a fresh Python process per configuration:

  1x2   one worker (the grid runs in the main process) with 2 BLAS/torch threads
  2x1   two loky worker processes with 1 thread each         (run_grid(workers=2))
  1x1   one worker, one thread (with --with-1x1)

and reports the wall time of each, the speed-ups, the parallel efficiency (sum of per-cell
times / (workers x wall)), the threads every cell really ran with (torch, threadpoolctl, env,
recorded by the worker itself) and whether every cell's results are identical across
configurations (results.csv rows and predicted labels exactly; float outputs such as the
regressor's predicted semantics to a stated tolerance).

SURROGATE = real xlsa17 splits and classes with synthetic 2048-d features (zslkit.data.make_surrogate
on ../shared/data/xlsa17-meta): only the timings are the point here, not the accuracies.

    python benchmarks/bench_parallel_grid.py                  # full measurement (quiet machine!)
    python benchmarks/bench_parallel_grid.py --quick          # 6 small cells, to check the script
Writes benchmarks/results/parallel_grid.{txt,json} (parallel_grid_quick.* with --quick).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "xlsa17-meta"
RESULTS = Path(__file__).resolve().parent / "results"
FULL = {"datasets": ["SUN", "CUB"], "semantics": ["att", "word2vec"],
        "models": ["eszsl", "sae", "regressor(epochs=15)"], "seeds": [0]}
QUICK = {"datasets": ["CUB"], "semantics": ["att", "word2vec"],
         "models": ["eszsl", "sae", "regressor(epochs=5)"], "seeds": [0]}
GRIDS = {"regressor": {"lr": [0.01, 0.03, 0.1]}}  # linear regressor; ESZSL/SAE: their default grids
#: tolerance on float outputs that are not metrics (predicted semantics): BLAS/torch reductions
#: split over 2 threads may sum in another order than over 1 thread
FLOAT_TOL = 1e-5


def child(spec: dict) -> None:
    """Run one configuration in this (fresh) process and print one JSON line."""
    from zslkit.grid import GridConfig, run_grid

    cfg = GridConfig(data=spec["data"], semantics=spec["semantics"], models=spec["models"], seeds=spec["seeds"],
                     out=spec["out"], grids=GRIDS, workers=spec["workers"], threads_per_worker=spec["threads"])
    t_grid = time.time()
    res = run_grid(cfg, progress=False)
    print("RESULT " + json.dumps({"grid_wall_s": res.wall_s, "ran": res.ran, "skipped": res.skipped,
                                  "t_grid": t_grid}), flush=True)


def run_config(label: str, workers: int, threads: int, data: list[str], layout: dict, work: Path) -> dict:
    out = work / ("runs-quick" if layout is QUICK else "runs") / label
    shutil.rmtree(out, ignore_errors=True)  # always from scratch
    spec = {**{k: layout[k] for k in ("semantics", "models", "seeds")}, "data": data, "out": str(out),
            "workers": workers, "threads": threads}
    load0 = os.getloadavg()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True,
                          check=False)
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        sys.exit(f"{label} failed:\n{proc.stdout}\n{proc.stderr}")
    res = json.loads(next(line[7:] for line in proc.stdout.splitlines() if line.startswith("RESULT ")))
    cells = {}
    for m in sorted((out / "cells").glob("*/metrics.json")):
        d = json.loads(m.read_text())
        cells[m.parent.name] = {"wall_s": d["cell_wall_s"], "worker": d["worker"]}
    ws = [c["worker"] for c in cells.values()]
    last_end = {}  # per worker process: when its last cell finished
    for x in ws:
        last_end[x["pid"]] = max(last_end.get(x["pid"], 0.0), x["t_end"])
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    cell_sum = sum(c["wall_s"] for c in cells.values())
    w = cells and next(iter(cells.values()))["worker"]
    return {"label": label, "workers": workers, "threads_per_worker": threads, "out": str(out),
            "grid_wall_s": res["grid_wall_s"], "process_wall_s": wall, "cells_run": res["ran"],
            "cpu_s": cpu, "cpu_per_wall": cpu / wall, "sum_cell_wall_s": cell_sum,
            "parallel_efficiency": cell_sum / (workers * res["grid_wall_s"]),
            # from run_grid's start to the first cell starting: worker start-up (spawn, imports)
            "startup_s": min(x["t_start"] for x in ws) - res["t_grid"],
            # a worker idle at the end because the other still runs its last cell
            "tail_idle_s": max(last_end.values()) - min(last_end.values()) if workers > 1 else 0.0,
            "sum_load_s": sum(c["worker"]["load_s"] for c in cells.values()),
            "worker_pids": len({c["worker"]["pid"] for c in cells.values()}),
            "threads_seen": sorted({json.dumps({k: c["worker"][k] for k in ("torch_threads", "threadpools", "env")},
                                               sort_keys=True) for c in cells.values()}),
            "example_worker": w, "loadavg_start": load0, "loadavg_end": os.getloadavg(),
            "cells": {k: v["wall_s"] for k, v in cells.items()}}


def compare(ref: dict, other: dict) -> dict:
    """Cell by cell: results.csv rows (all but wall_s) and predictions.npz of two runs."""
    import numpy as np

    def rows(run):
        with open(Path(run["out"]) / "results.csv") as f:
            return {r["cell"]: r for r in csv.DictReader(f)}

    a, b = rows(ref), rows(other)
    assert a.keys() == b.keys(), "different cells"
    differing_rows, max_metric_diff = [], 0.0
    label_diffs, float_diff = 0, 0.0
    for cell in a:
        ra, rb = ({k: v for k, v in r.items() if k != "wall_s"} for r in (a[cell], b[cell]))
        if ra != rb:
            differing_rows.append(cell)
            for k in ("T1", "U", "S", "H", "gamma", "ausuc"):
                max_metric_diff = max(max_metric_diff, abs(float(ra[k]) - float(rb[k])))
        pa = np.load(Path(ref["out"]) / "cells" / cell / "predictions.npz")
        pb = np.load(Path(other["out"]) / "cells" / cell / "predictions.npz")
        for k in pa.files:
            x, y = pa[k], pb[k]
            if x.dtype.kind in "iub" or x.dtype.kind in "US":
                label_diffs += int(np.sum(x != y))
            else:
                float_diff = max(float_diff, float(np.max(np.abs(x - y))) if x.size else 0.0)
    return {"vs": ref["label"], "run": other["label"], "cells": len(a), "rows_identical": not differing_rows,
            "differing_rows": differing_rows, "max_metric_abs_diff": max_metric_diff,
            "prediction_label_diffs": label_diffs, "max_float_output_abs_diff": float_diff,
            "float_outputs_within_tol": float_diff <= FLOAT_TOL}


def machine() -> dict:
    import numpy
    import torch
    from threadpoolctl import threadpool_info

    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"platform": platform.platform(), "cpu": model, "cpus": os.cpu_count(),
            "python": sys.version.split()[0], "torch": torch.__version__, "numpy": numpy.__version__,
            "blas": sorted({f"{p['internal_api']} {p.get('version')}" for p in threadpool_info()}),
            "thread_env_of_parent": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                                               "OPENBLAS_NUM_THREADS") if k in os.environ}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="6 small cells on surrogate CUB (checks the script).")
    ap.add_argument("--with-1x1", action="store_true", help="Also run 1 worker x 1 thread.")
    ap.add_argument("--repeats", type=int, default=1, help="Run every configuration this many times, interleaved "
                                                             "(the minimum wall time of each is reported too).")
    ap.add_argument("--workdir", default="/tmp/zslkit-bench-parallel")
    ap.add_argument("--out", default=None, help="Output stem [benchmarks/results/parallel_grid(_quick)].")
    args = ap.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    from zslkit.data import make_surrogate
    from zslkit.utils.outputs import atomic_write_json, atomic_write_text

    layout = QUICK if args.quick else FULL
    work = Path(args.workdir)
    data = []
    for name in layout["datasets"]:
        d = work / "data" / name
        if not (d / "SURROGATE.json").is_file():
            shutil.rmtree(d, ignore_errors=True)
            make_surrogate(SHARED / name / "att_splits.mat", d, seed=0)
        for f in d.glob("*.mat"):  # same page-cache state for every configuration
            f.read_bytes()
        data.append(str(d))
    configs = [("1x2", 1, 2), ("2x1", 2, 1)] + ([("1x1", 1, 1)] if args.with_1x1 else [])
    load_start, t_start = os.getloadavg(), time.time()
    runs: list[dict] = []
    for rep in range(args.repeats):
        for label, workers, threads in configs:
            r = run_config(label, workers, threads, data, layout, work)
            r["repeat"] = rep
            runs.append(r)
            print(f"[{rep}] {label}: grid {r['grid_wall_s']:.1f} s (process {r['process_wall_s']:.1f} s), "
                  f"cpu/wall {r['cpu_per_wall']:.2f}, load {r['loadavg_start'][0]:.2f} -> {r['loadavg_end'][0]:.2f}",
                  flush=True)
    load_end = os.getloadavg()
    last = {r["label"]: r for r in runs if r["repeat"] == args.repeats - 1}
    checks = [compare(runs[0], r) for r in runs[1:]]
    best = {lab: min(r["grid_wall_s"] for r in runs if r["label"] == lab) for lab, _, _ in configs}
    speedup = {"2x1_vs_1x2": best["1x2"] / best["2x1"]}
    if "1x1" in best:
        speedup.update({"2x1_vs_1x1": best["1x1"] / best["2x1"], "1x2_vs_1x1": best["1x1"] / best["1x2"]})
    n_cells = last["1x2"]["cells_run"]
    report = {"title": "Parallel grid speed-up on SURROGATE data (synthetic features)", "quick": args.quick,
              "layout": {**layout, "grids": GRIDS, "cells": n_cells}, "machine": machine(),
              "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t_start)),
              "loadavg_start": load_start, "loadavg_end": load_end, "runs": runs, "best_grid_wall_s": best,
              "speedup": speedup, "target_2x1_vs_1x2": 1.6, "identity_checks": checks, "float_tol": FLOAT_TOL}
    m = report["machine"]
    lines = [f"# Parallel grid: 2 workers x 1 thread vs 1 worker x 2 threads - SURROGATE data{' (QUICK)' if args.quick else ''}",
             "",
             "SURROGATE xlsa17 data (real splits/classes, synthetic 2048-d features): timings only, no accuracy claims.",
             (f"machine: {m['platform']}, {m['cpu']}, {m['cpus']} CPUs; python {m['python']}, torch {m['torch']}, "
             f"numpy {m['numpy']}, {', '.join(m['blas'])}"),
             f"started {report['started']}; load average (1/5/15 min) at start "
             f"{'/'.join(f'{x:.2f}' for x in load_start)}, at end {'/'.join(f'{x:.2f}' for x in load_end)}"
             + ("  <- NOT a quiet machine: timings are noisy" if max(load_start[0], load_end[0]) > 0.5 else ""),
             (f"grid: {' + '.join(layout['datasets'])} x {layout['semantics']} x {layout['models']} x seeds "
             f"{layout['seeds']} = {n_cells} cells; search grids: model defaults, regressor lr {GRIDS['regressor']['lr']}"),
             f"each configuration: fresh Python process, fresh work dir, {args.repeats} repeat(s) interleaved",
             "", ("| run | workers x threads | grid wall s | process wall s | sum of cell s | efficiency | CPU s / wall s "
                 "| start-up s | idle tail s | data load s | worker pids | load avg start -> end |"),
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        lines.append(f"| {r['label']}#{r['repeat']} | {r['workers']} x {r['threads_per_worker']} | {r['grid_wall_s']:.1f} | "
                     f"{r['process_wall_s']:.1f} | {r['sum_cell_wall_s']:.1f} | {r['parallel_efficiency']:.2f} | "
                     f"{r['cpu_per_wall']:.2f} | {r['startup_s']:.1f} | {r['tail_idle_s']:.1f} | {r['sum_load_s']:.1f} | "
                     f"{r['worker_pids']} | "
                     f"{r['loadavg_start'][0]:.2f} -> {r['loadavg_end'][0]:.2f} |")
    lines += ["", ("efficiency = sum of per-cell times / (workers x grid wall); CPU s / wall s = CPU time of the run's "
              "processes per second (2.0 = both cores busy with it: lower means other jobs took the cores); "
              "start-up = run_grid start to first cell start (worker spawn + imports); idle tail = one worker "
              "idle while the other finishes its last cell."), "",
              "speed-up (best grid wall time of each configuration): "
              + ", ".join(f"{k.replace('_vs_', ' vs ')} {v:.2f}x" for k, v in speedup.items())
              + f"  (target: 2x1 vs 1x2 >= 1.6x: {'met' if speedup['2x1_vs_1x2'] >= 1.6 else 'NOT met'})", "",
              "Threads each cell ran with (recorded inside the worker):"]
    for lab in best:
        lines.append(f"  {lab}: " + "; ".join(last[lab]["threads_seen"]))
    lines += ["", (f"Identity of results (vs {runs[0]['label']}#0; results.csv rows without wall_s, predicted labels "
                  f"exactly; float outputs to {FLOAT_TOL:g}):")]
    for c in checks:
        lines.append(f"  {c['run']}: rows {'IDENTICAL' if c['rows_identical'] else 'DIFFER ' + str(c['differing_rows'])}"
                     f" (max metric diff {c['max_metric_abs_diff']:.3g}), predicted-label differences "
                     f"{c['prediction_label_diffs']}, max float-output diff {c['max_float_output_abs_diff']:.3g}")
    lines += ["", "Per-cell wall time, s (last repeat):", "| cell | " + " | ".join(best) + " |",
              "|---|" + "---|" * len(best)]
    for cell in last["1x2"]["cells"]:
        lines.append(f"| {cell} | " + " | ".join(f"{last[lab]['cells'][cell]:.1f}" for lab in best) + " |")
    stem = Path(args.out) if args.out else RESULTS / ("parallel_grid_quick" if args.quick else "parallel_grid")
    atomic_write_text(stem.with_suffix(".txt"), "\n".join(lines) + "\n")
    atomic_write_json(stem.with_suffix(".json"), report)
    print("\n".join(lines))
    if not all(c["rows_identical"] and c["prediction_label_diffs"] == 0 for c in checks):
        sys.exit("results differ between configurations (see above)")


if __name__ == "__main__":
    main()
