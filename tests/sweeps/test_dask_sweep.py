"""Function objectives on a real Dask cluster (distributed.LocalCluster, worker processes):
trials run on the workers, in parallel, and are recorded like local trials; a trial that
raises, returns NaN or kills its worker is FAILED with one line and the sweep goes on."""

from __future__ import annotations

import logging
import math
import os

import pytest

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.sweeps import sweep

pytestmark = pytest.mark.slow  # a Dask cluster of worker processes per module


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as local:
        yield local


def _children(client, parent):
    return [r for r in client.search_runs(max_results=1000, warn=False)
            if r.parent_run_id == parent]


def test_trials_run_on_the_workers_and_are_recorded_like_local_trials(client, cluster):
    parent_pid = os.getpid()

    def objective(trial):  # defined here: Dask ships it by value
        import os

        for step in range(3):
            trial.report(trial["x"] * step, step)
        trial.log_metric("worker_pid", os.getpid())
        return (trial["x"] - 1) ** 2

    result = sweep(objective, "x=uniform(-5,5)", n_trials=6, name="on-dask",
                   client=client, sampler="random", seed=3,
                   executor=cluster.scheduler_address)
    client.flush()
    children = _children(client, result.parent_run_id)
    assert len(children) == 6
    assert client.get_run(result.parent_run_id).status == "FINISHED"
    pids = set()
    for run in children:
        assert run.status == "FINISHED" and run.tags["mlops.sweep.state"] == "COMPLETE"
        x = float(run.params["x"])
        assert run.metrics["objective"] == pytest.approx((x - 1) ** 2)
        history = client.metric_history(run.id, "intermediate")
        assert [(p.step, p.value) for p in history] == [
            (s, pytest.approx(x * s)) for s in range(3)]
        pids.add(run.metrics["worker_pid"])
    assert parent_pid not in pids  # every call ran on a worker
    assert result.best_value == min(t.value for t in result.trials)


def test_raise_nan_and_a_dead_worker_fail_their_trial_with_one_line(client, cluster, caplog):
    def objective(trial):
        if trial.number == 1:
            raise ValueError("boom\nsecond line")
        if trial.number == 2:
            return math.nan
        if trial.number == 3:
            return "not a number"
        return trial["x"]

    with caplog.at_level(logging.WARNING):
        result = sweep(objective, "x=uniform(0,1)", n_trials=5, name="dask-failures",
                       client=client, sampler="random", seed=1, n_jobs=1,
                       executor=cluster.scheduler_address)
    states = {t.number: t.state.name for t in result.trials}
    assert states == {0: "COMPLETE", 1: "FAIL", 2: "FAIL", 3: "FAIL", 4: "COMPLETE"}
    by_trial = {int(r.tags["mlops.sweep.trial"]): r
                for r in _children(client, result.parent_run_id)}
    assert by_trial[1].status == "FAILED"
    assert by_trial[1].tags["mlops.sweep.reason"] == "ValueError: boom second line"
    assert by_trial[2].tags["mlops.sweep.reason"] == (
        "the objective returned nan, not a finite number")
    assert by_trial[3].tags["mlops.sweep.reason"] == (
        "the objective returned 'not a number', not a finite number")
    ours = [r.getMessage() for r in caplog.records if r.name == "jupyter_mlops.sweeps"]
    assert len(ours) == 3 and all("\n" not in m and "the sweep goes on" in m for m in ours)


def test_a_worker_that_dies_is_a_failed_trial(client):
    from distributed import LocalCluster

    def objective(trial):
        import os

        if trial.number == 0:
            os._exit(3)  # the worker process dies under the trial
        return trial["x"]

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                      dashboard_address=None) as local:
        local.scheduler.allowed_failures = 0  # KilledWorker at the first death
        result = sweep(objective, "x=uniform(0,1)", n_trials=2, name="dask-dies",
                       client=client, sampler="random", seed=1, n_jobs=1,
                       executor=local.scheduler_address)
    states = [t.state.name for t in sorted(result.trials, key=lambda t: t.number)]
    assert states == ["FAIL", "COMPLETE"]
    reason = [r for r in _children(client, result.parent_run_id)
              if r.tags["mlops.sweep.trial"] == "0"][0].tags["mlops.sweep.reason"]
    assert reason.startswith("the trial did not run on Dask: KilledWorker")


def test_an_executor_that_is_not_dask_is_refused_in_one_line(client):
    with pytest.raises(InvalidInputError, match="executor='dask'"):
        sweep(lambda t: 0.0, "x=uniform(0,1)", n_trials=1, client=client,
              executor="processes")
    with pytest.raises(InvalidInputError, match="Unknown executor"):
        sweep(lambda t: 0.0, "x=uniform(0,1)", n_trials=1, client=client,
              executor="ftp://nowhere")
