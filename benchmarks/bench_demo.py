"""The full built-in demo (``zslkit demo``): wall time from a fresh folder, its verdict, and a
screenshot of its HTML report in headless Chromium.

Runs ``zslkit demo --out WORK`` in a subprocess exactly as a user would (fresh folder, default
settings), checks the report and ``metrics.json``, then opens ``report.html`` in headless
Chromium (Debian package ``chromium``) and saves full-page screenshots next to the output, so a
person can see the report. Target: the whole demo under 5 minutes on the 2-core machine.

**Synthetic image world: the accuracies are not results on any real dataset.**

Run:  python benchmarks/bench_demo.py [--work DIR] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from zslkit.utils.outputs import atomic_write_text

RESULTS = Path(__file__).parent / "results"
TARGET_S = 300.0


def screenshot(chromium: str, html: Path, png: Path, width: int, height: int) -> None:
    """Headless Chromium screenshot of a local file (no network: the report is self-contained)."""
    with tempfile.TemporaryDirectory() as profile:
        cmd = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               f"--user-data-dir={profile}", f"--window-size={width},{height}", f"--screenshot={png}",
               html.resolve().as_uri()]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    if not png.is_file() or png.stat().st_size < 10_000:
        raise RuntimeError(f"chromium wrote no usable screenshot at {png}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default=None, help="demo output folder (default: a fresh temporary folder)")
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    ap.add_argument("--out", default=str(RESULTS / "demo"))
    args = ap.parse_args()
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="zslkit-demo-"))
    if work.exists() and any(work.iterdir()):
        sys.exit(f"{work} is not empty: the benchmark times a demo from a fresh folder")
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "zslkit", "--quiet", "demo", "--out", str(work)],
                          check=False, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    load1 = os.getloadavg()
    if proc.returncode != 0:
        sys.exit(f"zslkit demo failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    metrics = json.loads((work / "metrics.json").read_text())
    html = work / "report.html"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    shots = {}
    for name, (w, h) in {"top": (1280, 1000), "full": (1280, 6000)}.items():
        png = out.parent / f"{out.name}_report_{name}.png"
        screenshot(args.chromium, html, png, w, h)
        shots[name] = str(png.relative_to(Path(__file__).parent))
    chromium_version = subprocess.run([args.chromium, "--version"], check=False, capture_output=True, text=True).stdout.strip()
    comp = metrics["comparisons"]
    lines = [
        "zslkit demo, full default settings, from a fresh folder (SYNTHETIC image world: not benchmark results)",
        (f"machine: {platform.platform()}, {os.cpu_count()} CPUs, python {platform.python_version()}; load average "
        f"at start {load0[0]:.2f} / end {load1[0]:.2f}"),
        f"command: {sys.executable} -m zslkit --quiet demo --out {work}",
        f"wall time: {wall:.1f} s (target < {TARGET_S:.0f} s: {'PASS' if wall < TARGET_S else 'MISS'})",
        "stage seconds (from metrics.json): " + ", ".join(f"{k} {v:.1f}" for k, v in metrics["timings_s"].items()),
        "",
        "| model | embedding | T1 | U | S | H | AUSUC |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in metrics["rows"]:
        lines.append(f"| {r['model']} | {r['semantic']} | {r['T1']:.1f} | {r['U']:.1f} | {r['S']:.1f} | {r['H']:.1f} "
                     f"| {r['AUSUC']:.1f} |")
    lines += ["", f"VGSE minus surrogate word vectors: ahead on T1 for {comp['vgse_ahead_on_T1']}/{comp['n_models']} "
              f"models, on H for {comp['vgse_ahead_on_H']}/{comp['n_models']}; per model (T1, H): " +
              "; ".join(f"{m} {v['T1']:+.1f}, {v['H']:+.1f}" for m, v in comp["vgse_minus_word2vec"].items())]
    if "remse_minus_mse" in comp:
        lines.append("ReMSE minus MSE (regressor; T1, H): " + "; ".join(
            f"{s} {v['T1']:+.1f}, {v['H']:+.1f}" for s, v in comp["remse_minus_mse"].items()))
    lines += ["", (f"report: {html} ({html.stat().st_size / 1e6:.2f} MB, self-contained); screenshots by "
              f"{chromium_version}: {', '.join(shots.values())}")]
    text = "\n".join(lines) + "\n"
    atomic_write_text(out.with_suffix(".txt"), text)
    atomic_write_text(out.with_suffix(".json"), json.dumps({"synthetic_world": True, "wall_s": wall, "target_s": TARGET_S,
                                                      "load_start": load0, "load_end": load1,
                                                      "timings_s": metrics["timings_s"], "rows": metrics["rows"],
                                                      "comparisons": comp, "screenshots": shots}, indent=2) + "\n")
    print(text)


if __name__ == "__main__":
    main()
