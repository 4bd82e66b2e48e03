"""The report of a small CUB-sized study, checked in headless Chromium (screenshots saved).

Run from the repository root (needs Debian's ``chromium``; ~5-10 min on 2 cores)::

    python benchmarks/bench_report.py [--work DIR] [--chromium /usr/bin/chromium]

A SURROGATE CUB dataset (the real CUB splits and 200 classes, synthetic features; ``zslkit data
synth``) is trained on with ESZSL, SAE and the semantic regressor with MSE and with ReMSE, two seeds
each, as ``zslkit train`` runs them; ``zslkit report`` then renders all runs into one HTML file,
whose top and full page are screenshotted. What to look at: the summary with mean ± std over the
two seeds and the chance level, the 200-class confusion view (aggregated, the seen/unseen split
marked), the per-attribute errors of the regressor's MSE and ReMSE runs on the worst 30 of 312
attributes, the SYNTHETIC mark on every figure.

Output: ``benchmarks/results/report_cub.txt`` (the summary table and file sizes),
``report_cub_top.png`` and ``report_cub_full.png``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
try:
    import zslkit  # noqa: F401
except ImportError:  # not installed: use the source tree next to this script
    sys.path.insert(0, str(ROOT / "src"))

from bench_demo import screenshot  # noqa: E402

from zslkit.data.surrogate import make_surrogate  # noqa: E402
from zslkit.pipeline import TrainConfig, train  # noqa: E402
from zslkit.report.runs import build_report, collect_runs, comparison_table, group_runs  # noqa: E402
from zslkit.utils.outputs import atomic_write_text  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
SHARED = ROOT.parent / "shared" / "data" / "xlsa17-meta"
MODELS = [("eszsl", {}), ("sae", {}), ("regressor", {"loss": "mse"}), ("regressor", {"loss": "remse"})]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="zslkit-bench-report-"))
    t0 = time.perf_counter()
    data = work / "CUB"
    if not (data / "res101.mat").is_file():
        make_surrogate(SHARED / "CUB" / "att_splits.mat", data, seed=0)
    runs = work / "runs"
    for model, params in MODELS:
        for seed in (0, 1):
            out = runs / f"{model}_{params.get('loss', 'default')}_s{seed}"
            if not (out / "metrics.json").is_file():
                train(TrainConfig(data=str(data), model=model, params=params, seed=seed), out_dir=out)
    html = build_report([runs], work / "report.html", title="zslkit report: surrogate CUB study")
    shots = {"report_cub_top.png": (1280, 1600), "report_cub_full.png": (1280, 9000)}
    for name, (w, h) in shots.items():
        screenshot(args.chromium, html, RESULTS / name, w, h)
    rows = comparison_table(group_runs(collect_runs([runs])))
    lines = ["Report of a SURROGATE CUB study (synthetic features on the real CUB splits; not CUB results)",
             f"runs: {', '.join(f'{m} {p}' for m, p in MODELS)} x seeds 0, 1; built in {time.perf_counter() - t0:.0f} s",
             f"report: {html.stat().st_size / 1e6:.2f} MB, self-contained; screenshots: {', '.join(shots)}", ""]
    cols = ["run", "seeds", "T1", "U", "S", "H", "AUSUC", "H at gamma 0", "chance T1"]
    lines.append(" | ".join(cols))
    lines += [" | ".join(str(r[c]) for c in cols) for r in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    atomic_write_text(RESULTS / "report_cub.txt", text)


if __name__ == "__main__":
    main()
