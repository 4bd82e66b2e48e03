"""Per-block feature transforms (zslkit.features): normalisations, the chi-squared maps against
scikit-learn and against the kernel formulas, block weights, fitting on training rows only, the
pipeline's ``transform`` with ``transform__`` search parameters."""

import dataclasses

import numpy as np
import pytest
from sklearn.kernel_approximation import AdditiveChi2Sampler
from sklearn.metrics.pairwise import additive_chi2_kernel

from zslkit.data.zsldata import ZSLData
from zslkit.errors import ConfigError, ZSLDataError
from zslkit.features import BlockTransform, check_transform_params, get_transform, split_transform_params
from zslkit.features.transforms import _MEMO, fit_transform_rows
from zslkit.pipeline import TrainConfig, train
from zslkit.training.selection import fold_features

BLOCKS = [("a", 4), ("b", 3)]


def hist(rng, n=12, d=7):
    x = rng.random((n, d)).astype(np.float32)
    x[rng.random((n, d)) < 0.3] = 0.0  # sparse histograms with empty bins
    x[:, 0] += 0.1  # no empty block
    x[:, 4] += 0.1
    return x


def test_norms_per_block_by_hand():
    X = np.array([[1.0, 3.0, 0.0, 0.0, 3.0, 4.0, 0.0]], dtype=np.float32)
    l1 = BlockTransform(blocks=BLOCKS, norm="l1").fit(X).transform(X)
    np.testing.assert_allclose(l1, [[0.25, 0.75, 0, 0, 3 / 7, 4 / 7, 0]], rtol=1e-6)
    l2 = BlockTransform(blocks=BLOCKS, norm="l2").fit(X).transform(X)
    np.testing.assert_allclose(l2, [[1 / np.sqrt(10), 3 / np.sqrt(10), 0, 0, 0.6, 0.8, 0]], rtol=1e-6)
    Xs = np.array([[-4.0, 9.0, 0.0, 0.0, 1.0, 0.0, 0.0]], dtype=np.float32)
    p = BlockTransform(blocks=BLOCKS, norm="power", power_l2=False).fit(Xs).transform(Xs)
    np.testing.assert_allclose(p, [[-2, 3, 0, 0, 1, 0, 0]], rtol=1e-6)
    p2 = BlockTransform(blocks=BLOCKS, norm="power").fit(Xs).transform(Xs)
    np.testing.assert_allclose(p2, [[-2 / np.sqrt(13), 3 / np.sqrt(13), 0, 0, 1, 0, 0]], rtol=1e-6)
    # power + L2 of a histogram is the Hellinger map: sqrt of the L1-normalised block
    h = BlockTransform(blocks=BLOCKS, norm="power").fit(X).transform(X)
    np.testing.assert_allclose(h, np.sqrt(l1), rtol=1e-6)


def test_additive_chi2_equals_sklearn_per_block_with_weights(rng):
    X = hist(rng)
    w = {"a": 2.0, "b": 0.5}
    t = BlockTransform(blocks=BLOCKS, norm="l1", map="additive_chi2", sample_steps=2, weights=w).fit(X[:8])
    out = t.transform(X)
    parts = []
    for (name, width), start in zip(BLOCKS, (0, 4)):
        xb = X[:, start:start + width] / X[:, start:start + width].sum(1, keepdims=True)
        parts.append(np.sqrt(w[name]) * AdditiveChi2Sampler(sample_steps=2).fit_transform(xb))
    np.testing.assert_allclose(out, np.hstack(parts), rtol=1e-5, atol=1e-7)
    assert t.output_blocks_ == [("a", 12), ("b", 9)] and out.shape == (12, 21)
    # its dot products approximate the weighted sum of additive chi2 kernels sum_j 2 x_j y_j / (x_j + y_j)
    t3 = BlockTransform(blocks=BLOCKS, norm="l1", map="additive_chi2", sample_steps=3, weights=w).fit(X)
    Y = t3.transform(X)
    want = sum(w[n] * _additive_k(X[:, s:s + k] / X[:, s:s + k].sum(1, keepdims=True))
               for (n, k), s in zip(BLOCKS, (0, 4)))
    np.testing.assert_allclose(Y @ Y.T, want, rtol=0.08)  # the sampler is a coarse approximation


def _additive_k(x):
    s = x[:, None, :] + x[None, :, :]
    return np.where(s > 0, 2 * x[:, None, :] * x[None, :, :] / np.where(s > 0, s, 1), 0).sum(-1)


def test_block_weights_give_the_weighted_sum_of_kernels(rng):
    """No map: the dot product of outputs is sum_b w_b <x_b, y_b>; a weight of 0 drops the block."""
    X = rng.normal(size=(6, 7)).astype(np.float32)
    t = BlockTransform(blocks=BLOCKS, norm="none", weights=[3.0, 0.25]).fit(X)
    Y = t.transform(X)
    want = 3.0 * X[:, :4] @ X[:, :4].T + 0.25 * X[:, 4:] @ X[:, 4:].T
    np.testing.assert_allclose(Y @ Y.T, want, rtol=1e-5, atol=1e-5)
    t0 = BlockTransform(blocks=BLOCKS, norm="none", weights={"a": 0.0}).fit(X)
    np.testing.assert_allclose(t0.transform(X), X[:, 4:])
    assert t0.output_blocks_ == [("b", 3)]


def test_exp_chi2_is_the_papers_kernel_on_the_landmarks(rng):
    """With every training image a landmark, the Nystroem map is exact on them: the outputs' dot
    products are sum_b w_b exp(-chi2(x_b, y_b) / (bandwidth * median_b)), median_b the median
    chi-squared distance of the block between training images."""
    X = hist(rng, n=30)
    w = [1.0, 2.0]
    t = BlockTransform(blocks=BLOCKS, norm="l1", map="exp_chi2", n_components=30, bandwidth=0.5, weights=w,
                       median_rows=10).fit(X)
    Y = t.transform(X)
    want = np.zeros((30, 30))
    for (name, k), s, wb, med in zip(BLOCKS, (0, 4), w, t.medians_):
        xb = X[:, s:s + k] / X[:, s:s + k].sum(1, keepdims=True)
        d = -additive_chi2_kernel(xb.astype(np.float64))
        assert np.quantile(d[np.triu_indices(30, 1)], 0.1) < med < np.quantile(d[np.triu_indices(30, 1)], 0.9)
        want += wb * np.exp(-d / (0.5 * med))
    np.testing.assert_allclose(Y @ Y.T, want, rtol=2e-3, atol=2e-3)  # float32 Nystroem


def test_exp_chi2_bandwidth_follows_the_data_scale(rng):
    """chi2 distances are 1-homogeneous: doubling the (unnormalised) features doubles the median and
    leaves the median-scaled kernel, hence the map, unchanged."""
    X = hist(rng, n=40)
    kw = dict(blocks=BLOCKS, norm="none", map="exp_chi2", n_components=15, seed=3)
    t1, t2 = BlockTransform(**kw).fit(X), BlockTransform(**kw).fit(2 * X)
    np.testing.assert_allclose(np.array(t2.medians_), 2 * np.array(t1.medians_), rtol=1e-5)
    np.testing.assert_allclose(t2.transform(2 * X), t1.transform(X), atol=1e-4)


def test_fit_uses_the_training_rows_only(rng):
    X = hist(rng, n=40)
    train = np.arange(0, 40, 2)
    other = X.copy()
    other[1::2] = rng.random((20, 7)) * 50  # every non-training row changed
    kw = dict(blocks=BLOCKS, map="exp_chi2", n_components=10, seed=1)
    a = BlockTransform(**kw).fit(X, rows=train)
    b = BlockTransform(**kw).fit(other, rows=train)
    assert a.medians_ == b.medians_
    np.testing.assert_array_equal(a.transform(X[train]), b.transform(X[train]))
    np.testing.assert_array_equal(a.transform(X, rows=train), BlockTransform(**kw).fit(X[train]).transform(X[train]))


def test_fold_features_fit_on_the_folds_training_images_only(toy_data, rng):
    data = dataclasses.replace(toy_data, features=np.abs(toy_data.features), feature_blocks=[("x", 100), ("y", 28)])
    vs = data.validation_split(1)
    changed = data.features.copy()
    rest = np.setdiff1d(np.arange(changed.shape[0]), vs.train_idx)
    changed[rest] = rng.random((rest.size, changed.shape[1])) * 10  # validation and test images differ
    t = get_transform("expchi2(n_components=20)", blocks=data.feature_blocks)
    t2 = get_transform("expchi2(n_components=20)", blocks=data.feature_blocks)
    X, y, feats, labels, ev = fold_features(data, vs, t)
    X2, *_ = fold_features(dataclasses.replace(data, features=changed), vs, t2)
    assert t.medians_ == t2.medians_
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(labels[ev.unseen_idx], data.labels[vs.eval.unseen_idx])
    np.testing.assert_array_equal(feats[ev.seen_idx], t.transform(data.features, rows=vs.eval.seen_idx))


def test_chunks_rows_and_memo_do_not_change_the_result(rng):
    X = hist(rng, n=25)
    kw = dict(blocks=BLOCKS, map="exp_chi2", n_components=8)
    full = BlockTransform(**kw, chunk_rows=1000).fit(X).transform(X)
    # float32 BLAS may round a row differently in another chunk size: equal to float32 precision
    np.testing.assert_allclose(BlockTransform(**kw, chunk_rows=3).fit(X).transform(X), full, rtol=1e-5, atol=1e-6)
    rows = np.array([7, 2, 24])
    np.testing.assert_allclose(BlockTransform(**kw).fit(X).transform(X, rows=rows), full[rows], rtol=1e-5, atol=1e-6)
    _MEMO.clear()
    t1, t2 = BlockTransform(**kw), BlockTransform(**kw)
    a = fit_transform_rows(t1, X, np.arange(25))
    np.testing.assert_array_equal(a, BlockTransform(**kw).fit(X).transform(X))
    memo = {k: v[2] for k, v in _MEMO.items()}
    assert len(memo) == 2  # one entry per block
    b = fit_transform_rows(t2, X, np.arange(25))
    assert len(_MEMO) == 2 and t2.medians_ == t1.medians_ and all(_MEMO[k][2] is v for k, v in memo.items())
    np.testing.assert_array_equal(a, b)
    # other weights reuse the blocks: dropping block a gives block b's columns, scaled by sqrt(w)
    c = fit_transform_rows(BlockTransform(**kw, weights=[0.0, 4.0]), X, np.arange(25))
    assert len(_MEMO) == 2
    np.testing.assert_allclose(c, 2 * a[:, 8:], rtol=1e-6)
    # ... and equal what a fresh transform with those weights computes (each block's draws are its own)
    np.testing.assert_allclose(c, BlockTransform(**kw, weights=[0.0, 4.0]).fit(X).transform(X), rtol=1e-5, atol=1e-6)
    d = fit_transform_rows(BlockTransform(**{**kw, "n_components": 9}), X, np.arange(25))  # other params: recomputed
    assert d.shape == (25, 18) and len(_MEMO) == 4
    _MEMO.clear()


def test_errors_name_the_problem(rng):
    X = hist(rng)
    with pytest.raises(ZSLDataError, match="block 'b'.*non-negative"):
        neg = X.copy()
        neg[0, 5] = -1
        BlockTransform(blocks=BLOCKS, norm="none", map="additive_chi2").fit(neg)
    with pytest.raises(ZSLDataError, match="sum to 8"):
        BlockTransform(blocks=[("a", 4), ("b", 4)]).fit(X)
    with pytest.raises(ConfigError, match="norm"):
        BlockTransform(norm="l3").fit(X)
    with pytest.raises(ConfigError, match=r"unknown block\(s\) \['c'\]"):
        BlockTransform(blocks=BLOCKS, weights={"c": 1.0}).fit(X)
    with pytest.raises(ConfigError, match="weight of block 'a'"):
        BlockTransform(blocks=BLOCKS, weights=[-1.0, 1.0]).fit(X)
    with pytest.raises(ZSLDataError, match="not fitted"):
        BlockTransform().transform(X)
    with pytest.raises(ZSLDataError, match="fitted on 7"):
        BlockTransform().fit(X).transform(X[:, :5])
    with pytest.raises(ZSLDataError, match="NaN"):
        bad = X.copy()
        bad[1, 1] = np.nan
        BlockTransform(blocks=BLOCKS).fit(bad)


def test_zsldata_feature_blocks_are_validated(toy_data):
    d = dataclasses.replace(toy_data, feature_blocks=[("x", 100), ("y", 28)])
    assert d.feature_blocks == [("x", 100), ("y", 28)] and d.summary()["feature_blocks"] == [["x", 100], ["y", 28]]
    with pytest.raises(ZSLDataError, match="sum to 127, but the features have 128"):
        dataclasses.replace(toy_data, feature_blocks=[("x", 100), ("y", 27)])
    with pytest.raises(ZSLDataError, match="duplicate block names"):
        dataclasses.replace(toy_data, feature_blocks=[("x", 64), ("x", 64)])
    with pytest.raises(ZSLDataError, match="width must be an integer"):
        dataclasses.replace(toy_data, feature_blocks=[("x", 128.0)])


def test_specs_and_parameter_checks():
    t = get_transform("expchi2(norm=power, n_components=5)", weights={"sift": 2})
    assert (t.map, t.norm, t.n_components, t.weights) == ("exp_chi2", "power", 5, {"sift": 2})
    assert get_transform("chi2").map == "additive_chi2" and get_transform("normalize").map == "none"
    with pytest.raises(ConfigError, match="unknown transform 'rbf'"):
        get_transform("rbf")
    with pytest.raises(ConfigError, match="transform 'chi2' has no hyperparameter 'C'"):
        check_transform_params("chi2", {"C": 1.0})
    with pytest.raises(ConfigError, match="wrong type"):
        check_transform_params("chi2", {"bandwidth": ["a"]}, grid=True)
    with pytest.raises(ConfigError, match="map must be one of"):
        get_transform("normalize(map=rbf)")
    assert split_transform_params({"C": 1, "transform__norm": "l2"}) == ({"C": 1}, {"norm": "l2"})


def test_pipeline_searches_transform_parameters_on_validation(toy_data):
    data = dataclasses.replace(toy_data, features=np.abs(toy_data.features), feature_blocks=[("x", 100), ("y", 28)])
    cfg = TrainConfig(data="toy", model="eszsl", transform="normalize(power_l2=true)",
                      grid={"transform__norm": ["l2", "power"], "transform__weights": [[1.0, 1.0], [1.0, 0.0]],
                            "alpha": [1.0, 10.0]})
    r = train(cfg, data=data)
    assert len(r.selection.table) == 8
    chosen = r.selection.params
    assert set(chosen) == {"alpha", "transform__norm", "transform__weights"}
    rec = r.to_dict()["transform"]
    assert rec["spec"] == "normalize(power_l2=true)" and rec["norm"] == chosen["transform__norm"]
    assert rec["weights"] == chosen["transform__weights"] and rec["blocks"] == [["x", 100], ["y", 28]]
    assert rec["output_dim"] == (128 if chosen["transform__weights"] == [1.0, 1.0] else 100)
    assert r.to_dict()["config"]["transform"] == "normalize(power_l2=true)" and "transform" in r.timings
    best = max(r.selection.table, key=lambda row: row["val_T1"])
    assert best["params"] == chosen


def test_pipeline_transform_config_errors():
    with pytest.raises(ConfigError, match=r"transform__norm.*no transform"):
        TrainConfig(data="x", model="eszsl", grid={"transform__norm": ["l1"]}).validate()
    with pytest.raises(ConfigError, match="transform 'expchi2' has no hyperparameter 'gamma'"):
        TrainConfig(data="x", model="eszsl", transform="expchi2", params={"transform__gamma": 1.0}).validate()
    with pytest.raises(ConfigError, match="model 'eszsl' has no hyperparameter 'norm'"):
        TrainConfig(data="x", model="eszsl", transform="expchi2", grid={"norm": ["l1"]}).validate()
    with pytest.raises(ConfigError, match="unknown transform"):
        TrainConfig(data="x", model="eszsl", transform="pca").validate()
    with pytest.raises(ConfigError, match="feature-level"):
        TrainConfig(data="x", model="attention_net", transform="chi2").validate()


def test_cli_train_transform_and_yaml_configs(toy_dir, tmp_path):
    """`zslkit train --transform SPEC` and the YAML train / grid configs carry the transform."""
    import json

    from tests.test_cli import run_cli
    from zslkit.config import load_config
    from zslkit.grid import GridConfig, _train_config

    run_dir = tmp_path / "run"
    run_cli("train", "--data", str(toy_dir), "--model", "dap", "--transform", "normalize(norm=l2)", "--out",
            str(run_dir), "--param", "C=1.0", "--param", "transform__weights=[2.0]")
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["transform"]["spec"] == "normalize(norm=l2)" and m["transform"]["weights"] == [2.0]
    assert m["transform"]["norm"] == "l2" and m["config"]["transform"] == "normalize(norm=l2)"
    p = run_cli("train", "--data", str(toy_dir), "--model", "dap", "--transform", "normalize", "--out",
                str(tmp_path / "bad"), "--param", "transform__norm=l7", check=False)
    assert p.returncode == 2 and "norm must be one of" in p.stderr
    y = tmp_path / "t.yaml"
    y.write_text(f"kind: train\ndata: {toy_dir}\nmodel: dap\ntransform: 'expchi2(n_components=50)'\n"
                 "grid: {C: [1.0], transform__bandwidth: [0.5, 2.0]}\n")
    cfg = load_config(y)
    assert cfg.transform == "expchi2(n_components=50)" and cfg.grid["transform__bandwidth"] == [0.5, 2.0]
    y.write_text(f"kind: train\ndata: {toy_dir}\nmodel: dap\ngrid: {{transform__bandwidth: [0.5]}}\n")
    with pytest.raises(ConfigError, match="no transform is configured"):
        load_config(y)
    g = GridConfig(data=[str(toy_dir)], models=["eszsl"], transform="normalize",
                   grids={"eszsl": {"alpha": [1.0], "transform__norm": ["l1", "l2"]}}).validate()
    assert _train_config(g, g.cells()[0]).transform == "normalize"
    with pytest.raises(ConfigError, match="transform 'normalize' has no hyperparameter 'alpha2'"):
        GridConfig(data=[str(toy_dir)], models=["eszsl"], transform="normalize",
                   grids={"eszsl": {"transform__alpha2": [1.0]}}).validate()
