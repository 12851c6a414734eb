"""What autologging records for XGBoost: ``xgboost.train`` and the scikit-learn wrappers
(``XGBClassifier``, ``XGBRegressor``, ``XGBRanker``...).

``train``: the params dict and the call's plain arguments, every ``evals`` entry's metrics
per iteration (through ``evals_result``: the caller's dict if they passed one, else ours),
after early stopping the best iteration and score, weight and gain feature importance, the
training data's hashes and the booster, saved by the model logger in XGBoost's JSON format.
A ``DMatrix`` keeps no reference to the caller's arrays, so its data is read back
(``get_data()``, a float32 sparse matrix, made dense) for hashing when it has at most
:data:`MAX_DENSE_CELLS` cells; larger ones are left out of the record, with its labels.
The wrappers get the scikit-learn record (params, training metrics, ``X`` and ``y``) plus
the same histories, best iteration and importance from the fitted estimator.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from jupyter_mlops.tracking.autolog import boosting, sklearn_fit
from jupyter_mlops.tracking.autolog.record import FitRecord

#: A DMatrix with more cells than this is not made dense to hash it.
MAX_DENSE_CELLS = 20_000_000


def before(original: Callable, args: tuple, kwargs: dict, *, log_datasets: bool
           ) -> tuple[tuple, dict, dict]:
    """Ask ``train`` for its evaluation results; note what to record once it returned."""
    bound = inspect.signature(original).bind(*args, **kwargs)
    arguments = dict(bound.arguments)
    if arguments.get("evals_result") is None:
        arguments["evals_result"] = {}
    context = {"arguments": arguments, "results": arguments["evals_result"],
               "log_datasets": log_datasets}
    return (), arguments, context


def after(context: dict, booster: Any) -> FitRecord:
    """The record of one ``xgboost.train`` call that returned ``booster``."""
    record = FitRecord(estimator="xgboost.train")
    arguments = context["arguments"]
    record.params = record.attempt("params", lambda: boosting.params_from_call(
        arguments.get("params"), arguments)) or {}
    record.attempt("evaluation results", lambda: _add_booster_results(
        record, context["results"], booster))
    if context["log_datasets"]:
        record.datasets = record.attempt(
            "datasets", lambda: _dmatrix_inputs(arguments.get("dtrain"))) or []
    record.model = booster
    return record


def add_estimator_results(estimator: Any, record: FitRecord) -> None:
    """A fitted ``XGBModel``'s histories, best iteration and score, and importance."""
    results = estimator.evals_result() if hasattr(estimator, "evals_result_") else {}
    _add_booster_results(record, results, estimator.get_booster())


def _add_booster_results(record: FitRecord, results: Any, booster: Any) -> None:
    boosting.add_histories(record, results)
    best = _best_iteration(booster)
    if best is not None:
        iterations = max((len(v) for v in record.histories.values()), default=0)
        # XGBoost counts iterations from 0; MLflow's stopped_iteration is the last one run.
        boosting.add_best(record, index=best, best_iteration=best,
                          stopped_iteration=max(iterations - 1, 0))
        score = boosting._number(getattr(booster, "best_score", None))
        if score is not None:
            record.metrics["best_score"] = score
    for kind in ("weight", "gain"):
        scores = booster.get_score(importance_type=kind)
        boosting.add_importance(record, kind, list(scores), list(scores.values()))


def _best_iteration(booster: Any) -> int | None:
    try:
        best = booster.best_iteration  # only set by early stopping
    except AttributeError:
        return None
    return int(best) if best is not None else None


def _dmatrix_inputs(dtrain: Any) -> list[tuple[str, Any]]:
    if dtrain is None or dtrain.num_row() * dtrain.num_col() > MAX_DENSE_CELLS:
        return []
    X = dtrain.get_data().toarray()
    label = dtrain.get_label()
    return sklearn_fit.dataset_inputs(X, label if label.size else None)
