"""The CLI as a user runs it: subprocesses, exit codes, files written."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import shared_file

REPO = Path(__file__).resolve().parents[1]


def run_cli(*args, check=True):
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    p = subprocess.run([sys.executable, "-m", "zslkit", *args], capture_output=True, text=True, env=env)
    if check and p.returncode != 0:
        raise AssertionError(f"zslkit {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def test_synth_inspect_train(tmp_path):
    out = tmp_path / "sawa2"
    p = run_cli("data", "synth", "--att-splits", str(shared_file("AWA2", "att_splits.mat")), "--out", str(out),
                "--seed", "0", "--feature-dim", "64")
    assert "SURROGATE" in p.stdout and "23527" in p.stdout
    p = run_cli("data", "inspect", str(out))
    assert "SURROGATE" in p.stdout and "num_unseen: 10" in p.stdout
    p = run_cli("data", "inspect", str(out / "res101.mat"))
    assert "features" in p.stdout and "(64, 37322)" in p.stdout
    run_dir = tmp_path / "run"
    p = run_cli("train", "--data", str(out), "--model", "eszsl", "--semantic", "word2vec", "--out", str(run_dir),
                "--param", "lam=1.0")
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["surrogate"] is True and m["semantic"] == "word2vec"
    assert set(m["gzsl"]) >= {"U", "S", "H", "gamma"} and 0 <= m["zsl"]["T1"] <= 100
    assert m["gamma_source"] == "validation classes"
    assert m["params"]["lam"] == 1.0 and len(m["selection"]["table"]) == 10  # lam fixed, alpha searched
    assert (run_dir / "config.yaml").is_file()
    assert "oracle" in p.stdout


def test_synth_preset_knobs_and_class_embeddings(tmp_path):
    w2v = shared_file("CUB", "att_splits.mat").parents[2] / "word-vectors"
    out = tmp_path / "cub"
    p = run_cli("data", "synth", "--att-splits", str(shared_file("CUB", "att_splits.mat")), "--out", str(out),
                "--feature-dim", "16", "--preset", "generic", "--set", "nuisance_weight=1.25",
                "--class-embeddings", str(w2v / "CUB_class_w2v.npy"),
                "--class-embedding-names", str(w2v / "CUB_class_names.txt"))
    meta = json.loads((out / "SURROGATE.json").read_text())
    assert meta["preset"] == "generic" and meta["config"]["nuisance_weight"] == 1.25
    assert meta["config"]["feature_dim"] == 16 and meta["class_embeddings"]["source"] == "file"
    assert "zslkit-surrogate-2" in p.stdout
    p = run_cli("data", "synth", "--att-splits", str(shared_file("CUB", "att_splits.mat")), "--out",
                str(tmp_path / "x"), "--set", "colour=2", check=False)
    assert p.returncode == 2 and "colour" in p.stderr and "nuisance_weight" in p.stderr
    p = run_cli("data", "synth", "--att-splits", str(shared_file("CUB", "att_splits.mat")), "--out",
                str(tmp_path / "y"), "--preset", "nope", check=False)
    assert p.returncode == 2 and "unknown surrogate preset 'nope'" in p.stderr


def test_cli_errors_are_one_line_without_traceback(tmp_path):
    p = run_cli("data", "inspect", str(tmp_path / "nope"), check=False)
    assert p.returncode == 2
    assert "error:" in p.stderr and "Traceback" not in p.stderr and "nope" in p.stderr
    (tmp_path / "bad.mat").write_text("not a mat file")
    p = run_cli("data", "inspect", str(tmp_path / "bad.mat"), check=False)
    assert p.returncode == 2 and "not a readable MATLAB" in p.stderr
    p = run_cli("--debug", "data", "inspect", str(tmp_path / "bad.mat"), check=False)
    assert p.returncode != 0 and "Traceback" in p.stderr
    p = run_cli("train", "--data", str(tmp_path), "--model", "nosuchmodel", "--out", str(tmp_path / "r"), check=False)
    assert p.returncode == 2 and "error:" in p.stderr


def test_unknown_names_suggest_the_closest_and_list_every_model(toy_dir, tmp_path):
    p = run_cli("train", "--data", str(toy_dir), "--model", "nosuchmodel", "--out", str(tmp_path / "r"), check=False)
    assert p.returncode == 2 and "unknown model 'nosuchmodel'" in p.stderr and "eszsl" in p.stderr
    p = run_cli("train", "--data", str(toy_dir), "--model", "eszls", "--out", str(tmp_path / "r"), check=False)
    _one_error_line(p, "unknown model 'eszls' (did you mean 'eszsl'?)", "'softmax_compat'",
                    "image-level models: ['attention_net', 'basic_net', 'gem_zsl']")
    p = run_cli("train", "--data", str(toy_dir), "--param", "alpah=1", "--out", str(tmp_path / "r"), check=False)
    _one_error_line(p, "model 'eszsl' has no hyperparameter 'alpah' (did you mean 'alpha'?)")
    p = run_cli("train", "--data", str(toy_dir), "--grid", "alpah=1,2", "--out", str(tmp_path / "r"), check=False)
    _one_error_line(p, "--grid 'alpah=1,2'", "(did you mean 'alpha'?)")
    p = run_cli("benchmark", "--data", str(toy_dir), "--model", "sea", "--out", str(tmp_path / "g"), check=False)
    _one_error_line(p, "unknown model 'sea' (did you mean 'sae'?)")
    p = run_cli("benchmark", "--data", str(toy_dir), "--model", "gem_zsl", "--out", str(tmp_path / "g"), check=False)
    _one_error_line(p, "'gem_zsl' is an image-level model: a grid runs feature-level models only")
    assert not (tmp_path / "r").exists() and not (tmp_path / "g").exists()


@pytest.mark.slow
def test_demo_runs(tmp_path):
    p = run_cli("demo", "--small", "--out", str(tmp_path / "demo"), "--model", "eszsl", "--semantic", "word2vec",
                "--semantic", "vgse")
    m = json.loads((tmp_path / "demo" / "metrics.json").read_text())
    assert m["synthetic_world"] is True and len(m["rows"]) == 2
    assert all(0 <= r["T1"] <= 100 for r in m["rows"])
    assert "SYNTHETIC" in p.stdout and "report.html" in p.stdout
    assert (tmp_path / "demo" / "report.html").stat().st_size > 10_000
    p = run_cli("demo", "--out", str(tmp_path / "bad"), "--model", "nosuchmodel", check=False)
    assert p.returncode == 2 and "nosuchmodel" in p.stderr and not (tmp_path / "bad" / "metrics.json").exists()


def test_attention_net_train_and_attention_maps(tmp_path):
    from zslkit.training.feature_maps import make_synthetic_feature_maps, save_feature_maps

    maps = save_feature_maps(tmp_path / "maps", make_synthetic_feature_maps(num_classes=10, num_unseen=3,
                                                                            images_per_class=8, seed=0))
    run = tmp_path / "run"
    p = run_cli("-q", "train", "--model", "attention_net", "--data", str(maps), "--out", str(run), "--loss", "remse",
                "--param", "epochs=1", "--param", "ways=4", "--param", "optimizer=adam", "--param", "lr=0.01")
    m = json.loads((run / "metrics.json").read_text())
    assert m["model"] == "attention_net" and m["params"]["loss"] == "remse" and 0 <= m["zsl"]["T1"] <= 100
    assert m["config"]["params"]["loss"] == "remse" and m["config"]["model"] == "attention_net"  # config.yaml's TrainConfig
    assert "images/s" in p.stdout
    p = run_cli("analyze", str(run))  # the same analysis as any run: curves, confusion, per-attribute errors
    written = tmp_path / "run-analysis"  # the default --out: beside the run
    assert "imbalance" in json.loads((written / "analysis.json").read_text())
    p = run_cli("analyze", str(run), "--data", str(maps))
    assert (written / "figures" / "attention_maps.png").read_bytes()[:4] == b"\x89PNG"
    assert not (run / "figures").exists() and not (run / "analysis.json").exists()
    p = run_cli("train", "--model", "attention_net", "--data", str(maps), "--out", str(run / "x"),
                "--param", "epochs=0", check=False)
    assert p.returncode == 2 and "epochs" in p.stderr


def test_models_lists_descriptions_defaults_and_grids():
    out = run_cli("models").stdout
    lines = [ln.strip() for ln in out.splitlines()]
    line = next(ln for ln in lines if ln.startswith("softmax_compat"))
    assert "VGSE paper's evaluation model (called SJE in their script)" in line
    assert any(ln.startswith("eszsl") and "{0, 1}" in ln for ln in lines)
    for name in ("attention_net", "gem_zsl", "basic_net", "abp"):  # every registered model, described
        assert any(ln.startswith(name) and len(ln.split(maxsplit=1)) == 2 for ln in lines), name
    i = next(i for i, ln in enumerate(lines) if ln.startswith("eszsl"))
    assert lines[i + 1] == 'defaults: alpha=1000.0, lam=1.0, normalize_features=false, label_coding="01"'
    assert lines[i + 2] == "searched: alpha=0.001,0.01,0.1,1.0,10.0,100.0,1000.0,10000.0,100000.0,1000000.0;"
    assert lines[i + 3] == "lam=0.001,0.01,0.1,1.0,10.0,100.0,1000.0"  # the --grid syntax, one grid a line
    # one model in detail: every hyperparameter, its default, type and default grid
    rows = [ln.split() for ln in run_cli("models", "eszsl").stdout.splitlines()]
    assert ["alpha", "1000.0", "float", "0.001,0.01,0.1,1.0,10.0,100.0,1000.0,10000.0,100000.0,1000000.0"] in rows
    assert ["normalize_features", "false", "bool"] in rows
    out = run_cli("models", "gem_zsl").stdout
    assert "presets (--param preset=NAME: the authors' settings): awa2, cub, sun" in out and "lambda_cpt" in out
    _one_error_line(run_cli("models", "eszls", check=False), "unknown model 'eszls' (did you mean 'eszsl'?)")


def _one_error_line(p, *needles):
    assert p.returncode == 2, (p.returncode, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in p.stderr, p.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def test_evaluate_and_analyze_bad_numbers_and_crafted_model_pt(tmp_path):
    """--batch-size 0 / -5, --index out of range, --top-k 0 and a model.pt whose bias has the wrong length:
    one error line each (exit 2), naming the option or the file and key."""
    import torch

    from zslkit.image_pipeline import load_image_model
    from zslkit.models.attention_net import AttentionNet
    from zslkit.training.checkpoint import save_checkpoint
    from zslkit.training.feature_maps import make_synthetic_feature_maps, save_feature_maps

    data = make_synthetic_feature_maps(num_classes=6, num_unseen=2, images_per_class=4, num_attributes=8, channels=8,
                                       size=4, word_dim=6, seed=0)
    maps = save_feature_maps(tmp_path / "maps", data)
    model = AttentionNet(torch.as_tensor(data.attribute_vectors), 8, attention_dim=5)
    run = tmp_path / "run"
    state = {"model": model.state_dict(), "meta": {"model_config": model.config()}, "gamma": 0.0}
    save_checkpoint(run / "model.pt", state)
    load_image_model(run)  # a valid model.pt: the errors below are the options' and the crafted file's
    for bs in ("0", "-5"):
        p = run_cli("evaluate", str(run / "model.pt"), "--data", str(maps), "--out", str(tmp_path / "e"),
                    "--batch-size", bs, check=False)
        _one_error_line(p, "--batch-size", bs)
    assert not (tmp_path / "e").exists()
    p = run_cli("analyze", str(run), "--data", str(maps), "--index", "99999", check=False)
    _one_error_line(p, "99999", "24 images", "0..23")
    p = run_cli("analyze", str(run), "--data", str(maps), "--top-k", "0", check=False)
    _one_error_line(p, "--top-k", "0")
    state["model"]["query.bias"] = torch.zeros(9)
    save_checkpoint(tmp_path / "crafted.pt", state)
    p = run_cli("evaluate", str(tmp_path / "crafted.pt"), "--data", str(maps), "--out", str(tmp_path / "e"),
                check=False)
    _one_error_line(p, str(tmp_path / "crafted.pt"), "model.query.bias", "(9,)", "(5,)")


def test_seeds_above_2_32_minus_1_are_one_error_line_in_every_command(tmp_path, toy_dir):
    big = str(2**32)
    att = str(toy_dir / "att_splits.mat")
    (tmp_path / "i").mkdir()
    for n in ("c", "u", "a"):
        (tmp_path / n).write_text("x\n")
    commands = [("train", "--data", str(toy_dir), "--seed", big, "--out", str(tmp_path / "r")),
                ("data", "synth", "--att-splits", att, "--out", str(tmp_path / "s"), "--seed", big),
                ("data", "build", "--images", str(tmp_path / "i"), "--classes", str(tmp_path / "c"), "--unseen",
                 str(tmp_path / "u"), "--attributes", str(tmp_path / "a"), "--backbone", "tiny", "--out",
                 str(tmp_path / "b"), "--seed", big),
                ("vgse", "discover", "--demo", "--seed", big, "--out", str(tmp_path / "v")),
                ("demo", "--small", "--seed", big, "--out", str(tmp_path / "d"))]
    for args in commands:
        p = run_cli(*args, check=False)
        _one_error_line(p, "must be an integer >= 0 and <= 4294967295", big)
    p = run_cli("benchmark", "--data", str(toy_dir), "--seeds", big, "--out", str(tmp_path / "g"), check=False)
    _one_error_line(p, "--seeds must be an integer in [1, 10000]", big)
    p = run_cli("benchmark", "--data", str(toy_dir), "--seeds", f"0,{big}", "--out", str(tmp_path / "g"), check=False)
    _one_error_line(p, "must be an integer >= 0 and <= 4294967295", big)
    assert not any((tmp_path / n).exists() for n in ("r", "s", "b", "v", "d", "g"))


def test_param_with_a_yaml_1_2_float(tmp_path, toy_dir):
    run_cli("-q", "train", "--data", str(toy_dir), "--model", "regressor", "--no-tune", "--param", "lr=1e-3",
            "--param", "epochs=1", "--out", str(tmp_path / "r"))
    m = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert m["params"]["lr"] == 0.001 and m["config"]["params"]["lr"] == 0.001


def test_seeds_are_a_list_or_a_count():
    from zslkit.cli import _parse_seeds
    from zslkit.errors import ConfigError

    assert _parse_seeds("3") == [0, 1, 2]  # a bare integer: a count, as before
    assert _parse_seeds("0,1,2") == [0, 1, 2] and _parse_seeds("5, 3") == [5, 3] and _parse_seeds("7,") == [7]
    for bad in ("x", "0,x", "0,,1", "0", ","):
        with pytest.raises(ConfigError, match="--seeds"):
            _parse_seeds(bad)


def test_grid_option_on_train_and_benchmark(toy_dir, tmp_path):
    run = tmp_path / "run"
    run_cli("-q", "train", "--data", str(toy_dir), "--out", str(run), "--grid", "alpha=0.1,10", "--grid", "lam=1")
    m = json.loads((run / "metrics.json").read_text())
    assert m["config"]["grid"] == {"alpha": [0.1, 10], "lam": [1]} and len(m["selection"]["table"]) == 2
    p = run_cli("train", "--data", str(toy_dir), "--out", str(tmp_path / "r"), "--grid", "lam=1", "--no-tune",
                check=False)
    _one_error_line(p, "--grid", "--no-tune")
    grid = tmp_path / "grid"
    run_cli("-q", "benchmark", "--data", str(toy_dir), "--seeds", "2,0", "--grid", "eszsl:lam=1", "--out", str(grid))
    cells = [json.loads(f.read_text()) for f in grid.glob("cells/*/metrics.json")]
    from zslkit.models.eszsl import ESZSL

    assert sorted(c["seed"] for c in cells) == [0, 2]  # a list of seeds, as a YAML grid's seeds:
    assert all(c["config"]["grid"] == {"alpha": ESZSL.param_grid["alpha"], "lam": [1]} for c in cells)


def test_failed_train_logs_its_error_and_lets_the_directory_go(toy_dir, tmp_path):
    from click.testing import CliRunner

    from zslkit.cli import main

    run, given = tmp_path / "run", toy_dir / "res101.mat"
    r = CliRunner().invoke(main, ["-q", "train", "--data", str(given), "--out", str(run)])
    assert r.exit_code == 2 and r.output.count("error:") == 1, r.output
    error = r.output.strip()[len("error: "):]
    for needle in (str(given), "is a file", "expected an xlsa17 dataset directory", f"its folder {toy_dir} looks"):
        assert needle in error, (needle, error)
    log = (run / "run.log").read_text()
    assert log.count(" ERROR ") == 1 and log.strip().endswith(f"run failed: {error}")
    assert sorted(os.listdir(run)) == [".zslkit-manifest.jsonl", ".zslkit.lock", "run.log"]
    assert (run / ".zslkit.lock").read_text() == ""  # names no holder
    # the lock is free: another process takes the directory for the corrected run, and run.log keeps the failure
    run_cli("-q", "train", "--data", str(toy_dir), "--out", str(run), "--no-tune")
    assert (run / "metrics.json").is_file() and (run / "run.log").read_text().startswith(log)
    p = run_cli("train", "--data", str(tmp_path / "nope.mat"), "--out", str(tmp_path / "r2"), check=False)
    _one_error_line(p, "nope.mat: not found; expected an xlsa17 dataset directory")


def test_analyze_writes_beside_the_runs_never_into_them(toy_dir, tmp_path):
    run = tmp_path / "run"
    run_cli("-q", "train", "--data", str(toy_dir), "--out", str(run), "--no-tune")
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    p = run_cli("analyze", str(run))
    assert (tmp_path / "run-analysis" / "figures" / "ausuc_curve.png").is_file()
    assert f"wrote {tmp_path / 'run-analysis' / 'analysis.json'}" in p.stdout
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    for out in (run, run / "figures", tmp_path / "run" / ".."  / "run"):
        p = run_cli("analyze", str(tmp_path / "run-analysis" / ".." / "run"), "--out", str(out), check=False)
        _one_error_line(p, "which analyze only reads")
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
