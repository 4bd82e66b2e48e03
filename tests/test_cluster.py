"""Grids run through executors: submitit (local processes, in-process debug), concurrent.futures."""

from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import os

import pytest
from click.testing import CliRunner

from zslkit.cli import main
from zslkit.cluster import submitit_executor
from zslkit.errors import ConfigError, ZSLDataError
from zslkit.grid import GridCellsFailed, GridConfig, run_grid

GRID = {"eszsl": {"alpha": [1.0, 100.0], "lam": [1.0]}, "sae": {"lam": [0.1, 10.0], "direction": ["visual->semantic"]}}


def _cfg(toy_dir, out, models=("eszsl", "sae")):
    return GridConfig(data=[str(toy_dir)], semantics=["att", "word2vec"], models=list(models), seeds=[0],
                      out=str(out), grids=GRID)


def _metrics(rows):
    """Rows without the timing column: everything that must not depend on where a cell ran."""
    return [{k: v for k, v in r.items() if k != "wall_s"} for r in rows]


@pytest.fixture(scope="module")
def reference(toy_dir, tmp_path_factory):
    """The same grid run locally (one process), the result every executor must reproduce."""
    return run_grid(_cfg(toy_dir, tmp_path_factory.mktemp("ref") / "g"), progress=False)


def test_submitit_local_executor_matches_local_run_and_resumes(toy_dir, tmp_path, reference):
    out = tmp_path / "g"
    cfg = _cfg(toy_dir, out, models=["eszsl"])  # 2 cells: each submitit job is a fresh Python process
    ref = [r for r in _metrics(reference.rows) if r["model"] == "eszsl"]
    ex = submitit_executor(tmp_path / "submitit", cluster="local", timeout_min=10)
    r1 = run_grid(cfg, executor=ex, poll_s=0.2, progress=False)
    assert (r1.ran, r1.skipped) == (2, 0)
    assert _metrics(r1.rows) == ref  # bit-identical metrics, params, gamma
    cells = sorted((out / "cells").iterdir())
    workers = [json.loads((c / "metrics.json").read_text())["worker"] for c in cells]
    assert all(w["pid"] != os.getpid() for w in workers)  # really ran in submitit's job processes
    assert all(w["torch_threads"] == 1 and len(w["threadpools"]) >= 2 and all(p.endswith(":1") for p in w["threadpools"])
               for w in workers)
    assert len(list((tmp_path / "submitit").glob("*_result.pkl"))) == 2  # one submitit job per cell
    # interrupted grid: one cell lost; a rerun through submitit redoes only that one
    stamps = {c.name: (c / "metrics.json").stat().st_mtime_ns for c in cells}
    (cells[0] / "metrics.json").unlink()
    r2 = run_grid(cfg, executor=ex, poll_s=0.2, progress=False)
    assert (r2.ran, r2.skipped) == (1, 1)
    assert (cells[1] / "metrics.json").stat().st_mtime_ns == stamps[cells[1].name]  # untouched
    assert _metrics(r2.rows) == ref
    # and the plain local runner resumes a grid that submitit started
    assert run_grid(cfg, progress=False).ran == 0


def test_submitit_debug_executor(toy_dir, tmp_path, reference):
    ex = submitit_executor(tmp_path / "submitit", cluster="debug")
    r = run_grid(_cfg(toy_dir, tmp_path / "g"), executor=ex, progress=False)
    assert r.ran == 4 and _metrics(r.rows) == _metrics(reference.rows)


def test_concurrent_futures_process_pool(toy_dir, tmp_path, reference):
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as ex:
        r = run_grid(_cfg(toy_dir, tmp_path / "g"), executor=ex, progress=False)
    assert r.ran == 4 and _metrics(r.rows) == _metrics(reference.rows)


def test_thread_pool_is_refused(toy_dir, tmp_path):
    with concurrent.futures.ThreadPoolExecutor(2) as ex, pytest.raises(ConfigError, match="process-based"):
        run_grid(_cfg(toy_dir, tmp_path / "g"), executor=ex, progress=False)


def test_slurm_job_array_script(tmp_path, monkeypatch):
    """What would go to sbatch (no SLURM here: a stub srun lets submitit build its SLURM executor)."""
    from submitit.slurm.slurm import _make_sbatch_string

    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "srun").write_text("#!/bin/sh\nexit 0\n")
    (tmp_path / "bin" / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    ex = submitit_executor(tmp_path / "sub", cluster="slurm", partition="cpu", timeout_min=120, cpus_per_task=4,
                           mem_gb=8, array_parallelism=3, slurm_account="proj")
    text = _make_sbatch_string(command="python -u -m submitit.core._submit X", folder=str(tmp_path / "sub"),
                               map_count=12, **ex._executor.parameters)
    for line in ("--array=0-11%3", "--partition=cpu", "--cpus-per-task=4", "--time=120", "--mem=8GB",
                 "--account=proj", "--job-name=zslkit-grid"):
        assert f"#SBATCH {line}\n" in text


class _InlineExecutor:
    """A minimal concurrent.futures-style executor: runs each call at submit time."""

    def submit(self, fn, *args):
        f = concurrent.futures.Future()
        try:
            f.set_result(fn(*args))
        except Exception as exc:  # noqa: BLE001
            f.set_exception(exc)
        return f


def test_failed_cell_does_not_lose_the_others(toy_dir, tmp_path):
    cfg = GridConfig(data=[str(tmp_path / "missing"), str(toy_dir)], models=["eszsl"], out=str(tmp_path / "g"),
                     grids=GRID)
    with pytest.raises(GridCellsFailed, match="1 of 2 grid cells failed: missing-.*not found") as info:
        run_grid(cfg, executor=_InlineExecutor(), progress=False)
    assert [r["cell"].split("-")[0] for r in info.value.failed] == ["missing"]
    done = list((tmp_path / "g" / "cells").glob("*/metrics.json"))
    assert len(done) == 1  # the good cell ran and was saved although the other failed first
    stamp = done[0].stat().st_mtime_ns
    with pytest.raises(GridCellsFailed):
        run_grid(cfg, executor=_InlineExecutor(), progress=False)
    assert done[0].stat().st_mtime_ns == stamp  # not redone on the rerun


def test_cli_benchmark_through_submitit(toy_dir, tmp_path):
    out = tmp_path / "g"
    res = CliRunner().invoke(main, ["-q", "benchmark", "--data", str(toy_dir), "--model", "eszsl", "--seeds", "1",
                                    "--out", str(out), "--submitit-folder", str(tmp_path / "sub"),
                                    "--cluster", "debug"])
    assert res.exit_code == 0, res.output
    assert "1 cells run" in res.output and (out / "results.csv").is_file()
