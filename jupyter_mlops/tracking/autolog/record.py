"""One fit's record, and how it is written to a run.

Every framework's recorder (scikit-learn's ``fit``, ``lightgbm.train``, ``xgboost.train`` and
their scikit-learn wrappers) gathers a :class:`FitRecord` after the fit returned; one
function writes it. Each part is written on its own: one that fails is named in one line
(the :class:`FitNotRecorded` raised at the end, which the patch prints) and the others are
kept.

Params, metrics and histories go to the client's buffered writer before ``fit`` returns;
so does the model's serialisation (its bytes are fixed then). The files — model, feature
importance, search results, dataset versions — and the end of a run autologging started are
written by :mod:`.deferred`'s thread, in order; ``Client.flush()`` waits for them.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jupyter_mlops.tracking.autolog import deferred

if TYPE_CHECKING:  # the Client's shape, for type checkers only
    from jupyter_mlops.ports import ArtifactRecorder, RunRecorder

#: Yields ``(client, run_id, take_end)`` for one fit to log into. For a run it started,
#: ``take_end()`` hands over the ending: it returns a callable that ends the run (the scope
#: then leaves it open), else None; a run whose ending was not taken is ended on exit.
RunScope = Callable[[], contextlib.AbstractContextManager]
#: The fitted model's files (serialised now, with the signature inferred from the training
#: inputs): ``(model, X) -> [(artifact name, bytes or JSON-able value), ...]``.
ModelLogger = Callable[[Any, Any], list]
#: Data up to this size is copied so its version can be written after ``fit`` returned;
#: larger data is versioned before (a copy would cost as much as the hashing).
DEFER_DATASET_BYTES = 64 * 2**20


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
                 run_scope: RunScope, model_logger: ModelLogger,
                 on_failure: Callable[[str, Exception], None] | None = None) -> None:
    """Write ``record`` into the run ``run_scope`` yields; files in the background.

    Raises
    ------
    FitNotRecorded
        Naming each part that failed before ``fit`` returned; the rest was written. Parts
        that fail on the writer thread are reported through ``on_failure(what, error)``.
    """
    attempt = record.attempt
    with run_scope() as (client, run_id, take_end):
        attempt("tags", lambda: client.set_tags(
            run_id, {"mlops.autolog.estimator": record.estimator}))
        if record.params:
            attempt("params", lambda: client.log_params(run_id, record.params))
        if record.metrics:
            attempt("metrics", lambda: client.log_metrics(run_id, record.metrics))
        if record.histories:
            attempt("evaluation history", lambda: _log_histories(client, run_id,
                                                                 record.histories))
        files = list(record.artifacts.items())
        if log_models and record.model is not None:
            files += attempt("model", lambda: model_logger(record.model,
                                                           record.model_input)) or []
        datasets = []
        if log_datasets:
            for name, data in record.datasets:
                if _nbytes(data) <= DEFER_DATASET_BYTES:
                    datasets.append((name, data.copy()))
                else:  # too big to copy: versioned now
                    attempt(f"dataset {name}",
                            lambda name=name, data=data: client.log_dataset(run_id, data, name))
        end = take_end()
        what = record.estimator if record.estimator.endswith(".train") else (
            record.estimator.rsplit(".", 1)[-1] + ".fit")
        deferred.submit(lambda: _write_files(client, run_id, files, datasets, end, what,
                                             on_failure))
    if record.failed:
        raise FitNotRecorded("not recorded: " + "; ".join(record.failed))


def _write_files(client: ArtifactRecorder, run_id: str, files: list, datasets: list,
                 end: Callable[[], None] | None, what: str,
                 on_failure: Callable[[str, Exception], None] | None) -> None:
    """On the writer thread: each file and dataset on its own, then the run's end."""
    failed: list[str] = []
    for name, payload in files:
        try:
            client.log_artifact(run_id, payload, name)
        except Exception as exc:
            failed.append(f"{name} ({_why(exc)})")
    for name, data in datasets:
        try:
            client.log_dataset(run_id, data, name)
        except Exception as exc:
            failed.append(f"dataset {name} ({_why(exc)})")
    try:
        if end is not None:
            end()
    except Exception as exc:
        failed.append(f"the run's end ({_why(exc)})")
    if failed and on_failure is not None:
        on_failure(what, FitNotRecorded("not recorded: " + "; ".join(failed)))


def _nbytes(data: Any) -> int:
    size = getattr(data, "nbytes", None)
    if isinstance(size, int):
        return size
    try:
        return int(data.memory_usage(index=True, deep=False).sum())  # a DataFrame
    except Exception:
        return DEFER_DATASET_BYTES + 1


def _log_histories(client: RunRecorder, run_id: str, histories: dict[str, list[float]]) -> None:
    steps = max(len(values) for values in histories.values())
    for step in range(steps):
        client.log_metrics(run_id, {key: values[step] for key, values in histories.items()
                                    if step < len(values)}, step=step)


def _why(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
