"""Autologging: each outermost ``fit`` of scikit-learn, LightGBM and XGBoost records itself
into a run.

The fluent layer turns it on (:func:`enable`) and hands in the two things tracking may not
pick itself: which run to log into (the active one, or one started for this fit) and how to
write the model file (the registry's formats). Settings are read by the notebook's cell hooks
too (figures, system metrics), so they live here, in one place.

scikit-learn's estimators (LightGBM's and XGBoost's scikit-learn wrappers among them) are
patched by :mod:`.patching`; ``lightgbm.train`` and ``xgboost.train`` by
:mod:`.function_patch`, now if the library is imported, else the moment it is; so is
PyTorch Lightning's ``Trainer.fit``. What each records is in :mod:`.sklearn_fit`,
:mod:`.lightgbm_fit`, :mod:`.xgboost_fit` and :mod:`.lightning_fit`.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from typing import Any

from jupyter_mlops.tracking.autolog import function_patch, lightning_fit, patching, sklearn_fit
from jupyter_mlops.tracking.autolog.record import (
    FitNotRecorded,
    FitRecord,
    ModelLogger,
    RunScope,
    write_record,
)

__all__ = ["AutologSettings", "FitNotRecorded", "FitRecord", "ModelLogger", "RunScope",
           "current", "disable", "drain", "enable", "record_fit"]


def drain(timeout: float | None = None) -> bool:
    """Wait for autologging's background file writes (see :mod:`.deferred`)."""
    from jupyter_mlops.tracking.autolog import deferred

    return deferred.drain(timeout)


@dataclasses.dataclass(frozen=True)
class AutologSettings:
    """What autologging records. Read by the fit recorder and by the notebook's cell hooks."""

    log_models: bool = True
    log_datasets: bool = True
    log_figures: bool = True
    silent: bool = False


_settings: AutologSettings | None = None


def current() -> AutologSettings | None:
    """The settings in force, or None when autologging is off."""
    return _settings


def enable(settings: AutologSettings, run_scope: RunScope, model_logger: ModelLogger) -> None:
    """Patch scikit-learn (if it is installed) so each outermost fit is recorded, and
    ``lightgbm.train`` / ``xgboost.train`` and Lightning's ``Trainer.fit`` when those
    libraries are (or get) imported."""
    global _settings

    def record(estimator: Any, args: tuple, kwargs: dict, original: Callable) -> None:
        record_fit(estimator, args, kwargs, original, settings=settings,
                   run_scope=run_scope, model_logger=model_logger)

    def write(fit_record: FitRecord) -> None:
        write_record(fit_record, log_models=settings.log_models,
                     log_datasets=settings.log_datasets, run_scope=run_scope,
                     model_logger=model_logger, on_failure=patching.report)

    try:
        import sklearn  # noqa: F401
    except ImportError:
        patching.unpatch()
        patching.set_recorder(record, silent=settings.silent)
    else:
        patching.patch(record, silent=settings.silent)
    lightning_fit.configure(run_scope, log_models=settings.log_models,
                            log_datasets=settings.log_datasets)
    function_patch.patch_training_functions(write, settings.log_datasets)
    _settings = settings


def disable() -> None:
    """Restore every patched ``fit`` and training function and stop recording figures
    (idempotent)."""
    global _settings
    patching.unpatch()
    function_patch.unpatch()
    lightning_fit.configure(None)
    _settings = None


def record_fit(estimator: Any, args: tuple, kwargs: dict, original: Callable, *,
               settings: AutologSettings, run_scope: RunScope,
               model_logger: ModelLogger) -> None:
    """Write one fit's params, metrics, search results, datasets and model to a run.

    LightGBM's and XGBoost's scikit-learn wrappers add their evaluation history, best
    iteration and feature importance, and their model is saved in the library's own format.

    Raises
    ------
    FitNotRecorded
        Naming the parts that could not be recorded (the others were).
    """
    X, y, weight = sklearn_fit.fit_inputs(original, estimator, args, kwargs)
    cls = type(estimator)
    record = FitRecord(estimator=f"{cls.__module__}.{cls.__qualname__}")
    record.params = record.attempt("params", lambda: sklearn_fit.param_values(estimator)) or {}
    record.metrics = record.attempt(
        "training metrics", lambda: sklearn_fit.training_metrics(estimator, X, y, weight)) or {}
    search = record.attempt("search results", lambda: sklearn_fit.search_summary(estimator))
    if search is not None:
        best_params, search_metrics, rows = search
        record.params.update(best_params)
        record.metrics.update(search_metrics)
        record.artifacts["cv_results.json"] = rows
    booster_extras = _booster_recorder(cls)
    if booster_extras is not None:
        record.attempt("evaluation results", lambda: booster_extras(estimator, record))
    if settings.log_datasets:
        record.datasets = record.attempt(
            "datasets", lambda: sklearn_fit.dataset_inputs(X, y)) or []
    record.model, record.model_input = estimator, X
    write_record(record, log_models=settings.log_models, log_datasets=settings.log_datasets,
                 run_scope=run_scope, model_logger=model_logger, on_failure=patching.report)


def _booster_recorder(cls: type) -> Callable[[Any, FitRecord], None] | None:
    """The LightGBM/XGBoost wrapper's extras for an estimator class, or None."""
    module = cls.__module__.split(".", 1)[0]
    if module == "lightgbm" and "lightgbm" in sys.modules:
        from jupyter_mlops.tracking.autolog import lightgbm_fit

        return lightgbm_fit.add_estimator_results
    if module == "xgboost" and "xgboost" in sys.modules:
        from jupyter_mlops.tracking.autolog import xgboost_fit

        return xgboost_fit.add_estimator_results
    return None
