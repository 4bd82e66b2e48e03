"""DAP and IAP (Lampert et al.): the MAP rule by hand, priors, binarisation, the joint logistic
solver against scikit-learn, IAP's attribute posteriors, the SVM + Platt option, and both models
under the ZSL / GZSL protocol."""

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from zslkit.errors import ConfigError
from zslkit.models.dap import DAP, IAP, binarize, fit_threshold, joint_logistic, map_scores
from zslkit.pipeline import TrainConfig, train
from zslkit.registry import get_model, model_description


def test_map_rule_by_hand():
    """p(a|x) = (0.9, 0.2), priors (0.5, 0.25); classes (1,0), (1,1), (0,0):
    class 0: log(0.9/0.5) + log(0.8/0.75); class 1: log(0.9/0.5) + log(0.2/0.25);
    class 2: log(0.1/0.5) + log(0.8/0.75)."""
    p1 = np.array([[0.9, 0.2]])
    B = np.array([[1, 0], [1, 1], [0, 0]])
    s = map_scores(np.log(p1), np.log(1 - p1), B, np.array([0.5, 0.25]))
    want = [np.log(0.9 / 0.5) + np.log(0.8 / 0.75), np.log(0.9 / 0.5) + np.log(0.2 / 0.25),
            np.log(0.1 / 0.5) + np.log(0.8 / 0.75)]
    np.testing.assert_allclose(s[0], want, rtol=1e-6)
    assert s.argmax() == 0
    # the prior matters: a rare attribute present in the image counts more than a common one
    s2 = map_scores(np.log([[0.6, 0.6]]), np.log([[0.4, 0.4]]), np.array([[1, 0], [0, 1]]), np.array([0.9, 0.1]))
    assert s2[0, 1] > s2[0, 0]


def test_binarization_threshold():
    S = np.array([[0.0, 10.0], [30.0, 80.0]])  # mean 30
    assert fit_threshold(S, None) == 30.0
    np.testing.assert_array_equal(binarize(S, 30.0), [[0, 0], [0, 1]])  # strictly above the mean
    assert fit_threshold(np.array([[0, 1], [1, 1.0]]), None) == 0.5  # already binary: kept
    assert fit_threshold(S, 5.0) == 5.0


def _attribute_world(rng, n_per=40, noise=0.6):
    """6 binary attributes, 10 classes; image features = 3 x its class signature + noise + 4 noise dims.
    Classes 0-6 seen, 7-9 unseen (new combinations)."""
    B = np.array([[1, 0, 0, 1, 0, 1], [0, 1, 0, 1, 1, 0], [1, 1, 0, 0, 0, 1], [0, 0, 1, 1, 0, 0],
                  [1, 0, 1, 0, 1, 0], [0, 1, 1, 0, 0, 1], [0, 0, 0, 1, 1, 1], [1, 1, 1, 0, 0, 0],
                  [0, 0, 1, 1, 1, 1], [1, 0, 0, 0, 1, 1]], dtype=float)
    y = np.repeat(np.arange(10), n_per)
    X = np.hstack([3 * B[y] + noise * rng.normal(size=(y.size, 6)), rng.normal(size=(y.size, 4))])
    S = B * 70 + 10 * rng.random(B.shape)  # continuous strengths whose mean separates 0 from 1
    return X.astype(np.float32), y, S, B


@pytest.mark.parametrize("cls", [DAP, IAP])
def test_models_learn_unseen_combinations(rng, cls):
    X, y, S, B = _attribute_world(rng)
    seen = y < 7
    m = cls(C=1.0).fit(X[seen], y[seen], S)
    np.testing.assert_array_equal(binarize(S, m.threshold_), B)
    unseen = ~seen
    acc = np.mean(m.predict(X[unseen], S[7:]) + 7 == y[unseen])
    assert acc > 0.8, acc


def test_priors_are_the_seen_class_means_clipped(rng):
    X, y, S, B = _attribute_world(rng)
    seen = y < 7
    m = DAP(C=1.0, prior_clip=0.05).fit(X[seen], y[seen], S)
    np.testing.assert_allclose(m.prior_, B[:7].mean(0))  # unseen rows of S do not count
    # an attribute every seen class has: no classifier, posterior = clipped prior, no effect on scores
    S2 = S.copy()
    S2[:7, 0] = 90.0
    m2 = DAP(C=1.0, prior_clip=0.05).fit(X[seen], y[seen], S2)
    assert 0 not in m2.active_ and m2.prior_[0] == 1.0
    np.testing.assert_allclose(m2.attribute_posteriors(X[:3])[:, 0], 0.95)
    # the scores equal the MAP rule over the other attributes only
    sc = m2.scores(X[:20], S2)
    sc_ref = map_scores(*[np.log(p) for p in (m2.attribute_posteriors(X[:20])[:, 1:],
                                              1 - m2.attribute_posteriors(X[:20])[:, 1:])],
                        binarize(S2, m2.threshold_)[:, 1:], m2.prior_[1:])
    np.testing.assert_allclose(sc, sc_ref, rtol=1e-5, atol=1e-5)


def test_scores_use_the_stored_threshold(rng):
    X, y, S, B = _attribute_world(rng)
    seen = y < 7
    m = DAP(C=1.0).fit(X[seen], y[seen], S)
    Sb = binarize(S, m.threshold_)
    # the continuous matrix at scoring time gives the same signatures as the binary one (threshold 30-ish)
    np.testing.assert_allclose(m.scores(X[:30], S), m.scores(X[:30], Sb * 100), rtol=1e-6)
    m5 = DAP(C=1.0, threshold=75.0).fit(X[seen], y[seen], S)
    assert m5.threshold_ == 75.0


def test_joint_logistic_equals_separate_sklearn_fits(rng):
    X = rng.normal(size=(200, 8))  # float64: the solver computes in X's dtype
    T = np.stack([(X[:, 0] + 0.5 * rng.normal(size=200)) > 0, (X[:, 1] - X[:, 2]) > 0.3,
                  rng.random(200) < 0.3], axis=1).astype(float)
    W, b, info = joint_logistic(X, T, C=0.5, tol=1e-8, max_iter=2000)
    assert info["converged"]
    for m in range(3):
        lr = LogisticRegression(C=0.5, tol=1e-10, max_iter=10000).fit(X, T[:, m])
        np.testing.assert_allclose(W[:, m], lr.coef_[0], atol=2e-4)
        np.testing.assert_allclose(b[m], lr.intercept_[0], atol=2e-4)


def test_dap_posteriors_equal_sklearn_logistic_per_attribute(rng):
    X, y, S, B = _attribute_world(rng)
    seen = y < 7
    m = DAP(C=0.3, tol=1e-8, max_iter=3000, eps=1e-9).fit(X[seen], y[seen], S)
    P = m.attribute_posteriors(X[:50])
    for a in range(6):
        lr = LogisticRegression(C=0.3, tol=1e-10, max_iter=10000).fit(X[seen], B[y[seen], a])
        np.testing.assert_allclose(P[:, a], lr.predict_proba(X[:50])[:, 1], atol=1e-4)


def test_dap_svm_option_is_platt_scaled_linear_svms(rng):
    X, y, S, B = _attribute_world(rng)
    seen = y < 7
    m = DAP(C=0.5, classifier="svm").fit(X[seen], y[seen], S)
    P = m.attribute_posteriors(X[:40])
    for a in (0, 3):
        ref = CalibratedClassifierCV(LinearSVC(C=0.5, max_iter=500, random_state=0), method="sigmoid", cv=3,
                                     ensemble=False).fit(X[seen], B[y[seen], a])
        np.testing.assert_allclose(P[:, a], np.clip(ref.predict_proba(X[:40])[:, 1], 1e-3, 1 - 1e-3), atol=1e-6)
    assert np.mean(m.predict(X[~seen], S[7:]) + 7 == y[~seen]) > 0.7


def test_iap_attribute_posteriors_from_class_posteriors(rng):
    X, y, S, B = _attribute_world(rng)
    seen = y < 7
    m = IAP(C=0.5, eps=1e-9).fit(X[seen], y[seen], S)
    lr = LogisticRegression(C=0.5, max_iter=500, tol=1e-4).fit(X[seen], y[seen])
    P = lr.predict_proba(X[:25])
    np.testing.assert_allclose(m.class_posteriors(X[:25]), P, atol=1e-5)
    np.testing.assert_allclose(m.attribute_posteriors(X[:25]), P @ B[:7], atol=1e-5)


@pytest.mark.parametrize("cls", [DAP, IAP])
def test_fit_grid_equals_separate_fits(rng, cls):
    X, y, S, B = _attribute_world(rng, n_per=20)
    seen = y < 7
    grid = [{"C": 1.0, "eps": 1e-3}, {"C": 0.1, "eps": 1e-3}, {"C": 1.0, "eps": 0.05}]
    for params, fitted in cls(tol=1e-7, max_iter=2000).fit_grid(X[seen], y[seen], S, grid):
        assert fitted.C == params["C"] and fitted.eps == params["eps"]
        single = cls(tol=1e-7, max_iter=2000, **params).fit(X[seen], y[seen], S)
        np.testing.assert_allclose(fitted.scores(X[:30], S), single.scores(X[:30], S), rtol=1e-3, atol=2e-3)


@pytest.mark.parametrize("name", ["dap", "iap"])
def test_zsl_and_gzsl_through_the_pipeline(toy_data, name):
    r = train(TrainConfig(data="toy", model=name, grid={"C": [0.1, 1.0]}), data=toy_data)
    chance = 100 / toy_data.unseen_classes.size
    assert r.metrics.T1 > 2 * chance
    assert np.isfinite(r.metrics.H) and r.metrics.H > 0 and np.isfinite(r.metrics.ausuc)
    assert r.selection.params["C"] in (0.1, 1.0)
    assert model_description(name).startswith(name.upper())


def test_bad_settings_are_config_errors(rng):
    X, y, S, _ = _attribute_world(rng, n_per=5)
    for kw, match in (({"classifier": "tree"}, "classifier"), ({"eps": 0.0}, "eps"), ({"C": -1.0}, "C must"),
                      ({"prior_clip": 0.7}, "prior_clip")):
        with pytest.raises(ConfigError, match=match):
            DAP(**kw).fit(X, y, S)
    with pytest.raises(ConfigError, match="no hyperparameter 'alpha'"):
        get_model("dap(alpha=1)")


def test_map_scores_equal_the_product_form_of_lampert_evaluation(rng):
    """The released evaluation multiplies, per class, prod_m (B p + (1 - B)(1 - p)) and divides by
    prod_m (B prior + (1 - B)(1 - prior)); zslkit's log-domain scores are the log of that ratio."""
    p = rng.uniform(0.05, 0.95, size=(7, 12))
    B = (rng.random((5, 12)) < 0.4).astype(float)
    prior = rng.uniform(0.1, 0.9, size=12)
    ratio = np.stack([np.prod(B * pi + (1 - B) * (1 - pi), axis=1) / np.prod(B * prior + (1 - B) * (1 - prior), axis=1)
                      for pi in p])
    s = map_scores(np.log(p), np.log1p(-p), B, prior)
    np.testing.assert_allclose(np.exp(s), ratio, rtol=1e-5)
    np.testing.assert_array_equal(s.argmax(1), ratio.argmax(1))


def test_default_threshold_reproduces_the_awa_binary_matrix():
    """The AwA binary predicate matrix is the continuous one thresholded at its overall mean (all 50
    classes, missing values included): the default binarisation gives it exactly (REAL files)."""
    from tests.conftest import SHARED

    root = SHARED.parent / "awa1-lampert"
    if not root.is_dir():  # pragma: no cover - CI has ../shared; fail loudly rather than skip
        pytest.fail(f"AwA1 files not found at {root}")
    cont = np.loadtxt(root / "original-predicate-matrix-continuous.txt")
    binary = np.loadtxt(root / "original-predicate-matrix-binary.txt")
    np.testing.assert_array_equal(binarize(cont, fit_threshold(cont, None)), binary)
    assert fit_threshold(binary, None) == 0.5


def test_warm_started_grid_points_are_real_fits_even_with_a_loose_tol(rng):
    """A warm start from another C that already meets a loose tol (many images: the regularisation
    gradient changes by ~w / N between the two C) must not be returned as this C's fit."""
    X, y, S, B = _attribute_world(rng, n_per=400)
    seen = y < 7
    fits = dict((p["C"], m) for p, m in DAP(tol=1e-3).fit_grid(X[seen], y[seen], S, [{"C": 1.0}, {"C": 1.01}]))
    assert fits[1.01].solver_["iterations"] > 0
    assert not np.array_equal(fits[1.0].coef_, fits[1.01].coef_)
