"""What LightGBM and XGBoost fits have in common to record: parameter dicts, evaluation
histories per iteration, the best iteration and feature importance.

Names follow ``mlflow.lightgbm.autolog`` / ``mlflow.xgboost.autolog`` where they have one, so
runs compare across the two tools: ``<data>-<metric>`` histories with step = iteration (from
0), ``best_iteration`` and ``stopped_iteration`` after early stopping,
``feature_importance_<type>.json``. Where MLflow logs the best iteration's values a second
time under the same names at one step past the end, these are ``best_<data>-<metric>``
metrics, so each history keeps one value per iteration.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.tracking.autolog.record import FitRecord
from jupyter_mlops.tracking.autolog.sklearn_fit import param_text
from jupyter_mlops.validation import check_key

#: Arguments of ``train`` that are data, callables or models, not settings worth a param.
NOT_PARAMS = frozenset({"params", "train_set", "dtrain", "valid_sets", "valid_names", "evals",
                        "evals_result", "feval", "fobj", "obj", "custom_metric", "init_model",
                        "xgb_model", "callbacks", "learning_rates"})


def params_from_call(params: Mapping[str, Any] | None, arguments: Mapping[str, Any]
                     ) -> dict[str, str]:
    """The booster params dict plus ``train``'s other plain arguments, as param text."""
    out: dict[str, str] = {}
    merged: dict[str, Any] = {}
    for key, value in arguments.items():
        if key not in NOT_PARAMS and key != "kwargs" and not callable(value):
            merged[key] = value
    merged.update({str(k): v for k, v in (params or {}).items()})
    for key, value in merged.items():
        if value is None:
            continue
        try:
            check_key(key, "param name")
        except InvalidInputError:
            continue  # a key no store accepts: leave it out rather than lose the rest
        out[key] = param_text(key, value if isinstance(value, (str, int, float, bool))
                              else list(value) if isinstance(value, (list, tuple))
                              else repr(value))
    return out


def add_histories(record: FitRecord, results: Mapping[str, Mapping[str, Any]] | None) -> None:
    """``{data: {metric: [value per iteration]}}`` as ``<data>-<metric>`` histories; a
    value that is not a finite number ends that history (the store keeps numbers only)."""
    for data, by_metric in (results or {}).items():
        for metric, values in by_metric.items():
            key = f"{data}-{metric}"
            try:
                check_key(key, "metric name")
            except InvalidInputError:
                continue
            series = []
            for value in values:
                number = _number(value[0] if isinstance(value, (list, tuple)) else value)
                if number is None:
                    break
                series.append(number)
            if series:
                record.histories[key] = series


def add_best(record: FitRecord, *, index: int, best_iteration: int,
             stopped_iteration: int) -> None:
    """After early stopping: ``best_iteration`` and ``stopped_iteration`` as the library
    counts them (the same values as MLflow's), and each history's value at the best
    iteration (``index`` into the history) as ``best_<key>``."""
    record.metrics["best_iteration"] = float(best_iteration)
    record.metrics["stopped_iteration"] = float(stopped_iteration)
    for key, values in list(record.histories.items()):
        if 0 <= index < len(values):
            record.metrics[f"best_{key}"] = values[index]


def add_importance(record: FitRecord, kind: str, features: list[str],
                   values: Any) -> None:
    """``feature_importance_<kind>.json``: ``{feature: importance}``."""
    record.artifacts[f"feature_importance_{kind}.json"] = {
        str(name): (_number(value) or 0.0) for name, value in zip(features, values)}


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None
