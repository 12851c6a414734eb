"""The tracking facet: experiments and runs, and what runs log and read back.

:class:`RunsClient` is the whole tracking API, assembled from one small module per concern
(metrics, artifacts, datasets, snapshots, reads); this module holds the run lifecycle and the
environment every run is linked to.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from jupyter_mlops.client.artifacts import ArtifactLogging
from jupyter_mlops.client.datasets import DatasetLogging
from jupyter_mlops.client.experiments import ExperimentsAdmin
from jupyter_mlops.client.inputs import as_mapping
from jupyter_mlops.client.metrics import MetricsLogging
from jupyter_mlops.client.reads import RunReads
from jupyter_mlops.client.snapshots import CodeSnapshots
from jupyter_mlops.client.views import RunViews
from jupyter_mlops.config import current_user
from jupyter_mlops.errors import ConflictError, NotFoundError
from jupyter_mlops.store.labels import check_label
from jupyter_mlops.store.records import RunRecord
from jupyter_mlops.tracking.buffer import BatchWriter
from jupyter_mlops.validation import check_key, check_run_id, check_timestamp, to_param_value

if TYPE_CHECKING:
    from jupyter_mlops.config import Locations
    from jupyter_mlops.hashing import HashCache
    from jupyter_mlops.store import Store


class RunsClient(ExperimentsAdmin, MetricsLogging, ArtifactLogging, DatasetLogging,
                 CodeSnapshots, RunReads, RunViews):
    """Tracking on one store: runs, metrics, params, tags, artifacts, datasets, lineage, search.

    :class:`~jupyter_mlops.client.Client` is a RunsClient (its flat methods, e.g.
    ``client.log_metric``, are these) and hands itself out as ``client.runs``.
    """

    def __init__(self, location: Locations, store: Store):
        #: Which store and why (``location.describe()``): front doors show it, errors name it.
        self.location = location
        self.store = store
        self.writer = BatchWriter(store.runs)
        self._steps: dict[tuple[str, str], int] = {}
        self._checked_keys: set[str] = set()  # metric names already validated
        self._checked_runs: set[str] = set()  # run ids already validated
        self._steps_lock = threading.Lock()
        self._env_id: int | None = None
        self._env_lock = threading.Lock()
        self._env_pending: list[str] = []  # runs created before the environment was known
        self._env_thread: threading.Thread | None = None
        self._hash_cache: HashCache | None = None

    @property
    def tracking_uri(self) -> str:
        return self.store.url

    # ------------------------------------------------------------------ runs
    def create_run(self, experiment: str | None = None, name: str | None = None,
                   tags: Mapping[str, Any] | None = None, parent_run_id: str | None = None,
                   user: str | None = None, start_time: float | None = None) -> RunRecord:
        """Start a RUNNING run; the environment is recorded and heartbeats begin.

        ``start_time`` (epoch seconds, default now) is for records made elsewhere first (an
        MLflow client's own clock, an import)."""
        if start_time is not None:
            start_time = check_timestamp(start_time, "start_time")
        clean = {check_key(k, "tag key"): to_param_value(k, v, "tag")
                 for k, v in as_mapping(tags or {}, "tags").items()}
        if name is not None:
            check_label(name, "run name")
        if parent_run_id is not None:
            check_run_id(parent_run_id)
            if experiment is None:  # a child run belongs with its parent, not in "Default"
                try:
                    experiment = self.store.runs.get_run(parent_run_id).experiment
                except NotFoundError:
                    raise NotFoundError(f"Parent run {parent_run_id} does not exist.") from None
        env_id = self._env_id
        run = self.store.runs.create_run(
            experiment=experiment, name=name, user=user or current_user(),
            parent_run_id=parent_run_id, tags=clean, environment_id=env_id,
            start_time=start_time)
        if env_id is None:
            self._record_environment(run.id)
        self.writer.watch(run.id)
        self.notify("run.started", {"run_id": run.id})
        return run

    def attach_run(self, run_id: str) -> RunRecord:
        """Continue logging to an existing RUNNING run from this process.

        The run stays owned by the process that started it: this process is recorded as an
        attached writer, sends heartbeats while it lives, and its exit never ends the run nor
        lets ``gc`` mark it KILLED while the owner is alive.
        """
        run = self.store.runs.get_run(run_id)
        if run.status != "RUNNING":
            raise ConflictError(f"Run {run_id} is {run.status}; only RUNNING runs can be attached.")
        self.store.runs.attach(run_id)
        self.writer.watch(run_id)
        return run

    def end_run(self, run_id: str, status: str = "FINISHED",
                end_time: float | None = None) -> None:
        """Flush what is queued, then close the run with ``status`` (``run_id``: or a prefix),
        at ``end_time`` (epoch seconds) or now."""
        if end_time is not None:
            end_time = check_timestamp(end_time, "end_time")
        run_id = self._full_run_id(run_id)
        self.writer.unwatch(run_id)
        self.flush()
        self._environment_recorded()
        self.store.runs.end_run(run_id, status, end_time)
        if status in ("FINISHED", "FAILED", "KILLED"):  # run.killed goes to lineage only
            self.notify(f"run.{status.lower()}", {"run_id": run_id, "status": status})

    def rename_run(self, run_id: str, name: str) -> RunRecord:
        return self.store.runs.rename_run(run_id, check_label(name, "run name"))

    def delete_run(self, run_id: str) -> None:
        self.store.runs.delete_run(self._full_run_id(run_id))

    # ------------------------------------------------------------------ the run environment
    def _record_environment(self, run_id: str) -> None:
        """Record the environment of ``run_id``, computed off the caller's path.

        Reading the installed distributions takes tens of milliseconds to seconds (a few
        hundred metadata files): the first run of a process would wait for it. A thread
        computes it once per client and links every run created meanwhile;
        :meth:`_environment_recorded` waits for it before a run ends or is read.
        """
        with self._env_lock:
            if self._env_id is None:
                self._env_pending.append(run_id)
                if self._env_thread is None:
                    self._env_thread = threading.Thread(
                        target=self._capture_environment, name="mlops-environment",
                        daemon=True)
                    self._env_thread.start()
                return
        self._environment_store().set_run_environment(run_id, self._env_id)

    def _environment_store(self):
        """Where environments are written: the stdlib writer of a SQLite file, else catalog."""
        from jupyter_mlops.store.lite import LiteRunStore

        runs = self.store.runs
        return runs if isinstance(runs, LiteRunStore) else self.store.catalog

    def _capture_environment(self) -> None:
        from jupyter_mlops.tracking.capture import environment

        try:
            env = environment()
            target = self._environment_store()
            env_id = target.get_or_create_environment(
                env.digest, env.python, env.platform, env.packages)
            with self._env_lock:
                self._env_id = env_id
                pending, self._env_pending = self._env_pending, []
            for run_id in pending:
                target.set_run_environment(run_id, env_id)
        except Exception as exc:  # a run without its environment beats a lost run
            logging.getLogger(__name__).warning(
                "jupyter-mlops: could not record the environment of runs %s: %s",
                ", ".join(self._env_pending), exc)

    def _environment_recorded(self) -> None:
        """Wait until the environment thread (if any) has linked every run created so far."""
        thread = self._env_thread
        if thread is not None:
            thread.join()
