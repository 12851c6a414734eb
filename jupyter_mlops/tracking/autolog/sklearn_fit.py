"""What autologging records for one scikit-learn ``fit``: params, training metrics, search
results and the inputs' dataset hashes. The model file is written by an injected logger
(the registry's formats are not tracking's to import)."""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Callable, Iterator
from typing import Any

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.validation import MAX_PARAM_VALUE, check_key, to_param_value

#: Search results kept in ``cv_results.json``: enough to see what was tried and how it ranked.
CV_COLUMNS = ("params", "mean_test_score", "std_test_score", "rank_test_score",
              "mean_fit_time")


def fit_inputs(original: Callable, estimator: Any, args: tuple, kwargs: dict
               ) -> tuple[Any, Any, Any]:
    """``(X, y, sample_weight)`` as ``fit`` received them, by the names in its signature."""
    try:
        bound = inspect.signature(original).bind(estimator, *args, **kwargs).arguments
    except (TypeError, ValueError):
        bound = {"X": args[0] if args else kwargs.get("X"),
                 "y": args[1] if len(args) > 1 else kwargs.get("y")}
    extra = bound.get("kwargs") or bound.get("fit_params") or bound.get("params") or {}
    weight = bound.get("sample_weight", extra.get("sample_weight") if isinstance(extra, dict)
                       else None)
    return bound.get("X"), bound.get("y"), weight


def param_values(estimator: Any) -> dict[str, str]:
    """``get_params(deep=False)`` as loggable text: estimators by class name, dicts flattened
    to ``key.sub``, each value held to the param rules (too long is cut, not refused)."""
    out: dict[str, str] = {}
    for key, value in _flatten(estimator.get_params(deep=False)):
        try:
            check_key(key, "param name")
        except InvalidInputError:
            continue  # a key no store accepts: leave it out rather than lose the rest
        out[key] = param_text(key, _plain(value))
    return out


def param_text(key: str, value: Any) -> str:
    """``value`` as param text; over-long or unstorable text is cut and cleaned, not refused."""
    try:
        return to_param_value(key, value)
    except InvalidInputError:
        text = value if isinstance(value, str) else repr(value)
        text = text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
        if len(text) > MAX_PARAM_VALUE:
            text = text[:MAX_PARAM_VALUE - 1] + "…"
        return to_param_value(key, text)


def _flatten(params: dict, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and len(value) <= 50:
            yield from _flatten({str(k): v for k, v in value.items()}, name + ".")
        else:
            yield name, value


def _plain(value: Any) -> Any:
    """Estimators become their class names (their own params belong to their own fit)."""
    if hasattr(value, "get_params") and hasattr(value, "fit"):
        return type(value).__name__
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if callable(value):
        return getattr(value, "__qualname__", type(value).__name__)
    return value


def training_metrics(estimator: Any, X: Any, y: Any, sample_weight: Any = None
                     ) -> dict[str, float]:
    """Scores on the training data, named like ``training_accuracy_score``.

    Classifiers: accuracy, weighted precision/recall/F1, log loss and ROC AUC (when
    ``predict_proba`` exists); regressors: MSE, RMSE, MAE, R². Plus ``training_score``
    (the estimator's own ``score``). A metric that does not apply is left out.
    """
    if y is None:
        return {}
    import sklearn
    from sklearn import metrics
    from sklearn.base import is_classifier, is_regressor

    # fit has validated X and y already; sklearn's per-call parameter and finiteness checks
    # would cost more than the metrics themselves on a small model.
    with sklearn.config_context(skip_parameter_validation=True, assume_finite=True):
        if is_classifier(estimator):
            out = _classifier_metrics(metrics, estimator, X, y, sample_weight)
            score = out["training_accuracy_score"]
        elif is_regressor(estimator):
            out = _regressor_metrics(metrics, estimator, X, y, sample_weight)
            score = out["training_r2_score"]
        else:
            out, score = {}, None
        if score is None or _overrides_score(estimator):
            score = _try(lambda: estimator.score(X, y))
    if score is not None:
        out["training_score"] = score
    return {k: float(v) for k, v in out.items() if _finite(v)}


def _classifier_metrics(metrics: Any, estimator: Any, X: Any, y: Any, weight: Any
                        ) -> dict[str, float]:
    from jupyter_mlops.tracking.autolog import fast_metrics

    pred = estimator.predict(X)
    if weight is None:
        proba = _try(lambda: estimator.predict_proba(X))
        fast = fast_metrics.classifier(y, pred, proba, getattr(estimator, "classes_", None))
        if fast is not None:
            return fast
    precision, recall, f1, _ = metrics.precision_recall_fscore_support(
        y, pred, average="weighted", zero_division=0, sample_weight=weight)
    out = {"training_accuracy_score": metrics.accuracy_score(y, pred, sample_weight=weight),
           "training_precision_score": precision, "training_recall_score": recall,
           "training_f1_score": f1}
    proba = _try(lambda: estimator.predict_proba(X))
    if proba is None:
        return out
    labels = getattr(estimator, "classes_", None)
    loss = _try(lambda: metrics.log_loss(y, proba, labels=labels, sample_weight=weight))
    if loss is not None:
        out["training_log_loss"] = loss
    binary = proba.ndim == 2 and proba.shape[1] == 2
    auc = _try(lambda: metrics.roc_auc_score(
        y, proba[:, 1] if binary else proba, multi_class="ovr",
        labels=None if binary else labels, sample_weight=weight))
    if auc is not None:
        out["training_roc_auc"] = auc
    return out


def _regressor_metrics(metrics: Any, estimator: Any, X: Any, y: Any, weight: Any
                       ) -> dict[str, float]:
    from jupyter_mlops.tracking.autolog import fast_metrics

    pred = estimator.predict(X)
    if weight is None:
        fast = fast_metrics.regressor(y, pred)
        if fast is not None:
            return fast
    mse = metrics.mean_squared_error(y, pred, sample_weight=weight)
    return {"training_mean_squared_error": mse,
            "training_root_mean_squared_error": math.sqrt(mse),
            "training_mean_absolute_error": metrics.mean_absolute_error(
                y, pred, sample_weight=weight),
            "training_r2_score": metrics.r2_score(y, pred, sample_weight=weight)}


def _overrides_score(estimator: Any) -> bool:
    """A ``score`` other than the mixins' accuracy / R² (which are computed above already)."""
    from sklearn.base import ClassifierMixin, RegressorMixin

    own = getattr(type(estimator), "score", None)
    return own not in (ClassifierMixin.score, RegressorMixin.score)


def search_summary(search: Any) -> tuple[dict[str, str], dict[str, float], list[dict]] | None:
    """A fitted GridSearchCV/RandomizedSearchCV: ``best_<param>`` params, ``best_cv_score``
    and the candidate count as metrics, and one row per candidate for ``cv_results.json``."""
    results = getattr(search, "cv_results_", None)
    if not isinstance(results, dict):
        return None
    params = {f"best_{k}": param_text(f"best_{k}", _plain(v))
              for k, v in (getattr(search, "best_params_", None) or {}).items()}
    metrics = {"cv_candidates": float(len(results.get("params", [])))}
    best = getattr(search, "best_score_", None)
    if best is not None and _finite(best):
        metrics["best_cv_score"] = float(best)
    rows = []
    for i, candidate in enumerate(results.get("params", [])):
        row: dict[str, Any] = {}
        for column in CV_COLUMNS:
            if column not in results:
                continue
            value = candidate if column == "params" else results[column][i]
            row[column] = _json_value(value)
        rows.append(row)
    return params, metrics, rows


def _json_value(value: Any) -> Any:
    """Plain JSON: numpy scalars to Python, NaN to None, estimators by class name."""
    value = _plain(value)
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    try:
        json.dumps(value, allow_nan=False)
        return value
    except (TypeError, ValueError):
        return str(value)


def dataset_inputs(X: Any, y: Any) -> list[tuple[str, Any]]:
    """``fit``'s inputs as data ``log_dataset`` takes (DataFrame or numpy array); sparse
    matrices and other containers it cannot hash are left out."""
    import numpy as np

    found = []
    for name, data in (("training_X", X), ("training_y", y)):
        if data is None:
            continue
        if hasattr(data, "to_frame") and not hasattr(data, "columns"):  # a pandas Series
            data = data.to_frame()
        elif isinstance(data, (list, tuple)):
            data = np.asarray(data)
        if (hasattr(data, "dtypes") and hasattr(data, "columns")) or (
                isinstance(data, np.ndarray) and data.dtype != object):
            found.append((name, data))
    return found


def _try(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception:  # a metric that does not apply to this model or these labels
        return None


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
