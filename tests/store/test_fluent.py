"""The module-level API (``import jupyter_mlops as mlops``) over the default client."""

from __future__ import annotations

import asyncio
import threading

import pytest

import jupyter_mlops as mlops
from jupyter_mlops.errors import ConflictError


def test_with_block_finishes_the_run(client):
    with mlops.start_run(experiment="e", name="fit", tags={"k": "v"}) as run:
        assert mlops.active_run() is run
        mlops.log_param("lr", 0.1)
        mlops.log_metric("loss", 0.5)
        mlops.log_metrics({"loss": 0.4, "acc": 0.8})
        mlops.set_tag("stage", "dev")
    assert mlops.active_run() is None

    detail = mlops.get_run(run.id)
    assert detail.status == "FINISHED" and detail.run.end_time is not None
    assert (detail.run.experiment, detail.run.name) == ("e", "fit")
    assert detail.params == {"lr": "0.1"}
    assert detail.metrics == {"loss": 0.4, "acc": 0.8}
    assert detail.tags == {"k": "v", "stage": "dev"}
    assert [p.value for p in client.metric_history(run.id, "loss")] == [0.5, 0.4]


def test_an_exception_fails_the_run_and_still_propagates(client):
    with pytest.raises(ZeroDivisionError):
        with mlops.start_run() as run:
            mlops.log_metric("before", 1.0)
            1 / 0
    assert mlops.active_run() is None
    detail = mlops.get_run(run.id)
    assert detail.status == "FAILED"
    assert detail.metrics == {"before": 1.0}  # what was logged before the error is kept


def test_logging_without_start_starts_a_run(client):
    assert mlops.active_run() is None
    mlops.log_metric("acc", 0.9)
    run = mlops.active_run()
    assert run is not None
    mlops.log_param("p", 1)
    assert mlops.active_run() is run  # later calls reuse it
    mlops.flush()
    assert mlops.get_run(run.id).status == "RUNNING"
    assert mlops.get_run(run.id).metrics == {"acc": 0.9}

    mlops.end_run()
    assert mlops.get_run(run.id).status == "FINISHED"
    assert mlops.active_run() is None


def test_starting_a_run_ends_the_one_left_open_and_says_so(client, capsys):
    first = mlops.start_run(name="first")
    mlops.log_metric("acc", 0.5)
    second = mlops.start_run(name="second")
    out = capsys.readouterr().out
    assert out.splitlines() == [f"ended run 'first' ({first.id[:8]}) to start 'second'"]
    assert mlops.active_run() is second
    assert mlops.get_run(first.id).status == "FINISHED"
    assert mlops.get_run(first.id).metrics == {"acc": 0.5}
    mlops.end_run()
    assert mlops.get_run(second.id).status == "FINISHED"
    assert mlops.active_run() is None
    assert capsys.readouterr().out == ""  # ending it by hand is silent


def test_a_child_run_lands_in_its_parents_experiment(client, monkeypatch):
    monkeypatch.delenv("MLOPS_EXPERIMENT", raising=False)
    with mlops.start_run(experiment="churn", name="sweep") as parent:
        with mlops.start_run(name="trial", nested=True) as child:
            pass
        with mlops.start_run(experiment="other", name="moved", nested=True) as moved:
            pass
    assert mlops.get_run(child.id).experiment == "churn"
    assert mlops.get_run(child.id).parent_run_id == parent.id
    assert mlops.get_run(moved.id).experiment == "other"  # an explicit experiment still wins


def test_an_open_child_and_its_parent_are_both_ended(client, capsys):
    parent = mlops.start_run(name="sweep")
    child = mlops.start_run(name="trial", nested=True)
    assert capsys.readouterr().out == ""  # nested=True keeps the parent open, silently
    fresh = mlops.start_run(name="fresh")
    assert capsys.readouterr().out.splitlines() == [
        f"ended run 'trial' ({child.id[:8]}) to start 'fresh'",
        f"ended run 'sweep' ({parent.id[:8]}) to start 'fresh'"]
    assert {mlops.get_run(r.id).status for r in (parent, child)} == {"FINISHED"}
    assert mlops.get_run(fresh.id).run.parent_run_id is None
    mlops.end_run()


def test_a_with_block_still_running_is_never_ended_behind_its_back(client, capsys):
    with mlops.start_run(name="outer") as outer:
        with pytest.raises(ConflictError) as err:
            mlops.start_run(name="inner")
        message = str(err.value)
        assert "outer" in message and outer.id in message and "nested=True" in message
        assert mlops.active_run() is outer  # untouched
        assert mlops.search_runs("name = 'inner'") == []
        # a child opened without `with` inside the block: still refused, and still open
        child = mlops.start_run(name="child", nested=True)
        with pytest.raises(ConflictError, match="outer"):
            mlops.start_run(name="inner")
        assert mlops.active_run() is child
        assert mlops.get_run(child.id).status == "RUNNING"
        mlops.end_run()
    assert capsys.readouterr().out == ""
    assert mlops.get_run(outer.id).status == "FINISHED"
    # after the block, the same run object no longer protects anything
    after = mlops.start_run(name="after")
    mlops.end_run()
    assert mlops.get_run(after.id).status == "FINISHED"


def test_nested_runs(client):
    with mlops.start_run(name="sweep") as parent:
        for i in range(2):
            with mlops.start_run(name=f"trial-{i}", nested=True) as child:
                assert mlops.active_run() is child
                mlops.log_metric("score", i)
            assert mlops.active_run() is parent
        with pytest.raises(ValueError):
            with mlops.start_run(name="bad-trial", nested=True):
                raise ValueError("diverged")
        assert mlops.active_run() is parent
        mlops.log_metric("best", 1)

    runs = {r.name: r for r in mlops.search_runs()}
    assert {n: r.status for n, r in runs.items()} == {
        "sweep": "FINISHED", "trial-0": "FINISHED", "trial-1": "FINISHED",
        "bad-trial": "FAILED"}
    assert all(runs[n].parent_run_id == parent.id for n in ("trial-0", "trial-1", "bad-trial"))
    assert runs["sweep"].metrics == {"best": 1.0}
    assert runs["trial-1"].metrics == {"score": 1.0}
    assert mlops.get_run(parent.id).children == [runs[n].id for n in
                                                 ("trial-0", "trial-1", "bad-trial")]


def test_end_run_without_a_run_is_a_no_op(client):
    mlops.end_run()
    assert mlops.active_run() is None
    assert mlops.search_runs() == []


def test_environment_picks_experiment_and_parent(client, monkeypatch):
    parent = client.create_run(name="pipeline")
    monkeypatch.setenv("MLOPS_EXPERIMENT", "nightly")
    monkeypatch.setenv("MLOPS_PARENT_RUN_ID", parent.id)
    with mlops.start_run() as run:
        pass
    detail = mlops.get_run(run.id)
    assert detail.run.experiment == "nightly"
    assert detail.run.parent_run_id == parent.id


def test_attaching_to_an_existing_run(client, monkeypatch):
    step_run = client.create_run(name="pipeline-step")
    monkeypatch.setenv("MLOPS_RUN_ID", step_run.id)
    run = mlops.start_run()
    assert run.id == step_run.id
    mlops.log_metric("rows", 10)
    mlops.end_run()
    assert mlops.get_run(step_run.id).metrics == {"rows": 10.0}

    with pytest.raises(ConflictError, match="FINISHED"):
        mlops.start_run()  # a finished run cannot be attached


def test_runs_started_in_threads_stay_in_their_thread(client):
    ids: dict[int, str] = {}
    seen: dict[int, object] = {}
    barrier = threading.Barrier(3)

    def work(i: int) -> None:
        with mlops.start_run(name=f"thread-{i}") as run:
            barrier.wait(timeout=30)  # all runs active at once
            mlops.log_metric("who", i)
            seen[i] = mlops.active_run()
            ids[i] = run.id
            barrier.wait(timeout=30)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert mlops.active_run() is None
    for i in range(3):
        assert seen[i].id == ids[i]
        assert mlops.get_run(ids[i]).metrics == {"who": float(i)}


def test_runs_started_in_asyncio_tasks_do_not_trample_each_other(client):
    """The module docstring promises asyncio tasks may each start their own run."""

    async def job(i: int) -> str:
        with mlops.start_run(name=f"task-{i}") as run:
            await asyncio.sleep(0.01)  # let the other tasks start theirs
            mlops.log_metric("who", i)
            await asyncio.sleep(0.01)
        return run.id

    async def main() -> list[str]:
        return await asyncio.gather(*(job(i) for i in range(3)))

    ids = asyncio.run(main())
    for i, run_id in enumerate(ids):
        detail = mlops.get_run(run_id)
        assert (detail.status, detail.metrics) == ("FINISHED", {"who": float(i)})


def test_a_pipeline_steps_own_run_is_not_ended_by_a_second_start(client, monkeypatch):
    step_run = client.create_run(name="pipeline-step")
    monkeypatch.setenv("MLOPS_RUN_ID", step_run.id)
    attached = mlops.start_run()
    with pytest.raises(ConflictError, match="pipeline step's own run"):
        mlops.start_run(name="mine")
    assert mlops.active_run() is attached
    assert mlops.get_run(step_run.id).status == "RUNNING"
    with mlops.start_run(name="mine", nested=True) as child:
        pass
    assert mlops.get_run(child.id).run.parent_run_id == step_run.id
    mlops.end_run()
