"""Contract of the pipeline store: pipelines, their runs and step runs, schedules and fires."""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the records live beside their implementation, which imports this module
    from jupyter_mlops.store.pipelines import (
        PipelineRecord,
        PipelineRunRecord,
        ScheduleFireRecord,
        ScheduleRecord,
        StepRunRecord,
    )


class AbstractPipelineStore(abc.ABC):
    """Pipelines (named specs), their runs with one step run per step, and cron schedules.

    Reading anything by a name, id or run id that is not stored is a
    :class:`~jupyter_mlops.errors.NotFoundError`; the writers the runner and the scheduler call
    on ids they were just given (``finish_pipeline_run``, ``update_step``, ``update_fire``,
    ``set_next_fire``) change nothing for an unknown id.
    """

    # ----------------------------------------------------------------- pipelines
    @abc.abstractmethod
    def save_pipeline(self, name: str, spec: dict, spec_digest: str,
                      path: str | None) -> PipelineRecord:
        """Create pipeline ``name`` or replace its spec; return the stored record."""

    @abc.abstractmethod
    def get_pipeline(self, name_or_id: str | int) -> PipelineRecord:
        """One pipeline by name or id."""

    @abc.abstractmethod
    def list_pipelines(self) -> list[PipelineRecord]:
        """Every pipeline, ordered by name."""

    # ----------------------------------------------------------------- pipeline runs
    @abc.abstractmethod
    def create_pipeline_run(self, pipeline_id: int, steps: list[str], *, run_id: str | None,
                            parameters: dict | None, trigger: str, executor: str | None,
                            schedule_id: int | None = None,
                            pipeline_run_id: str | None = None) -> str:
        """Insert a RUNNING pipeline run with one PENDING step run per step; return its id."""

    @abc.abstractmethod
    def finish_pipeline_run(self, pipeline_run_id: str, status: str,
                            error: str | None = None) -> None:
        """End a pipeline run with ``status`` (and the error that ended it)."""

    @abc.abstractmethod
    def update_step(self, pipeline_run_id: str, step: str, **fields: Any) -> None:
        """Set fields of one step run (``status``, ``run_id``, ``outputs``…)."""

    @abc.abstractmethod
    def get_pipeline_run(self, pipeline_run_id: str) -> PipelineRunRecord:
        """One pipeline run with its steps; a unique prefix of the id is enough."""

    @abc.abstractmethod
    def list_pipeline_runs(self, pipeline: str | None = None, limit: int = 50,
                           schedule_id: int | None = None) -> list[PipelineRunRecord]:
        """Pipeline runs newest first, at most ``limit``, without step details."""

    @abc.abstractmethod
    def step_of_run(self, run_id: str) -> tuple[StepRunRecord, str] | None:
        """The step run whose latest attempt is tracked run ``run_id``, with its pipeline's path; or None."""

    @abc.abstractmethod
    def find_cached_step(self, cache_key: str) -> StepRunRecord | None:
        """The newest SUCCEEDED step run with this cache key, or None."""

    @abc.abstractmethod
    def reap_pipeline_runs(self) -> list[str]:
        """Mark KILLED the RUNNING pipeline runs whose tracked run ended; return their ids."""

    # ----------------------------------------------------------------- schedules
    @abc.abstractmethod
    def add_schedule(self, *, name: str, pipeline_path: str, cron: str, timezone: str,
                     parameters: dict, created_by: str, next_fire_at: float | None,
                     catchup: str = "latest", max_catchup_age: float | None = None,
                     allow_overlap: bool = False) -> ScheduleRecord:
        """Create schedule ``name`` (AlreadyExistsError if the name is taken); audited."""

    @abc.abstractmethod
    def get_schedule(self, name_or_id: str | int) -> ScheduleRecord:
        """One schedule by name or id."""

    @abc.abstractmethod
    def list_schedules(self) -> list[ScheduleRecord]:
        """Every schedule, ordered by name."""

    @abc.abstractmethod
    def set_paused(self, name_or_id: str | int, paused: bool, user: str,
                   next_fire_at: float | None = None) -> ScheduleRecord:
        """Pause, or resume with a fresh ``next_fire_at`` (slots missed while paused never fire)."""

    @abc.abstractmethod
    def remove_schedule(self, name_or_id: str | int, user: str) -> None:
        """Delete a schedule and its fires; audited."""

    @abc.abstractmethod
    def set_next_fire(self, schedule_id: int, next_fire_at: float | None,
                      only_if_before: bool = False) -> None:
        """Set a schedule's next slot; with ``only_if_before``, only ever move it forward."""

    @abc.abstractmethod
    def due_schedules(self, at: float) -> list[ScheduleRecord]:
        """Unpaused schedules whose next slot is at or before ``at``."""

    @abc.abstractmethod
    def claim_slot(self, schedule_id: int, slot: float, fired_by: str,
                   status: str = "FIRED") -> bool:
        """Insert the fire row for ``(schedule_id, slot)``; False if another scheduler already has it."""

    @abc.abstractmethod
    def fire_now(self, schedule_id: int, slot: float, user: str) -> ScheduleFireRecord:
        """Record a fire asked for by ``user`` outside the cron slots, with its audit event."""

    @abc.abstractmethod
    def claim_slots(self, schedule_id: int, slots: list[float], fired_by: str,
                    status: str) -> int:
        """Claim many slots with one status; return how many were not claimed before."""

    @abc.abstractmethod
    def update_fire(self, schedule_id: int, slot: float, *, status: str | None = None,
                    pipeline_run_id: str | None = None) -> None:
        """Set the status or pipeline run of one fire."""

    @abc.abstractmethod
    def list_fires(self, schedule_id: int, limit: int = 100) -> list[ScheduleFireRecord]:
        """A schedule's fires, newest slot first, with the status of the run each started."""

    @abc.abstractmethod
    def running_pipeline_runs(self, schedule_id: int) -> list[str]:
        """Ids of pipeline runs this schedule started that are still RUNNING."""
