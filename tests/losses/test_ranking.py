"""Tests of zslkit.losses.ranking (ALE / SJE / DeViSE ranking losses)."""

from __future__ import annotations

from fractions import Fraction as Fr

import numpy as np
import pytest
import torch

from zslkit.errors import ConfigError, ZSLDataError
from zslkit.losses.ranking import (
    RANKING_LOSSES,
    ale_loss,
    ale_sampled_violator,
    devise_first_violator,
    devise_loss,
    harmonic,
    margin_violations,
    rank_weight,
    sje_loss,
    sje_most_violating,
    standardise,
)

# Hand example, margin 1 (Delta(y, c) = 1 for c != y):
#   row 0, y = 0, F = [2.0, 1.5, 0.2, 1.8]: violations v_c = 1 + F_c - 2.0 = [0, 0.5, -0.8, 0.8]
#       hinges [0, 0.5, 0, 0.8], sum 1.3, r = 2, l(2) = 1 + 1/2 -> ALE 1.3 * 1.5 / 2 = 0.975
#       SJE max = 0.8, DeViSE sum = 1.3
#   row 1, y = 1, F = [0.0, 3.0, -1.0, 0.5]: v = [-2, 0, -3, -1.5] -> all losses 0 (r = 0)
#   row 2, y = 0, F = [0.0, 0.5, 0.2, 0.9]: v = [0, 1.5, 1.2, 1.9], sum 4.6, r = 3,
#       l(3) = 11/6 -> ALE 4.6 * 11/18;  SJE 1.9;  DeViSE 4.6
SCORES = [[2.0, 1.5, 0.2, 1.8], [0.0, 3.0, -1.0, 0.5], [0.0, 0.5, 0.2, 0.9]]
LABELS = [0, 1, 0]
ALE_ROWS = [0.975, 0.0, float(Fr(46, 10) * Fr(11, 18))]
SJE_ROWS = [0.8, 0.0, 1.9]
DEVISE_ROWS = [1.3, 0.0, 4.6]


def hand_inputs(dtype=torch.float64):
    return torch.tensor(SCORES, dtype=dtype, requires_grad=True), torch.tensor(LABELS)


@pytest.mark.parametrize("fn, rows", [(ale_loss, ALE_ROWS), (sje_loss, SJE_ROWS), (devise_loss, DEVISE_ROWS)])
def test_hand_example_all_reductions(fn, rows):
    s, y = hand_inputs()
    none = fn(s, y, margin=1.0, reduction="none")
    assert none.shape == (3,)
    assert none.tolist() == pytest.approx(rows, abs=1e-12)
    assert fn(s, y, margin=1.0, reduction="sum").item() == pytest.approx(sum(rows), abs=1e-12)
    assert fn(s, y, margin=1.0).item() == pytest.approx(sum(rows) / 3, abs=1e-12)  # default: mean


def test_margin_violations_hand_example():
    s, y = hand_inputs()
    v = margin_violations(s, y, margin=1.0)
    expected = [[0.0, 0.5, -0.8, 0.8], [-2.0, 0.0, -3.0, -1.5], [0.0, 1.5, 1.2, 1.9]]
    assert v.detach().tolist() == [pytest.approx(r, abs=1e-12) for r in expected]


def test_ale_gradient_treats_rank_weight_as_constant():
    # Row 0 only: w = l(2)/2 = 0.75 on each violating class (1 and 3), -w*r = -1.5 on the true class.
    s = torch.tensor([SCORES[0]], dtype=torch.float64, requires_grad=True)
    ale_loss(s, torch.tensor([0]), margin=1.0, reduction="sum").backward()
    assert s.grad.tolist()[0] == pytest.approx([-1.5, 0.75, 0.0, 0.75], abs=1e-12)


def test_sje_gradient_only_most_violating_class():
    s = torch.tensor([SCORES[0]], dtype=torch.float64, requires_grad=True)
    sje_loss(s, torch.tensor([0]), margin=1.0, reduction="sum").backward()
    assert s.grad.tolist()[0] == pytest.approx([-1.0, 0.0, 0.0, 1.0], abs=1e-12)


def test_devise_gradient_every_violating_class():
    s = torch.tensor([SCORES[2]], dtype=torch.float64, requires_grad=True)
    devise_loss(s, torch.tensor([0]), margin=1.0, reduction="sum").backward()
    assert s.grad.tolist()[0] == pytest.approx([-3.0, 1.0, 1.0, 1.0], abs=1e-12)


def test_zero_when_margins_satisfied():
    # true class ahead of every other class by more than the margin
    s = torch.tensor([[5.0, 3.9, 1.0], [0.0, 2.0, 0.5]])
    y = torch.tensor([0, 1])
    for fn in (ale_loss, sje_loss, devise_loss):
        assert fn(s, y, margin=1.0, reduction="sum").item() == 0.0
    # DeViSE's default margin (0.1, Frome et al.): a 0.15 lead suffices, but not for margin 1
    s = torch.tensor([[1.0, 0.85, 0.0]])
    assert devise_loss(s, torch.tensor([0])).item() == 0.0
    assert devise_loss(s, torch.tensor([0]), margin=1.0).item() == pytest.approx(0.85 + 0.0, abs=1e-6)


def test_sje_is_zero_not_negative_for_confident_rows():
    s = torch.tensor([[10.0, -5.0, -7.0]])
    assert sje_loss(s, torch.tensor([0]), reduction="none").tolist() == [0.0]


def test_true_class_never_counted_even_with_ties():
    # all scores equal: every wrong class violates by exactly the margin; the true class must not
    s = torch.zeros(1, 5)
    assert devise_loss(s, torch.tensor([2]), margin=0.5).item() == pytest.approx(4 * 0.5)
    h4 = 1 + 1 / 2 + 1 / 3 + 1 / 4
    assert ale_loss(s, torch.tensor([2]), margin=0.5).item() == pytest.approx(h4 / 4 * 4 * 0.5)
    assert sje_loss(s, torch.tensor([2]), margin=0.5).item() == pytest.approx(0.5)


def test_rank_weight_harmonic():
    r = torch.tensor([0, 1, 2, 3, 10, 645])
    expected = [0.0] + [sum(Fr(1, i) for i in range(1, k + 1)) / k for k in (1, 2, 3, 10, 645)]
    assert rank_weight(r).tolist() == pytest.approx([float(e) for e in expected], rel=1e-13, abs=0)


def _reference(scores, labels, margin, kind):
    """Plain-Python loops over the formulas of the module docstring."""
    out = []
    for row, y in zip(scores.tolist(), labels.tolist()):
        v = [(margin if c != y else 0.0) + row[c] - row[y] for c in range(len(row))]
        hinge = [max(0.0, x) for c, x in enumerate(v) if c != y]
        r = sum(1 for h in hinge if h > 0)
        if kind == "ale":
            out.append(sum(1.0 / i for i in range(1, r + 1)) / r * sum(hinge) if r else 0.0)
        elif kind == "sje":
            out.append(max(v))
        else:
            out.append(sum(hinge))
    return out


@pytest.mark.parametrize("kind", ["ale", "sje", "devise"])
def test_random_against_reference(kind):
    g = torch.Generator().manual_seed(3)
    s = torch.randn(50, 17, generator=g, dtype=torch.float64)
    y = torch.randint(0, 17, (50,), generator=g)
    got = RANKING_LOSSES[kind](s, y, margin=0.7, reduction="none")
    assert got.tolist() == pytest.approx(_reference(s, y, 0.7, kind), abs=1e-12)


def test_float32_and_backward_shapes():
    s = torch.randn(8, 6, requires_grad=True)
    y = torch.randint(0, 6, (8,))
    for fn in (ale_loss, sje_loss, devise_loss):
        loss = fn(s, y)
        assert loss.dtype == torch.float32 and loss.ndim == 0
        (g,) = torch.autograd.grad(loss, s)
        assert g.shape == s.shape and torch.isfinite(g).all()


@pytest.mark.parametrize("fn", [ale_loss, sje_loss, devise_loss])
def test_bad_inputs(fn):
    s = torch.zeros(3, 4)
    with pytest.raises(ConfigError, match="margin"):
        fn(s, torch.tensor([0, 1, 2]), margin=0.0)
    with pytest.raises(ConfigError, match="margin"):
        fn(s, torch.tensor([0, 1, 2]), margin=float("nan"))
    with pytest.raises(ConfigError, match="reduction"):
        fn(s, torch.tensor([0, 1, 2]), reduction="avg")
    with pytest.raises(ZSLDataError, match="labels must have shape"):
        fn(s, torch.tensor([0, 1]))
    with pytest.raises(ZSLDataError, match="index the 4 columns"):
        fn(s, torch.tensor([0, 1, 4]))
    with pytest.raises(ZSLDataError, match="integer"):
        fn(s, torch.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(ZSLDataError, match="2-D"):
        fn(torch.zeros(4), torch.tensor([0, 1, 2, 3]))


# ----------------------------------------------------------------------------- per-sample rules (the papers' SGD)
# Row 0 of the hand example: y = 0, f = [2.0, 1.5, 0.2, 1.8], margin 1: v = [., 0.5, -0.8, 0.8]
F0 = np.array(SCORES[0])


class ScriptedRng:
    """Stands in for numpy's Generator: integers() returns the scripted draws (indices into the
    other classes, in class order)."""

    def __init__(self, draws):
        self.draws = list(draws)

    def integers(self, low, high, size):
        assert (low, high, size) == (0, 3, 3)  # Cs - 1 = 3 candidates, at most Cs - 1 draws
        return np.array(self.draws)


def test_devise_takes_the_first_violating_class_in_class_order():
    assert devise_first_violator(F0.copy(), 0, 1.0) == (1, 1.0)  # class 1 (v 0.5) before class 3 (v 0.8)
    assert devise_first_violator(F0.copy(), 0, 0.1) is None  # v = [., -0.4, -1.7, -0.1]
    assert devise_first_violator(np.array([1.0, 1.0]), 1, 0.5) == (0, 1.0)  # a tie with the true class violates


def test_sje_takes_the_most_violating_class():
    assert sje_most_violating(F0.copy(), 0, 1.0) == (3, 1.0)
    assert sje_most_violating(F0.copy(), 0, 0.1) is None
    assert sje_most_violating(np.array([0.0, 3.0, 3.0]), 0, 1.0) == (1, 1.0)  # first of equal violators


def test_ale_warp_sampling_and_rank_weight():
    # other classes of y = 0 in class order: [1, 2, 3]; draw 1 -> class 2 (v -0.8, no), draw 0 -> class 1 (v 0.5)
    # after N = 2 draws the rank estimate is floor((Cs - 1) / N) = floor(3 / 2) = 1 -> weight l(1) = 1
    assert ale_sampled_violator(F0, 0, 1.0, ScriptedRng([1, 0, 2])) == (1, 1.0)
    # a violator on the first draw: rank floor(3 / 1) = 3 -> l(3) = 1 + 1/2 + 1/3
    c, w = ale_sampled_violator(F0, 0, 1.0, ScriptedRng([2, 1, 1]))
    assert c == 3 and w == pytest.approx(11 / 6)
    # no violator among the Cs - 1 draws: no step (here class 3 is never drawn)
    assert ale_sampled_violator(F0, 0, 1.0, ScriptedRng([1, 1, 1])) is None
    # y in the middle: the candidates skip it (y = 2: others [0, 1, 3])
    f = np.array([0.0, 0.9, 1.0, 0.95])
    assert ale_sampled_violator(f, 2, 1.0, ScriptedRng([2, 0, 0])) == (3, harmonic(3))


def test_ale_sampling_distribution_is_uniform_over_violators():
    rng = np.random.default_rng(0)
    f = np.array([2.0, 1.5, 0.2, 1.8, -5.0, 2.5])  # y = 0, violators: 1, 3, 5 of 5 others
    draws = [ale_sampled_violator(f, 0, 1.0, rng) for _ in range(6000)]
    # all Cs - 1 = 5 draws miss with probability (2/5)^5 ~ 1 %: no step then
    assert np.mean([d is None for d in draws]) == pytest.approx(0.4 ** 5, abs=0.006)
    picks = [d for d in draws if d is not None]
    classes = np.array([c for c, _ in picks])
    assert set(classes) == {1, 3, 5}
    np.testing.assert_allclose(np.bincount(classes, minlength=6)[[1, 3, 5]] / len(picks), 1 / 3, atol=0.03)
    # the first draw hits with probability 3/5: rank floor(5/1) = 5, weight l(5)
    w = np.array([w for _, w in picks])
    assert np.mean(w == harmonic(5)) * len(picks) / 6000 == pytest.approx(0.6, abs=0.03)


def test_harmonic_and_standardise():
    assert harmonic(0) == 0.0 and harmonic(1) == 1.0 and harmonic(4) == pytest.approx(25 / 12)
    v = np.array([1.0, 2.0, 6.0])
    z = standardise(v)
    assert z.mean() == pytest.approx(0.0) and z.std() == pytest.approx(1.0)
    np.testing.assert_array_equal(standardise(np.full(3, 4.0)), np.zeros(3))
