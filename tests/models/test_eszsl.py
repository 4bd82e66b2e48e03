import numpy as np
import pytest
from sklearn.base import clone

from zslkit.errors import ConfigError, ZSLDataError
from zslkit.evaluation import evaluate
from zslkit.models import ESZSL
from zslkit.training.selection import scores_fn_for, select


@pytest.mark.parametrize("coding, off", [("01", 0.0), ("pm1", -1.0)])
def test_eszsl_matches_closed_form(rng, coding, off):
    X = rng.random((50, 6))
    y = rng.integers(0, 4, 50)
    S = rng.random((5, 3))  # class 4 has no images: ignored
    m = ESZSL(alpha=0.5, lam=2.0, label_coding=coding).fit(X, y, S)
    classes = np.unique(y)
    Y = np.full((50, classes.size), off)
    Y[np.arange(50), np.searchsorted(classes, y)] = 1
    Ss = S[classes]
    V = np.linalg.inv(X.T @ X + 0.5 * np.eye(6)) @ X.T @ Y @ Ss @ np.linalg.inv(Ss.T @ Ss + 2.0 * np.eye(3))
    np.testing.assert_allclose(m.V_, V, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(m.scores(X, S), X @ V @ S.T, rtol=1e-4, atol=1e-5)


def test_eszsl_default_coding_is_01():
    assert ESZSL().label_coding == "01"


def test_eszsl_fit_grid_equals_individual_fits(rng):
    X = rng.random((40, 5))
    y = rng.integers(0, 3, 40)
    S = rng.random((3, 4))
    # options that change the shared statistics are mixed into the grid too
    grid = [{"alpha": a, "lam": g, "label_coding": c, "normalize_features": n}
            for a in (0.1, 10.0) for g in (0.01, 1.0) for c in ("01", "pm1") for n in (False, True)]
    for params, fitted in ESZSL().fit_grid(X, y, S, grid):
        single = clone(ESZSL()).set_params(**params).fit(X, y, S)
        np.testing.assert_allclose(fitted.V_, single.V_, rtol=1e-4, atol=1e-6)


def test_eszsl_on_toy_data_beats_chance(toy_data):
    d = toy_data
    sel = select(ESZSL(), d, folds=(1,))
    assert set(sel.params) == {"alpha", "lam"}
    m = ESZSL(**sel.params)
    tv = d.splits["trainval"]
    m.fit(d.features[tv], d.labels[tv], d.semantic)
    res = evaluate(scores_fn_for(m, d.semantic), d.features, d.labels, d.test_split(), gamma=sel.gamma)
    assert res.T1 > 40  # 10 unseen classes: chance is 10 %
    assert 0 < res.H <= 100 and 0 < res.ausuc <= 100


def test_eszsl_errors(rng):
    with pytest.raises(ZSLDataError, match="not fitted"):
        ESZSL().scores(rng.random((2, 3)), rng.random((2, 2)))
    with pytest.raises(ZSLDataError, match="index rows of S"):
        ESZSL().fit(rng.random((4, 3)), np.array([0, 1, 2, 5]), rng.random((3, 2)))
    with pytest.raises(ZSLDataError, match="NaN"):
        ESZSL().fit(np.full((4, 3), np.nan), np.array([0, 1, 2, 0]), rng.random((3, 2)))
    with pytest.raises(ConfigError, match="label_coding"):
        ESZSL(label_coding="-1/1").fit(rng.random((4, 3)), np.array([0, 1, 2, 0]), rng.random((3, 2)))


def test_eszsl_fit_grid_with_one_alpha_uses_the_solve_and_agrees(rng):
    X = rng.random((40, 5))
    y = rng.integers(0, 3, 40)
    S = rng.random((3, 4))
    grid = [{"alpha": 0.5, "lam": g} for g in (0.01, 1.0, 100.0)]
    for params, fitted in ESZSL().fit_grid(X, y, S, grid):
        single = clone(ESZSL()).set_params(**params).fit(X, y, S)
        np.testing.assert_allclose(fitted.V_, single.V_, rtol=1e-5, atol=1e-7)
