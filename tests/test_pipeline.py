"""zslkit.pipeline.train: relation-aware validation of class-relation embeddings (VGSE)."""

import json
from pathlib import Path

import numpy as np
import pytest

from zslkit.errors import ConfigError, ZSLDataError
from zslkit.pipeline import TrainConfig, train


@pytest.fixture(scope="module")
def vgse_file(toy_data, tmp_path_factory):
    # A class matrix whose unseen rows are predicted from the seen rows, like VGSE_SMO.mat.
    from zslkit.data.xlsa17 import read_class_semantic
    from zslkit.vgse.discovery import unseen_from_relation

    wv, _, _ = read_class_semantic(toy_data.provenance["root"], "word2vec", toy_data.num_classes)
    sem = toy_data.semantic.astype(np.float32).copy()
    s, u = toy_data.seen_classes, toy_data.unseen_classes
    _, sem[u] = unseen_from_relation(wv[s], wv[u], sem[s], "smo", 0.0)
    path = tmp_path_factory.mktemp("vgse") / "VGSE_SMO.npy"
    np.save(path, sem)
    return path


def test_auto_uses_relation_validation_for_vgse(toy_dir, toy_data, vgse_file, tmp_path):
    cfg = TrainConfig(data=str(toy_dir), semantic=str(vgse_file), grid={"alpha": [1.0, 100.0], "lam": [1.0]})
    assert cfg.uses_relation_validation()
    assert not TrainConfig(data=str(toy_dir), semantic="att").uses_relation_validation()
    assert TrainConfig(data=str(toy_dir), semantic="vgse").uses_relation_validation()
    rel = train(cfg)
    same = train(TrainConfig(**{**cfg.__dict__, "val_semantic": "same"}))
    d = json.loads((rel.save(tmp_path / "run") / "metrics.json").read_text())
    assert d["val_semantic"] == "relation (smo on word2vec)" and d["config"]["val_semantic"] == "auto"
    assert same.to_dict()["val_semantic"] == "same"
    # validation differs: the two selections score different fold matrices
    assert [r["val_T1"] for r in rel.selection.table] != [r["val_T1"] for r in same.selection.table]
    for r in (rel, same):
        assert 0.0 < r.metrics.T1 <= 100.0 and np.isfinite(r.metrics.H)


def test_relation_validation_errors(toy_dir, vgse_file):
    cfg = TrainConfig(data=str(toy_dir), semantic=str(vgse_file), relation_word_vectors=str(toy_dir / "nope.npy"))
    with pytest.raises(ZSLDataError, match="relation_word_vectors.*val_semantic: same"):
        train(cfg)
    with pytest.raises(ConfigError, match="val_semantic"):
        train(TrainConfig(data=str(toy_dir), val_semantic="relations"))
    with pytest.raises(ConfigError, match="relation_method"):
        train(TrainConfig(data=str(toy_dir), relation_method="lsq"))


def test_run_result_saves_and_plots(toy_dir, tmp_path):
    res = train(TrainConfig(data=str(toy_dir), model="regressor(epochs=2)", tune=False))
    figs = res.plot(tmp_path / "run")
    assert (tmp_path / "run" / "metrics.json").is_file()
    for name in ("ausuc", "confusion_gzsl", "confusion_zsl", "attribute_errors_test_unseen"):
        assert figs[name].endswith(".png") and (tmp_path / "run" / "figures").is_dir()
        with open(figs[name], "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_finished_run_only_accepts_a_complete_run_of_the_same_config(toy_dir, tmp_path):
    from zslkit.pipeline import finished_run

    cfg = TrainConfig(data=str(toy_dir), grid={"alpha": [1.0], "lam": [1.0]})
    run = tmp_path / "run"
    assert finished_run(run, cfg) is None
    train(cfg).save(run)
    saved = finished_run(run, cfg)
    assert saved is not None and saved["config"]["data"] == str(toy_dir) and 0 < saved["zsl"]["T1"] <= 100
    assert finished_run(run, TrainConfig(**{**cfg.__dict__, "seed": 1})) is None
    (run / "metrics.json").write_text("{not json")
    assert finished_run(run, cfg) is None


def test_run_directory_records_provenance_curve_history_and_log(toy_dir, tmp_path):
    import json

    from zslkit.pipeline import train_to_dir

    out = tmp_path / "run"
    train_to_dir(TrainConfig(data=str(toy_dir), model="regressor", params={"epochs": 2}, tune=False), out)
    m = json.loads((out / "metrics.json").read_text())
    assert "curve" not in m  # small metrics.json: the curve has its own file
    curve = json.loads((out / "curve.json").read_text())
    assert set(curve) == {"gamma", "U", "S"} and len(curve["U"]) > 2
    pv = m["provenance"]
    assert pv["zslkit_version"] and pv["versions"]["numpy"] and pv["versions"]["torch"] and pv["host"]
    assert pv["timestamp"].endswith("+00:00") and "vector_isa" in pv["cpu"] and pv["threads"]["torch"] >= 1
    hashed = {Path(k).name: v for k, v in pv["data_sha256"].items()}
    assert set(hashed) == {"res101.mat", "att_splits.mat"} and all(len(v) == 64 for v in hashed.values())
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2] and "loss" in history[0]
    log = (out / "run.log").read_text()
    assert "INFO" in log  # the run's log records, whatever the console showed


def test_a_failed_run_writes_its_error_into_run_log(toy_dir, tmp_path, monkeypatch):
    import zslkit.pipeline as pipeline
    from zslkit.pipeline import train_to_dir

    out = tmp_path / "run"
    with pytest.raises(ZSLDataError, match="semantic 'word2vc' \\(did you mean 'word2vec'\\?\\)") as info:
        train_to_dir(TrainConfig(data=str(toy_dir), semantic="word2vc", tune=False), out)
    lines = (out / "run.log").read_text().splitlines()
    assert lines[-1].endswith(f"ERROR zslkit.pipeline: run failed: {info.value}")  # an input error: its one line
    monkeypatch.setattr(pipeline, "_train_features", lambda *args: 1 / 0)  # a bug: the traceback too
    with pytest.raises(ZeroDivisionError):
        train_to_dir(TrainConfig(data=str(toy_dir), tune=False), out)
    log = (out / "run.log").read_text()
    assert log.startswith("\n".join(lines)) and "run failed: ZeroDivisionError: division by zero" in log
    assert log.rstrip().endswith("ZeroDivisionError: division by zero") and "Traceback" in log


def test_no_seen_validation_images_leaves_gzsl_uncalibrated_not_nan(toy_dir):
    """Found by the YAML fuzz test: val_holdout=0.0039 leaves the validation folds without seen-class
    images, the oracle gamma of every fold is NaN, and a NaN gamma reached the test evaluation."""
    import math

    from zslkit.pipeline import TrainConfig, train

    res = train(TrainConfig(data=str(toy_dir), model="eszsl", val_holdout=0.00390625))
    d = res.to_dict()
    assert d["gzsl"]["gamma"] == 0.0 and all(math.isfinite(d["gzsl"][k]) for k in ("U", "S", "H"))
    assert d["gamma_source"].startswith("none (0)")


def test_degenerate_input_is_an_error_or_a_warning_where_the_run_starts(toy_data, tmp_path, caplog):
    """All-zero training features: an error before any model is fitted; an unseen class with an all-zero
    semantic row: the run goes on, with a warning naming the class."""
    import dataclasses
    import logging

    feats = toy_data.features.copy()
    feats[toy_data.splits["trainval"]] = 0.0
    flat = dataclasses.replace(toy_data, features=feats)
    cfg = TrainConfig(data=str(toy_data.provenance["root"]), model="eszsl", tune=False)
    with pytest.raises(ZSLDataError, match=r"features of all \d+ trainval images are identical \(all zero\)"):
        train(cfg, data=flat, out_dir=tmp_path / "flat")
    assert not (tmp_path / "flat" / "metrics.json").exists()
    sem = toy_data.semantic.copy()
    u = int(toy_data.unseen_classes[0])
    sem[u] = 0.0
    with caplog.at_level(logging.WARNING, logger="zslkit"):
        train(cfg, data=toy_data.with_semantic(sem, "att"), out_dir=tmp_path / "zero_row")
    name = toy_data.class_names[u]
    assert any(f"classes [{name!r}] have an all-zero row" in r.getMessage() for r in caplog.records)
    assert (tmp_path / "zero_row" / "metrics.json").is_file()
