"""One self-contained HTML report for any set of runs and grids (``zslkit report``).

:func:`collect_runs` finds run directories (``metrics.json`` + ``predictions.npz``) among the given
paths: a run directory, or a grid / demo directory holding runs below it. :func:`group_runs` groups
runs that differ only in their seed; :func:`build_report` writes the report:

1. **Summary**: per group, T1 / U / S / H / AUSUC as mean ± std over its seeds, the chance level
   of T1 (100 / number of unseen classes), uncalibrated H (gamma 0) and the oracle H (gamma chosen
   on test; for comparison with papers only), the calibration gamma.
2. **Selected hyperparameters** of every run (what validation chose, and what was fixed), with
   whether ReMSE's exponents were active.
3. **Seen-unseen curves** of one run per group (its first seed), the validation-gamma operating
   point marked.
4. **Confusions** per group: the matrix (seen/unseen divider; aggregated when there are many
   classes) and the most frequent mistakes.
5. **Per-attribute errors** for models that predict semantic vectors: the worst attributes
   compared across groups, and the imbalance summary (mean error, CV across attributes and across
   classes; CV = coefficient of variation, std / mean).
6. **Provenance** of every run: zslkit version and commit, library versions, command, time, host,
   threads and data checksums, where the run recorded them.

Runs on surrogate or synthetic data get a banner, and their figures the mark.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from zslkit.errors import ConfigError, ZSLDataError
from zslkit.report.html import Section, write_report

__all__ = ["RunGroup", "RunRecord", "build_report", "check_curve", "check_run_metrics", "collect_runs",
           "comparison_table", "group_runs", "run_label"]

MODEL_LABELS = {"eszsl": "ESZSL", "sae": "SAE", "ale": "ALE", "sje": "SJE", "devise": "DeViSE",
                "regressor": "Regressor", "clswgan": "f-CLSWGAN", "abp": "ABP", "attention_net": "AttentionNet",
                "gem_zsl": "GEM-ZSL", "basic_net": "BasicNet", "softmax_compat": "softmax-compat (VGSE's \"SJE\")"}
_IGNORED_PARAMS = {"seed", "verbose", "progress", "out_dir", "resume", "device", "num_workers", "eval_batch_size",
                   "keep_checkpoints", "num_threads"}


#: the fields of a run's ``metrics.json`` that reports and ``analyze`` read, with what each must be:
#: ``number`` (int or float, not bool; NaN allowed), ``int``, ``str``, ``bool``, ``dict``, ``names`` (a list of
#: strings); a trailing ``?`` allows null. Fields not listed are not read. Required: the first five.
_REQUIRED_FIELDS = ("zsl.T1", "gzsl.U", "gzsl.S", "gzsl.H", "gzsl.gamma")
_METRICS_FIELDS = {
    "zsl": "dict", "zsl.T1": "number", "gzsl": "dict", "gzsl.U": "number", "gzsl.S": "number", "gzsl.H": "number",
    "gzsl.gamma": "number", "ausuc": "number",
    "gzsl_uncalibrated": "dict?", "gzsl_oracle": "dict?",
    **{f"{g}.{k}": "number?" for g in ("gzsl_uncalibrated", "gzsl_oracle") for k in ("U", "S", "H", "gamma")},
    "model": "str?", "semantic": "str?", "seed": "int?", "params": "dict?", "gamma_source": "str?",
    "surrogate": "bool?", "attribute_names": "names?", "curve": "dict?",
    "config": "dict?", "config.model": "str?", "config.data": "str?", "config.semantic": "str?", "config.seed": "int?",
    "config.params": "dict?",
    "dataset": "dict?", "dataset.path": "str?", "dataset.name": "str?", "dataset.num_unseen": "int?",
    "dataset.attribute_names": "names?",
    "selection": "dict?", "selection.params": "dict?", "selection.best_epoch": "int?",
    "provenance": "dict?", "provenance.versions": "dict?", "provenance.data_sha256": "dict?",
}
_KIND_TEXT = {"number": "a number", "int": "an integer", "str": "a string", "bool": "true or false",
              "dict": "a JSON object", "names": "a list of strings"}


def _is_kind(v: Any, kind: str) -> bool:
    if kind == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if kind == "int":
        return isinstance(v, int) and not isinstance(v, bool)
    if kind == "names":
        return isinstance(v, list) and all(isinstance(x, str) for x in v)
    return isinstance(v, {"str": str, "bool": bool, "dict": dict}[kind])


def _shown(v: Any) -> str:
    text = json.dumps(v, default=str) if not isinstance(v, float) else repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def check_run_metrics(m: Any, path: str | os.PathLike, curve_file: str | os.PathLike | None = None) -> dict[str, Any]:
    """``m`` (a run's ``metrics.json``, read from ``path``) with every field the reports read of the type they
    need (``_METRICS_FIELDS``), else a :class:`ZSLDataError` naming the file, the field, its value and what was
    expected. ``curve_file`` names the file the ``curve`` came from when it is not ``metrics.json``."""
    if not isinstance(m, dict):
        raise ZSLDataError(f"{path}: expected a JSON object, found {type(m).__name__}")
    for field_name, spec in _METRICS_FIELDS.items():
        kind, nullable = spec.rstrip("?"), spec.endswith("?")
        node: Any = m
        parts = field_name.split(".")
        for part in parts[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict) or parts[-1] not in node:
            if field_name in _REQUIRED_FIELDS:
                raise ZSLDataError(f"{path}: field {field_name!r} is missing (expected {_KIND_TEXT[kind]})")
            continue
        v = node[parts[-1]]
        if (v is None and nullable) or _is_kind(v, kind):
            continue
        where = curve_file if field_name == "curve" and curve_file is not None else path
        raise ZSLDataError(f"{where}: field {field_name!r} is {_shown(v)}, expected {_KIND_TEXT[kind]}"
                           f"{' or null' if nullable else ''}")
    if m.get("curve"):
        check_curve(m["curve"], curve_file if curve_file is not None else path, "curve.")
    num_unseen = (m.get("dataset") or {}).get("num_unseen")
    if num_unseen is not None and num_unseen < 0:
        raise ZSLDataError(f"{path}: field 'dataset.num_unseen' is {num_unseen}, expected an integer >= 0")
    return m


def check_curve(curve: Any, where: str | os.PathLike, prefix: str = "") -> dict[str, Any]:
    """A seen-unseen curve (``curve.json``, or ``curve`` of ``metrics.json``: ``prefix`` ``"curve."``): an object
    whose ``U`` and ``S`` are lists of numbers of one length; else a ZSLDataError naming ``where`` and the field."""
    if not isinstance(curve, dict):
        raise ZSLDataError(f"{where}: {('field ' + repr(prefix[:-1])) if prefix else 'the curve'} is {_shown(curve)}, "
                           "expected a JSON object with lists U and S")
    for k in ("U", "S"):
        if not isinstance(curve.get(k), list) or not all(_is_kind(x, "number") for x in curve[k]):
            raise ZSLDataError(f"{where}: field '{prefix}{k}' is {_shown(curve.get(k))}, expected a list of numbers")
    if len(curve["U"]) != len(curve["S"]):
        raise ZSLDataError(f"{where}: fields '{prefix}U' and '{prefix}S' have {len(curve['U'])} and "
                           f"{len(curve['S'])} values, expected one S per U")
    return curve


def attribute_names_of(metrics: dict[str, Any], n: int) -> list[str] | None:
    """The run's attribute names (``attribute_names``, else ``dataset.attribute_names``) when they name the ``n``
    dimensions of its predicted semantic vectors; None otherwise (no names, or names of other dimensions, e.g.
    attribute names beside a word2vec run): the figures then number the dimensions."""
    names = metrics.get("attribute_names") or (metrics.get("dataset") or {}).get("attribute_names")
    return list(names) if names and len(names) == n else None


@dataclass
class RunRecord:
    path: Path
    metrics: dict[str, Any]

    def arrays(self) -> dict[str, np.ndarray] | None:
        p = self.path / "predictions.npz"
        if not p.is_file():
            return None
        from zslkit.evaluation.analysis import check_prediction_arrays

        try:
            with np.load(p, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise ZSLDataError(f"{p}: unreadable ({exc})") from exc
        return check_prediction_arrays(arrays, p)

    @property
    def model(self) -> str:
        return str(self.metrics.get("model") or "?")

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.metrics.get("params") or {})

    @property
    def seed(self) -> int | None:
        cfg = self.metrics.get("config") or {}
        return cfg.get("seed", self.metrics.get("seed"))

    @property
    def dataset(self) -> str:
        d = self.metrics.get("dataset") or {}
        path = d.get("path") or (self.metrics.get("config") or {}).get("data") or d.get("name") or "?"
        return Path(str(path)).name or str(path)

    @property
    def semantic(self) -> str:
        s = str(self.metrics.get("semantic") or (self.metrics.get("config") or {}).get("semantic") or "att")
        return Path(s).name if ("/" in s or os.sep in s) else s


@dataclass
class RunGroup:
    """Runs that differ only in their seed."""

    label: str
    runs: list[RunRecord] = field(default_factory=list)

    def stat(self, path: tuple[str, ...]) -> tuple[float, float, int]:
        vals = []
        for r in self.runs:
            v: Any = r.metrics
            for k in path:
                v = v.get(k) if isinstance(v, dict) else None
            if isinstance(v, (int, float)) and math.isfinite(float(v)):
                vals.append(float(v))
        if not vals:
            return float("nan"), float("nan"), 0
        return float(np.mean(vals)), float(np.std(vals)), len(vals)


def collect_runs(paths: Sequence[str | os.PathLike], max_depth: int = 3) -> list[RunRecord]:
    """The finished run directories at or below ``paths`` (sorted; a path without any is an error)."""
    found: list[RunRecord] = []
    seen: set[Path] = set()  # a run reached twice (RUN RUN, RUN/../RUN, a grid and one of its cells) counts once
    for p in paths:
        root = Path(p)
        if not root.exists():
            raise ZSLDataError(f"{root}: no such run or grid directory")
        hits = 0
        for d, dirs, files in os.walk(root):
            depth = len(Path(d).relative_to(root).parts)
            if depth >= max_depth:
                dirs[:] = []
            dirs.sort()
            if "metrics.json" in files:
                mpath = Path(d) / "metrics.json"
                try:
                    m = json.loads(mpath.read_text(encoding="utf-8"))
                except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                    raise ZSLDataError(f"{mpath}: unreadable ({exc})") from exc
                if isinstance(m, dict) and "zsl" in m and "gzsl" in m:
                    hits += 1
                    real = Path(d).resolve()
                    if real not in seen:
                        seen.add(real)
                        found.append(RunRecord(Path(d), check_run_metrics(m, mpath)))
                    dirs[:] = []  # a run's own subfolders (checkpoints, selection) hold no other runs
        if not hits:
            raise ZSLDataError(f"{root}: no finished run below it (a run directory has metrics.json with zsl/gzsl "
                               f"results)")
    return found


def run_label(run: RunRecord, with_dataset: bool = False) -> str:
    """A human label: model, semantic, loss (ReMSE with its exponents), e.g. ``Regressor · att · ReMSE (p 0.1, p2 0.75)``."""
    p = run.params
    parts = [MODEL_LABELS.get(run.model, run.model), run.semantic]
    loss = p.get("loss")
    if loss == "remse":
        parts.append(f"ReMSE (p {p.get('p', '?')}, p2 {p.get('p2', '?')})")
    elif loss == "mse":
        parts.append("MSE")
    elif loss:
        parts.append(str(loss))
    label = " · ".join(str(x) for x in parts)
    return f"{run.dataset}: {label}" if with_dataset else label


#: fields of a run's recorded request (``metrics.json`` "config") that do not make it another experiment
_IGNORED_CONFIG = {"seed", "data", "progress", "device", "out", "out_dir", "images", "attribute_vectors"}


def _key(run: RunRecord) -> tuple:
    """What makes two runs the same experiment but for the seed: the request (model, semantic, fixed
    parameters, grid, protocol) when the run recorded it, so that seeds whose validation search chose
    different hyperparameters stay one group (their choices are listed per seed); otherwise the final
    parameters."""
    cfg = run.metrics.get("config")
    if isinstance(cfg, dict) and cfg.get("model"):
        req = {k: v for k, v in cfg.items() if k not in _IGNORED_CONFIG}
        if isinstance(req.get("params"), dict):
            req["params"] = {k: v for k, v in req["params"].items() if k not in _IGNORED_PARAMS}
        return (run.dataset, run.model, run.semantic, "config", json.dumps(req, sort_keys=True, default=str))
    p = {k: v for k, v in run.params.items() if k not in _IGNORED_PARAMS}
    return (run.dataset, run.model, run.semantic, "params", json.dumps(p, sort_keys=True, default=str))


def group_runs(runs: Sequence[RunRecord]) -> list[RunGroup]:
    """Groups of runs equal but for the seed, in the order first seen; labels made unique."""
    datasets = {r.dataset for r in runs}
    groups: dict[tuple, RunGroup] = {}
    for r in runs:
        groups.setdefault(_key(r), RunGroup(run_label(r, with_dataset=len(datasets) > 1))).runs.append(r)
    out = list(groups.values())
    seen: dict[str, int] = {}
    for g in out:  # same label, different settings: number them
        seen[g.label] = seen.get(g.label, 0) + 1
        if seen[g.label] > 1:
            g.label = f"{g.label} [{seen[g.label]}]"
    return out


def _pm(mean: float, std: float, n: int) -> str:
    if n == 0 or not math.isfinite(mean):
        return "n/a"
    return f"{mean:.1f}" if n == 1 else f"{mean:.1f} ± {std:.1f}"


def comparison_table(groups: Sequence[RunGroup]) -> list[dict[str, Any]]:
    """The summary rows (strings, mean ± std over seeds) of the report and of ``zslkit analyze``."""
    rows = []
    for g in groups:
        m0 = g.runs[0].metrics
        n_unseen = (m0.get("dataset") or {}).get("num_unseen")
        row = {"run": g.label, "seeds": len(g.runs)}
        for name, path in (("T1", ("zsl", "T1")), ("U", ("gzsl", "U")), ("S", ("gzsl", "S")), ("H", ("gzsl", "H")),
                           ("AUSUC", ("ausuc",)), ("H at gamma 0", ("gzsl_uncalibrated", "H")),
                           ("oracle H", ("gzsl_oracle", "H")), ("gamma", ("gzsl", "gamma"))):
            mean, std, n = g.stat(path)
            row[name] = f"{mean:.3g}" if name == "gamma" and n else _pm(mean, std, n)
        row["chance T1"] = f"{100.0 / n_unseen:.1f}" if n_unseen else "n/a"
        rows.append(row)
    return rows


def _hyperparameter_rows(groups: Sequence[RunGroup]) -> list[dict[str, Any]]:
    rows = []
    for g in groups:
        for r in g.runs:
            sel = r.metrics.get("selection") or {}
            chosen = sel.get("params") if isinstance(sel.get("params"), dict) else None
            if chosen is None and "best_epoch" in sel:
                chosen = {"epochs": sel["best_epoch"]}
            p = r.params
            remse = p.get("loss") == "remse"
            rows.append({"run": g.label, "seed": r.seed,
                         "chosen on validation": json.dumps(chosen, default=str) if chosen else "(nothing searched)",
                         "gamma source": r.metrics.get("gamma_source", "?"),
                         "ReMSE active": ("yes" if remse and (p.get("p", 0) or p.get("p2", 0)) else
                                          "no (p = p2 = 0: plain MSE)" if remse else "n/a"),
                         "directory": str(r.path)})
    return rows


def _provenance_rows(runs: Sequence[RunRecord]) -> list[dict[str, Any]]:
    rows = []
    for r in runs:
        pv = r.metrics.get("provenance")
        if not isinstance(pv, dict):
            rows.append({"run": str(r.path), "provenance": "not recorded (run made by an older zslkit)"})
            continue
        versions = pv.get("versions") or {}
        rows.append({"run": str(r.path), "zslkit": f"{pv.get('zslkit_version', '?')} ({pv.get('git_commit') or 'no git'})",
                     "versions": ", ".join(f"{k} {v}" for k, v in versions.items()),
                     "when / where": f"{pv.get('timestamp', '?')} on {pv.get('host', '?')}",
                     "threads": json.dumps(pv.get("threads"), default=str),
                     "command": pv.get("command") or "(library call)",
                     "data files": "; ".join(f"{Path(k).name} {str(v)[:12]}" for k, v in
                                             (pv.get("data_sha256") or {}).items()) or "n/a"})
    return rows


def build_report(paths: Sequence[str | os.PathLike], out: str | os.PathLike, *, title: str | None = None,
                 top_k_attributes: int = 30) -> Path:
    """Write the report of the runs at or below ``paths`` to ``out`` (one self-contained .html; see
    :func:`report_path` for what ``out`` may be)."""
    from zslkit.evaluation.analysis import run_imbalance
    from zslkit.report.figures import attribute_error_figure, confusion_figure, seen_unseen_curves, top_confusions

    runs = collect_runs(paths)
    out = report_path(out)
    inputs = [r.path / name for r in runs for name in RUN_INPUT_FILES] + [Path(p) for p in paths]
    groups = group_runs(runs)
    synthetic = any(r.metrics.get("surrogate") for r in runs)
    sections: list[Section] = []
    s = Section("Summary")
    s.text(f"{len(runs)} run(s) in {len(groups)} group(s); numbers are mean ± std over the seeds of each group, "
           "accuracies in % (per-class top-1). H uses the calibration gamma chosen on validation classes; "
           "'H at gamma 0' is uncalibrated (comparable with Xian et al.'s table); 'oracle H' chooses gamma on the "
           "test split itself and is shown for comparison with papers only. Chance T1 = 100 / number of unseen "
           "classes.")
    s.table(comparison_table(groups))
    sections.append(s)
    sections.append(Section("Selected hyperparameters").table(_hyperparameter_rows(groups)))
    with tempfile.TemporaryDirectory(prefix="zslkit-report-") as tmp:
        tmpd = Path(tmp)
        curves, labels, points = [], [], []
        for g in groups:
            m = g.runs[0].metrics
            curve = m.get("curve")
            curve_file = g.runs[0].path / "curve.json"
            if curve is None and curve_file.is_file():
                try:
                    curve = json.loads(curve_file.read_text(encoding="utf-8"))
                except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                    raise ZSLDataError(f"{curve_file}: unreadable ({exc})") from exc
                check_curve(curve, curve_file)
            if curve:
                curves.append(curve)
                labels.append(f"{g.label} (AUSUC {m.get('ausuc', float('nan')):.1f})")
                points.append((m["gzsl"]["U"], m["gzsl"]["S"]))
        sec = Section("Seen-unseen curves")
        if curves:
            for i in range(0, len(curves), 8):  # at most 8 lines per figure
                png = seen_unseen_curves(curves[i:i + 8], labels[i:i + 8], tmpd / f"curves_{i}.png",
                                         points=points[i:i + 8], synthetic=synthetic)
                sec.figure(png, "Calibrated stacking: S against U as gamma moves (one seed per group).")
        else:
            sec.note("no curves recorded")
        sections.append(sec)
        sec = Section("Confusions")
        attr_runs = []
        for gi, g in enumerate(groups):
            r = g.runs[0]
            a = r.arrays()
            if a is None:
                sec.note(f"{g.label}: no predictions.npz")
                continue
            names = [str(x) for x in a["class_names"]]
            png = confusion_figure(a["gzsl_y_true"], a["gzsl_y_pred"], a["candidates"], names, a["unseen_classes"],
                                   tmpd / f"confusion_{gi}.png", synthetic=synthetic,
                                   title=f"GZSL confusion, {g.label} (seed {r.seed})")
            sec.figure(png, f"{g.label}: GZSL predictions at the validation gamma.")
            sec.text(f"{g.label}: most frequent mistakes")
            sec.table(top_confusions(a["gzsl_y_true"], a["gzsl_y_pred"], names, a["unseen_classes"]))
            imb = run_imbalance(a)
            if imb is not None:
                attr_runs.append((g, r, imb, a))
        sections.append(sec)
        sec = Section("Per-attribute errors")
        if attr_runs:
            sec.text("Models that predict semantic vectors: squared error of the L2-normalised prediction against "
                     "the class's L2-normalised semantic vector, per attribute (mean over images). CV = coefficient "
                     "of variation (std / mean) of the per-attribute (or per-class) mean errors: the imbalance "
                     "ReMSE aims to reduce.")
            rows = []
            for g, r, imb, _ in attr_runs:
                for split, st in imb.items():
                    sm = st.summary()
                    rows.append({"run": g.label, "seed": r.seed, "split": split, "mean error": sm["mse"],
                                 "CV across attributes": sm["attr_cv"], "CV across classes": sm["class_cv"]})
            sec.table(rows, fmt="{:.4g}")
            by_ds: dict[str, list] = {}
            for item in attr_runs:
                by_ds.setdefault(item[1].dataset, []).append(item)
            for di, (ds, items) in enumerate(by_ds.items()):
                for split in ("test_unseen", "test_seen"):
                    first = items[0][1]
                    png = attribute_error_figure([it[2][split].attr_mean for it in items[:4]],
                                                 [it[0].label for it in items[:4]], tmpd / f"attr_{di}_{split}.png",
                                                 attribute_names=attribute_names_of(
                                                     first.metrics, items[0][3]["semantic"].shape[1]),
                                                 top_k=top_k_attributes, synthetic=synthetic,
                                                 title=f"{ds}, {split}")
                    sec.figure(png, f"{ds}, {split}: the worst attributes of the first run, every run's error on them.")
        else:
            sec.note("none of these runs predicts semantic vectors")
        sections.append(sec)
        sections.append(Section("Provenance").table(_provenance_rows(runs)))
        banner = ("SURROGATE / SYNTHETIC data: these numbers describe synthetic features or a synthetic world, not "
                  "results on AWA2, CUB or SUN.") if synthetic else None
        return write_report(out, title or "zslkit report", sections, banner=banner,
                            subtitle=", ".join(str(p) for p in paths), inputs=inputs)


#: the files of a run directory a report reads (never its output)
RUN_INPUT_FILES = ("metrics.json", "predictions.npz", "curve.json", "config.yaml", "history.json")


def report_path(out: str | os.PathLike) -> Path:
    """Where a report is written: ``out`` itself when it names a ``.html`` file, ``out/report.html`` when
    it is a directory zslkit wrote (one with a zslkit manifest); anything else is a :class:`ConfigError`
    (a report never lands on a run's ``metrics.json`` or a dataset's ``res101.mat``)."""
    from zslkit.utils.outputs import read_manifest

    out = Path(out)
    if out.is_dir():
        m = read_manifest(out)
        if m is None or m["scope"] != "directory":
            raise ConfigError(f"--out {out}: is a directory zslkit did not write; give the report's .html file name "
                              "(e.g. report.html)")
        return out / "report.html"
    if out.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"--out {out}: expected a .html file name for the report (or a directory zslkit wrote), "
                          f"got a {out.suffix or 'name without'} suffix")
    return out
