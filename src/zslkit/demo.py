"""The built-in default job (``zslkit demo``): the whole toolkit on a synthetic image world, on CPU.

Nothing is downloaded. :func:`run_demo`:

1. renders the synthetic image world (:mod:`zslkit.data.synthetic_world`: classes are
   combinations of visual attributes; unseen classes are new combinations; class names come
   with surrogate word vectors in a word2vec text file);
2. runs VGSE discovery on the seen-class training images (:func:`zslkit.vgse.discovery.discover`
   with a tiny CNN pre-trained locally on the seen classes), giving VGSE class embeddings for
   seen and unseen classes, a cluster montage and a t-SNE plot;
3. builds an xlsa17 directory of whole-image features (:mod:`zslkit.vgse.world_eval`);
4. trains and evaluates several ZSL models with each class embedding (ground-truth attributes,
   surrogate word vectors, VGSE) under the standard protocol (hyperparameters and calibration
   gamma on validation classes, never on test), including the semantic regressor with MSE and
   with ReMSE;
5. writes ``metrics.json`` and a self-contained ``report.html`` (tables, AUSUC curves,
   per-attribute error plots, confusion matrix, cluster montage, t-SNE).

An interrupted demo resumes: the world, the backbone, the feature caches and the clustering
checkpoints are reused, and finished runs (``runs/<model>-<semantic>/metrics.json`` with the
same config) are not redone.

**Synthetic-world results: not benchmark numbers for any real dataset.**
"""

from __future__ import annotations

import logging
import math
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from zslkit.data.synthetic_world import WorldConfig
from zslkit.errors import ConfigError
from zslkit.utils.outputs import atomic_write_json

log = logging.getLogger(__name__)

WARNING = ("SYNTHETIC image world (generated images, surrogate word vectors): these numbers show the toolkit "
           "working end to end; they are not results on AWA2, CUB, SUN or any real dataset.")

#: What zslkit measured on REAL data about the two papers' claims, for the demo report to set beside the
#: synthetic world's answer. Source: ``benchmarks/bench_real_awa1.py`` (``benchmarks/results/real_awa1.json``;
#: ``tests/test_demo.py`` checks these figures against that file, so they cannot drift from it).
REAL_DATA_FINDINGS: dict[str, Any] = {
    "label": "REAL (AwA1, Lampert features, proposed split)",
    "source": "benchmarks/results/real_awa1.md",
    # VGSE (discovered on the trainval image features) minus real word2vec, ZSL T1, paired by seed
    "vgse_ahead_on_T1": 2,
    "vgse_models": 6,
    # semantic regressor, ReMSE minus MSE, ZSL T1 points over seeds 0-4 (mean, std): authors' p/p2, searched p/p2
    "remse_authors_minus_mse_T1": (0.15, 0.19),
    "remse_searched_minus_mse_T1": (0.27, 0.26),
}

SEMANTIC_LABELS = {"att": "attributes (ground truth)", "word2vec": "word vectors (surrogate)",
                   "vgse": "VGSE (discovered)", "vgse_wavg": "VGSE, WAvg relation"}


#: DiscoverConfig fields the demo sets itself (not accepted under ``discovery:``)
_DEMO_SETS = ("images", "classes", "unseen", "word_vectors", "out", "res101", "splits", "seed", "plots", "progress")


@dataclass
class DemoConfig:
    """Settings of :func:`run_demo` (defaults: the full demo, a few minutes on 2 CPU cores).

    ``world`` and ``discovery`` override :class:`~zslkit.data.synthetic_world.WorldConfig` and
    :data:`zslkit.vgse.discovery.DEMO_SETTINGS` fields; ``small=True`` is the reduced size the
    tests use (fewer classes, images, clusters and epochs).
    """

    seed: int = 0
    models: list[str] = field(default_factory=lambda: ["eszsl", "sae", "ale", "regressor(loss=mse)",
                                                       "regressor(loss=remse)"])
    semantics: list[str] = field(default_factory=lambda: ["att", "word2vec", "vgse"])
    val_folds: int = 3
    world: dict[str, Any] = field(default_factory=dict)
    discovery: dict[str, Any] = field(default_factory=dict)
    small: bool = False

    def validate(self) -> DemoConfig:
        from zslkit.config import check_fields
        from zslkit.data.synthetic_world import WorldConfig
        from zslkit.vgse.discovery import DiscoverConfig

        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"demo seed must be an integer >= 0, got {self.seed!r}")
        # nested settings are checked like top-level ones: names and types (a typo there used to
        # surface as a TypeError traceback after minutes of work)
        check_fields(WorldConfig, self.world, "demo world")
        check_fields(DiscoverConfig, self.discovery, "demo discovery", exclude=_DEMO_SETS)
        unknown = sorted(set(self.semantics) - set(SEMANTIC_LABELS))
        if unknown:
            raise ConfigError(f"demo semantics {unknown} unknown; choose from {sorted(SEMANTIC_LABELS)}")
        if not self.models:
            raise ConfigError("demo needs at least one model")
        if self.val_folds < 1:
            raise ConfigError(f"val_folds must be >= 1, got {self.val_folds}")
        from zslkit.registry import get_model

        for m in self.models:
            get_model(m)  # raises a ConfigError naming an unknown model now, not after discovery
        return self

    def world_config(self) -> WorldConfig:
        base = {"n_seen": 16, "n_unseen": 8, "images_per_class": 16, "image_size": 48} if self.small else {}
        try:
            return WorldConfig(**{**base, **self.world}).validate()
        except TypeError as exc:
            raise ConfigError(f"demo world: {exc}") from exc

    def discovery_settings(self) -> dict[str, Any]:
        from zslkit.vgse.discovery import DEMO_SETTINGS

        base = {"n_clusters": 16, "epochs": 4, "tiny_pretrain_epochs": 3, "patch_size": 24} if self.small else {}
        return {**DEMO_SETTINGS, **base, **self.discovery}


@dataclass
class DemoResult:
    """What :func:`run_demo` produced (also saved as ``metrics.json``)."""

    config: DemoConfig
    rows: list[dict[str, Any]]
    comparisons: dict[str, Any]
    discovery: dict[str, Any]
    timings: dict[str, float]
    files: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {"synthetic_world": True, "warning": WARNING, "config": asdict(self.config), "rows": self.rows,
                "comparisons": self.comparisons, "discovery": self.discovery, "timings_s": self.timings,
                "files": self.files, "machine": {"platform": platform.platform(), "python": platform.python_version()}}


def _row(model: str, sem: str, d: dict[str, Any]) -> dict[str, Any]:
    """One table row from a run's ``metrics.json`` dict (``RunResult.to_dict()``)."""
    return {"model": model, "semantic": sem, "T1": d["zsl"]["T1"], "U": d["gzsl"]["U"], "S": d["gzsl"]["S"],
            "H": d["gzsl"]["H"], "AUSUC": d["ausuc"], "gamma": d["gzsl"]["gamma"], "val_semantic": d["val_semantic"],
            "params": d["params"], "seconds": sum(d["timings_s"].values())}


def run_demo(out: str | Path, config: DemoConfig | None = None, progress: bool = False,
             echo: Callable[[str], None] | None = None) -> DemoResult:
    """Run the demo (module docstring) into ``out``; returns a :class:`DemoResult`.

    Writes ``out/world/`` (images), ``out/vgse/`` (discovery), ``out/data/`` (xlsa17 files),
    ``out/runs/<model>-<semantic>/`` (run directories), ``out/figures/``, ``out/metrics.json``
    and ``out/report.html``. ``out`` is a zslkit output directory (:func:`zslkit.utils.outputs.output_dir`): refused if it
    holds files zslkit did not write, locked while the demo runs (a second demo on it fails, naming
    this one); temporary files of a killed earlier run are removed.
    """
    from zslkit.utils.outputs import output_dir

    cfg = (config or DemoConfig()).validate()
    # zslkit's demo folder (new, empty or its own), locked; temp files of a killed earlier run are removed
    with output_dir(out, "demo"):
        return _run_demo(Path(out), cfg, progress, echo)


def _run_demo(out: Path, cfg: DemoConfig, progress: bool, echo: Callable[[str], None] | None) -> DemoResult:
    import torch

    from zslkit.data.xlsa17 import load_xlsa17
    from zslkit.pipeline import TrainConfig, finished_run, train
    from zslkit.vgse.backbone import build_backbone
    from zslkit.vgse.discovery import DiscoverConfig, discover, write_demo_world
    from zslkit.vgse.world_eval import build_world_xlsa17

    say = echo or (lambda s: log.info("%s", s))
    timings: dict[str, float] = {}
    t_all = time.perf_counter()
    torch.set_num_threads(int(cfg.discovery_settings().get("threads", 1)))

    say("1/5 rendering the synthetic image world")
    t0 = time.perf_counter()
    world, wfiles = write_demo_world(out / "world", cfg.seed, cfg.world_config())
    timings["world"] = time.perf_counter() - t0

    say("2/5 VGSE discovery: patches -> tiny CNN features -> patch clustering -> class relation")
    settings = {**cfg.discovery_settings(), "seed": cfg.seed, "plots": True, "progress": progress}
    dcfg = DiscoverConfig(images=str(wfiles.train_dir), classes=str(wfiles.classes), unseen=str(wfiles.unseen),
                          word_vectors=str(wfiles.word_vectors), out=str(out / "vgse"), **settings)
    t0 = time.perf_counter()
    disc = discover(dcfg)
    timings["discovery"] = time.perf_counter() - t0

    say("3/5 whole-image features -> xlsa17 dataset directory")
    t0 = time.perf_counter()
    backbone = build_backbone("tiny", Path(dcfg.out) / "backbone" / "tiny.pt")
    wd = build_world_xlsa17(out / "data", world, wfiles.root, disc, backbone, seed=cfg.seed, n_folds=cfg.val_folds,
                            progress=progress)
    timings["dataset"] = time.perf_counter() - t0

    say(f"4/5 training {len(cfg.models)} models x {len(cfg.semantics)} class embeddings")
    t0 = time.perf_counter()
    datasets = {sem: load_xlsa17(wd.root, semantic=wd.semantics[sem]) for sem in cfg.semantics}
    rows: list[dict[str, Any]] = []
    results: dict[tuple[str, str], Any] = {}
    cells = [(m, s) for m in cfg.models for s in cfg.semantics]
    bar = None
    if progress:
        from zslkit.utils.progress import progress_bar

        bar = progress_bar(total=len(cells), desc="models", unit="run")
    for model, sem in cells:
        tcfg = TrainConfig(data=str(wd.root), model=model, semantic=wd.semantics[sem], seed=cfg.seed,
                           val_folds=list(range(1, cfg.val_folds + 1)))
        run_dir = out / "runs" / f"{_slug(model)}-{sem}"
        saved = finished_run(run_dir, tcfg)  # resumed: a finished run is reused
        if saved is None:
            res = train(tcfg, data=datasets[sem])
            res.save(run_dir)
            saved = res.to_dict()
        row = {**_row(model, sem, saved), "run_dir": str(run_dir)}
        rows.append(row)
        results[(model, sem)] = run_dir
        if bar is not None:
            bar.update(1)
            bar.set_postfix_str(f"{model}/{sem} T1 {row['T1']:.1f}")
    if bar is not None:
        bar.close()
    timings["models"] = time.perf_counter() - t0

    say("5/5 figures and report")
    t0 = time.perf_counter()
    comparisons = _comparisons(rows, cfg)
    files = _figures_and_report(out, cfg, rows, results, comparisons, disc, timings)
    timings["report"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - t_all
    discovery = {"n_clusters": settings["n_clusters"], "cluster_stats": disc.cluster_stats,
                 "bad_images": len(disc.bad_images), "timings_s": disc.timings, "files": disc.files,
                 "images": wd.sizes, "world": asdict(cfg.world_config())}
    result = DemoResult(config=cfg, rows=rows, comparisons=comparisons, discovery=discovery, timings=timings,
                        files=files)
    from zslkit.report.html import write_report

    write_report(out / "report.html", **_report_parts(result, out))
    atomic_write_json(out / "metrics.json", result.to_dict())  # last: marks a complete demo
    return result


def _slug(model: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in model).strip("_")


def _comparisons(rows: list[dict[str, Any]], cfg: DemoConfig) -> dict[str, Any]:
    """VGSE minus word vectors per model, and ReMSE minus MSE per semantic (points)."""
    by = {(r["model"], r["semantic"]): r for r in rows}
    out: dict[str, Any] = {}
    if "vgse" in cfg.semantics and "word2vec" in cfg.semantics:
        d = {m: {k: by[(m, "vgse")][k] - by[(m, "word2vec")][k] for k in ("T1", "H", "AUSUC")} for m in cfg.models}
        out["vgse_minus_word2vec"] = d
        out["vgse_ahead_on_T1"] = sum(v["T1"] > 0 for v in d.values())
        out["vgse_ahead_on_H"] = sum(v["H"] > 0 for v in d.values())
        out["n_models"] = len(d)
    mse, remse = "regressor(loss=mse)", "regressor(loss=remse)"
    if mse in cfg.models and remse in cfg.models:
        out["remse_minus_mse"] = {s: {k: by[(remse, s)][k] - by[(mse, s)][k] for k in ("T1", "H", "AUSUC")}
                                  for s in cfg.semantics}
    return out


def _figures_and_report(out: Path, cfg: DemoConfig, rows, results, comparisons, disc, timings) -> dict[str, str]:
    from zslkit.evaluation.analysis import load_run
    from zslkit.report.analysis import analyze_run
    from zslkit.report.figures import seen_unseen_curves

    fig = out / "figures"
    files: dict[str, str] = {}
    # AUSUC curves of every class embedding, for each model
    for model in cfg.models:
        runs = [(s, load_run(results[(model, s)])[0]) for s in cfg.semantics]
        files[f"ausuc_{_slug(model)}"] = str(seen_unseen_curves(
            [m["curve"] for _, m in runs], [f"{SEMANTIC_LABELS[s]} (AUSUC {m['ausuc']:.1f})" for s, m in runs],
            fig / f"ausuc_{_slug(model)}.png", points=[(m["gzsl"]["U"], m["gzsl"]["S"]) for _, m in runs],
            synthetic=True, title=f"{model}: seen-unseen curve per class embedding"))
    # ReMSE vs MSE imbalance analysis on each semantic (per-attribute error plots, confusion matrices)
    mse, remse = "regressor(loss=mse)", "regressor(loss=remse)"
    if mse in cfg.models and remse in cfg.models:
        for s in cfg.semantics:
            rep = analyze_run(results[(remse, s)], compare=[results[(mse, s)]])
            for k, v in rep["figures"].items():
                if k.startswith(("attribute_errors", "confusion_gzsl")):
                    files[f"{k}_{s}"] = v
    else:  # still give a confusion matrix of the first model with VGSE
        s = "vgse" if "vgse" in cfg.semantics else cfg.semantics[0]
        rep = analyze_run(results[(cfg.models[0], s)])
        files[f"confusion_gzsl_{s}"] = rep["figures"]["confusion_gzsl"]
    for k in ("montage", "tsne"):
        if k in disc.files:
            files[k] = disc.files[k]
    return files


def _fmt_delta(v: float) -> str:
    return "n/a" if not math.isfinite(v) else f"{v:+.1f}"


def _report_parts(result: DemoResult, out: Path) -> dict[str, Any]:
    from zslkit.report.html import Section

    cfg, rows, comp, files = result.config, result.rows, result.comparisons, result.files
    sections = []
    s = Section("Summary")
    s.text(f"World: {result.discovery['world']['n_seen']} seen and {result.discovery['world']['n_unseen']} unseen "
           f"classes, images per split: " + ", ".join(f"{k} {v}" for k, v in result.discovery["images"].items()) +
           "; VGSE with "
           f"{result.discovery['n_clusters']} visual clusters; seed {cfg.seed}; total "
           f"{result.timings['total']:.0f} s.")
    if "vgse_minus_word2vec" in comp:
        s.text(f"VGSE embeddings vs the surrogate word vectors they were predicted from: ahead on T1 for "
               f"{comp['vgse_ahead_on_T1']} of {comp['n_models']} models, on H for {comp['vgse_ahead_on_H']} of "
               f"{comp['n_models']}.")
    s.note("Protocol: hyperparameters and the calibration gamma chosen on validation classes of the seen classes "
           "(never on test); VGSE validation folds re-predict their validation-class rows through the class "
           "relation, as unseen rows are at test time. T1 = per-class top-1 on unseen classes (ZSL); U/S/H = "
           "GZSL unseen/seen accuracy and their harmonic mean; AUSUC = area under the seen-unseen curve.")
    sections.append(s)
    s = Section("Models x class embeddings")
    table = [{"model": r["model"], "embedding": SEMANTIC_LABELS[r["semantic"]], "T1": r["T1"], "U": r["U"],
              "S": r["S"], "H": r["H"], "AUSUC": r["AUSUC"]} for r in rows]
    s.table(table, highlight="T1")
    sections.append(s)
    if "vgse_minus_word2vec" in comp:
        s = Section("VGSE vs word vectors")
        s.table([{"model": m, "ΔT1": _fmt_delta(v["T1"]), "ΔH": _fmt_delta(v["H"]), "ΔAUSUC": _fmt_delta(v["AUSUC"])}
                 for m, v in comp["vgse_minus_word2vec"].items()])
        s.note("Points of VGSE minus surrogate word vectors, same model and protocol.")
        sections.append(s)
    s = _real_data_section(comp)
    if s is not None:
        sections.append(s)
    s = Section("Seen-unseen (AUSUC) curves")
    for k, v in files.items():
        if k.startswith("ausuc_"):
            s.figure(v, k[len("ausuc_"):].replace("_", " "))
    sections.append(s)
    if "remse_minus_mse" in comp:
        s = Section("ReMSE vs MSE (semantic regressor)")
        s.table([{"embedding": SEMANTIC_LABELS[sem], "ΔT1": _fmt_delta(v["T1"]), "ΔH": _fmt_delta(v["H"]),
                  "ΔAUSUC": _fmt_delta(v["AUSUC"])} for sem, v in comp["remse_minus_mse"].items()])
        s.note("Points of ReMSE minus MSE. Below: per-attribute squared error on unseen test images (ReMSE aims "
               "to flatten it) and the GZSL confusion matrix of the ReMSE regressor.")
        for sem in cfg.semantics:
            if f"attribute_errors_test_unseen_{sem}" in files:
                s.figure(files[f"attribute_errors_test_unseen_{sem}"], f"per-attribute error, {SEMANTIC_LABELS[sem]}")
        sections.append(s)
    conf = [(k, v) for k, v in files.items() if k.startswith("confusion_gzsl_")]
    if conf:
        s = Section("Confusion matrix")
        for k, v in conf:
            s.figure(v, f"GZSL confusion, {SEMANTIC_LABELS.get(k[len('confusion_gzsl_'):], k)}")
        sections.append(s)
    s = Section("Visual clusters")
    if "montage" in files:
        s.figure(files["montage"], "top patches of the most used clusters (rows = clusters)")
    if "tsne" in files:
        s.figure(files["tsne"], "t-SNE of patch cluster assignments, coloured by class")
    st = result.discovery["cluster_stats"]
    s.note(f"clusters used {st.get('clusters_used')} of {st.get('n_clusters')}; mean assignment perplexity "
           f"{st.get('mean_assignment_perplexity', float('nan')):.1f}; unreadable images "
           f"{result.discovery['bad_images']}.")
    sections.append(s)
    s = Section("Timings and files")
    s.table([{"stage": k, "seconds": v} for k, v in result.timings.items()])
    s.note(f"Run directories: {out / 'runs'}; dataset: {out / 'data'}; discovery: {out / 'vgse'}; "
           f"metrics: {out / 'metrics.json'}.")
    sections.append(s)
    return {"title": "zslkit demo: class embeddings x ZSL models on a synthetic image world",
            "sections": sections, "banner": WARNING,
            "subtitle": f"zslkit demo, seed {cfg.seed}, {platform.platform()}"}


def real_data_lines(comp: dict[str, Any]) -> list[str]:
    """Sentences setting this synthetic run's answer about VGSE and ReMSE beside the REAL-data benchmark's
    (:data:`REAL_DATA_FINDINGS`); empty when the run compared neither."""
    f = REAL_DATA_FINDINGS
    out = []
    if "vgse_minus_word2vec" in comp and f["vgse_models"]:
        here = f"{comp['vgse_ahead_on_T1']} of {comp['n_models']}"
        real = f"{f['vgse_ahead_on_T1']} of {f['vgse_models']}"
        verdict = "agree" if (comp["vgse_ahead_on_T1"] > comp["n_models"] / 2) == \
            (f["vgse_ahead_on_T1"] > f["vgse_models"] / 2) else "disagree"
        out.append(f"VGSE vs word vectors (ZSL T1): ahead for {here} models in this synthetic world; on real data "
                   f"({f['label']}, real word2vec) ahead for {real} models. The two {verdict} on whether VGSE "
                   "beats word vectors for most models.")
    if "remse_minus_mse" in comp and f["remse_authors_minus_mse_T1"]:
        here = ", ".join(f"{_fmt_delta(v['T1'])} ({SEMANTIC_LABELS.get(s, s)})" for s, v in comp["remse_minus_mse"].items())
        (ma, sa), (mb, sb) = f["remse_authors_minus_mse_T1"], f["remse_searched_minus_mse_T1"]
        out.append(f"ReMSE minus MSE (ZSL T1 points): {here} in this synthetic world; on real data "
                   f"({f['label']}, attributes, 5 seeds) {ma:+.1f} ± {sa:.1f} with the authors' p/p2 and "
                   f"{mb:+.1f} ± {sb:.1f} with p/p2 chosen on validation.")
    return out


def _real_data_section(comp: dict[str, Any]) -> Any:
    from zslkit.report.html import Section

    lines = real_data_lines(comp)
    if not lines:
        return None
    s = Section("Synthetic world vs real data")
    for line in lines:
        s.text(line)
    s.note(f"The real-data figures are zslkit's own benchmark ({REAL_DATA_FINDINGS['source']} in the zslkit "
           "repository), not this run. Where the synthetic world and the real data disagree, trust the real data: "
           "the synthetic world shows the toolkit working, it does not test the papers' claims.")
    return s


def summary_lines(result: DemoResult) -> list[str]:
    """Console summary of a demo result."""
    lines = [f"  {r['model']:22s} {r['semantic']:9s} T1 {r['T1']:5.1f}  U {r['U']:5.1f}  S {r['S']:5.1f}  "
             f"H {r['H']:5.1f}  AUSUC {r['AUSUC']:5.1f}" for r in result.rows]
    comp = result.comparisons
    if "vgse_minus_word2vec" in comp:
        lines.append(f"VGSE ahead of the surrogate word vectors on T1 for {comp['vgse_ahead_on_T1']}/{comp['n_models']} "
                     f"models, on H for {comp['vgse_ahead_on_H']}/{comp['n_models']}")
    return lines + real_data_lines(comp)


__all__ = ["REAL_DATA_FINDINGS", "WARNING", "DemoConfig", "DemoResult", "real_data_lines", "run_demo", "summary_lines"]
