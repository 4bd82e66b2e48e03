
import json
import os

import pytest

from zslkit.config import load_config
from zslkit.errors import ConfigError
from zslkit.grid import GridConfig, cell_id, run_grid


def test_grid_runs_and_resumes_without_redoing_cells(toy_dir, tmp_path):
    cfg = GridConfig(data=[str(toy_dir)], semantics=["att", "word2vec"], models=["eszsl"], seeds=[0],
                     out=str(tmp_path / "g"), grids={"eszsl": {"alpha": [1.0, 100.0], "lam": [1.0]}})
    r1 = run_grid(cfg, progress=False)
    assert (r1.ran, r1.skipped) == (2, 0)
    cells = sorted((tmp_path / "g" / "cells").iterdir())
    assert len(cells) == 2
    stamps = {c.name: (c / "metrics.json").stat().st_mtime_ns for c in cells}
    # simulate an interruption: one cell never finished
    (cells[0] / "metrics.json").unlink()
    r2 = run_grid(cfg, progress=False)
    assert (r2.ran, r2.skipped) == (1, 1)
    assert (cells[1] / "metrics.json").stat().st_mtime_ns == stamps[cells[1].name]  # untouched
    assert [r["T1"] for r in r1.rows] == [r["T1"] for r in r2.rows]  # same metrics after resume
    md = (tmp_path / "g" / "results.md").read_text()
    assert "SURROGATE" in md and "| word2vec | eszsl | 1 |" in md
    csv_lines = (tmp_path / "g" / "results.csv").read_text().splitlines()
    assert len(csv_lines) == 3
    # a changed configuration is not mistaken for a finished cell
    cfg.grids = {"eszsl": {"alpha": [10.0], "lam": [1.0]}}
    assert run_grid(cfg, progress=False).ran == 2


def test_grid_config_validation(tmp_path):
    with pytest.raises(ConfigError, match="unknown model"):
        GridConfig(data=["x"], models=["nope"]).validate()
    with pytest.raises(ConfigError, match="workers"):
        GridConfig(data=["x"], workers=0).validate()
    with pytest.raises(ConfigError, match="val_semantic"):
        GridConfig(data=["x"], val_semantic="measured").validate()


def test_grid_passes_validation_semantic_to_each_cell():
    from zslkit.grid import _train_config

    cfg = GridConfig(data=["d"], semantics=["vgse"], val_semantic="same", relation_word_vectors="w.npy")
    tc = _train_config(cfg, cfg.cells()[0])
    assert (tc.val_semantic, tc.relation_word_vectors) == ("same", "w.npy") and not tc.uses_relation_validation()
    assert _train_config(GridConfig(data=["d"], semantics=["vgse"]), {"data": "d", "semantic": "vgse",
                                                                      "model": "eszsl", "seed": 0}
                         ).uses_relation_validation()


def test_yaml_configs(tmp_path, toy_dir):
    p = tmp_path / "c.yaml"
    p.write_text(f"kind: train\ndata: {toy_dir}\nmodel: eszsl\nseed: 3\nval_folds: [1]\n")
    cfg = load_config(p)
    assert cfg.seed == 3 and cfg.model == "eszsl"
    p.write_text(f"kind: train\ndata: {toy_dir}\nmodle: eszsl\n")
    with pytest.raises(ConfigError, match="unknown setting.*modle"):
        load_config(p)
    p.write_text(f"kind: train\ndata: {toy_dir}\nseed: three\n")
    with pytest.raises(ConfigError, match="'seed'.*wrong type"):
        load_config(p)
    p.write_text("kind: grid\nsemantics: [att]\n")
    with pytest.raises(ConfigError, match="required.*data"):
        load_config(p)
    p.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(p)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_cell_id_is_filesystem_safe():
    assert cell_id({"data": "/x/AWA 2", "semantic": "/y/emb.npy", "model": "eszsl", "seed": 1}) == \
        "AWA_2__emb__eszsl__seed1"


def test_parallel_workers_match_sequential_and_run_single_threaded(toy_dir, tmp_path):
    grids = {"eszsl": {"alpha": [1.0, 100.0], "lam": [1.0]}}
    kw = {"data": [str(toy_dir)], "semantics": ["att", "word2vec"], "models": ["eszsl"], "seeds": [0, 1], "grids": grids}
    seq = run_grid(GridConfig(out=str(tmp_path / "seq"), **kw), progress=False)
    par = run_grid(GridConfig(out=str(tmp_path / "par"), workers=2, threads_per_worker=1, **kw), progress=False)
    assert par.ran == 4
    def strip(rows):
        return [{k: v for k, v in r.items() if k != "wall_s"} for r in rows]

    assert strip(par.rows) == strip(seq.rows)  # identical metrics whatever the process layout
    workers = [json.loads(m.read_text())["worker"] for m in (tmp_path / "par" / "cells").glob("*/metrics.json")]
    for w in workers:  # loky workers started with 1-thread pools, limited again by the cell
        assert w["env"]["OMP_NUM_THREADS"] == "1" and w["env"]["OPENBLAS_NUM_THREADS"] == "1"
        assert w["torch_threads"] == 1 and all(p.endswith(":1") for p in w["threadpools"])
    assert os.getpid() not in {w["pid"] for w in workers}
