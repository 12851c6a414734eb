"""Sweeps across processes: a killed process's sweep resumes, two processes share a study."""

from __future__ import annotations

from pathlib import Path

import pytest
from optuna.trial import TrialState

from jupyter_mlops.sweeps import sweep

WORKER = Path(__file__).with_name("sweep_worker.py")


def _wait_for(proc, line: str) -> None:
    for got in proc.stdout:
        if got.strip() == line:
            return
    raise AssertionError(f"the worker ended before {line!r}: {proc.stderr.read()[-2000:]}")


def _trial_runs(client, parent):
    return [r for r in client.search_runs(max_results=1000, warn=False)
            if r.parent_run_id == parent]


@pytest.mark.slow
def test_a_killed_sweep_resumes_where_it_stopped(client, spawn_python):
    proc = spawn_python(WORKER, "killed", 5, 30)  # each trial sleeps 30 s: killed in trial 1
    _wait_for(proc, "started 0")
    proc.kill()  # SIGKILL mid-trial: the trial stays RUNNING in the study
    proc.wait()
    first_parent = client.search_runs("tags.`mlops.sweep.role` = 'parent'", warn=False)[0]

    result = sweep(lambda t: (t["x"] - 0.5) ** 2, "x=uniform(0,1)", n_trials=5,
                   name="killed", client=client, sampler="random")

    assert result.parent_run_id == first_parent.id
    trials = result.trials
    counted = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(counted) == 5
    dead = [t for t in trials if t.state == TrialState.FAIL]
    assert [t.number for t in dead] == [0]  # the killed one: failed, not left RUNNING
    retry = [t for t in trials if t.user_attrs.get("mlops.retry_of") == 0]
    assert len(retry) == 1 and retry[0].params == dead[0].params  # retried with its params
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    runs = {int(r.tags["mlops.sweep.trial"]): r for r in _trial_runs(client, result.parent_run_id)}
    assert runs[0].status == "KILLED"
    assert client.get_run(result.parent_run_id).status == "FINISHED"


@pytest.mark.slow
def test_two_processes_share_one_sweep(client, spawn_python, tmp_path):
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    procs = [spawn_python(WORKER, "shared", 8, 0.5, barrier, 2) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-2000:]
        assert out.strip().endswith("done")
    started = [out.count("started ") for out, _ in outputs]
    assert all(n >= 1 for n in started), started  # both took part

    result = sweep(lambda t: 0.0, "x=uniform(0,1)", n_trials=8, name="shared", client=client)
    trials = result.trials
    # A trial is started only while finished + running trials are short of n_trials; two
    # processes deciding in the same instant may each start the last one.
    assert 8 <= len(trials) <= 9 and sum(started) == len(trials)
    assert all(t.state == TrialState.COMPLETE for t in trials)
    parents = client.search_runs("tags.`mlops.sweep.role` = 'parent'", warn=False)
    assert [p.id for p in parents] == [result.parent_run_id]
    assert len(_trial_runs(client, result.parent_run_id)) == len(trials)
    assert client.get_run(result.parent_run_id).status == "FINISHED"
