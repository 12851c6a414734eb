"""AbstractPipelineStore contract: pipelines, their runs and steps, schedules and fires."""

from __future__ import annotations

import threading

import pytest

from jupyter_mlops.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from jupyter_mlops.store.pipelines import PipelineStore
from jupyter_mlops.store.runs import RunStore

SPEC = {"steps": [{"name": "prep"}, {"name": "train"}], "note": "données 数据"}


@pytest.fixture
def pipes(backend_url: str) -> PipelineStore:
    return PipelineStore(backend_url)


def start(pipes: PipelineStore, name: str = "flow", **kw) -> str:
    pipeline = pipes.save_pipeline(name, SPEC, "d" * 64, "flow.yaml")
    kw.setdefault("run_id", None)
    kw.setdefault("parameters", {"lr": 0.1})
    kw.setdefault("trigger", "manual")
    kw.setdefault("executor", "local")
    return pipes.create_pipeline_run(pipeline.id, ["prep", "train"], **kw)


def schedule(pipes: PipelineStore, name: str = "nightly", **kw):
    fields = dict(name=name, pipeline_path="flow.yaml", cron="0 3 * * *", timezone="UTC",
                  parameters={}, created_by="ada", next_fire_at=1000.0)
    fields.update(kw)
    return pipes.add_schedule(**fields)


def test_a_pipeline_is_saved_once_per_name_and_its_spec_replaced(pipes):
    first = pipes.save_pipeline("flow", SPEC, "a" * 64, None)
    again = pipes.save_pipeline("flow", {"steps": []}, "b" * 64, "p.yaml")
    assert again.id == first.id and again.spec == {"steps": []} and again.path == "p.yaml"
    assert pipes.get_pipeline(first.id) == pipes.get_pipeline("flow")
    pipes.save_pipeline("alpha", SPEC, "c" * 64, None)
    assert [p.name for p in pipes.list_pipelines()] == ["alpha", "flow"]
    assert pipes.get_pipeline("alpha").spec == SPEC  # unicode JSON round-trips
    with pytest.raises(NotFoundError):
        pipes.get_pipeline("nope")


def test_a_pipeline_run_starts_running_with_pending_steps_in_order(pipes):
    prid = start(pipes)
    run = pipes.get_pipeline_run(prid)
    assert (run.status, run.pipeline, run.parameters) == ("RUNNING", "flow", {"lr": 0.1})
    assert [(s.step, s.status) for s in run.steps] == [("prep", "PENDING"), ("train", "PENDING")]
    pipes.update_step(prid, "prep", status="SUCCEEDED", outputs={"x": {"digest": "e" * 64}},
                      cache_key="k1", attempts=1)
    pipes.finish_pipeline_run(prid, "FAILED", error="train: 💥")
    run = pipes.get_pipeline_run(prid)
    assert (run.status, run.error) == ("FAILED", "train: 💥")
    assert run.step("prep").outputs == {"x": {"digest": "e" * 64}}
    assert pipes.find_cached_step("k1").step == "prep"
    assert pipes.find_cached_step("k2") is None


def test_a_unique_prefix_finds_a_run_and_an_ambiguous_or_bad_one_is_refused(pipes):
    a = start(pipes, pipeline_run_id="abc1" + "0" * 28)
    start(pipes, pipeline_run_id="abc2" + "0" * 28)
    assert pipes.get_pipeline_run("abc1").id == a
    with pytest.raises(InvalidInputError, match="several"):
        pipes.get_pipeline_run("abc")
    with pytest.raises(NotFoundError):
        pipes.get_pipeline_run("fff")
    for bad in ("", "ab%", "a_c", "../x"):
        with pytest.raises(InvalidInputError):
            pipes.get_pipeline_run(bad)


def test_statuses_and_fields_are_checked(pipes):
    prid = start(pipes)
    with pytest.raises(InvalidInputError):
        pipes.finish_pipeline_run(prid, "RUNNING")
    with pytest.raises(InvalidInputError):
        pipes.update_step(prid, "prep", status="DONE")
    with pytest.raises(InvalidInputError):
        pipes.update_step(prid, "prep", owner="mallory")
    assert pipes.get_pipeline_run(prid).status == "RUNNING"


def test_runs_are_listed_newest_first_and_limited(pipes):
    ids = [start(pipes) for _ in range(4)]
    start(pipes, name="other")
    listed = pipes.list_pipeline_runs("flow", limit=3)
    assert [r.id for r in listed] == ids[::-1][:3]
    assert all(r.steps == [] for r in listed)
    assert len(pipes.list_pipeline_runs()) == 5


def test_the_step_of_a_tracked_run_and_reaping_after_its_writer_died(pipes, backend_url):
    runs = RunStore(backend_url)
    parent = runs.create_run(experiment=None, name=None, user="ada")
    child = runs.create_run(experiment=None, name=None, user="ada", parent_run_id=parent.id)
    prid = start(pipes, run_id=parent.id)
    pipes.update_step(prid, "prep", run_id=child.id, status="RUNNING")
    step, path = pipes.step_of_run(child.id)
    assert (step.step, path) == ("prep", "flow.yaml")
    assert pipes.step_of_run("f" * 32) is None
    assert pipes.reap_pipeline_runs() == []  # its tracked run is still running
    runs.end_run(parent.id, "KILLED")
    assert pipes.reap_pipeline_runs() == [prid]
    run = pipes.get_pipeline_run(prid)
    assert (run.status, run.step("prep").status, run.step("train").status) == (
        "KILLED", "FAILED", "SKIPPED")


def test_schedule_names_are_unique_and_schedules_listed_by_name(pipes):
    s = schedule(pipes, parameters={"x": "ü"}, catchup="all", allow_overlap=True)
    assert (s.parameters, s.catchup, s.allow_overlap) == ({"x": "ü"}, "all", True)
    with pytest.raises(AlreadyExistsError, match="nightly"):
        schedule(pipes)
    schedule(pipes, "hourly")
    assert [x.name for x in pipes.list_schedules()] == ["hourly", "nightly"]
    assert pipes.get_schedule(s.id) == pipes.get_schedule("nightly")
    with pytest.raises(InvalidInputError):
        schedule(pipes, "weird", catchup="sometimes")
    pipes.remove_schedule("hourly", "ada")
    with pytest.raises(NotFoundError):
        pipes.get_schedule("hourly")


def test_due_schedules_skip_paused_ones_and_next_fire_only_moves_forward(pipes):
    a = schedule(pipes, "a", next_fire_at=100.0)
    schedule(pipes, "b", next_fire_at=50.0)
    schedule(pipes, "c", next_fire_at=500.0)
    assert [s.name for s in pipes.due_schedules(200.0)] == ["b", "a"]
    pipes.set_paused("b", True, "ada")
    assert [s.name for s in pipes.due_schedules(200.0)] == ["a"]
    pipes.set_next_fire(a.id, 300.0)
    pipes.set_next_fire(a.id, 250.0, only_if_before=True)  # would move it back: ignored
    assert pipes.get_schedule(a.id).next_fire_at == 300.0
    resumed = pipes.set_paused("b", False, "ada", next_fire_at=900.0)
    assert (resumed.paused, resumed.next_fire_at) == (False, 900.0)


def test_a_slot_is_claimed_once_even_by_concurrent_schedulers(pipes, backend_url):
    s = schedule(pipes)
    wins, errors = [], []

    def claim(who):
        try:
            wins.append(PipelineStore(backend_url).claim_slot(s.id, 1000.0, who))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=claim, args=(f"s{i}",)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and sorted(wins) == [False] * 4 + [True]
    assert pipes.claim_slots(s.id, [1000.0, 2000.0, 3000.0], "s0", "SKIPPED") == 2
    with pytest.raises(InvalidInputError):
        pipes.claim_slot(s.id, 4000.0, "s0", status="MAYBE")
    prid = start(pipes, schedule_id=s.id)
    pipes.update_fire(s.id, 1000.0, pipeline_run_id=prid)
    fires = pipes.list_fires(s.id, limit=2)
    assert [f.slot for f in fires] == [3000.0, 2000.0]
    assert pipes.list_fires(s.id)[-1].pipeline_status == "RUNNING"
    assert pipes.running_pipeline_runs(s.id) == [prid]
    assert pipes.fire_now(s.id, 5000.0, "ada").status == "FIRED"
