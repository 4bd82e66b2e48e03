"""Saved models of feature-level runs: ``load_run`` and ``zslkit predict`` reproduce what the run computed,
and bad input is one ``error:`` line naming the file and what was expected."""

from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

import zslkit
from zslkit.cli import main
from zslkit.errors import ConfigError, ZSLDataError
from zslkit.pipeline import TrainConfig, train
from zslkit.predict import RunModel, load_run


def invoke(*args: str):
    return CliRunner().invoke(main, ["-q", *map(str, args)])


def one_error(r) -> str:
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    lines = [ln for ln in r.output.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, r.output
    return lines[0]


@pytest.fixture(scope="module")
def eszsl_run(toy_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "eszsl"
    return train(TrainConfig(data=str(toy_dir), model="eszsl", grid={"alpha": [1.0, 100.0], "lam": [1.0]}),
                 out_dir=out), out


@pytest.mark.parametrize("model, transform", [("eszsl", None), ("sae", "expchi2(norm=l1, n_components=20)"),
                                              ("regressor(epochs=2, hidden=16)", None)])
def test_a_loaded_run_reproduces_the_runs_scores_and_test_predictions(toy_dir, toy_data, tmp_path, model, transform):
    out = tmp_path / "run"
    res = train(TrainConfig(data=str(toy_dir), model=model, tune=False, transform=transform), out_dir=out)
    assert (out / "model.json").is_file() and (out / "model.npz").is_file()
    run = load_run(out)
    assert isinstance(run, RunModel) and run.path == out and run.info["model"] == model
    assert (run.transform is None) == (transform is None) and run.gamma == res.metrics.gamma
    assert run.class_names == toy_data.class_names and run.n_features == toy_data.features.shape[1]
    X = toy_data.features[::7]
    for classes in ("unseen", "seen", "all", ["toyclass_03", "toyclass_01"]):
        assert np.array_equal(run.scores(X, classes), res.run_model.scores(X, classes))
    # the test predictions the run recorded (predictions.npz) come back from the saved model
    with np.load(out / "predictions.npz") as p:
        zsl = run.top_k(toy_data.features[p["zsl_idx"]], 1, "unseen")[0][:, 0]
        gzsl = run.top_k(toy_data.features[p["gzsl_idx"]], 1, "all")[0][:, 0]
        assert np.array_equal(zsl, p["zsl_y_pred"]) and np.array_equal(gzsl, p["gzsl_y_pred"])
        assert np.array_equal(run.candidates("all"), p["candidates"])


def test_scores_classes_top_k_and_calibration(eszsl_run, toy_data):
    res, out = eszsl_run
    run = zslkit.load_run(out)
    X = toy_data.features[:5]
    raw = run.model.scores(X, run.semantic[run.candidates("all")])
    seen = np.isin(run.candidates("all"), run.seen_classes)
    assert np.allclose(run.scores(X, "all"), raw - run.gamma * seen) and run.gamma > 0
    assert np.allclose(run.scores(X, "all", calibrated=False), raw)
    assert np.allclose(run.scores(X, "seen"), raw[:, seen])  # one kind of class: nothing to calibrate
    ids, s = run.top_k(X, 3, "unseen")
    assert ids.shape == s.shape == (5, 3) and np.all(np.diff(s, axis=1) <= 0)
    assert set(ids.ravel()) <= set(run.unseen_classes.tolist())
    assert list(run.predict(X)) == [run.class_names[i] for i in ids[:, 0]]
    assert run.top_k(X, 99, "unseen")[0].shape == (5, run.unseen_classes.size)  # k capped at the candidates
    with pytest.raises(ConfigError, match=r"unknown class 'toyclas_03' \(did you mean 'toyclass_03'\?\)"):
        run.candidates(["toyclas_03"])
    with pytest.raises(ConfigError, match="listed twice"):
        run.candidates(["toyclass_03", 3])
    with pytest.raises(ConfigError, match="expected one of"):
        run.scores(X, "unsen")
    with pytest.raises(ZSLDataError, match=r"features of shape \(5, 7\), expected N x 128"):
        run.scores(X[:, :7])


def test_cli_predict_writes_a_csv_of_predicted_classes(eszsl_run, toy_data, tmp_path):
    _, out = eszsl_run
    run = load_run(out)
    feats = tmp_path / "new.npy"
    np.save(feats, toy_data.features[:12].astype(np.float64))
    r = invoke("predict", out, "--features", feats, "--top-k", "2", "--out", tmp_path / "p.csv")
    assert r.exit_code == 0, r.output
    rows = list(csv.reader((tmp_path / "p.csv").open()))
    assert rows[0] == ["image", "predicted", "score", "class_2", "score_2"] and len(rows) == 13
    assert [row[1] for row in rows[1:]] == list(run.predict(toy_data.features[:12]))
    assert [row[0] for row in rows[1:]] == [str(i) for i in range(12)]
    # --run, a file of class names, and the same file again (zslkit's own output is replaced)
    names = tmp_path / "classes.txt"
    names.write_text("# two classes\ntoyclass_03\n\ntoyclass_05\n")
    r = invoke("predict", "--run", out, "--features", feats, "--classes", names, "--out", tmp_path / "p.csv")
    assert r.exit_code == 0, r.output
    assert {row[1] for row in list(csv.reader((tmp_path / "p.csv").open()))[1:]} <= {"toyclass_03", "toyclass_05"}
    # a dataset directory: every image, named by its image file
    r = invoke("predict", out, "--data", toy_data.provenance["root"], "--classes", "all", "--out", tmp_path / "d.csv")
    assert r.exit_code == 0, r.output
    rows = list(csv.reader((tmp_path / "d.csv").open()))
    assert len(rows) == toy_data.features.shape[0] + 1 and rows[1][0].endswith(".jpg")


def test_cli_predict_bad_input_is_one_error_line(eszsl_run, toy_data, tmp_path):
    _, out = eszsl_run
    narrow = tmp_path / "narrow.csv"
    np.savetxt(narrow, toy_data.features[:3, :10], delimiter=",")
    line = one_error(invoke("predict", out, "--features", narrow, "--out", tmp_path / "p.csv"))
    assert str(narrow) in line and "expected N x 128" in line and "model.json" in line
    line = one_error(invoke("predict", tmp_path / "nope", "--features", narrow, "--out", tmp_path / "p.csv"))
    assert "nope: no such run directory" in line
    old = tmp_path / "old_run"
    shutil.copytree(out, old)
    (old / "model.json").unlink()
    line = one_error(invoke("predict", old, "--features", narrow, "--out", tmp_path / "p.csv"))
    assert "a run without a saved model (model.json)" in line and "--overwrite" in line
    (tmp_path / "empty").mkdir()
    assert "not a zslkit run directory" in one_error(invoke("predict", tmp_path / "empty", "--features", narrow,
                                                            "--out", tmp_path / "p.csv"))
    feats = tmp_path / "f.npy"
    np.save(feats, toy_data.features[:3])
    assert "one of --features FILE or --data DIR" in one_error(invoke("predict", out, "--out", tmp_path / "p.csv"))
    assert "--classes 'some'" in one_error(invoke("predict", out, "--features", feats, "--classes", "some",
                                                   "--out", tmp_path / "p.csv"))
    bad = tmp_path / "bad.txt"
    bad.write_text("toyclass_03\ntoyclas_05\n")
    line = one_error(invoke("predict", out, "--features", feats, "--classes", bad, "--out", tmp_path / "p.csv"))
    assert str(bad) in line and "did you mean 'toyclass_05'" in line
    assert "--top-k" in one_error(invoke("predict", out, "--features", feats, "--top-k", "0", "--out",
                                         tmp_path / "p.csv"))
    assert "is one of the input files" in one_error(invoke("predict", out, "--features", feats, "--out", feats))
    mine = tmp_path / "mine.csv"
    mine.write_text("my notes")
    line = one_error(invoke("predict", out, "--features", feats, "--out", mine))
    assert "not written by zslkit" in line and mine.read_text() == "my notes"
    assert "no run directory" in one_error(invoke("predict", "--features", feats, "--out", tmp_path / "p.csv"))


def test_damaged_model_files_name_the_file(eszsl_run, tmp_path):
    _, out = eszsl_run
    run = tmp_path / "run"
    shutil.copytree(out, run)
    (run / "model.npz").write_bytes(b"not a zip")
    with pytest.raises(ZSLDataError, match=r"model\.npz: unreadable"):
        load_run(run)
    shutil.copy(out / "model.npz", run / "model.npz")
    (run / "model.json").write_text('{"format": "zslkit-state-v1", "semantic": "classes.semantic"}')
    with pytest.raises(ZSLDataError, match=r"model\.json: incomplete saved model"):
        load_run(run)


def test_grid_cells_save_their_models(toy_dir, toy_data, tmp_path):
    from zslkit.grid import GridConfig, run_grid

    run_grid(GridConfig(data=[str(toy_dir)], models=["eszsl"], seeds=[0], out=str(tmp_path / "g"),
                        grids={"eszsl": {"alpha": [1.0], "lam": [1.0]}}))
    (cell,) = (tmp_path / "g" / "cells").iterdir()
    run = load_run(cell)
    with np.load(cell / "predictions.npz") as p:
        assert np.array_equal(run.top_k(toy_data.features[p["zsl_idx"]], 1)[0][:, 0], p["zsl_y_pred"])


def test_a_model_zslkit_cannot_store_leaves_a_complete_run_without_a_model(toy_dir, tmp_path, monkeypatch, caplog):
    """A user-registered model from a module zslkit does not load classes from: the run is saved (metrics,
    predictions) with a warning, without model files, and ``predict`` says the run has no saved model."""
    from tests.evaluation.test_imbalance import _LstsqRegressor
    from zslkit.registry import MODELS

    monkeypatch.setitem(MODELS, "lstsq_test", _LstsqRegressor)
    out = tmp_path / "run"
    with caplog.at_level("WARNING", logger="zslkit.pipeline"):
        train(TrainConfig(data=str(toy_dir), model="lstsq_test", tune=False), out_dir=out)
    assert (out / "metrics.json").is_file() and not (out / "model.json").exists()
    assert any("not saved" in r.getMessage() for r in caplog.records)
    np.save(tmp_path / "x.npy", np.zeros((2, 8), np.float32))
    assert "a run without a saved model" in one_error(invoke("predict", out, "--features", tmp_path / "x.npy", "--out",
                                       tmp_path / "p.csv"))
