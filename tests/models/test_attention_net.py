"""AttentionNet: shapes, gradients, backbone modes, and its loss (CE + lambda1 x ReMSE / MSE)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from zslkit.errors import CheckpointError, ConfigError, ZSLDataError
from zslkit.losses import ReMSELoss
from zslkit.models.attention_net import AttentionNet, AttentionNetLoss, resnet_backbone

B, A, C, H, W, DW = 5, 7, 6, 4, 3, 10


@pytest.fixture
def net() -> AttentionNet:
    torch.manual_seed(0)
    return AttentionNet(torch.randn(A, DW), C)


def test_forward_shapes_and_attention_is_a_distribution(net):
    x = torch.rand(B, C, H, W)
    out = net(x)
    assert out.semantic.shape == (B, A)
    assert out.attention.shape == (B, A, H, W)
    assert out.global_semantic.shape == (B, A) and out.attribute_semantic.shape == (B, A)
    torch.testing.assert_close(out.attention.sum(dim=(2, 3)), torch.ones(B, A))
    assert bool((out.attention >= 0).all())
    torch.testing.assert_close(out.semantic, out.global_semantic + net.ratio * out.attribute_semantic)
    assert net.queries().shape == (A, C)


def test_forward_matches_the_formulas(net):
    """s_hat_a = V avgpool(F) + b + ratio * (<U_a, sum_r alpha_ar F_r> + c_a), alpha = softmax_r <q_a, F_r>."""
    x = torch.rand(2, C, H, W, dtype=torch.float64)
    net = net.double()
    flat = x.flatten(2)  # (2, C, R)
    q = F.normalize(net.attribute_vectors, dim=1) @ net.query_proj  # (A, C)
    out = net(x)
    for b in range(2):
        for a in range(A):
            alpha = torch.softmax(q[a] @ flat[b], dim=0)  # (R,)
            f = flat[b] @ alpha  # (C,)
            s_att = net.attr_weight[a] @ f + net.attr_bias[a]
            s_glob = net.global_head.weight[a] @ flat[b].mean(1) + net.global_head.bias[a]
            torch.testing.assert_close(out.semantic[b, a], s_glob + net.ratio * s_att)
            torch.testing.assert_close(out.attention[b, a].flatten(), alpha)


def test_every_parameter_gets_a_finite_gradient(net):
    x = torch.rand(B, C, H, W)
    sem = torch.rand(4, A)
    loss_fn = AttentionNetLoss(sem, loss="remse")
    loss, parts = loss_fn(net(x).semantic, torch.tensor([0, 1, 2, 3, 0]))
    assert set(parts) == {"ce", "reg"} and loss.ndim == 0
    loss.backward()
    for name, p in net.named_parameters():
        assert p.grad is not None, name
        assert bool(torch.isfinite(p.grad).all()) and float(p.grad.abs().sum()) > 0, name
    assert not net.attribute_vectors.requires_grad  # a buffer, not learned


def test_gradcheck_float64():
    torch.manual_seed(1)
    net = AttentionNet(torch.randn(3, 4), 2).double()
    x = torch.rand(2, 2, 2, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: net(t).semantic, (x,))


def test_bad_inputs_name_the_shapes(net):
    with pytest.raises(ZSLDataError, match=r"\(B, 6, h, w\)"):
        net(torch.rand(2, C + 1, H, W))
    with pytest.raises(ZSLDataError, match="4-D"):
        net(torch.rand(2, C))
    with pytest.raises(ConfigError, match="feature_channels"):
        AttentionNet(torch.randn(A, DW))
    with pytest.raises(ZSLDataError, match="attribute_vectors"):
        AttentionNet(torch.randn(A), C)
    with pytest.raises(ZSLDataError, match="NaN"):
        AttentionNet(torch.full((A, DW), math.nan), C)
    with pytest.raises(ConfigError, match="scale"):
        AttentionNet(torch.randn(A, DW), C, scale=0.0)


def test_config_round_trip(net):
    clone = AttentionNet.from_config(net.config())
    clone.load_state_dict(net.state_dict())
    x = torch.rand(2, C, H, W)
    assert torch.equal(clone(x).semantic, net(x).semantic)
    assert torch.equal(clone.attribute_vectors, net.attribute_vectors)


def test_cosine_scores_and_logits(net):
    s = torch.randn(3, A)
    cls = torch.randn(4, A)
    cos = net.cosine_scores(s, cls)
    assert cos.shape == (3, 4) and float(cos.abs().max()) <= 1 + 1e-6
    torch.testing.assert_close(net.logits(s, cls), 20.0 * cos)


# -- backbone ---------------------------------------------------------------------------


def test_frozen_resnet_backbone_on_images():
    torch.manual_seed(0)
    backbone = resnet_backbone("resnet18")
    net = AttentionNet(torch.randn(A, DW), backbone=backbone)  # channels from the backbone
    assert net.feature_channels == 512
    net.train()
    assert not backbone.training  # frozen: BatchNorm statistics fixed
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    x = torch.rand(2, 3, 64, 64)
    out = net(x)
    assert out.semantic.shape == (2, A) and out.attention.shape == (2, A, 2, 2)
    out.semantic.sum().backward()
    assert all(p.grad is None and not p.requires_grad for p in backbone.parameters())
    assert net.query_proj.grad is not None
    assert all(torch.equal(before[k], v) for k, v in backbone.state_dict().items())  # BN buffers unchanged


def test_finetuned_backbone_gets_gradients():
    torch.manual_seed(0)
    net = AttentionNet(torch.randn(A, DW), backbone=resnet_backbone("resnet18"), freeze_backbone=False)
    net.train()
    assert net.backbone.training
    net(torch.rand(2, 3, 64, 64)).semantic.sum().backward()
    assert net.backbone.conv1.weight.grad is not None
    assert AttentionNet.from_config(net.config()).backbone is not None


def test_resnet_backbone_loads_torchvision_state_dicts():
    import torchvision

    torch.manual_seed(0)
    full = torchvision.models.resnet18(weights=None)
    body = resnet_backbone("resnet18", full.state_dict())  # fc.* ignored
    assert torch.equal(body.conv1.weight, full.conv1.weight)
    assert body.out_channels == 512 and body.arch == "resnet18"
    bad = {k: v for k, v in full.state_dict().items() if not k.startswith("layer4")}
    with pytest.raises(CheckpointError, match="missing keys"):
        resnet_backbone("resnet18", bad)
    with pytest.raises(ConfigError, match="unknown backbone"):
        resnet_backbone("vgg16")


# -- loss -------------------------------------------------------------------------------


def _batch(seed=0, n=12, a=A, c=4):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, a, generator=g), torch.rand(c, a, generator=g), torch.arange(n) % c


def test_loss_is_cosine_ce_plus_lambda1_reg():
    pred, sem, y = _batch()
    loss_fn = AttentionNetLoss(sem, lambda1=0.25, loss="remse", p=0.1, p2=0.75)
    loss, parts = loss_fn(pred, y)
    logits = 20.0 * F.normalize(pred, dim=1) @ F.normalize(sem, dim=1).T
    ce = F.cross_entropy(logits, y)
    reg = ReMSELoss(4, p=0.1, p2=0.75)(pred, sem[y], y)
    torch.testing.assert_close(parts["ce"], ce)
    torch.testing.assert_close(parts["reg"], reg)
    torch.testing.assert_close(loss, ce + 0.25 * reg)


def test_mse_equals_remse_with_zero_exponents():
    pred, sem, y = _batch(1)
    a, _ = AttentionNetLoss(sem, loss="mse")(pred, y)
    b, _ = AttentionNetLoss(sem, loss="remse", p=0.0, p2=0.0)(pred, y)
    assert torch.equal(a, b)


def test_global_remse_equals_in_batch_remse_in_one_process():
    """With an identity 'all-reduce' the distributed ReMSE path is the in-batch ReMSE exactly."""
    pred, sem, y = _batch(2, n=16, c=5)
    y[3] = 4  # unequal class counts
    ref, ref_parts = AttentionNetLoss(sem, loss="remse")(pred, y)
    calls = []
    glob, parts = AttentionNetLoss(sem, loss="remse", reduce_fn=lambda t: calls.append(t.shape) or t)(pred, y)
    assert calls == [(5, A + 1)]  # one collective per step
    torch.testing.assert_close(glob, ref, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(parts["reg"], ref_parts["reg"], rtol=1e-6, atol=1e-7)


def test_global_remse_of_two_halves_equals_remse_of_the_whole_batch():
    """Summing per-class statistics over two 'processes' gives the weights of the global batch."""
    pred, sem, y = _batch(3, n=16, c=4)
    ref = ReMSELoss(4, p=0.1, p2=0.75)(pred, sem[y], y)
    halves = [slice(0, 8), slice(8, 16)]

    def loss_of(half, reduce_fn):
        lf = AttentionNetLoss(sem, loss="remse", ce_weight=0.0, lambda1=1.0, reduce_fn=reduce_fn)
        return lf(pred[half], y[half])[0]

    local_stats = []
    for h in halves:
        loss_of(h, lambda t: local_stats.append(t.clone()) or t)
    total = local_stats[0] + local_stats[1]  # what an all-reduce (sum) returns on both processes
    losses = [loss_of(h, lambda t: t.copy_(total)) for h in halves]
    # DDP averages the two processes' gradients, i.e. optimises the mean of their losses.
    torch.testing.assert_close((losses[0] + losses[1]) / 2, ref, rtol=1e-6, atol=1e-7)


def test_loss_config_errors():
    sem = torch.rand(3, A)
    with pytest.raises(ConfigError, match="loss"):
        AttentionNetLoss(sem, loss="l1")
    with pytest.raises(ConfigError, match="both 0"):
        AttentionNetLoss(sem, lambda1=0.0, ce_weight=0.0)
    with pytest.raises(ZSLDataError, match="pred must have shape"):
        AttentionNetLoss(sem)(torch.rand(2, A + 1), torch.tensor([0, 1]))


def test_loss_runs_in_float32_under_autocast():
    pred, sem, y = _batch(4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, parts = AttentionNetLoss(sem)(pred.bfloat16(), y)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
