"""Scale check on SURROGATE data of the real xlsa17 sizes: peak memory, wall and CPU time per stage.

Surrogate = the real xlsa17 splits and classes (``../shared/data/xlsa17-meta``) with synthetic
2048-d features (:func:`zslkit.data.make_surrogate`): AWA2 37,322 images x 2048, 50 classes;
SUN 14,340 x 2048, 717 classes. The data are synthetic, so the accuracies printed here are
sanity checks only, never results on AWA2/SUN; the sizes (and so the costs) are the real ones.

Every stage runs in a FRESH Python subprocess, so its peak RSS belongs to that stage alone; it
includes the interpreter and the imports (the "import" column is the RSS right after importing
zslkit and, where the stage needs it, torch). The peak is the child's ``VmHWM`` (Linux
``/proc/self/status``), not ``ru_maxrss``: Linux carries a parent's peak RSS over into a child
started by fork/vfork + exec, so ``getrusage(RUSAGE_CHILDREN)`` / ``os.wait4`` report
max(parent peak, child peak): a small child of a large parent reports the parent's peak. Wall time (``time.perf_counter``) and CPU time (``time.process_time``: user
+ system of all threads) are measured inside the child around each step. Other jobs on the
same cores inflate wall times (and, with more than one thread, CPU times too: waiting threads
spin); the load average at start and end is recorded.

Stages, on AWA2 and SUN:

* ``load``: :func:`zslkit.data.load_xlsa17` (``res101.mat`` + ``att_splits.mat`` + class lists),
  from the uncompressed v5 ``res101.mat`` that ``zslkit data synth`` writes and, for AWA2, from
  copies in the two other MATLAB formats: v7 (zlib-compressed, MATLAB's default ``save``, as the
  published ``att_splits.mat``) and v7.3 (HDF5);
* one per model: load, fit on all trainval images with FIXED hyperparameters (no search;
  iterative models run a small fixed number of epochs/steps and report training samples/s),
  then :func:`zslkit.evaluation.evaluate` on the test split (ZSL + GZSL + AUSUC, gamma 0);
* ``class_relation`` (SUN only): the VGSE Class Relation solver for all 72 unseen classes
  from the 645 seen ones, on the surrogate 300-d word vectors (``word2vec_splits.mat``).

Targets (issue #7), each printed as PASS/MISS against its figure:

* features held once, in float32: ``data.features`` is float32 and the peak RSS of AWA2
  load + ESZSL fit + evaluation stays under 1.5 GB (and loading never holds a second
  full copy: load peak above the import baseline < 2 x the feature matrix);
* ESZSL on AWA2 end to end (load + fit with fixed hyperparameters + evaluate) under 10 s;
* Class Relation for all 72 SUN unseen classes under 2 s;
* every iterative model reports training samples/s.

Threads: BLAS (OpenBLAS/MKL via env + threadpoolctl) and torch intra-op threads are set to
``--threads`` in every child and recorded. The default is 1: on the 2 shared cores of the
development machine, while other jobs ran, 2 threads made the regressor's epochs many times
slower than 1 thread (waiting OpenMP workers spin), so 1 thread gives stable figures that
compare across machines. ALE/SJE/DeViSE fit with
their own default ``num_threads=1`` anyway (see ``zslkit.models.bilinear``).

Run:  python benchmarks/scale.py    (about 2-3 minutes on 2 cores; the first run also builds the
                                     surrogate data and the v7/v7.3 copies under --data-root, ~1 min)
Output: stdout, also ``benchmarks/results/scale.txt`` and ``scale.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "xlsa17-meta"
DATASETS = ("AWA2", "SUN")
GB = 1e9
MB = 1e6

#: fixed hyperparameters: no search. Iterative models run a small fixed budget (they are timed,
#: not tuned); the ESZSL values are the ones selected on validation classes for surrogate AWA2.
MODELS: dict[str, tuple[str, dict]] = {
    "eszsl": ("eszsl", {"alpha": 1e4, "lam": 0.1}),
    "sae": ("sae", {"lam": 0.2}),
    "ale": ("ale", {"epochs": 1}),
    "sje": ("sje", {"epochs": 1}),
    "devise": ("devise", {"epochs": 1}),
    "regressor_mse": ("regressor", {"loss": "mse", "epochs": 2}),
    "regressor_remse": ("regressor", {"loss": "remse", "epochs": 2}),
    "clswgan": ("clswgan", {"steps": 40, "pretrain_epochs": 1, "cls_epochs": 1}),
}
TARGET_PEAK_RSS = 1.5 * GB
TARGET_ESZSL_S = 10.0
TARGET_CLASS_RELATION_S = 2.0


# --------------------------------------------------------------------------------------
# child side: one stage in a fresh process
# --------------------------------------------------------------------------------------

def _status_bytes(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field} (Linux only)")


def _rss_bytes() -> int:
    return _status_bytes("VmRSS")


class _Clock:
    def __init__(self) -> None:
        self.steps: dict[str, dict[str, float]] = {}

    def run(self, name: str, fn):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        self.steps[name] = {"wall_s": time.perf_counter() - w0, "cpu_s": time.process_time() - c0}
        return out


def _child(spec: dict) -> dict:
    threads = int(spec["threads"])
    needs_torch = spec["stage"] == "model" and spec["model"] not in ("eszsl", "sae")
    clock = _Clock()

    def imports():
        import numpy  # noqa: F401
        from threadpoolctl import threadpool_limits

        import zslkit.data
        import zslkit.evaluation  # noqa: F401

        threadpool_limits(limits=threads)  # global: every BLAS library loaded so far
        if needs_torch:
            import torch

            torch.set_num_threads(threads)

    clock.run("import", imports)
    import numpy as np
    from threadpoolctl import threadpool_info, threadpool_limits

    threadpool_limits(limits=threads)  # libraries loaded by the imports above included
    out: dict = {"rss_after_import": _rss_bytes()}

    from zslkit.data import load_xlsa17

    root = Path(spec["root"])
    if spec["stage"] == "load":
        res101 = spec.get("res101", "res101.mat")  # another file format of the same features, if given
        data = clock.run("load", lambda: load_xlsa17(root, res101=res101))
        f = data.features
        out.update(features_dtype=str(f.dtype), features_shape=list(f.shape), features_nbytes=int(f.nbytes),
                   features_c_contiguous=bool(f.flags["C_CONTIGUOUS"]), rss_after_load=_rss_bytes(),
                   surrogate=bool(data.surrogate), summary={k: v for k, v in data.summary().items()
                                                            if k in ("num_images", "feature_dim", "num_classes",
                                                                     "num_seen", "num_unseen", "splits")})
    elif spec["stage"] == "model":
        from zslkit.evaluation import evaluate
        from zslkit.registry import get_model

        data = clock.run("load", lambda: load_xlsa17(root))
        out["features_nbytes"] = int(data.features.nbytes)
        out["features_dtype"] = str(data.features.dtype)
        name, params = spec["model_spec"]
        model = get_model(name, **params)
        if "torch" in sys.modules:  # the iterative models' modules import torch
            import torch

            torch.set_num_threads(threads)
        tv = data.splits["trainval"]
        # what zslkit.pipeline.train does: fit on all trainval images, evaluate on the test split
        clock.run("fit", lambda: model.fit(data.features[tv], data.labels[tv], data.semantic))
        sem = data.semantic
        m = clock.run("evaluate", lambda: evaluate(lambda X, c: model.scores(X, sem[c]), data.features, data.labels,
                                                   data.test_split(), gamma=0.0))
        out.update(n_train=int(tv.size), T1=m.T1, U=m.U, S=m.S, H=m.H, ausuc=m.ausuc,
                   params={k: v for k, v in model.get_params().items() if k != "verbose"},
                   samples_per_s=getattr(model, "throughput_", None), surrogate=bool(data.surrogate))
        if spec["model"] in ("ale", "sje", "devise"):
            out["fit_num_threads"] = model.num_threads
    elif spec["stage"] == "train":
        # the path of ``zslkit train --model "eszsl(alpha=..., lam=...)"`` with a fixed gamma (no selection)
        from zslkit.pipeline import TrainConfig, train

        name, params = spec["model_spec"]
        inline = ", ".join(f"{k}={v!r}" for k, v in params.items())
        r = clock.run("train", lambda: train(TrainConfig(data=str(root), model=f"{name}({inline})", tune=False,
                                                         gamma=0.0)))
        for k in ("load", "fit", "evaluate"):
            clock.steps[k] = {"wall_s": float(r.timings[k]), "cpu_s": None}  # train() records wall only
        out.update(T1=r.metrics.T1, H=r.metrics.H, params=r.params, surrogate=bool(r.surrogate))
    elif spec["stage"] == "class_relation":
        from zslkit.data.xlsa17 import read_att_splits
        from zslkit.vgse.class_relation import ClassRelation, solve_class_relation

        data = clock.run("load", lambda: load_xlsa17(root, semantic="word2vec"))
        seen, unseen = data.seen_classes, data.unseen_classes
        ws, wu = data.semantic[seen].astype(np.float64), data.semantic[unseen].astype(np.float64)
        att = read_att_splits(root / "att_splits.mat").att  # stand-in for the seen-class VGSE embeddings
        rel, info = clock.run("solve", lambda: solve_class_relation(wu, ws, 0.0, return_info=True))
        clock.run("ClassRelation.fit_transform",
                  lambda: ClassRelation(method="smo", alpha=0.0).fit_transform(ws, wu, att[seen]))
        out.update(n_seen=int(seen.size), n_unseen=int(unseen.size), word_dim=int(ws.shape[1]),
                   max_gap=float(info.gap.max()), all_converged=bool(info.converged.all()),
                   fista_iterations=int(info.fista_iterations),
                   active_set_steps_per_class=float(info.active_set_iterations.mean()),
                   max_abs_row_sum_error=float(np.abs(rel.sum(1) - 1).max()), min_r=float(rel.min()),
                   surrogate=bool(data.surrogate))
    out["steps"] = clock.steps
    # Peak RSS of this process: VmHWM, the high-water mark of this address space (new at exec).
    # Not ru_maxrss: Linux carries the parent's peak RSS over into a child started with
    # fork/vfork + exec, so getrusage / os.wait4 would report max(parent peak, child peak).
    out["peak_rss"] = _status_bytes("VmHWM")
    out["threadpools"] = sorted({f"{i['internal_api']}:{i['num_threads']}" for i in threadpool_info()})
    if "torch" in sys.modules:
        import torch

        out["torch_threads"] = torch.get_num_threads()
    out["torch_imported"] = "torch" in sys.modules
    return out


# --------------------------------------------------------------------------------------
# parent side
# --------------------------------------------------------------------------------------

def _run_stage(spec: dict, threads: int) -> dict:
    """Run one stage in a fresh interpreter (its own peak RSS, see ``_child``); process CPU time from ``os.wait4``."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    with tempfile.TemporaryDirectory() as tmp:
        res_path = Path(tmp) / "result.json"
        log_path = Path(tmp) / "log.txt"
        w0 = time.perf_counter()
        with open(log_path, "wb") as log:
            proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec),
                                     "--child-out", str(res_path)], stdout=log, stderr=subprocess.STDOUT, env=env)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - w0
        if proc.returncode != 0 or not res_path.is_file():
            raise RuntimeError(f"stage {spec} failed (exit {proc.returncode}):\n{log_path.read_text()[-4000:]}")
        out = json.loads(res_path.read_text())
    out.update(spec={k: v for k, v in spec.items() if k != "root"}, process_wall_s=wall,
               process_cpu_s=usage.ru_utime + usage.ru_stime)
    return out


def _ensure_data(root: Path, seed: int) -> dict[str, Path]:
    from zslkit.data import make_surrogate

    dirs = {}
    for name in DATASETS:
        d = root / name
        if not (d / "SURROGATE.json").is_file() or not (d / "res101.mat").is_file():
            print(f"building surrogate {name} in {d} ...", flush=True)
            make_surrogate(SHARED / name / "att_splits.mat", d, seed=seed)
        flag = json.loads((d / "SURROGATE.json").read_text())
        if not flag.get("surrogate"):
            raise SystemExit(f"{d}: SURROGATE.json does not mark the directory as surrogate data")
        dirs[name] = d
    return dirs


def _ensure_formats(awa2: Path, out: Path) -> dict[str, Path]:
    """AWA2's surrogate ``res101.mat`` re-saved in the two other MATLAB formats zslkit reads.

    ``make_surrogate`` writes uncompressed v5. MATLAB's default ``save`` (v7) compresses every
    variable with zlib, as the published xlsa17 ``att_splits.mat`` files are; v7.3 is HDF5 (the
    only MATLAB format above 2 GB). Built once (cached in ``out``); same contents, same flags.
    """
    import scipy.io

    from zslkit.data.xlsa17 import read_res101, write_res101
    from zslkit.utils.outputs import atomic_path

    files = {"v7 (zlib-compressed)": out / "res101_v7_compressed.mat", "v7.3 (HDF5)": out / "res101_v7.3.mat"}
    out.mkdir(parents=True, exist_ok=True)
    src = awa2 / "res101.mat"
    if not files["v7 (zlib-compressed)"].is_file():
        print(f"writing {files['v7 (zlib-compressed)']} ...", flush=True)
        m = {k: v for k, v in scipy.io.loadmat(src).items() if not k.startswith("__")}
        with atomic_path(files["v7 (zlib-compressed)"], suffix=".mat") as tmp:
            scipy.io.savemat(tmp, m, do_compression=True)
        del m
    if not files["v7.3 (HDF5)"].is_file():
        print(f"writing {files['v7.3 (HDF5)']} ...", flush=True)
        r = read_res101(src)
        write_res101(files["v7.3 (HDF5)"], r.features, r.labels, image_files=r.image_files, surrogate=r.surrogate,
                     version="v7.3")
        del r
    return files


def _mb(x: float) -> str:
    return f"{x / MB:,.0f}"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default="/tmp/zslkit-scale/data",
                    help="holds surrogate AWA2/ and SUN/ (built here if missing; e.g. /tmp/zslkit-bench-models/data)")
    ap.add_argument("--threads", type=int, default=1,
                    help="BLAS and torch intra-op threads in every stage (default 1, see the module docstring)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the surrogate data, if it has to be built")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "scale"))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--child-out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        Path(args.child_out).write_text(json.dumps(_child(json.loads(args.child))))
        return

    import numpy as np
    import scipy

    load_start = os.getloadavg()
    t_start = time.perf_counter()
    lines: list[str] = []

    def say(s: str = "") -> None:
        lines.append(s)
        print(s, flush=True)

    say("# zslkit scale check on SURROGATE data (synthetic features on the real xlsa17 splits and sizes;")
    say("# NOT results on the real AWA2/SUN: accuracies below are sanity checks only)")
    say()
    say(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM")
    say(f"python {sys.version.split()[0]}, numpy {np.__version__}, scipy {scipy.__version__}; "
        f"load average at start {load_start[0]:.2f} / {load_start[1]:.2f} / {load_start[2]:.2f} (1/5/15 min; "
        "other jobs on the same cores inflate wall times)")
    say(f"threads: {args.threads} BLAS + {args.threads} torch intra-op in every stage "
        "(ALE/SJE/DeViSE fit with their default num_threads=1); peak RSS = VmHWM of each fresh stage process")
    dirs = _ensure_data(Path(args.data_root), args.seed)
    formats = _ensure_formats(dirs["AWA2"], Path(args.data_root) / "formats" / "AWA2")
    say(f"data: {', '.join(f'{k} {v}' for k, v in dirs.items())} (SURROGATE.json present)")
    say()

    results: list[dict] = []

    def stage(spec: dict) -> dict:
        r = _run_stage({**spec, "threads": args.threads}, args.threads)
        results.append(r)
        return r

    # ---- load
    say("## load (fresh process each)")
    say()
    say("| dataset | res101.mat format | images x dim | dtype | feature matrix MB | load wall s | load CPU s | "
        "import RSS MB | peak RSS MB | peak above import / feature matrix |")
    say("|---|---|---|---|---|---|---|---|---|---|")
    loads: dict[str, dict] = {}
    awa_loads: list[tuple[str, dict]] = []
    variants = [(ds, "v5 (uncompressed, as zslkit data synth writes)", None) for ds in DATASETS]
    variants += [("AWA2", fmt, path) for fmt, path in formats.items()]
    for ds, fmt, path in variants:
        spec = {"stage": "load", "dataset": ds, "root": str(dirs[ds]), "format": fmt}
        if path is not None:
            spec["res101"] = str(path)
        r = stage(spec)
        if path is None:
            loads[ds] = r
        if ds == "AWA2":
            awa_loads.append((fmt.split(" ")[0], r))
        ratio = (r["peak_rss"] - r["rss_after_import"]) / r["features_nbytes"]
        r["load_excess_ratio"] = ratio
        st = r["steps"]["load"]
        say(f"| {ds} | {fmt} | {r['features_shape'][0]:,} x {r['features_shape'][1]} | {r['features_dtype']} | "
            f"{_mb(r['features_nbytes'])} | {st['wall_s']:.2f} | {st['cpu_s']:.2f} | {_mb(r['rss_after_import'])} | "
            f"{_mb(r['peak_rss'])} | {ratio:.2f} |")
    say()
    say("load = load_xlsa17: res101.mat (features, labels, image_files) + att_splits.mat + class lists + checks. "
        "The other formats hold the same AWA2 surrogate contents; everything below uses the v5 files.")
    say()

    # ---- models
    say("## fit (all trainval images, fixed hyperparameters) and evaluate (test split, gamma 0), fresh process each")
    say()
    say("| dataset | model | fixed params | n train | fit wall s | fit CPU s | samples/s | eval wall s | eval CPU s | "
        "load+fit+eval wall s | peak RSS MB | torch imported | T1 | H |")
    say("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    model_rows = {}
    for ds in DATASETS:
        for key, (name, params) in MODELS.items():
            r = stage({"stage": "model", "dataset": ds, "model": key, "model_spec": [name, params],
                       "root": str(dirs[ds])})
            model_rows[(ds, key)] = r
            st = r["steps"]
            r["load_fit_eval_wall_s"] = sum(st[k]["wall_s"] for k in ("load", "fit", "evaluate"))
            r["load_fit_eval_cpu_s"] = sum(st[k]["cpu_s"] for k in ("load", "fit", "evaluate"))
            sps = r.get("samples_per_s")
            fixed = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())
            say(f"| {ds} | {key} | {fixed} | {r['n_train']:,} | {st['fit']['wall_s']:.2f} | {st['fit']['cpu_s']:.2f} | "
                f"{'-' if sps is None else f'{sps:,.0f}'} | {st['evaluate']['wall_s']:.2f} | "
                f"{st['evaluate']['cpu_s']:.2f} | {r['load_fit_eval_wall_s']:.2f} | {_mb(r['peak_rss'])} | "
                f"{'yes' if r['torch_imported'] else 'no'} | {r['T1']:.1f} | {r['H']:.1f} |")
    say()
    say("samples/s: training images processed per second over the fit (f-CLSWGAN: real features per second "
        "through the critic, batch x n_critic per generator step; its fit also pretrains the regulariser "
        "classifier, and its evaluation trains the final softmax classifiers, one per candidate set). "
        "T1/H on SURROGATE data with gamma 0, hyperparameters not tuned for the dataset and shortened training "
        "(f-CLSWGAN has not learnt yet after 40 generator steps): sanity checks, not results.")
    say()
    tr = stage({"stage": "train", "dataset": "AWA2", "model": "eszsl", "model_spec": list(MODELS["eszsl"]),
                "root": str(dirs["AWA2"])})
    tr["load_fit_eval_wall_s"] = sum(tr["steps"][k]["wall_s"] for k in ("load", "fit", "evaluate"))
    say(f"Same ESZSL run through zslkit.pipeline.train (what `zslkit train` runs; tune=False, gamma=0): "
        f"load {tr['steps']['load']['wall_s']:.2f} s + fit {tr['steps']['fit']['wall_s']:.2f} s + evaluate "
        f"{tr['steps']['evaluate']['wall_s']:.2f} s = {tr['load_fit_eval_wall_s']:.2f} s; whole train() "
        f"{tr['steps']['train']['wall_s']:.2f} s wall / {tr['steps']['train']['cpu_s']:.2f} s CPU; peak RSS "
        f"{_mb(tr['peak_rss'])} MB; torch imported: {'yes' if tr['torch_imported'] else 'no'}")
    say()

    # ---- class relation
    say("## VGSE Class Relation (SMO, alpha = 0), SUN surrogate word vectors, fresh process")
    say()
    cr = stage({"stage": "class_relation", "dataset": "SUN", "root": str(dirs["SUN"])})
    st = cr["steps"]
    say(f"{cr['n_unseen']} unseen x {cr['n_seen']} seen classes, {cr['word_dim']}-d vectors: solve_class_relation "
        f"{st['solve']['wall_s']:.3f} s wall / {st['solve']['cpu_s']:.3f} s CPU; ClassRelation.fit_transform "
        f"{st['ClassRelation.fit_transform']['wall_s']:.3f} s; max duality gap {cr['max_gap']:.1e}, all converged: "
        f"{cr['all_converged']}, FISTA iterations {cr['fista_iterations']}, active-set steps/class "
        f"{cr['active_set_steps_per_class']:.1f}, max |sum r - 1| {cr['max_abs_row_sum_error']:.1e}, "
        f"min r {cr['min_r']:.1e}")
    say()

    # ---- targets
    e = model_rows[("AWA2", "eszsl")]
    iterative = [(k, r) for k, r in model_rows.items() if k[1] not in ("eszsl", "sae")]
    missing_sps = [f"{ds}/{m}" for (ds, m), r in iterative if not r.get("samples_per_s")]
    targets = [
        {"target": "features held once in float32: dtype of data.features (AWA2, SUN)",
         "figure": ", ".join(f"{ds} {loads[ds]['features_dtype']}" for ds in DATASETS), "limit": "float32",
         "pass": all(loads[ds]["features_dtype"] == "float32" for ds in DATASETS)},
        {"target": "no second full copy while loading AWA2: (load peak RSS - import RSS) / feature matrix bytes, "
                   "per res101.mat format",
         "figure": ", ".join(f"{fmt} {r['load_excess_ratio']:.2f}" for fmt, r in awa_loads), "limit": "< 2",
         "pass": all(r["load_excess_ratio"] < 2 for _, r in awa_loads)},
        {"target": "peak RSS of AWA2 load + ESZSL fit + evaluation (whole process; library calls / "
                   "zslkit.pipeline.train)",
         "figure": f"{e['peak_rss'] / GB:.2f} GB / {tr['peak_rss'] / GB:.2f} GB",
         "limit": f"< {TARGET_PEAK_RSS / GB:.1f} GB",
         "pass": max(e["peak_rss"], tr["peak_rss"]) < TARGET_PEAK_RSS},
        {"target": "ESZSL on AWA2 end to end: load + fit (fixed alpha, lam) + evaluate, wall",
         "figure": f"{e['load_fit_eval_wall_s']:.2f} s (CPU {e['load_fit_eval_cpu_s']:.2f} s; whole process incl. "
                   f"interpreter and imports {e['process_wall_s']:.2f} s)",
         "limit": f"< {TARGET_ESZSL_S:g} s", "pass": e["load_fit_eval_wall_s"] < TARGET_ESZSL_S},
        {"target": "Class Relation, all 72 SUN unseen classes (645 seen), wall",
         "figure": f"{st['solve']['wall_s']:.3f} s (CPU {st['solve']['cpu_s']:.3f} s)",
         "limit": f"< {TARGET_CLASS_RELATION_S:g} s",
         "pass": st["solve"]["wall_s"] < TARGET_CLASS_RELATION_S and cr["all_converged"]},
        {"target": "every iterative model reports samples/s",
         "figure": f"{len(iterative) - len(missing_sps)}/{len(iterative)} fits"
                   + (f" (missing: {', '.join(missing_sps)})" if missing_sps else ""),
         "limit": "all", "pass": not missing_sps},
    ]
    say("## targets")
    say()
    for t in targets:
        say(f"- {_verdict(t['pass'])}  {t['target']}: {t['figure']} (target {t['limit']})")
    total = time.perf_counter() - t_start
    say()
    say(f"total wall time {total:.0f} s; load average at end {os.getloadavg()[0]:.2f}")

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT / "src"))
    from zslkit.utils.outputs import atomic_write_json, atomic_write_text

    atomic_write_text(out.with_suffix(".txt"), "\n".join(lines) + "\n")
    atomic_write_json(out.with_suffix(".json"), {
        "surrogate": True,
        "warning": "SURROGATE data (synthetic features on the real xlsa17 splits): not results on AWA2/SUN",
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": sys.version.split()[0],
                    "numpy": np.__version__, "scipy": scipy.__version__, "loadavg_start": list(load_start),
                    "loadavg_end": list(os.getloadavg())},
        "threads": args.threads, "models": {k: {"name": n, "params": p} for k, (n, p) in MODELS.items()},
        "targets": targets, "stages": results, "total_wall_s": total})
    print(f"wrote {out.with_suffix('.txt')} and {out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
