"""Cron schedules of pipelines, kept in the store so they survive restarts.

``add_schedule("pipeline.yaml", "*/15 * * * *", timezone="Europe/Berlin")`` records a
schedule; a :class:`~jupyter_mlops.pipelines.scheduler.Scheduler` (in the Jupyter server
extension, or ``jupyter mlops scheduler``) fires it. Pausing stops new slots; resuming
starts again from the next slot after *now*, so slots that passed while paused never fire.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.config import current_user
from jupyter_mlops.errors import ConflictError, InvalidInputError
from jupyter_mlops.pipelines.cron import CronExpression

if TYPE_CHECKING:  # the Client's shape, for type checkers only
    from jupyter_mlops.ports import ComponentStoresHolder, StoresHolder


def _pstore(client: ComponentStoresHolder):
    # client is required: the caller names the store (the fluent API passes its default).
    return client.stores.pipelines


def add_schedule(pipeline: str | Path, cron: str, *, timezone: str = "UTC",
                 parameters: dict[str, Any] | None = None, name: str | None = None,
                 catchup: str = "latest", max_catchup_age: float | None = None,
                 allow_overlap: bool = False, client: ComponentStoresHolder):
    """Schedule a pipeline file.

    Parameters
    ----------
    pipeline : str or Path
        The ``pipeline.yaml`` (stored as an absolute path; it is read again at every fire,
        so edits to it take effect).
    cron : str
        Cron expression (5 fields, or 6 with leading seconds; see
        :mod:`jupyter_mlops.pipelines.cron`).
    timezone : str
        IANA zone the expression's wall-clock times are in.
    parameters : dict, optional
        Pipeline parameter overrides for every fire.
    name : str, optional
        Unique schedule name (default: the pipeline's name).
    catchup : {"latest", "all", "none"}
        After downtime: fire once for the newest missed slot (default), fire every missed
        slot, or fire none. Missed slots that do not fire are recorded SKIPPED.
    max_catchup_age : float, optional
        Missed slots older than this many seconds never fire (recorded SKIPPED).
    allow_overlap : bool
        Fire even while the previous run of this schedule is still going.

    Returns
    -------
    ScheduleRecord

    Raises
    ------
    InvalidInputError
        A bad cron expression, time zone, catch-up policy or pipeline (validated now).
    AlreadyExistsError
        The name is taken.
    """
    from jupyter_mlops.pipelines.spec import Pipeline

    path = Path(pipeline).expanduser().resolve()
    spec = Pipeline.load(path).with_parameters(parameters).validate()
    expr = CronExpression(cron, timezone)
    if max_catchup_age is not None and max_catchup_age <= 0:
        raise InvalidInputError("max_catchup_age must be a positive number of seconds.")
    return _pstore(client).add_schedule(
        name=name or spec.name, pipeline_path=str(path), cron=cron, timezone=timezone,
        parameters=dict(parameters or {}), created_by=current_user(),
        next_fire_at=expr.next_after(time.time()), catchup=catchup,
        max_catchup_age=max_catchup_age, allow_overlap=allow_overlap)


def list_schedules(client: ComponentStoresHolder):
    """Every schedule, by name."""
    return _pstore(client).list_schedules()


def get_schedule(name: str | int, client: ComponentStoresHolder):
    return _pstore(client).get_schedule(name)


def pause_schedule(name: str | int, client: ComponentStoresHolder, *, user: str | None = None):
    """Stop firing ``name`` until it is resumed (``user``, default the current one, is
    recorded in the audit log)."""
    return _pstore(client).set_paused(name, True, user or current_user())


def resume_schedule(name: str | int, client: ComponentStoresHolder, *, user: str | None = None):
    """Fire ``name`` again from its next slot after now (paused slots never fire)."""
    store = _pstore(client)
    sched = store.get_schedule(name)
    nxt = CronExpression(sched.cron, sched.timezone).next_after(time.time())
    return store.set_paused(name, False, user or current_user(), next_fire_at=nxt)


#: A fire whose pipeline run has not registered yet counts as running for this long.
STARTING_GRACE_SECONDS = 120.0


def run_schedule_now(name: str | int, client: StoresHolder, *, user: str | None = None,
                     launcher=None):
    """Fire ``name`` once now, outside its cron slots ("Run now" in the panel).

    The fire is recorded in the schedule's history (slot = now, ``fired_by`` names the user)
    and in the audit log, then launched like a scheduled slot: its own detached process
    (``python -m jupyter_mlops.cli.launch schedule``), so the caller never waits for the
    pipeline. Paused schedules may be run now; the cron slots stay paused.

    Parameters
    ----------
    name : str or int
        Schedule name or id.
    user : str, optional
        Who asked (default ``MLOPS_USER`` or the OS user).
    launcher : callable, optional
        ``launcher(schedule, slot)``; default
        :class:`~jupyter_mlops.pipelines.scheduler.SubprocessLauncher`.

    Returns
    -------
    ScheduleFireRecord
        The new fire (its ``pipeline_run_id`` is filled in once the run has started).

    Raises
    ------
    NotFoundError
        No such schedule.
    ConflictError
        A run of this schedule is still going (or starting) and it does not allow overlap.
    """
    from jupyter_mlops.pipelines.scheduler import SubprocessLauncher

    store = _pstore(client)
    sched = store.get_schedule(name)
    now = time.time()
    if not sched.allow_overlap:
        running = store.running_pipeline_runs(sched.id)
        starting = [f for f in store.list_fires(sched.id, 20)
                    if f.status == "FIRED" and f.pipeline_run_id is None
                    and now - f.fired_at < STARTING_GRACE_SECONDS]
        if running or starting:
            what = f"pipeline run {running[0][:12]} is still going" if running \
                else "a run fired moments ago is still starting"
            raise ConflictError(
                f"Schedule {sched.name!r}: {what}, and the schedule does not allow "
                "overlapping runs. Wait for it to finish (see its history).")
    fire = store.fire_now(sched.id, now, user or current_user())
    try:
        (launcher or SubprocessLauncher(client))(sched, now)
    except Exception:
        store.update_fire(sched.id, now, status="FAILED")
        raise
    return fire


def remove_schedule(name: str | int, client: ComponentStoresHolder) -> None:
    """Delete the schedule and its fire history (pipeline runs it started are kept)."""
    _pstore(client).remove_schedule(name, current_user())


def schedule_history(name: str | int, limit: int = 50, *, client: ComponentStoresHolder):
    """The newest ``limit`` slots of ``name``: FIRED / SKIPPED / FAILED, with run status."""
    store = _pstore(client)
    return store.list_fires(store.get_schedule(name).id, limit)
