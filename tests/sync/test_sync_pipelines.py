"""Pipelines in a sync (laptop SQLite -> team SQLite or PostgreSQL, both real): definitions,
pipeline runs with their step runs (and the blobs they point at), schedules (arriving
paused) and fires; a rerun adds nothing; an ended pipeline run is never overwritten; a spec
changed on both sides is a conflict."""

from __future__ import annotations

from jupyter_mlops.store.pipelines import PipelineStore
from jupyter_mlops.store.sync import sync_stores
from tests.sync.conftest import Side


def push(local: Side, team: Side, **kw):
    return sync_stores(local.url, team.url, local.root, team.root, **kw)


def pull(team: Side, local: Side, **kw):
    return sync_stores(team.url, local.url, team.root, local.root, **kw)


def _pipeline_run(side: Side, *, finish: bool = True, cached: bool = False) -> str:
    """A two-step pipeline run as the runner records it: a tracked run, step runs with an
    executed notebook and an output blob (``cached``: the second step reuses the first's)."""
    p = PipelineStore(side.url)
    pipe = p.save_pipeline("train", {"steps": ["prep", "fit"]}, "a" * 64, "/laptop/p.yaml")
    rid = side.run("pipeline-run", end=False)
    prid = p.create_pipeline_run(pipe.id, ["prep", "fit"], run_id=rid, parameters={"n": 1},
                                 trigger="manual", executor="local")
    blobs = side.client.store.blobs
    nb = blobs.put_bytes(b'{"cells": []}').digest
    out = blobs.put_bytes(b"prepared rows").digest
    p.update_step(prid, "prep", status="SUCCEEDED", run_id=rid, attempts=1, cache_key="c" * 64,
                  outputs={"rows": {"path": "rows.csv", "digest": out, "size": 13}},
                  notebook_digest=nb, started_at=1.0, ended_at=2.0)
    if finish:
        first = p.get_pipeline_run(prid).steps[0].id
        p.update_step(prid, "fit", status="CACHED" if cached else "SUCCEEDED", attempts=1,
                      cached_from=first if cached else None, started_at=2.0, ended_at=3.0)
        p.finish_pipeline_run(prid, "SUCCEEDED")
        side.client.end_run(rid)
    return prid


def _view(side: Side, prid: str) -> tuple:
    run = PipelineStore(side.url).get_pipeline_run(prid)
    return (run.pipeline, run.status, run.run_id, run.parameters, run.trigger,
            [(s.step, s.status, s.run_id, s.outputs, s.notebook_digest, s.cache_key,
              s.cached_from is not None) for s in run.steps])


def test_pipeline_runs_and_their_blobs_reach_the_team(laptop, target):
    prid = _pipeline_run(laptop, cached=True)
    report = push(laptop, target)
    c = report.counts
    assert (c["pipelines"], c["pipeline_runs"], c["step_runs"]) == (1, 1, 2)
    assert not report.conflicts
    assert "1 pipeline runs" in report.summary()
    assert _view(target, prid) == _view(laptop, prid)
    fit = PipelineStore(target.url).get_pipeline_run(prid).steps
    assert fit[1].cached_from == fit[0].id  # rewritten to the team's step id
    hit = PipelineStore(target.url).find_cached_step("c" * 64)  # a cache hit there too
    assert hit is not None and target.client.store.blobs.exists(hit.outputs["rows"]["digest"])
    again = push(laptop, target)
    assert sum(again.counts.values()) == 0 and not again.conflicts
    assert sum(pull(target, laptop).counts.values()) == 0


def test_a_running_pipeline_run_is_finished_by_a_later_sync_never_overwritten(laptop, target):
    p = PipelineStore(laptop.url)
    prid = _pipeline_run(laptop, finish=False)
    push(laptop, target)
    assert _view(target, prid)[1] == "RUNNING"
    p.update_step(prid, "fit", status="SUCCEEDED", attempts=1, started_at=2.0, ended_at=3.0)
    p.finish_pipeline_run(prid, "SUCCEEDED")
    report = push(laptop, target)
    assert report.counts["pipeline_runs_updated"] == 1
    assert _view(target, prid) == _view(laptop, prid)
    # Ended at both with different statuses: the team's is kept, one conflict line.
    PipelineStore(target.url).finish_pipeline_run(prid, "FAILED", "stopped by the team")
    back = pull(target, laptop)
    (line,) = back.conflicts
    assert f"pipeline run {prid[:8]}" in line and "never overwritten" in line
    assert _view(laptop, prid)[1] == "SUCCEEDED"


def test_a_pipeline_spec_follows_the_side_that_changed_it(laptop, target):
    p, t = PipelineStore(laptop.url), PipelineStore(target.url)
    p.save_pipeline("train", {"v": 1}, "1" * 64, None)
    push(laptop, target)
    p.save_pipeline("train", {"v": 2}, "2" * 64, None)  # changed on the laptop only
    assert push(laptop, target).counts["pipelines"] == 1
    assert t.get_pipeline("train").spec == {"v": 2}
    t.save_pipeline("train", {"v": 3}, "3" * 64, None)  # changed on the team only
    report = push(laptop, target)
    assert t.get_pipeline("train").spec == {"v": 3} and not report.conflicts
    pull(target, laptop)
    assert p.get_pipeline("train").spec == {"v": 3}
    p.save_pipeline("train", {"v": 4}, "4" * 64, None)  # both now
    t.save_pipeline("train", {"v": 5}, "5" * 64, None)
    report = push(laptop, target)
    assert t.get_pipeline("train").spec == {"v": 5}
    assert any("pipeline 'train': its spec changed on both sides" in c
               for c in report.conflicts)


def test_schedules_arrive_paused_with_their_fires(laptop, target):
    p = PipelineStore(laptop.url)
    s = p.add_schedule(name="nightly", pipeline_path="/laptop/p.yaml", cron="0 2 * * *",
                       timezone="UTC", parameters={"n": 2}, created_by="ada",
                       next_fire_at=100.0, catchup="all")
    assert p.claim_slot(s.id, 50.0, "laptop-scheduler")
    report = push(laptop, target)
    assert report.counts["schedules"] == 1 and report.counts["schedule_fires"] == 1
    assert any("arrived paused" in n and "schedule resume" in n for n in report.notes)
    there = PipelineStore(target.url).get_schedule("nightly")
    assert there.paused and there.next_fire_at is None
    assert (there.cron, there.parameters, there.catchup) == ("0 2 * * *", {"n": 2}, "all")
    # The slot the laptop fired is claimed there too: the team's scheduler skips it.
    assert not PipelineStore(target.url).claim_slot(there.id, 50.0, "team-scheduler")
    assert sum(push(laptop, target).counts.values()) == 0
    assert sum(pull(target, laptop).counts.values()) == 0
