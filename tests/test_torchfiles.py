"""Tests of zslkit.utils.torchfiles.read_state_dict: weights-only state dicts with errors naming the file and key."""

from __future__ import annotations

import pytest
import torch

from zslkit.errors import CheckpointError
from zslkit.utils.torchfiles import read_state_dict


def test_bare_and_wrapped_state_dicts(tmp_path):
    sd = {"module.a.weight": torch.ones(2, 3), "b": torch.zeros(1)}
    for i, obj in enumerate([sd, {"model": sd, "epoch": 4}, {"state_dict": sd, "optimizer": {"lr": 0.1}}]):
        torch.save(obj, tmp_path / f"{i}.pth")
        out = read_state_dict(tmp_path / f"{i}.pth")
        assert sorted(out) == ["a.weight", "b"]
    torch.save({"model": torch.ones(2)}, tmp_path / "named_model.pth")  # a bare state dict with a tensor "model"
    assert list(read_state_dict(tmp_path / "named_model.pth")) == ["model"]


@pytest.mark.parametrize("obj, match", [
    ({"model": [torch.zeros(2)], "epoch": 1}, r"entry 'model' is a list, expected a state dict"),
    ({"state_dict": "weights.bin"}, r"entry 'state_dict' is a str, expected a state dict"),
    ({"model": {"a": torch.zeros(2), "b": 3}}, r"entry 'b' is a int, expected a tensor"),
    ({"a": torch.zeros(2), "n": [1, 2]}, r"entry 'n' is a list, expected a tensor"),
    ({}, r"does not hold a state dict .*found an empty dict"),
    ([torch.zeros(2)], r"does not hold a state dict .*found a list"),
])
def test_what_is_not_a_state_dict_is_named(tmp_path, obj, match):
    path = tmp_path / "w.pth"
    torch.save(obj, path)
    with pytest.raises(CheckpointError, match=match) as exc:
        read_state_dict(path, what="weight file")
    assert str(path) in str(exc.value)
