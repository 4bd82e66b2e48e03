"""REAL data: zslkit on Lampert et al.'s features of the 30,475 Animals with Attributes (AwA1) photographs.

Every number this script writes is labelled **REAL (AwA1, Lampert features, <split>)**: the five
bag-of-words feature types released with AwA1 (SIFT, SURF, local self-similarity, rg-SIFT: 2000-d
each; PHOG: 252-d), read from ``../shared/data/awa1-lampert/`` (research use only: never copied into
the repository; the datasets this script builds live in ``--scratch``, outside it). They are not
the ResNet-101 features of the xlsa17 ``res101.mat``: comparisons with the 2018 xlsa17 table are of
rankings, not of numbers.

Everything goes through zslkit's own commands, as a user runs them:

* ``import``: ``zslkit data build --features ...`` for the proposed split (``--att-splits``: the xlsa17
  AWA1 file and its class lists; real GoogleNews word2vec of the class names as
  ``--class-embeddings``) and for the standard split (``--classes/--unseen/--attributes`` from the
  original release files); wall time and peak RSS of each (the child process's own, via wait4).
* ``pretransform``: the ``expchi2(norm=l1)`` map (``zslkit.features``) fitted once on the proposed
  split's trainval images and applied to all images, imported with ``data build --features`` as a
  dataset of its own; the parts below read it with no transform of their own (fitting the map inside
  every grid cell costs ~45 minutes per cell on 2 cores; fitted once it costs ~5 minutes). The map seen
  during validation was thus fitted on all seen classes' images, validation classes included
  (unlabelled feature statistics; never a test image, never a label).
* ``proposed``: ``zslkit run`` of a grid config (``kind: grid``): every feature-level model x
  {attributes, real word2vec} x seeds 0-2 on the mapped dataset, hyperparameters and the
  calibration gamma chosen on the xlsa17 validation class fold 1 (never on test). Resumable (the grid
  skips finished cells; ``--seeds 0`` first, more seeds later). T1, U/S/H calibrated and
  uncalibrated, AUSUC, time per cell.
* ``rezsl``: the semantic regressor with MSE and with ReMSE (the authors' AWA2 loss settings, and
  p/p2 chosen on validation), seeds 0-4 on the proposed split with attributes: paired differences,
  and the imbalance analysis (per-attribute error against the attribute's value, Spearman; error per
  value quintile) of the MSE and ReMSE runs.
* ``vgse``: ``zslkit vgse discover --data`` on the proposed split's trainval features (each image one
  "patch": an extension beyond the paper, which crops patches from images) with the real class
  word2vec, then ESZSL, SAE, ALE, softmax_compat, the regressor and f-CLSWGAN with the VGSE embeddings
  (seeds 0-2), compared with the word2vec and attribute cells of ``proposed``.
* ``relation``: the Class Relation alone on real vectors: the 10 unseen classes' attribute rows
  predicted from the 40 seen rows through the real word2vec (SMO = VGSE's CR, WAvg, nearest seen
  class), their agreement with the true rows, and the ZSL T1 of ESZSL trained on the true seen
  attributes and tested with the predicted unseen rows.
* ``ci``: the figures the CI regression tests must reproduce (``tests/real/test_awa1_headline.py``):
  DAP, IAP and ESZSL on a fixed subset of the standard split (``tests/real/awa1_subset.py``), saved
  as ``real_awa1_ci.json``.
* ``report``: assembles ``benchmarks/results/real_awa1.{md,json}`` from the parts' records
  (``real_awa1_<part>.json``) and the standard-split study of ``bench_real_awa1_standard.py``.

Run (2 cores; the proposed grid takes hours, resumable)::

    python benchmarks/bench_real_awa1.py import
    python benchmarks/bench_real_awa1.py pretransform
    python benchmarks/bench_real_awa1.py proposed --workers 2 [--seeds 0]
    python benchmarks/bench_real_awa1.py rezsl
    python benchmarks/bench_real_awa1.py vgse
    python benchmarks/bench_real_awa1.py relation
    python benchmarks/bench_real_awa1.py ci          # the CI regression figures (tests/real/)
    python benchmarks/bench_real_awa1.py report
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
AWA1 = SHARED / "awa1-lampert"
META = SHARED / "xlsa17-meta" / "AWA1"
WORDS = SHARED / "word-vectors"
RESULTS = REPO / "benchmarks" / "results"
BLOCKS = ("sift", "surf", "lss", "rgsift", "phog")
TRANSFORM = "expchi2(norm=l1)"
#: every feature-level model of the registry (the regressor with both losses)
MODELS = ("eszsl", "sae", "ale", "sje", "devise", "softmax_compat", "regressor(loss=mse)", "regressor(loss=remse)",
          "clswgan", "abp", "dap", "iap")
VGSE_MODELS = ("eszsl", "sae", "ale", "softmax_compat", "regressor(loss=mse)", "clswgan")
#: the ReZSL authors' AWA2 ResNet loss settings (lambda1, p, p2; docs/METHODS.md): AwA1 and AWA2 share their classes
AUTHORS_LOSS = {"lambda1": 1.0, "p": 1.0, "p2": 0.1}
LABEL = "REAL (AwA1, Lampert features, {split})"
#: Xian et al. (TPAMI 2018), proposed split, AWA2 with ResNet-101 features, T1 % (the README's table): a
#: ranking to compare with, never numbers (other images, other features)
XLSA17_AWA2_T1 = {"eszsl": 58.6, "sae": 54.1, "ale": 62.5, "sje": 61.9, "devise": 59.7}
#: the papers' own figures on these features (shared/data/awa1-lampert/README.md)
PUBLISHED_STANDARD = {"dap": "40.5 (CVPR 2009) / 41.4 (TPAMI 2014)", "iap": "27.8 (CVPR 2009) / 42.2 (TPAMI 2014)",
                      "eszsl": "49.30 ± 0.21 (ICML 2015)"}

sys.path.insert(0, str(REPO / "src"))


def machine() -> dict:
    return {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
            "loadavg": list(os.getloadavg())}


def run_child(args: list[str]) -> dict:
    """Run ``python -m zslkit -q ARGS`` in a child process: wall time, the child's own peak RSS (GB, from
    wait4), exit code and output."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-m", "zslkit", "-q", *map(str, args)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    stdout, stderr = b"", b""
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    sel.register(p.stderr, selectors.EVENT_READ)
    open_streams = 2
    while open_streams:
        for key, _ in sel.select():
            chunk = key.fileobj.read1(65536)
            if not chunk:
                sel.unregister(key.fileobj)
                open_streams -= 1
            elif key.fileobj is p.stdout:
                stdout += chunk
            else:
                stderr += chunk
    _, status, ru = os.wait4(p.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return {"wall_s": round(time.perf_counter() - t0, 1), "peak_rss_gb": round(ru.ru_maxrss / 2**20, 2),
            "returncode": code, "stdout": stdout.decode(errors="replace"),
            "stderr": stderr.decode(errors="replace")[-3000:]}


def need_shared() -> None:
    missing = [p for p in [*(AWA1 / f"{b}.npz" for b in BLOCKS), AWA1 / "labels.npy", META / "att_splits.mat",
                           WORDS / "AWA2_class_w2v.npy"] if not p.is_file()]
    if missing:
        raise SystemExit(f"REAL data missing: {missing[:3]} (expected ../shared/data beside the checkout)")


def save_part(part: str, record: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"real_awa1_{part}.json"
    record = {"part": part, "machine": machine(), **record}
    path.write_text(json.dumps(record, indent=2, default=float) + "\n")
    print(f"wrote {path}")
    return path


def load_part(part: str) -> dict | None:
    p = RESULTS / f"real_awa1_{part}.json"
    return json.loads(p.read_text()) if p.is_file() else None


# --------------------------------------------------------------------------- import

def feature_args() -> list[str]:
    out: list[str] = []
    for b in BLOCKS:
        out += ["--features", f"{b}={AWA1 / f'{b}.npz'}"]
    return out + ["--labels", str(AWA1 / "labels.npy"), "--feature-name", "lampert_bow",
                  "--description", "Lampert et al. AwA1 bag-of-words: SIFT, SURF, LSS, rg-SIFT (2000-d), PHOG (252-d)"]


def proposed_dir(scratch: Path) -> Path:
    return scratch / "awa1_proposed"


def standard_dir(scratch: Path) -> Path:
    return scratch / "awa1_standard"


def build_args(split: str, out: Path) -> list[str]:
    words = ["--class-embeddings", str(WORDS / "AWA2_class_w2v.npy"), "--class-embedding-names",
             str(WORDS / "AWA2_class_names.txt")]
    if split == "proposed":
        return ["data", "build", *feature_args(), "--att-splits", str(META / "att_splits.mat"), *words, "--out",
                str(out)]
    return ["data", "build", *feature_args(), "--classes", str(AWA1 / "original-classes.txt"), "--unseen",
            str(AWA1 / "original-testclasses.txt"), "--attributes", str(AWA1 / "original-predicate-matrix-continuous.txt"),
            "--attribute-names", str(AWA1 / "original-predicates.txt"), *words, "--out", str(out)]


def part_import(args) -> None:
    need_shared()
    scratch = Path(args.scratch)
    rec: dict = {"label": "REAL (AwA1, Lampert features)", "builds": {}}
    for split, target in (("proposed", proposed_dir(scratch)), ("standard", standard_dir(scratch))):
        timing_dir = scratch / f"import_timing_{split}_{int(time.time())}"
        r = run_child(build_args(split, timing_dir))  # a fresh directory: the whole build is timed
        if r["returncode"] != 0:
            raise SystemExit(f"data build ({split}) failed:\n{r['stderr']}")
        import shutil

        shutil.rmtree(timing_dir)  # the benchmark's own scratch copy
        if not (target / "BUILD.json").is_file():
            r2 = run_child(build_args(split, target))
            if r2["returncode"] != 0:
                raise SystemExit(f"data build ({split}) failed:\n{r2['stderr']}")
        summary = r["stdout"].strip().splitlines()
        rec["builds"][split] = {"wall_s": r["wall_s"], "peak_rss_gb": r["peak_rss_gb"], "summary": summary,
                                "command": "zslkit data build " + " ".join(build_args(split, Path("OUT"))[2:])}
        print(f"{split}: {r['wall_s']} s, peak RSS {r['peak_rss_gb']} GB")
        print("\n".join(summary))
    save_part("import", rec)


# --------------------------------------------------------------------------- the transform, fitted once

def mapped_dir(scratch: Path) -> Path:
    return scratch / "awa1_proposed_expchi2"


def part_pretransform(args) -> None:
    """Fit ``TRANSFORM`` once on the proposed split's trainval images (the 40 seen classes: no test
    image, no label), map all 30,475 images, and import the mapped blocks as a dataset of their own
    with ``data build --features`` (same split files, same word2vec). Every later part reads it with no
    transform of its own, so a grid cell costs the model's fit, not the map (the map costs ~8 minutes
    per fit; fitted per cell, the 72-cell grid would spend most of a day on it). The price: the map
    seen during validation was fitted on all seen classes' images, the validation classes included
    (their unlabelled feature statistics; never a test image)."""
    need_shared()
    from zslkit.data.xlsa17 import load_xlsa17
    from zslkit.features import get_transform

    scratch = Path(args.scratch)
    target = mapped_dir(scratch)
    if (target / "BUILD.json").is_file():
        print(f"{target} exists: kept")
        return
    t0 = time.perf_counter()
    data = load_xlsa17(proposed_dir(scratch), semantic="att")
    tr = get_transform(TRANSFORM, n_jobs=args.workers)
    tr.set_params(blocks=data.feature_blocks)
    tr.fit(data.features, rows=data.splits["trainval"])
    mapped = tr.transform(data.features)
    t_map = time.perf_counter() - t0
    files: list[str] = []
    col = 0
    for name, width in tr.output_blocks_:
        f = scratch / f"mapped_{name}.npy"
        np.save(f, mapped[:, col:col + width])
        files += ["--features", f"{name}={f}"]
        col += width
    labels = scratch / "mapped_labels.npy"
    np.save(labels, data.labels + 1)  # 1-based indices into the att_splits class list
    del mapped
    words = ["--class-embeddings", str(WORDS / "AWA2_class_w2v.npy"), "--class-embedding-names",
             str(WORDS / "AWA2_class_names.txt")]
    r = run_child(["data", "build", *files, "--labels", str(labels), "--feature-name", "lampert_bow_expchi2",
                   "--description", f"Lampert et al. AwA1 bag-of-words, {TRANSFORM} fitted on the proposed split's "
                   "trainval images", "--att-splits", str(META / "att_splits.mat"), *words, "--out", str(target)])
    if r["returncode"] != 0:
        raise SystemExit(f"data build (mapped) failed:\n{r['stderr']}")
    for f in scratch.glob("mapped_*.npy"):
        f.unlink()  # the benchmark's own scratch files
    save_part("pretransform", {"label": LABEL.format(split="proposed split"), "transform": tr.describe(),
                               "fit_rows": "trainval", "map_wall_s": round(t_map, 1), "build_wall_s": r["wall_s"],
                               "build_peak_rss_gb": r["peak_rss_gb"], "workers": args.workers})


# --------------------------------------------------------------------------- proposed split grid

#: a --collect call writes its grid file beside the real one, never over it (a grid may be running from it)
YAML_SUFFIX = {False: ".yaml", True: ".collect.yaml"}


def grid_yaml(path: Path, data: Path, semantics: list[str], models: tuple[str, ...], seeds: list[int], out: Path,
              workers: int, params: dict | None = None) -> Path:
    import yaml

    cfg = {"kind": "grid", "data": [str(data)], "semantics": semantics, "models": list(models), "seeds": seeds,
           "out": str(out), "val_folds": [1], "workers": workers, "threads_per_worker": 1,
           "params": params or {}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def cell_records(grid_out: Path) -> list[dict]:
    """One record per finished cell of a grid directory (from its metrics.json)."""
    rows = []
    for m in sorted((grid_out / "cells").glob("*/metrics.json")):
        d = json.loads(m.read_text())
        cfg = d.get("config", {})
        rows.append({"model": cfg.get("model"), "semantic": cfg.get("semantic"), "seed": cfg.get("seed"),
                     "T1": d["zsl"]["T1"], "U": d["gzsl"]["U"], "S": d["gzsl"]["S"], "H": d["gzsl"]["H"],
                     "gamma": d["gzsl"]["gamma"], "U0": d["gzsl_uncalibrated"]["U"],
                     "S0": d["gzsl_uncalibrated"]["S"], "H0": d["gzsl_uncalibrated"]["H"], "AUSUC": d["ausuc"],
                     "params": d.get("params"), "transform": d.get("transform", {}).get("params"),
                     "wall_s": d.get("cell_wall_s"), "timings_s": d.get("timings_s"), "cell": m.parent.name})
    return rows


def run_grid_part(name: str, yaml_path: Path, grid_out: Path, collect: bool = False) -> dict:
    """Run the grid (resumable) and record its finished cells; ``collect``: record them without running
    (the grid process's time and memory are then the earlier record's)."""
    if collect:
        earlier = load_part(name) or {}
        r = {"wall_s": earlier.get("wall_s"), "peak_rss_gb": earlier.get("peak_rss_gb_grid_process"),
             "returncode": earlier.get("returncode"), "stderr": ""}
    else:
        print(f"running grid {yaml_path} (resumable; finished cells are kept)", flush=True)
        r = run_child(["run", str(yaml_path)])
    rows = cell_records(grid_out)
    failed = []
    if (grid_out / "results.csv").is_file():
        import csv

        failed = [row for row in csv.DictReader(open(grid_out / "results.csv")) if row.get("status") == "failed"]
    return {"grid": str(yaml_path), "wall_s": r["wall_s"], "peak_rss_gb_grid_process": r["peak_rss_gb"],
            "returncode": r["returncode"], "stderr_tail": r["stderr"][-1500:], "cells": rows,
            "failed": [{"cell": f["cell"], "error": f["error"]} for f in failed]}


def part_proposed(args) -> None:
    need_shared()
    scratch = Path(args.scratch)
    data = mapped_dir(scratch)
    if not (data / "BUILD.json").is_file():
        raise SystemExit(f"{data}: run the import part first")
    out = scratch / "grid_proposed_mapped"  # cells on the mapped dataset (pretransform)
    models = tuple(args.models) if args.models else MODELS
    seeds = args.seeds if args.seeds is not None else [0, 1, 2]
    y = grid_yaml(scratch / f"grid_proposed{YAML_SUFFIX[args.collect]}", data, args.semantics or ["att", "word2vec"],
                  models, seeds, out, args.workers)
    rec = run_grid_part("proposed", y, out, collect=args.collect)
    rec.update({"label": LABEL.format(split="proposed split"), "transform": TRANSFORM, "models": list(models)})
    save_part("proposed", rec)


# --------------------------------------------------------------------------- ReZSL

def part_rezsl(args) -> None:
    need_shared()
    scratch = Path(args.scratch)
    data = mapped_dir(scratch)
    seeds = [0, 1, 2, 3, 4]
    out = scratch / "grid_rezsl"
    # authors' p/p2 (fixed) and p/p2 chosen on validation (searched with the model's grid)
    models = ["regressor(loss=mse, lambda1=1.0)", "regressor(loss=remse, lambda1=1.0, p=1.0, p2=0.1)",
              "regressor(loss=remse, lambda1=1.0)"]
    y = grid_yaml(scratch / f"grid_rezsl{YAML_SUFFIX[args.collect]}", data, ["att"], tuple(models), seeds, out,
                  args.workers)
    import yaml

    cfg = yaml.safe_load(y.read_text())
    # linear regressor (the proposed grid chose hidden 0 and lr 0.01, the low edge of the default grid, for
    # MSE and ReMSE alike): lr searched around it for every model, p/p2 on top for the searched ReMSE
    base_grid = {"lr": [0.003, 0.01, 0.03], "hidden": [0]}
    cfg["grids"] = {models[0]: base_grid, models[1]: base_grid,
                    models[2]: {**base_grid, "p": [0.1, 0.5, 1.0], "p2": [0.0, 0.1, 0.75]}}
    y.write_text(yaml.safe_dump(cfg, sort_keys=False))
    rec = run_grid_part("rezsl", y, out, collect=args.collect)
    from zslkit.evaluation.analysis import load_run
    from zslkit.evaluation.imbalance import error_by_value

    analysis = {}
    for r in rec["cells"]:
        if r["seed"] != 0:
            continue
        _, a = load_run(out / "cells" / r["cell"])
        unseen = a["gzsl_is_unseen"].astype(bool)
        analysis[r["model"]] = {split: error_by_value(a["pred_semantics"][sel], a["semantic"], a["gzsl_y_true"][sel])
                                for split, sel in (("test_seen", ~unseen), ("test_unseen", unseen))}
    rec.update({"label": LABEL.format(split="proposed split, attributes"), "models": models, "seeds": seeds,
                "grids": cfg["grids"],
                "authors_loss": AUTHORS_LOSS, "value_error_seed0": analysis})
    save_part("rezsl", rec)


# --------------------------------------------------------------------------- VGSE

def part_vgse(args) -> None:
    need_shared()
    scratch = Path(args.scratch)
    data = mapped_dir(scratch)
    vout = scratch / "vgse_discover"
    # discovery runs once (seed 0); a later call (more seeds, more models) keeps it and its timing
    earlier = load_part("vgse")
    if (vout / "metadata.json").is_file() and earlier:
        r = {k: earlier["discover"][k] for k in ("wall_s", "peak_rss_gb")}
    else:
        r = run_child(["vgse", "discover", "--data", str(data), "--out", str(vout), "--seed", "0",
                       "--param", "neighbour_candidates=20000"])
        if r["returncode"] != 0:
            raise SystemExit(f"vgse discover failed:\n{r['stderr']}")
    meta = json.loads((vout / "metadata.json").read_text())
    out = scratch / "grid_vgse"
    seeds = args.seeds if args.seeds is not None else [0, 1, 2]
    models = tuple(args.models) if args.models else VGSE_MODELS
    y = grid_yaml(scratch / f"grid_vgse{YAML_SUFFIX[args.collect]}", data, [str(vout / "VGSE_SMO.mat")], models,
                  seeds, out, args.workers)
    rec = run_grid_part("vgse", y, out, collect=args.collect)
    rec.update({"label": LABEL.format(split="proposed split"), "models": list(models),
                "discover": {"wall_s": r["wall_s"], "peak_rss_gb": r["peak_rss_gb"], "timings_s": meta["timings_s"],
                             "cluster_stats": meta["cluster_stats"], "config": meta["config"],
                             "num_images": meta["num_images"]}})
    save_part("vgse", rec)


# --------------------------------------------------------------------------- class relation

def part_relation(args) -> None:
    need_shared()
    from zslkit.data.xlsa17 import load_xlsa17
    from zslkit.evaluation.protocol import zsl_accuracy
    from zslkit.pipeline import TrainConfig, train
    from zslkit.training.selection import scores_fn_for
    from zslkit.vgse.class_relation import ClassRelation

    scratch = Path(args.scratch)
    data = load_xlsa17(mapped_dir(scratch), semantic="att")
    w2v = load_xlsa17(mapped_dir(scratch), semantic="word2vec").semantic.astype(np.float64)
    att = data.semantic.astype(np.float64)
    seen, unseen = data.seen_classes, data.unseen_classes
    predicted = {"true attributes": att[unseen]}
    quality = {}
    for name, method, kw in (("CR (SMO, VGSE)", "smo", {}), ("WAvg", "wavg", {}), ("nearest seen class", "wavg",
                                                                                   {"k": 1})):
        rel = ClassRelation(method=method, **kw).fit(w2v[seen], w2v[unseen])
        pred = np.asarray(rel.transform(att[seen]), dtype=np.float64)
        predicted[name] = pred
        cos = (pred * att[unseen]).sum(1) / (np.linalg.norm(pred, axis=1) * np.linalg.norm(att[unseen], axis=1))
        sims = (pred / np.linalg.norm(pred, axis=1, keepdims=True)) @ \
            (att[unseen] / np.linalg.norm(att[unseen], axis=1, keepdims=True)).T
        retrieved = int((sims.argmax(1) == np.arange(len(unseen))).sum())
        quality[name] = {"cosine_to_true_mean": float(cos.mean()), "retrieved_of_10": retrieved,
                         "params": {"method": method, **kw}}
    results = {}
    t0 = time.perf_counter()
    test = data.test_split()
    for model in ("eszsl", "sae"):
        # trained on the true seen attributes (hyperparameters chosen on validation classes), tested with
        # each version of the unseen rows
        r = train(TrainConfig(data=str(mapped_dir(scratch)), model=model, seed=0), data=data)
        results[model] = {}
        for name, rows in predicted.items():
            sem = att.copy()
            sem[unseen] = rows
            t1 = zsl_accuracy(scores_fn_for(r.model, sem.astype(np.float32)), data.features, data.labels, test)
            results[model][name] = float(t1)
            print(f"relation {model} {name}: ZSL T1 {t1:.2f}", flush=True)
        results[model]["params"] = r.params
    save_part("relation", {"label": LABEL.format(split="proposed split"), "quality": quality, "zsl_T1": results,
                           "wall_s": round(time.perf_counter() - t0, 1)})


# --------------------------------------------------------------------------- CI figures

def part_ci(args) -> None:
    need_shared()
    import tempfile

    sys.path.insert(0, str(REPO))
    from tests.real.awa1_subset import HEADLINE, PER_CLASS, TRANSFORM, build_subset, headline

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="zslkit-awa1-ci-") as tmp:
        t1 = headline(build_subset(Path(tmp)))
    rec = {"label": "REAL (AwA1, Lampert features, standard split, CI subset)", "T1": t1,
           "subset": f"first {PER_CLASS} images of each class", "transform": TRANSFORM, "models": HEADLINE,
           "gamma": 0.0, "wall_s": round(time.perf_counter() - t0, 1)}
    print(rec)
    save_part("ci", rec)


# --------------------------------------------------------------------------- report

def ms(xs: list[float]) -> str:
    a = np.asarray([x for x in xs if x is not None], dtype=float)
    if a.size == 0:
        return "–"
    return f"{a.mean():.1f} ± {a.std():.1f}" if a.size > 1 else f"{a.mean():.1f}"


def group(cells: list[dict]) -> dict:
    g: dict = {}
    for c in cells:
        g.setdefault((c["model"], c["semantic"]), []).append(c)
    return g


def part_report(args) -> None:
    lines = ["# zslkit on real data: AwA1 with Lampert et al.'s features", "",
             "Every number on this page is **REAL**: the 30,475 photographs of Animals with Attributes (AwA1), "
             "described by the bag-of-words features Lampert et al. released with them (SIFT, SURF, local "
             "self-similarity, rg-SIFT, PHOG; the sixth type, colour histograms, is missing here). They are **not** "
             "the ResNet-101 features of the xlsa17 `res101.mat`: compare these numbers with papers that used these "
             "features, and only rankings with the 2018 xlsa17 table. Produced by `benchmarks/bench_real_awa1.py` "
             "(and `bench_real_awa1_standard.py` for the standard split); the records are "
             "`benchmarks/results/real_awa1*.json`.", ""]
    record: dict = {}
    imp = load_part("import")
    if imp:
        record["import"] = imp
        lines += ["## Bring your own features: `zslkit data build --features`", "",
                  "| split | wall s | peak RSS GB | result |", "|---|---|---|---|"]
        for split, b in imp["builds"].items():
            lines.append(f"| {split} | {b['wall_s']} | {b['peak_rss_gb']} | {b['summary'][1].strip() if len(b['summary']) > 1 else ''} |")
        lines += ["", f"Machine: {imp['machine']['cpus']} CPUs, load average {imp['machine']['loadavg'][0]:.1f} "
                  "at the end (other jobs share the cores).", ""]
    std = RESULTS / "real_awa1_standard.json"
    if std.is_file():
        record["standard"] = json.loads(std.read_text())
        st = record["standard"]
        lines += ["## Standard split (40/10): DAP, IAP, ESZSL against their published numbers", "",
                  f"**{LABEL.format(split='standard split')}**, from `real_awa1_standard.md` (settings, GZSL, the "
                  "block ablation and timings are there).", "",
                  "| model | T1 % | published T1 % | chosen on validation |", "|---|---|---|---|"]
        for name, r in st["models"].items():
            lines.append(f"| {name} | {r['T1']:.2f} | {PUBLISHED_STANDARD.get(name, '')} | "
                         + ", ".join(f"{k}={v:g}" for k, v in r.get("chosen", {}).items()) + " |")
        lines.append("")
    pre = load_part("pretransform")
    if pre:
        record["pretransform"] = pre
        lines += ["## The feature map of the proposed-split parts", "",
                  f"`{TRANSFORM}` ({pre['transform']['n_components']} landmarks per block, output "
                  f"{pre['transform']['output_dim']}-d) fitted once on the {pre['fit_rows']} images of the proposed "
                  f"split and applied to all images: {pre['map_wall_s']} s with {pre['workers']} threads; the mapped "
                  f"dataset imported with `data build --features` in {pre['build_wall_s']} s (peak RSS "
                  f"{pre['build_peak_rss_gb']} GB). Validation folds see this map (fitted on all seen classes' "
                  "images, the validation classes' included, without labels); no test image is used.", ""]
    prop = load_part("proposed")
    if prop:
        record["proposed"] = prop
        lab = prop["label"]
        lines += [f"## Proposed split (xlsa17 AWA1), every feature-level model x {{attributes, real word2vec}}", "",
                  f"**{lab}**. Transform `{prop['transform']}` fitted once on the trainval images (`pretransform`); "
                  "hyperparameters and the calibration gamma chosen on validation class fold 1; mean ± std over "
                  "the seeds run (column `seeds`). U/S/H calibrated (gamma from validation) and uncalibrated (gamma 0).", "",
                  "| model | semantic | seeds | T1 | U | S | H | U0 | S0 | H0 | AUSUC | s/cell |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for (model, sem), cs in sorted(group(prop["cells"]).items(), key=lambda kv: (kv[0][1], kv[0][0])):
            lines.append(f"| {model} | {sem} | {len(cs)} | " + " | ".join(
                ms([c[k] for c in cs]) for k in ("T1", "U", "S", "H", "U0", "S0", "H0", "AUSUC"))
                + f" | {np.mean([c['wall_s'] or 0 for c in cs]):.0f} |")
        from scipy.stats import spearmanr

        gp = group(prop["cells"])
        ours = {m: np.mean([c["T1"] for c in gp[(m, "att")]]) for m in XLSA17_AWA2_T1 if (m, "att") in gp}
        if len(ours) >= 3:
            names = sorted(ours, key=ours.get, reverse=True)
            rho = spearmanr([ours[m] for m in names], [XLSA17_AWA2_T1[m] for m in names]).statistic
            pub = sorted(ours, key=XLSA17_AWA2_T1.get, reverse=True)
            record["ranking_vs_xlsa17"] = {"ours": names, "xlsa17_awa2": pub, "spearman": float(rho)}
            lines += ["", f"Ranking of the classic models with attributes (T1): here {' > '.join(names)}; the 2018 "
                      f"xlsa17 table on AWA2 with ResNet-101 features: {' > '.join(pub)} (Spearman {rho:+.2f}; "
                      "rankings only: other images, other features)."]
        if prop.get("failed"):
            lines += ["", f"Failed cells: {prop['failed']}"]
        lines.append("")
    rz = load_part("rezsl")
    if rz:
        record["rezsl"] = rz
        g = group(rz["cells"])
        lines += ["## ReZSL on real data: ReMSE vs MSE, and the imbalance", "",
                  f"**{rz['label']}**. Semantic regressor (linear), seeds 0-4, each loss with its own search on "
                  f"validation class fold 1: {rz.get('grids')}. The authors' setting: p = {AUTHORS_LOSS['p']}, "
                  f"p2 = {AUTHORS_LOSS['p2']}, lambda1 = {AUTHORS_LOSS['lambda1']} (their AWA2 ResNet settings).", "",
                  "| model | T1 | H | per-seed T1 | chosen on validation |", "|---|---|---|---|---|"]
        for (model, _), cs in g.items():
            cs = sorted(cs, key=lambda c: c["seed"])
            chosen = "; ".join(f"seed {c['seed']}: " + ", ".join(f"{k}={c['params'].get(k)}" for k in ("lr", "p", "p2"))
                               for c in cs if c.get("params"))
            lines.append(f"| {model} | {ms([c['T1'] for c in cs])} | {ms([c['H'] for c in cs])} | "
                         + ", ".join(f"{c['T1']:.1f}" for c in cs) + f" | {chosen} |")
        keys = sorted(g, key=lambda k: "loss=mse" not in k[0])  # the MSE baseline first
        mse = {c["seed"]: c for c in g[keys[0]]}
        record["rezsl_summary"] = {}
        for k in keys[1:]:
            rmd = {c["seed"]: c for c in g[k]}
            seeds = sorted(set(mse) & set(rmd))  # paired: the same seed, split and search for both losses
            dt = [rmd[s]["T1"] - mse[s]["T1"] for s in seeds]
            dh = [rmd[s]["H"] - mse[s]["H"] for s in seeds]
            record["rezsl_summary"][k[0]] = {"seeds": seeds, "T1_minus_mse": dt, "H_minus_mse": dh}
            lines.append(f"\nPaired differences {k[0]} - {keys[0][0]}: T1 {', '.join(f'{x:+.2f}' for x in dt)} "
                         f"(mean {np.mean(dt):+.2f} ± {np.std(dt):.2f}); H {', '.join(f'{x:+.2f}' for x in dh)} "
                         f"(mean {np.mean(dh):+.2f} ± {np.std(dh):.2f}).")
        lines += ["", "Error against attribute value (seed 0; cells = (class, attribute); RegNorm'ed targets):", "",
                  "| model | split | Spearman(value, error) | error by value quintile (low -> high) | top/bottom |",
                  "|---|---|---|---|---|"]
        for model, a in rz["value_error_seed0"].items():
            for split, v in a.items():
                lines.append(f"| {model} | {split} | {v['spearman']:+.3f} | "
                             + " / ".join(f"{x:.2e}" for x in v["quantile_mean_error"])
                             + f" | {v['top_over_bottom']:.2f} |")
        lines.append("")
    vg = load_part("vgse")
    if vg and prop:
        record["vgse"] = vg
        gp, gv = group(prop["cells"]), group(vg["cells"])
        lines += ["## VGSE on real data: discovered embeddings vs real word2vec vs attributes", "",
                  f"**{vg['label']}**. `zslkit vgse discover --data` on the 19,832 trainval image features (each "
                  "image one patch; an extension beyond the paper), real class word2vec, SMO class relation for the "
                  f"unseen classes; discovery took {vg['discover']['wall_s']} s. T1 (mean ± std over the seeds run for both "
                  "embeddings, paired by seed):", "",
                  "| model | seeds | VGSE (discovered) | word2vec | attributes | VGSE - word2vec (per seed) |",
                  "|---|---|---|---|---|---|"]
        wins, wins_h, compared, summary = 0, 0, 0, {}
        for m in VGSE_MODELS:
            cells = {"vgse": next((cs for (mm, _), cs in gv.items() if mm == m), []),
                     "word2vec": gp.get((m, "word2vec"), []), "att": gp.get((m, "att"), [])}
            by_h = {sem: {c["seed"]: c["H"] for c in cs} for sem, cs in cells.items()}
            by_seed = {sem: {c["seed"]: c["T1"] for c in cs} for sem, cs in cells.items()}
            seeds = sorted(set(by_seed["vgse"]) & set(by_seed["word2vec"]))  # paired: the same seeds
            if not seeds:
                continue
            v, w = [by_seed["vgse"][s] for s in seeds], [by_seed["word2vec"][s] for s in seeds]
            a = [by_seed["att"][s] for s in seeds if s in by_seed["att"]]
            d = [x - y for x, y in zip(v, w)]
            compared += 1
            wins += int(np.mean(d) > 0)
            dh = [by_h["vgse"][s] - by_h["word2vec"][s] for s in seeds]
            wins_h += int(np.mean(dh) > 0)
            summary[m] = {"seeds": seeds, "vgse_minus_word2vec_T1": d, "vgse_minus_word2vec_H": dh}
            lines.append(f"| {m} | {len(seeds)} | {ms(v)} | {ms(w)} | {ms(a)} | {np.mean(d):+.1f} "
                         f"({', '.join(f'{x:+.1f}' for x in d)}) |")
        lines += ["", f"VGSE > word2vec (mean over the paired seeds) on T1 for {wins} of {compared} models, on calibrated "
                  f"H for {wins_h} of {compared}.", ""]
        record["vgse_summary"] = {"ahead_on_T1": wins, "ahead_on_H": wins_h, "models": compared, "per_model": summary}
    rel = load_part("relation")
    if rel:
        record["relation"] = rel
        lines += ["## The Class Relation alone: unseen attribute rows predicted through real word2vec", "",
                  f"**{rel['label']}**. The 10 unseen classes' attribute rows predicted from the 40 seen rows with "
                  "weights fitted on the real word2vec; ZSL T1 of models trained on the true seen attributes and "
                  "tested with the predicted unseen rows.", "",
                  "| unseen rows | mean cosine to true | right class retrieved (of 10) | ESZSL T1 | SAE T1 |",
                  "|---|---|---|---|---|"]
        for name in rel["zsl_T1"]["eszsl"]:
            if name == "params":
                continue
            q = rel["quality"].get(name, {})
            lines.append(f"| {name} | {q.get('cosine_to_true_mean', 1.0):.3f} | {q.get('retrieved_of_10', 10)} | "
                         f"{rel['zsl_T1']['eszsl'][name]:.1f} | {rel['zsl_T1']['sae'][name]:.1f} |")
        lines.append("")
    (RESULTS / "real_awa1.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "real_awa1.json").write_text(json.dumps(record, indent=1, default=float) + "\n")
    print(f"wrote {RESULTS / 'real_awa1.md'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("part", choices=["import", "pretransform", "proposed", "rezsl", "vgse", "relation", "ci", "report"])
    ap.add_argument("--scratch", default="/tmp/zslkit-real-awa1", help="where the datasets and runs go (outside "
                    "the repository: the AwA1 features are research-use only)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--collect", action="store_true", help="proposed / rezsl / vgse: record the grid's finished "
                    "cells without running it (e.g. after a run was stopped)")
    ap.add_argument("--models", nargs="*", default=None, help="proposed / vgse: a subset of the models")
    ap.add_argument("--semantics", nargs="*", default=None, help="proposed: a subset of att, word2vec")
    ap.add_argument("--seeds", type=int, nargs="*", default=None, help="proposed / vgse: a subset of seeds 0-2 "
                    "(finished cells are kept, so seeds can be added in later runs)")
    args = ap.parse_args()
    {"import": part_import, "pretransform": part_pretransform, "proposed": part_proposed, "rezsl": part_rezsl, "vgse": part_vgse,
     "relation": part_relation, "ci": part_ci, "report": part_report}[args.part](args)


if __name__ == "__main__":
    main()
