"""Benchmark grids: datasets x semantic sources x models x seeds, resumable and parallel.

Each cell is one :func:`zslkit.pipeline.train` run saved in ``OUT/cells/<cell id>/``
(``metrics.json`` written atomically, last). A restarted grid skips every cell whose
``metrics.json`` exists and records the same configuration, so an interrupted grid never redoes
finished work. Cell ids are unique for distinct inputs and stable across resumes (:func:`cell_id`:
``<dataset folder>-<8 hex of its resolved path>__<semantic>__<model>__seed<N>``, a semantic file
as ``<stem>-<8 hex of its resolved path>``), so two datasets in folders of the same name, or two
semantic files with the same stem, never share a directory. ``OUT`` is a zslkit output directory
(:mod:`zslkit.utils.outputs`: locked while the grid runs, refused if it holds files zslkit did not
write) and each cell is an output directory of its own inside it; local worker processes die with
the grid's process (a watchdog in each worker), so killing the grid never leaves workers behind. Independent cells run in worker processes (joblib's loky backend); each worker
is limited to ``threads_per_worker`` BLAS/torch threads so that workers do not oversubscribe
the cores (on CPU-bound linear algebra, 2 workers x 1 thread beat 1 worker x 2 threads because
most of a cell - data handling, evaluation, small solves - does not parallelise inside BLAS).

Instead of local worker processes, the cells can be handed to a process-based executor with a
``concurrent.futures``-style ``submit`` (e.g. ``ProcessPoolExecutor``) or to a submitit executor,
which sends them to SLURM as one job array (``run_grid(cfg, executor=...)``;
:mod:`zslkit.cluster` builds one). The cells then write into ``OUT`` themselves, so ``OUT`` and
the data directories must be paths that the compute nodes see; resuming works the same way.

A cell that fails (bad data, a model error) does not stop the others: every cell is run, the
failure is recorded with its error in ``results.csv`` (``status`` ``failed``) and in
``GridResult.failed``, the grid then raises :class:`GridCellsFailed` naming the failed cells, and
a rerun of the same grid retries only them.

Results: ``results.csv`` (one row per cell) and ``results.md`` (mean ± std over seeds per
dataset x semantic x model, like the tables of the VGSE paper, and the failed cells).
"""

from __future__ import annotations

import concurrent.futures
import csv
import hashlib
import io
import json
import logging
import os
import re
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zslkit.errors import ConfigError, ZSLKitError
from zslkit.utils.outputs import atomic_write_text

log = logging.getLogger(__name__)
METRIC_KEYS = ("T1", "U", "S", "H", "ausuc")


@dataclass
class GridConfig:
    """A benchmark grid (maps onto ``kind: grid`` YAML files)."""

    data: list[str]
    semantics: list[str] = field(default_factory=lambda: ["att"])
    models: list[str] = field(default_factory=lambda: ["eszsl"])
    seeds: list[int] = field(default_factory=lambda: [0])
    out: str = "grid"
    params: dict[str, dict] = field(default_factory=dict)  # per model: fixed hyperparameters
    grids: dict[str, dict] = field(default_factory=dict)  # per model: search grid override
    val_folds: list[int] = field(default_factory=lambda: [1])
    val_semantic: str = "auto"  # see TrainConfig: "relation" validation for VGSE embeddings under "auto"
    relation_word_vectors: str = "word2vec"
    workers: int = 1
    threads_per_worker: int = 1
    #: feature transform of every cell (see TrainConfig.transform); "transform__" keys in params/grids set it
    transform: str | None = None
    #: TensorBoard event files of every cell, each in tensorboard/CELL (see TrainConfig.tensorboard); None = none
    tensorboard: str | None = None
    #: write each cell's fitted model (model.json + model.npz) into its directory, for zslkit predict
    save_models: bool = True

    def validate(self) -> "GridConfig":
        """Check the grid before any cell runs; raises :class:`ConfigError` naming the setting."""
        if not (self.data and self.semantics and self.models and self.seeds):
            raise ConfigError("a grid needs at least one dataset, semantic, model and seed")
        from zslkit.utils.seed import seed_error

        bad = [s for s in self.seeds if seed_error(s)]
        if bad:
            raise ConfigError(f"seeds {self.seeds}: {seed_error(bad[0])}")
        bad = [f for f in self.val_folds if isinstance(f, bool) or not isinstance(f, int) or f < 1]
        if not self.val_folds or bad:
            raise ConfigError(f"val_folds must be validation fold numbers >= 1, got {self.val_folds}")
        for name, values, key in (("data", self.data, lambda d: str(Path(d).resolve())),
                                  ("semantics", self.semantics, _semantic_key), ("models", self.models, str),
                                  ("seeds", self.seeds, int)):
            keys = [key(v) for v in values]
            dup = sorted({v for v, k in zip(values, keys) if keys.count(k) > 1}, key=str)
            if dup:
                raise ConfigError(f"grid {name} lists {dup[0]!r} more than once (each cell would run twice into one "
                                  "directory)")
        if self.val_semantic not in ("auto", "same", "relation"):
            raise ConfigError(f"val_semantic must be 'auto', 'same' or 'relation', got {self.val_semantic!r}")
        if self.workers < 1 or self.threads_per_worker < 1:
            raise ConfigError(f"workers and threads_per_worker must be >= 1, got {self.workers}, "
                              f"{self.threads_per_worker}")
        from zslkit.registry import model_names, parse_model_spec, unknown_model_error

        for m in self.models:
            if parse_model_spec(m)[0] not in model_names():
                raise unknown_model_error(parse_model_spec(m)[0], f"grid model {m!r}", grid=True)
        from zslkit.features import check_transform_params, split_transform_params
        from zslkit.registry import check_hyperparameters

        for key, table, is_grid in (("params", self.params, False), ("grids", self.grids, True)):
            if not isinstance(table, dict):
                raise ConfigError(f"grid {key} must map model names to settings, got {table!r}")
            names = {m: parse_model_spec(m)[0] for m in self.models}
            for m, values in table.items():
                targets = [x for x in self.models if x == m or names[x] == m]
                if not targets:  # settings shared between grids may name other models: checked, not used
                    if not isinstance(m, str) or parse_model_spec(m)[0] not in model_names():
                        raise ConfigError(f"grid {key} names {m!r}, which is neither one of the grid's models "
                                          f"{self.models} nor a registered model")
                    targets = [m]
                for x in targets:
                    inline = parse_model_spec(x)[1] if not is_grid else {}
                    if not isinstance(values, dict):
                        raise ConfigError(f"grid {key}[{m!r}] must be a mapping, got {values!r}")
                    model_part, transform_part = split_transform_params(values)
                    check_hyperparameters(x, {**inline, **model_part}, f"grid {key}[{m!r}]", grid=is_grid)
                    if transform_part and self.transform is None:
                        raise ConfigError(f"grid {key}[{m!r}] sets transform__ parameters but the grid has no "
                                          "transform")
                    if self.transform is not None:
                        check_transform_params(self.transform, transform_part, f"grid {key}[{m!r}]", grid=is_grid)
        if self.transform is not None:
            check_transform_params(self.transform, parse_model_spec(self.transform)[1], "grid transform")
        for m in self.models:  # hyperparameters written into a model name: 'eszsl(lam=abc)'
            check_hyperparameters(m, parse_model_spec(m)[1], f"model {m!r}")
        for m in self.models:  # each model's settings as its cells see them
            _train_config(self, {"data": self.data[0], "semantic": self.semantics[0], "model": m,
                                 "seed": self.seeds[0]}).validate()
        return self

    def cells(self) -> list[dict[str, Any]]:
        out = []
        for d in self.data:
            for sem in self.semantics:
                for model in self.models:
                    for seed in self.seeds:
                        out.append({"data": d, "semantic": sem, "model": model, "seed": int(seed)})
        return out


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", text)


def _h8(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def _is_semantic_name(semantic: str) -> bool:
    from zslkit.data.xlsa17 import SEMANTIC_FILES

    return semantic in SEMANTIC_FILES


def _semantic_key(semantic: str) -> str:
    """What makes two semantics the same: the name (att, word2vec, ...) or the resolved file."""
    return semantic if _is_semantic_name(semantic) else str(Path(semantic).resolve())


def cell_id(cell: dict[str, Any]) -> str:
    """The directory name of a grid cell: readable, unique for distinct inputs, stable across resumes.

    ``<dataset folder>-<h>__<semantic>__<model>__seed<N>``, where ``<h>`` is 8 hex digits of the
    SHA-256 of the dataset's resolved path; a semantic file appears as ``<stem>-<h of its resolved
    path>`` (a semantic name as itself) and a model specification with characters a folder name
    should not hold as its slug plus ``-<h of the specification>``. A cell that already carries an
    ``"id"`` (set by :func:`run_grid` in the submitting process, so that jobs running in another
    working directory agree) keeps it.
    """
    if "id" in cell:
        return str(cell["id"])
    data = Path(cell["data"])
    parts = [f"{_slug(data.name or 'data')}-{_h8(str(data.resolve()))}"]
    sem = str(cell["semantic"])
    parts.append(_slug(sem) if _is_semantic_name(sem) else f"{_slug(Path(sem).stem)}-{_h8(_semantic_key(sem))}")
    model = str(cell["model"])
    parts.append(model if _slug(model) == model else f"{_slug(model)}-{_h8(model)}")
    parts.append(f"seed{cell['seed']}")
    return "__".join(parts)


def _labels(values: list[str]) -> dict[str, str]:
    """Display names (results tables) of the datasets: the folder name, with ``-<8 hex>`` of the
    resolved path added where two distinct datasets have folders of the same name."""
    short = {v: Path(v).name or "data" for v in values}
    return {v: (f"{short[v]}-{_h8(str(Path(v).resolve()))}" if [u for u in values if short[u] == short[v]
                                                                 and u != v] else short[v]) for v in values}


def _train_config(cfg: GridConfig, cell: dict[str, Any]):
    from zslkit.pipeline import TrainConfig

    from zslkit.registry import parse_model_spec

    base = parse_model_spec(cell["model"])[0]
    return TrainConfig(data=cell["data"], model=cell["model"], semantic=cell["semantic"], seed=cell["seed"],
                       params=dict(cfg.params.get(cell["model"], cfg.params.get(base, {}))),
                       grid=cfg.grids.get(cell["model"], cfg.grids.get(base)),
                       val_folds=list(cfg.val_folds), val_semantic=cfg.val_semantic,
                       relation_word_vectors=cfg.relation_word_vectors, transform=cfg.transform,
                       tensorboard=None if cfg.tensorboard is None else str(Path(cfg.tensorboard) / cell_id(cell)))


#: the dataset a worker holds: (data dir, its ZSLData as first loaded, {semantic: ZSLData sharing those features})
_DATA_CACHE: dict[str, Any] = {}


def _cell_data(data_dir: str, semantic: str) -> Any:
    """The cell's dataset, loaded once per worker and dataset: another semantic of the same dataset shares the
    features array (so feature transforms memoised on it are reused across semantics, models and seeds)."""
    from zslkit.data.xlsa17 import load_xlsa17, read_class_semantic

    if _DATA_CACHE.get("dir") != data_dir:  # a worker runs several cells of one dataset: load it once
        _DATA_CACHE.clear()
        base = load_xlsa17(data_dir, semantic=semantic)
        _DATA_CACHE.update({"dir": data_dir, "by_semantic": {semantic: base}})
    by_sem = _DATA_CACHE["by_semantic"]
    if semantic not in by_sem:
        base = next(iter(by_sem.values()))
        root = base.provenance.get("root", data_dir)
        sem, name, notes = read_class_semantic(root, semantic, base.num_classes, base.class_names)
        d = base.with_semantic(sem, name)
        d.provenance = {**d.provenance, "notes": list(base.provenance.get("notes", [])) + notes}
        by_sem[semantic] = d
    return by_sem[semantic]
#: environment variables that size the BLAS / OpenMP thread pools of a process
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "BLIS_NUM_THREADS",
              "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def thread_state() -> dict[str, Any]:
    """Threads this process really computes with: torch's intra-op pool, every BLAS/OpenMP pool
    loaded (threadpoolctl) and the thread environment variables. Recorded with each grid cell."""
    import torch
    from threadpoolctl import threadpool_info

    pools = sorted(f"{p['prefix']}:{p['num_threads']}" for p in threadpool_info())
    return {"pid": os.getpid(), "torch_threads": torch.get_num_threads(), "threadpools": pools,
            "env": {k: os.environ[k] for k in THREAD_ENV if k in os.environ}}


_WATCHDOG: list[int] = []  # the parent pid this worker process watches (started once per process)


def _die_with_parent(parent_pid: int | None, poll_s: float = 0.5) -> None:
    """In a local worker process (the loky worker initializer, and again before each cell): a
    daemon thread that kills this process as soon as ``parent_pid`` (the grid's process) is gone,
    i.e. when this process has been re-parented; a worker whose parent is already gone dies at
    once. Without it, killing the grid (SIGKILL, an OOM kill) leaves its loky workers computing
    cells for nobody. A dying worker leaves at most a temporary file, removed by the next run.
    (A watchdog rather than ``PR_SET_PDEATHSIG``: that signal fires when the *thread* that started
    the worker exits, and loky may start workers from a thread of its own.)"""
    if parent_pid is None or os.getpid() == parent_pid:
        return
    if os.getppid() != parent_pid:  # the grid died before this worker got going
        os.kill(os.getpid(), signal.SIGKILL)
    if _WATCHDOG:
        return
    _WATCHDOG.append(parent_pid)

    def watch() -> None:
        while True:
            if os.getppid() != parent_pid:
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(poll_s)

    threading.Thread(target=watch, name="zslkit-parent-watchdog", daemon=True).start()


def _run_cell(cfg: GridConfig, cell: dict[str, Any], out: str, parent_pid: int | None = None) -> dict[str, Any]:
    """Run one cell in the current process (a worker, a cluster job or the caller) and save it;
    returns its summary row. Torch and every BLAS/OpenMP pool are limited to
    ``cfg.threads_per_worker`` threads for the cell and restored afterwards. ``parent_pid``: the
    grid's process, for local workers (:func:`_die_with_parent`)."""
    _die_with_parent(parent_pid)
    from threadpoolctl import threadpool_limits

    import torch

    from zslkit.pipeline import train

    torch_threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads_per_worker)
    try:
        # every pool a cell uses is loaded by now (numpy's and scipy's OpenBLAS, torch's and
        # scikit-learn's OpenMP, by the imports above), so the limits below reach all of them
        with threadpool_limits(limits=cfg.threads_per_worker):
            t_start = time.time()
            t0 = time.perf_counter()
            data = _cell_data(cell["data"], cell["semantic"])
            load_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            res = train(_train_config(cfg, cell), data=data)
            wall = time.perf_counter() - t0
            # taken after the cell, so that a pool loaded during it would show up here too
            worker = {**thread_state(), "load_s": load_s, "t_start": t_start, "t_end": time.time()}
    finally:
        torch.set_num_threads(torch_threads)
    cell_dir = Path(out) / "cells" / cell_id(cell)
    extra = {"cell_wall_s": wall, "worker": worker}
    if not cfg.save_models:
        res.run_model = None
    res.save(cell_dir, extra=extra)  # metrics.json last: its presence marks the cell done
    d = {**res.to_dict(), **extra}
    return _row(cell, d)


def _run_cell_recorded(cfg: GridConfig, cell: dict[str, Any], out: str, parent_pid: int | None = None
                       ) -> dict[str, Any]:
    """:func:`_run_cell`, with a failure returned as a ``failed`` row instead of raised, so that one
    bad cell does not stop the workers running the others."""
    try:
        return _run_cell(cfg, cell, out, parent_pid)
    except Exception as exc:  # noqa: BLE001 - recorded per cell, raised for the grid at the end
        return _failed_row(cell, exc)


def _failed_row(cell: dict[str, Any], exc: BaseException) -> dict[str, Any]:
    msg = " ".join(str(exc).split()) or type(exc).__name__
    return {**_row(cell, None), "status": "failed", "error": f"{type(exc).__name__}: {msg}"[:500]}


def _submit(executor: Any, cfg: GridConfig, todo: list[dict[str, Any]], out: str) -> list[Any]:
    """Hand the cells to ``executor``: a submitit executor gets one job array (``map_array``: a
    single SLURM array job), anything else one ``submit(fn, *args)`` call per cell."""
    if hasattr(executor, "map_array"):
        return executor.map_array(_run_cell, [cfg] * len(todo), todo, [out] * len(todo))
    return [executor.submit(_run_cell, cfg, c, out) for c in todo]


def _as_completed(futures: list[Any], poll_s: float):
    """Yield futures as they finish: ``concurrent.futures`` ones natively, others (submitit jobs)
    by polling their ``done()`` every ``poll_s`` seconds."""
    if all(isinstance(f, concurrent.futures.Future) for f in futures):
        yield from concurrent.futures.as_completed(futures)
        return
    pending = list(futures)
    while pending:
        still = []
        for f in pending:
            if f.done():
                yield f
            else:
                still.append(f)
        pending = still
        if pending:
            time.sleep(poll_s)


def _row(cell: dict[str, Any], d: dict[str, Any] | None) -> dict[str, Any]:
    """A results row of a finished cell (``d``: its metrics.json), or the shell of a failed one (None)."""
    nan = float("nan")
    d = d or {"zsl": {}, "gzsl": {}}
    return {"cell": cell_id(cell), "dataset": cell.get("dataset_label", Path(cell["data"]).name),
            "semantic": cell["semantic"],
            "model": cell["model"], "seed": cell["seed"], "status": "ok", "T1": d["zsl"].get("T1", nan),
            "U": d["gzsl"].get("U", nan), "S": d["gzsl"].get("S", nan), "H": d["gzsl"].get("H", nan),
            "gamma": d["gzsl"].get("gamma", nan), "ausuc": d.get("ausuc", nan),
            "surrogate": d.get("surrogate", False), "wall_s": d.get("cell_wall_s", nan),
            "params": json.dumps(d.get("params", {}), sort_keys=True), "error": ""}


class GridCellsFailed(ZSLKitError):
    """Some cells of a grid failed; the others are saved, and the results files list the failures."""

    def __init__(self, message: str, failed: list[dict[str, Any]]):
        super().__init__(message)
        self.failed = failed


@dataclass
class GridResult:
    rows: list[dict[str, Any]]  # one per cell, failed ones included (status "failed", error)
    ran: int
    skipped: int
    wall_s: float
    out: Path
    failed: list[dict[str, Any]] = field(default_factory=list)  # the failed cells' rows

    def table(self) -> str:
        return markdown_table(self.rows)


def run_grid(cfg: GridConfig, progress: bool = True, executor: Any = None, poll_s: float = 5.0) -> GridResult:
    """Run every cell not already finished in ``cfg.out``; write results.csv and results.md.

    Args:
        executor: where the cells run. ``None``: ``cfg.workers`` local processes (joblib/loky;
            in this process when ``workers == 1``). Otherwise any object with
            ``submit(fn, *args)`` returning futures (``concurrent.futures.ProcessPoolExecutor``, ...)
            or a submitit executor (``submitit.AutoExecutor``/``SlurmExecutor``/``LocalExecutor``/
            ``DebugExecutor``; see :func:`zslkit.cluster.submitit_executor`); ``cfg.workers`` is
            then ignored (the executor decides), ``cfg.threads_per_worker`` still limits each cell.
            A cell that fails does not stop the others: every cell is run (finished ones are saved,
            so a rerun resumes and retries only the failed ones), the failures are recorded in
            results.csv / results.md, and :class:`GridCellsFailed` is raised at the end naming them
            (``failed`` holds their rows).
        poll_s: seconds between status checks of submitit jobs.
    """
    from zslkit.utils.outputs import output_dir

    cfg.validate()
    if isinstance(executor, concurrent.futures.ThreadPoolExecutor):
        raise ConfigError("run_grid needs a process-based executor: cells set process-wide thread limits and "
                          "share a per-process data cache (use ProcessPoolExecutor or submitit)")
    with output_dir(cfg.out, "grid") as od:  # also removes temp files of writers killed earlier (not in cells)
        res = _run_grid(cfg, progress, executor, poll_s, od)
    if res.failed:
        names = "; ".join(f"{r['cell']} ({r['error']})" for r in res.failed[:3])
        more = f"; and {len(res.failed) - 3} more" if len(res.failed) > 3 else ""
        raise GridCellsFailed(f"{len(res.failed)} of {len(res.rows)} grid cells failed: {names}{more}. The other "
                              f"cells are saved and {Path(cfg.out) / 'results.csv'} lists the failures; rerun the "
                              "same command to retry only the failed cells", res.failed)
    return res


def _run_grid(cfg: GridConfig, progress: bool, executor: Any, poll_s: float, od: Any) -> GridResult:
    out = Path(cfg.out)
    cells = cfg.cells()
    data_labels = _labels(list(dict.fromkeys(cfg.data)))
    for c in cells:  # ids fixed here, in the submitting process (jobs may run in another working directory)
        c["id"] = cell_id(c)
        c["dataset_label"] = data_labels[c["data"]]
        od.add_nested(f"cells/{c['id']}")  # each cell: an output directory of its own, written by its worker
    from zslkit.pipeline import finished_run

    todo = [c for c in cells if finished_run(out / "cells" / cell_id(c), _train_config(cfg, c)) is None]
    skipped = len(cells) - len(todo)
    if skipped:
        log.info("resuming grid: %d of %d cells already done", skipped, len(cells))
    t0 = time.perf_counter()
    failed: dict[str, dict[str, Any]] = {}
    if todo:
        from zslkit.utils.progress import progress_bar

        bar = progress_bar(total=len(todo), desc="grid cells", unit="cell", disable=not progress)
        if executor is not None:
            futures = _submit(executor, cfg, todo, str(out.resolve()))  # jobs may run in another cwd
            cell_of = {id(f): c for f, c in zip(futures, todo)}
            for f in _as_completed(futures, poll_s):
                try:
                    f.result()
                except Exception as exc:  # noqa: BLE001 - recorded, raised after the other cells
                    failed[cell_id(cell_of[id(f)])] = _failed_row(cell_of[id(f)], exc)
                bar.update()
            bar.close()
        else:
            from joblib import Parallel, delayed, parallel_config

            # Workers are started with OMP/MKL/OPENBLAS_NUM_THREADS = threads_per_worker (so their
            # pools are created at that size); _run_cell also sets torch and threadpoolctl limits.
            # Each worker runs _die_with_parent from its start (the initializer reaches loky only
            # through parallel_config, so Parallel takes its backend from there).
            parent = os.getpid() if cfg.workers > 1 else None
            watchdog = {"initializer": _die_with_parent, "initargs": (parent,)} if parent else {}
            with parallel_config(backend="loky", inner_max_num_threads=cfg.threads_per_worker, **watchdog):
                par = Parallel(n_jobs=cfg.workers, batch_size=1, return_as="generator_unordered",
                               **({} if parent else {"backend": "sequential"}))
                try:
                    for row in par(delayed(_run_cell_recorded)(cfg, c, str(out), parent) for c in todo):
                        if row.get("status") == "failed":
                            failed[row["cell"]] = row
                        bar.update()
                finally:
                    bar.close()  # before an error is printed, so that it gets a line of its own
        for row in failed.values():
            log.error("grid cell %s failed: %s", row["cell"], row["error"])
    wall = time.perf_counter() - t0
    rows = []
    for c in cells:  # aggregate from disk: the single source of truth, also for skipped cells
        if cell_id(c) in failed:
            rows.append(failed[cell_id(c)])
            continue
        d = json.loads((out / "cells" / cell_id(c) / "metrics.json").read_text())
        rows.append(_row(c, d))
    write_results(rows, out)
    return GridResult(rows=rows, ran=len(todo), skipped=skipped, wall_s=wall, out=out,
                      failed=[r for r in rows if r["status"] == "failed"])


def write_results(rows: list[dict[str, Any]], out: Path) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    atomic_write_text(out / "results.csv", buf.getvalue())
    atomic_write_text(out / "results.md", markdown_table(rows))


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """Mean ± std over seeds for each dataset x semantic x model (percent); failed cells listed below."""
    groups: dict[tuple, list[dict]] = {}
    ok = [r for r in rows if r.get("status", "ok") == "ok"]
    for r in ok:  # dataset and semantic labels are unique per input (see _labels)
        groups.setdefault((r["dataset"], r["semantic"], r["model"]), []).append(r)
    surrogate = any(str(r["surrogate"]) in ("True", "true", "1") or r["surrogate"] is True for r in ok)
    lines = []
    if surrogate:
        lines += ["**SURROGATE data: synthetic features; not benchmark results.**", ""]
    lines += ["| dataset | semantic | model | seeds | T1 | U | S | H | AUSUC |", "|---|---|---|---|---|---|---|---|---|"]
    for (ds, sem, model), rs in groups.items():
        cells = []
        for k in METRIC_KEYS:
            v = np.array([float(r[k]) for r in rs])
            cells.append(f"{v.mean():.1f} ± {v.std():.1f}" if len(v) > 1 else f"{v.mean():.1f}")
        lines.append(f"| {ds} | {sem} | {model} | {len(rs)} | " + " | ".join(cells) + " |")
    bad = [r for r in rows if r.get("status", "ok") != "ok"]
    if bad:
        lines += ["", f"**{len(bad)} failed cell(s)** (rerun the grid to retry them):", ""]
        lines += [f"- `{r['cell']}`: {r['error']}" for r in bad]
    return "\n".join(lines) + "\n"
