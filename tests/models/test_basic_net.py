"""BasicNet (ReZSL's baseline) and the backbones: formulas and layouts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from zslkit.errors import CheckpointError, ConfigError
from zslkit.models.backbones import build_backbone, tiny_backbone, vit_backbone
from zslkit.models.basic_net import BasicNet


@pytest.mark.parametrize("hidden", [0, 4])
@pytest.mark.parametrize("tokens", [False, True])
def test_basic_net_is_the_authors_formula(hidden, tokens):
    torch.manual_seed(0)
    net = BasicNet(6, 5, hidden_dim=hidden).double()
    x = torch.rand(3, 5, 7, dtype=torch.float64) if tokens else torch.rand(3, 5, 2, 3, dtype=torch.float64)
    pooled = x.flatten(2).numpy().mean(axis=2)  # maps: mean over positions; tokens: over all, the global one too
    sd = {k: v.detach().numpy() for k, v in net.state_dict().items()}
    if hidden:
        h = pooled @ sd["hidden.weight"].T + sd["hidden.bias"]
        pooled = np.where(h > 0, h, 0.1 * h)  # LeakyReLU(0.1)
    ref = pooled @ sd["head.weight"].T + sd["head.bias"]
    np.testing.assert_allclose(net(x).semantic.detach().numpy(), ref, rtol=1e-12)
    clone = BasicNet.from_config(net.config()).double()
    clone.load_state_dict(net.state_dict())
    torch.testing.assert_close(clone(x).semantic, net(x).semantic)


def test_vit_tokens_are_the_global_token_then_the_patches():
    torch.manual_seed(0)
    vit = vit_backbone("vit_b_16", image_size=32)  # a small input size keeps the test quick
    vit.eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        tokens = vit(x)
        assert tokens.shape == (2, 768, 1 + 4) and vit.out_channels == 768 and vit.tokens
        vit.vit.heads = torch.nn.Identity()  # torchvision's own forward returns the class token's encoding
        torch.testing.assert_close(tokens[:, :, 0], vit.vit(x))
    with pytest.raises(Exception, match="expects"):
        vit(torch.rand(1, 3, 64, 64))


def test_vit_and_tiny_load_their_state_dicts():
    import torchvision

    torch.manual_seed(0)
    full = torchvision.models.vit_b_16(weights=None, image_size=32)
    vit = vit_backbone("vit_b_16", full.state_dict(), image_size=32)  # heads.* ignored
    assert torch.equal(vit.vit.conv_proj.weight, full.conv_proj.weight)
    with pytest.raises(CheckpointError, match="missing keys"):
        vit_backbone("vit_b_16", {k: v for k, v in full.state_dict().items() if "encoder_layer_11" not in k},
                     image_size=32)
    tiny = tiny_backbone()
    assert tiny(torch.rand(1, 3, 32, 32)).shape == (1, 64, 8, 8)
    again = build_backbone("tiny", tiny.state_dict())
    assert torch.equal(again.conv0.weight, tiny.conv0.weight)
    with pytest.raises(ConfigError, match="unknown backbone"):
        build_backbone("vgg16")
