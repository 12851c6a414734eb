"""Notebook pipelines (C3): papermill steps in a DAG, cached, retried, scheduled, on Dask.

Public entry points (importing this package stays cheap; papermill and dask load on use):

- :class:`Pipeline`, :class:`Step` — build a pipeline in Python or ``Pipeline.load(yaml)``;
- :func:`run_pipeline` — run it (``jupyter mlops pipeline run``);
- :func:`jupyter_mlops.reproduce` — re-execute a past run and compare (``jupyter mlops reproduce``);
- :func:`add_schedule` and friends, :class:`Scheduler` — cron schedules.
"""

from __future__ import annotations

from jupyter_mlops.lifecycle import lazy_exports

_LAZY = {
    "Pipeline": "jupyter_mlops.pipelines.spec",
    "Step": "jupyter_mlops.pipelines.spec",
    "Input": "jupyter_mlops.pipelines.spec",
    "Output": "jupyter_mlops.pipelines.spec",
    "run_pipeline": "jupyter_mlops.pipelines.runner",
    "get_pipeline_run": "jupyter_mlops.pipelines.api",
    "list_pipeline_runs": "jupyter_mlops.pipelines.api",
    "list_pipelines": "jupyter_mlops.pipelines.api",
    "get_pipeline": "jupyter_mlops.pipelines.api",
    # Not "reproduce": that is also a submodule's name (use ``jupyter_mlops.reproduce``).
    "ReproduceReport": "jupyter_mlops.pipelines.reproduce",
    "CronExpression": "jupyter_mlops.pipelines.cron",
    "add_schedule": "jupyter_mlops.pipelines.schedule",
    "list_schedules": "jupyter_mlops.pipelines.schedule",
    "pause_schedule": "jupyter_mlops.pipelines.schedule",
    "resume_schedule": "jupyter_mlops.pipelines.schedule",
    "remove_schedule": "jupyter_mlops.pipelines.schedule",
    "schedule_history": "jupyter_mlops.pipelines.schedule",
    "run_schedule_now": "jupyter_mlops.pipelines.schedule",
    "Scheduler": "jupyter_mlops.pipelines.scheduler",
    "LocalExecutor": "jupyter_mlops.pipelines.executors",
    "DaskExecutor": "jupyter_mlops.pipelines.executors",
    "Executor": "jupyter_mlops.pipelines.executors",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
