"""Default paths: what ``zslkit train`` costs with its defaults, and threads on a shared machine (issue #14).

Run from the repository root, on a machine otherwise idle (the script makes its own load)::

    python benchmarks/bench_default_paths.py                    # everything (~40-60 min on 2 cores)
    python benchmarks/bench_default_paths.py --only threads     # one section: threads | eszsl_sae | iterative
    python benchmarks/bench_default_paths.py --src OLD/src --label before   # the same on another checkout

All on SURROGATE AWA2 at its real size (37,322 x 2048, the real splits; ``zslkit data synth``):
numbers describe the code's speed and its validation-selected accuracy on synthetic features, not
results on AWA2.

1. **threads**: the semantic regressor's training samples/s alone, and beside 3 busy processes
   (each a numpy matrix-product loop on its own BLAS threads), with zslkit's default thread choice
   (``--threads auto``) and with torch's own default (one thread per core); the slowdown against
   running alone is compared with the fair share (busy processes + 1 over the cores: 2x on 2 cores
   with 3 busy processes... the share of CPU time a process gets; about 4x there).
2. **eszsl_sae**: ``zslkit train`` with the defaults (validation search included) against one fit
   with fixed hyperparameters plus loading, wall and CPU time; target: within 3x.
3. **iterative**: ALE, SJE, DeViSE and the regressor (MSE and ReMSE) with the default search, and
   f-CLSWGAN's CPU default: wall time and validation-selected T1/H.

Output: ``benchmarks/results/default_paths[_LABEL].txt`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "xlsa17-meta"

ITERATIVE = ("ale", "sje", "devise", "regressor(loss=mse)", "regressor(loss=remse)", "clswgan")

_BUSY = "import numpy as np\na = np.random.rand(900, 900)\nwhile True:\n    a = a @ a\n    a /= np.abs(a).max()\n"


def _cli(src: Path, args: list[str], env: dict | None = None, timeout: float = 3600) -> tuple[float, float, str]:
    """Run ``python -m zslkit ARGS`` on ``src``: (wall s, CPU s of the child, stdout); an ``--out`` directory
    is emptied first (older checkouts have no --overwrite)."""
    if "--out" in args and args[0] != "data" and "synth" not in args:
        shutil.rmtree(args[args.index("--out") + 1], ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(src), **(env or {})}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "zslkit", *args], capture_output=True, text=True, env=env,
                       timeout=timeout)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise RuntimeError(f"zslkit {' '.join(args)} failed:\n{p.stdout}\n{p.stderr}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), p.stdout


def _regressor_rate(src: Path, data: Path, threads: str | None, busy: int) -> float:
    """Training samples/s of the regressor (3 epochs, fixed settings) beside ``busy`` busy processes."""
    code = ("import sys, json, numpy as np\n"
            "mode = sys.argv[1]\n"
            "if mode == 'auto':\n"
            "    from zslkit.utils.threads import configure_threads\n"
            "    configure_threads('auto')\n"
            "import torch\n"
            "from zslkit.data.xlsa17 import load_xlsa17\n"
            "from zslkit.models.regressor import SemanticRegressor\n"
            "d = load_xlsa17(sys.argv[2]); tv = d.splits['trainval']\n"
            "m = SemanticRegressor(epochs=3, lr=0.03).fit(d.features[tv], d.labels[tv], d.semantic)\n"
            "print(json.dumps({'samples_per_s': m.throughput_, 'threads': torch.get_num_threads()}))\n")
    procs = [subprocess.Popen([sys.executable, "-c", _BUSY]) for _ in range(busy)]
    try:
        time.sleep(5 if busy else 0)  # let the load average see them
        env = {**os.environ, "PYTHONPATH": str(src)}
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env.pop(var, None)
        out = subprocess.run([sys.executable, "-c", code, threads or "torch-default", str(data)], capture_output=True,
                             text=True, env=env, timeout=1800, check=True).stdout
        return json.loads(out.strip().splitlines()[-1])
    finally:
        for p in procs:
            p.kill()
            p.wait()


def _metrics(run_dir: Path) -> dict:
    m = json.loads((run_dir / "metrics.json").read_text())
    return {"T1": m["zsl"]["T1"], "H": m["gzsl"]["H"], "params": m.get("params")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=["threads", "eszsl_sae", "iterative"], action="append")
    ap.add_argument("--src", type=Path, default=ROOT / "src", help="the zslkit source tree to measure")
    ap.add_argument("--label", default="", help="suffix of the output files (e.g. 'before')")
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--iterative-models", nargs="+", default=list(ITERATIVE),
                    help="model specs of the iterative section (e.g. 'clswgan(steps=1800)')")
    args = ap.parse_args()
    sections = args.only or ["threads", "eszsl_sae", "iterative"]
    work = args.work or Path(tempfile.mkdtemp(prefix="zslkit-bench-defaults-"))
    data = work / "AWA2"
    if not (data / "res101.mat").is_file():
        _cli(ROOT / "src", ["-q", "data", "synth", "--att-splits", str(SHARED / "AWA2" / "att_splits.mat"),
                            "--out", str(data), "--seed", "0"])
    res: dict = {"src": str(args.src), "cpus": os.cpu_count(), "load_at_start": os.getloadavg()[0]}
    lines = [f"Default paths on SURROGATE AWA2 at the real size (not AWA2 results); source {args.src}",
             f"cpus {os.cpu_count()}, load average at start {os.getloadavg()[0]:.2f}", ""]
    if "threads" in sections:
        t = {}
        # a checkout from before --threads existed (the "before" of issue #14) has torch's default only
        th = args.src / "zslkit" / "utils" / "threads.py"
        modes = ("auto", None) if th.is_file() and "def configure_threads" in th.read_text() else (None,)
        for mode in modes:
            alone = _regressor_rate(args.src, data, mode, 0)
            loaded = _regressor_rate(args.src, data, mode, 3)
            t[mode or "torch default"] = {"alone": alone, "beside_3_busy": loaded,
                                          "slowdown": alone["samples_per_s"] / loaded["samples_per_s"]}
        res["threads"] = t
        lines.append("1. regressor samples/s alone vs beside 3 busy processes (fair share: about 4x slower)")
        for k, v in t.items():
            lines.append(f"   {k:14s} alone {v['alone']['samples_per_s']:8.0f} ({v['alone']['threads']} threads)   "
                         f"loaded {v['beside_3_busy']['samples_per_s']:8.0f} ({v['beside_3_busy']['threads']} threads)"
                         f"   slowdown {v['slowdown']:.1f}x")
        lines.append("")
    if "eszsl_sae" in sections:
        e = {}
        for model, fixed in (("eszsl", ["--param", "alpha=1000.0", "--param", "lam=1.0", "--gamma", "0"]),
                             ("sae", ["--param", "lam=0.2", "--param", "direction=semantic->visual",
                                      "--gamma", "0"])):
            one = _cli(args.src, ["-q", "train", "--data", str(data), "--model", model, "--out",
                                  str(work / f"{model}_one{args.label}"), "--no-tune", *fixed])
            full = _cli(args.src, ["-q", "train", "--data", str(data), "--model", model, "--out",
                                   str(work / f"{model}_default{args.label}")])
            e[model] = {"one_fit_wall": one[0], "one_fit_cpu": one[1], "default_wall": full[0],
                        "default_cpu": full[1], "ratio_wall": full[0] / one[0],
                        **_metrics(work / f"{model}_default{args.label}")}
        res["eszsl_sae"] = e
        lines.append("2. zslkit train with the default search vs one fit + loading (target: within 3x)")
        for k, v in e.items():
            lines.append(f"   {k:8s} one fit {v['one_fit_wall']:6.1f} s wall ({v['one_fit_cpu']:6.1f} s CPU); default "
                         f"{v['default_wall']:6.1f} s wall ({v['default_cpu']:6.1f} s CPU): {v['ratio_wall']:.2f}x;"
                         f" T1 {v['T1']:.1f} H {v['H']:.1f}")
        lines.append("")
    if "iterative" in sections:
        it = {}
        for spec in args.iterative_models:
            name = spec.replace("(", "_").replace(")", "").replace("=", "-").replace(",", "_").replace(" ", "")
            out = work / f"{name}{args.label}"
            w, c, _ = _cli(args.src, ["-q", "train", "--data", str(data), "--model", spec, "--out", str(out)],
                           timeout=3600)
            it[spec] = {"wall": w, "cpu": c, **_metrics(out)}
        res["iterative"] = it
        lines.append("3. iterative models with the default search (target: < 5 min; f-CLSWGAN < 15 min)")
        for k, v in it.items():
            lines.append(f"   {k:24s} {v['wall']:7.1f} s wall ({v['cpu']:7.1f} s CPU)   T1 {v['T1']:5.1f}  "
                         f"H {v['H']:5.1f}")
        lines.append("")
    lines.append(f"load average at end {os.getloadavg()[0]:.2f}")
    text = "\n".join(lines) + "\n"
    print(text)
    out = ROOT / "benchmarks" / "results" / f"default_paths{('_' + args.label) if args.label else ''}"
    out.with_suffix(".txt").write_text(text)
    out.with_suffix(".json").write_text(json.dumps(res, indent=1, default=str))


if __name__ == "__main__":
    main()
