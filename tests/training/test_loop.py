"""Training engine and the AttentionNet recipe: exact resume, run directory, selection on validation."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from zslkit.errors import CheckpointError, ConfigError
from zslkit import image_pipeline
from zslkit.image_pipeline import AttentionNetConfig, analyze_attention, load_attention_net, train_attention_net
from zslkit.training import loop
from zslkit.training.checkpoint import load_checkpoint
from zslkit.training.feature_maps import save_feature_maps
from zslkit.training.loop import Callback, StopAfterEpochs, Trainer, resolve_amp
from zslkit.training.samplers import RandomBatchSampler

SRC = Path(__file__).resolve().parents[2] / "src"


def config(out, **kw) -> AttentionNetConfig:
    """3 epochs of SGD (momentum) with a step schedule and cross-batch ReMSE: every piece of state matters."""
    base = dict(out_dir=None if out is None else str(out), epochs=3, lr=0.05, optimizer="sgd", lr_step=2, lr_gamma=0.5, ways=4, shots=2,
                loss="remse", remse_mode="cross_batch", progress=False, gamma=0.0, select_epochs=False, seed=3)
    base.update(kw)
    return AttentionNetConfig(**base)


def assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.fixture(scope="module")
def straight(tmp_path_factory, tiny_maps):
    """An uninterrupted 3-epoch run."""
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("straight")
    return train_attention_net(config(out), tiny_maps)


def test_run_directory(straight):
    out = straight.out_dir
    for name in ("config.yaml", "model.pt", "metrics.json", "log.jsonl", "metrics.csv", "predictions.npz"):
        assert (out / name).is_file(), name
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["epoch_0002.pt", "epoch_0003.pt"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["surrogate"] and "SYNTHETIC" in metrics["warning"]
    assert metrics["gamma_source"] == "fixed in config" and metrics["final_epochs"] == 3
    lines = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2, 3]
    assert [r["lr"] for r in lines] == [0.05, 0.05, 0.025]  # step schedule
    assert {"loss", "ce", "reg", "images_per_s"} <= set(lines[0])
    assert (out / "metrics.csv").read_text().count("\n") == 4
    ckpt = torch.load(out / "checkpoints" / "epoch_0003.pt", weights_only=True)  # plain weights-only load
    assert ckpt["epoch"] == 3 and len(ckpt["rng"]) == 1 and "error_mean" in str(ckpt["extra"]["loss"].keys())


def test_stop_then_resume_is_bit_identical(straight, tiny_maps, tmp_path):
    first = train_attention_net(config(tmp_path), tiny_maps, callbacks=[StopAfterEpochs(1)])
    assert len(first.history) == 1 and not (tmp_path / "model.pt").exists()
    torch.manual_seed(12345)  # disturb every random stream: resume must restore them
    np.random.seed(12345)
    resumed = train_attention_net(config(tmp_path, resume=True), tiny_maps)
    assert_same_state(resumed.model.state_dict(), straight.model.state_dict())
    assert_same_state(load_checkpoint(tmp_path / "model.pt")["model"],
                      load_checkpoint(straight.out_dir / "model.pt")["model"])
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in straight.history]
    assert resumed.metrics.T1 == straight.metrics.T1
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [1, 2, 3]


_KILLED_SCRIPT = """
import sys, time, torch
torch.set_num_threads(1)
sys.path.insert(0, {src!r})
from zslkit.training.feature_maps import load_feature_maps
from zslkit.image_pipeline import AttentionNetConfig, train_attention_net
from zslkit.training.loop import Callback

class Slow(Callback):  # a long epoch 2: the parent kills the process while it waits
    def on_epoch_end(self, trainer, record):
        if record["epoch"] >= 2:
            time.sleep(120)

cfg = AttentionNetConfig(**{cfg!r})
train_attention_net(cfg, load_feature_maps(sys.argv[1]), callbacks=[Slow()])
"""


def test_resume_after_sigkill_is_bit_identical(straight, tiny_maps, tmp_path):
    save_feature_maps(tmp_path / "data", tiny_maps)
    out = tmp_path / "run"
    script = tmp_path / "killed.py"
    script.write_text(_KILLED_SCRIPT.format(src=str(SRC), cfg=config(out).to_dict()))
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "data")], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env={**os.environ, "OMP_NUM_THREADS": "1"})
    first = out / "checkpoints" / "epoch_0001.pt"
    deadline = time.monotonic() + 90
    try:
        while not first.exists():
            if proc.poll() is not None:
                pytest.fail(f"training subprocess exited early:\n{proc.stdout.read().decode()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail("no checkpoint after 90 s")
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "model.pt").exists()
    resumed = train_attention_net(config(out, resume=True), load_feature_maps_for(tmp_path))
    assert_same_state(resumed.model.state_dict(), straight.model.state_dict())
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in straight.history]


def load_feature_maps_for(tmp_path):
    from zslkit.training.feature_maps import load_feature_maps

    return load_feature_maps(tmp_path / "data")


def test_refuses_to_overwrite_or_resume_a_different_run(straight, tiny_maps):
    with pytest.raises(CheckpointError, match="resume=True"):
        train_attention_net(config(straight.out_dir), tiny_maps)
    with pytest.raises(CheckpointError, match=r"lr: 0\.05 -> 0\.1"):
        train_attention_net(config(straight.out_dir, resume=True, lr=0.1), tiny_maps)
    with pytest.raises(ConfigError, match="resume=True needs out_dir"):
        train_attention_net(config(None, resume=True), tiny_maps)


def test_selection_uses_validation_classes_only(tiny_maps, tmp_path, monkeypatch):
    fetched: list[tuple[str, list[int]]] = []
    phase = {"name": "?"}
    real_fetch, real_phase = loop.fetch_batch, image_pipeline._run_phase

    def spy_fetch(dataset, indices):
        fetched.append((phase["name"], [int(i) for i in indices]))
        return real_fetch(dataset, indices)

    def spy_phase(*args, **kwargs):
        phase["name"] = kwargs["phase"]
        result = real_phase(*args, **kwargs)
        phase["name"] = "test"
        return result

    monkeypatch.setattr(loop, "fetch_batch", spy_fetch)  # the engine's training batches
    monkeypatch.setattr(image_pipeline, "fetch_batch", spy_fetch)  # the recipe's predictions
    monkeypatch.setattr(image_pipeline, "_run_phase", spy_phase)
    cfg = config(tmp_path, epochs=3, select_epochs=True, gamma=None, remse_mode="in_batch")
    result = train_attention_net(cfg, tiny_maps)

    trainval = set(tiny_maps.splits["trainval"].tolist())
    vs = tiny_maps.validation_split(seed=cfg.seed)
    for name, idx in fetched:
        if name in ("selection", "final"):
            assert set(idx) <= trainval, name  # no test image is trained on or used for selection
    sel_images = {i for name, idx in fetched if name == "selection" for i in idx}
    assert sel_images <= set(vs.train_idx.tolist()) | set(vs.eval.seen_idx.tolist()) | set(vs.eval.unseen_idx.tolist())
    sel = json.loads((tmp_path / "selection.json").read_text())
    best = sel["val_at_best"]
    assert sel["best_epoch"] == best["epoch"] and 1 <= best["epoch"] <= 3
    assert best["val_T1"] == max(r["val_T1"] for r in sel["table"])
    assert result.gamma == sel["gamma"] == best["val_gamma"]
    assert result.gamma_source.startswith("validation") and len(result.history) == sel["best_epoch"]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["gzsl"]["gamma"] == sel["gamma"] and metrics["selection"]["source"] == vs.source
    assert (tmp_path / "selection" / "log.jsonl").is_file()


def test_generic_trainer_with_another_model_and_bf16_autocast(tmp_path):
    """The loop is not AttentionNet-specific: a linear classifier, random batches, CPU bf16 autocast."""
    g = torch.Generator().manual_seed(0)
    X = torch.randn(64, 5, generator=g)
    y = (X[:, 0] > 0).long().numpy()
    torch.manual_seed(0)
    model = torch.nn.Linear(5, 2)

    class Data:
        def get_batch(self, idx):
            return X[idx]

    seen = []

    class Record(Callback):
        def on_epoch_end(self, trainer, record):
            seen.append(record["epoch"])
            record["custom"] = np.float32(1.5)  # numpy scalars are converted to plain floats

    trainer = Trainer(model, lambda net, x, t: (torch.nn.functional.cross_entropy(net(x).float(), t), {}),
                      torch.optim.SGD(model.parameters(), lr=0.5), RandomBatchSampler(np.arange(64), 16),
                      Data(), y, epochs=4, amp="bf16", run_dir=tmp_path, callbacks=[Record()], progress=True)
    history = trainer.fit()
    assert seen == [1, 2, 3, 4] and history[-1]["loss"] < history[0]["loss"]
    assert type(history[0]["custom"]) is float
    assert trainer.amp.dtype == torch.bfloat16
    assert (tmp_path / "checkpoints" / "epoch_0004.pt").is_file()


def test_resolve_amp():
    cpu = torch.device("cpu")
    assert not resolve_amp("auto", cpu).enabled and not resolve_amp("off", cpu).enabled
    assert resolve_amp("bf16", cpu).dtype == torch.bfloat16
    with pytest.raises(ConfigError, match="fp16"):
        resolve_amp("fp16", cpu)
    with pytest.raises(ConfigError, match="amp"):
        resolve_amp("fp8", cpu)


def test_config_validation():
    with pytest.raises(ConfigError, match="config field ways"):
        AttentionNetConfig(ways=0).validate()
    with pytest.raises(ConfigError, match="config field loss"):
        AttentionNetConfig(loss="l2").validate()
    with pytest.raises(ConfigError, match="backbone_weights given without backbone"):
        AttentionNetConfig(backbone_weights="w.pth").validate()
    with pytest.raises(ConfigError, match="unknown attention_net config fields"):
        AttentionNetConfig.from_dict({"epoch": 3})


def test_images_need_a_backbone_and_maps_refuse_one(tiny_maps):
    with pytest.raises(ConfigError, match="needs image inputs"):
        train_attention_net(config(None, backbone="resnet18"), tiny_maps)


def test_load_model_and_render_attention(straight, tiny_maps, tmp_path):
    model, info = load_attention_net(straight.out_dir)
    assert_same_state(model.state_dict(), straight.model.state_dict())
    assert info["class_names"] == tiny_maps.class_names and info["gamma"] == 0.0
    png = analyze_attention(model, tiny_maps, tiny_maps.splits["test_unseen"][:2], tmp_path / "att.png", top_k=3,
                            title="SYNTHETIC")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_image_level_training_with_a_resnet_from_a_local_weight_file(tiny_maps, tmp_path):
    """kind='images': a ResNet backbone read from a weight file (frozen), trained end to end on CPU."""
    import torchvision

    from zslkit.training.feature_maps import AttentionData

    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), tmp_path / "resnet18.pth")
    g = torch.Generator().manual_seed(0)
    images = [torch.rand(3, 16, 16, generator=g) for _ in range(tiny_maps.num_images)]  # a Dataset: list of tensors
    data = AttentionData(inputs=images, labels=tiny_maps.labels, class_names=tiny_maps.class_names,
                         semantic=tiny_maps.semantic, attribute_vectors=tiny_maps.attribute_vectors,
                         splits=tiny_maps.splits, kind="images", surrogate=True)
    cfg = config(tmp_path / "run", epochs=1, backbone="resnet18", backbone_weights=str(tmp_path / "resnet18.pth"))
    result = train_attention_net(cfg, data)
    assert result.model.feature_channels == 512 and len(result.history) == 1
    model, _ = load_attention_net(tmp_path / "run")  # the backbone travels in model.pt
    assert torch.equal(model.backbone.conv1.weight, torch.load(tmp_path / "resnet18.pth")["conv1.weight"])


def test_dataloader_workers_give_the_same_training(tiny_maps):
    """num_workers > 0 reads batches in worker processes; the result is the same as in-process reads."""
    states = []
    for workers in (0, 1):
        r = train_attention_net(config(None, epochs=1, num_workers=workers), tiny_maps)
        states.append(r.model.state_dict())
    assert_same_state(*states)


@pytest.mark.parametrize("first, expected", [(False, [0.05, 0.05, 0.025, 0.025, 0.0125]),
                                             (True, [0.05, 0.025, 0.025, 0.0125, 0.0125])])
def test_lr_schedule_as_the_authors_step_it(tiny_maps, first, expected):
    """lr_step_first steps StepLR before each epoch, as the authors' trainer: the first decay comes one epoch early."""
    res = train_attention_net(config(None, epochs=5, lr_step=2, lr_step_first=first), tiny_maps)
    assert [r["lr"] for r in res.history] == pytest.approx(expected)


def test_rezsl_presets_are_the_authors_configs():
    cub = AttentionNetConfig.from_preset("CUB", out_dir="x")
    assert (cub.lr, cub.lr_gamma, cub.lambda1, cub.p, cub.p2, cub.scale, cub.hidden_dim) == (5e-4, 0.1, 0.25, 0.1, 0.75,
                                                                                              20.0, 0)
    awa2 = AttentionNetConfig.from_preset("awa2")
    assert (awa2.lr, awa2.lr_gamma, awa2.lambda1, awa2.p, awa2.p2, awa2.hidden_dim) == (1e-4, 0.5, 1.0, 1.0, 0.1, 4096)
    sun = AttentionNetConfig.from_preset("sun")
    assert (sun.scale, sun.lambda1, sun.p2, sun.lr_gamma) == (25.0, 0.1, 0.0, 0.5)
    for c in (cub, awa2, sun):
        assert (c.epochs, c.episodes_per_epoch, c.ways, c.shots, c.weight_decay, c.lr_step, c.lr_step_first) == \
            (30, 300, 16, 2, 1e-5, 10, True)
        c.validate()
    assert AttentionNetConfig.from_preset("cub_vit").p == 0.0
    with pytest.raises(ConfigError, match="unknown attention_net preset"):
        AttentionNetConfig.from_preset("imagenet")
    gem = AttentionNetConfig.from_preset("cub", model="gem_zsl")
    assert (gem.model, gem.ways, gem.shots, gem.epochs, gem.lr, gem.lambda1, gem.lambda_ad, gem.lambda_cpt,
            gem.regression_loss) == ("gem_zsl", 4, 2, 15, 1e-3, 1.0, 0.1, 0.2, "gem")
    assert AttentionNetConfig.from_preset("sun", model="gem_zsl").scale == 25.0
    basic = AttentionNetConfig.from_preset("awa2", model="basic_net")  # the AttentionNet recipe, BasicNet switched in
    assert (basic.model, basic.lr, basic.hidden_dim, basic.p, basic.ways, basic.epochs) == ("basic_net", 1e-4, 4096,
                                                                                            1.0, 16, 30)
    basic.validate()
    with pytest.raises(ConfigError, match="unknown basic_net preset"):
        AttentionNetConfig.from_preset("imagenet", model="basic_net")


def test_every_epoch_goes_to_the_tracker_or_to_tensorboard_in_the_run(straight, tiny_maps):
    from zslkit.tracking import MemoryLogger

    t = MemoryLogger()
    res = image_pipeline.train_image_model(config(None), tiny_maps, logger=t)
    assert t.series("attention_net final/loss") == [(r["epoch"], pytest.approx(r["loss"])) for r in res.history]
    assert [s for s, _ in t.series("attention_net final/lr")] == [1, 2, 3]
    if importlib.util.find_spec("tensorboard") is None:  # pragma: no cover - the test extra installs it
        return
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ea = EventAccumulator(str(straight.out_dir / "tensorboard"))  # no logger given: event files in the run
    ea.Reload()
    assert [(e.step, pytest.approx(e.value)) for e in ea.Scalars("attention_net final/loss")] == \
        [(r["epoch"], r["loss"]) for r in straight.history]
