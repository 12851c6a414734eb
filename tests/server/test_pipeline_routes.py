"""Pipeline and schedule routes: pipelines, runs with step states, schedules, history,
pause / resume / run now (run now for real: a detached process runs the pipeline)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def post(body=None) -> dict:
    return {"method": "POST", "body": json.dumps(body) if isinstance(body, dict) else (body or b"")}


async def test_pipelines_list_with_steps_and_last_run(api, pipeline_seed):
    status, body = await api("pipelines")
    assert status == 200
    (p,) = body["pipelines"]
    assert p["name"] == "train-churn" and p["path"] == str(pipeline_seed.path)
    assert [(s["name"], s["depends_on"]) for s in p["steps"]] == [
        ("prepare", []), ("train_a", ["prepare"]), ("train_b", ["prepare"]),
        ("evaluate", ["train_a", "train_b"])]
    assert p["parameters"] == {"rows": 10, "fail": False}
    assert p["last_run"]["id"] == pipeline_seed.run_id
    assert p["last_run"]["status"] == "FAILED"


async def test_empty_store_has_no_pipelines_or_schedules(api, mlops_store):
    assert await api("pipelines") == (200, {"pipelines": []})
    assert await api("schedules") == (200, {"schedules": []})


async def test_pipeline_runs(api, pipeline_seed):
    status, body = await api("pipelines", "train-churn", "runs")
    assert status == 200 and body["pipeline"] == "train-churn"
    (run,) = body["runs"]
    assert run["id"] == pipeline_seed.run_id and run["trigger"] == "manual"
    assert run["error"] == "step train_b failed" and "steps" not in run
    status, body = await api("pipelines", "nope", "runs")
    assert status == 404 and "no pipeline 'nope'" in body["error"]["message"]
    status, body = await api("pipelines", "train-churn", "runs", params={"limit": 0})
    assert status == 400


async def test_pipeline_run_steps_and_dag(api, pipeline_seed):
    status, body = await api("pipeline-runs", pipeline_seed.run_id[:10])  # a prefix will do
    assert status == 200
    assert body["id"] == pipeline_seed.run_id and body["pipeline"] == "train-churn"
    steps = {s["step"]: s for s in body["steps"]}
    assert [s["step"] for s in body["steps"]] == ["prepare", "train_a", "train_b", "evaluate"]
    assert steps["prepare"]["status"] == "CACHED" and steps["prepare"]["cache_hit"] is True
    assert steps["prepare"]["cached_from"] == 1
    assert steps["train_a"]["cache_hit"] is False and steps["train_a"]["attempts"] == 1
    assert steps["train_a"]["duration"] == pytest.approx(2.5)
    assert steps["train_a"]["started_at"] == 100.0 and steps["train_a"]["ended_at"] == 102.5
    assert steps["train_b"]["status"] == "FAILED" and steps["train_b"]["attempts"] == 2
    assert steps["train_b"]["error"] == "ValueError: C must be positive (cell 2)"
    assert steps["train_b"]["run_id"] == pipeline_seed.step_runs["train_b"]
    assert steps["evaluate"]["status"] == "SKIPPED" and steps["evaluate"]["run_id"] is None
    assert sorted((e["src"], e["dst"]) for e in body["edges"]) == [
        ("prepare", "train_a"), ("prepare", "train_b"),
        ("train_a", "evaluate"), ("train_b", "evaluate")]


async def test_pipeline_run_404_and_400(api, pipeline_seed):
    status, body = await api("pipeline-runs", "f" * 32)
    assert status == 404 and body["error"]["type"] == "NotFoundError"
    status, body = await api("pipeline-runs", "not-an-id")
    assert status == 400 and "not a pipeline run id" in body["error"]["message"]


async def test_schedules_and_history(api, pipeline_seed):
    status, body = await api("schedules")
    assert status == 200
    (s,) = body["schedules"]
    assert s["name"] == "nightly" and s["cron"] == "0 3 * * *"
    assert s["timezone"] == "Europe/Berlin" and s["paused"] is False
    assert s["pipeline_path"] == str(pipeline_seed.path)
    assert s["next_fire_at"] > time.time()
    assert s["last_fire"]["status"] == "SKIPPED" and s["last_fire"]["manual"] is False
    status, body = await api("schedules", "nightly", "history")
    assert status == 200 and body["schedule"]["name"] == "nightly"
    assert [(f["slot"], f["status"], f["fired_by"]) for f in body["fires"]] == [
        (1_700_000_000.0, "SKIPPED", "host:1")]
    # By id as well as by name.
    status, body = await api("schedules", str(pipeline_seed.schedule_id), "history")
    assert status == 200 and body["schedule"]["name"] == "nightly"


async def test_pause_and_resume(api, pipeline_seed, registry):
    status, body = await api("schedules", "nightly", "pause", **post())
    assert status == 200 and body["paused"] is True
    status, body = await api("schedules")
    assert body["schedules"][0]["paused"] is True
    status, body = await api("schedules", "nightly", "resume", **post({}))
    assert status == 200 and body["paused"] is False and body["next_fire_at"] > time.time()
    audit = [(e.action, e.user) for e in registry.audit_log() if e.target_type == "schedule"]
    assert audit == [("schedule.resume", "tester"), ("schedule.pause", "tester"),
                     ("schedule.add", "tester")]


async def test_schedule_actions_404_and_bad_bodies(api, pipeline_seed):
    for action in ("pause", "resume", "run"):
        status, body = await api("schedules", "nope", action, **post())
        assert status == 404, action
        assert "no schedule 'nope'" in body["error"]["message"]
    status, body = await api("schedules", "nope", "history")
    assert status == 404
    status, body = await api("schedules", "nightly", "pause", **post({"paused": True}))
    assert status == 400 and "takes no fields" in body["error"]["message"]
    status, body = await api("schedules", "nightly", "run", **post(b"{oops"))
    assert status == 400
    status, body = await api("schedules")
    assert body["schedules"][0]["paused"] is False
    assert body["schedules"][0]["last_fire"]["status"] == "SKIPPED"  # nothing was fired


async def wait_for_fire(api, schedule: str, done=("SUCCEEDED", "FAILED"), timeout=120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        _, body = await api("schedules", schedule, "history")
        fire = body["fires"][0] if body["fires"] else None
        if fire and fire["pipeline_status"] in done:
            return fire
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.5)


@pytest.mark.slow
async def test_schedule_run_now(api, pipeline_seed, monkeypatch):
    # The launched process (and its kernels) import this checkout.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    await api("schedules", "nightly", "pause", **post())  # run now works while paused
    status, body = await api("schedules", "nightly", "run", **post())
    # 202 with no pipeline run yet: the route returned once the process was started,
    # without waiting for the pipeline.
    assert status == 202, body
    fire = body["fire"]
    assert fire["status"] == "FIRED" and fire["manual"] is True
    assert fire["fired_by"] == "run-now:tester" and fire["pipeline_run_id"] is None
    assert body["schedule"]["paused"] is True

    # A second "run now" while the first is starting or running is refused.
    status, again = await api("schedules", "nightly", "run", **post())
    assert status == 409 and "does not allow overlapping runs" in again["error"]["message"]

    fire = await wait_for_fire(api, "nightly")
    assert fire["pipeline_status"] == "SUCCEEDED", fire
    status, run = await api("pipeline-runs", fire["pipeline_run_id"])
    assert run["trigger"] == "schedule" and run["schedule_id"] == pipeline_seed.schedule_id
    assert {s["step"]: s["status"] for s in run["steps"]} == {
        "prepare": "SUCCEEDED", "train_a": "SUCCEEDED", "train_b": "SUCCEEDED",
        "evaluate": "SUCCEEDED"}
    assert all(s["run_id"] for s in run["steps"])
    status, body = await api("schedules", "nightly", "history")
    assert [f["status"] for f in body["fires"]] == ["FIRED", "SKIPPED"]
    assert body["schedule"]["paused"] is True  # the cron slots stay paused
