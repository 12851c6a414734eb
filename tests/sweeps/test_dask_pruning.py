"""A pruner stops trials *while they run* on Dask: each ``report`` on the worker reaches the
study at once and ``should_prune()`` gets the pruner's answer, so a pruned trial ends early
(PRUNED, its intermediate values up to that step in its child run). An in-process Dask
cluster (``LocalCluster(processes=False)``) keeps this fast; the queues are the same as on a
cluster of processes or machines (tests/sweeps/test_dask_sweep.py runs those). The two
whole-sweep tests are marked slow (see SWEEP_SLOW); CI runs them on SQLite and PostgreSQL."""

from __future__ import annotations

import optuna
import pytest

from jupyter_mlops.sweeps import sweep

#: ThresholdPruner(upper=LIMIT). Odd-numbered trials report x + RISE * step, which passes
#: LIMIT at step 3 (x < 0.1), so they are pruned after 4 of STEPS steps; even ones report x
#: and complete. By trial number, not by x: with two trials at a time Optuna reseeds the
#: sampler, so which x comes up is not reproducible.
LIMIT, RISE, STEPS = 0.5, 0.2, 6


@pytest.fixture(scope="module")
def dask_executor():
    """One in-process cluster and one connection to it for the module."""
    from distributed import LocalCluster

    from jupyter_mlops.pipelines.executors import DaskExecutor

    # tcp, not the in-process default: a sweep takes a scheduler address (tcp://host:port).
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp",
                      host="127.0.0.1", dashboard_address=None) as local:
        executor = DaskExecutor(local.scheduler_address)
        yield executor
        executor.shutdown()


def _value(x: float, number: int, step: int) -> float:
    return x + (number % 2) * RISE * step


def objective(trial):
    from distributed import get_worker

    get_worker()  # raises ValueError unless this runs as a task on a Dask worker
    for step in range(STEPS):
        trial.report(_value(trial["x"], trial.number, step), step)
        if trial.should_prune():
            trial.log_metric("steps_run", step + 1)
            raise optuna.TrialPruned()
    trial.log_metric("steps_run", STEPS)
    return trial["x"]


#: A whole sweep in a fresh store (Optuna creates its tables there first) with a scheduler
#: round trip per report: 3-6 s wall per test at load 9-19 on 2 cores, though the warm sweep
#: itself takes 0.4-0.5 s of CPU.
SWEEP_SLOW = pytest.mark.slow


@SWEEP_SLOW
def test_running_dask_trials_are_pruned_and_recorded_with_their_values(client,
                                                                      dask_executor):
    # Two trials at a time: each has its own queues to the study.
    result = sweep(objective, "x=uniform(0,0.1)", n_trials=4, name="dask-prune",
                   client=client, sampler="random", seed=5, n_jobs=2,
                   pruner=optuna.pruners.ThresholdPruner(upper=LIMIT),
                   executor=dask_executor)
    client.flush()
    runs = {int(r.tags["mlops.sweep.trial"]): r
            for r in client.search_runs(max_results=100, warn=False)
            if r.parent_run_id == result.parent_run_id}
    assert len(runs) == 4
    for t in result.trials:
        run, x = runs[t.number], t.params["x"]
        steps = 4 if t.number % 2 else STEPS
        assert t.state.name == ("PRUNED" if t.number % 2 else "COMPLETE")
        assert run.tags["mlops.sweep.state"] == t.state.name
        assert run.status == "FINISHED"
        assert run.metrics["steps_run"] == steps  # the worker stopped there
        expected = [(s, pytest.approx(_value(x, t.number, s))) for s in range(steps)]
        history = client.metric_history(run.id, "intermediate")
        assert [(p.step, p.value) for p in history] == expected
        # Optuna's study holds the same intermediate values.
        assert sorted(t.intermediate_values.items()) == expected


def test_should_prune_without_an_answer_runs_on_and_drops_stale_answers(dask_executor,
                                                                        monkeypatch):
    from distributed import Queue

    from jupyter_mlops.sweeps import dask_objective

    monkeypatch.setattr(dask_objective, "PRUNE_ANSWER_S", 0.3)
    client = dask_executor.dask_client
    up, down = Queue("t-up", client=client), Queue("t-down", client=client)
    trial = dask_objective.RemoteTrial(0, {"x": 1.0}, ("t-up", "t-down"))
    trial._queues = (up, down)  # in the test process: the executor's client, not a worker's
    trial.report(0.7, 0)
    down.put((0, True))  # the answer to a question asked before that report: stale
    assert trial.should_prune() is False  # no answer to this one within the wait
    assert up.get(batch=True) == [("report", 0, 0.7), ("ask", 1)]
    down.put((1, True))
    assert trial.should_prune() is True


@SWEEP_SLOW
def test_without_a_pruner_no_queue_is_made_and_reports_come_with_the_result(
        client, dask_executor, monkeypatch):
    import distributed

    def no_queue(*args, **kwargs):
        raise AssertionError("a queue was made for a sweep that cannot prune")

    monkeypatch.setattr(distributed, "Queue", no_queue)
    result = sweep(objective, "x=uniform(0,0.1)", n_trials=2, name="dask-nop", client=client,
                   sampler="random", seed=1, pruner="none", executor=dask_executor)
    client.flush()
    assert [t.state.name for t in result.trials] == ["COMPLETE", "COMPLETE"]  # odd one too
    for t in result.trials:
        run = [r for r in client.search_runs(max_results=100, warn=False)
               if r.tags.get("mlops.sweep.trial") == str(t.number)
               and r.parent_run_id == result.parent_run_id][0]
        history = client.metric_history(run.id, "intermediate")
        assert [(p.step, p.value) for p in history] == [
            (s, pytest.approx(_value(t.params["x"], t.number, s))) for s in range(STEPS)]
