"""Backbones: tiny CNN, ResNet weights from local files (no downloads), clear errors."""

import numpy as np
import pytest
import torch
import torchvision

from zslkit.errors import ConfigError
from zslkit.vgse.backbone import build_backbone, pretrain_tiny, save_backbone, state_fingerprint


def test_tiny_is_seeded():
    a, b, c = build_backbone("tiny", seed=1), build_backbone("tiny", seed=1), build_backbone("tiny", seed=2)
    assert state_fingerprint(a) == state_fingerprint(b) != state_fingerprint(c)
    x = torch.randn(5, 3, 16, 16)
    assert a(x).shape == (5, a.out_dim) and not a.training


def test_tiny_weights_roundtrip_and_pretraining(tmp_path):
    m = build_backbone("tiny", seed=0)
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 255, (24, 24, 3), dtype=np.uint8) for _ in range(12)]
    labels = np.arange(12) % 3
    hist = pretrain_tiny(m, imgs, labels, size=16, epochs=2, seed=0, batch_size=6)
    assert len(hist) == 2 and all(np.isfinite(h["loss"]) for h in hist)
    m2 = build_backbone("tiny", seed=0)
    pretrain_tiny(m2, imgs, labels, size=16, epochs=2, seed=0, batch_size=6)
    assert state_fingerprint(m) == state_fingerprint(m2)  # deterministic
    save_backbone(m, tmp_path / "tiny.pt")
    again = build_backbone("tiny", tmp_path / "tiny.pt")
    assert state_fingerprint(again) == state_fingerprint(m)


@pytest.fixture(scope="module")
def resnet18_file(tmp_path_factory):
    torch.manual_seed(0)
    net = torchvision.models.resnet18(weights=None)
    path = tmp_path_factory.mktemp("w") / "resnet18.pth"
    torch.save(net.state_dict(), path)
    return path, net.eval()


def test_resnet_from_local_file(resnet18_file, tmp_path):
    path, net = resnet18_file
    bb = build_backbone("resnet18", path)
    x = torch.randn(2, 3, 64, 64)
    net.fc = torch.nn.Identity()
    with torch.no_grad():
        assert torch.allclose(bb(x), net(x), atol=1e-5)
    assert bb.out_dim == 512
    # DataParallel prefixes and a wrapping dict (as training scripts save them) are accepted
    sd = torch.load(path, weights_only=True)
    wrapped = tmp_path / "wrapped.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in sd.items()}, "epoch": 3}, wrapped)
    assert state_fingerprint(build_backbone("resnet18", wrapped)) == state_fingerprint(bb)


def test_backbone_errors(resnet18_file, tmp_path):
    path, _ = resnet18_file
    with pytest.raises(ConfigError, match="needs a local weights file"):
        build_backbone("resnet50")
    with pytest.raises(ConfigError, match=r"nothere\.pth not found.*no weights are downloaded"):
        build_backbone("resnet101", tmp_path / "nothere.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(ConfigError, match="junk.pth: not a readable torch weights file"):
        build_backbone("resnet18", junk)
    with pytest.raises(ConfigError, match=r"resnet18.pth: state dict does not match .*missing keys"):
        build_backbone("resnet50", path)  # wrong architecture: keys and shapes differ
    tiny = tmp_path / "tiny.pt"
    save_backbone(build_backbone("tiny"), tiny)
    with pytest.raises(ConfigError, match=r"unexpected keys, e\.g\. \['features"):
        build_backbone("resnet18", tiny)
    with pytest.raises(ConfigError, match="unknown backbone"):
        build_backbone("vgg16")
