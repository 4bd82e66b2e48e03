"""Checkpoint files: weights-only loading, atomic writes, RNG states as tensors, backbone weights."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from zslkit.errors import CheckpointError
from zslkit.training.checkpoint import (
    capture_rng_state,
    checkpoint_path,
    config_differences,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    prune_checkpoints,
    read_backbone_weights,
    restore_rng_state,
    save_checkpoint,
)


def _draws():
    return torch.rand(3).tolist(), np.random.rand(3).tolist(), np.random.randn(1).tolist(), random.random()


def test_rng_state_round_trip_through_a_weights_only_file(tmp_path):
    torch.manual_seed(1)
    np.random.seed(2)
    random.seed(3)
    np.random.randn()  # leaves a cached gaussian in NumPy's state
    state = capture_rng_state()
    expected = _draws()
    save_checkpoint(tmp_path / "c.pt", {"rng": state})
    loaded = torch.load(tmp_path / "c.pt", weights_only=True)["rng"]  # plain torch.load works
    torch.manual_seed(99)
    np.random.seed(99)
    random.seed(99)
    restore_rng_state(loaded)
    assert _draws() == expected


def test_save_refuses_values_weights_only_cannot_load(tmp_path):
    from fractions import Fraction  # picklable, but not on weights_only's allow-list

    with pytest.raises(CheckpointError, match="weights_only"):
        save_checkpoint(tmp_path / "bad.pt", {"thing": Fraction(1, 3)})
    with pytest.raises(CheckpointError, match="cannot be serialised"):
        save_checkpoint(tmp_path / "bad.pt", {"thing": lambda: 0})
    assert not list(tmp_path.iterdir())  # nothing written, not even a temporary file


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pt"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"model": {}}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a zslkit training checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")


def test_checkpoint_listing_and_pruning(tmp_path):
    from zslkit.utils.outputs import ForeignFileError, output_dir

    assert latest_checkpoint(tmp_path / "none") is None
    d = tmp_path / "run"
    with output_dir(d, "run"):
        for e in (1, 2, 10):
            save_checkpoint(checkpoint_path(d, e), {"epoch": e})
    (d / "epoch_x.pt").write_text("ignored")
    assert [e for e, _ in list_checkpoints(d)] == [1, 2, 10]
    assert latest_checkpoint(d).name == "epoch_0010.pt"
    with output_dir(d, "run"):
        prune_checkpoints(d, keep=2)
    assert [e for e, _ in list_checkpoints(d)] == [2, 10]
    assert load_checkpoint(latest_checkpoint(d))["epoch"] == 10
    # a checkpoint-named file zslkit did not write is never pruned
    (tmp_path / "theirs").mkdir()
    torch.save({"epoch": 1}, checkpoint_path(tmp_path / "theirs", 1))
    save_checkpoint(checkpoint_path(tmp_path / "theirs", 2), {"epoch": 2})
    with pytest.raises(ForeignFileError):
        prune_checkpoints(tmp_path / "theirs", keep=1)
    assert checkpoint_path(tmp_path / "theirs", 1).exists()


def test_config_differences():
    assert config_differences({"a": 1, "epochs": 3}, {"a": 1, "epochs": 5}, ignore=("epochs",)) == []
    assert config_differences({"a": 1}, {"a": 2, "b": 0}) == ["a: 1 -> 2", "b: '<absent>' -> 0"]


def test_read_backbone_weights(tmp_path):
    sd = {"conv1.weight": torch.ones(2, 3), "fc.bias": torch.zeros(2)}
    torch.save(sd, tmp_path / "plain.pth")
    torch.save({"state_dict": {"module." + k: v for k, v in sd.items()}}, tmp_path / "wrapped.pth")
    for name in ("plain.pth", "wrapped.pth"):
        got = read_backbone_weights(tmp_path / name)
        assert set(got) == set(sd) and torch.equal(got["conv1.weight"], sd["conv1.weight"])
    with pytest.raises(CheckpointError, match="never downloads"):
        read_backbone_weights(tmp_path / "resnet101.pth")
    torch.save([1, 2], tmp_path / "list.pth")
    with pytest.raises(CheckpointError, match="does not hold a state dict"):
        read_backbone_weights(tmp_path / "list.pth")
