"""GEM-ZSL: its forward and its four losses, written from the formulas (numpy), and its attribute groups."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conftest import SHARED
from zslkit.errors import ConfigError, ZSLDataError
from zslkit.losses import ReMSELoss
from zslkit.models.backbones import vit_backbone
from zslkit.models.gem_zsl import AUTHORS_GROUPS, GEMZSL, GEMZSLLoss, attribute_groups

B, A, C, H, W, L = 3, 6, 5, 4, 3, 7


@pytest.fixture
def model() -> GEMZSL:
    torch.manual_seed(0)
    return GEMZSL(torch.randn(A, L), C).double()


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_forward_is_the_authors_formula(model):
    x = torch.rand(B, C, H, W, dtype=torch.float64)
    out = model(x)
    F_ = x.flatten(2).numpy()  # (B, C, R)
    Wp, Vp = model.W.detach().numpy(), model.V.detach().numpy()
    w2v = model.attribute_vectors.double().numpy()
    semantic = F_.mean(axis=2) @ Vp  # global branch: V^T mean_r F_r
    q = w2v @ Wp  # (A, C) raw word vectors, no normalisation
    alpha = _softmax(np.einsum("ac,bcr->bar", q, F_))
    np.testing.assert_allclose(out.semantic.detach().numpy(), semantic, rtol=1e-12)
    np.testing.assert_allclose(out.attention.detach().flatten(2).numpy(), alpha, rtol=1e-12)
    np.testing.assert_allclose(out.attention_max.detach().numpy(), alpha.max(-1), rtol=1e-12)
    np.testing.assert_allclose(out.query.detach().numpy(), q, rtol=1e-12)
    assert out[0] is out.semantic


def _reference_losses(out, sem: np.ndarray, y: np.ndarray, groups, scale: float = 20.0) -> dict[str, float]:
    s = out.semantic.detach().numpy()
    cos = (s / np.linalg.norm(s, axis=1, keepdims=True)) @ (sem / np.linalg.norm(sem, axis=1, keepdims=True)).T
    logits = scale * cos
    ce = float(np.mean(np.log(np.exp(logits).sum(1)) - logits[np.arange(len(y)), y]))
    reg = float(np.mean((out.attention_max.detach().numpy() - sem[y]) ** 2))
    q = out.query.detach().numpy()
    ad = float(np.mean([np.sqrt((q[g] ** 2).sum(0)).mean() for g in groups]))
    att = out.attention.detach().numpy()  # (B, A, h, w)
    b, a, h, w = att.shape
    cpt = 0.0
    for i in range(b):
        for j in range(a):
            ty, tx = np.unravel_index(att[i, j].argmax(), (h, w))
            yy, xx = np.mgrid[0:h, 0:w]
            cpt += float((att[i, j] * ((yy - ty) ** 2 + (xx - tx) ** 2)).sum())
    return {"ce": ce, "reg": reg, "ad": ad, "cpt": cpt / (b * a * h * w)}


def test_losses_are_the_authors(model):
    x = torch.rand(B, C, H, W, dtype=torch.float64)
    sem = np.random.default_rng(1).random((4, A))
    y = np.array([0, 3, 1])
    groups = [[0, 1, 2], [3], [4, 5]]
    loss_fn = GEMZSLLoss(torch.from_numpy(sem), groups, lambda_reg=1.0, lambda_ad=0.1, lambda_cpt=0.2)
    out = model(x)
    loss, parts = loss_fn(out, torch.from_numpy(y))
    ref = _reference_losses(out, sem, y, groups)
    for k, v in ref.items():
        assert float(parts[k]) == pytest.approx(v, rel=1e-5), k
    assert float(loss.detach()) == pytest.approx(ref["ce"] + ref["reg"] + 0.1 * ref["ad"] + 0.2 * ref["cpt"], rel=1e-5)
    loss.backward()
    assert model.W.grad is not None and model.V.grad is not None
    assert float(model.W.grad.abs().sum()) > 0 and float(model.V.grad.abs().sum()) > 0


def test_rezsl_regression_losses_act_on_the_global_prediction(model):
    x = torch.rand(B, C, H, W, dtype=torch.float64)
    sem = torch.rand(4, A, dtype=torch.float64)
    y = torch.tensor([0, 3, 1])
    out = model(x)
    _, parts = GEMZSLLoss(sem, [[a] for a in range(A)], loss="remse", p=0.1, p2=0.75)(out, y)
    ref = ReMSELoss(4, p=0.1, p2=0.75)(out.semantic.float(), sem.float()[y], y)
    torch.testing.assert_close(parts["reg"], ref.detach())


def test_attribute_groups():
    names = (SHARED.parent / "word-vectors" / "CUB_attribute_names.txt").read_text().split("\n")
    names = [n for n in names if n.strip()]
    cub = attribute_groups(312, names)
    assert len(cub) == 28 and cub == AUTHORS_GROUPS["CUB"]
    assert cub[0] == list(range(0, 9)) and cub[1] == list(range(9, 24)) and cub[-1] == list(range(308, 312))
    assert attribute_groups(312, dataset="CUB") == cub
    for ds, n, k in (("AWA2", 85, 9), ("SUN", 102, 4)):
        g = attribute_groups(n, dataset=ds)
        assert len(g) == k and sorted(i for grp in g for i in grp) == list(range(n))
    assert attribute_groups(5) == [[0], [1], [2], [3], [4]]  # unknown dataset: one group per attribute
    with pytest.raises(ConfigError, match="partition"):
        GEMZSLLoss(torch.rand(3, 4), [[0, 1], [1, 2, 3]])


def test_gem_needs_spatial_maps():
    with pytest.raises(ConfigError, match="ResNet"):
        GEMZSL(torch.randn(A, L), backbone=vit_backbone("vit_b_16"))
    with pytest.raises(ZSLDataError, match=r"\(B, C, h, w\)"):
        GEMZSL(torch.randn(A, L), C)(torch.rand(2, C, 9))


def test_config_round_trip(model):
    clone = GEMZSL.from_config(model.config()).double()
    clone.load_state_dict(model.state_dict())
    x = torch.rand(2, C, H, W, dtype=torch.float64)
    torch.testing.assert_close(clone(x).semantic, model(x).semantic)
