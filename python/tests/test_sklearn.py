"""The scikit-learn estimators: scikit-learn's own estimator checks, fits that agree
with scikit-learn's, and use inside a Pipeline."""

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn import linear_model  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from matdiff.sklearn import (  # noqa: E402
    EXPECTED_FAILED_CHECKS,
    LinearRegression,
    LogisticRegression,
    SGDRegressor,
)


def expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


@parametrize_with_checks(
    [LinearRegression(), SGDRegressor(random_state=0), LogisticRegression()],
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_linear_regression_agrees_with_scikit_learn(regression):
    X, _, y = regression
    ours = LinearRegression().fit(X, y)
    theirs = linear_model.LinearRegression().fit(X, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-9)
    assert ours.intercept_ == pytest.approx(theirs.intercept_, abs=1e-9)
    assert ours.score(X, y) == pytest.approx(theirs.score(X, y), rel=1e-12)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ridge_agrees_with_scikit_learn(regression, fit_intercept):
    X, _, y = regression
    ours = LinearRegression(ridge=2.0, fit_intercept=fit_intercept).fit(X, y)
    theirs = linear_model.Ridge(alpha=2.0, fit_intercept=fit_intercept).fit(X, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-9)
    assert ours.intercept_ == pytest.approx(theirs.intercept_, abs=1e-9)


def test_sgd_regressor_approaches_least_squares(regression):
    X, _, y = regression
    model = SGDRegressor(lr=0.01, epochs=200, batch_size=8, random_state=0).fit(X, y)
    exact = linear_model.LinearRegression().fit(X, y)
    np.testing.assert_allclose(model.coef_, exact.coef_, atol=0.05)
    assert model.n_iter_ == 200
    assert set(model.history_) >= {"loss", "epoch"}


def test_sgd_regressor_fits_the_intercept(regression):
    X, _, y = regression
    y = y - 7.0
    exact = linear_model.LinearRegression().fit(X, y)
    model = SGDRegressor(lr=0.01, epochs=200, batch_size=8, random_state=0).fit(X, y)
    assert model.intercept_ == pytest.approx(exact.intercept_, abs=0.05)
    assert model.coef_.shape == exact.coef_.shape
    # On two threads (Hogwild!) one-sample SGD lands near the same model.
    model = SGDRegressor(lr=0.01, epochs=200, batch_size=1, random_state=0, n_jobs=2).fit(X, y)
    np.testing.assert_allclose(model.coef_, exact.coef_, atol=0.1)
    assert model.intercept_ == pytest.approx(exact.intercept_, abs=0.1)


def test_sgd_regressor_is_reproducible_with_a_seed(regression):
    X, _, y = regression
    a = SGDRegressor(random_state=3).fit(X, y).coef_
    b = SGDRegressor(random_state=3).fit(X, y).coef_
    np.testing.assert_array_equal(a, b)


def test_logistic_regression_agrees_with_scikit_learn(rng):
    X = rng.standard_normal((200, 3))
    y = (X @ np.array([1.0, -2.0, 0.5]) + 0.3 * rng.standard_normal(200) > 0).astype(int)
    ours = LogisticRegression(C=1.0).fit(X, y)
    theirs = linear_model.LogisticRegression(C=1.0, tol=1e-10, max_iter=1000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-4, atol=1e-5)
    proba = ours.predict_proba(X)
    assert proba.shape == (200, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(proba, theirs.predict_proba(X), atol=1e-4)
    assert (ours.predict(X) == theirs.predict(X)).mean() > 0.99


def test_logistic_regression_with_three_classes(rng):
    centers = np.array([[0.0, 3.0], [3.0, 0.0], [-3.0, -3.0]])
    y = np.repeat(np.array(["a", "b", "c"]), 40)
    X = centers[np.repeat(np.arange(3), 40)] + rng.standard_normal((120, 2))
    model = LogisticRegression().fit(X, y)
    assert list(model.classes_) == ["a", "b", "c"]
    assert model.predict_proba(X).shape == (120, 3)
    assert model.score(X, y) > 0.95


@pytest.mark.parametrize(
    "estimator",
    [LinearRegression(), LinearRegression(ridge=1.0), SGDRegressor(epochs=100, random_state=0)],
)
def test_regressors_in_a_pipeline(estimator, regression):
    X, _, y = regression
    pipeline = make_pipeline(StandardScaler(), estimator).fit(X, y)
    assert pipeline.score(X, y) > 0.95
    assert pipeline.predict(X).shape == y.shape


def test_classifier_in_a_pipeline(rng):
    X = 100.0 * rng.standard_normal((150, 4))
    y = (X[:, 0] - X[:, 2] > 0).astype(int)
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=10.0)).fit(X, y)
    assert pipeline.score(X, y) > 0.95
    assert pipeline.predict_proba(X[:5]).shape == (5, 2)


def test_get_and_set_params():
    model = SGDRegressor(lr=0.1)
    assert model.get_params()["lr"] == 0.1
    assert model.set_params(epochs=9) is model and model.epochs == 9
