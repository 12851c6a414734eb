"""The records of pipelines, pipeline runs, step runs and schedules (no SQLAlchemy here).

Both pipeline stores return these: the SQLAlchemy :class:`~jupyter_mlops.store.pipelines.PipelineStore`
and the stdlib-``sqlite3`` :class:`~jupyter_mlops.store.pipelines_lite.LitePipelineStore`,
so a record never tells which path read it.
"""

from __future__ import annotations

import dataclasses

from jupyter_mlops.errors import NotFoundError
from jupyter_mlops.store.records import Record

PIPELINE_RUN_STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "KILLED")
STEP_STATUSES = ("PENDING", "RUNNING", "SUCCEEDED", "FAILED", "SKIPPED", "CACHED")
FIRE_STATUSES = ("FIRED", "SKIPPED", "FAILED")
CATCHUP_POLICIES = ("none", "latest", "all")
OPTIONS_KEY = "__schedule_options__"


@dataclasses.dataclass(frozen=True)
class PipelineRecord(Record):
    id: int
    name: str
    path: str | None
    spec: dict
    spec_digest: str
    created_at: float
    updated_at: float


@dataclasses.dataclass(frozen=True)
class StepRunRecord(Record):
    id: int
    pipeline_run_id: str
    step: str
    run_id: str | None
    status: str
    attempts: int
    cache_key: str | None
    cached_from: int | None
    #: output name -> {"path", "digest", "size"[, "files": {relative path: digest}]}
    outputs: dict | None
    notebook_digest: str | None
    started_at: float | None
    ended_at: float | None
    error: str | None


@dataclasses.dataclass(frozen=True)
class PipelineRunRecord(Record):
    id: str
    pipeline_id: int
    pipeline: str
    run_id: str | None
    status: str
    parameters: dict | None
    trigger: str
    schedule_id: int | None
    executor: str | None
    started_at: float
    ended_at: float | None
    error: str | None
    steps: list[StepRunRecord] = dataclasses.field(default_factory=list)

    def step(self, name: str) -> StepRunRecord:
        """The record of step ``name`` (raises :class:`NotFoundError` if there is none)."""
        for s in self.steps:
            if s.step == name:
                return s
        raise NotFoundError(f"Pipeline run {self.id} has no step {name!r}.")


@dataclasses.dataclass(frozen=True)
class ScheduleRecord(Record):
    id: int
    name: str
    pipeline_path: str
    cron: str
    timezone: str
    parameters: dict
    paused: bool
    next_fire_at: float | None
    created_by: str
    created_at: float
    catchup: str = "latest"
    max_catchup_age: float | None = None
    allow_overlap: bool = False


@dataclasses.dataclass(frozen=True)
class ScheduleFireRecord(Record):
    schedule_id: int
    slot: float
    fired_at: float
    fired_by: str
    pipeline_run_id: str | None
    status: str
    #: Status of the pipeline run the fire started, when there is one.
    pipeline_status: str | None = None


#: The step-run columns ``update_step`` may set.
STEP_FIELDS = {"run_id", "status", "attempts", "cache_key", "cached_from", "outputs",
               "notebook_digest", "started_at", "ended_at", "error"}
