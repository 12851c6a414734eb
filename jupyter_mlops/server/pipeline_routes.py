"""Pipeline and schedule routes: pipelines, their runs and step states, schedules, history,
pause / resume / run now.

"Run now" records a fire and starts the pipeline in its own process through the pipelines
launch API (:func:`jupyter_mlops.pipelines.schedule.run_schedule_now`); the request returns
as soon as the process is started, and the launch itself happens on a worker thread, never
on the event loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from jupyter_mlops.server.base import MlopsHandler
from jupyter_mlops.server.pipeline_schemas import (
    check_empty_body,
    fire_json,
    pipeline_json,
    pipeline_run_json,
    schedule_json,
)
from jupyter_mlops.server.schemas import check_name_or_number

if TYPE_CHECKING:
    from jupyter_mlops.client import Client

_PIPELINE = r"(?P<pipeline>[^/]+)"
_PIPELINE_RUN = r"(?P<pipeline_run_id>[^/]+)"
_SCHEDULE = r"(?P<schedule>[^/]+)"


class PipelinesHandler(MlopsHandler):
    """Every pipeline with its step graph and latest run."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        def load(client: Client) -> list[dict[str, Any]]:
            from jupyter_mlops.pipelines import api

            out = []
            for p in api.list_pipelines(client=client):
                last = api.list_pipeline_runs(p.name, limit=1, client=client)
                out.append(pipeline_json(p, last[0] if last else None))
            return out

        self.write_json({"pipelines": await self.call(load)})


class PipelineRunsHandler(MlopsHandler):
    """A pipeline's runs, newest first (without steps)."""

    @web.authenticated
    @authorized
    async def get(self, pipeline: str) -> None:
        limit = self.int_arg("limit", 50, 1, 1000)

        def load(client: Client) -> dict[str, Any]:
            from jupyter_mlops.pipelines import api

            p = api.get_pipeline(pipeline, client=client)  # 404 for an unknown pipeline
            runs = api.list_pipeline_runs(p.name, limit=limit, client=client)
            return {"pipeline": p.name, "runs": [pipeline_run_json(r) for r in runs]}

        self.write_json(await self.call(load))


class PipelineRunHandler(MlopsHandler):
    """One pipeline run (a unique id prefix is enough) with its steps and DAG edges."""

    @web.authenticated
    @authorized
    async def get(self, pipeline_run_id: str) -> None:
        def load(client: Client) -> dict[str, Any]:
            from jupyter_mlops.pipelines import api

            run = api.get_pipeline_run(pipeline_run_id, client=client)
            spec = api.get_pipeline(run.pipeline_id, client=client).spec
            return pipeline_run_json(run, spec)

        self.write_json(await self.call(load))


class SchedulesHandler(MlopsHandler):
    """Every schedule with its latest fire."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        def load(client: Client) -> list[dict[str, Any]]:
            from jupyter_mlops.pipelines import schedule

            out = []
            for s in schedule.list_schedules(client=client):
                last = schedule.schedule_history(s.id, limit=1, client=client)
                out.append(schedule_json(s, last[0] if last else None))
            return out

        self.write_json({"schedules": await self.call(load)})


class ScheduleHistoryHandler(MlopsHandler):
    """A schedule and its newest fires: FIRED / SKIPPED / FAILED with the run's status."""

    @web.authenticated
    @authorized
    async def get(self, schedule: str) -> None:
        schedule = check_name_or_number(schedule, "schedule")
        limit = self.int_arg("limit", 50, 1, 1000)

        def load(client: Client) -> dict[str, Any]:
            from jupyter_mlops.pipelines import schedule as sched_api

            s = sched_api.get_schedule(schedule, client=client)
            fires = sched_api.schedule_history(s.id, limit=limit, client=client)
            return {"schedule": schedule_json(s), "fires": [fire_json(f) for f in fires]}

        self.write_json(await self.call(load))


class _ScheduleActionHandler(MlopsHandler):
    action = ""

    def act(self, client: Client, schedule: str, user: str) -> dict[str, Any]:
        raise NotImplementedError

    @web.authenticated
    @authorized
    async def post(self, schedule: str) -> None:
        schedule = check_name_or_number(schedule, "schedule")
        check_empty_body(self.json_body(), f"POST schedules/<name>/{self.action}")
        user = self.acting_user
        result = await self.call(self.act, schedule, user)
        self.write_json(result, status=202 if self.action == "run" else 200)


class PauseScheduleHandler(_ScheduleActionHandler):
    """Stop firing the schedule's cron slots until resumed (audited)."""

    action = "pause"

    def act(self, client: Client, schedule: str, user: str) -> dict[str, Any]:
        from jupyter_mlops.pipelines.schedule import pause_schedule

        return schedule_json(pause_schedule(schedule, client, user=user))


class ResumeScheduleHandler(_ScheduleActionHandler):
    """Fire again from the next slot after now (slots missed while paused never fire)."""

    action = "resume"

    def act(self, client: Client, schedule: str, user: str) -> dict[str, Any]:
        from jupyter_mlops.pipelines.schedule import resume_schedule

        return schedule_json(resume_schedule(schedule, client, user=user))


class RunScheduleNowHandler(_ScheduleActionHandler):
    """Fire once now in a new process; 202 with the recorded fire (409 if still running)."""

    action = "run"

    def act(self, client: Client, schedule: str, user: str) -> dict[str, Any]:
        from jupyter_mlops.pipelines.schedule import get_schedule, run_schedule_now

        fire = run_schedule_now(schedule, client, user=user)
        return {"schedule": schedule_json(get_schedule(fire.schedule_id, client)),
                "fire": fire_json(fire)}


ROUTES: list[tuple[str, type[MlopsHandler]]] = [
    ("pipelines", PipelinesHandler),
    (rf"pipelines/{_PIPELINE}/runs", PipelineRunsHandler),
    (rf"pipeline-runs/{_PIPELINE_RUN}", PipelineRunHandler),
    ("schedules", SchedulesHandler),
    (rf"schedules/{_SCHEDULE}/history", ScheduleHistoryHandler),
    (rf"schedules/{_SCHEDULE}/pause", PauseScheduleHandler),
    (rf"schedules/{_SCHEDULE}/resume", ResumeScheduleHandler),
    (rf"schedules/{_SCHEDULE}/run", RunScheduleNowHandler),
]
