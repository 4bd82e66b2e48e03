import json

import numpy as np
import pytest

from zslkit.errors import ZSLDataError
from zslkit.report.analysis import analyze_run
from zslkit.evaluation.imbalance import confusion_matrix, semantic_error_stats
from zslkit.models.base import ZSLModel, check_fit_inputs
from zslkit.pipeline import TrainConfig, train
from zslkit.registry import MODELS


def test_semantic_error_stats_hand_case():
    sem = np.array([[1.0, 0.0], [0.0, 1.0]])
    pred = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])  # third image (class 1) predicted as class 0
    labels = np.array([0, 0, 1])
    st = semantic_error_stats(pred, sem, labels, normalize=False)
    # errors per image: [0,0], [1,1], [1,1]
    np.testing.assert_allclose(st.attr_mean, [2 / 3, 2 / 3])
    np.testing.assert_allclose(st.attr_var, [2 / 9, 2 / 9])
    np.testing.assert_allclose(st.class_attr_mean, [[0.5, 0.5], [1.0, 1.0]])
    np.testing.assert_allclose(st.class_mean, [0.5, 1.0])
    assert st.class_cv == pytest.approx(np.std([0.5, 1.0]) / 0.75)
    with pytest.raises(ZSLDataError, match="do not match"):
        semantic_error_stats(pred[:, :1], sem, labels)


def test_confusion_matrix_rows_normalised():
    cm = confusion_matrix(np.array([3, 3, 5, 5]), np.array([3, 5, 5, 5]), np.array([3, 5]))
    np.testing.assert_allclose(cm, [[0.5, 0.5], [0.0, 1.0]])


class _LstsqRegressor(ZSLModel):
    """Tiny regression model (visual -> semantic by least squares) for testing the analysis path."""

    param_grid = {}

    def __init__(self, ridge: float = 1.0):
        self.ridge = ridge

    def fit(self, X, y, S):
        X, y, S = check_fit_inputs(X, y, S)
        self.W_ = np.linalg.solve(X.T @ X + self.ridge * np.eye(X.shape[1]), X.T @ S[y])
        return self

    def predict_semantics(self, X):
        return np.asarray(X) @ self.W_

    def scores(self, X, S):
        p = self.predict_semantics(X)
        return (p / np.linalg.norm(p, axis=1, keepdims=True)) @ (S / np.linalg.norm(S, axis=1, keepdims=True)).T


def test_analyze_run_writes_figures_and_imbalance(toy_dir, tmp_path, monkeypatch):
    monkeypatch.setitem(MODELS, "lstsq_test", _LstsqRegressor)
    runs = []
    for ridge in (1.0, 1000.0):
        r = train(TrainConfig(data=str(toy_dir), model="lstsq_test", params={"ridge": ridge}, tune=False))
        runs.append(r.save(tmp_path / f"r{int(ridge)}"))
    rep = analyze_run(runs[0], compare=[runs[1]])
    for key in ("ausuc", "confusion_gzsl", "confusion_zsl", "attribute_errors_test_seen",
                "attribute_errors_test_unseen"):
        p = rep["figures"][key]
        assert open(p, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    saved = json.loads((runs[0] / "analysis.json").read_text())
    assert saved["surrogate"] is True
    (label0, imb0), (label1, imb1) = saved["imbalance"].items()
    k = np.load(runs[0] / "predictions.npz")["semantic"].shape[1]
    assert len(imb0["test_unseen"]["attr_mean"]) == k
    # unseen classes are predicted worse than seen ones by a regression fitted on seen classes
    assert imb0["test_unseen"]["summary"]["mse"] > imb0["test_seen"]["summary"]["mse"]
    assert imb0["test_seen"]["summary"]["mse"] != imb1["test_seen"]["summary"]["mse"]


def test_analyze_errors(tmp_path, toy_dir):
    with pytest.raises(ZSLDataError, match="no metrics.json"):
        analyze_run(tmp_path)
    r = train(TrainConfig(data=str(toy_dir), params={"alpha": 1.0, "lam": 1.0}, tune=False)).save(tmp_path / "e")
    rep = analyze_run(r)
    assert "no per-attribute" in rep["imbalance"]
    (r / "predictions.npz").write_bytes(b"garbage")
    with pytest.raises(ZSLDataError, match="unreadable"):
        analyze_run(r)


def test_error_by_value_ranks_cells_and_groups_them_by_value():
    import numpy as np
    from scipy.stats import spearmanr

    from zslkit.evaluation.imbalance import error_by_value

    rng = np.random.default_rng(0)
    semantic = rng.random((6, 10)) + 0.05
    labels = np.repeat(np.arange(6), 20)
    target = semantic / np.linalg.norm(semantic, axis=1, keepdims=True)
    # the error of each cell grows with its value: prediction = target scaled down attribute-wise
    pred = target[labels] * (1 - target[labels]) + rng.normal(0, 1e-4, (labels.size, 10))
    d = error_by_value(pred, semantic, labels)
    p = pred / np.linalg.norm(pred, axis=1, keepdims=True)
    e = np.stack([((p[labels == c] - target[c]) ** 2).mean(0) for c in range(6)])
    assert d["spearman"] == pytest.approx(spearmanr(target.ravel(), e.ravel()).statistic)
    order = np.argsort(target.ravel(), kind="stable")
    groups = np.array_split(e.ravel()[order], 5)
    assert d["quantile_mean_error"] == pytest.approx([g.mean() for g in groups])
    assert d["top_over_bottom"] == pytest.approx(groups[-1].mean() / groups[0].mean())
