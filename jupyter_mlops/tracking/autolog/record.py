"""One fit's record, and how it is written to a run.

Every framework's recorder (scikit-learn's ``fit``, ``lightgbm.train``, ``xgboost.train`` and
their scikit-learn wrappers) gathers a :class:`FitRecord` after the fit returned; one
function writes it. Each part is written on its own: one that fails is named in the
:class:`FitNotRecorded` raised at the end (the patch prints it as one line) and the others
are kept.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from typing import Any

#: Yields ``(client, run_id)`` for one fit to log into, and ends a run it started.
RunScope = Callable[[], contextlib.AbstractContextManager]
#: Writes the fitted model (and its signature, inferred from the training inputs) to the run:
#: ``(client, run_id, model, X)``.
ModelLogger = Callable[[Any, str, Any, Any], None]


class FitNotRecorded(Exception):
    """Some parts of a fit's record could not be written; the others were."""


@dataclasses.dataclass
class FitRecord:
    """What one fit leaves in its run."""

    #: ``module.Class`` of the estimator, or ``lightgbm.train``: the ``mlops.autolog.estimator`` tag.
    estimator: str
    params: dict[str, str] = dataclasses.field(default_factory=dict)
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    #: ``key -> [value at step 0, 1, ...]``: per-iteration evaluation results.
    histories: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    #: ``file name -> JSON-able value`` (search results, feature importance).
    artifacts: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: ``(dataset name, DataFrame or numpy array)`` of the training inputs.
    datasets: list[tuple[str, Any]] = dataclasses.field(default_factory=list)
    model: Any = None
    #: The data the model was fitted on, for its signature.
    model_input: Any = None
    #: Parts that could not even be gathered, as ``what (why)``.
    failed: list[str] = dataclasses.field(default_factory=list)

    def attempt(self, what: str, fn: Callable[[], Any]) -> Any:
        """``fn()``, or None with ``what`` noted as failed."""
        try:
            return fn()
        except Exception as exc:
            self.failed.append(f"{what} ({_why(exc)})")
            return None


def write_record(record: FitRecord, *, log_models: bool, log_datasets: bool,
                 run_scope: RunScope, model_logger: ModelLogger) -> None:
    """Write ``record`` into the run ``run_scope`` yields.

    Raises
    ------
    FitNotRecorded
        Naming each part that failed (gathering or writing); the rest was written.
    """
    attempt = record.attempt
    with run_scope() as (client, run_id):
        attempt("tags", lambda: client.set_tags(
            run_id, {"mlops.autolog.estimator": record.estimator}))
        if record.params:
            attempt("params", lambda: client.log_params(run_id, record.params))
        if record.metrics:
            attempt("metrics", lambda: client.log_metrics(run_id, record.metrics))
        if record.histories:
            attempt("evaluation history", lambda: _log_histories(client, run_id,
                                                                 record.histories))
        for name, value in record.artifacts.items():
            attempt(name, lambda name=name, value=value: client.log_artifact(run_id, value,
                                                                             name))
        if log_datasets:
            for name, data in record.datasets:
                attempt(f"dataset {name}",
                        lambda name=name, data=data: client.log_dataset(run_id, data, name))
        if log_models and record.model is not None:
            attempt("model", lambda: model_logger(client, run_id, record.model,
                                                  record.model_input))
    if record.failed:
        raise FitNotRecorded("not recorded: " + "; ".join(record.failed))


def _log_histories(client: Any, run_id: str, histories: dict[str, list[float]]) -> None:
    steps = max(len(values) for values in histories.values())
    for step in range(steps):
        client.log_metrics(run_id, {key: values[step] for key, values in histories.items()
                                    if step < len(values)}, step=step)


def _why(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
