"""scikit-learn autologging on a real store (SQLite and PostgreSQL): what one fit records,
nested fits logged once, reversible patching, and a fit that logging never breaks."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler, scale

import jupyter_mlops as mlops
from jupyter_mlops import fluent
from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.hashing import hash_array
from jupyter_mlops.registry.flavors import get_flavor
from jupyter_mlops.tracking.autolog import sklearn_fit
from jupyter_mlops.validation import MAX_PARAM_VALUE, to_param_value


@pytest.fixture
def data():
    X, y = load_breast_cancer(return_X_y=True)
    return scale(X)[:200], y[:200]  # a function, not an estimator: nothing to autolog


def _run(client, run_id):
    client.flush()
    return client.get_run(run_id)


def test_a_fit_records_params_training_metrics_model_and_datasets(autologging, data):
    client, (X, y) = autologging, data
    with mlops.start_run() as run:
        model = LogisticRegression(C=0.5, max_iter=300).fit(X, y)
    detail = _run(client, run.id)
    params, metrics = dict(detail.params), dict(detail.metrics)
    assert params["C"] == "0.5" and params["max_iter"] == "300"
    for name in ("accuracy_score", "precision_score", "recall_score", "f1_score", "log_loss",
                 "roc_auc", "score"):
        assert f"training_{name}" in metrics
    assert metrics["training_accuracy_score"] == pytest.approx(model.score(X, y))
    assert dict(detail.tags)["mlops.autolog.estimator"].endswith("LogisticRegression")

    _, blob = client.read_artifact(run.id, "model/model.skops")
    loaded = get_flavor("skops").load(blob)  # the default trusted set: no extra types needed
    assert np.array_equal(loaded.predict(X), model.predict(X))
    _, described = client.read_artifact(run.id, "model/model.json")
    description = json.loads(described)
    assert description["flavor"] == "skops"
    assert description["signature"]["type"] == "ndarray"
    assert description["signature"]["shape"] == [X.shape[1]]

    assert client.get_dataset("training_X").digest == hash_array(X)
    assert client.get_dataset("training_y").digest == hash_array(y)

    # The run's model file registers like any run-logged model.
    version = client.registry.register_model(f"runs:/{run.id}/model/model.skops", "autologged")
    assert version.flavor == "skops"


def test_a_fit_without_a_run_gets_a_run_of_its_own_ended_after_it(autologging, data):
    client, (X, y) = autologging, data
    LinearRegression().fit(*load_diabetes(return_X_y=True))
    LogisticRegression(max_iter=300).fit(X, y)
    assert fluent.active_run() is None
    client.flush()  # the files and the run's end are written after fit returned
    runs = client.search_runs()
    assert len(runs) == 2 and {r.status for r in runs} == {"FINISHED"}
    regression = next(r for r in runs if "fit_intercept" in r.params and "C" not in r.params)
    metrics = dict(_run(client, regression.id).metrics)
    assert {"training_mean_squared_error", "training_root_mean_squared_error",
            "training_mean_absolute_error", "training_r2_score", "training_score"} <= set(metrics)
    assert metrics["training_root_mean_squared_error"] == pytest.approx(
        metrics["training_mean_squared_error"] ** 0.5)


def test_nested_fits_log_once_at_the_outermost_call(autologging, data):
    client, (X, y) = autologging, data
    search = GridSearchCV(make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)),
                          {"logisticregression__C": [0.1, 1.0, 10.0]}, cv=3)
    search.fit(X, y)
    runs = client.search_runs()
    assert len(runs) == 1  # not one per candidate, fold or pipeline step
    detail = _run(client, runs[0].id)
    params, metrics = dict(detail.params), dict(detail.metrics)
    assert params["estimator"] == "Pipeline"
    assert params["best_logisticregression__C"] == str(search.best_params_[
        "logisticregression__C"])
    assert metrics["best_cv_score"] == pytest.approx(search.best_score_)
    assert metrics["cv_candidates"] == 3
    _, rows = client.read_artifact(runs[0].id, "cv_results.json")
    rows = json.loads(rows)
    assert [r["params"]["logisticregression__C"] for r in rows] == [0.1, 1.0, 10.0]
    assert {"mean_test_score", "rank_test_score"} <= set(rows[0])


def test_disable_restores_every_fit_including_classes_defined_after_enabling(client, data):
    X, y = data
    original = LogisticRegression.__dict__["fit"]
    mlops.autolog()
    try:
        assert LogisticRegression.__dict__["fit"] is not original

        class Late(ClassifierMixin, BaseEstimator):  # defined after autolog(): patched too
            def fit(self, X, y):
                self.classes_ = np.unique(y)
                return self

            def predict(self, X):
                return np.full(len(X), self.classes_[0])

        Late().fit(X, y)
        assert len(client.search_runs()) == 1
    finally:
        mlops.autolog(disable=True)
    assert LogisticRegression.__dict__["fit"] is original
    assert not hasattr(Late.__dict__["fit"], "__mlops_autolog_original__")
    LogisticRegression(max_iter=300).fit(X, y)
    Late().fit(X, y)
    assert len(client.search_runs()) == 1


class PredictBreaks(ClassifierMixin, BaseEstimator):
    """Fits fine; predicting fails, so training metrics cannot be computed."""

    def __init__(self, alpha=1.0):
        self.alpha = alpha

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.fitted_ = True
        return self

    def predict(self, X):
        raise RuntimeError("no predictions today")


def test_a_logging_error_is_one_line_and_the_fit_result_is_untouched(autologging, data, capsys):
    client, (X, y) = autologging, data
    model = PredictBreaks(alpha=2.0)
    assert model.fit(X, y) is model and model.fitted_
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "PredictBreaks.fit" in err[0] and "no predictions today" in err[0]
    assert "the fit itself succeeded" in err[0]
    client.flush()
    (run,) = client.search_runs()
    assert dict(run.params)["alpha"] == "2.0"  # what could be recorded was kept


def test_an_error_in_fit_propagates_unchanged_and_records_nothing(autologging):
    with pytest.raises(ValueError, match="Expected 2D array"):
        LogisticRegression().fit([1.0, 2.0, 3.0], [0, 1, 0])
    assert autologging.search_runs() == []


def test_silent_swallows_the_line(autologging, data, capsys):
    mlops.autolog(silent=True)
    PredictBreaks().fit(*data)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("bad", ["yes", 1, None])
def test_options_must_be_true_or_false(bad):
    with pytest.raises(InvalidInputError) as info:
        mlops.autolog(log_models=bad)
    assert "\n" not in str(info.value) and "log_models" in str(info.value)


class Holds(BaseEstimator):
    def __init__(self, value=None):
        self.value = value

    def fit(self, X, y=None):
        return self


_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text()
    | st.builds(lambda c, n: c * n, st.characters(),  # around the length limit, cheaply
                st.integers(MAX_PARAM_VALUE - 5, MAX_PARAM_VALUE + 50)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=8)


@pytest.mark.slow
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=_values)
def test_any_param_value_becomes_storable_text(value):
    out = sklearn_fit.param_values(Holds(value))
    for key, text in out.items():
        assert to_param_value(key, text) == text  # passes the one validation layer as is
        assert len(text) <= MAX_PARAM_VALUE
