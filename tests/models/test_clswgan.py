"""f-CLSWGAN: accuracy on toy data, ZSL vs GZSL classifiers, determinism, grid sharing, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from zslkit.errors import ConfigError, ZSLDataError
from zslkit.evaluation import evaluate
from zslkit.models.clswgan import CLSWGAN
from zslkit.training.selection import scores_fn_for

#: small enough for a few seconds of CPU per fit on the toy data (128-d, 1440 images)
SMALL = dict(hidden=256, steps=200, batch_size=128, lr=2e-3, pretrain_epochs=10, n_synth=100, cls_epochs=15,
             cls_lr=1e-2)
TINY = dict(hidden=32, steps=15, batch_size=32, pretrain_epochs=2, n_synth=10, cls_epochs=2)


def _trainval(data):
    tv = data.splits["trainval"]
    return data.features[tv], data.labels[tv]


@pytest.fixture(scope="module")
def fitted(toy_data):
    torch.set_num_threads(1)
    X, y = _trainval(toy_data)
    return CLSWGAN(**SMALL, seed=0).fit(X, y, toy_data.semantic)


def test_clswgan_beats_chance_on_toy(fitted, toy_data):
    res = evaluate(scores_fn_for(fitted, toy_data.semantic), toy_data.features, toy_data.labels,
                   toy_data.test_split())
    # 10 unseen classes: chance is 10 %; measured T1 53-60 %, oracle H 66-71 % over seeds 0-2
    assert res.T1 > 35
    assert res.oracle_H > 40


def test_history_and_throughput(fitted, toy_data):
    n = toy_data.splits["trainval"].size
    per_epoch = -(-n // SMALL["batch_size"])
    h = fitted.history_
    assert len(h) == -(-SMALL["steps"] // per_epoch) and h[-1]["steps"] == SMALL["steps"]
    assert all(np.isfinite(r[k]) for r in h for k in ("d_loss", "g_loss", "wasserstein", "gp", "cls_loss"))
    assert fitted.throughput_ > 0 and fitted.pretrain_accuracy_ > 0.8
    assert fitted.generator_.net[-1].__class__ is torch.nn.ReLU


def test_generated_features_are_nonnegative_and_class_dependent(fitted, toy_data):
    unseen = toy_data.unseen_classes
    feats, labels = fitted.generate(toy_data.semantic[unseen], 20)
    assert feats.shape == (20 * unseen.size, toy_data.features.shape[1]) and labels.shape == (20 * unseen.size,)
    assert feats.min() >= 0
    means = np.stack([feats[labels == i].mean(0) for i in range(unseen.size)])
    assert np.linalg.norm(means - means.mean(0), axis=1).min() > 1e-3  # not mode-collapsed onto one class


def test_gzsl_scores_shape_finite_and_seen_rows_use_real_features(fitted, toy_data):
    d = toy_data
    cands = np.concatenate([d.seen_classes, d.unseen_classes])
    S = d.semantic[cands]
    test = d.test_split()
    idx = np.concatenate([test.seen_idx[:40], test.unseen_idx[:40]])
    sc = fitted.scores(d.features[idx], S)
    assert sc.shape == (80, cands.size)
    assert np.all(np.isfinite(sc))
    np.testing.assert_allclose(np.exp(sc).sum(1), 1.0, rtol=1e-4)  # log-probabilities
    match = fitted._seen_match(fitted._semantic(S))
    assert np.all(match[: d.seen_classes.size] >= 0) and np.all(match[d.seen_classes.size:] == -1)
    # seen rows learnt from real features: among the seen columns, seen test images are mostly
    # recognised (uncalibrated GZSL favours the synthetic unseen classes, as for the paper's model)
    n_seen = d.seen_classes.size
    pred = d.seen_classes[sc[:40, :n_seen].argmax(1)]
    assert np.mean(pred == d.labels[idx[:40]]) > 0.5


def test_classifier_cached_per_candidate_set(fitted, toy_data):
    S1 = toy_data.semantic[toy_data.unseen_classes]
    S2 = toy_data.semantic[toy_data.unseen_classes[:5]]
    c1 = fitted._classifier(S1)
    assert fitted._classifier(S1.copy()) is c1
    assert fitted._classifier(S2) is not c1
    X = toy_data.features[:10]
    np.testing.assert_array_equal(fitted.scores(X, S1), fitted.scores(X, S1))


def test_cache_follows_classifier_params(toy_data):
    X, y = _trainval(toy_data)
    m = CLSWGAN(**TINY).fit(X, y, toy_data.semantic)
    Su = toy_data.semantic[toy_data.unseen_classes]
    c1 = m._classifier(Su)
    m.set_params(n_synth=12)
    assert m._classifier(Su) is not c1
    m.set_params(n_synth=0)
    with pytest.raises(ConfigError, match="n_synth"):
        m.scores(X[:3], Su)
    with pytest.raises(ConfigError, match="n_synth"):
        list(CLSWGAN(**TINY).fit_grid(X, y, toy_data.semantic, [{"n_synth": 10}, {"n_synth": -1}]))


def test_same_seed_same_scores_different_seed_different(toy_data):
    X, y = _trainval(toy_data)
    S = toy_data.semantic
    test_S = S[np.concatenate([toy_data.seen_classes[:3], toy_data.unseen_classes])]
    a = CLSWGAN(**TINY, seed=5).fit(X, y, S).scores(X[:30], test_S)
    b = CLSWGAN(**TINY, seed=5).fit(X, y, S).scores(X[:30], test_S)
    c = CLSWGAN(**TINY, seed=6).fit(X, y, S).scores(X[:30], test_S)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_fit_leaves_global_torch_rng_alone(toy_data):
    X, y = _trainval(toy_data)
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    m = CLSWGAN(**TINY).fit(X, y, toy_data.semantic)
    m.scores(X[:5], toy_data.semantic[toy_data.unseen_classes])
    assert torch.equal(torch.rand(3), expected)


def test_fit_grid_shares_the_gan_across_classifier_params(toy_data):
    X, y = _trainval(toy_data)
    S = toy_data.semantic
    grid = [{"n_synth": 10}, {"n_synth": 20}, {"n_synth": 10, "hidden": 16}]
    models = dict((i, m) for i, (_, m) in enumerate(CLSWGAN(**TINY).fit_grid(X, y, S, grid)))
    assert models[0].generator_ is models[1].generator_  # one GAN for classifier-only changes
    assert models[2].generator_ is not models[0].generator_
    assert models[1].n_synth == 20 and models[2].hidden == 16
    alone = CLSWGAN(**{**TINY, "n_synth": 20}).fit(X, y, S)
    Su = S[toy_data.unseen_classes]
    np.testing.assert_array_equal(models[1].scores(X[:20], Su), alone.scores(X[:20], Su))


def test_cls_weight_zero_is_a_plain_wgan(toy_data):
    X, y = _trainval(toy_data)
    m = CLSWGAN(**{**TINY, "cls_weight": 0.0, "pretrain_epochs": 0}).fit(X, y, toy_data.semantic)
    assert np.isnan(m.pretrain_accuracy_) and all(r["cls_loss"] == 0 for r in m.history_)


@pytest.mark.parametrize("kw, match", [
    ({"lr": 0.0}, "lr"),
    ({"lr": -1e-4}, "lr"),
    ({"steps": 0}, "steps"),
    ({"hidden": 0}, "hidden"),
    ({"noise_dim": 0}, "noise_dim"),
    ({"n_critic": 0}, "n_critic"),
    ({"gp_lambda": -1.0}, "gp_lambda"),
    ({"beta1": 1.0}, "beta1"),
    ({"cls_weight": -0.01}, "cls_weight"),
    ({"pretrain_epochs": 0}, "pretrain_epochs"),
    ({"n_synth": 0}, "n_synth"),
    ({"cls_lr": 0}, "cls_lr"),
    ({"cls_epochs": 1.5}, "cls_epochs"),
    ({"feature_norm": "zscore"}, "feature_norm"),
    ({"batch_size": True}, "batch_size"),
])
def test_bad_hyperparameters_raise_config_error(kw, match, toy_data):
    with pytest.raises(ConfigError, match=match):
        CLSWGAN(**kw)
    m = CLSWGAN().set_params(**kw)  # set_params bypasses __init__: fit checks again
    with pytest.raises(ConfigError, match=match):
        m.fit(toy_data.features[:20], toy_data.labels[:20], toy_data.semantic)


def test_data_errors(fitted, toy_data):
    with pytest.raises(ZSLDataError, match="not fitted"):
        CLSWGAN().scores(toy_data.features[:2], toy_data.semantic)
    with pytest.raises(ZSLDataError, match="X must have shape"):
        fitted.scores(toy_data.features[:2, :5], toy_data.semantic)
    with pytest.raises(ZSLDataError, match="S must have shape"):
        fitted.scores(toy_data.features[:2], toy_data.semantic[:, :3])
    with pytest.raises(ZSLDataError, match="non-negative"):
        CLSWGAN(**TINY, feature_norm="none").fit(-np.ones((4, 3)), np.array([0, 1, 0, 1]), np.eye(2, 3))
