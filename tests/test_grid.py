
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
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


def _h8(text):
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:8]


def test_cell_id_is_filesystem_safe_readable_and_keyed_by_resolved_paths():
    assert cell_id({"data": "/x/AWA 2", "semantic": "/y/emb.npy", "model": "eszsl", "seed": 1}) == \
        f"AWA_2-{_h8('/x/AWA 2')}__emb-{_h8('/y/emb.npy')}__eszsl__seed1"
    spec = "regressor(loss=remse)"
    assert cell_id({"data": "/d/CUB", "semantic": "att", "model": spec, "seed": 0}) == \
        f"CUB-{_h8('/d/CUB')}__att__regressor_loss_remse_-{_h8(spec)}__seed0"


def test_cell_ids_are_unique_for_distinct_inputs_and_stable(tmp_path, monkeypatch):
    # issue #15: a/tiny and b/tiny, or a/emb.npy and b/emb.npy, used to share one cell directory
    ids = {cell_id({"data": d, "semantic": s, "model": m, "seed": 0})
           for d in ("/a/tiny", "/b/tiny") for s in ("att", "/a/emb.npy", "/b/emb.npy", "/b/emb.csv")
           for m in ("regressor(loss=mse)", "regressor(loss_mse)", "eszsl")}
    assert len(ids) == 2 * 4 * 3
    monkeypatch.chdir(tmp_path)  # a relative path is the same cell as its resolved form, in any spelling
    (tmp_path / "tiny").mkdir()
    cell = {"semantic": "att", "model": "eszsl", "seed": 0}
    assert cell_id({"data": "tiny", **cell}) == cell_id({"data": str(tmp_path / "tiny"), **cell}) == \
        cell_id({"data": "./tiny/", **cell})


@pytest.fixture(scope="module")
def twin_dirs(tmp_path_factory):
    """Two different small surrogate datasets in folders of the same name (a/tiny, b/tiny)."""
    from zslkit.data.surrogate import SurrogateConfig, make_surrogate, make_toy_att_splits

    root = tmp_path_factory.mktemp("twins")
    out = []
    for sub, seed in (("a", 0), ("b", 1)):
        src = make_toy_att_splits(root / f"src{seed}" / "att_splits.mat", num_classes=12, num_unseen=3,
                                  num_attributes=16, images_per_class=20, seed=seed)
        out.append(make_surrogate(src, root / sub / "tiny", seed=seed, config=SurrogateConfig(feature_dim=32)))
    return out


def test_two_datasets_with_one_folder_name_keep_both_results(twin_dirs, tmp_path):
    import csv

    res = run_grid(GridConfig(data=[str(d) for d in twin_dirs], models=["eszsl"], seeds=[0], out=str(tmp_path / "g"),
                              grids={"eszsl": {"alpha": [1.0], "lam": [1.0]}}), progress=False)
    rows = list(csv.DictReader(open(tmp_path / "g" / "results.csv")))
    assert len({r["cell"] for r in rows}) == 2 and len(list((tmp_path / "g" / "cells").iterdir())) == 2
    assert {r["dataset"] for r in rows} == {f"tiny-{_h8(str(d.resolve()))}" for d in twin_dirs}
    assert rows[0]["T1"] != rows[1]["T1"]  # two distinct results, not one listed twice
    md = (tmp_path / "g" / "results.md").read_text()
    assert md.count("| att | eszsl | 1 |") == 2 and "| 2 |" not in md
    assert [r["T1"] for r in res.rows] == [float(r["T1"]) for r in rows]


def test_two_semantic_files_with_one_stem_keep_both_results(toy_dir, tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        np.save(tmp_path / sub / "emb.npy", rng.random((40, 8)))
    sems = [str(tmp_path / "a" / "emb.npy"), str(tmp_path / "b" / "emb.npy")]
    res = run_grid(GridConfig(data=[str(toy_dir)], semantics=sems, models=["eszsl"], out=str(tmp_path / "g"),
                              grids={"eszsl": {"alpha": [1.0], "lam": [1.0]}}), progress=False)
    assert len({r["cell"] for r in res.rows}) == 2 and res.rows[0]["T1"] != res.rows[1]["T1"]
    assert [r["semantic"] for r in res.rows] == sems


def test_grid_refuses_bad_settings_before_running_any_cell(tmp_path):
    base = {"data": ["x"], "out": str(tmp_path / "g")}
    for kw, match in (({"seeds": [-1]}, r"seeds \[-1\]: seed must be an integer >= 0"),
                      ({"seeds": [2 ** 32]}, r"<= 4294967295 \(2\*\*32 - 1\), got 4294967296"),
                      ({"seeds": [0, 0]}, "more than once"),
                      ({"val_folds": [0]}, "val_folds"), ({"data": ["x", "./x"]}, "more than once"),
                      ({"params": {"eszsl": {"lam": "abc"}}}, "'lam' = 'abc' has the wrong type"),
                      ({"grids": {"eszsl": {"lam": []}}}, "non-empty list"),
                      ({"grids": {"eszsl": {"nope": [1.0]}}}, "no hyperparameter 'nope'"),
                      ({"params": {"sae": {"lam": "x"}}}, "'sae' hyperparameter 'lam' = 'x'"),
                      ({"params": {"eszls": {"lam": 1.0}}}, "neither one of the grid's models")):
        with pytest.raises(ConfigError, match=match):
            run_grid(GridConfig(**{**base, **kw}), progress=False)
    assert not (tmp_path / "g" / "cells").exists()


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


def test_second_grid_on_one_directory_is_refused_naming_the_holder(toy_dir, tmp_path):
    from zslkit.errors import LockedError
    from zslkit.utils.outputs import DirLock

    out = tmp_path / "g"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LockedError, match=f"in use by pid {holder.pid}"):
            run_grid(GridConfig(data=[str(toy_dir)], out=str(out)), progress=False)
        with pytest.raises(LockedError, match=f"pid {holder.pid}"):
            DirLock(out).__enter__()
    finally:
        holder.kill()
        holder.wait()
    with DirLock(out), DirLock(out):  # free again once the holder is gone (even killed); re-entrant
        pass
    assert not (out / "cells").exists()


HOLD_LOCK = """
import sys, time
sys.path.insert(0, {src!r})
from zslkit.utils.outputs import DirLock
with DirLock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(60)
""".format(src=str(Path(__file__).resolve().parents[1] / "src"))


def _descendants(pid):
    parents = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                parents[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], [pid]
    while todo:
        parent = todo.pop()
        kids = [c for c, p in parents.items() if p == parent]
        out += kids
        todo += kids
    return out


def _alive(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux) to list child processes")
def test_workers_die_with_the_grid_process(toy_dir, tmp_path):
    # issue #15: SIGKILL of `benchmark --workers 2` left its loky workers computing cells for nobody
    (tmp_path / "g.yaml").write_text(f"kind: grid\ndata: [{toy_dir}]\nmodels: ['regressor(epochs=3000)']\n"
                                     f"seeds: [0, 1, 2, 3]\ngrids: {{regressor: {{}}}}\nworkers: 2\n"
                                     f"out: {tmp_path / 'g'}\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    with open(tmp_path / "log", "w") as log:  # not a pipe: orphans would hold it open
        grid = subprocess.Popen([sys.executable, "-m", "zslkit", "-q", "run", str(tmp_path / "g.yaml")], stdout=log,
                                stderr=subprocess.STDOUT, env=env)
    t0 = time.time()
    workers = []
    while time.time() - t0 < 120 and len(workers) < 2:
        workers = [p for p in _descendants(grid.pid) if "LokyProcess" in Path(f"/proc/{p}/cmdline").read_text()]
        time.sleep(0.2)
    assert len(workers) == 2, (tmp_path / "log").read_text()
    time.sleep(1.0)
    everyone = _descendants(grid.pid)
    grid.kill()
    grid.wait()
    deadline = time.time() + 30
    while time.time() < deadline and any(_alive(p) for p in everyone):
        time.sleep(0.2)
    left = [p for p in everyone if _alive(p)]
    for p in left:
        os.kill(p, signal.SIGKILL)
    assert not left, f"{len(left)} of {len(everyone)} worker processes outlived the grid process"


def test_cells_of_one_dataset_share_its_features_across_semantics(toy_dir):
    """A worker loads a dataset once: another semantic shares the features array (so a feature transform
    memoised on it is not recomputed per semantic)."""
    from zslkit.grid import _DATA_CACHE, _cell_data

    _DATA_CACHE.clear()
    att = _cell_data(str(toy_dir), "att")
    w2v = _cell_data(str(toy_dir), "word2vec")
    assert w2v.features is att.features and w2v.semantic_name != att.semantic_name
    assert w2v.semantic.shape[0] == att.semantic.shape[0] and not np.array_equal(w2v.semantic[:, :2], att.semantic[:, :2])
    assert _cell_data(str(toy_dir), "att") is att


def test_cli_benchmark_with_a_transform(toy_dir, tmp_path):
    from click.testing import CliRunner

    from zslkit.cli import main

    r = CliRunner().invoke(main, ["-q", "benchmark", "--data", str(toy_dir), "--model", "eszsl(alpha=1, lam=1)",
                                  "--seeds", "1", "--transform", "normalize(norm=l2)", "--out", str(tmp_path / "g")])
    assert r.exit_code == 0, r.output
    cell = next((tmp_path / "g" / "cells").iterdir())
    m = json.loads((cell / "metrics.json").read_text())
    assert m["config"]["transform"] == "normalize(norm=l2)" and m["transform"]["spec"] == "normalize(norm=l2)"
