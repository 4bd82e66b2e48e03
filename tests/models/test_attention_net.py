"""AttentionNet: shapes, gradients, backbone modes, and its loss (CE + lambda1 x ReMSE / MSE)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from zslkit.errors import CheckpointError, ConfigError, ZSLDataError
from zslkit.losses import ReMSELoss
from zslkit.models.attention_net import AttentionNet, AttentionNetLoss, load_rezsl_checkpoint, resnet_backbone

B, A, C, H, W, DW = 5, 7, 6, 4, 3, 10


@pytest.fixture
def net() -> AttentionNet:
    torch.manual_seed(0)
    return AttentionNet(torch.randn(A, DW), C, attention_dim=8)


def authors_forward(x: np.ndarray, w2v: np.ndarray, p: dict[str, np.ndarray], ratio: float = 1.0) -> tuple:
    """ReZSL's AttentionNet written from its formula, step by step, in numpy (float64).

    x: (B, C, R) positions; p: the layers as (weight, bias) pairs in nn.Linear convention
    (y = x W^T + b) for query/key/value/out/(hidden), and U (A x C or A x hidden).
    Returns (s_hat (B, A), alpha (B, A, R)).
    """
    lin = lambda t, name: t @ p[name + ".weight"].T + p[name + ".bias"]  # noqa: E731
    q = lin(w2v, "query")  # (A, M): raw word vectors
    tokens = x.transpose(0, 2, 1)  # (B, R, C)
    k, v = lin(tokens, "key"), lin(tokens, "value")  # (B, R, M)
    logits = np.einsum("am,brm->bar", q, k)  # no 1/sqrt(M)
    alpha = np.exp(logits - logits.max(-1, keepdims=True))
    alpha /= alpha.sum(-1, keepdims=True)
    o = lin(alpha @ v, "out")  # (B, A, C)
    f = x.mean(axis=2)[:, None, :] + ratio * o  # pooled + rho * attended, (B, A, C)
    if "hidden.weight" in p:
        f = lin(f, "hidden")  # (B, A, hidden), no activation
    return np.einsum("bak,ak->ba", f, p["attribute_weight"]), alpha


def _numpy_params(model: AttentionNet) -> dict[str, np.ndarray]:
    return {k: v.detach().double().numpy() for k, v in model.state_dict().items() if k != "attribute_vectors"}


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("hidden_dim", [0, 5])
@pytest.mark.parametrize("tokens", [False, True])
def test_forward_is_the_authors_formula(fused, hidden_dim, tokens):
    torch.manual_seed(3)
    model = AttentionNet(torch.randn(A, DW) * 3, C, attention_dim=9, hidden_dim=hidden_dim, ratio=0.7,
                         fused=fused).double()
    x = torch.rand(2, C, H * W + 1, dtype=torch.float64) if tokens else torch.rand(2, C, H, W, dtype=torch.float64)
    out = model(x)
    ref, alpha = authors_forward(x.flatten(2).numpy(), model.attribute_vectors.double().numpy(),
                                 _numpy_params(model), ratio=0.7)
    np.testing.assert_allclose(out.semantic.detach().numpy(), ref, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(out.attention.detach().flatten(2).numpy(), alpha, rtol=1e-10, atol=1e-12)
    assert out.attention.shape == ((2, A, H * W + 1) if tokens else (2, A, H, W))
    torch.testing.assert_close(out.semantic, out.global_semantic + 0.7 * out.attribute_semantic)


def test_fused_and_direct_have_the_same_gradients():
    torch.manual_seed(4)
    vec = torch.randn(A, DW)
    models = [AttentionNet(vec, C, attention_dim=9, hidden_dim=4, fused=f).double() for f in (True, False)]
    models[1].load_state_dict(models[0].state_dict())
    x = torch.rand(3, C, H, W, dtype=torch.float64)
    sem = torch.rand(4, A, dtype=torch.float64)
    for m in models:
        loss, _ = AttentionNetLoss(sem, loss="remse")(m(x).semantic, torch.tensor([0, 1, 2]))
        loss.backward()
    for (name, a), (_, b) in zip(models[0].named_parameters(), models[1].named_parameters()):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-9, atol=1e-12, msg=name)


def test_forward_shapes_and_attention_is_a_distribution(net):
    x = torch.rand(B, C, H, W)
    out = net(x)
    assert out.semantic.shape == (B, A)
    assert out[0] is out.semantic  # code written for the authors' model takes the first output
    assert out.attention.shape == (B, A, H, W)
    assert out.global_semantic.shape == (B, A) and out.attribute_semantic.shape == (B, A)
    torch.testing.assert_close(out.attention.sum(dim=(2, 3)), torch.ones(B, A))
    assert bool((out.attention >= 0).all())
    torch.testing.assert_close(out.semantic, out.global_semantic + net.ratio * out.attribute_semantic)
    assert net.queries().shape == (A, 8)


def test_layers_and_initialisation_are_the_authors():
    torch.manual_seed(0)
    cub = AttentionNet(torch.randn(312, 300), 2048)
    assert (cub.attention_dim, cub.hidden_dim, cub.hidden) == (1024, 0, None)
    assert tuple(cub.query.weight.shape) == (1024, 300) and tuple(cub.key.weight.shape) == (1024, 2048)
    assert tuple(cub.out.weight.shape) == (2048, 1024) and tuple(cub.attribute_weight.shape) == (312, 2048)
    assert all(layer.bias is not None for layer in (cub.query, cub.key, cub.value, cub.out))
    # one vector per attribute, N(0, 1): mean ~ 0, std ~ 1 over 639k entries
    u = cub.attribute_weight.detach()
    assert abs(float(u.mean())) < 0.01 and abs(float(u.std()) - 1) < 0.01
    awa2 = AttentionNet(torch.randn(85, 300), 2048, hidden_dim=4096)
    assert awa2.attention_dim == 300 and tuple(awa2.hidden.weight.shape) == (4096, 2048)
    assert tuple(awa2.attribute_weight.shape) == (85, 4096)
    vec = torch.randn(A, DW) * 5
    assert torch.equal(AttentionNet(vec, C).attribute_vectors, vec)  # raw, not normalised


def test_every_parameter_gets_a_finite_gradient(net):
    x = torch.rand(B, C, H, W)
    sem = torch.rand(4, A)
    loss_fn = AttentionNetLoss(sem, loss="remse")
    loss, parts = loss_fn(net(x).semantic, torch.tensor([0, 1, 2, 3, 0]))
    assert set(parts) == {"ce", "reg"} and loss.ndim == 0
    loss.backward()
    top = max(float(p.grad.abs().max()) for p in net.parameters())
    for name, p in net.named_parameters():
        assert p.grad is not None, name  # DDP needs every parameter in the graph
        assert bool(torch.isfinite(p.grad).all()), name
        if name == "key.bias":  # <q_a, b_K> is constant over positions: it cancels in the softmax
            assert float(p.grad.abs().max()) < 1e-5 * top
        else:
            assert float(p.grad.abs().sum()) > 0, name
    assert not net.attribute_vectors.requires_grad  # a buffer, not learned


def test_gradcheck_float64():
    torch.manual_seed(1)
    net = AttentionNet(torch.randn(3, 4), 2, attention_dim=3, hidden_dim=2).double()
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
    with pytest.raises(ConfigError, match="hidden_dim"):
        AttentionNet(torch.randn(A, DW), C, hidden_dim=-1)
    with pytest.raises(ConfigError, match="fused"):
        AttentionNet(torch.randn(A, DW), C, fused="yes")


def test_config_round_trip(net):
    clone = AttentionNet.from_config(net.config())
    clone.load_state_dict(net.state_dict())
    x = torch.rand(2, C, H, W)
    assert torch.equal(clone(x).semantic, net(x).semantic)
    assert torch.equal(clone.attribute_vectors, net.attribute_vectors)
    old = {k: v for k, v in net.config().items() if k not in ("architecture", "attention_dim", "hidden_dim")}
    with pytest.raises(CheckpointError, match="earlier zslkit"):
        AttentionNet.from_config(old)


def test_cosine_scores_and_logits(net):
    s = torch.randn(3, A)
    cls = torch.randn(4, A)
    cos = net.cosine_scores(s, cls)
    assert cos.shape == (3, 4) and float(cos.abs().max()) <= 1 + 1e-6
    torch.testing.assert_close(net.logits(s, cls), 20.0 * cos)


# -- the authors' checkpoints ---------------------------------------------------------------


def authors_state_dict(num_attributes: int, word_dim: int, channels: int, med: int, hidden: int = 0,
                       seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict with the names and shapes of the authors' AttentionNet (their mainModel.py).

    ``v2s_branch.{QueryW,KeyW,ValueW,W_o}`` are ``nn.Linear`` (wrapped in ``nn.Sequential``, so
    ``.0.`` in the name, when A = 85), ``V_att_final_branch`` is U, ``V_att_hidden_branch`` the
    optional hidden layer (an ``nn.Sequential``), and for A = 85 the unused ``W`` (L x C) and
    ``V`` (C x A). Saved from DataParallel, so every name starts with ``module.``.
    """
    g = torch.Generator().manual_seed(seed)
    seq = ".0" if num_attributes == 85 else ""
    shapes = {"QueryW": (med, word_dim), "KeyW": (med, channels), "ValueW": (med, channels), "W_o": (channels, med)}
    sd = {}
    for name, (o, i) in shapes.items():
        sd[f"v2s_branch.{name}{seq}.weight"] = torch.randn(o, i, generator=g) / math.sqrt(i)
        sd[f"v2s_branch.{name}{seq}.bias"] = torch.randn(o, generator=g) * 0.1
    if hidden:
        sd["v2s_branch.V_att_hidden_branch.0.weight"] = torch.randn(hidden, channels, generator=g) / math.sqrt(channels)
        sd["v2s_branch.V_att_hidden_branch.0.bias"] = torch.randn(hidden, generator=g) * 0.1
    sd["v2s_branch.V_att_final_branch"] = torch.randn(num_attributes, hidden or channels, generator=g)
    if num_attributes == 85:
        sd["W"] = torch.randn(word_dim, channels, generator=g)
        sd["V"] = torch.randn(channels, num_attributes, generator=g)
    return {"module." + k: v for k, v in sd.items()}


def _theirs_as_numpy(sd: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    names = {"QueryW": "query", "KeyW": "key", "ValueW": "value", "W_o": "out", "V_att_hidden_branch": "hidden"}
    out = {}
    for k, v in sd.items():
        parts = k.replace("module.", "").split(".")
        if parts[0] != "v2s_branch":
            continue
        if parts[1] == "V_att_final_branch":
            out["attribute_weight"] = v.double().numpy()
        else:
            out[f"{names[parts[1]]}.{parts[-1]}"] = v.double().numpy()
    return out


@pytest.mark.parametrize("num_attributes, med, hidden", [(12, 16, 0), (85, 10, 6)])
def test_load_rezsl_checkpoint_computes_the_authors_forward(tmp_path, num_attributes, med, hidden):
    sd = authors_state_dict(num_attributes, 7, 5, med, hidden)
    w2v = np.random.default_rng(0).normal(size=(num_attributes, 7)).astype(np.float32)
    path = tmp_path / "rezsl.pth"
    torch.save({"model": sd}, path)  # as their trainer saves it
    model = load_rezsl_checkpoint(path, w2v)
    assert not model.training and model.backbone is None
    assert (model.attention_dim, model.hidden_dim, model.feature_channels) == (med, hidden, 5)
    x = torch.rand(3, 5, 4, 4)
    ref, alpha = authors_forward(x.flatten(2).double().numpy(), w2v.astype(np.float64), _theirs_as_numpy(sd))
    out = model(x)
    np.testing.assert_allclose(out[0].detach().numpy(), ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out.attention.detach().flatten(2).numpy(), alpha, atol=1e-5)
    # the same from the bare state dict, without the DataParallel prefix
    bare = {k[len("module."):]: v for k, v in sd.items()}
    torch.testing.assert_close(load_rezsl_checkpoint(bare, w2v)(x).semantic, out.semantic)


def test_load_rezsl_checkpoint_with_a_resnet_backbone():
    import torchvision

    torch.manual_seed(0)
    resnet = torchvision.models.resnet18(weights=None).eval()
    sd = authors_state_dict(6, 4, 512, 8)
    sd.update({f"module.backbone.{k}": v for k, v in resnet.state_dict().items() if not k.startswith("fc.")})
    w2v = torch.randn(6, 4)
    images = torch.rand(2, 3, 64, 64)
    full = load_rezsl_checkpoint(sd, w2v, with_backbone=True)
    assert full.backbone.arch == "resnet18"
    head = load_rezsl_checkpoint(sd, w2v)  # backbone parameters ignored: the head on feature maps
    assert head.backbone is None
    with torch.no_grad():
        fmap = torch.nn.Sequential(*list(resnet.children())[:-2])(images)
        torch.testing.assert_close(full(images).semantic, head(fmap).semantic, rtol=1e-5, atol=1e-5)


def test_load_rezsl_checkpoint_errors(tmp_path):
    sd = authors_state_dict(12, 7, 5, 16)
    w2v = torch.randn(12, 7)
    with pytest.raises(ZSLDataError, match="12 attributes x 7-d"):
        load_rezsl_checkpoint(sd, torch.randn(12, 6))
    missing = {k: v for k, v in sd.items() if "KeyW" not in k}
    with pytest.raises(CheckpointError, match="missing.*KeyW"):
        load_rezsl_checkpoint(missing, w2v)
    with pytest.raises(CheckpointError, match="unexpected entries.*extra"):
        load_rezsl_checkpoint({**sd, "module.extra": torch.zeros(1)}, w2v)
    with pytest.raises(CheckpointError, match="no backbone parameters"):
        load_rezsl_checkpoint(sd, w2v, with_backbone=True)
    bad = dict(sd)
    bad["module.v2s_branch.W_o.weight"] = torch.zeros(5, 15)
    with pytest.raises(CheckpointError, match="shape"):
        load_rezsl_checkpoint(bad, w2v)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_rezsl_checkpoint(tmp_path / "nope.pth", w2v)

    class Evil:  # a pickle that would run code: refused by weights-only loading
        def __reduce__(self):
            return (print, ("pwned",))

    evil = tmp_path / "evil.pth"
    torch.save({"model": Evil()}, evil)
    with pytest.raises(CheckpointError, match="weights_only"):
        load_rezsl_checkpoint(evil, w2v)


@pytest.mark.parametrize("key, value, match", [
    ("v2s_branch.V_att_final_branch", torch.tensor(1.0), r"V_att_final_branch has shape \(\).*matrix \(2-D\)"),
    ("v2s_branch.QueryW.weight", torch.zeros(16), r"QueryW.weight has shape \(16,\).*matrix \(2-D\)"),
    ("v2s_branch.KeyW.weight", torch.zeros(16, 5, 1), r"KeyW.weight has shape \(16, 5, 1\).*matrix"),
    ("v2s_branch.QueryW.bias", torch.zeros(15), r"QueryW.bias has 15 values, expected 16 .*QueryW.weight"),
    ("v2s_branch.W_o.bias", torch.zeros(5, 1), r"W_o.bias has shape \(5, 1\).*vector \(1-D\)"),
    ("v2s_branch.ValueW.weight", torch.zeros(16, 5, dtype=torch.int64), r"ValueW.weight .*dtype torch.int64"),
])
def test_crafted_rezsl_checkpoints_name_the_file_and_key(tmp_path, key, value, match):
    """A tensor of another rank, a bias of the wrong length or an integer tensor where a weight belongs: one
    CheckpointError naming the file and the checkpoint's own key (not an IndexError or a load_state_dict dump)."""
    sd = authors_state_dict(12, 7, 5, 16)
    sd["module." + key] = value
    path = tmp_path / "crafted.pth"
    torch.save({"model": sd}, path)
    with pytest.raises(CheckpointError, match=match) as exc:
        load_rezsl_checkpoint(path, torch.randn(12, 7))
    assert str(path) in str(exc.value)


def test_rezsl_checkpoint_whose_model_entry_is_not_a_dict(tmp_path):
    path = tmp_path / "list.pth"
    torch.save({"model": [torch.zeros(2)], "epoch": 3}, path)
    with pytest.raises(CheckpointError, match=r"list.pth: entry 'model' is a list, expected a state dict"):
        load_rezsl_checkpoint(path, torch.randn(12, 7))


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
    assert net.query.weight.grad is not None
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
    with pytest.raises(ConfigError, match="unknown ResNet backbone"):
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


# -- the real attribute word vectors (../shared/data/word-vectors) ------------------------------


@pytest.mark.parametrize("dataset, attributes, hidden, med", [("CUB", 312, 0, 1024), ("AWA2", 85, 4096, 300),
                                                              ("SUN", 102, 0, 1024)])
def test_real_word_vectors_at_the_authors_shapes(dataset, attributes, hidden, med):
    """CUB/AWA2/SUN AttentionNet with the real attribute word2vec vectors on one 2048 x 14 x 14 map."""
    from tests.conftest import SHARED

    path = SHARED.parent / "word-vectors" / f"{dataset}_attribute_w2v.npy"
    if not path.is_file():  # pragma: no cover - CI has ../shared
        pytest.fail(f"real word vectors not found at {path}")
    w2v = np.load(path, allow_pickle=False)
    assert w2v.shape == (attributes, 300)
    torch.manual_seed(0)
    model = AttentionNet(torch.from_numpy(w2v), 2048, hidden_dim=hidden)
    assert model.attention_dim == med
    x = torch.relu(torch.randn(1, 2048, 14, 14))
    with torch.no_grad():
        out = model(x)
    ref, alpha = authors_forward(x.flatten(2).double().numpy(), w2v.astype(np.float64), _numpy_params(model))
    np.testing.assert_allclose(out.semantic.numpy(), ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
    np.testing.assert_allclose(out.attention.flatten(2).numpy(), alpha, atol=1e-5)
