"""Tests of zslkit.image_pipeline's loading of model.pt files (load_image_model) and of analyze_attention's
indices: crafted files give one CheckpointError naming the file and the key, before the model is built."""

from __future__ import annotations

import copy

import pytest
import torch

from zslkit.errors import CheckpointError, ConfigError
from zslkit.image_pipeline import analyze_attention, load_image_model
from zslkit.models.attention_net import AttentionNet
from zslkit.models.basic_net import BasicNet
from zslkit.models.gem_zsl import GEMZSL
from zslkit.training.checkpoint import save_checkpoint


def _models():
    v = torch.randn(8, 6)
    return {"attention": AttentionNet(v, 7, hidden_dim=4, attention_dim=5), "gem": GEMZSL(v, 7),
            "basic": BasicNet(8, 7, hidden_dim=3)}


def _state(model) -> dict:
    return {"model": model.state_dict(), "meta": {"model_config": model.config()}, "class_names": None,
            "attribute_names": None, "gamma": 0.0}


@pytest.mark.parametrize("kind", ["attention", "gem", "basic"])
def test_model_pt_round_trip(tmp_path, kind):
    model = _models()[kind]
    save_checkpoint(tmp_path / "model.pt", _state(model))
    loaded, info = load_image_model(tmp_path)
    assert type(loaded) is type(model) and info["gamma"] == 0.0
    for k, v in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[k], v)


def _crafted(tmp_path, edit, kind="attention"):
    state = copy.deepcopy(_state(_models()[kind]))
    edit(state)
    path = tmp_path / "model.pt"
    save_checkpoint(path, state)
    return path


def _set(path: str, value):
    def edit(state):
        *parents, last = path.split("/")
        node = state
        for k in parents:
            node = node[k]
        if value is KeyError:
            del node[last]
        else:
            node[last] = value
    return edit


CFG = "meta/model_config"


@pytest.mark.parametrize("kind, edit, match", [
    ("attention", _set(f"{CFG}/num_attributes", "8"), r"meta.model_config.num_attributes = '8', expected an integer"),
    ("attention", _set(f"{CFG}/word_dim", 10 ** 6), r"model.attribute_vectors has shape \(8, 6\), expected "
                                                     r"\(8, 1000000\)"),
    ("attention", _set(f"{CFG}/feature_channels", 2 ** 21), r"meta.model_config.feature_channels = 2097152, "
                                                             r"expected an integer in \[1, 1048576\]"),
    ("attention", _set(f"{CFG}/attention_dim", 5.0), r"meta.model_config.attention_dim = 5.0, expected an integer"),
    ("attention", _set(f"{CFG}/hidden_dim", KeyError), r"meta.model_config.hidden_dim is missing"),
    ("attention", _set(f"{CFG}/scale", "big"), r"meta.model_config.scale = 'big', expected a finite positive number"),
    ("attention", _set(f"{CFG}/fused", "yes"), r"meta.model_config.fused = 'yes', expected true or false"),
    ("attention", _set(f"{CFG}/architecture", "transformer"), r"architecture = 'transformer', expected one of"),
    ("attention", _set("model/out.weight", KeyError), r"model.out.weight is missing"),
    ("attention", _set("model/attribute_weight", torch.tensor(1.0)), r"model.attribute_weight has shape \(\), "
                                                                     r"expected \(8, 4\)"),
    ("attention", _set("model/key.weight", torch.zeros(35)), r"model.key.weight has shape \(35,\), expected \(5, 7\)"),
    ("attention", _set("model/query.bias", torch.zeros(9)), r"model.query.bias has shape \(9,\), expected \(5,\)"),
    ("attention", _set("model/value.weight", torch.zeros(5, 7, dtype=torch.int32)), r"model.value.weight has dtype"),
    ("attention", _set("model/extra", torch.zeros(2)), r"unexpected entries \['model.extra'\]"),
    ("attention", _set("model", [1, 2]), r"entry 'model' is a list, expected the model's state dict"),
    ("attention", _set("model/query.bias", [0.0] * 5), r"model.query.bias is a list, expected a tensor"),
    ("gem", _set(f"{CFG}/num_attributes", 10 ** 6), r"model.attribute_vectors has shape \(8, 6\), expected "
                                                     r"\(1000000, 6\)"),
    ("gem", _set("model/V", torch.zeros(7)), r"model.V has shape \(7,\), expected \(7, 8\)"),
    ("basic", _set("model/head.bias", torch.zeros(3)), r"model.head.bias has shape \(3,\), expected \(8,\)"),
    ("basic", _set(f"{CFG}/hidden_dim", None), r"meta.model_config.hidden_dim = None, expected an integer"),
])
def test_crafted_model_pt_names_the_file_and_key(tmp_path, kind, edit, match):
    path = _crafted(tmp_path, edit, kind)
    with pytest.raises(CheckpointError, match=match) as exc:
        load_image_model(path)
    assert str(path) in str(exc.value)


def test_a_huge_config_is_refused_before_anything_is_allocated(tmp_path, monkeypatch):
    """num_attributes = word_dim = 1e6 (a 4 TB attribute_vectors buffer): the shapes are compared with the
    file's tensors before the model is built, so from_config is never called."""
    def edit(state):
        state["meta"]["model_config"].update(num_attributes=10 ** 6, word_dim=10 ** 6)
    path = _crafted(tmp_path, edit)
    monkeypatch.setattr(AttentionNet, "from_config", classmethod(lambda *a, **k: pytest.fail("model built")))
    with pytest.raises(CheckpointError, match=r"model.attribute_weight has shape \(8, 4\), expected \(1000000, 4\)"):
        load_image_model(path)


def test_analyze_attention_index_out_of_range(tmp_path):
    from zslkit.training.feature_maps import make_synthetic_feature_maps

    data = make_synthetic_feature_maps(num_classes=6, num_unseen=2, images_per_class=3, num_attributes=8, channels=7,
                                       size=4, word_dim=6, seed=0)
    model = AttentionNet(torch.as_tensor(data.attribute_vectors), 7)
    for bad in (99999, 18, -1):
        with pytest.raises(ConfigError, match=rf"image index {bad} is out of range: the data has 18 images, valid "
                                              r"indices are 0\.\.17"):
            analyze_attention(model, data, [0, bad], tmp_path / "maps.png")
    assert not (tmp_path / "maps.png").exists()
