"""Tests of zslkit.losses.remse (ReMSE of ReZSL, authors' code version)."""

from __future__ import annotations

import io
import math

import pytest
import torch
import torch.nn.functional as F

from zslkit.errors import ConfigError, ZSLDataError
from zslkit.losses import (
    ReMSELoss,
    class_error_stats,
    regnorm,
    remse_loss,
    remse_weights,
    weights_from_error,
)
from zslkit.losses.remse import _remse_weights_loop

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


# --------------------------------------------------------------------------------------
# reference: METHODS.md formulas with plain Python scalars and loops
# --------------------------------------------------------------------------------------


def reference_error(pred, target, labels, num_classes, normalize=True):
    """e[c][a] as nested lists of Python floats (0 rows for absent classes)."""
    rows_p = pred.double().tolist()
    rows_t = target.double().tolist()
    labels = [int(v) for v in labels.tolist()]
    num_attributes = len(rows_p[0])

    def norm(row):
        length = math.sqrt(sum(v * v for v in row))
        return [v / (length + 1e-10) for v in row]

    if normalize:
        rows_p = [norm(r) for r in rows_p]
        rows_t = [norm(r) for r in rows_t]
    sums = [[0.0] * num_attributes for _ in range(num_classes)]
    counts = [0] * num_classes
    for row_p, row_t, c in zip(rows_p, rows_t, labels):
        counts[c] += 1
        for a in range(num_attributes):
            sums[c][a] += (row_p[a] - row_t[a]) ** 2
    return [[s / counts[c] if counts[c] else 0.0 for s in sums[c]] for c in range(num_classes)]


def reference_weights_from_error(e, p, p2):
    num_classes, num_attributes = len(e), len(e[0])
    w = [[1.0] * num_attributes for _ in range(num_classes)]
    for c in range(num_classes):
        for a in range(num_attributes):
            if e[c][a] <= 0:
                continue
            min_c = min(e[k][a] for k in range(num_classes) if e[k][a] > 0)
            min_a = min(e[c][k] for k in range(num_attributes) if e[c][k] > 0)
            w1 = (1.0 + math.log(e[c][a] / min_c)) ** p
            w2 = (1.0 + math.log(e[c][a] / min_a)) ** p2
            w[c][a] = w1 * w2
    return torch.tensor(w, dtype=torch.float64)


def reference_weights(pred, target, labels, num_classes, p=0.1, p2=0.75, normalize=True):
    return reference_weights_from_error(reference_error(pred, target, labels, num_classes, normalize), p, p2)


def make_batch(seed, num_classes, num_attributes, batch, dtype=torch.float64, zeros=True):
    """A random batch with absent classes, single-sample classes and exact zero errors."""
    gen = torch.Generator().manual_seed(seed)
    present = torch.randperm(num_classes, generator=gen)[: max(3, num_classes // 2)]
    labels = present[torch.randint(len(present), (batch,), generator=gen)]
    labels[labels == present[-1]] = present[0]
    labels[:2] = present[:2]
    labels[-1] = present[-1]  # present[-1] is a single-sample class
    semantics = torch.rand(num_classes, num_attributes, generator=gen, dtype=dtype)
    target = semantics[labels].clone()
    pred = target + 0.3 * torch.randn(batch, num_attributes, generator=gen, dtype=dtype)
    if zeros:
        # every sample of class present[1]: pred == target -> a whole row of e is 0
        same = labels == present[1]
        pred[same] = target[same]
        # attribute 0 is 0 in pred and target everywhere -> a column of e is 0
        pred[:, 0] = 0.0
        target[:, 0] = 0.0
        # attribute 1: zero error for class present[0] only
        sel = labels == present[0]
        pred[sel, 1] = 0.0
        target[sel, 1] = 0.0
    return pred, target, labels


# --------------------------------------------------------------------------------------
# weights
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("num_classes", "num_attributes", "batch"), [(5, 4, 6), (12, 9, 20), (30, 17, 32)])
@pytest.mark.parametrize("normalize", [True, False])
def test_weights_match_loop_reference_float64(seed, num_classes, num_attributes, batch, normalize):
    pred, target, labels = make_batch(seed, num_classes, num_attributes, batch)
    got = remse_weights(pred, target, labels, num_classes, p=0.1, p2=0.75, normalize=normalize)
    want = reference_weights(pred, target, labels, num_classes, 0.1, 0.75, normalize)
    assert got.dtype == torch.float64 and got.shape == (num_classes, num_attributes)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-6)
    # the batch really contains what the test is about
    e = reference_error(pred, target, labels, num_classes, normalize)
    counts = torch.bincount(labels, minlength=num_classes)
    assert (counts == 0).any() and (counts == 1).any()
    assert any(all(v == 0 for v in row) and counts[c] > 0 for c, row in enumerate(e))
    assert all(e[c][0] == 0 for c in range(num_classes))
    assert (got > 1).any()


@pytest.mark.parametrize("seed", [3, 4])
@pytest.mark.parametrize(("p", "p2"), [(0.1, 0.75), (0.75, 0.0), (1.0, 2.0), (0.0, 0.5)])
def test_weights_match_reference_float32(seed, p, p2):
    pred, target, labels = make_batch(seed, 16, 24, 32, dtype=torch.float32)
    got = remse_weights(pred, target, labels, 16, p=p, p2=p2)
    assert got.dtype == torch.float32
    # float32 rounding of e is amplified by large exponents: a relative tolerance
    torch.testing.assert_close(got.double(), reference_weights(pred, target, labels, 16, p, p2), rtol=1e-5, atol=1e-6)
    # the loop version (benchmark baseline) does the same float32 arithmetic
    torch.testing.assert_close(got, _remse_weights_loop(pred, target, labels, 16, p, p2), rtol=0, atol=1e-6)


@pytest.mark.parametrize("seed", [5, 6])
def test_loop_helper_matches_reference(seed):
    pred, target, labels = make_batch(seed, 10, 8, 15)
    want = reference_weights(pred, target, labels, 10)
    torch.testing.assert_close(_remse_weights_loop(pred, target, labels, 10), want, rtol=0, atol=1e-6)


def test_weights_known_values():
    # e (C=3, A=2): class 2 absent. Column mins 1 and 2; row mins 1 and 2.
    error = torch.tensor([[1.0, 4.0], [math.e, 2.0], [0.0, 0.0]], dtype=torch.float64)
    w = weights_from_error(error, p=1.0, p2=1.0)
    w1 = [[1.0, 1.0 + math.log(2.0)], [2.0, 1.0]]
    w2 = [[1.0, 1.0 + math.log(4.0)], [1.0 + math.log(math.e / 2.0), 1.0]]
    want = torch.tensor(
        [[w1[0][0] * w2[0][0], w1[0][1] * w2[0][1]], [w1[1][0] * w2[1][0], w1[1][1] * w2[1][1]], [1.0, 1.0]],
        dtype=torch.float64,
    )
    torch.testing.assert_close(w, want, rtol=0, atol=1e-12)
    # exponents act separately: p2 = 0 leaves W1 only
    torch.testing.assert_close(weights_from_error(error, p=1.0, p2=0.0)[:2], torch.tensor(w1, dtype=torch.float64))


def test_weights_all_zero_error_are_one():
    x = torch.rand(6, 5)
    labels = torch.tensor([0, 0, 1, 3, 3, 3])
    assert torch.equal(remse_weights(x, x.clone(), labels, 4), torch.ones(4, 5))


def test_weights_carry_no_gradient():
    pred = torch.randn(8, 5, requires_grad=True)
    w = remse_weights(pred, torch.rand(8, 5), torch.arange(8) % 3, 3)
    assert not w.requires_grad and w.grad_fn is None
    assert (w >= 1).all()


def test_class_error_stats():
    pred = torch.tensor([[1.0, 0.0], [3.0, 2.0], [0.0, 1.0]], dtype=torch.float64)
    target = torch.zeros(3, 2, dtype=torch.float64)
    counts, mean, var = class_error_stats(pred, target, torch.tensor([1, 1, 0]), 3, normalize=False)
    assert counts.tolist() == [1.0, 2.0, 0.0]
    assert mean.tolist() == [[0.0, 1.0], [5.0, 2.0], [0.0, 0.0]]
    assert var.tolist() == [[0.0, 0.0], [16.0, 4.0], [0.0, 0.0]]


# --------------------------------------------------------------------------------------
# loss
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["in_batch", "cross_batch"])
@pytest.mark.parametrize("weighting", ["code", "meanvar"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_p_zero_is_exactly_mse(mode, weighting, dtype):
    pred, target, labels = make_batch(7, 12, 9, 20, dtype=dtype)
    criterion = ReMSELoss(12, p=0.0, p2=0.0, mode=mode, weighting=weighting)
    for _ in range(2):
        assert torch.equal(criterion(pred, target, labels), F.mse_loss(regnorm(pred), regnorm(target)))
    raw = ReMSELoss(12, p=0.0, p2=0.0, normalize=False, mode=mode, weighting=weighting)
    assert torch.equal(raw(pred, target, labels), F.mse_loss(pred, target))
    assert torch.equal(remse_loss(pred, target, labels, 12, p=0, p2=0), F.mse_loss(regnorm(pred), regnorm(target)))


def test_loss_is_weighted_mean_and_exposes_weights():
    pred, target, labels = make_batch(8, 12, 9, 20)
    criterion = ReMSELoss(12)
    loss = criterion(pred, target, labels)
    w = reference_weights(pred, target, labels, 12)
    sq = (regnorm(pred) - regnorm(target)) ** 2
    torch.testing.assert_close(loss, (w[labels] * sq).mean(), rtol=1e-12, atol=0)
    assert loss > F.mse_loss(regnorm(pred), regnorm(target))
    torch.testing.assert_close(criterion.last_weights, remse_weights(pred, target, labels, 12), rtol=0, atol=0)
    want_error = torch.tensor(reference_error(pred, target, labels, 12), dtype=torch.float64)
    torch.testing.assert_close(criterion.last_error, want_error, rtol=0, atol=1e-12)
    assert criterion.num_attributes == 9
    torch.testing.assert_close(remse_loss(pred, target, labels, 12), loss, rtol=0, atol=0)
    none = ReMSELoss(12, reduction="none")(pred, target, labels)
    assert none.shape == pred.shape
    torch.testing.assert_close(none.mean(), loss)
    torch.testing.assert_close(ReMSELoss(12, reduction="sum")(pred, target, labels), none.sum())


@pytest.mark.parametrize("normalize", [False, True])
def test_gradient_flows_to_pred_not_through_weights(normalize):
    pred0, target, labels = make_batch(9, 8, 7, 12, zeros=False)
    pred = pred0.clone().requires_grad_(True)
    loss = ReMSELoss(8, p=0.5, p2=0.75, normalize=normalize)(pred, target, labels)
    (grad,) = torch.autograd.grad(loss, pred)

    w = reference_weights(pred0, target, labels, 8, 0.5, 0.75, normalize)[labels]  # constant (B x A)
    b, a = pred0.shape
    if not normalize:
        analytic = 2.0 * w * (pred0 - target) / (b * a)
    else:
        # chain rule through u = x / (|x| + eps): du/dx = I/(|x|+eps) - x x^T / (|x| (|x|+eps)^2)
        norm = pred0.norm(dim=1, keepdim=True)
        u = pred0 / (norm + 1e-10)
        g_u = 2.0 * w * (u - regnorm(target)) / (b * a)
        analytic = g_u / (norm + 1e-10) - pred0 * (g_u * pred0).sum(1, keepdim=True) / (norm * (norm + 1e-10) ** 2)
    torch.testing.assert_close(grad, analytic, rtol=1e-9, atol=1e-12)
    # the gradient is not that of MSE (the weights matter) ...
    if normalize:
        plain = torch.autograd.grad(F.mse_loss(regnorm(pred), regnorm(target)), pred)[0]
    else:
        plain = torch.autograd.grad(F.mse_loss(pred, target), pred)[0]
    assert not torch.allclose(grad, plain)


def test_target_gradient_and_buffers_have_no_graph():
    pred, target, labels = make_batch(10, 6, 5, 10, zeros=False)
    target.requires_grad_(True)
    criterion = ReMSELoss(6, mode="cross_batch")
    criterion(pred, target, labels).backward()
    assert target.grad is not None and target.grad.abs().sum() > 0
    for t in (criterion.error_mean, criterion.last_weights, criterion.last_error):
        assert not t.requires_grad


# --------------------------------------------------------------------------------------
# cross_batch, state
# --------------------------------------------------------------------------------------


def two_batches():
    """Batch 1 has classes 0, 1, 2 (class 2 nearly exact); batch 2 lacks class 2."""
    gen = torch.Generator().manual_seed(11)
    semantics = torch.rand(4, 6, generator=gen, dtype=torch.float64) + 0.1
    labels1 = torch.tensor([0, 0, 1, 1, 2, 2])
    labels2 = torch.tensor([0, 1, 1, 0])
    noise = [1.0, 1.0, 0.5, 0.5, 0.01, 0.01]
    scale = torch.tensor(noise, dtype=torch.float64)[:, None]
    pred1 = semantics[labels1] + scale * torch.randn(6, 6, generator=gen, dtype=torch.float64)
    pred2 = semantics[labels2] + 0.4 * torch.randn(4, 6, generator=gen, dtype=torch.float64)
    return (pred1, semantics[labels1], labels1), (pred2, semantics[labels2], labels2)


def test_cross_batch_keeps_absent_classes():
    batch1, batch2 = two_batches()
    cross = ReMSELoss(4, mode="cross_batch")
    inb = ReMSELoss(4, mode="in_batch")
    loss1c, loss1i = cross(*batch1), inb(*batch1)
    assert torch.equal(loss1c, loss1i)  # nothing to remember yet
    e1 = torch.tensor(reference_error(*batch1, 4), dtype=torch.float64)
    assert torch.equal(cross.class_seen, torch.tensor([True, True, True, False]))

    loss2c, loss2i = cross(*batch2), inb(*batch2)
    e2 = torch.tensor(reference_error(*batch2, 4), dtype=torch.float64)
    merged = torch.cat([e2[:2], e1[2:3], e2[3:]])
    torch.testing.assert_close(cross.error_mean, merged, rtol=0, atol=1e-12)
    want = reference_weights_from_error(merged.tolist(), 0.1, 0.75)
    torch.testing.assert_close(cross.last_weights, want, rtol=0, atol=1e-12)
    # in_batch forgets class 2 ...
    assert torch.equal(inb.error_mean[2], torch.zeros(6))
    torch.testing.assert_close(inb.last_weights, reference_weights(*batch2, 4), rtol=0, atol=1e-12)
    # ... so the minima over classes differ: class 2's small error raises W1 of 0 and 1
    assert (cross.last_weights[:2] > inb.last_weights[:2]).all()
    assert loss2c > loss2i
    assert int(cross.num_updates) == 2


def test_cross_batch_momentum_is_ema():
    batch1, batch2 = two_batches()
    criterion = ReMSELoss(4, mode="cross_batch", momentum=0.25)
    criterion(*batch1)
    criterion(*batch2)
    e1 = torch.tensor(reference_error(*batch1, 4), dtype=torch.float64)
    e2 = torch.tensor(reference_error(*batch2, 4), dtype=torch.float64)
    want = e1.clone()
    want[:2] = 0.75 * e1[:2] + 0.25 * e2[:2]
    torch.testing.assert_close(criterion.error_mean, want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("weighting", ["code", "meanvar"])
def test_state_dict_round_trip_resumes_exactly(weighting):
    batch1, batch2 = two_batches()
    kwargs = dict(mode="cross_batch", weighting=weighting, momentum=0.5)
    first = ReMSELoss(4, **kwargs)
    first(*batch1)
    first(*batch2)
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    assert set(state) == {"error_mean", "error_sq_mean", "class_seen", "num_updates"}

    resumed = ReMSELoss(4, **kwargs)  # lazily sized buffers adopt the checkpoint's
    resumed.load_state_dict(state)
    assert resumed.num_attributes == 6
    batch3 = (1.1 * batch1[0][:2], batch1[1][:2], batch1[2][:2])  # class 0 only
    assert torch.equal(first(*batch3), resumed(*batch3))
    assert torch.equal(first.last_weights, resumed.last_weights)
    for name in state:
        assert torch.equal(getattr(first, name), getattr(resumed, name))
    # a fresh loss would not have resumed
    assert not torch.equal(ReMSELoss(4, **kwargs)(*batch3), first(*batch3))

    with pytest.raises(RuntimeError):
        ReMSELoss(5, **kwargs).load_state_dict(state)


def test_reset_forgets():
    batch1, _ = two_batches()
    criterion = ReMSELoss(4, mode="cross_batch")
    criterion(*batch1)
    criterion.reset()
    assert not criterion.class_seen.any() and criterion.error_mean.abs().sum() == 0
    assert criterion.last_weights is None


# --------------------------------------------------------------------------------------
# meanvar option
# --------------------------------------------------------------------------------------


def test_meanvar_with_zero_var_coef_equals_code():
    pred, target, labels = make_batch(12, 12, 9, 20)
    for mode in ("in_batch", "cross_batch"):
        code = ReMSELoss(12, mode=mode)
        meanvar = ReMSELoss(12, mode=mode, weighting="meanvar", var_coef=0.0)
        torch.testing.assert_close(meanvar(pred, target, labels), code(pred, target, labels), rtol=0, atol=0)
        torch.testing.assert_close(meanvar.last_weights, code.last_weights, rtol=0, atol=0)


def test_meanvar_weights_spread_out_classes_more():
    # attr 0: class 0 errors 25, 25 (mean 25, std 0); class 1 errors 1, 49 (mean 25, std 24)
    pred = torch.tensor([[5.0, 1.0, 1.0], [5.0, 1.0, 1.0], [1.0, 1.0, 1.0], [7.0, 1.0, 1.0]], dtype=torch.float64)
    target = torch.zeros(4, 3, dtype=torch.float64)
    labels = torch.tensor([0, 0, 1, 1])
    _, mean, var = class_error_stats(pred, target, labels, 2, normalize=False)
    assert mean[0, 0] == mean[1, 0] == 25.0 and var[0, 0] == 0.0 and var[1, 0] == 576.0
    code = ReMSELoss(2, normalize=False, p2=0.0)
    meanvar = ReMSELoss(2, normalize=False, weighting="meanvar", p2=0.0)
    code(pred, target, labels)
    meanvar(pred, target, labels)
    assert code.last_weights[0, 0] == code.last_weights[1, 0] == 1.0
    assert meanvar.last_weights[0, 0] == 1.0
    # e~ = 25 + 1 * 24 = 49 against the class minimum 25
    want = torch.tensor((1 + math.log(49.0 / 25.0)) ** 0.1, dtype=torch.float64)
    torch.testing.assert_close(meanvar.last_weights[1, 0], want, rtol=1e-12, atol=0)
    torch.testing.assert_close(meanvar.last_error, mean + var.sqrt())
    assert (meanvar.last_weights >= 1).all()


def test_meanvar_single_sample_classes_have_no_variance():
    pred, target, labels = make_batch(13, 8, 5, 8)
    labels = torch.arange(8)  # every class once
    code = ReMSELoss(8)
    meanvar = ReMSELoss(8, weighting="meanvar", var_coef=3.0)
    torch.testing.assert_close(meanvar(pred, target, labels), code(pred, target, labels), rtol=1e-12, atol=0)


def test_meanvar_cross_batch_tracks_variance_over_batches():
    target = torch.zeros(1, 2, dtype=torch.float64)
    criterion = ReMSELoss(2, mode="cross_batch", weighting="meanvar", normalize=False, momentum=0.5)
    criterion(torch.tensor([[1.0, 1.0]], dtype=torch.float64), target, torch.tensor([0]))
    criterion(torch.tensor([[3.0, 1.0]], dtype=torch.float64), target, torch.tensor([0]))
    # errors on attr 0: 1 then 9 -> m1 = 5, m2 = (1 + 81) / 2 = 41, var = 16
    torch.testing.assert_close(criterion.error_mean[0], torch.tensor([5.0, 1.0], dtype=torch.float64))
    torch.testing.assert_close(criterion.error_var[0], torch.tensor([16.0, 0.0], dtype=torch.float64))


# --------------------------------------------------------------------------------------
# dtypes and devices
# --------------------------------------------------------------------------------------


def test_half_inputs_are_upcast():
    pred, target, labels = make_batch(14, 6, 5, 10, dtype=torch.float32, zeros=False)
    loss = ReMSELoss(6)(pred.half(), target.half(), labels)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)


def test_loss_follows_input_dtype_in_cross_batch():
    batch1, batch2 = two_batches()
    criterion = ReMSELoss(4, mode="cross_batch")
    criterion(batch1[0].float(), batch1[1].float(), batch1[2])
    assert criterion.error_mean.dtype == torch.float32
    loss = criterion(*batch2)
    assert loss.dtype == torch.float64 and criterion.error_mean.dtype == torch.float64


@CUDA
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cuda_matches_cpu(dtype):
    pred, target, labels = make_batch(15, 30, 17, 32, dtype=dtype)
    w_cpu = remse_weights(pred, target, labels, 30)
    w_gpu = remse_weights(pred.cuda(), target.cuda(), labels.cuda(), 30)
    assert w_gpu.device.type == "cuda" and w_gpu.dtype == dtype
    torch.testing.assert_close(w_gpu.cpu(), w_cpu, rtol=0, atol=1e-6)
    criterion = ReMSELoss(30, mode="cross_batch")  # buffers follow the inputs to the GPU
    loss = criterion(pred.cuda().requires_grad_(), target.cuda(), labels)
    loss.backward()
    torch.testing.assert_close(loss.cpu(), ReMSELoss(30)(pred, target, labels), rtol=1e-6, atol=0)


# --------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        (dict(num_classes=0), ["num_classes", "0"]),
        (dict(num_classes=3.0), ["num_classes", "3.0"]),
        (dict(num_classes=3, p=-0.1), ["p ", "-0.1", ">= 0"]),
        (dict(num_classes=3, p2=float("nan")), ["p2", "nan"]),
        (dict(num_classes=3, p=True), ["p ", "True"]),
        (dict(num_classes=3, mode="inbatch"), ["mode", "inbatch", "cross_batch"]),
        (dict(num_classes=3, weighting="paper"), ["weighting", "paper", "meanvar"]),
        (dict(num_classes=3, reduction="avg"), ["reduction", "avg"]),
        (dict(num_classes=3, normalize="yes"), ["normalize", "yes"]),
        (dict(num_classes=3, mode="cross_batch", momentum=0.0), ["momentum", "(0, 1]"]),
        (dict(num_classes=3, momentum=0.5), ["momentum", "cross_batch"]),
        (dict(num_classes=3, var_coef=-1), ["var_coef", "-1"]),
        (dict(num_classes=3, num_attributes=0), ["num_attributes", "0"]),
    ],
)
def test_bad_config_raises_config_error(kwargs, words):
    with pytest.raises(ConfigError) as info:
        ReMSELoss(**kwargs)
    for word in words:
        assert word in str(info.value)


def test_bad_config_in_functions():
    x, labels = torch.rand(4, 3), torch.tensor([0, 1, 1, 2])
    with pytest.raises(ConfigError, match="p2"):
        remse_weights(x, x, labels, 3, p2=-1)
    with pytest.raises(ConfigError, match="num_classes"):
        remse_weights(x, x, labels, 0)
    with pytest.raises(ConfigError, match="reduction"):
        remse_loss(x, x, labels, 3, reduction="max")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ((torch.rand(4), torch.rand(4), torch.tensor([0, 1, 1, 2])), ["pred", "(4,)", "(B, A)"]),
        ((torch.rand(0, 3), torch.rand(0, 3), torch.tensor([], dtype=torch.long)), ["pred", "(0, 3)"]),
        ((torch.rand(4, 3), torch.rand(4, 2), torch.tensor([0, 1, 1, 2])), ["target", "(4, 3)", "(4, 2)"]),
        ((torch.rand(4, 3), torch.rand(4, 3), torch.tensor([0, 1, 2])), ["labels", "(4,)", "(3,)"]),
        ((torch.rand(4, 3), torch.rand(4, 3), torch.tensor([0, 1, 1, 3])), ["labels", "num_classes=3", "[0, 3]"]),
        ((torch.rand(4, 3), torch.rand(4, 3), torch.tensor([0, -1, 1, 2])), ["labels", "[-1, 2]"]),
        ((torch.rand(4, 3), torch.rand(4, 3), torch.tensor([0.0, 1.0, 1.0, 2.0])), ["labels", "integer", "float32"]),
        (
            (torch.ones(4, 3, dtype=torch.long), torch.rand(4, 3), torch.tensor([0, 1, 1, 2])),
            ["pred", "floating", "int64"],
        ),
        ((torch.tensor([[float("nan"), 1.0, 0.0]] * 4), torch.rand(4, 3), torch.tensor([0, 1, 1, 2])), ["pred", "NaN"]),
        ((torch.rand(4, 3), torch.full((4, 3), float("inf")), torch.tensor([0, 1, 1, 2])), ["target", "inf"]),
        ((torch.rand(4, 3).numpy(), torch.rand(4, 3), torch.tensor([0, 1, 1, 2])), ["pred", "torch.Tensor", "ndarray"]),
    ],
)
def test_bad_tensors_raise_data_error(args, words):
    for call in (lambda: ReMSELoss(3)(*args), lambda: remse_weights(*args, 3), lambda: remse_loss(*args, 3)):
        with pytest.raises(ZSLDataError) as info:
            call()
        for word in words:
            assert word in str(info.value)


def test_attribute_count_change_raises():
    criterion = ReMSELoss(3, mode="cross_batch")
    criterion(torch.rand(4, 5), torch.rand(4, 5), torch.tensor([0, 1, 1, 2]))
    with pytest.raises(ZSLDataError, match="6 attributes.*tracks 5"):
        criterion(torch.rand(4, 6), torch.rand(4, 6), torch.tensor([0, 1, 1, 2]))
    with pytest.raises(ZSLDataError, match="5 attributes.*tracks 7"):
        ReMSELoss(3, num_attributes=7)(torch.rand(4, 5), torch.rand(4, 5), torch.tensor([0, 1, 1, 2]))


def test_weights_from_error_rejects_negative():
    with pytest.raises(ZSLDataError, match="error"):
        weights_from_error(torch.tensor([[1.0, -1.0]]))
    with pytest.raises(ZSLDataError, match=r"\(C, A\)"):
        weights_from_error(torch.tensor([1.0, 2.0]))
