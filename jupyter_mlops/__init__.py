"""jupyter-mlops: the MLOps loop inside Jupyter.

``import jupyter_mlops as mlops`` then ``mlops.log_metric("acc", 0.9)``; in a notebook
``%load_ext jupyter_mlops`` then ``%mlops help``. Heavy modules (SQLAlchemy, pandas, sklearn)
load on first use, so importing this package and loading the extension stay fast.
"""

from __future__ import annotations

from jupyter_mlops.lifecycle import add_run_start_hook, lazy_exports

try:
    from jupyter_mlops._version import __version__
except ImportError:  # running from a source tree without a build
    __version__ = "0.0.0+unknown"

_FLUENT = (
    "ActiveRun", "active_run", "delete_tag", "end_run", "features", "flush", "get_client",
    "get_run", "lineage",
    "log_artifact", "log_dataset", "log_figure", "log_metric", "log_metrics", "log_param",
    "log_params", "run_pipeline", "search_runs", "set_client", "set_tag", "set_tags",
    "start_run",
)
_LAZY = {name: "jupyter_mlops.fluent" for name in _FLUENT}
_LAZY.update({"Client": "jupyter_mlops.client"})
# The fluent API (one process-default Client) also fronts the registry, pipelines and monitors.
_LAZY.update({name: "jupyter_mlops.fluent" for name in (
    "register_model", "set_alias", "delete_alias", "delete_model", "delete_model_version",
    "load_model", "model_card",
    "compare_models", "propose", "approve", "reject", "list_models", "promote_if_better",
    "reproduce", "get_pipeline_run", "list_pipeline_runs",
    "add_schedule", "list_schedules", "pause_schedule", "resume_schedule",
    "remove_schedule", "schedule_history",
    "monitor", "get_monitor", "list_monitors", "report")})
_LAZY.update({"Pipeline": "jupyter_mlops.pipelines.spec", "Step": "jupyter_mlops.pipelines.spec",
              "Scheduler": "jupyter_mlops.pipelines.scheduler"})
_LAZY.update({"serve": "jupyter_mlops.serving.server"})
_LAZY.update({"autolog": "jupyter_mlops.fluent_autolog"})
_LAZY.update({name: "jupyter_mlops.registry.model_files"
              for name in ("save_model_file", "load_model_file")})
_LAZY.update({"sweep": "jupyter_mlops.fluent"})
_LAZY.update({name: "jupyter_mlops.errors" for name in (
    "MlopsError", "InvalidInputError", "FilterSyntaxError", "NotFoundError",
    "AlreadyExistsError", "ConflictError", "PermissionDeniedError", "CorruptArtifactError",
    "StoreUnavailableError", "StepExecutionError", "UnknownFilterKeyWarning")})

__all__ = sorted(_LAZY) + ["__version__", "load_ipython_extension"]


__getattr__, __dir__ = lazy_exports(
    __name__, _LAZY, extra=("__version__", "load_ipython_extension"))


def load_ipython_extension(ipython) -> None:
    """``%load_ext jupyter_mlops``: register ``%mlops`` / ``%%mlops`` and the cell hooks."""
    from jupyter_mlops.notebook.extension import load

    load(ipython)


def _ensure_cell_hooks(run=None) -> None:
    """In an IPython kernel, register the cell hooks as ``%load_ext jupyter_mlops`` does.

    Runs when the fluent API starts or attaches to a run (a hook handed to
    ``lifecycle.add_run_start_hook``), so a notebook that only does ``import jupyter_mlops``
    gets the same promises: every logged value is durable at the end of its cell, and the run
    ends FINISHED or FAILED with the notebook at kernel exit. IPython is never imported here:
    a plain script that has not imported it is no shell.
    """
    import sys

    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None or getattr(shell, "events", None) is None:
        return
    from jupyter_mlops.notebook.extension import ensure_hooks

    ensure_hooks(shell)


add_run_start_hook(_ensure_cell_hooks)


def unload_ipython_extension(ipython) -> None:
    from jupyter_mlops.notebook.extension import unload

    unload(ipython)


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """The jupyter_server extension lives in :mod:`jupyter_mlops.server`."""
    from jupyter_mlops.server import _jupyter_server_extension_points as points

    return points()


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    from jupyter_mlops.server import _jupyter_labextension_paths as paths

    return paths()
