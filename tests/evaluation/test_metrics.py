import numpy as np
import pytest

from zslkit.errors import ZSLDataError
from zslkit.evaluation import EvalSplit, evaluate, gzsl_sweep, harmonic_mean, per_class_accuracy


def test_per_class_accuracy_differs_from_per_image_on_imbalanced_classes():
    # class 0: 8 images, all right; class 1: 2 images, none right
    y = np.array([0] * 8 + [1] * 2)
    p = np.array([0] * 8 + [0] * 2)
    assert per_class_accuracy(y, p) == pytest.approx(0.5)  # (1 + 0) / 2
    assert np.mean(y == p) == pytest.approx(0.8)  # per-image would say 80 %


def test_per_class_accuracy_hand_case_three_classes():
    y = np.array([0, 0, 0, 1, 1, 2])
    p = np.array([0, 1, 0, 1, 2, 2])
    assert per_class_accuracy(y, p) == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)


def test_per_class_accuracy_rejects_bad_input():
    with pytest.raises(ZSLDataError, match="differ in length"):
        per_class_accuracy(np.array([0, 1]), np.array([0]))
    with pytest.raises(ZSLDataError, match="integer"):
        per_class_accuracy(np.array([0.5]), np.array([0]))


def test_harmonic_mean():
    assert harmonic_mean(0.5, 0.5) == pytest.approx(0.5)
    assert harmonic_mean(0.2, 0.8) == pytest.approx(2 * 0.16 / 1.0)
    assert harmonic_mean(0.0, 0.0) == 0.0


def _brute_us(scores, y, cand, seen_mask, is_unseen, gamma):
    pred = cand[np.argmax(scores - gamma * seen_mask[None], axis=1)]
    return per_class_accuracy(y[is_unseen], pred[is_unseen]), per_class_accuracy(y[~is_unseen], pred[~is_unseen])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gzsl_sweep_matches_bruteforce(seed):
    rng = np.random.default_rng(seed)
    n_seen_cls = 5
    cand = np.arange(8)
    seen_mask = cand < n_seen_cls
    y = np.concatenate([rng.integers(0, 5, 40), rng.integers(5, 8, 25)])
    is_unseen = y >= 5
    scores = rng.normal(size=(y.size, 8))
    scores[np.arange(y.size), y] += 1.0  # some signal
    sweep = gzsl_sweep(scores, y, cand, seen_mask, is_unseen)
    for g, u, s in zip(sweep.gammas, sweep.u, sweep.s):
        bu, bs = _brute_us(scores, y, cand, seen_mask, is_unseen, g)
        assert u == pytest.approx(bu, abs=1e-12)
        assert s == pytest.approx(bs, abs=1e-12)
    # the sweep goes from "everything seen" to "everything unseen"
    assert sweep.u[0] == 0.0 and sweep.s[-1] == 0.0
    assert np.all(np.diff(sweep.u) >= -1e-12) and np.all(np.diff(sweep.s) <= 1e-12)
    # AUSUC equals a dense brute-force integration of the staircase
    assert 0 < sweep.ausuc() <= 1


def test_ausuc_perfect_and_hand_case():
    # Perfect classifier with an unseen/seen margin: curve reaches (1, 1) -> area 1.
    cand = np.array([0, 1])
    seen_mask = np.array([True, False])
    y = np.array([0, 1])
    scores = np.array([[1.0, 0.0], [0.0, 1.0]])
    sweep = gzsl_sweep(scores, y, cand, seen_mask, y == 1)
    assert sweep.ausuc() == pytest.approx(1.0)
    # If the unseen image can only be recovered by giving up the seen one, the curve is
    # (0,1) -> (1,0): a staircase with area 0... plus the anchors; here it is a single step.
    scores = np.array([[1.0, 0.0], [2.0, 1.0]])  # d = 1 for both
    sweep = gzsl_sweep(scores, y, cand, seen_mask, y == 1)
    assert list(sweep.u) == [0.0, 1.0] and list(sweep.s) == [1.0, 0.0]
    assert sweep.ausuc() == pytest.approx(0.5)  # trapezoid between (0,1) and (1,0)


def test_evaluate_protocol_end_to_end():
    # 2 seen classes (0, 1), 2 unseen (2, 3); features are one-hot so scores are exact.
    feats = np.eye(4, dtype=np.float32)[[0, 0, 1, 2, 2, 3, 3, 3]]
    labels = np.array([0, 0, 1, 2, 2, 3, 3, 3])
    seen_bias = 0.5

    def scores_fn(X, classes):
        s = X[:, classes].astype(float)
        s[:, np.isin(classes, [0, 1])] += seen_bias  # seen classes score higher: the GZSL bias
        return s

    split = EvalSplit(seen_idx=np.array([0, 2]), unseen_idx=np.array([3, 5, 6]), seen_classes=np.array([0, 1]),
                      unseen_classes=np.array([2, 3]))
    m = evaluate(scores_fn, feats, labels, split)
    assert m.T1 == pytest.approx(100.0)
    # uncalibrated: unseen images are pulled to seen class 0 (score 0.5 vs 1.0 for the truth -> still right)
    assert m.U0 == pytest.approx(100.0) and m.S0 == pytest.approx(100.0)
    m2 = evaluate(scores_fn, feats, labels, split, gamma=-1.0)  # favours seen: unseen images lost
    assert m2.U == pytest.approx(0.0) and m2.S == pytest.approx(100.0) and m2.H == 0.0
    assert m2.oracle_H == pytest.approx(100.0)


def test_evaluate_rejects_bad_scores():
    feats = np.zeros((2, 3), np.float32)
    split = EvalSplit(seen_idx=np.array([0]), unseen_idx=np.array([1]), seen_classes=np.array([0]),
                      unseen_classes=np.array([1]))
    with pytest.raises(ZSLDataError, match="NaN"):
        evaluate(lambda X, c: np.full((X.shape[0], c.size), np.nan), feats, np.array([0, 1]), split)
    with pytest.raises(ZSLDataError, match="shape"):
        evaluate(lambda X, c: np.zeros((X.shape[0], 7)), feats, np.array([0, 1]), split)
    with pytest.raises(ZSLDataError, match="both seen and unseen"):
        EvalSplit(seen_idx=np.array([0]), unseen_idx=np.array([1]), seen_classes=np.array([0]),
                  unseen_classes=np.array([0]))
