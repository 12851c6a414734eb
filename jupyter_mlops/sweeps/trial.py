"""One trial of a sweep as a tracked run: the handle the objective gets, and its recording.

Each trial is a child run of the sweep's parent run, tagged with the sweep and the trial
number, with the trial's params, its value as a metric, and what ``trial.report(value,
step)`` sent as a metric history. The store has no PRUNED run status: a pruned trial's run
ends FINISHED (it did what it was asked: stop early) and says PRUNED in its
``mlops.sweep.state`` tag; a failed one ends FAILED with the one-line reason in
``mlops.sweep.reason``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the Client's shape, for type checkers only
    from jupyter_mlops.ports import RunRecorder

TAG_SWEEP = "mlops.sweep"
TAG_ROLE = "mlops.sweep.role"  # "parent" or "trial"
TAG_TRIAL = "mlops.sweep.trial"
TAG_STATE = "mlops.sweep.state"  # COMPLETE, PRUNED or FAIL (Optuna's names)
TAG_REASON = "mlops.sweep.reason"
#: Set on a FAILED Optuna trial whose objective failed (it counts towards n_trials); a trial
#: failed because its process died has none, and is retried instead.
ATTR_REASON = "mlops.fail_reason"
#: The metric that ``trial.report(value, step)`` writes as a history.
INTERMEDIATE = "intermediate"

log = logging.getLogger("jupyter_mlops.sweeps")


class SweepTrial:
    """What the objective receives: the sampled params and a way to report progress.

    ``trial.params`` (also ``trial["lr"]``) holds the values sampled from the space;
    ``trial.report(value, step)`` records an intermediate value (for the pruner, and as the
    run's ``intermediate`` metric history) and ``trial.should_prune()`` asks the pruner —
    raise ``optuna.TrialPruned`` when it says yes. ``trial.optuna`` is Optuna's own trial,
    for ``suggest_*`` calls beyond the space (their values are recorded too).
    """

    def __init__(self, trial: Any, run_id: str, client: RunRecorder, params: Mapping[str, Any]):
        self.optuna = trial
        self.run_id = run_id
        self.number: int = trial.number
        self.params: dict[str, Any] = dict(params)
        self._client = client

    def __getitem__(self, name: str) -> Any:
        return self.params[name]

    def report(self, value: float, step: int) -> None:
        """Record an intermediate ``value`` at ``step`` (Optuna's ``trial.report``)."""
        self.optuna.report(value, step)
        self._client.log_metric(self.run_id, INTERMEDIATE, value, step=step)

    def should_prune(self) -> bool:
        return self.optuna.should_prune()

    def log_metric(self, key: str, value: Any, step: int | None = None) -> None:
        """Log another metric to this trial's run."""
        self._client.log_metric(self.run_id, key, value, step=step)


def suggest(trial: Any, name: str, dist: Any) -> Any:
    """Sample one space entry through Optuna's public ``suggest_*`` API."""
    import optuna.distributions as d

    if isinstance(dist, d.CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    if isinstance(dist, d.IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    if isinstance(dist, d.FloatDistribution):
        return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)
    raise TypeError(f"unsupported distribution {dist!r}")


class ObjectiveFailed(Exception):
    """The objective failed elsewhere (on a Dask worker); the message is already its line."""


def one_line(exc: BaseException) -> str:
    """``Type: message`` on one line, short enough for a tag and a log line."""
    text = " ".join(str(exc).split())
    if not isinstance(exc, ObjectiveFailed):
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


class TrialRunner:
    """Runs the objective for one Optuna trial inside its own child run.

    The returned callable is what ``study.optimize`` calls. An objective that raises, or
    returns something that is not a finite number, makes a FAILED trial with one clear line
    (logged, and kept on the run and the trial) and the sweep goes on: it returns NaN, which
    Optuna records as a failed trial without stopping. ``optuna.TrialPruned`` passes
    through (a PRUNED trial); KeyboardInterrupt and SystemExit end the run KILLED and stop
    the sweep.
    """

    def __init__(self, client: RunRecorder, objective: Callable[[SweepTrial], Any], space: Mapping,
                 *, sweep: str, parent_run_id: str, experiment: str | None, metric: str,
                 quiet: set[int]):
        self.client = client
        self.objective = objective
        self.space = space
        self.sweep = sweep
        self.parent = parent_run_id
        self.experiment = experiment
        self.metric = metric
        #: Trial numbers whose failure we logged: Optuna's own warning for them is dropped.
        self.quiet = quiet

    def __call__(self, trial: Any) -> float:
        import optuna

        params = {name: suggest(trial, name, dist) for name, dist in self.space.items()}
        client = self.client
        run = client.create_run(
            experiment=self.experiment, name=f"{self.sweep} #{trial.number}",
            tags={TAG_SWEEP: self.sweep, TAG_ROLE: "trial", TAG_TRIAL: trial.number},
            parent_run_id=self.parent)
        client.log_params(run.id, params)
        handle = SweepTrial(trial, run.id, client, params)
        try:
            value = self.objective(handle)
            number = _finite(value)
        except optuna.TrialPruned:
            self._finish(run.id, handle, "PRUNED", "FINISHED")
            raise
        except Exception as exc:
            return self._failed(trial, run.id, handle, one_line(exc))
        except BaseException:  # KeyboardInterrupt, SystemExit: stop, keep what was logged
            self._finish(run.id, handle, "FAIL", "KILLED", "interrupted")
            raise
        if number is None:
            return self._failed(trial, run.id, handle,
                                f"the objective returned {_show(value)}, not a finite number")
        client.log_metric(run.id, self.metric, number)
        client.log_metric(self.parent, self.metric, number, step=trial.number)
        self._finish(run.id, handle, "COMPLETE", "FINISHED")
        return number

    def _failed(self, trial: Any, run_id: str, handle: SweepTrial, reason: str) -> float:
        self.quiet.add(trial.number)
        log.warning("jupyter-mlops: sweep %r trial %d failed: %s; the sweep goes on.",
                    self.sweep, trial.number, reason)
        trial.set_user_attr(ATTR_REASON, reason)
        self._finish(run_id, handle, "FAIL", "FAILED", reason)
        return math.nan

    def _finish(self, run_id: str, handle: SweepTrial, state: str, status: str,
                reason: str | None = None) -> None:
        client = self.client
        extra = {k: v for k, v in handle.optuna.params.items() if k not in handle.params}
        if extra:  # suggest_* calls the objective made itself
            client.log_params(run_id, extra)
        tags = {TAG_STATE: state}
        if reason:
            tags[TAG_REASON] = reason
        client.set_tags(run_id, tags)
        client.end_run(run_id, status)


def _finite(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class QuietFailures(logging.Filter):
    """Drop Optuna's "Trial N failed …" warning for trials whose failure we already logged."""

    def __init__(self, numbers: set[int]):
        super().__init__()
        self.numbers = numbers

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if msg.startswith("Trial ") and " failed" in msg:
            head = msg[6:].split(" ", 1)[0]
            return not (head.isdigit() and int(head) in self.numbers)
        return True
