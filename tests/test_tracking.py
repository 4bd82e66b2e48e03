"""Experiment tracking (zslkit.tracking): what a run logs through the logger interface (a fake, in-memory
backend), and the TensorBoard backend read back with TensorBoard's own EventAccumulator."""

from __future__ import annotations

import importlib.util
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from zslkit.errors import ConfigError
from zslkit.pipeline import TrainConfig, train
from zslkit.tracking import MemoryLogger, ExperimentLogger, log_metrics

needs_tensorboard = pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None,
                                       reason="tensorboard is not installed (the tracking extra)")


def events(log_dir):
    """(scalars {tag: [(step, value)]}, texts {tag: str}) of the event files in ``log_dir``."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util.tensor_util import make_ndarray

    ea = EventAccumulator(str(log_dir))
    ea.Reload()
    scalars = {t: [(e.step, e.value) for e in ea.Scalars(t)] for t in ea.Tags()["scalars"]}
    texts = {t: make_ndarray(ea.Tensors(t)[0].tensor_proto).item().decode() for t in ea.Tags()["tensors"]}
    return scalars, texts


def test_the_interface_skips_what_is_not_a_number():
    t = MemoryLogger()
    t.log_scalars({"a": 1, "b": np.float32(2.5), "c": "x", "d": None, "e": float("nan"), "f": True,
                   "g": float("inf")}, step=3, prefix="p/")
    assert t.scalars == [("p/a", 1.0, 3), ("p/b", 2.5, 3)]
    t.log_history([{"epoch": 1, "loss": 2.0}, {"epoch": 2, "loss": 1.0, "note": "x"}, {"loss": 0.5}], "train/")
    assert t.series("train/loss") == [(1, 2.0), (2, 1.0), (3, 0.5)]
    t.log_params({"model": "eszsl", "seed": 0})
    assert t.params == {"model": "eszsl", "seed": 0} and t.texts[-1][0] == "params" and "eszsl" in t.texts[-1][1]
    with ExperimentLogger() as quiet:  # the base class logs nothing and needs nothing
        quiet.log_scalar("x", 1.0)
        log_metrics(quiet, {"zsl": {"T1": 1.0}})


def test_a_run_logs_search_epochs_and_final_metrics(toy_dir):
    t = MemoryLogger()
    cfg = TrainConfig(data=str(toy_dir), model="regressor(epochs=3, hidden=0)", grid={"lr": [0.01, 0.1]})
    res = train(cfg, logger=t)
    assert t.params["model"] == cfg.model and "progress" not in t.params
    table = res.selection.table
    assert t.series("search/val_T1") == [(i, pytest.approx(r["val_T1"])) for i, r in enumerate(table)]
    best = next(i for i, r in enumerate(table) if r["val_H"] is not None)
    assert t.series("search/val_H") == [(best, pytest.approx(table[best]["val_H"]))]
    assert [s for s, _ in t.series("search/p0/fold1/loss")] == [1, 2, 3] and t.series("search/p1/fold1/loss")
    assert "search/points" in dict((tag, x) for tag, x, _ in t.texts)
    assert [v for _, v in t.series("train/loss")] == pytest.approx([r["loss"] for r in res.model.history_])
    m = res.to_dict()
    for tag, value in (("T1", m["zsl"]["T1"]), ("H", m["gzsl"]["H"]), ("U", m["gzsl"]["U"]), ("S", m["gzsl"]["S"]),
                       ("AUSUC", m["ausuc"]), ("gamma", m["gzsl"]["gamma"])):
        assert t.series(f"test/{tag}") == [(0, pytest.approx(value))], tag
    assert {"time/select", "time/fit", "time/evaluate"} <= set(t.tags())


def test_closed_form_models_log_no_epochs(toy_dir):
    t = MemoryLogger()
    train(TrainConfig(data=str(toy_dir), model="eszsl", grid={"alpha": [1.0, 10.0, 100.0], "lam": [1.0]}), logger=t)
    assert len(t.series("search/val_T1")) == 3 and not [x for x in t.tags() if x.startswith(("train/", "search/p"))]
    assert math.isfinite(t.series("test/H")[0][1])


def test_tensorboard_needs_the_package(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    with pytest.raises(ConfigError, match=r"needs the tensorboard package.*zslkit\[tracking\]"):
        TrainConfig(data="x", tensorboard="tb").validate()


@needs_tensorboard
def test_cli_train_writes_tensorboard_events(toy_dir, tmp_path):
    from zslkit.cli import main
    from zslkit.utils.outputs import read_manifest

    tb = tmp_path / "tb"
    tb.mkdir()
    (tb / "notes.txt").write_text("mine")  # a folder of the user's: its files stay
    out = tmp_path / "run"
    r = CliRunner().invoke(main, ["-q", "train", "--data", str(toy_dir), "--model", "regressor(epochs=2, hidden=0)",
                                  "--grid", "lr=0.01,0.1", "--out", str(out), "--tensorboard", str(tb)])
    assert r.exit_code == 0, r.output
    metrics = json.loads((out / "metrics.json").read_text())
    scalars, texts = events(tb)
    assert scalars["test/H"] == [(0, pytest.approx(metrics["gzsl"]["H"], rel=1e-6))]  # float32 in the event file
    assert scalars["test/T1"] == [(0, pytest.approx(metrics["zsl"]["T1"], rel=1e-6))]
    assert [s for s, _ in scalars["train/loss"]] == [1, 2] and len(scalars["search/val_T1"]) == 2
    assert "regressor(epochs=2, hidden=0)" in texts["params"] and "lr" in texts["search/points"]
    assert (tb / "notes.txt").read_text() == "mine"
    listed = read_manifest(tb)["entries"]
    assert [n for n in listed if n.startswith("events.out.tfevents.")] and "notes.txt" not in listed
    # the same run again: finished, nothing recomputed, nothing logged (tracking does not make it another run)
    n_files = len(list(tb.glob("events.out.tfevents.*")))
    r = CliRunner().invoke(main, ["-q", "train", "--data", str(toy_dir), "--model", "regressor(epochs=2, hidden=0)",
                                  "--grid", "lr=0.01,0.1", "--out", str(out), "--tensorboard", str(tmp_path / "tb2")])
    assert r.exit_code == 0 and "already holds a finished run" in r.output
    assert len(list(tb.glob("events.out.tfevents.*"))) == n_files and not (tmp_path / "tb2").exists()


@needs_tensorboard
def test_tensorboard_folder_inside_the_run_is_part_of_the_run(toy_dir, tmp_path):
    from zslkit.pipeline import train_to_dir
    from zslkit.utils.outputs import read_manifest

    out = tmp_path / "run"
    train_to_dir(TrainConfig(data=str(toy_dir), model="eszsl", tune=False, tensorboard=str(out / "tb")), out)
    entries = read_manifest(out)["entries"]
    assert entries["tb"]["type"] == "dir" and any(k.startswith("tb/events.out.tfevents.") for k in entries)
    assert events(out / "tb")[0]["test/T1"]
    train_to_dir(TrainConfig(data=str(toy_dir), model="sae", tune=False), out, overwrite=True)
    assert not (out / "tb").exists()  # --overwrite removes what the earlier run wrote, its event files too


@needs_tensorboard
def test_benchmark_logs_every_cell_into_its_own_folder(toy_dir, tmp_path):
    from zslkit.grid import GridConfig, cell_id, run_grid

    tb = tmp_path / "tb"
    cfg = GridConfig(data=[str(toy_dir)], models=["eszsl", "sae"], seeds=[0], out=str(tmp_path / "g"),
                     grids={"eszsl": {"alpha": [1.0], "lam": [1.0]}, "sae": {"lam": [0.2]}}, tensorboard=str(tb),
                     save_models=False)
    run_grid(cfg)
    cells = sorted((tmp_path / "g" / "cells").iterdir())
    assert len(cells) == 2 and sorted(p.name for p in tb.iterdir()) == [c.name for c in cells]
    for c in cells:
        assert events(tb / c.name)[0]["test/H"] and not (c / "model.json").exists()
    assert cell_id({"data": str(toy_dir), "semantic": "att", "model": "sae", "seed": 0}) in {c.name for c in cells}
