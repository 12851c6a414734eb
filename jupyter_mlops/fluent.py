"""Module-level functions (``mlops.log_metric(...)``): a thin layer over one default Client.

The active run lives in a ``ContextVar`` so threads and asyncio tasks that start their own
runs do not trample each other. A run started on the main thread is also the process-wide
fallback, because IPython kernels run each cell in a fresh context copy: a plain ContextVar set
in one cell would be invisible in the next.
"""

from __future__ import annotations

import contextvars
import os
import threading
from typing import TYPE_CHECKING, Any

from jupyter_mlops.client import Client
from jupyter_mlops.lifecycle import run_ending, run_started
from jupyter_mlops.errors import InvalidInputError, MlopsError
from jupyter_mlops.store.records import RunRecord

if TYPE_CHECKING:
    import asyncio

_client: Client | None = None
_client_lock = threading.Lock()
_active: contextvars.ContextVar["ActiveRun | None"] = contextvars.ContextVar(
    "mlops_active_run", default=None)
_main_thread_run: "ActiveRun | None" = None
# The asyncio task that set _main_thread_run (None outside any task). While that task is still
# running, its run is its own: sibling tasks must not fall back to it.
_main_thread_owner: "asyncio.Task | None" = None


def _current_task() -> "asyncio.Task | None":
    import asyncio

    try:
        return asyncio.current_task()
    except RuntimeError:  # no running event loop
        return None


def get_client() -> Client:
    """The default client (created on first use from the environment / project folder)."""
    global _client
    if _client is None:
        with _client_lock:
            if _client is None:
                _client = Client()
    return _client


_project_clients: dict[str, Client] = {}


def client_for(start: "os.PathLike[str] | str") -> Client:
    """The client for work rooted in the folder ``start`` (a pipeline file's folder).

    The default client when ``start`` resolves to the same store, or when the store was chosen
    explicitly (``set_client``, an argument, ``MLOPS_TRACKING_URI``); otherwise a client on the
    project store found by walking up from ``start`` — as ``jupyter mlops pipeline run`` does,
    so a pipeline records where its ``pipeline.yaml`` lives, whatever the working folder.
    """
    from pathlib import Path

    from jupyter_mlops.config import resolve_locations

    default = _client.location if _client is not None else resolve_locations()
    if default.source in ("argument", "environment"):
        return get_client()
    mine = resolve_locations(start=Path(start))
    if mine.tracking_uri == default.tracking_uri:
        return get_client()
    with _client_lock:
        found = _project_clients.get(mine.tracking_uri)
        if found is None:
            found = _project_clients[mine.tracking_uri] = Client(start=Path(start))
        return found


def run_pipeline(pipeline: Any, parameters: dict[str, Any] | None = None, *,
                 client: Client | None = None, **options: Any):
    """Run a pipeline (see :func:`jupyter_mlops.pipelines.runner.run_pipeline`).

    Without ``client``, a ``pipeline.yaml`` path records into the store of the project it
    lives in (:func:`client_for` its folder); a :class:`Pipeline` object into the default one.
    """
    from pathlib import Path

    from jupyter_mlops.pipelines.runner import run_pipeline as _run

    if client is None:
        client = (client_for(Path(pipeline).expanduser().resolve().parent)
                  if isinstance(pipeline, (str, os.PathLike)) else get_client())
    return _run(pipeline, parameters, client=client, **options)


def sweep(objective: Any = None, space: Any = None, n_trials: int | None = None, *,
          client: Client | None = None, **options: Any):
    """Run or resume a hyperparameter sweep (see :func:`jupyter_mlops.sweeps.runner.sweep`).

    Without ``client``, a notebook objective records into the store of the project the
    notebook lives in (as :func:`run_pipeline` does); a function into the default one.
    """
    from pathlib import Path

    from jupyter_mlops.sweeps.runner import sweep as _sweep

    notebook = options.get("notebook")
    if client is None:
        client = (client_for(Path(notebook).expanduser().resolve().parent)
                  if isinstance(notebook, (str, os.PathLike)) else get_client())
    return _sweep(objective, space, n_trials, client=client, **options)


def set_client(client: Client | None) -> None:
    """Point the fluent API at another store (``None`` re-resolves on next use)."""
    global _client, _main_thread_run, _main_thread_owner
    _client = client
    _main_thread_run = _main_thread_owner = None
    _active.set(None)


class ActiveRun:
    """The run being logged to. Use as a context manager to end it automatically.

    Leaving the ``with`` block ends the run FINISHED, or FAILED if an exception escaped.
    """

    def __init__(self, record: RunRecord, client: Client, owned: bool = True):
        self.record = record
        self.client = client
        self.owned = owned
        self._token: contextvars.Token | None = None
        # True while a `with start_run():` block around this run is executing: such a run is
        # the code's own scope, so a plain start_run() inside it is refused, not auto-ended.
        self.in_with_block = False

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def name(self) -> str:
        return self.record.name

    def __repr__(self) -> str:
        return f"<ActiveRun {self.record.name!r} id={self.id}>"

    def __enter__(self) -> "ActiveRun":
        self.in_with_block = True
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.in_with_block = False
        if active_run() is self:
            end_run("FAILED" if exc_type else "FINISHED")


def _set_active(run: ActiveRun | None) -> None:
    global _main_thread_run, _main_thread_owner
    _active.set(run)
    if threading.current_thread() is threading.main_thread():
        _main_thread_run = run
        _main_thread_owner = _current_task()


def active_run() -> ActiveRun | None:
    """The run that logging calls go to, or None."""
    run = _active.get()
    if run is None and threading.current_thread() is threading.main_thread():
        owner = _main_thread_owner
        # A finished cell's task is done, so the next cell still sees its run; a sibling
        # asyncio task that is still running keeps its run to itself.
        if owner is None or owner.done() or owner is _current_task():
            run = _main_thread_run
    return run


def start_run(experiment: str | None = None, name: str | None = None,
              tags: dict[str, Any] | None = None, parent_run_id: str | None = None,
              nested: bool = False) -> ActiveRun:
    """Start a run and make it active.

    Parameters
    ----------
    experiment : str, optional
        Experiment name (created if new); default ``MLOPS_EXPERIMENT`` or ``"Default"``.
    name : str, optional
        Human-readable run name (default ``run-<id prefix>``).
    tags : dict, optional
        Initial tags.
    parent_run_id : str, optional
        Make this a child run; ``nested=True`` uses the active run as parent.

    Returns
    -------
    ActiveRun
        With ``.id``; usable as a context manager.

    Notes
    -----
    A run left open (say, by a cell that started one and never ended it) is ended FINISHED,
    with one printed line saying so, before the new run starts; so are its open children.
    Runs of a ``with start_run():`` block that is still executing, and a pipeline step's own
    run, are never ended behind the code's back: starting a run inside one needs
    ``nested=True``.

    Raises
    ------
    ConflictError
        If ``nested`` is False and the active run is a ``with`` block's still executing, or
        the pipeline step's own run.
    """
    current = active_run()
    if current is not None and not nested:
        ended = _end_open_runs(current)
        current = None
    else:
        ended = []
    client = get_client()
    attach = os.environ.get("MLOPS_RUN_ID")
    if attach and current is None and parent_run_id is None:
        run = ActiveRun(client.attach_run(attach), client, owned=False)
        _honour_options(run, experiment, name, tags)
    else:
        parent = parent_run_id or (current.id if nested and current else None) \
            or os.environ.get("MLOPS_PARENT_RUN_ID") or None
        record = client.create_run(
            experiment=experiment or os.environ.get("MLOPS_EXPERIMENT"), name=name,
            tags=tags, parent_run_id=parent)
        run = ActiveRun(record, client)
    run.parent = current if nested else None
    _set_active(run)
    run_started(run)  # the cell hooks, in a kernel (see jupyter_mlops/__init__)
    for old in ended:
        print(f"ended run {old.name!r} ({old.id[:8]}) to start {run.name!r}")
    return run


def _honour_options(run: ActiveRun, experiment: str | None, name: str | None,
                    tags: dict[str, Any] | None) -> None:
    """Apply start_run's options to a pipeline step's own run (attached, not created here).

    The name and tags are applied. The experiment cannot change (the step's run was created
    in the pipeline's, and the pipeline's runs stay together), so the one asked for is kept
    as the tag ``mlops.requested_experiment`` and one line says so: nothing is dropped
    silently.
    """
    client = run.client
    if tags:
        client.set_tags(run.id, dict(tags))
    if name and name != run.name:
        run.record = client.rename_run(run.id, name)
    if experiment and experiment != run.record.experiment:
        client.set_tag(run.id, "mlops.requested_experiment", experiment)
        print(f"This pipeline step's run stays in experiment {run.record.experiment!r}; "
              f"experiment {experiment!r} is recorded as the tag mlops.requested_experiment.")


def _end_open_runs(current: ActiveRun) -> list[ActiveRun]:
    """End ``current`` and its open parents (FINISHED), innermost first; see start_run."""
    from jupyter_mlops.errors import ConflictError

    chain = []
    run: ActiveRun | None = current
    while run is not None:
        chain.append(run)
        run = getattr(run, "parent", None)
    for run in chain:  # check them all before ending any: a refusal changes nothing
        if run.in_with_block:
            raise ConflictError(
                f"Run {run.name!r} ({run.id}) is the run of a `with start_run()` block that is "
                "still executing: pass nested=True for a child run, or start the new run "
                "after the block.")
        if not run.owned:
            raise ConflictError(
                f"Run {run.name!r} ({run.id}) is this pipeline step's own run: log to it, or "
                "pass nested=True for a child run.")
    for run in chain:
        end_run("FINISHED")
    return chain


def end_run(status: str = "FINISHED") -> None:
    """End the active run (no-op when none is active)."""
    run = active_run()
    if run is None:
        return
    try:
        run_ending(run, status)  # the notebook snapshot, in a kernel
        run.client.end_run(run.id, status)
    finally:
        _set_active(getattr(run, "parent", None))


def _run_for_logging() -> ActiveRun:
    run = active_run()
    if run is None:
        # Like MLflow and W&B, logging without start_run() starts one rather than failing.
        run = start_run()
    return run


def log_param(key: str, value: Any) -> None:
    run = _run_for_logging()
    run.client.log_param(run.id, key, value)


def log_params(params: dict[str, Any]) -> None:
    run = _run_for_logging()
    run.client.log_params(run.id, params)


def log_metric(key: str, value: Any, step: int | None = None) -> None:
    """Record one metric point (buffered; durable by the end of the cell or ``flush()``)."""
    run = active_run() or _run_for_logging()
    run.client.log_metric(run.id, key, value, step)


def log_metrics(metrics: dict[str, Any], step: int | None = None) -> None:
    run = _run_for_logging()
    run.client.log_metrics(run.id, metrics, step)


def set_tag(key: str, value: Any) -> None:
    run = _run_for_logging()
    run.client.set_tag(run.id, key, value)


def set_tags(tags: dict[str, Any]) -> None:
    run = _run_for_logging()
    run.client.set_tags(run.id, tags)


def delete_tag(key: str) -> None:
    """Remove a tag of the active run (a run must be active: there is nothing to delete)."""
    from jupyter_mlops.errors import InvalidInputError

    run = active_run()
    if run is None:
        raise InvalidInputError("No active run: start one (or pass run ids to Client.delete_tag).")
    run.client.delete_tag(run.id, key)


def _require_existing_path(obj: Any) -> None:
    """Refuse a missing file before a run is auto-started for it."""
    from pathlib import Path

    from jupyter_mlops.errors import NotFoundError

    if isinstance(obj, (str, Path)) and not Path(obj).expanduser().exists():
        raise NotFoundError(f"No file or folder at {str(obj)!r}: check the path.")


def log_artifact(path_or_object: Any, name: str | None = None):
    _require_existing_path(path_or_object)
    run = _run_for_logging()
    records = run.client.log_artifact(run.id, path_or_object, name)
    return records[0] if len(records) == 1 else records


def log_figure(fig: Any, name: str = "figure.png"):
    run = _run_for_logging()
    return run.client.log_figure(run.id, fig, name)


def log_dataset(path_or_dataframe: Any, name: str, role: str = "input"):
    _require_existing_path(path_or_dataframe)
    run = _run_for_logging()
    return run.client.log_dataset(run.id, path_or_dataframe, name, role)


class _DefaultFeatures:
    """``mlops.features``: ``client.features`` of the default client, looked up on each use.

    Looked up per call, not bound once, so ``set_client`` (tests, a second project) applies.
    ``log_training_set`` logs to the active run, starting one as ``log_dataset`` does.
    """

    def __getattr__(self, name: str) -> Any:
        return getattr(get_client().features, name)

    def __dir__(self) -> list[str]:
        from jupyter_mlops.client.features import FeaturesClient

        return sorted(n for n in dir(FeaturesClient) if not n.startswith("_"))

    def log_training_set(self, training_set: Any, name: str = "training_set"):
        run = _run_for_logging()
        return run.client.features.log_training_set(training_set, run.id, name)

    def __repr__(self) -> str:
        return "<jupyter_mlops.features: the feature store of the default client>"


features = _DefaultFeatures()


def flush() -> None:
    """Make every value logged so far durable."""
    if _client is not None:
        _client.flush()


def get_run(run_id: str):
    return get_client().get_run(run_id)


def search_runs(filter: str | None = None, experiment: str | None = None,
                order_by: list[str] | str | None = None, max_results: int = 100,
                offset: int = 0) -> list[RunRecord]:
    """Search runs with the filter language, e.g. ``"metrics.acc > 0.9 and params.model = 'svc'"``.

    A filter naming a key no run has warns (``UnknownFilterKeyWarning``) with the closest
    known keys; the returned list (a ``RunList``) carries the same ``hint``.
    """
    found = get_client().search_runs(filter, experiment, order_by, max_results, offset,
                                     warn=False)
    if found.hint:
        import warnings

        from jupyter_mlops.errors import UnknownFilterKeyWarning

        warnings.warn(found.hint, UnknownFilterKeyWarning, stacklevel=2)  # the caller's line
    return found


def lineage(obj: Any, depth: int = 10):
    """Upstream and downstream lineage graph of a run, dataset or artifact."""
    return get_client().lineage(obj, depth)


def report(target: str = "runs", output: str | os.PathLike | None = None, *,
           filter: str | None = None, experiment: str | None = None, max_runs: int = 10,
           runs: list[str] | None = None, client: Client | None = None):
    """A self-contained HTML report (figures inline, no server needed) of ``"run:ID"``,
    ``"runs"`` (a comparison of the runs ``filter`` selects, or of ``runs``),
    ``"model:NAME[@ALIAS|/VERSION]"`` or ``"monitor:NAME"``; written to ``output`` if given.

    Returns the :class:`~jupyter_mlops.client.reports.Report` (it displays in a notebook).
    """
    from jupyter_mlops.client.reports import build_report

    built = build_report(client or get_client(), target, filter=filter, experiment=experiment,
                         max_runs=max_runs, runs=runs)
    if output is not None:
        built.save(output)
    return built


# --------------------------------------------------------------------------- pipelines
# The components take their client as an argument; these give notebooks the default one
# (``client=`` still points one call at another store).
def reproduce(run_id: str, *, client: Client | None = None, **options: Any):
    """Re-execute a run from its notebook snapshot and compare its metrics (see
    :func:`jupyter_mlops.pipelines.reproduce.reproduce`)."""
    return (client or get_client()).pipelines.reproduce(run_id, **options)


def get_pipeline_run(pipeline_run_id: str, client: Client | None = None):
    """One pipeline run with its steps (a unique id prefix is enough)."""
    return (client or get_client()).pipelines.get_run(pipeline_run_id)


def list_pipeline_runs(pipeline: str | None = None, limit: int = 50,
                       client: Client | None = None):
    """Newest pipeline runs first (without step details), optionally of one pipeline."""
    return (client or get_client()).pipelines.list_runs(pipeline, limit)


def add_schedule(pipeline: Any, cron: str, *, client: Client | None = None, **options: Any):
    """Schedule a pipeline file (see :func:`jupyter_mlops.pipelines.schedule.add_schedule`)."""
    return (client or get_client()).pipelines.add_schedule(pipeline, cron, **options)


def list_schedules(client: Client | None = None):
    """Every schedule, by name."""
    return (client or get_client()).pipelines.list_schedules()


def pause_schedule(name: str | int, client: Client | None = None, *, user: str | None = None):
    """Stop firing schedule ``name`` until it is resumed."""
    return (client or get_client()).pipelines.pause_schedule(name, user=user)


def resume_schedule(name: str | int, client: Client | None = None, *, user: str | None = None):
    """Fire schedule ``name`` again from its next slot after now."""
    return (client or get_client()).pipelines.resume_schedule(name, user=user)


def remove_schedule(name: str | int, client: Client | None = None) -> None:
    """Delete a schedule and its fire history (the pipeline runs it started are kept)."""
    (client or get_client()).pipelines.remove_schedule(name)


def schedule_history(name: str | int, limit: int = 50, client: Client | None = None):
    """The newest ``limit`` slots of schedule ``name``."""
    return (client or get_client()).pipelines.schedule_history(name, limit)


# --------------------------------------------------------------------------- monitoring
def monitor(model: str, reference: Any = None, *, client: Client | None = None,
            **options: Any):
    """Create a monitor, or reopen and update the one of that name (see
    :func:`jupyter_mlops.monitoring.monitor.monitor`)."""
    return (client or get_client()).monitoring.create(model, reference, **options)


def get_monitor(name: str, client: Client | None = None, launcher: Any = None):
    """Reopen an existing monitor by name."""
    return (client or get_client()).monitoring.get(name, launcher)


def list_monitors(client: Client | None = None):
    """Every monitor in the store."""
    return (client or get_client()).monitoring.list()


# --------------------------------------------------------------------------- registry
_ACTIVE = object()  # register_model's "use the active run" (None means: no run)


def registry():
    """The :class:`~jupyter_mlops.registry.api.RegistryClient` of the default client."""
    return get_client().registry


def register_model(model: Any, name: str, run: Any = _ACTIVE, signature: Any = None,
                   input_example: Any = None, description: str | None = None, *,
                   trusted: bool = False, trusted_types: list[str] | None = None,
                   flavor: str | None = None, user: str | None = None):
    """Register ``model`` as the next version of ``name``.

    ``run`` defaults to the active run, else, inside a pipeline step, the step's own run
    (``MLOPS_RUN_ID``: the model is linked to the run that made it even if the notebook never
    started one); pass ``None`` for no run. Everything else is as in
    :meth:`jupyter_mlops.registry.api.RegistryClient.register_model`.

    Returns
    -------
    ModelVersionRecord
    """
    if run is _ACTIVE:
        run = active_run() or os.environ.get("MLOPS_RUN_ID") or None
        if isinstance(model, str) and model.startswith("runs:/"):
            run = None  # the URI names its run
    return registry().register_model(
        model, name, run=run, signature=signature, input_example=input_example,
        description=description, trusted=trusted, trusted_types=trusted_types, flavor=flavor,
        user=user)


def set_alias(name: str, alias: str, version: int, reason: str | None = None, *,
              user: str | None = None):
    """Point ``alias`` (e.g. ``"champion"``) of model ``name`` at ``version``."""
    return registry().set_alias(name, alias, version, reason=reason, user=user)


def delete_alias(name: str, alias: str, reason: str | None = None, *, user: str | None = None):
    """Remove an alias; returns the version it pointed at."""
    return registry().delete_alias(name, alias, reason=reason, user=user)


def delete_model_version(name: str, version: int, reason: str | None = None, *,
                         user: str | None = None) -> None:
    """Delete one version (needs the manage action; refused while an alias points at it)."""
    registry().delete_version(name, version, reason=reason, user=user)


def delete_model(name: str, reason: str | None = None, *, user: str | None = None) -> int:
    """Delete a model and all its versions (needs manage; refused while it has aliases)."""
    return registry().delete_model(name, reason=reason, user=user)


def load_model(uri: str, *, trusted: bool = False, trusted_types: list[str] | None = None,
               module: Any = None):
    """Load ``"models:/NAME@ALIAS"`` or ``"models:/NAME/VERSION"`` (hash-verified).

    ``module=`` (a ``lightning`` version only): your LightningModule class, built with the
    recorded hparams, or an instance; see
    :meth:`jupyter_mlops.registry.api.RegistryClient.load_model`.
    """
    return registry().load_model(uri, trusted=trusted, trusted_types=trusted_types,
                                 module=module)


def model_card(name: str, version: int | str | None = None):
    """A model card (Markdown and HTML; displays itself in a notebook)."""
    return registry().model_card(name, version)


def compare_models(name: str, versions: list[int] | None = None,
                   metrics: list[str] | None = None):
    """``(table, figure)``: the metrics of each version of ``name``."""
    return registry().compare_models(name, versions, metrics)


def propose(name: str, version: int, alias: str = "champion", reason: str | None = None, *,
            user: str | None = None):
    """Propose pointing ``alias`` at ``version``; returns the pending request."""
    return registry().propose(name, version, alias, reason=reason, user=user)


def approve(request_id: int, reason: str | None = None, *, user: str | None = None):
    """Approve a pending promotion request (needs the approve role)."""
    return registry().approve(request_id, reason=reason, user=user)


def reject(request_id: int, reason: str | None = None, *, user: str | None = None):
    """Reject a pending promotion request (needs the approve role)."""
    return registry().reject(request_id, reason=reason, user=user)


def list_models():
    """Every registered model with its latest version and aliases."""
    return registry().list_models()


def promote_if_better(name: str, version: int, X: Any, y: Any, *, metric: str = "accuracy",
                      margin: float = 0.0, alias: str = "champion", user: str | None = None):
    """Continuous training: move ``alias`` to ``version`` only if it scores better on (X, y).

    See :func:`jupyter_mlops.registry.continuous.promote_if_better`.
    """
    from jupyter_mlops.registry.continuous import promote_if_better as decide

    return decide(registry(), name, version, X, y, metric=metric, margin=margin, alias=alias,
                  user=user)


__all__ = [
    "ActiveRun", "InvalidInputError", "MlopsError", "active_run", "end_run", "flush",
    "get_client", "get_run", "lineage", "log_artifact", "log_dataset", "log_figure",
    "log_metric", "log_metrics", "log_param", "log_params", "search_runs", "set_client",
    "set_tag", "set_tags", "start_run",
    # pipelines, monitoring and the registry over the default client
    "add_schedule", "get_monitor", "get_pipeline_run", "list_monitors", "list_pipeline_runs",
    "list_schedules", "monitor", "pause_schedule", "remove_schedule", "reproduce",
    "resume_schedule", "run_pipeline", "schedule_history", "sweep",
    "approve", "compare_models", "delete_alias", "delete_model", "delete_model_version",
    "list_models", "load_model", "model_card", "promote_if_better", "propose",
    "register_model", "registry", "reject", "set_alias",
]
