"""OpenLineage events: the runs, their datasets in and models out, for Marquez and friends.

The Client hands every lifecycle event to :meth:`LineageEmitter.handle` (next to its
webhooks): ``run.started`` → START, ``run.finished`` → COMPLETE, ``run.failed`` → FAIL,
``run.killed`` (a run ended KILLED through the Client) → ABORT,
``model.registered`` → an OTHER event adding the model to its run's outputs. Where events go
is the ``openlineage-python`` client's own configuration (``OPENLINEAGE_URL``,
``OPENLINEAGE_CONFIG`` / ``openlineage.yml``, ``OPENLINEAGE__TRANSPORT__*``): without any of
them the emitter is off and ``openlineage`` is never imported.

Names follow the panel's lineage view so both draw one graph: the namespace is the store's
location (credentials removed); a job is the experiment, or ``<pipeline>.<step>`` for a
pipeline step (whose parent run is the pipeline's, in the ``parent`` facet); datasets are
``datasets/<name>``, models ``models/<name>``, artifacts ``artifacts/<run>/<name>``, each
with its version (digest or model version) in the ``version`` facet.

Sending happens on one daemon thread behind a bounded queue: a slow or absent receiver never
slows or fails a run; a failure is logged once per emitter, later ones at debug level.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from jupyter_mlops.errors import InvalidInputError

if TYPE_CHECKING:
    from jupyter_mlops.ports import StoreHolder

log = logging.getLogger(__name__)

#: Lifecycle events this emitter turns into OpenLineage run events.
EVENTS = ("run.started", "run.finished", "run.failed", "run.killed", "model.registered")
#: Events only lineage wants (webhooks do not offer them).
LINEAGE_ONLY = ("run.started", "run.killed", "model.registered")
PRODUCER = "https://github.com/jupyter-mlops/jupyter-mlops"
QUEUE_SIZE = 1000
TAG_PIPELINE, TAG_STEP = "mlops.pipeline", "mlops.step"  # as pipelines/recording.py writes


def configured(environ: Any = os.environ, cwd: Path | None = None) -> bool:
    """Whether the OpenLineage client would find a configuration (its own search order).

    Checked without importing ``openlineage``: that import costs a second, off by default.
    """
    if environ.get("OPENLINEAGE_DISABLED", "").strip().lower() == "true":
        return False
    if environ.get("OPENLINEAGE_URL") or environ.get("OPENLINEAGE_CONFIG"):
        return True
    if any(k.startswith("OPENLINEAGE__TRANSPORT") for k in environ):
        return True
    return ((cwd or Path.cwd()) / "openlineage.yml").is_file() or \
        (Path.home() / ".openlineage" / "openlineage.yml").is_file()


def check_environment(environ: Any = os.environ) -> None:
    """The values we can check before the client reads them, one line each when wrong."""
    url = environ.get("OPENLINEAGE_URL")
    if url:
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise InvalidInputError(
                f"OPENLINEAGE_URL={url[:80]!r} is not an http(s) address: give the receiver's "
                "base URL (e.g. http://localhost:5000 for Marquez), or use OPENLINEAGE_CONFIG "
                "for a file transport.")
    path = environ.get("OPENLINEAGE_CONFIG")
    if path and not Path(path).is_file():
        raise InvalidInputError(f"OPENLINEAGE_CONFIG={path[:200]!r} is not a file: point it "
                                "at an openlineage.yml, or unset it.")


def namespace_of(tracking_uri: str) -> str:
    """The store's location as a namespace, without user, password or query options."""
    parts = urlsplit(tracking_uri)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    # Built by hand: urlunsplit would fold sqlite:////abs/path into sqlite://abs/path.
    return f"{parts.scheme}://{host}{parts.path}"


def job_name(run: Any) -> str:
    """``<pipeline>.<step>`` for a pipeline step, the pipeline for its run, else the experiment."""
    tags = run.tags or {}
    if tags.get(TAG_PIPELINE):
        step = tags.get(TAG_STEP)
        return f"{tags[TAG_PIPELINE]}.{step}" if step else tags[TAG_PIPELINE]
    return run.experiment


def run_uuid(run_id: str) -> str:
    """Our 32-hex run ids are UUIDs already; OpenLineage wants the dashed form."""
    try:
        return str(uuid.UUID(hex=run_id))
    except ValueError:  # an imported run with a foreign id: a stable UUID from it
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"jupyter-mlops:run:{run_id}"))


class LineageEmitter:
    """Turns one Client's lifecycle events into OpenLineage run events.

    Parameters
    ----------
    client : StoreHolder
        Its store is read for the run, its datasets, artifacts and lineage edges (the
        store's own reads: see :meth:`_build`), and named by the namespace.
    transport_client : openlineage.client.OpenLineageClient, optional
        Default: ``OpenLineageClient()``, configured the client's own way.
    """

    def __init__(self, client: StoreHolder, transport_client: Any = None):
        from jupyter_mlops.extras import require

        require("openlineage.client", extra="openlineage", feature="OpenLineage events")
        from openlineage.client import OpenLineageClient

        self.client = client
        self.namespace = namespace_of(client.store.url)
        self.ol = transport_client if transport_client is not None else OpenLineageClient()
        self._queue: queue.Queue = queue.Queue(QUEUE_SIZE)
        self._warned = False
        self._thread = threading.Thread(target=self._send_loop, daemon=True,
                                        name="mlops-openlineage")
        self._thread.start()
        atexit.register(self.close, 5.0)

    # ------------------------------------------------------------------ building
    def handle(self, event: str, data: dict) -> None:
        """Queue ``event``; it is built (the store read) and sent on the emitter's thread,
        so the run never waits. Never raises."""
        if event not in EVENTS:
            return
        try:
            self._queue.put_nowait((event, dict(data)))
        except queue.Full:
            self._warn("OpenLineage queue full (receiver too slow): an event was dropped")

    def _build(self, event: str, data: dict) -> Any:
        from openlineage.client.event_v2 import RunState

        state = {"run.started": RunState.START, "run.finished": RunState.COMPLETE,
                 "run.failed": RunState.FAIL, "run.killed": RunState.ABORT,
                 "model.registered": RunState.OTHER}.get(event)
        if state is None or not data.get("run_id"):
            return None
        # The store's own reads, not Client.get_run: that flushes the writer and waits for
        # the environment, neither of which this thread should do (end_run already flushed).
        run = self.client.store.runs.get_run(data["run_id"])
        inputs: list[Any]
        outputs: list[Any]
        if state == RunState.START:
            inputs, outputs = [], []  # datasets are logged after a run starts
        elif state == RunState.OTHER:
            inputs = []
            outputs = [self._model(f"{data['model']}/{data['version']}")]
        else:
            inputs, outputs = self._datasets(run.id)
        return self._event(state, run, inputs, outputs, data)

    def _event(self, state: Any, run: Any, inputs: list, outputs: list, data: dict) -> Any:
        from datetime import UTC, datetime

        from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
        from openlineage.client.facet_v2 import error_message_run, parent_run

        facets: dict[str, Any] = {}
        if run.parent_run_id:
            parent = self.client.store.runs.get_run(run.parent_run_id)
            facets["parent"] = parent_run.ParentRunFacet(
                run=parent_run.Run(runId=run_uuid(parent.id)),
                job=parent_run.Job(namespace=self.namespace, name=job_name(parent)))
        if state == RunState.FAIL:
            facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                message=str(data.get("message") or f"run {run.id} failed"),
                programmingLanguage="python")
        ended = (RunState.COMPLETE, RunState.FAIL, RunState.ABORT)
        when = run.end_time if state in ended and run.end_time \
            else None if state == RunState.OTHER else run.start_time
        at = datetime.fromtimestamp(when, UTC) if when else datetime.now(UTC)
        return RunEvent(eventType=state, eventTime=at.isoformat(), producer=PRODUCER,
                        run=Run(runId=run_uuid(run.id), facets=facets),
                        job=Job(namespace=self.namespace, name=job_name(run)),
                        inputs=inputs, outputs=outputs)

    def _datasets(self, run_id: str) -> tuple[list, list]:
        """The run's one-hop lineage, as the panel draws it: what feeds it, what it made."""
        from openlineage.client.event_v2 import InputDataset, OutputDataset

        catalog = self.client.store.catalog
        versions = {f"dataset:{d.id}": d for d in catalog.datasets_of_run(run_id)}
        artifacts = {f"artifact:{a.id}": a for a in catalog.list_artifacts(run_id)}
        me = f"run:{run_id}"
        graph = self.client.store.lineage.graph(me, 1)
        inputs, outputs = [], []
        for edge in graph.edges:
            if edge.dst == me and edge.src.startswith("dataset:") and edge.src in versions:
                inputs.append(self._dataset(InputDataset, versions[edge.src]))
            elif edge.src == me:
                if edge.dst in versions:
                    outputs.append(self._dataset(OutputDataset, versions[edge.dst]))
                elif edge.dst in artifacts:
                    outputs.append(self._artifact(artifacts[edge.dst]))
                elif edge.dst.startswith("model:"):
                    outputs.append(self._model(edge.dst.partition(":")[2]))
        return inputs, outputs

    def _dataset(self, cls: Any, record: Any) -> Any:
        from openlineage.client.facet_v2 import (dataset_version_dataset, documentation_dataset,
                                                 schema_dataset)

        facets: dict[str, Any] = {"version": dataset_version_dataset.DatasetVersionDatasetFacet(
            datasetVersion=record.digest)}
        if record.schema:
            facets["schema"] = schema_dataset.SchemaDatasetFacet(fields=[
                schema_dataset.SchemaDatasetFacetFields(name=str(col), type=str(dtype))
                for col, dtype in record.schema.items()])
        facets["documentation"] = documentation_dataset.DocumentationDatasetFacet(
            description=f"{record.name} v{record.version}"
                        + (f" from {record.source}" if record.source else ""))
        return cls(namespace=self.namespace, name=f"datasets/{record.name}", facets=facets)

    def _artifact(self, record: Any) -> Any:
        from openlineage.client.event_v2 import OutputDataset
        from openlineage.client.facet_v2 import dataset_version_dataset

        return OutputDataset(
            namespace=self.namespace, name=f"artifacts/{record.run_id}/{record.name}",
            facets={"version": dataset_version_dataset.DatasetVersionDatasetFacet(
                datasetVersion=record.digest)})

    def _model(self, name_version: str) -> Any:
        from openlineage.client.event_v2 import OutputDataset
        from openlineage.client.facet_v2 import dataset_version_dataset, documentation_dataset

        name, _, version = name_version.rpartition("/")
        return OutputDataset(namespace=self.namespace, name=f"models/{name}", facets={
            "version": dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=version),
            "documentation": documentation_dataset.DocumentationDatasetFacet(
                description=f"registered model models:/{name}/{version}")})

    # ------------------------------------------------------------------ sending
    def _send_loop(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                built = self._build(*item)
                if built is not None:
                    self.ol.emit(built)
            except Exception as exc:
                self._warn(f"OpenLineage event for {item[0]} not delivered: {exc}")
            finally:
                self._queue.task_done()

    def _warn(self, message: str) -> None:
        # Once per emitter, like the webhooks' stderr line: a receiver that is down would
        # otherwise print on every run.
        if self._warned:
            log.debug("jupyter-mlops: %s", message)
            return
        self._warned = True
        log.warning("jupyter-mlops: %s (further failures are logged at debug level)", message)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every queued event was handed to the transport; False on timeout."""
        done = threading.Event()

        def joiner() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=joiner, daemon=True).start()
        return done.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Send what is queued (at most ``timeout`` seconds), then stop the thread."""
        if not self._thread.is_alive():
            return
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)
        try:
            self.ol.close(timeout)
        except Exception:  # noqa: BLE001 - closing a transport must not fail an exit
            log.debug("closing the OpenLineage transport failed", exc_info=True)


def emitter_for(client: StoreHolder) -> LineageEmitter | None:
    """The client's emitter when OpenLineage is configured, else None (nothing imported).

    A wrong configuration is said once, on one line, and leaves the emitter off: lineage
    must never stop a run.
    """
    if not configured():
        return None
    try:
        check_environment()
        return LineageEmitter(client)
    except Exception as exc:
        log.warning("jupyter-mlops: OpenLineage events are off: %s", exc)
        return None
