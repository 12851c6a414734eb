"""A function objective whose trials run on a Dask cluster.

Optuna's loop stays in this process (sampling, the study, each trial's child run); only the
call of the objective goes to the cluster, as a Dask future per trial, and ``n_jobs`` trials
are in flight at once (by default as many as the cluster has threads). Dask ships the
function with cloudpickle, as it ships any task: a function defined in a notebook or inside
another function travels by value, one from an importable module by reference (the workers
need that module). Nothing is unpickled here but what the cluster sends back: the trial's
value and what it reported, from workers this process chose to use.

On the worker the objective gets a :class:`RemoteTrial`: ``params``, ``number``,
``report(value, step)`` and ``log_metric``. What it reports travels back with the result and
is recorded here exactly as a local trial's (the store need not be reachable from the
workers). A remote trial cannot be pruned while it runs: ``should_prune()`` is False (its
intermediate values still reach the pruner, for the trials after it). An objective that
raises, returns NaN, or whose worker dies is a FAILED trial with one line, and the sweep goes
on.
"""

from __future__ import annotations

import math
import threading
from typing import Any

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.sweeps.trial import ObjectiveFailed, one_line


class RemoteTrial:
    """What a function objective receives on a Dask worker (see the module docstring)."""

    def __init__(self, number: int, params: dict[str, Any]):
        self.number = number
        self.params = dict(params)
        self.reports: list[tuple[int, float]] = []
        self.metrics: list[tuple[str, Any, int | None]] = []

    def __getitem__(self, name: str) -> Any:
        return self.params[name]

    def report(self, value: float, step: int) -> None:
        """Record an intermediate ``value`` at ``step`` (sent back with the result)."""
        self.reports.append((int(step), float(value)))

    def should_prune(self) -> bool:
        """Always False: a trial on a Dask worker runs to its end."""
        return False

    def log_metric(self, key: str, value: Any, step: int | None = None) -> None:
        """Log another metric to this trial's run (sent back with the result)."""
        self.metrics.append((str(key), value, step))


def run_remote(objective: Any, number: int, params: dict[str, Any]) -> tuple:
    """On the worker: call the objective; ``(outcome, value or reason, reports, metrics)``,
    outcome "ok", "fail" or "pruned". Exceptions are returned as their one line, so what
    comes back is plain data."""
    trial = RemoteTrial(number, params)
    try:
        value = objective(trial)
    except Exception as exc:
        pruned = type(exc).__name__ == "TrialPruned" and type(exc).__module__.startswith(
            "optuna")
        return ("pruned" if pruned else "fail", None if pruned else one_line(exc),
                trial.reports, trial.metrics)
    if hasattr(value, "item"):  # a numpy scalar: plain Python for the way back
        value = value.item()
    if not isinstance(value, (int, float, str, type(None))):
        value = repr(value)[:60]  # plain data only on the way back
    return "ok", value, trial.reports, trial.metrics


class DaskObjective:
    """Runs ``objective`` for each trial on a Dask cluster (see the module docstring)."""

    def __init__(self, objective: Any, executor: Any):
        from jupyter_mlops.pipelines.executors import DaskExecutor, Executor, make_executor

        made = make_executor(executor, None)
        if not isinstance(made, DaskExecutor):
            if made is not executor:
                made.shutdown()
            raise InvalidInputError(
                "A function objective runs in this process or on Dask: pass executor='dask', "
                "a scheduler address such as 'tcp://host:8786', or a DaskExecutor.")
        self._owned = not isinstance(executor, Executor)
        self._executor = made
        self._objective = objective
        self._lock = threading.Lock()
        #: Trials the cluster can run at once (the sweep's default n_jobs on Dask).
        self.slots = made.workers

    def __call__(self, trial: Any) -> float:
        client = self._executor.dask_client
        future = client.submit(run_remote, self._objective, trial.number, dict(trial.params),
                               pure=False, key=f"mlops-sweep-trial-{trial.run_id}")
        try:
            outcome, value, reports, metrics = future.result()
        except Exception as exc:  # the worker died, or the function could not be sent
            raise ObjectiveFailed(f"the trial did not run on Dask: {one_line(exc)}") from None
        for step, reported in reports:
            if math.isfinite(reported):
                trial.report(reported, step)
        for key, metric, step in metrics:
            trial.log_metric(key, metric, step=step)
        if outcome == "pruned":
            import optuna

            raise optuna.TrialPruned()
        if outcome == "fail":
            raise ObjectiveFailed(value)
        return value

    def close(self) -> None:
        """Shut down the cluster connection (and local cluster) this objective started."""
        executor, self._executor = self._executor, None
        if executor is not None and self._owned:
            executor.shutdown()
