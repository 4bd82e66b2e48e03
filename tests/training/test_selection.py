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
