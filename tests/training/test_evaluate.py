"""Evaluating a trained AttentionNet, e.g. the authors' ReZSL checkpoints, under zslkit's protocol."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from tests.models.test_attention_net import authors_forward, authors_state_dict
from zslkit.cli import main
from zslkit.evaluation import evaluate
from zslkit.evaluation.analysis import load_run
from zslkit.training.feature_maps import save_feature_maps
from zslkit.image_pipeline import evaluate_attention_net, load_attention_net


@pytest.fixture(scope="module")
def maps_dir(tmp_path_factory, tiny_maps):
    return save_feature_maps(tmp_path_factory.mktemp("maps") / "maps", tiny_maps)


def _reference_metrics(sd, data, gamma):
    """The protocol applied to the authors' forward, written from the formula (numpy)."""
    params = {}
    names = {"QueryW": "query", "KeyW": "key", "ValueW": "value", "W_o": "out"}
    for k, v in sd.items():
        parts = k.replace("module.", "").split(".")
        key = "attribute_weight" if parts[1] == "V_att_final_branch" else f"{names[parts[1]]}.{parts[-1]}"
        params[key] = v.double().numpy()
    maps = np.asarray(data.inputs, dtype=np.float64)
    pred, _ = authors_forward(maps.reshape(maps.shape[0], maps.shape[1], -1),
                              data.attribute_vectors.astype(np.float64), params)
    sem = data.semantic

    def scores(X, classes):
        a = X / np.linalg.norm(X, axis=1, keepdims=True)
        b = sem[classes] / np.linalg.norm(sem[classes], axis=1, keepdims=True)
        return a @ b.T

    return evaluate(scores, pred, data.labels, data.test_split(), gamma=gamma)


def test_cli_evaluates_an_authors_checkpoint(tmp_path, tiny_maps, maps_dir):
    d = tiny_maps
    sd = authors_state_dict(d.num_attributes, d.attribute_vectors.shape[1], d.map_shape[0], med=16, seed=2)
    ckpt = tmp_path / "AttentionNet_cub.pth"
    torch.save({"model": sd}, ckpt)
    out = tmp_path / "run"
    res = CliRunner().invoke(main, ["-q", "evaluate", str(ckpt), "--data", str(maps_dir), "--out", str(out),
                                    "--gamma", "0.1"])
    assert res.exit_code == 0, res.output
    assert "rezsl model" in res.output and "oracle" in res.output
    m = json.loads((out / "metrics.json").read_text())
    ref = _reference_metrics(sd, d, gamma=0.1)
    assert m["zsl"]["T1"] == pytest.approx(ref.T1, abs=1e-6)
    assert (m["gzsl"]["U"], m["gzsl"]["S"], m["gzsl"]["H"]) == pytest.approx((ref.U, ref.S, ref.H), abs=1e-6)
    assert m["gzsl"]["gamma"] == 0.1 and m["evaluated"]["format"] == "rezsl" and m["surrogate"] is True
    # a train-style run directory: analyze reads it, and model.pt reloads in zslkit's format
    metrics, arrays = load_run(out)
    assert arrays["pred_semantics"].shape == (arrays["gzsl_idx"].size, d.num_attributes)
    model, info = load_attention_net(out)
    assert info["gamma"] == 0.1 and model.attention_dim == 16
    res = CliRunner().invoke(main, ["-q", "analyze", str(out), "--data", str(maps_dir)])
    assert res.exit_code == 0, res.output
    written = out.parent / f"{out.name}-analysis"  # beside the run, which analyze only reads
    assert (written / "figures" / "attention_maps.png").is_file() and (written / "analysis.json").is_file()
    assert not (out / "figures").exists() and not (out / "analysis.json").exists()


def test_evaluate_without_gamma_is_uncalibrated_and_reports_the_oracle(tiny_maps):
    d = tiny_maps
    from zslkit.models.attention_net import load_rezsl_checkpoint

    sd = authors_state_dict(d.num_attributes, d.attribute_vectors.shape[1], d.map_shape[0], med=16, seed=3)
    res = evaluate_attention_net(load_rezsl_checkpoint(sd, d.attribute_vectors), d, device="cpu")
    assert res["gzsl"]["gamma"] == 0.0 and "uncalibrated" in res["gamma_source"]
    assert res["gzsl"]["H"] == pytest.approx(res["gzsl_uncalibrated"]["H"])
    assert res["gzsl_oracle"]["H"] >= res["gzsl"]["H"]  # the oracle gamma maximises H on the test split itself


def test_cli_evaluate_errors(tmp_path, tiny_maps, maps_dir):
    d = tiny_maps
    sd = authors_state_dict(d.num_attributes + 1, d.attribute_vectors.shape[1], d.map_shape[0], med=16)
    ckpt = tmp_path / "wrong.pth"
    torch.save({"model": sd}, ckpt)
    res = CliRunner().invoke(main, ["evaluate", str(ckpt), "--data", str(maps_dir), "--out", str(tmp_path / "r")])
    assert res.exit_code == 2 and "error:" in res.output and "attribute" in res.output
    assert not (tmp_path / "r" / "metrics.json").exists()


def test_cli_evaluate_never_replaces_a_finished_run_without_overwrite(tmp_path, tiny_maps, maps_dir):
    d = tiny_maps
    sd = authors_state_dict(d.num_attributes, d.attribute_vectors.shape[1], d.map_shape[0], med=16, seed=4)
    ckpt = tmp_path / "AttentionNet.pth"
    torch.save({"model": sd}, ckpt)
    out = tmp_path / "run"
    args = ["-q", "evaluate", str(ckpt), "--data", str(maps_dir), "--out", str(out)]
    assert CliRunner().invoke(main, args).exit_code == 0
    stamp = (out / "metrics.json").read_bytes()
    (out / "mine.txt").write_text("mine")
    res = CliRunner().invoke(main, [*args, "--gamma", "0.2"])
    assert res.exit_code == 2 and "holds a finished run" in res.output and "--overwrite" in res.output
    assert (out / "metrics.json").read_bytes() == stamp
    res = CliRunner().invoke(main, [*args, "--gamma", "0.2", "--overwrite"])
    assert res.exit_code == 0, res.output
    assert json.loads((out / "metrics.json").read_text())["gzsl"]["gamma"] == 0.2
    assert (out / "mine.txt").read_text() == "mine"
    # a folder with the user's model.pt / metrics.json (no zslkit manifest) is not an output directory
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "model.pt").write_bytes(b"user model")
    for extra in ([], ["--overwrite"]):
        res = CliRunner().invoke(main, ["-q", "evaluate", str(ckpt), "--data", str(maps_dir), "--out", str(theirs),
                                        *extra])
        assert res.exit_code == 2 and "not written by zslkit" in res.output
    assert (theirs / "model.pt").read_bytes() == b"user model"
