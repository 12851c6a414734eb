"""Autologging for scikit-learn: each outermost ``fit`` records itself into a run.

The fluent layer turns it on (:func:`enable`) and hands in the two things tracking may not
pick itself: which run to log into (the active one, or one started for this fit) and how to
write the model file (the registry's formats). Settings are read by the notebook's cell hooks
too (figures, system metrics), so they live here, in one place.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from typing import Any

from jupyter_mlops.tracking.autolog import patching, sklearn_fit

#: Yields ``(client, run_id)`` for one fit to log into, and ends a run it started.
RunScope = Callable[[], contextlib.AbstractContextManager]
#: Writes the fitted model (and its signature, inferred from the training inputs) to the run:
#: ``(client, run_id, model, X)``.
ModelLogger = Callable[[Any, str, Any, Any], None]


@dataclasses.dataclass(frozen=True)
class AutologSettings:
    """What autologging records. Read by the fit recorder and by the notebook's cell hooks."""

    log_models: bool = True
    log_datasets: bool = True
    log_figures: bool = True
    silent: bool = False


class FitNotRecorded(Exception):
    """Some parts of a fit's record could not be written; the others were."""


_settings: AutologSettings | None = None


def current() -> AutologSettings | None:
    """The settings in force, or None when autologging is off."""
    return _settings


def enable(settings: AutologSettings, run_scope: RunScope, model_logger: ModelLogger) -> None:
    """Patch scikit-learn (if it is installed) so each outermost fit is recorded."""
    global _settings

    def record(estimator: Any, args: tuple, kwargs: dict, original: Callable) -> None:
        record_fit(estimator, args, kwargs, original, settings=settings,
                   run_scope=run_scope, model_logger=model_logger)

    try:
        import sklearn  # noqa: F401
    except ImportError:
        patching.unpatch()
    else:
        patching.patch(record, silent=settings.silent)
    _settings = settings


def disable() -> None:
    """Restore every patched ``fit`` and stop recording figures (idempotent)."""
    global _settings
    patching.unpatch()
    _settings = None


def record_fit(estimator: Any, args: tuple, kwargs: dict, original: Callable, *,
               settings: AutologSettings, run_scope: RunScope,
               model_logger: ModelLogger) -> None:
    """Write one fit's params, metrics, search results, datasets and model to a run.

    Each part is written on its own: one that fails is named in the :class:`FitNotRecorded`
    raised at the end (the caller prints it as one line), and the others are kept.
    """
    X, y, weight = sklearn_fit.fit_inputs(original, estimator, args, kwargs)
    failed: list[str] = []

    def attempt(what: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception as exc:
            failed.append(f"{what} ({' '.join(str(exc).split()) or type(exc).__name__})")
            return None

    params = attempt("params", lambda: sklearn_fit.param_values(estimator)) or {}
    metrics = attempt("training metrics",
                      lambda: sklearn_fit.training_metrics(estimator, X, y, weight)) or {}
    search = attempt("search results", lambda: sklearn_fit.search_summary(estimator))
    with run_scope() as (client, run_id):
        cls = type(estimator)
        attempt("tags", lambda: client.set_tags(run_id, {
            "mlops.autolog.estimator": f"{cls.__module__}.{cls.__qualname__}"}))
        if params:
            attempt("params", lambda: client.log_params(run_id, params))
        if metrics:
            attempt("training metrics", lambda: client.log_metrics(run_id, metrics))
        if search is not None:
            best_params, search_metrics, rows = search
            attempt("search results", lambda: (
                client.log_params(run_id, best_params) if best_params else None,
                client.log_metrics(run_id, search_metrics),
                client.log_artifact(run_id, rows, "cv_results.json")))
        if settings.log_datasets:
            for name, data in sklearn_fit.dataset_inputs(X, y):
                attempt(f"dataset {name}",
                        lambda name=name, data=data: client.log_dataset(run_id, data, name))
        if settings.log_models:
            attempt("model", lambda: model_logger(client, run_id, estimator, X))
    if failed:
        raise FitNotRecorded("not recorded: " + "; ".join(failed))
