"""What autologging records for LightGBM: ``lightgbm.train`` and the scikit-learn wrappers
(``LGBMClassifier``, ``LGBMRegressor``, ``LGBMRanker``).

``train``: the params dict and the call's plain arguments, every validation set's metrics per
iteration (LightGBM's own ``record_evaluation`` callback, added to a copy of the caller's
callbacks), after early stopping the best iteration and its values, split and gain feature
importance, the training data's hashes (taken from the ``Dataset``'s raw data before
LightGBM frees it) and the booster, saved by the model logger in LightGBM's text format.
The wrappers get the scikit-learn record (params, training metrics) plus the same
histories, best iteration and importance from the fitted estimator.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from jupyter_mlops.tracking.autolog import boosting, sklearn_fit
from jupyter_mlops.tracking.autolog.record import FitRecord


def before(original: Callable, args: tuple, kwargs: dict, *, log_datasets: bool
           ) -> tuple[tuple, dict, dict]:
    """Add an evaluation recorder to the call; note what to record once it returned."""
    import lightgbm

    bound = inspect.signature(original).bind(*args, **kwargs)
    arguments = dict(bound.arguments)
    results: dict = {}
    callbacks = list(arguments.get("callbacks") or [])
    callbacks.append(lightgbm.record_evaluation(results))
    arguments["callbacks"] = callbacks
    train_set = arguments.get("train_set")
    X = y = None
    if log_datasets and train_set is not None:
        # LightGBM frees the raw data once the Dataset is built (free_raw_data=True).
        X, y = getattr(train_set, "data", None), getattr(train_set, "label", None)
    context = {"arguments": arguments, "results": results, "X": X, "y": y}
    return (), arguments, context


def after(context: dict, booster: Any) -> FitRecord:
    """The record of one ``lightgbm.train`` call that returned ``booster``."""
    record = FitRecord(estimator="lightgbm.train")
    arguments = context["arguments"]
    record.params = record.attempt("params", lambda: boosting.params_from_call(
        arguments.get("params"), arguments)) or {}
    record.attempt("evaluation results", lambda: _add_booster_results(
        record, context["results"], booster, booster.best_iteration))
    record.datasets = record.attempt(
        "datasets", lambda: sklearn_fit.dataset_inputs(context["X"], context["y"])) or []
    record.model = booster
    record.model_input = context["X"] if _is_table(context["X"]) else None
    return record


def add_estimator_results(estimator: Any, record: FitRecord) -> None:
    """A fitted ``LGBMModel``'s histories (``evals_result_``), best iteration and importance."""
    _add_booster_results(record, getattr(estimator, "evals_result_", None), estimator.booster_,
                         getattr(estimator, "best_iteration_", 0))


def _add_booster_results(record: FitRecord, results: Any, booster: Any,
                         best_iteration: int | None) -> None:
    boosting.add_histories(record, results)
    # LightGBM counts iterations from 1 and says 0 without early stopping.
    if best_iteration and best_iteration > 0:
        iterations = max((len(v) for v in record.histories.values()), default=0)
        boosting.add_best(record, index=best_iteration - 1, best_iteration=best_iteration,
                          stopped_iteration=iterations)
    features = booster.feature_name()
    for kind in ("split", "gain"):
        boosting.add_importance(record, kind, features,
                                booster.feature_importance(importance_type=kind))


def _is_table(data: Any) -> bool:
    import numpy as np

    return isinstance(data, np.ndarray) or (hasattr(data, "dtypes") and hasattr(data, "columns"))
