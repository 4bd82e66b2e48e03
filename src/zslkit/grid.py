"""Benchmark grids: datasets x semantic sources x models x seeds, resumable and parallel.

Each cell is one :func:`zslkit.pipeline.train` run saved in ``OUT/cells/<cell id>/``
(``metrics.json`` written atomically, last). A restarted grid skips every cell whose
``metrics.json`` exists and records the same configuration, so an interrupted grid never redoes
finished work. Independent cells run in worker processes (joblib's loky backend); each worker
is limited to ``threads_per_worker`` BLAS/torch threads so that workers do not oversubscribe
the cores (on CPU-bound linear algebra, 2 workers x 1 thread beat 1 worker x 2 threads because
most of a cell - data handling, evaluation, small solves - does not parallelise inside BLAS).

Instead of local worker processes, the cells can be handed to a process-based executor with a
``concurrent.futures``-style ``submit`` (e.g. ``ProcessPoolExecutor``) or to a submitit executor,
which sends them to SLURM as one job array (``run_grid(cfg, executor=...)``;
:mod:`zslkit.cluster` builds one). The cells then write into ``OUT`` themselves, so ``OUT`` and
the data directories must be paths that the compute nodes see; resuming works the same way.

Results: ``results.csv`` (one row per cell) and ``results.md`` (mean ± std over seeds per
dataset x semantic x model, like the tables of the VGSE paper).
"""

from __future__ import annotations

import concurrent.futures
import csv
import io
import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zslkit.errors import ConfigError
from zslkit.utils.atomic import atomic_write_text

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

    def validate(self) -> "GridConfig":
        if not (self.data and self.semantics and self.models and self.seeds):
            raise ConfigError("a grid needs at least one dataset, semantic, model and seed")
        if self.val_semantic not in ("auto", "same", "relation"):
            raise ConfigError(f"val_semantic must be 'auto', 'same' or 'relation', got {self.val_semantic!r}")
        if self.workers < 1 or self.threads_per_worker < 1:
            raise ConfigError(f"workers and threads_per_worker must be >= 1, got {self.workers}, "
                              f"{self.threads_per_worker}")
        from zslkit.registry import model_names

        from zslkit.registry import parse_model_spec

        unknown = [m for m in self.models if parse_model_spec(m)[0] not in model_names()]
        if unknown:
            raise ConfigError(f"unknown model(s) {unknown}; choose from {model_names()}")
        return self

    def cells(self) -> list[dict[str, Any]]:
        out = []
        for d in self.data:
            for sem in self.semantics:
                for model in self.models:
                    for seed in self.seeds:
                        out.append({"data": d, "semantic": sem, "model": model, "seed": int(seed)})
        return out


def cell_id(cell: dict[str, Any]) -> str:
    name = Path(cell["data"]).name or "data"
    sem = Path(cell["semantic"]).stem if os.sep in cell["semantic"] else cell["semantic"]
    raw = f"{name}__{sem}__{cell['model']}__seed{cell['seed']}"
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", raw)


def _train_config(cfg: GridConfig, cell: dict[str, Any]):
    from zslkit.pipeline import TrainConfig

    from zslkit.registry import parse_model_spec

    base = parse_model_spec(cell["model"])[0]
    return TrainConfig(data=cell["data"], model=cell["model"], semantic=cell["semantic"], seed=cell["seed"],
                       params=dict(cfg.params.get(cell["model"], cfg.params.get(base, {}))),
                       grid=cfg.grids.get(cell["model"], cfg.grids.get(base)),
                       val_folds=list(cfg.val_folds), val_semantic=cfg.val_semantic,
                       relation_word_vectors=cfg.relation_word_vectors)


_DATA_CACHE: dict[tuple[str, str], Any] = {}
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


def _run_cell(cfg: GridConfig, cell: dict[str, Any], out: str) -> dict[str, Any]:
    """Run one cell in the current process (a worker, a cluster job or the caller) and save it;
    returns its summary row. Torch and every BLAS/OpenMP pool are limited to
    ``cfg.threads_per_worker`` threads for the cell and restored afterwards."""
    from threadpoolctl import threadpool_limits

    import torch

    from zslkit.data.xlsa17 import load_xlsa17
    from zslkit.pipeline import train

    torch_threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads_per_worker)
    try:
        # every pool a cell uses is loaded by now (numpy's and scipy's OpenBLAS, torch's and
        # scikit-learn's OpenMP, by the imports above), so the limits below reach all of them
        with threadpool_limits(limits=cfg.threads_per_worker):
            t_start = time.time()
            t0 = time.perf_counter()
            key = (cell["data"], cell["semantic"])
            if key not in _DATA_CACHE:  # a worker runs several cells of one dataset: load it once
                _DATA_CACHE.clear()
                _DATA_CACHE[key] = load_xlsa17(cell["data"], semantic=cell["semantic"])
            load_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            res = train(_train_config(cfg, cell), data=_DATA_CACHE[key])
            wall = time.perf_counter() - t0
            # taken after the cell, so that a pool loaded during it would show up here too
            worker = {**thread_state(), "load_s": load_s, "t_start": t_start, "t_end": time.time()}
    finally:
        torch.set_num_threads(torch_threads)
    cell_dir = Path(out) / "cells" / cell_id(cell)
    extra = {"cell_wall_s": wall, "worker": worker}
    res.save(cell_dir, extra=extra)  # metrics.json last: its presence marks the cell done
    d = {**res.to_dict(), **extra}
    return _row(cell, d)


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


def _row(cell: dict[str, Any], d: dict[str, Any]) -> dict[str, Any]:
    return {"cell": cell_id(cell), "dataset": Path(cell["data"]).name, "semantic": cell["semantic"],
            "model": cell["model"], "seed": cell["seed"], "T1": d["zsl"]["T1"], "U": d["gzsl"]["U"],
            "S": d["gzsl"]["S"], "H": d["gzsl"]["H"], "gamma": d["gzsl"]["gamma"], "ausuc": d["ausuc"],
            "surrogate": d.get("surrogate", False), "wall_s": d.get("cell_wall_s", float("nan")),
            "params": json.dumps(d.get("params", {}), sort_keys=True)}


@dataclass
class GridResult:
    rows: list[dict[str, Any]]
    ran: int
    skipped: int
    wall_s: float
    out: Path

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
            A cell that fails does not stop the others: every cell is waited for (finished ones are
            saved, so a rerun resumes) and the first failure is raised at the end.
        poll_s: seconds between status checks of submitit jobs.
    """
    cfg.validate()
    if isinstance(executor, concurrent.futures.ThreadPoolExecutor):
        raise ConfigError("run_grid needs a process-based executor: cells set process-wide thread limits and "
                          "share a per-process data cache (use ProcessPoolExecutor or submitit)")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    cells = cfg.cells()
    for stale in out.glob("cells/*/.*.tmp-*"):  # temp files of writers killed in an earlier run
        stale.unlink(missing_ok=True)
    from zslkit.pipeline import finished_run

    todo = [c for c in cells if finished_run(out / "cells" / cell_id(c), _train_config(cfg, c)) is None]
    skipped = len(cells) - len(todo)
    if skipped:
        log.info("resuming grid: %d of %d cells already done", skipped, len(cells))
    t0 = time.perf_counter()
    if todo:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc="grid cells", disable=not progress)
        if executor is not None:
            futures = _submit(executor, cfg, todo, str(out.resolve()))  # jobs may run in another cwd
            cell_of = {id(f): c for f, c in zip(futures, todo)}
            errors = []
            for f in _as_completed(futures, poll_s):
                try:
                    f.result()
                except Exception as exc:  # noqa: BLE001 - reported below, after the other cells
                    errors.append(exc)
                    log.error("grid cell %s failed: %s", cell_id(cell_of[id(f)]), exc)
                bar.update()
            bar.close()
            if errors:
                log.error("%d of %d grid cells failed; the others are saved (rerun to resume)", len(errors), len(todo))
                raise errors[0]
        else:
            from joblib import Parallel, delayed, parallel_config

            # Workers are started with OMP/MKL/OPENBLAS_NUM_THREADS = threads_per_worker (so their
            # pools are created at that size); _run_cell also sets torch and threadpoolctl limits.
            with parallel_config(backend="loky", inner_max_num_threads=cfg.threads_per_worker):
                par = Parallel(n_jobs=cfg.workers, backend="loky" if cfg.workers > 1 else "sequential",
                               batch_size=1, return_as="generator_unordered")
                for _ in par(delayed(_run_cell)(cfg, c, str(out)) for c in todo):
                    bar.update()
            bar.close()
    wall = time.perf_counter() - t0
    rows = []
    for c in cells:  # aggregate from disk: the single source of truth, also for skipped cells
        d = json.loads((out / "cells" / cell_id(c) / "metrics.json").read_text())
        rows.append(_row(c, d))
    write_results(rows, out)
    return GridResult(rows=rows, ran=len(todo), skipped=skipped, wall_s=wall, out=out)


def write_results(rows: list[dict[str, Any]], out: Path) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    atomic_write_text(out / "results.csv", buf.getvalue())
    atomic_write_text(out / "results.md", markdown_table(rows))


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """Mean ± std over seeds for each dataset x semantic x model (percent)."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["semantic"], r["model"]), []).append(r)
    surrogate = any(str(r["surrogate"]) in ("True", "true", "1") or r["surrogate"] is True for r in rows)
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
    return "\n".join(lines) + "\n"
