"""SemanticRegressor (ReZSL's BasicNet on features): accuracy, ReMSE wiring, determinism, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone

from zslkit.errors import ConfigError, ZSLDataError
from zslkit.evaluation import evaluate
from zslkit.models.regressor import SemanticRegressor
from zslkit.training.selection import scores_fn_for, select


def _fit(data, **kw) -> SemanticRegressor:
    tv = data.splits["trainval"]
    return SemanticRegressor(**kw).fit(data.features[tv], data.labels[tv], data.semantic)


def _t1(model, data) -> float:
    return evaluate(scores_fn_for(model, data.semantic), data.features, data.labels, data.test_split()).T1


@pytest.fixture(scope="module")
def fitted(toy_data):
    torch.set_num_threads(1)
    return _fit(toy_data, seed=0)


def test_linear_regressor_beats_chance(fitted, toy_data):
    # 10 unseen classes: chance is 10 %; measured ~74-78 % over seeds 0-2 with the defaults.
    res = evaluate(scores_fn_for(fitted, toy_data.semantic), toy_data.features, toy_data.labels,
                   toy_data.test_split())
    assert res.T1 > 50
    assert 0 < res.H <= 100 and 0 < res.ausuc <= 100


def test_mlp_and_remse_variants_beat_chance(toy_data):
    # measured: MLP ~70 %, ReMSE ~ the MSE numbers
    assert _t1(_fit(toy_data, hidden=128, dropout=0.2, seed=0), toy_data) > 40
    assert _t1(_fit(toy_data, loss="remse", seed=0), toy_data) > 50


def test_pure_regression(toy_data):
    m = _fit(toy_data, ce_weight=0.0, lambda1=1.0, optimizer="adam", lr=1e-3, seed=0)
    assert all(h["ce"] is None for h in m.history_)
    assert m.history_[-1]["reg"] < m.history_[0]["reg"]
    assert _t1(m, toy_data) > 25  # measured ~40 %


def test_scores_are_cosines_of_predicted_semantics(fitted, toy_data):
    X = toy_data.features[:7]
    S = toy_data.semantic[:5]
    s_hat = fitted.predict_semantics(X)
    assert s_hat.shape == (7, toy_data.semantic.shape[1])
    unit = fitted.predict_semantics(X, normalize=True)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, rtol=1e-5)
    expected = (s_hat / np.linalg.norm(s_hat, axis=1, keepdims=True)) @ (
        S / np.linalg.norm(S, axis=1, keepdims=True)).T
    sc = fitted.scores(X, S)
    assert sc.shape == (7, 5)
    np.testing.assert_allclose(sc, expected, rtol=1e-4, atol=1e-5)
    assert np.all(np.abs(sc) <= 1 + 1e-6)
    assert fitted.predict_semantics(X[:0]).shape == (0, toy_data.semantic.shape[1])


def test_history_throughput_and_progress(toy_data, caplog, monkeypatch):
    from zslkit.utils import progress

    monkeypatch.setattr(progress, "LINE_INTERVAL_S", 0.0)  # a line at every epoch (stderr is no terminal here)
    with caplog.at_level("INFO", logger="zslkit.progress"):
        m = _fit(toy_data, epochs=3, verbose=True)
    assert [h["epoch"] for h in m.history_] == [1, 2, 3]
    assert all(np.isfinite(h["loss"]) and h["ce"] is not None and h["reg"] is not None for h in m.history_)
    assert m.throughput_ > 0
    lines = [r.getMessage() for r in caplog.records if r.name == "zslkit.progress"]
    assert lines[0].startswith("regressor: 1/3 epoch") and "loss=" in lines[-1]


def test_same_seed_same_scores_different_seed_different(toy_data):
    X = toy_data.features[:50]
    a = _fit(toy_data, epochs=3, hidden=32, dropout=0.3, seed=3).scores(X, toy_data.semantic)
    b = _fit(toy_data, epochs=3, hidden=32, dropout=0.3, seed=3).scores(X, toy_data.semantic)
    c = _fit(toy_data, epochs=3, hidden=32, dropout=0.3, seed=4).scores(X, toy_data.semantic)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_fit_leaves_global_torch_rng_alone(toy_data):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    _fit(toy_data, epochs=1, hidden=16, dropout=0.5)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("mode", ["in_batch", "cross_batch"])
def test_remse_with_zero_exponents_equals_mse(toy_data, mode):
    kw = dict(epochs=4, hidden=32, seed=1)
    mse = _fit(toy_data, loss="mse", **kw)
    remse0 = _fit(toy_data, loss="remse", p=0.0, p2=0.0, remse_mode=mode, **kw)
    for (name, a), (_, b) in zip(mse.net_.state_dict().items(), remse0.net_.state_dict().items()):
        assert torch.equal(a, b), name
    # ...and the exponents do reach the loss: p, p2 > 0 trains different weights.
    remse = _fit(toy_data, loss="remse", p=0.1, p2=0.75, remse_mode=mode, **kw)
    assert not torch.equal(mse.net_.state_dict()["0.weight"], remse.net_.state_dict()["0.weight"])


def test_sgd_step_schedule_and_feature_norms(toy_data):
    m = _fit(toy_data, epochs=4, lr_step=2, lr_gamma=0.5, lr=0.02)
    assert [h["lr"] for h in m.history_] == pytest.approx([0.02, 0.02, 0.01, 0.01])
    for norm in ("standard", "none"):
        assert _t1(_fit(toy_data, feature_norm=norm, epochs=10), toy_data) > 30


def test_select_runs_on_a_small_grid(toy_data):
    sel = select(SemanticRegressor(epochs=5), toy_data, grid={"lr": [0.01, 0.1], "hidden": [0]})
    assert sel.params["lr"] in (0.01, 0.1) and len(sel.table) == 2
    assert set(SemanticRegressor.param_grid) == {"lr", "hidden"}


@pytest.mark.parametrize("kw, match", [
    ({"loss": "huber"}, "loss"),
    ({"lr": 0.0}, "lr"),
    ({"lr": -1e-3}, "lr"),
    ({"epochs": 0}, "epochs"),
    ({"epochs": 2.5}, "epochs"),
    ({"batch_size": 0}, "batch_size"),
    ({"hidden": -1}, "hidden"),
    ({"dropout": 1.0}, "dropout"),
    ({"optimizer": "rmsprop"}, "optimizer"),
    ({"ce_weight": 0.0, "lambda1": 0.0}, "no loss"),
    ({"lambda1": -0.1}, "lambda1"),
    ({"p": -1.0}, "p"),
    ({"remse_mode": "global"}, "remse_mode"),
    ({"scale": 0.0}, "scale"),
    ({"momentum": 1.0}, "momentum"),
    ({"lr_gamma": 0.0}, "lr_gamma"),
    ({"feature_norm": "zscore"}, "feature_norm"),
    ({"seed": -1}, "seed"),
    ({"lr": float("nan")}, "lr"),
])
def test_bad_hyperparameters_raise_config_error(kw, match, toy_data):
    with pytest.raises(ConfigError, match=match):
        SemanticRegressor(**kw)
    # set_params bypasses __init__: fit checks again
    m = SemanticRegressor().set_params(**kw)
    with pytest.raises(ConfigError, match=match):
        m.fit(toy_data.features[:20], toy_data.labels[:20], toy_data.semantic)


def test_data_errors(fitted, toy_data):
    with pytest.raises(ZSLDataError, match="not fitted"):
        SemanticRegressor().scores(toy_data.features[:2], toy_data.semantic)
    with pytest.raises(ZSLDataError, match="shape"):
        fitted.scores(toy_data.features[:2, :10], toy_data.semantic)
    with pytest.raises(ZSLDataError, match="S must have shape"):
        fitted.scores(toy_data.features[:2], toy_data.semantic[:, :5])
    assert clone(fitted).get_params() == fitted.get_params()


def test_device_option(toy_data):
    from zslkit.errors import ConfigError
    from zslkit.models.regressor import torch_device

    assert torch_device("cpu").type == "cpu"
    assert torch_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match="device must be"):
        SemanticRegressor(device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no such CUDA device"):
            SemanticRegressor(device="cuda")
    tv = toy_data.splits["trainval"][:200]
    args = (toy_data.features[tv], toy_data.labels[tv], toy_data.semantic)
    a = SemanticRegressor(epochs=2, device="cpu").fit(*args)
    b = SemanticRegressor(epochs=2, device="auto").fit(*args)  # CPU here; on a GPU the same start and batches
    assert next(b.net_.parameters()).device.type == "cpu"  # fitted models score on the CPU
    if not torch.cuda.is_available():
        np.testing.assert_array_equal(a.predict_semantics(args[0][:5]), b.predict_semantics(args[0][:5]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_regressor_on_cuda_matches_cpu(toy_data):  # pragma: no cover - CI has no GPU
    tv = toy_data.splits["trainval"][:200]
    args = (toy_data.features[tv], toy_data.labels[tv], toy_data.semantic)
    a = SemanticRegressor(epochs=2, device="cpu").fit(*args)
    b = SemanticRegressor(epochs=2, device="cuda").fit(*args)
    np.testing.assert_allclose(a.predict_semantics(args[0][:5]), b.predict_semantics(args[0][:5]), atol=1e-3)
