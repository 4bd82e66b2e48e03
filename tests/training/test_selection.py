import numpy as np
import pytest

from zslkit.errors import ConfigError
from zslkit.models import ESZSL
from zslkit.training.selection import select


def test_selection_never_touches_test_images(toy_data, monkeypatch):
    """Spy on every matrix the model is fitted or scored on during selection."""
    seen_rows = []
    orig_fit_grid, orig_scores = ESZSL.fit_grid, ESZSL.scores
    feats = toy_data.features

    def rows_of(X):
        # identify rows by exact match against the dataset's feature matrix
        lookup = {feats[i].tobytes(): i for i in range(feats.shape[0])}
        return [lookup[r.tobytes()] for r in np.asarray(X, dtype=np.float32)]

    def spy_fit_grid(self, X, y, S, grid):
        seen_rows.extend(rows_of(X))
        yield from orig_fit_grid(self, X, y, S, grid)

    def spy_scores(self, X, S):
        seen_rows.extend(rows_of(X))
        return orig_scores(self, X, S)

    monkeypatch.setattr(ESZSL, "fit_grid", spy_fit_grid)
    monkeypatch.setattr(ESZSL, "scores", spy_scores)
    select(ESZSL(), toy_data, grid={"alpha": [1.0, 100.0], "lam": [1.0]}, folds=(1, 2))
    test = np.concatenate([toy_data.splits["test_seen"], toy_data.splits["test_unseen"]])
    assert np.intersect1d(np.array(seen_rows), test).size == 0
    assert set(seen_rows) <= set(toy_data.splits["trainval"].tolist())


def test_selection_table_and_edge_warning(toy_data):
    sel = select(ESZSL(), toy_data, grid={"alpha": [1e-3, 1e-2, 1e-1], "lam": [1.0], "normalize_features": [False]})
    assert len(sel.table) == 3 and sel.params["alpha"] in (1e-3, 1e-2, 1e-1)
    assert ("alpha" in sel.at_grid_edge) == (sel.params["alpha"] != 1e-2)
    assert "lam" not in sel.at_grid_edge and "normalize_features" not in sel.at_grid_edge
    assert np.isfinite(sel.gamma)
    with pytest.raises(ConfigError):
        select(ESZSL(), toy_data, criterion="accuracy")


def test_fold_semantic_is_what_each_fold_fits_and_scores(toy_data, monkeypatch):
    """select() hands each fold its own class matrix; the model never sees data.semantic then."""
    calls, fitted_with, scored_with = [], [], []
    orig_fit_grid, orig_scores = ESZSL.fit_grid, ESZSL.scores

    def marked(semantic, train_classes, val_classes):
        calls.append((np.asarray(train_classes).copy(), np.asarray(val_classes).copy()))
        out = semantic.copy()
        out[val_classes] = -1.0 - len(calls)  # a value no real row has, distinct per fold
        return out

    def spy_fit_grid(self, X, y, S, grid):
        fitted_with.append(np.asarray(S).copy())
        yield from orig_fit_grid(self, X, y, S, grid)

    def spy_scores(self, X, S):
        scored_with.append(np.asarray(S).copy())
        return orig_scores(self, X, S)

    monkeypatch.setattr(ESZSL, "fit_grid", spy_fit_grid)
    monkeypatch.setattr(ESZSL, "scores", spy_scores)
    select(ESZSL(), toy_data, grid={"alpha": [1.0]}, folds=(1, 2), fold_semantic=marked)
    # the search fits each fold once; with two folds the chosen point is refitted once per fold for its gamma
    assert len(calls) == 2 and len(fitted_with) == 4
    for k, (tr, va) in enumerate(calls):
        vs = toy_data.validation_split(fold=k + 1)
        np.testing.assert_array_equal(tr, vs.train_classes)
        np.testing.assert_array_equal(va, vs.val_classes)
        for S in (fitted_with[k], fitted_with[2 + k]):
            assert np.all(S[va] == -2.0 - k)
            np.testing.assert_array_equal(S[tr], toy_data.semantic[tr])
    # every scored matrix is a row subset of the fold matrices, with the marked validation rows among them
    assert any(np.any(S == -2.0) for S in scored_with) and any(np.any(S == -3.0) for S in scored_with)


def test_fold_semantic_shape_is_checked(toy_data):
    with pytest.raises(ConfigError, match="shape"):
        select(ESZSL(), toy_data, grid={"alpha": [1.0]}, fold_semantic=lambda s, tr, va: s[:, :2])


def test_relation_fold_semantic_repredicts_validation_rows(toy_data, toy_data_w2v):
    from zslkit.training.selection import relation_fold_semantic
    from zslkit.vgse.class_relation import ClassRelation

    vs = toy_data.validation_split(fold=1)
    tr, va = vs.train_classes, vs.val_classes
    wv = toy_data_w2v.semantic
    out = relation_fold_semantic(wv)(toy_data.semantic, tr, va)
    rel = ClassRelation(method="smo", alpha=0.0).fit(wv[tr], wv[va])
    np.testing.assert_allclose(out[va], rel.transform(toy_data.semantic[tr]), rtol=1e-5, atol=1e-6)
    others = np.setdiff1d(np.arange(toy_data.num_classes), va)
    np.testing.assert_array_equal(out[others], toy_data.semantic[others])
    with pytest.raises(ConfigError, match="rows"):
        relation_fold_semantic(wv[:5])(toy_data.semantic, tr, va)


def test_grid_edge_warns_for_user_grids_only(toy_data, caplog):
    grid = {"alpha": [1.0, 1e6, 1e9], "lam": [1.0]}  # the huge ridge weights shrink V to nothing: 1.0 wins
    with caplog.at_level("INFO", logger="zslkit.training.selection"):
        user = select(ESZSL(), toy_data, grid=grid)
        levels_user = {r.levelname for r in caplog.records if "edge of its grid" in r.message}
        caplog.clear()
        default = select(ESZSL(), toy_data, grid=grid, warn_edge=False)
        levels_default = {r.levelname for r in caplog.records if "edge of its grid" in r.message}
    assert user.at_grid_edge == default.at_grid_edge == ["alpha"]  # recorded either way
    assert levels_user == {"WARNING"} and levels_default == {"INFO"}
    # the warning says how to widen the grid, in the syntax the command line reads back
    msg = next(r.getMessage() for r in caplog.records if "edge of its grid" in r.getMessage())
    assert "selected alpha=1.0 at the edge of its grid" in msg
    assert "--grid alpha=1e-06,1.0,1000000.0,1000000000.0" in msg and "grid:" in msg


def test_widen_grid_adds_the_next_step_beyond_the_chosen_end():
    from zslkit.training.selection import widen_grid

    assert widen_grid([0.01, 0.1, 1.0], 1.0) == [0.01, 0.1, 1.0, 10.0]  # geometric: one more factor
    assert widen_grid([1.0, 0.1, 0.01], 0.01) == [0.001, 0.01, 0.1, 1.0]
    assert widen_grid([5, 10, 20], 5) == [2, 5, 10, 20] and widen_grid([5, 10, 20], 20) == [5, 10, 20, 40]
    assert widen_grid([0, 1, 2], 0) == [-1, 0, 1, 2]  # a zero: arithmetic steps
    assert widen_grid([-1.0, 0.0, 1.0], 1.0) == [-1.0, 0.0, 1.0, 2.0]
    assert widen_grid([1, 2], 2) == [1, 2, 4] and widen_grid([1, 2, 3], 2) == [1, 2, 3]  # inside: unchanged


def test_t1_search_sweeps_gzsl_once_and_matches_the_full_protocol(toy_data, monkeypatch):
    """criterion T1: the chosen point and gamma are those of the full protocol; only one exact sweep runs."""
    import zslkit.training.selection as sel_mod

    grid = {"alpha": [0.1, 10.0, 1000.0], "lam": [0.1, 1.0]}
    sweeps = []
    real = sel_mod.evaluate
    monkeypatch.setattr(sel_mod, "evaluate", lambda *a, **k: sweeps.append(1) or real(*a, **k))
    fast = select(ESZSL(), toy_data, grid=grid)
    assert len(sweeps) == 1  # one fold: the chosen point's kept model, evaluated once
    full = select(ESZSL(), toy_data, grid=grid, criterion="H")
    assert len(sweeps) == 1 + 6
    best_by_t1 = max(full.table, key=lambda r: r["val_T1"])
    assert fast.params == best_by_t1["params"]
    assert fast.gamma == pytest.approx(best_by_t1["val_gamma"])
    assert [r["val_T1"] for r in fast.table] == pytest.approx([r["val_T1"] for r in full.table])
    assert sum(r["val_H"] is not None for r in fast.table) == 1
