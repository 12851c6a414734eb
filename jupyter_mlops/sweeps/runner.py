"""``sweep()``: an Optuna study whose trials are tracked runs, resumable by name.

The optimiser is Optuna's (its samplers, pruners, ``optimize`` loop with threads, timeout,
heartbeat); this module only decides where the study lives, what a trial records, and how
many trials are still owed. ``n_trials`` is the total for the *sweep*, not for this call: a
resumed or joining process runs only what is missing, and every process stops starting new
trials once finished plus running trials reach it.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.extras import require
from jupyter_mlops.sweeps.space import describe, parse_space
from jupyter_mlops.sweeps.study import (
    counted,
    open_study,
    parent_run,
    recover_dead_trials,
    storage_for,
)
from jupyter_mlops.sweeps.trial import QuietFailures, SweepTrial, TrialRunner

if TYPE_CHECKING:  # the Client's shape, for type checkers only
    from jupyter_mlops.ports import RunRecorder, SweepClient

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")
#: Optuna heartbeat seconds by default: off. Every trial is a child run, and the store's own
#: heartbeats already find a dead trial (at once on this host, after MLOPS_DEAD_AFTER_SECONDS
#: from another); Optuna's heartbeat thread and per-trial stale check cost about 20 ms of CPU
#: per trial on SQLite (benchmarks/sweeps_bench.py), four times the overhead budget.
HEARTBEAT_S: int | None = None


def sweep(objective: Callable[[SweepTrial], Any] | None = None, space: Any = None,
          n_trials: int | None = None, direction: str = "minimize", sampler: Any = None,
          pruner: Any = None, name: str | None = None, timeout: float | None = None,
          n_jobs: int = 1, *, client: SweepClient, notebook: str | None = None,
          metric: str | None = None, experiment: str | None = None, seed: int | None = None,
          executor: Any = None, study_storage: str = "store",
          heartbeat_interval: int | None = HEARTBEAT_S):
    """Run (or resume, or join) a hyperparameter sweep; every trial is a tracked child run.

    Parameters
    ----------
    objective : callable, optional
        ``objective(trial) -> float``; ``trial.params`` holds the sampled values (see
        :class:`SweepTrial`). Give either this or ``notebook``.
    space : str or dict
        ``"lr=loguniform(1e-4,1e-1) depth=int(2,10) kernel=choice(rbf,linear)"`` or a dict
        of Optuna distributions or such strings (:func:`parse_space`).
    n_trials : int, optional
        Trials the sweep runs in total, across resumes and processes (at least one of
        ``n_trials`` and ``timeout``).
    direction : "minimize" or "maximize"
    sampler, pruner : optional
        Optuna objects, or names: ``"tpe"``, ``"random"``, ``"cmaes"``, ``"qmc"`` and
        ``"median"``, ``"hyperband"``, ``"halving"``, ``"none"``.
    name : str, optional
        The sweep's name in the store; the same name continues the same study and parent
        run. Default: a new unique name.
    timeout : float, optional
        Seconds after which this call starts no new trial.
    n_jobs : int
        Trials run at once in threads of this process (Optuna's ``n_jobs``).
    client : Client
        The store to record in (the fluent ``jupyter_mlops.sweep`` passes the default).
    notebook : str, optional
        A parameterised notebook as the objective: each trial is a papermill run of it
        with the trial's params injected, recorded as a pipeline step (and cached like
        one); its value is the last value of ``metric`` the notebook logged.
    metric : str, optional
        The trial value's metric name (default ``"objective"``; required with ``notebook``).
    experiment : str, optional
        Experiment of the runs (default: the store's default experiment).
    seed : int, optional
        Seed of a sampler given by name (or of the default TPE sampler).
    executor : optional
        Where trials run. With ``notebook``: as for a pipeline (``"local"``, ``"dask"``,
        ``"tcp://host:8786"`` or an Executor). With a function: ``None``/``"local"`` in this
        process; ``"dask"`` (a local Dask cluster), ``"tcp://host:8786"`` or a
        ``DaskExecutor`` runs each call of the function on the cluster, ``n_jobs`` at once
        (left at 1: as many as the cluster has threads), recorded here like local trials
        (:mod:`jupyter_mlops.sweeps.dask_objective`).
    study_storage : "store" or "memory"
        ``"store"`` (default): the study lives beside the store, so the sweep can be resumed
        and shared. ``"memory"``: an in-memory study for a throwaway sweep (trials are still
        tracked runs; nothing can resume or join it).
    heartbeat_interval : int, optional
        Turn on Optuna's trial heartbeat (seconds; stale after three): ``fail_stale_trials``
        then also fails and retries trials of processes that died on other machines,
        without waiting for the store to declare their runs dead. Off by default (see
        :data:`HEARTBEAT_S`).

    Returns
    -------
    SweepResult

    Raises
    ------
    InvalidInputError
        A space, name, direction or count that cannot be used (one line saying which).
    MissingExtraError
        Optuna is not installed (``pip install "jupyter-mlops[sweeps]"``).
    """
    require("optuna", extra="sweeps", feature="Sweeps")
    from jupyter_mlops.sweeps.result import SweepResult

    name = _check_name(name)
    direction = _check_direction(direction)
    n_trials = _check_count(n_trials, "n_trials", allow_none=True)
    n_jobs = _check_jobs(n_jobs)
    timeout = _check_timeout(timeout)
    if n_trials is None and timeout is None:
        raise InvalidInputError("A sweep needs n_trials or timeout (or both), else it never "
                                "ends. Pass n_trials=50, for example.")
    if (objective is None) == (notebook is None):
        raise InvalidInputError("Give a sweep either an objective function or notebook=PATH "
                                "(exactly one of them).")
    if objective is not None and not callable(objective):
        raise InvalidInputError(f"The objective must be callable, not "
                                f"{type(objective).__name__}.")
    if space is None:
        raise InvalidInputError("A sweep needs a space, e.g. space=\"lr=loguniform(1e-4,1e-1)\".")
    dists = parse_space(space)
    sampler_obj, pruner_obj = make_sampler(sampler, seed), make_pruner(pruner)
    if study_storage not in ("store", "memory"):
        raise InvalidInputError(f"study_storage must be 'store' or 'memory', not "
                                f"{str(study_storage)[:40]!r}.")
    if notebook is not None:
        if not metric:
            raise InvalidInputError("A notebook objective needs metric=NAME: the metric the "
                                    "notebook logs that the sweep optimises.")
        from jupyter_mlops.sweeps.notebook_objective import NotebookObjective

        objective = closer = NotebookObjective(client, notebook, metric, name, dists, executor)
    elif executor not in (None, "", "local"):
        from jupyter_mlops.sweeps.dask_objective import DaskObjective

        objective = closer = DaskObjective(objective, executor)
        if n_jobs == 1:
            n_jobs = closer.slots
    else:
        closer = None
    try:
        metric = metric or "objective"
        if study_storage == "memory":
            import optuna

            storage, where = optuna.storages.InMemoryStorage(), "memory (not resumable)"
        else:
            storage, where = storage_for(client.store.url, heartbeat_interval)
        study, created = open_study(storage, name, direction, sampler_obj, pruner_obj)
        params = {f"space.{k}": describe(d) for k, d in dists.items()}
        params.update(direction=direction, sampler=type(study.sampler).__name__,
                      pruner=type(study.pruner).__name__, n_trials=n_trials, metric=metric)
        parent = parent_run(client, study, created, name=name, experiment=experiment,
                            params=params, description=where)
        recover_dead_trials(client, study, storage, name)
        quiet: set[int] = set()
        runner = TrialRunner(client, objective, dists, sweep=name, parent_run_id=parent,
                             experiment=experiment, metric=metric, quiet=quiet)
        done, active, _lost = counted(study)
        owed = None if n_trials is None else n_trials - done - active
        interrupted = False
        if owed is None or owed > 0:
            stop = [_StopWhenDone(n_trials)] if n_trials else None
            flt = QuietFailures(quiet)
            optuna_log = logging.getLogger("optuna.study._optimize")
            optuna_log.addFilter(flt)
            try:
                study.optimize(runner, n_trials=owed, timeout=timeout, n_jobs=n_jobs,
                               callbacks=stop,
                               gc_after_trial=False, show_progress_bar=False)
            except BaseException:
                interrupted = True
                raise
            finally:
                optuna_log.removeFilter(flt)
                _end_parent(client, study, parent, n_trials, interrupted)
        else:
            _end_parent(client, study, parent, n_trials, False)
    finally:
        if closer is not None:  # the executor this sweep started, and its cluster
            closer.close()
    return SweepResult(client=client, study=study, name=name, parent_run_id=parent,
                       metric=metric, n_trials=n_trials)


class _StopWhenDone:
    """Stop this process's loop once the sweep's trials are all finished or running.

    Other processes and threads run trials of the same study; the study's trials are the
    only view all of them share. Read through the study (Optuna's cached storage, which
    fetches only trials changed since the last read) — the raw storage's ``get_n_trials``
    loads every trial of the study on each call, which made the overhead grow with the
    sweep (about 14 ms of CPU per trial at 40 trials on SQLite).
    """

    def __init__(self, n_trials: int):
        self.n_trials = n_trials

    def __call__(self, study: Any, trial: Any) -> None:
        from optuna.trial import TrialState

        n = len(study.get_trials(deepcopy=False, states=(
            TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.FAIL)))
        if n < self.n_trials:
            return
        done, active, _lost = counted(study)  # exact, only near the end
        if done + active >= self.n_trials:
            study.stop()


def _end_parent(client: RunRecorder, study: Any, parent: str, n_trials: int | None,
                interrupted: bool) -> None:
    if interrupted:
        client.end_run(parent, "KILLED")
        return
    done, active, _lost = counted(study)
    if n_trials is None or done >= n_trials or active == 0:
        client.end_run(parent, "FINISHED")
    else:
        client.flush()  # another process still runs trials of this sweep: it ends the parent


def make_sampler(sampler: Any, seed: int | None) -> Any:
    """An Optuna sampler from an object, a name or None (TPE)."""
    import optuna

    if seed is not None:
        seed = _check_count(seed, "seed", minimum=0)
    if sampler is None or isinstance(sampler, str):
        names = {"tpe": optuna.samplers.TPESampler, "random": optuna.samplers.RandomSampler,
                 "cmaes": optuna.samplers.CmaEsSampler, "qmc": optuna.samplers.QMCSampler}
        key = (sampler or "tpe").lower()
        if key not in names:
            raise InvalidInputError(f"Unknown sampler {sampler!r}: use one of "
                                    f"{', '.join(names)} or an Optuna sampler object.")
        return names[key](seed=seed)
    if not isinstance(sampler, optuna.samplers.BaseSampler):
        raise InvalidInputError(f"sampler must be an Optuna sampler or a name, not "
                                f"{type(sampler).__name__}.")
    return sampler


def make_pruner(pruner: Any) -> Any:
    """An Optuna pruner from an object, a name or None (the median pruner)."""
    import optuna

    if pruner is None or isinstance(pruner, str):
        names = {"median": optuna.pruners.MedianPruner,
                 "hyperband": optuna.pruners.HyperbandPruner,
                 "halving": optuna.pruners.SuccessiveHalvingPruner,
                 "none": optuna.pruners.NopPruner}
        key = (pruner or "median").lower()
        if key not in names:
            raise InvalidInputError(f"Unknown pruner {pruner!r}: use one of "
                                    f"{', '.join(names)} or an Optuna pruner object.")
        return names[key]()
    if not isinstance(pruner, optuna.pruners.BasePruner):
        raise InvalidInputError(f"pruner must be an Optuna pruner or a name, not "
                                f"{type(pruner).__name__}.")
    return pruner


def _check_name(name: Any) -> str:
    if name is None:
        return f"sweep-{uuid.uuid4().hex[:12]}"
    if not isinstance(name, str) or _NAME.fullmatch(name) is None:
        raise InvalidInputError(
            f"Sweep name {str(name)[:40]!r} is not usable: 1–128 letters, digits, '_', '.' "
            "or '-', starting with a letter or digit.")
    return name


def _check_direction(direction: Any) -> str:
    text = str(direction).lower() if isinstance(direction, str) else ""
    if text not in ("minimize", "maximize"):
        raise InvalidInputError(f"direction must be 'minimize' or 'maximize', not "
                                f"{str(direction)[:40]!r}.")
    return text


def _check_count(value: Any, what: str, allow_none: bool = False, minimum: int = 1):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value < 2**31:
        raise InvalidInputError(f"{what} must be a whole number from {minimum}, not "
                                f"{str(value)[:40]!r}.")
    return value


def _check_jobs(n_jobs: Any) -> int:
    if n_jobs == -1 and not isinstance(n_jobs, bool):
        return -1
    return _check_count(n_jobs, "n_jobs")


def _check_timeout(timeout: Any) -> float | None:
    if timeout is None:
        return None
    try:
        value = float(timeout)
    except (TypeError, ValueError):
        value = float("nan")
    if isinstance(timeout, bool) or not 0 < value < 1e9:
        raise InvalidInputError(f"timeout must be a positive number of seconds, not "
                                f"{str(timeout)[:40]!r}.")
    return value

