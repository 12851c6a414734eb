"""Pipelines, their runs and step runs, schedules and schedule fires: the store side of C3.

Rows never leave this module: callers get the frozen records of
:mod:`~jupyter_mlops.store.pipeline_records` (re-exported here). A schedule slot is
claimed by inserting its ``(schedule_id, slot)`` primary key, so when two schedulers watch one
store exactly one insert wins and only that scheduler launches the pipeline.

Schedule options the schema has no column for yet (catch-up policy, its maximum age, whether
runs may overlap) travel in the ``schedules.parameters`` JSON under :data:`OPTIONS_KEY`; this
module strips them out again, so no caller ever sees that key.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from jupyter_mlops.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from jupyter_mlops.store.engine import now, read_connection, write_connection
from jupyter_mlops.store.interfaces import AbstractPipelineStore
from jupyter_mlops.store.orm import (
    AuditEvent,
    Pipeline,
    PipelineRun,
    Run,
    Schedule,
    ScheduleFire,
    StepRun,
)
from jupyter_mlops.store.pipeline_records import (  # noqa: F401 (re-exported)
    CATCHUP_POLICIES,
    FIRE_STATUSES,
    OPTIONS_KEY,
    PIPELINE_RUN_STATUSES,
    STEP_FIELDS,
    STEP_STATUSES,
    PipelineRecord,
    PipelineRunRecord,
    ScheduleFireRecord,
    ScheduleRecord,
    StepRunRecord,
)
from jupyter_mlops.validation import ascii_digits, check_int64, parse_int

def _step(row) -> StepRunRecord:
    return StepRunRecord(row.id, row.pipeline_run_id, row.step, row.run_id, row.status,
                         row.attempts, row.cache_key, row.cached_from, row.outputs,
                         row.notebook_digest, row.started_at, row.ended_at, row.error)


def _schedule(row) -> ScheduleRecord:
    params = dict(row.parameters or {})
    opts = params.pop(OPTIONS_KEY, None) or {}
    return ScheduleRecord(
        row.id, row.name, row.pipeline_path, row.cron, row.timezone, params, bool(row.paused),
        row.next_fire_at, row.created_by, row.created_at,
        catchup=opts.get("catchup", "latest"), max_catchup_age=opts.get("max_catchup_age"),
        allow_overlap=bool(opts.get("allow_overlap", False)))


class PipelineStore(AbstractPipelineStore):
    """Pipeline and schedule reads and writes against one store URL."""

    def __init__(self, url: str):
        self.url = url

    # ----------------------------------------------------------------- pipelines
    def save_pipeline(self, name: str, spec: dict, spec_digest: str,
                      path: str | None) -> PipelineRecord:
        """Create the pipeline ``name`` or update its spec; return the stored record."""
        t = now()
        with write_connection(self.url) as conn:
            row = conn.execute(select(Pipeline.id).where(Pipeline.name == name)).first()
            if row is None:
                conn.execute(Pipeline.__table__.insert().values(
                    name=name, path=path, spec=spec, spec_digest=spec_digest, created_at=t,
                    updated_at=t))
            else:
                conn.execute(update(Pipeline).where(Pipeline.id == row.id).values(
                    path=path, spec=spec, spec_digest=spec_digest, updated_at=t))
        return self.get_pipeline(name)

    def get_pipeline(self, name_or_id: str | int) -> PipelineRecord:
        cond = (Pipeline.id == name_or_id) if isinstance(name_or_id, int) \
            else (Pipeline.name == name_or_id)
        with read_connection(self.url) as conn:
            row = conn.execute(select(Pipeline).where(cond)).first()
        if row is None:
            raise NotFoundError(f"There is no pipeline {name_or_id!r}. Run one with "
                                "`jupyter mlops pipeline run pipeline.yaml`.")
        return PipelineRecord(row.id, row.name, row.path, row.spec, row.spec_digest,
                              row.created_at, row.updated_at)

    def list_pipelines(self) -> list[PipelineRecord]:
        with read_connection(self.url) as conn:
            rows = conn.execute(select(Pipeline).order_by(Pipeline.name)).all()
        return [PipelineRecord(r.id, r.name, r.path, r.spec, r.spec_digest, r.created_at,
                               r.updated_at) for r in rows]

    # ----------------------------------------------------------------- pipeline runs
    def create_pipeline_run(self, pipeline_id: int, steps: list[str], *, run_id: str | None,
                            parameters: dict | None, trigger: str, executor: str | None,
                            schedule_id: int | None = None,
                            pipeline_run_id: str | None = None) -> str:
        """Insert a RUNNING pipeline run with one PENDING step run per step; return its id."""
        prid = pipeline_run_id or uuid.uuid4().hex
        t = now()
        with write_connection(self.url) as conn:
            conn.execute(PipelineRun.__table__.insert().values(
                id=prid, pipeline_id=pipeline_id, run_id=run_id, status="RUNNING",
                parameters=parameters, trigger=trigger, schedule_id=schedule_id,
                executor=executor, started_at=t))
            conn.execute(StepRun.__table__.insert(), [
                {"pipeline_run_id": prid, "step": s, "status": "PENDING", "attempts": 0}
                for s in steps])
        return prid

    def finish_pipeline_run(self, pipeline_run_id: str, status: str,
                            error: str | None = None) -> None:
        if status not in PIPELINE_RUN_STATUSES or status == "RUNNING":
            raise InvalidInputError(f"Unknown end status {status!r} for a pipeline run.")
        with write_connection(self.url) as conn:
            conn.execute(update(PipelineRun).where(PipelineRun.id == pipeline_run_id).values(
                status=status, ended_at=now(), error=error))

    def update_step(self, pipeline_run_id: str, step: str, **fields: Any) -> None:
        """Set columns of one step run (``status``, ``run_id``, ``outputs``…)."""
        unknown = set(fields) - STEP_FIELDS
        if unknown:
            raise InvalidInputError(f"Step runs have no field(s) {sorted(unknown)}.")
        if "status" in fields and fields["status"] not in STEP_STATUSES:
            raise InvalidInputError(f"Unknown step status {fields['status']!r}.")
        with write_connection(self.url) as conn:
            conn.execute(update(StepRun).where(StepRun.pipeline_run_id == pipeline_run_id,
                                               StepRun.step == step).values(**fields))

    def get_pipeline_run(self, pipeline_run_id: str) -> PipelineRunRecord:
        """One pipeline run with its steps; a unique prefix of the id is enough."""
        if not isinstance(pipeline_run_id, str) or not pipeline_run_id.isalnum():
            raise InvalidInputError(f"{pipeline_run_id!r} is not a pipeline run id.")
        with read_connection(self.url) as conn:
            row = conn.execute(select(PipelineRun.__table__, Pipeline.name.label("pipeline_name"))
                               .join(Pipeline, Pipeline.id == PipelineRun.pipeline_id)
                               .where(PipelineRun.id.like(f"{pipeline_run_id}%"))
                               .limit(2)).all()
            if len(row) != 1:
                if row:
                    raise InvalidInputError(
                        f"{pipeline_run_id!r} matches several pipeline runs; give more of the id.")
                raise NotFoundError(f"There is no pipeline run {pipeline_run_id!r}. List them "
                                    "with `jupyter mlops pipeline list`.")
            pr = row[0]
            steps = conn.execute(select(StepRun).where(StepRun.pipeline_run_id == pr.id)
                                 .order_by(StepRun.id)).all()
            return self._pipeline_run(pr, pr.pipeline_name, [_step(s) for s in steps])

    @staticmethod
    def _pipeline_run(pr, name: str, steps: list[StepRunRecord]) -> PipelineRunRecord:
        return PipelineRunRecord(pr.id, pr.pipeline_id, name, pr.run_id, pr.status,
                                 pr.parameters, pr.trigger, pr.schedule_id, pr.executor,
                                 pr.started_at, pr.ended_at, pr.error, steps)

    def list_pipeline_runs(self, pipeline: str | None = None, limit: int = 50,
                           schedule_id: int | None = None) -> list[PipelineRunRecord]:
        """Newest first, without step details."""
        stmt = (select(PipelineRun.__table__, Pipeline.name.label("pipeline_name"))
                .join(Pipeline, Pipeline.id == PipelineRun.pipeline_id)
                .order_by(PipelineRun.started_at.desc()).limit(max(1, min(limit, 10_000))))
        if pipeline:
            stmt = stmt.where(Pipeline.name == pipeline)
        if schedule_id is not None:
            stmt = stmt.where(PipelineRun.schedule_id == schedule_id)
        with read_connection(self.url) as conn:
            rows = conn.execute(stmt).all()
        return [self._pipeline_run(pr, pr.pipeline_name, []) for pr in rows]

    def step_of_run(self, run_id: str) -> tuple[StepRunRecord, str] | None:
        """The step run (and its pipeline's path) whose latest attempt is ``run_id``."""
        with read_connection(self.url) as conn:
            row = conn.execute(select(StepRun).where(StepRun.run_id == run_id)).first()
            if row is None:
                return None
            path = conn.execute(select(Pipeline.path).join(
                PipelineRun, PipelineRun.pipeline_id == Pipeline.id).where(
                PipelineRun.id == row.pipeline_run_id)).scalar()
        return _step(row), path

    def find_cached_step(self, cache_key: str) -> StepRunRecord | None:
        """The newest SUCCEEDED step run with this cache key (the index covers the lookup)."""
        with read_connection(self.url) as conn:
            row = conn.execute(select(StepRun).where(
                StepRun.cache_key == cache_key, StepRun.status == "SUCCEEDED")
                .order_by(StepRun.id.desc()).limit(1)).first()
        return _step(row) if row else None

    def reap_pipeline_runs(self) -> list[str]:
        """Pipeline runs left RUNNING whose tracked run ended (its writer died): mark KILLED.

        Their steps that were running are FAILED (as when a run is interrupted), the ones
        still waiting SKIPPED; finished steps keep their status and outputs.
        """
        with read_connection(self.url) as conn:
            rows = conn.execute(select(PipelineRun.id).join(Run, Run.id == PipelineRun.run_id)
                                .where(PipelineRun.status == "RUNNING",
                                       Run.status != "RUNNING")).scalars().all()
        if rows:
            with write_connection(self.url) as conn:
                conn.execute(update(PipelineRun).where(
                    PipelineRun.id.in_(rows), PipelineRun.status == "RUNNING").values(
                    status="KILLED", ended_at=now(),
                    error="the process running this pipeline stopped"))
                conn.execute(update(StepRun).where(
                    StepRun.pipeline_run_id.in_(rows), StepRun.status == "RUNNING").values(
                    status="FAILED", ended_at=now(),
                    error="the process running this pipeline stopped while this step ran"))
                conn.execute(update(StepRun).where(
                    StepRun.pipeline_run_id.in_(rows), StepRun.status == "PENDING").values(
                    status="SKIPPED", error="pipeline run was killed"))
        return list(rows)

    # ----------------------------------------------------------------- schedules
    def add_schedule(self, *, name: str, pipeline_path: str, cron: str, timezone: str,
                     parameters: dict, created_by: str, next_fire_at: float | None,
                     catchup: str = "latest", max_catchup_age: float | None = None,
                     allow_overlap: bool = False) -> ScheduleRecord:
        if catchup not in CATCHUP_POLICIES:
            raise InvalidInputError(
                f"Catch-up policy {catchup!r} is unknown: use none, latest or all.")
        blob = dict(parameters)
        blob[OPTIONS_KEY] = {"catchup": catchup, "max_catchup_age": max_catchup_age,
                             "allow_overlap": bool(allow_overlap)}
        t = now()
        try:
            with write_connection(self.url) as conn:
                sid = conn.execute(Schedule.__table__.insert().values(
                    name=name, pipeline_path=pipeline_path, cron=cron, timezone=timezone,
                    parameters=blob, paused=False, next_fire_at=next_fire_at,
                    created_by=created_by, created_at=t)).inserted_primary_key[0]
                self._audit(conn, created_by, "schedule.add", sid,
                            {"name": name, "cron": cron, "timezone": timezone,
                             "pipeline_path": pipeline_path})
        except AlreadyExistsError:
            raise AlreadyExistsError(
                f"A schedule named {name!r} already exists: pick another --name or remove it "
                "with `jupyter mlops schedule remove`.") from None
        return self.get_schedule(sid)

    def get_schedule(self, name_or_id: str | int) -> ScheduleRecord:
        with read_connection(self.url) as conn:
            row = conn.execute(select(Schedule).where(self._schedule_cond(name_or_id))).first()
        if row is None:
            raise NotFoundError(f"There is no schedule {name_or_id!r}. List them with "
                                "`jupyter mlops schedule list`.")
        return _schedule(row)

    @staticmethod
    def _schedule_cond(name_or_id: str | int):
        if isinstance(name_or_id, int):
            return Schedule.id == check_int64(name_or_id, "schedule id")
        if ascii_digits(name_or_id):  # "²" is a name, not an id that int() refuses
            return Schedule.id == parse_int(name_or_id, "schedule id")
        return Schedule.name == name_or_id

    def list_schedules(self) -> list[ScheduleRecord]:
        with read_connection(self.url) as conn:
            return [_schedule(r) for r in conn.execute(select(Schedule).order_by(Schedule.name))]

    def set_paused(self, name_or_id: str | int, paused: bool, user: str,
                   next_fire_at: float | None = None) -> ScheduleRecord:
        """Pause, or resume with a fresh ``next_fire_at`` (slots while paused never fire)."""
        sched = self.get_schedule(name_or_id)
        values: dict[str, Any] = {"paused": paused}
        if not paused:
            values["next_fire_at"] = next_fire_at
        with write_connection(self.url) as conn:
            conn.execute(update(Schedule).where(Schedule.id == sched.id).values(**values))
            self._audit(conn, user, "schedule.pause" if paused else "schedule.resume",
                        sched.id, {"name": sched.name})
        return self.get_schedule(sched.id)

    def remove_schedule(self, name_or_id: str | int, user: str) -> None:
        sched = self.get_schedule(name_or_id)
        with write_connection(self.url) as conn:
            conn.execute(delete(ScheduleFire).where(ScheduleFire.schedule_id == sched.id))
            conn.execute(delete(Schedule).where(Schedule.id == sched.id))
            self._audit(conn, user, "schedule.remove", sched.id,
                        {"name": sched.name, "cron": sched.cron})

    def set_next_fire(self, schedule_id: int, next_fire_at: float | None,
                      only_if_before: bool = False) -> None:
        """Set a schedule's next slot; with ``only_if_before`` only ever move it forward
        (a slower scheduler must not move it back after a faster one advanced it)."""
        stmt = update(Schedule).where(Schedule.id == schedule_id)
        if only_if_before:
            stmt = stmt.where((Schedule.next_fire_at.is_(None))
                              | (Schedule.next_fire_at < next_fire_at))
        with write_connection(self.url) as conn:
            conn.execute(stmt.values(next_fire_at=next_fire_at))

    def due_schedules(self, at: float) -> list[ScheduleRecord]:
        """Unpaused schedules whose next slot is at or before ``at`` (uses the index)."""
        with read_connection(self.url) as conn:
            rows = conn.execute(select(Schedule).where(
                Schedule.paused.is_(False), Schedule.next_fire_at.is_not(None),
                Schedule.next_fire_at <= at).order_by(Schedule.next_fire_at)).all()
        return [_schedule(r) for r in rows]

    # ----------------------------------------------------------------- fires
    def claim_slot(self, schedule_id: int, slot: float, fired_by: str,
                   status: str = "FIRED") -> bool:
        """Insert the fire row for ``(schedule_id, slot)``; False if another scheduler has it."""
        if status not in FIRE_STATUSES:
            raise InvalidInputError(f"Unknown fire status {status!r}.")
        try:
            with write_connection(self.url) as conn:
                conn.execute(ScheduleFire.__table__.insert().values(
                    schedule_id=schedule_id, slot=slot, fired_at=now(), fired_by=fired_by,
                    status=status))
        except AlreadyExistsError:
            return False
        except IntegrityError:  # pragma: no cover - engine already translates these
            return False
        return True

    def fire_now(self, schedule_id: int, slot: float, user: str) -> ScheduleFireRecord:
        """Record a fire asked for by ``user`` outside the cron slots, with its audit event."""
        fired_by = f"run-now:{user}"
        t = now()
        with write_connection(self.url) as conn:
            conn.execute(ScheduleFire.__table__.insert().values(
                schedule_id=schedule_id, slot=slot, fired_at=t, fired_by=fired_by,
                status="FIRED"))
            self._audit(conn, user, "schedule.run_now", schedule_id, {"slot": slot})
        return ScheduleFireRecord(schedule_id, slot, t, fired_by, None, "FIRED")

    def claim_slots(self, schedule_id: int, slots: list[float], fired_by: str,
                    status: str) -> int:
        """Claim many slots with one status (missed slots); return how many were new."""
        return sum(self.claim_slot(schedule_id, s, fired_by, status) for s in slots)

    def update_fire(self, schedule_id: int, slot: float, *, status: str | None = None,
                    pipeline_run_id: str | None = None) -> None:
        values: dict[str, Any] = {}
        if status is not None:
            values["status"] = status
        if pipeline_run_id is not None:
            values["pipeline_run_id"] = pipeline_run_id
        with write_connection(self.url) as conn:
            conn.execute(update(ScheduleFire).where(ScheduleFire.schedule_id == schedule_id,
                                                    ScheduleFire.slot == slot).values(**values))

    def list_fires(self, schedule_id: int, limit: int = 100) -> list[ScheduleFireRecord]:
        """Newest slot first, with the status of the pipeline run each fire started."""
        with read_connection(self.url) as conn:
            rows = conn.execute(
                select(ScheduleFire.__table__, PipelineRun.status.label("pipeline_status"))
                .outerjoin(PipelineRun, PipelineRun.id == ScheduleFire.pipeline_run_id)
                .where(ScheduleFire.schedule_id == schedule_id)
                .order_by(ScheduleFire.slot.desc()).limit(max(1, min(limit, 100_000)))).all()
        return [ScheduleFireRecord(f.schedule_id, f.slot, f.fired_at, f.fired_by,
                                   f.pipeline_run_id, f.status, f.pipeline_status) for f in rows]

    def running_pipeline_runs(self, schedule_id: int) -> list[str]:
        """Pipeline runs this schedule started that are still RUNNING (for overlap checks)."""
        self.reap_pipeline_runs()
        with read_connection(self.url) as conn:
            return list(conn.execute(select(PipelineRun.id).where(
                PipelineRun.schedule_id == schedule_id,
                PipelineRun.status == "RUNNING")).scalars())

    @staticmethod
    def _audit(conn, user: str, action: str, schedule_id: int, details: dict) -> None:
        conn.execute(AuditEvent.__table__.insert().values(
            at=now(), user=user, action=action, target_type="schedule",
            target_id=str(schedule_id), details=details))
