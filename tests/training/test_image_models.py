"""Image-level models trained end to end from an image folder, through the one pipeline.

A small dataset (8 classes, 3 unseen, 9 images each, 24 px PNGs) is built into the xlsa17 layout
with ``zslkit data build``'s library function; the models read its images through
``res101.mat``'s ``image_files`` with the authors' transforms (at 32 px) and the seeded ``tiny``
backbone, fine-tuned.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from zslkit.build import BuildConfig, build_xlsa17
from zslkit.cli import main
from zslkit.errors import ConfigError
from zslkit.image_pipeline import load_image_model
from zslkit.pipeline import RunResult, TrainConfig, train
from zslkit.training.feature_maps import image_transform, load_image_data

CLASSES = [f"class{c}" for c in range(8)]
UNSEEN = ["class2", "class5", "class7"]


@pytest.fixture(scope="module")
def image_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(0)
    attributes = rng.random((8, 5))
    for c, name in enumerate(CLASSES):
        d = root / "images" / name
        d.mkdir(parents=True)
        colour = attributes[c, :3] * 255
        for i in range(9):  # 72 images: not 64, the tiny backbone's feature width (a square res101)
            img = (colour + rng.normal(0, 20, (24, 24, 3))).clip(0, 255).astype(np.uint8)
            img[: 4 + 2 * c, :4] = 255 * attributes[c, 3]  # a class-specific part
            Image.fromarray(img).save(d / f"{i}.png")
    (root / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    (root / "unseen.txt").write_text("\n".join(UNSEEN) + "\n")
    rows = ["class,attribute,value"] + [f"{n},a{a},{attributes[c, a]:.4f}" for c, n in enumerate(CLASSES)
                                        for a in range(5)]
    (root / "attributes.csv").write_text("\n".join(rows) + "\n")
    build_xlsa17(BuildConfig(images=str(root / "images"), classes=str(root / "classes.txt"),
                             unseen=str(root / "unseen.txt"), attributes=str(root / "attributes.csv"),
                             out=str(root / "xlsa17"), backbone="tiny", image_size=32, batch_size=16, progress=False,
                             seed=0, val_folds=2))
    np.save(root / "attribute_vectors.npy", rng.normal(size=(5, 6)).astype(np.float32))
    return root


def _config(root, model: str, **params) -> TrainConfig:
    base = {"backbone": "tiny", "image_size": 32, "finetune_backbone": True, "epochs": 2, "ways": 2, "shots": 2,
            "episodes_per_epoch": 2, "optimizer": "adam", "lr": 1e-3, "eval_batch_size": 16}
    return TrainConfig(data=str(root / "xlsa17"), model=model, images=str(root / "images"),
                       attribute_vectors=str(root / "attribute_vectors.npy"), params={**base, **params})


@pytest.mark.parametrize("model, loss", [("attention_net", "remse"), ("gem_zsl", "gem"), ("basic_net", "mse")])
def test_models_train_from_images_through_the_pipeline(image_dataset, tmp_path, model, loss):
    out = tmp_path / model
    res = train(_config(image_dataset, model, loss=loss), out_dir=out)
    assert isinstance(res, RunResult) and res.model is not None and res.surrogate is False
    for name in ("config.yaml", "metrics.json", "predictions.npz", "model.pt", "selection.json", "log.jsonl"):
        assert (out / name).is_file(), name
    m = json.loads((out / "metrics.json").read_text())
    assert m["model"] == model and m["params"]["loss"] == loss and m["params"]["backbone"] == "tiny"
    assert m["dataset"]["kind"] == "images" and 0 <= m["zsl"]["T1"] <= 100
    assert m["selection"]["note"].startswith("epochs and gamma chosen on validation classes")
    with np.load(out / "predictions.npz") as z:
        assert z["pred_semantics"].shape == (z["gzsl_idx"].size, 5)
    reloaded, _ = load_image_model(out)  # backbone rebuilt from the model config, weights from model.pt
    data = load_image_data(image_dataset / "xlsa17", image_dataset / "images",
                           attribute_vectors=np.load(image_dataset / "attribute_vectors.npy"), image_size=32)
    x = torch.stack([data.eval_dataset[i] for i in range(4)])
    with torch.no_grad():
        torch.testing.assert_close(reloaded(x)[0], res.model.eval()(x)[0])


def test_test_transform_is_deterministic_and_training_one_augments(image_dataset):
    data = load_image_data(image_dataset / "xlsa17", image_dataset / "images", image_size=32)
    assert data.kind == "images" and data.attribute_vectors is None and len(data.dataset) == 72
    assert torch.equal(data.eval_dataset[0], data.eval_dataset[0])
    torch.manual_seed(0)
    crops = [data.dataset[0] for _ in range(6)]
    assert crops[0].shape == (3, 32, 32) and any(not torch.equal(crops[0], c) for c in crops[1:])
    t = image_transform(448, train=True)
    assert [type(s).__name__ for s in t.transforms][:3] == ["Resize", "RandomCrop", "RandomHorizontalFlip"]
    assert t.transforms[0].size == 512  # int(448 * 8 / 7), the authors' resize before the random crop


def test_cli_trains_an_image_model_and_errors_name_the_problem(image_dataset, tmp_path):
    out = tmp_path / "run"
    args = ["-q", "train", "--model", "basic_net", "--data", str(image_dataset / "xlsa17"), "--images",
            str(image_dataset / "images"), "--backbone", "tiny", "--out", str(out), "--param", "image_size=32",
            "--param", "epochs=1", "--param", "ways=2", "--param", "episodes_per_epoch=2", "--no-tune",
            "--gamma", "0.0"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert "images/s" in res.output and (out / "metrics.json").is_file()
    res = CliRunner().invoke(main, ["train", "--model", "gem_zsl", "--data", str(image_dataset / "xlsa17"),
                                    "--out", str(tmp_path / "r2")])
    assert res.exit_code == 2 and "--images" in res.output
    res = CliRunner().invoke(main, ["train", "--model", "eszsl", "--data", str(image_dataset / "xlsa17"),
                                    "--backbone", "tiny", "--out", str(tmp_path / "r3")])
    assert res.exit_code == 2 and "image-level models" in res.output
    with pytest.raises(ConfigError, match="gem_zsl needs a ResNet"):
        train(_config(image_dataset, "gem_zsl", backbone="vit_b_16"))
