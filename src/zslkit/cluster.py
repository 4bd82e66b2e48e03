"""Run benchmark grids on a cluster with submitit (SLURM), no scheduler of our own.

:func:`submitit_executor` builds a ``submitit.AutoExecutor``; hand it to
:func:`zslkit.grid.run_grid`, which submits the unfinished cells as one SLURM job array and
waits for them::

    from zslkit.cluster import submitit_executor
    from zslkit.grid import GridConfig, run_grid

    cfg = GridConfig(data=["/shared/xlsa17/AWA2", "/shared/xlsa17/CUB"], semantics=["att", "word2vec"],
                     models=["eszsl", "sae"], seeds=[0, 1, 2], out="/shared/runs/grid1", threads_per_worker=4)
    ex = submitit_executor("/shared/runs/grid1/submitit", partition="cpu", timeout_min=120,
                           cpus_per_task=cfg.threads_per_worker, array_parallelism=32)
    res = run_grid(cfg, executor=ex)

Each cell is one array task; it writes ``OUT/cells/<cell>/metrics.json`` itself, so ``out`` and
the data directories must be on a file system the compute nodes share. A grid interrupted (or
with failed tasks) is resumed by running the same code again: finished cells are skipped.
``cluster="local"`` runs every cell as its own local process (all at once: for testing, not for
throughput) and ``cluster="debug"`` runs them in this process (submitit then opens ``pdb`` on an error).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zslkit.errors import ConfigError


def submitit_executor(folder: str | Path, cluster: str | None = None, partition: str | None = None,
                      timeout_min: int = 60, cpus_per_task: int = 1, mem_gb: float | None = None,
                      array_parallelism: int | None = None, name: str = "zslkit-grid", **params: Any):
    """A ``submitit.AutoExecutor`` for :func:`zslkit.grid.run_grid`.

    Args:
        folder: where submitit keeps each job's pickled call, result and logs (``%j`` allowed).
        cluster: ``None`` (SLURM when ``sbatch`` is available, else local processes), ``"slurm"``,
            ``"local"`` or ``"debug"``.
        partition: SLURM partition (``slurm_partition``).
        timeout_min: time limit of each cell's job, minutes.
        cpus_per_task: cores per job; give it the grid's ``threads_per_worker``.
        mem_gb: memory per job (a cell holds one dataset: ~1 GB for AWA2's features).
        array_parallelism: most array tasks running at once (``slurm_array_parallelism``).
        params: any other submitit parameter, e.g. ``slurm_account="..."``, ``slurm_qos="..."``,
            ``slurm_setup=["module load python"]``.
    """
    try:
        import submitit
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ConfigError("running a grid through submitit needs it installed: pip install 'zslkit[cluster]'") from exc
    try:
        ex = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
    except (ValueError, RuntimeError) as exc:
        raise ConfigError(f"submitit cannot use cluster {cluster!r}: {exc}") from exc
    kw: dict[str, Any] = {"name": name, "timeout_min": int(timeout_min), "cpus_per_task": int(cpus_per_task)}
    if mem_gb is not None:
        kw["mem_gb"] = float(mem_gb)
    if partition:
        kw["slurm_partition"] = partition
    if array_parallelism:
        kw["slurm_array_parallelism"] = int(array_parallelism)
    kw.update(params)
    ex.update_parameters(**kw)
    return ex
