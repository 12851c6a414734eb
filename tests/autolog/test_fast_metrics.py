"""The numpy training metrics give scikit-learn's values (hypothesis over labels, class counts,
ties and models), and hand anything unusual back to scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.preprocessing import scale

from jupyter_mlops.tracking.autolog import fast_metrics, sklearn_fit


def _sklearn_classifier(y, pred, proba, classes):
    precision, recall, f1, _ = metrics.precision_recall_fscore_support(
        y, pred, average="weighted", zero_division=0)
    out = {"training_accuracy_score": metrics.accuracy_score(y, pred),
           "training_precision_score": precision, "training_recall_score": recall,
           "training_f1_score": f1,
           "training_log_loss": metrics.log_loss(y, proba, labels=classes)}
    binary = proba.shape[1] == 2
    try:
        out["training_roc_auc"] = metrics.roc_auc_score(
            y, proba[:, 1] if binary else proba, multi_class="ovr",
            labels=None if binary else classes)
    except ValueError:
        pass
    # training_metrics keeps finite values only (scikit-learn says NaN for one class).
    return {k: v for k, v in out.items() if np.isfinite(v)}


@st.composite
def classification(draw):
    k = draw(st.integers(2, 5))
    n = draw(st.integers(2, 60))
    classes = np.arange(k) * draw(st.sampled_from([1, 3, -2]))
    classes = np.sort(classes)
    y = classes[draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n))]
    pred = classes[draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n))]
    # Coarse scores make ties, which ROC AUC must average like scikit-learn.
    raw = np.array(draw(st.lists(st.integers(1, 4), min_size=n * k, max_size=n * k)),
                   dtype=float).reshape(n, k)
    proba = raw / raw.sum(axis=1, keepdims=True)
    if draw(st.booleans()):
        y, pred, classes = (np.array([f"c{v}" for v in a]) for a in (y, pred, classes))
        classes = np.sort(classes)
    return y, pred, proba, classes


@pytest.mark.slow  # 4-8 s: CI runs it, make test-fast does not
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.UndefinedMetricWarning")
@settings(max_examples=150, deadline=None)
@given(classification())
def test_classifier_metrics_equal_scikit_learns(case):
    y, pred, proba, classes = case
    fast = fast_metrics.classifier(y, pred, proba, classes)
    assert fast is not None
    expected = _sklearn_classifier(y, pred, proba, classes)
    assert set(fast) == set(expected)
    for key, value in expected.items():
        assert fast[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6)), min_size=2,
                max_size=50))
def test_regressor_metrics_equal_scikit_learns(pairs):
    y, pred = (np.array(v) for v in zip(*pairs))
    fast = fast_metrics.regressor(y, pred)
    mse = metrics.mean_squared_error(y, pred)
    assert fast["training_mean_squared_error"] == pytest.approx(mse, rel=1e-12, abs=1e-9)
    assert fast["training_mean_absolute_error"] == pytest.approx(
        metrics.mean_absolute_error(y, pred), rel=1e-12, abs=1e-9)
    assert fast["training_r2_score"] == pytest.approx(metrics.r2_score(y, pred),
                                                      rel=1e-9, abs=1e-9)


def test_unusual_inputs_go_back_to_scikit_learn():
    y = np.array([0, 1, 1, 0])
    proba = np.array([[0.5, 0.5]] * 4)
    assert fast_metrics.classifier(y.astype(float), y, proba, np.array([0, 1])) is None
    assert fast_metrics.classifier(np.array([[0], [1]]), np.array([[0], [1]]), None,
                                   None) is None
    assert fast_metrics.classifier(np.array([0, 2, 2, 0]), y, proba,
                                   np.array([0, 1])) is None  # a label the model lacks
    assert fast_metrics.regressor(np.ones((4, 2)), np.ones((4, 2))) is None


@pytest.mark.parametrize("loader, model", [(load_breast_cancer, LogisticRegression),
                                           (load_iris, LogisticRegression),
                                           (load_diabetes, LinearRegression)])
def test_real_models_record_what_scikit_learn_computes(loader, model, monkeypatch):
    X, y = loader(return_X_y=True)
    X = scale(X)
    fitted = model(max_iter=500).fit(X, y) if model is LogisticRegression else model().fit(X, y)
    fast = sklearn_fit.training_metrics(fitted, X, y)
    monkeypatch.setattr(fast_metrics, "classifier", lambda *a: None)
    monkeypatch.setattr(fast_metrics, "regressor", lambda *a: None)
    slow = sklearn_fit.training_metrics(fitted, X, y)
    assert set(fast) == set(slow)
    for key in slow:
        assert fast[key] == pytest.approx(slow[key], rel=1e-12), key
