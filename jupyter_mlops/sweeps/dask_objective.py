"""A function objective whose trials run on a Dask cluster.

Optuna's loop stays in this process (sampling, the study, each trial's child run); only the
call of the objective goes to the cluster, as a Dask future per trial, and ``n_jobs`` trials
are in flight at once (by default as many as the cluster has threads). Dask ships the
function with cloudpickle, as it ships any task: a function defined in a notebook or inside
another function travels by value, one from an importable module by reference (the workers
need that module). Nothing is unpickled here but what the cluster sends back: the trial's
value and what it reported, from workers this process chose to use.

On the worker the objective gets a :class:`RemoteTrial`: ``params``, ``number``,
``report(value, step)``, ``should_prune()`` and ``log_metric``. Intermediate values travel
to this process *while the trial runs*, over a pair of Dask queues named after the trial's
run (the cluster's own scheduler carries them; the store need not be reachable from the
workers): each ``report`` is recorded here at once, exactly as a local trial's (Optuna's
``trial.report`` and the run's ``intermediate`` history), and ``should_prune()`` asks the
study's pruner here and waits for its answer. So a pruner stops a running remote trial as it
stops a local one: the objective raises ``optuna.TrialPruned`` and the trial is PRUNED, its
intermediate values in its run. If the answer does not come within
:data:`PRUNE_ANSWER_S` seconds (scheduler busy, this process gone) ``should_prune()`` says
False and the trial runs on. The queues are made when first used (a trial that reports
nothing costs one queue and one message: the end of its task, put there by the future's
callback), and not at all when the study's pruner is ``NopPruner`` (``pruner="none"``): then
reports travel back with the result as before. An objective that raises, returns NaN, or
whose worker dies is a FAILED trial with one line, and the sweep goes on.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.sweeps.trial import ObjectiveFailed, one_line


#: Seconds a remote ``should_prune()`` waits for the study's answer before saying False.
PRUNE_ANSWER_S = 30.0
#: Seconds between looks at whether a remote trial's task ended without a word (its worker
#: died); a trial that ends normally says so on its queue at once.
_POLL_S = 1.0


class RemoteTrial:
    """What a function objective receives on a Dask worker (see the module docstring)."""

    def __init__(self, number: int, params: dict[str, Any],
                 channel: tuple[str, str] | None = None):
        self.number = number
        self.params = dict(params)
        self.reports: list[tuple[int, float]] = []
        self.metrics: list[tuple[str, Any, int | None]] = []
        self._channel = channel
        self._queues: tuple[Any, Any] = (None, None)

    def __getitem__(self, name: str) -> Any:
        return self.params[name]

    def _send(self, message: tuple) -> bool:
        """Put ``message`` on the queue to the sweep; False if there is no way there."""
        try:
            up = self._queue(0)
            if up is None:
                return False
            up.put(message)
            return True
        except Exception:  # no client on this worker, scheduler gone: report at the end
            self._channel = None
            return False

    def _queue(self, which: int) -> Any:
        """The queue to (0) or from (1) the sweep, made on first use; None without one."""
        if self._channel is None:
            return None
        if self._queues[which] is None:
            from distributed import Queue

            queues = list(self._queues)
            queues[which] = Queue(self._channel[which])
            self._queues = (queues[0], queues[1])
        return self._queues[which]

    def report(self, value: float, step: int) -> None:
        """Record an intermediate ``value`` at ``step``: sent to the sweep now (and with the
        result)."""
        step, value = int(step), float(value)
        self.reports.append((step, value))
        self._send(("report", step, value))

    def should_prune(self) -> bool:
        """Ask the study's pruner (in the sweep's process) about the values reported so far;
        False if it cannot be asked, or does not answer within :data:`PRUNE_ANSWER_S`."""
        asked = len(self.reports)
        if not self._send(("ask", asked)):
            return False
        deadline = time.monotonic() + PRUNE_ANSWER_S
        try:
            while True:
                answer = self._queue(1).get(timeout=max(0.0, deadline - time.monotonic()))
                # An answer to an earlier question that timed out is dropped.
                if isinstance(answer, (tuple, list)) and len(answer) == 2 and \
                        answer[0] == asked:
                    return answer[1] is True
        except Exception:  # TimeoutError, scheduler gone: run on
            return False

    def log_metric(self, key: str, value: Any, step: int | None = None) -> None:
        """Log another metric to this trial's run (sent back with the result)."""
        self.metrics.append((str(key), value, step))


def run_remote(objective: Any, number: int, params: dict[str, Any],
               channel: tuple[str, str] | None = None) -> tuple:
    """On the worker: call the objective; ``(outcome, value or reason, reports, metrics)``,
    outcome "ok", "fail" or "pruned". Exceptions are returned as their one line, so what
    comes back is plain data. ``channel`` names the queues to and from the sweep."""
    trial = RemoteTrial(number, params, channel)
    try:
        value = objective(trial)
    except Exception as exc:
        pruned = type(exc).__name__ == "TrialPruned" and type(exc).__module__.startswith(
            "optuna")
        return _ended(trial, ("pruned" if pruned else "fail",
                              None if pruned else one_line(exc), trial.reports, trial.metrics))
    if hasattr(value, "item"):  # a numpy scalar: plain Python for the way back
        value = value.item()
    if not isinstance(value, (int, float, str, type(None))):
        value = repr(value)[:60]  # plain data only on the way back
    return _ended(trial, ("ok", value, trial.reports, trial.metrics))


def _ended(trial: RemoteTrial, result: tuple) -> tuple:
    """Let go of the queues (the sweep learns of the end from the task's future)."""
    for queue in trial._queues:
        if queue is not None:
            try:
                queue.close()
            except Exception:
                pass
    return result


def _may_prune(trial: Any) -> bool:
    """False when the study's pruner never prunes (``pruner="none"``): no queues then."""
    try:
        import optuna

        return not isinstance(trial.optuna.study.pruner, optuna.pruners.NopPruner)
    except Exception:  # not an Optuna-backed trial: ask anyway
        return True


def _put_quietly(queue: Any, message: tuple) -> None:
    try:
        queue.put(message)
    except Exception:  # the sweep stopped listening, or the scheduler is gone
        pass


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
        reported: set[int] = set()
        key = f"mlops-sweep-trial-{trial.run_id}"
        if not _may_prune(trial):  # nothing to ask: reports come back with the result
            future = client.submit(run_remote, self._objective, trial.number,
                                   dict(trial.params), pure=False, key=key)
            outcome, value, reports, metrics = self._result(future)
        else:
            from distributed import Queue

            channel = (f"mlops-sweep-{trial.run_id}-up", f"mlops-sweep-{trial.run_id}-down")
            queues = [Queue(channel[0], client=client), None]
            try:
                future = client.submit(run_remote, self._objective, trial.number,
                                       dict(trial.params), channel, pure=False, key=key)
                # The end of the task, however it ends, is the last message on the queue
                # (the worker's own puts were acknowledged before its task returned).
                future.add_done_callback(lambda _: _put_quietly(queues[0], ("end",)))
                self._listen(trial, future, queues, channel[1], reported)
                outcome, value, reports, metrics = self._result(future)
            finally:
                for queue in queues:
                    if queue is not None:
                        try:
                            queue.close()
                        except Exception:
                            pass
        for step, value_at in reports:  # any the queue did not bring
            self._record(trial, step, value_at, reported)
        for key, metric, step in metrics:
            trial.log_metric(key, metric, step=step)
        if outcome == "pruned":
            import optuna

            raise optuna.TrialPruned()
        if outcome == "fail":
            raise ObjectiveFailed(value)
        return value

    @staticmethod
    def _result(future: Any) -> tuple:
        try:
            return future.result()
        except Exception as exc:  # the worker died, or the function could not be sent
            raise ObjectiveFailed(f"the trial did not run on Dask: {one_line(exc)}") from None

    def _listen(self, trial: Any, future: Any, queues: list, down_name: str,
                reported: set[int]) -> None:
        """Record the trial's reports and answer its pruning questions until it ends."""
        up = queues[0]
        while True:
            try:
                message = up.get(timeout=_POLL_S)
            except TimeoutError:
                if future.done():  # ended without a word: its worker died
                    return
                continue
            except Exception:  # the scheduler is gone: the future says what happened
                return
            if not isinstance(message, (tuple, list)) or not message:
                continue
            if message[0] == "end":
                return
            if message[0] == "report" and len(message) == 3:
                self._record(trial, message[1], message[2], reported)
            elif message[0] == "ask" and len(message) == 2:
                answer = bool(trial.should_prune())
                try:
                    if queues[1] is None:
                        from distributed import Queue

                        queues[1] = Queue(down_name, client=up.client)
                    queues[1].put((message[1], answer))
                except Exception:  # the scheduler is gone: the trial's wait times out
                    pass

    @staticmethod
    def _record(trial: Any, step: Any, value: Any, reported: set[int]) -> None:
        try:
            step, value = int(step), float(value)
        except (TypeError, ValueError, OverflowError):
            return
        if step not in reported and math.isfinite(value):
            reported.add(step)
            trial.report(value, step)

    def close(self) -> None:
        """Shut down the cluster connection (and local cluster) this objective started."""
        executor, self._executor = self._executor, None
        if executor is not None and self._owned:
            executor.shutdown()
