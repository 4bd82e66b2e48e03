"""ABP (Zhu et al., ICCV 2019): the objective, one Langevin update and one training iteration against
transcriptions of the formulas, the authors' batch streams, the kNN vote and softmax classifiers,
accuracy on toy data, determinism, grid sharing and errors."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from sklearn.metrics.pairwise import cosine_similarity

from zslkit.errors import ConfigError, ZSLDataError
from zslkit.evaluation import evaluate
from zslkit.models.abp import (ABP, _abp_iteration, _authors_batches, _stream_batches, _train_softmax, _Translator,
                               abp_loss, knn_vote_scores, langevin_step)
from zslkit.registry import get_model
from zslkit.training.selection import scores_fn_for

from .helpers import trainval

#: a few seconds of CPU per fit on the toy data (128-d, 1440 images); lr 1e-3 because 150 iterations
#: at the default 2e-4 are too few here (T1 about 40)
SMALL = dict(hidden=64, steps=150, lr=1e-3, n_synth=100, cls_epochs=15)
TINY = dict(hidden=16, steps=12, batch_size=32, n_synth=10, cls_epochs=2)


def _tiny_translator(k=3, z=2, h=4, d=5, seed=0) -> _Translator:
    torch.manual_seed(seed)
    G = _Translator(k, z, h, d).double()
    for p in G.parameters():  # larger than the authors' N(0, 0.02) init so that every term matters
        torch.nn.init.normal_(p, 0.0, 0.7)
    return G


def _np_forward(G: _Translator, a: np.ndarray, z: np.ndarray):
    """numpy transcription of G(a, z) = relu(W2 leaky(W1 [a, z] + b1) + b2); returns (G, pre1, pre2)."""
    W1, b1 = G.main[0].weight.detach().numpy(), G.main[0].bias.detach().numpy()
    W2, b2 = G.main[2].weight.detach().numpy(), G.main[2].bias.detach().numpy()
    p1 = np.concatenate([a, z], axis=1) @ W1.T + b1
    h = np.where(p1 > 0, p1, 0.2 * p1)
    p2 = h @ W2.T + b2
    return np.maximum(p2, 0), p1, p2


@pytest.fixture(scope="module")
def fitted(toy_data):
    torch.set_num_threads(1)
    return ABP(**SMALL, seed=0).fit(*trainval(toy_data))


# -- formulas ------------------------------------------------------------------------------


def test_loss_is_the_authors_objective(rng):
    x, g, z = rng.random((6, 5)), rng.random((6, 5)), rng.standard_normal((6, 3))
    sigma = 0.3
    expected = (np.sum((x - g) ** 2) / (2 * sigma ** 2) + 0.5 * np.sum(z ** 2)) / 6
    got = abp_loss(*(torch.from_numpy(v) for v in (x, g, z)), sigma)
    assert got.item() == pytest.approx(expected, rel=1e-12)


def test_translator_is_the_authors_network():
    G = _Translator(85, 10, 4096, 2048)
    assert [type(m).__name__ for m in G.main] == ["Linear", "LeakyReLU", "Linear", "ReLU"]
    assert G.main[0].in_features == 95 and G.main[0].out_features == 4096 and G.main[2].out_features == 2048
    assert G.main[1].negative_slope == 0.2
    Gt = _tiny_translator()
    a, z = np.random.default_rng(1).random((4, 3)), np.random.default_rng(2).standard_normal((4, 2))
    ours = Gt(torch.from_numpy(a), torch.from_numpy(z)).detach().numpy()
    np.testing.assert_allclose(ours, _np_forward(Gt, a, z)[0], rtol=1e-12, atol=1e-12)  # input is [a, z]


def test_langevin_step_is_the_papers_update(rng):
    """z' = z + s^2/2 [J^T (x - G(a, z)) / sigma^2 - z] + s U per row, J = dG/dz (numpy, analytic)."""
    G = _tiny_translator()
    B, sigma, s = 4, 0.3, 0.1
    a, z = rng.random((B, 3)), rng.standard_normal((B, 2))
    x, u = rng.random((B, 5)) + 0.5, rng.standard_normal((B, 2))
    g, p1, p2 = _np_forward(G, a, z)
    W1, W2 = G.main[0].weight.detach().numpy(), G.main[2].weight.detach().numpy()
    expected = np.empty_like(z)
    for n in range(B):
        J = np.diag((p2[n] > 0).astype(float)) @ W2 @ np.diag(np.where(p1[n] > 0, 1.0, 0.2)) @ W1[:, 3:]  # (D x Z)
        grad_log_p = J.T @ (x[n] - g[n]) / sigma ** 2 - z[n]
        expected[n] = z[n] + s ** 2 / 2 * grad_log_p + s * u[n]
    assert np.abs(expected - z).max() > 1e-3  # the drift is not negligible at these scales
    got = langevin_step(G, *(torch.from_numpy(v) for v in (a, z, x)), sigma, s, torch.from_numpy(u))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-12)
    assert all(p.grad is None for p in G.parameters())  # no gradient into the translator


def _grads(G, x, a, z, sigma, scale=1.0):
    params = list(G.parameters())
    return [scale * g for g in torch.autograd.grad(abp_loss(x, G(a, z), z, sigma), params)]


def test_released_iteration_transcribed(rng):
    """Two iterations of the released loop, transcribed with explicit gradient sums: a learning step
    uses its own gradient plus s x (the previous 5 inference passes' gradients), clipped to norm 1, then
    Adam; the codes move only by s U (noise phase) and not at all outside it."""
    sigma, s, n_lang, lr, wd = 0.3, 0.1, 5, 1e-2, 1e-3
    G = _tiny_translator(seed=3)
    Gm = _tiny_translator(seed=3)  # the manual transcription's copy
    opt = torch.optim.Adam(G.parameters(), lr=lr, weight_decay=wd)
    opt_m = torch.optim.Adam(Gm.parameters(), lr=lr, weight_decay=wd)
    B = 6
    data = [tuple(torch.from_numpy(v) for v in (rng.random((B, 5)), rng.random((B, 3)), rng.standard_normal((B, 2))))
            for _ in range(2)]
    noises = [torch.from_numpy(rng.standard_normal((B, 2))) for _ in range(2 * 2 * n_lang)]
    feed = iter(noises)
    outs = []
    for it, (x, a, z) in enumerate(data):
        outs.append(_abp_iteration(G, opt, x, a, z, inference="released", sigma=sigma, s=s, n_langevin=n_lang,
                                   add_noise=it == 0, noise=lambda shape: next(feed), z_lr=lr, z_weight_decay=wd)[0])
    # transcription
    feed = iter(noises)
    carry = [torch.zeros_like(p) for p in Gm.parameters()]
    for it, (x, a, z) in enumerate(data):
        z = z.clone()
        for _ in range(2):
            g = [gi + ci for gi, ci in zip(_grads(Gm, x, a, z, sigma), carry)]
            norm = torch.sqrt(sum((gi ** 2).sum() for gi in g))
            factor = min(1.0, 1.0 / (float(norm) + 1e-6))
            for p, gi in zip(Gm.parameters(), g):
                p.grad = gi * factor
            opt_m.step()
            carry = [torch.zeros_like(p) for p in Gm.parameters()]
            for _ in range(n_lang):
                u = next(feed)
                carry = [ci + gi for ci, gi in zip(carry, _grads(Gm, x, a, z, sigma, scale=s))]
                if it == 0:
                    z = z + s * u
        if it == 0:
            np.testing.assert_allclose(outs[0].numpy(), data[0][2].numpy() + s * sum(noises[:10]).numpy(), rtol=1e-12)
        else:
            assert torch.equal(outs[1], data[1][2])  # outside the noise phase the codes are frozen
    for p, q, c in zip(G.parameters(), Gm.parameters(), carry):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-10, atol=1e-12)
        # the leftover gradient that the next learning step will add to its own
        np.testing.assert_allclose(p.grad.numpy(), c.numpy(), rtol=1e-10, atol=1e-12)


def test_adam_inference_moves_codes_by_their_gradient(rng):
    G = _tiny_translator(seed=4)
    x, a, z = (torch.from_numpy(v) for v in (rng.random((6, 5)), rng.random((6, 3)), rng.standard_normal((6, 2))))
    kw = dict(sigma=0.3, s=0.1, n_langevin=5, add_noise=False, noise=lambda shape: torch.zeros(shape, dtype=torch.float64),
              z_lr=1e-2, z_weight_decay=1e-3)
    opt = torch.optim.Adam(G.parameters(), lr=1e-3)
    z_rel = _abp_iteration(G, opt, x, a, z, inference="released", **kw)[0]
    G2 = _tiny_translator(seed=4)
    z_adam = _abp_iteration(G2, torch.optim.Adam(G2.parameters(), lr=1e-3), x, a, z, inference="adam", **kw)[0]
    assert torch.equal(z_rel, z)
    moved = (z_adam - z).abs()
    # 10 Adam steps of lr 1e-2 on the codes (each moves a code by about lr): every code moves, boundedly
    assert moved.min() > 0 and moved.mean() > 1e-2 and moved.max() < 3 * 10 * 1e-2


# -- the authors' batch streams -------------------------------------------------------------


def test_authors_batches_skip_the_tail_of_each_permutation():
    gen = torch.Generator().manual_seed(0)
    it = _authors_batches(10, 3, gen)
    first = [next(it) for _ in range(3)]  # cur 0, 3, 6 (6 + 3 < 10); cur 9 would reshuffle
    assert len(torch.cat(first).unique()) == 9 and all(b.shape == (3,) for b in first)
    it9 = _authors_batches(9, 3, torch.Generator().manual_seed(0))  # cur + B >= n: 6 + 3 = 9 reshuffles
    b = [next(it9) for _ in range(4)]
    assert len(torch.cat(b[:2]).unique()) == 6 and len(torch.cat(b[2:]).unique()) == 6


def test_classifier_batches_are_consecutive_permutations():
    it = _stream_batches(4, 3, torch.Generator().manual_seed(0))
    flat = torch.cat([next(it) for _ in range(4)])  # 12 = three whole permutations, batches always full
    for k in range(3):
        assert sorted(flat[4 * k:4 * k + 4].tolist()) == [0, 1, 2, 3]


# -- classifiers ---------------------------------------------------------------------------


def test_knn_vote_is_the_authors_rule(rng):
    bank = rng.random((60, 8)).astype(np.float32)
    labels = rng.integers(0, 4, 60)
    X = rng.random((50, 8)).astype(np.float32)
    sc = knn_vote_scores(X, bank, labels, 4, k=5, chunk=7)
    # the authors' eval_zsl_knn, written out: cosine, argsort, Counter.most_common(1)
    sim = cosine_similarity(X, bank)
    top = np.argsort(-sim, axis=1)[:, :5]
    expected = [Counter(labels[row]).most_common(1)[0][0] for row in top]
    np.testing.assert_array_equal(sc.argmax(1), expected)
    assert np.array_equal(np.floor(sc).sum(1), np.full(50, 5.0))  # the integer part counts the K votes
    # a tie: two votes each, class 2 met first -> class 2
    tb = np.array([[1, 0.01], [1, 0.3], [1, 0.1], [1, 0.4]], dtype=np.float32)
    tie = knn_vote_scores(np.array([[1, 0]], dtype=np.float32), tb, np.array([2, 1, 2, 1]), 3, k=4)
    assert tie.argmax() == 2 and np.floor(tie[0]).tolist() == [0, 2, 2]


def test_softmax_classifier_is_adam_on_nll_from_xavier_init(rng):
    X = torch.from_numpy(rng.random((12, 5)).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, 3, 12))
    torch.manual_seed(0)
    clf = _train_softmax(X, y, 3, 0.1, 0.5, 1, 12, torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    ref = torch.nn.Linear(5, 3)
    torch.nn.init.xavier_normal_(ref.weight)
    torch.nn.init.zeros_(ref.bias)
    opt = torch.optim.Adam(ref.parameters(), lr=0.1, betas=(0.5, 0.999))
    torch.nn.functional.nll_loss(torch.log_softmax(ref(X), 1), y).backward()  # one full batch = one step
    opt.step()
    torch.testing.assert_close(clf.weight, ref.weight.detach())
    torch.testing.assert_close(clf.bias, ref.bias.detach())


def test_zsl_uses_knn_and_gzsl_a_softmax_on_real_seen_features(fitted, toy_data):
    d = toy_data
    unseen, seen = d.unseen_classes, d.seen_classes
    kind, (bank, labels) = fitted._classifier(d.semantic[unseen])
    assert kind == "knn" and bank.shape == (SMALL["n_synth"] * unseen.size, d.features.shape[1])
    assert bank.min() >= 0 and np.bincount(labels).tolist() == [SMALL["n_synth"]] * unseen.size
    sc = fitted.scores(d.features[:7], d.semantic[unseen])
    assert sc.shape == (7, unseen.size) and np.all(np.floor(sc).sum(1) == fitted.knn)
    cands = np.concatenate([seen, unseen])
    kind, clf = fitted._classifier(d.semantic[cands])
    assert kind == "softmax" and clf.weight.shape == (cands.size, d.features.shape[1])
    test = d.test_split()
    idx = np.concatenate([test.seen_idx[:40], test.unseen_idx[:40]])
    lp = fitted.scores(d.features[idx], d.semantic[cands])
    np.testing.assert_allclose(np.exp(lp).sum(1), 1.0, rtol=1e-4)
    match = fitted._seen_match(fitted._semantic(d.semantic[cands]))
    assert np.all(match[:seen.size] >= 0) and np.all(match[seen.size:] == -1)
    pred = seen[lp[:40, :seen.size].argmax(1)]  # seen rows learnt from the real features
    assert np.mean(pred == d.labels[idx[:40]]) > 0.5
    m = ABP(**{**TINY, "zsl_classifier": "softmax"}).fit(*trainval(d))
    assert m._classifier(d.semantic[unseen])[0] == "softmax"


def test_abp_beats_chance_on_toy(fitted, toy_data):
    res = evaluate(scores_fn_for(fitted, toy_data.semantic), toy_data.features, toy_data.labels,
                   toy_data.test_split())
    # 10 unseen classes: chance is 10 %; measured T1 71.8-73.9, oracle H 62.0-64.2 over seeds 0-2
    assert res.T1 > 40
    assert res.oracle_H > 40


# -- training schedule, determinism, grid, registry ------------------------------------------


def test_history_codes_frozen_after_the_noise_phase(fitted, toy_data):
    n = toy_data.splits["trainval"].size
    per_epoch = n // 64
    h = fitted.history_
    assert fitted.steps_ == SMALL["steps"] and h[-1]["steps"] == SMALL["steps"]
    assert len(h) == -(-SMALL["steps"] // per_epoch)
    assert all(np.isfinite(r[k]) for r in h for k in ("loss", "recon", "z_mean", "z_std"))
    noise_end = (SMALL["steps"] - 1) / 3
    after = [r["z_std"] for r in h if r["steps"] - per_epoch > noise_end]
    assert len(after) >= 3 and len(set(after)) == 1  # released inference: no gradient moves the codes
    assert h[0]["z_std"] < h[-1]["z_std"]  # the noise phase inflated them
    assert fitted.latent_.shape == (n, 10) and fitted.throughput_ > 0
    assert h[-1]["recon"] < h[0]["recon"]


def test_epochs_are_the_authors_iteration_count():
    m = ABP(epochs=3, batch_size=64, steps=7)
    assert m.n_steps(1000) == 3 * (1000 // 64) + 1 and ABP(steps=7).n_steps(1000) == 7


def test_same_seed_same_scores_different_seed_different(toy_data):
    X, y, S = trainval(toy_data)
    test_S = S[np.concatenate([toy_data.seen_classes[:3], toy_data.unseen_classes])]
    a = ABP(**TINY, seed=5).fit(X, y, S).scores(X[:30], test_S)
    b = ABP(**TINY, seed=5).fit(X, y, S).scores(X[:30], test_S)
    c = ABP(**TINY, seed=6).fit(X, y, S).scores(X[:30], test_S)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.parametrize("inference", ["adam", "langevin"])
def test_other_inference_modes_train(inference, toy_data):
    X, y, S = trainval(toy_data)
    m = ABP(**TINY, inference=inference).fit(X, y, S)
    r = ABP(**TINY).fit(X, y, S)
    assert not torch.equal(m.latent_, r.latent_) and np.isfinite(m.history_[-1]["loss"])


def test_fit_leaves_global_torch_rng_alone(toy_data):
    X, y, S = trainval(toy_data)
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    m = ABP(**TINY).fit(X, y, S)
    m.scores(X[:5], S[toy_data.unseen_classes])
    m.scores(X[:5], S)
    assert torch.equal(torch.rand(3), expected)


def test_fit_grid_shares_the_translator_across_classifier_params(toy_data):
    X, y, S = trainval(toy_data)
    grid = [{"n_synth": 10}, {"n_synth": 20}, {"n_synth": 10, "hidden": 8}]
    models = dict((i, m) for i, (_, m) in enumerate(ABP(**TINY).fit_grid(X, y, S, grid)))
    assert models[0].generator_ is models[1].generator_
    assert models[2].generator_ is not models[0].generator_
    alone = ABP(**{**TINY, "n_synth": 20}).fit(X, y, S)
    Su = S[toy_data.unseen_classes]
    np.testing.assert_array_equal(models[1].scores(X[:20], Su), alone.scores(X[:20], Su))
    with pytest.raises(ConfigError, match="n_synth"):
        list(ABP(**TINY).fit_grid(X, y, S, [{"n_synth": 10}, {"n_synth": -1}]))


def test_registered_as_abp():
    m = get_model("abp(hidden=64, inference=langevin)")
    assert isinstance(m, ABP) and m.hidden == 64 and m.inference == "langevin"
    assert ABP.iterative and set(ABP.param_grid) == {"n_synth"}


@pytest.mark.parametrize("kw, match", [
    ({"lr": 0.0}, "lr"),
    ({"sigma": 0}, "sigma"),
    ({"langevin_s": -0.1}, "langevin_s"),
    ({"langevin_steps": -1}, "langevin_steps"),
    ({"inference": "mcmc"}, "inference"),
    ({"steps": 0}, "steps"),
    ({"epochs": 0}, "epochs"),
    ({"hidden": 0}, "hidden"),
    ({"latent_dim": 1.5}, "latent_dim"),
    ({"weight_decay": -1.0}, "weight_decay"),
    ({"n_synth": 0}, "n_synth"),
    ({"knn": 0}, "knn"),
    ({"zsl_classifier": "svm"}, "zsl_classifier"),
    ({"cls_beta1": 1.0}, "cls_beta1"),
    ({"cls_batch_size": 0}, "cls_batch_size"),
    ({"feature_norm": "zscore"}, "feature_norm"),
    ({"normalize_semantic": "yes"}, "normalize_semantic"),
    ({"batch_size": True}, "batch_size"),
])
def test_bad_hyperparameters_raise_config_error(kw, match, toy_data):
    with pytest.raises(ConfigError, match=match):
        ABP(**kw)
    m = ABP().set_params(**kw)  # set_params bypasses __init__: fit checks again
    with pytest.raises(ConfigError, match=match):
        m.fit(toy_data.features[:20], toy_data.labels[:20], toy_data.semantic)


def test_data_errors(fitted, toy_data):
    with pytest.raises(ZSLDataError, match="not fitted"):
        ABP().scores(toy_data.features[:2], toy_data.semantic)
    with pytest.raises(ZSLDataError, match="X must have shape"):
        fitted.scores(toy_data.features[:2, :5], toy_data.semantic)
    with pytest.raises(ZSLDataError, match="S must have shape"):
        fitted.scores(toy_data.features[:2], toy_data.semantic[:, :3])
    with pytest.raises(ZSLDataError, match="non-negative"):
        ABP(**TINY, feature_norm="none").fit(-np.ones((4, 3)), np.array([0, 1, 0, 1]), np.eye(2, 3))
    with pytest.raises(ZSLDataError, match="NaN"):
        ABP(**TINY).fit(np.full((4, 3), np.nan), np.array([0, 1, 0, 1]), np.eye(2, 3))
