"""Scheduling: exactly-once slots across schedulers, catch-up policies, pause/resume."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from jupyter_mlops.errors import AlreadyExistsError, InvalidInputError
from jupyter_mlops.pipelines.schedule import (
    add_schedule,
    list_schedules,
    pause_schedule,
    remove_schedule,
    resume_schedule,
    schedule_history,
)
from jupyter_mlops.pipelines.scheduler import Scheduler
from jupyter_mlops.store.pipelines import PipelineStore

from .conftest import write_notebook, write_yaml

HELPER = Path(__file__).with_name("helpers") / "run_scheduler.py"
T0 = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC, a whole hour


class Recorder:
    def __init__(self):
        self.calls: list[tuple[int, float]] = []

    def __call__(self, sched, slot):
        self.calls.append((sched.id, slot))


def _schedule(client, cron="*/10 * * * *", next_fire_at=T0, **opts):
    return PipelineStore(client.store.url).add_schedule(
        name=opts.pop("name", "s"), pipeline_path="/nowhere/pipeline.yaml", cron=cron,
        timezone="UTC", parameters={"a": 1}, created_by="test", next_fire_at=next_fire_at,
        **opts)


def _statuses(client, sched):
    fires = PipelineStore(client.store.url).list_fires(sched.id, 1000)
    return {int(f.slot - T0): f.status for f in fires}


def test_slot_claim_is_exclusive(client):
    store = PipelineStore(client.store.url)
    sched = _schedule(client)
    assert store.claim_slot(sched.id, T0, "one") is True
    assert store.claim_slot(sched.id, T0, "two") is False
    assert [f.fired_by for f in store.list_fires(sched.id)] == ["one"]
    assert sched.parameters == {"a": 1} and sched.catchup == "latest"  # options kept apart


@pytest.mark.parametrize("policy, expected", [
    ("latest", {0: "SKIPPED", 600: "SKIPPED", 1200: "SKIPPED", 1800: "FIRED"}),
    ("all", {0: "FIRED", 600: "FIRED", 1200: "FIRED", 1800: "FIRED"}),
    ("none", {0: "SKIPPED", 600: "SKIPPED", 1200: "SKIPPED", 1800: "SKIPPED"}),
])
def test_missed_slots_follow_the_catchup_policy(client, policy, expected):
    sched = _schedule(client, catchup=policy)
    launched = Recorder()
    now = T0 + 1800 + 90  # down for half an hour; the newest slot is 90 s old
    Scheduler(client, launcher=launched, clock=lambda: now).tick()
    assert _statuses(client, sched) == expected
    assert sorted(int(s - T0) for _, s in launched.calls) == sorted(
        k for k, v in expected.items() if v == "FIRED")
    again = PipelineStore(client.store.url).get_schedule(sched.id)
    assert again.next_fire_at == T0 + 2400
    Scheduler(client, launcher=launched, clock=lambda: now).tick()  # nothing new is due
    assert len(launched.calls) == list(expected.values()).count("FIRED")


def test_policy_none_fires_a_slot_that_is_on_time_and_max_age_skips_old_ones(client):
    on_time = _schedule(client, name="on-time", catchup="none")
    aged = _schedule(client, name="aged", catchup="all", max_catchup_age=700)
    launched = Recorder()
    Scheduler(client, launcher=launched, clock=lambda: T0 + 1205).tick()
    assert _statuses(client, on_time) == {0: "SKIPPED", 600: "SKIPPED", 1200: "FIRED"}
    assert _statuses(client, aged) == {0: "SKIPPED", 600: "FIRED", 1200: "FIRED"}


def test_overlapping_run_is_refused_unless_allowed(client):
    sched = _schedule(client)
    launched = Recorder()
    launched.busy = lambda schedule_id: True  # previous run still going
    Scheduler(client, launcher=launched, clock=lambda: T0 + 1).tick()
    assert _statuses(client, sched) == {0: "SKIPPED"} and not launched.calls
    free = _schedule(client, name="free", allow_overlap=True)
    Scheduler(client, launcher=launched, clock=lambda: T0 + 1).tick()
    assert _statuses(client, free) == {0: "FIRED"}


@pytest.fixture
def pipeline_file(project):
    write_notebook(project / "hello.ipynb", "import jupyter_mlops as mlops\n"
                   "mlops.log_metric('answer', n * 2)", params="n = 1")
    return write_yaml(project / "pipeline.yaml", """
name: hello
parameters: {n: 21}
steps:
  hello: {notebook: hello.ipynb, parameters: {n: "${n}"}}
""")


def test_add_list_pause_resume_remove(pclient, pipeline_file):
    s = add_schedule(pipeline_file, "0 * * * *", timezone="Europe/Berlin", parameters={"n": 2},
                     client=pclient)
    assert s.name == "hello" and s.next_fire_at > time.time()
    with pytest.raises(AlreadyExistsError):
        add_schedule(pipeline_file, "0 * * * *", client=pclient)
    with pytest.raises(InvalidInputError, match="parameter 'n'"):
        add_schedule(pipeline_file, "0 * * * *", parameters={"n": "x"}, name="other",
                     client=pclient)
    with pytest.raises(InvalidInputError):
        add_schedule(pipeline_file, "0 25 * * *", name="other", client=pclient)
    assert [x.name for x in list_schedules(client=pclient)] == ["hello"]
    launched = Recorder()
    paused = pause_schedule("hello", client=pclient)
    later = paused.next_fire_at + 7200  # two slots pass while paused
    Scheduler(pclient, launcher=launched, clock=lambda: later).tick()
    assert not launched.calls and schedule_history("hello", client=pclient) == []
    resumed = resume_schedule("hello", client=pclient)
    assert not resumed.paused and resumed.next_fire_at > time.time()  # paused slots dropped
    remove_schedule("hello", client=pclient)
    assert list_schedules(client=pclient) == []


@pytest.mark.slow  # two scheduler processes, 16.4 s measured (load 10)
def test_two_scheduler_processes_fire_each_slot_exactly_once(pclient, project, tmp_path):
    log = tmp_path / "launches.log"
    store = PipelineStore(pclient.store.url)
    start = float(int(time.time()) + 2)
    sched = store.add_schedule(name="every-second", pipeline_path="/x/p.yaml",
                               cron="* * * * * *", timezone="UTC", parameters={},
                               created_by="test", next_fire_at=start, catchup="all")
    procs = [subprocess.Popen([sys.executable, str(HELPER), "6", str(log)],
                              stdout=subprocess.PIPE, text=True) for _ in range(2)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    for p in procs:
        assert p.wait(timeout=60) == 0
    launches = [line.split() for line in log.read_text().splitlines()]
    per_slot = Counter(float(slot) for slot, _ in launches)
    assert len(per_slot) >= 3, per_slot
    assert set(per_slot.values()) == {1}, per_slot  # no slot launched twice
    fires = {f.slot: f.status for f in store.list_fires(sched.id, 1000)}
    assert set(fires.values()) == {"FIRED"}
    assert sorted(fires) == sorted(per_slot)  # no slot lost either
    slots = sorted(per_slot)
    assert slots == [start + i for i in range(len(slots))]  # every second from the start


@pytest.mark.slow  # runs a pipeline in kernels, 25.1 s measured (load 10)
def test_a_fired_slot_runs_the_pipeline(pclient, pipeline_file):
    sched = add_schedule(pipeline_file, "* * * * * *", parameters={"n": 5}, name="now",
                         client=pclient)
    fired = Scheduler(pclient).tick(now=sched.next_fire_at + 0.2)
    assert fired == [(sched.id, sched.next_fire_at)]
    store = PipelineStore(pclient.store.url)
    deadline = time.time() + 90
    while time.time() < deadline:
        fires = store.list_fires(sched.id)
        if fires and fires[0].pipeline_status in ("SUCCEEDED", "FAILED"):
            break
        time.sleep(0.5)
    fire = store.list_fires(sched.id)[0]
    assert fire.status == "FIRED" and fire.pipeline_status == "SUCCEEDED", fire
    run = store.get_pipeline_run(fire.pipeline_run_id)
    assert run.trigger == "schedule" and run.schedule_id == sched.id
    assert pclient.get_run(run.step("hello").run_id).metrics == {"answer": 10.0}


def test_run_now_records_a_fire_audits_it_and_launches(client):
    from jupyter_mlops.errors import ConflictError
    from jupyter_mlops.pipelines.schedule import run_schedule_now

    sched = _schedule(client, name="s")
    launched = Recorder()
    fire = run_schedule_now("s", client, user="ann", launcher=launched)
    assert launched.calls == [(sched.id, fire.slot)]
    assert (fire.status, fire.fired_by, fire.pipeline_run_id) == ("FIRED", "run-now:ann", None)
    assert abs(fire.slot - time.time()) < 60
    store = PipelineStore(client.store.url)
    assert [(f.slot, f.fired_by) for f in store.list_fires(sched.id)] == [
        (fire.slot, "run-now:ann")]
    events = [(e.action, e.user, e.target_id) for e in client.registry.audit_log()
              if e.target_type == "schedule"]
    assert events[0] == ("schedule.run_now", "ann", str(sched.id))
    # Its run has not registered yet: a second "run now" would overlap, so it is refused.
    with pytest.raises(ConflictError, match="still starting"):
        run_schedule_now("s", client, launcher=launched)
    assert len(launched.calls) == 1 and len(store.list_fires(sched.id)) == 1


def test_run_now_with_overlap_allowed_and_a_failing_launcher(client):
    from jupyter_mlops.pipelines.schedule import run_schedule_now

    sched = _schedule(client, name="o", allow_overlap=True)
    launched = Recorder()
    run_schedule_now("o", client, launcher=launched)
    run_schedule_now(sched.id, client, launcher=launched)
    assert len(launched.calls) == 2

    def broken(sched, slot):
        raise OSError("no such interpreter")

    with pytest.raises(OSError):
        run_schedule_now("o", client, launcher=broken)
    statuses = [f.status for f in PipelineStore(client.store.url).list_fires(sched.id)]
    assert statuses == ["FAILED", "FIRED", "FIRED"]
