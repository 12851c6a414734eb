"""The pipelines facet: run, list, show, schedule and reproduce pipeline runs on one store.

A thin face over the pipelines component (``pipelines/runner.py``, ``api.py``,
``schedule.py``, ``scheduler.py``, ``reproduce.py``), which receives this facet's Client and
so records into the Client's store, never the process default.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jupyter_mlops.client.core import Client
    from jupyter_mlops.pipelines.reproduce import ReproduceReport
    from jupyter_mlops.pipelines.scheduler import Scheduler
    from jupyter_mlops.pipelines.spec import Pipeline
    from jupyter_mlops.store.pipelines import (
        PipelineRecord,
        PipelineRunRecord,
        ScheduleFireRecord,
        ScheduleRecord,
    )


class PipelinesClient:
    """``client.pipelines``: pipeline runs, pipelines, schedules and reproductions."""

    def __init__(self, client: Client):
        self._client = client

    # ------------------------------------------------------------------ running
    def run(self, pipeline: Pipeline | str | Path,
            parameters: Mapping[str, Any] | None = None, **options: Any) -> PipelineRunRecord:
        """Run every step and record it (options as in
        :func:`jupyter_mlops.pipelines.runner.run_pipeline`)."""
        from jupyter_mlops.pipelines.runner import run_pipeline

        return run_pipeline(pipeline, parameters, client=self._client, **options)

    def reproduce(self, run_id: str, **options: Any) -> ReproduceReport:
        """Re-execute a run from its notebook snapshot and compare its metrics (options as in
        :func:`jupyter_mlops.pipelines.reproduce.reproduce`)."""
        from jupyter_mlops.pipelines.reproduce import reproduce

        return reproduce(run_id, client=self._client, **options)

    # ------------------------------------------------------------------ reading back
    def list_runs(self, pipeline: str | None = None, limit: int = 50) -> list[PipelineRunRecord]:
        """Newest pipeline runs first (without step details), optionally of one pipeline."""
        from jupyter_mlops.pipelines.api import list_pipeline_runs

        return list_pipeline_runs(pipeline, limit, client=self._client)

    def get_run(self, pipeline_run_id: str) -> PipelineRunRecord:
        """One pipeline run with its steps (a unique id prefix is enough)."""
        from jupyter_mlops.pipelines.api import get_pipeline_run

        return get_pipeline_run(pipeline_run_id, self._client)

    def list(self) -> list[PipelineRecord]:
        """Every pipeline that has run in this store, by name."""
        from jupyter_mlops.pipelines.api import list_pipelines

        return list_pipelines(self._client)

    def get(self, name: str | int) -> PipelineRecord:
        """One pipeline by name or id."""
        from jupyter_mlops.pipelines.api import get_pipeline

        return get_pipeline(name, self._client)

    # ------------------------------------------------------------------ schedules
    def add_schedule(self, pipeline: str | Path, cron: str, **options: Any) -> ScheduleRecord:
        """Schedule a pipeline file (options as in
        :func:`jupyter_mlops.pipelines.schedule.add_schedule`)."""
        from jupyter_mlops.pipelines.schedule import add_schedule

        return add_schedule(pipeline, cron, client=self._client, **options)

    def list_schedules(self) -> list[ScheduleRecord]:
        from jupyter_mlops.pipelines.schedule import list_schedules

        return list_schedules(self._client)

    def get_schedule(self, name: str | int) -> ScheduleRecord:
        from jupyter_mlops.pipelines.schedule import get_schedule

        return get_schedule(name, self._client)

    def pause_schedule(self, name: str | int, *, user: str | None = None) -> ScheduleRecord:
        from jupyter_mlops.pipelines.schedule import pause_schedule

        return pause_schedule(name, self._client, user=user)

    def resume_schedule(self, name: str | int, *, user: str | None = None) -> ScheduleRecord:
        from jupyter_mlops.pipelines.schedule import resume_schedule

        return resume_schedule(name, self._client, user=user)

    def run_schedule_now(self, name: str | int, *, user: str | None = None,
                         launcher: Any = None) -> ScheduleFireRecord:
        from jupyter_mlops.pipelines.schedule import run_schedule_now

        return run_schedule_now(name, self._client, user=user, launcher=launcher)

    def remove_schedule(self, name: str | int) -> None:
        from jupyter_mlops.pipelines.schedule import remove_schedule

        remove_schedule(name, self._client)

    def schedule_history(self, name: str | int, limit: int = 50) -> list[ScheduleFireRecord]:
        from jupyter_mlops.pipelines.schedule import schedule_history

        return schedule_history(name, limit, client=self._client)

    def scheduler(self, **options: Any) -> Scheduler:
        """A :class:`~jupyter_mlops.pipelines.scheduler.Scheduler` firing this store's
        schedules (``.start()`` runs it in a thread, ``.run_forever()`` in this one)."""
        from jupyter_mlops.pipelines.scheduler import Scheduler

        return Scheduler(self._client, **options)
