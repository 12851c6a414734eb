"""The Client: one store, opened once, and the facets every front door calls.

``Client`` is the tracking facet itself (:class:`RunsClient`: ``client.log_metric`` and
``client.runs.log_metric`` are one method) plus the ``registry``, ``pipelines``,
``monitoring`` and ``features`` facets, and the component stores it hands out
(``client.stores``) so nothing above the store builds one from a URL.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from jupyter_mlops.client.maintenance import GcReport, collect_garbage
from jupyter_mlops.client.runs import RunsClient
from jupyter_mlops.client.stores import ComponentStores
from jupyter_mlops.store import open_store

if TYPE_CHECKING:  # the registry is imported on first use: `import jupyter_mlops` stays light
    from jupyter_mlops.client.features import FeaturesClient
    from jupyter_mlops.client.monitoring import MonitoringClient
    from jupyter_mlops.client.pipelines import PipelinesClient
    from jupyter_mlops.notify import Notifier
    from jupyter_mlops.notify.openlineage import LineageEmitter
    from jupyter_mlops.registry.api import RegistryClient


class Client(RunsClient):
    """Read and write one store.

    Parameters
    ----------
    tracking_uri : str, optional
        SQLAlchemy URL; defaults to ``MLOPS_TRACKING_URI`` or the project's ``.mlops/mlops.db``.
    artifact_root : str, optional
        Folder or fsspec URL for artifact blobs; defaults to ``MLOPS_ARTIFACT_ROOT`` or
        ``.mlops/artifacts``.
    start : Path, optional
        Where a project ``.mlops/`` is looked for (the notebook's, pipeline file's or server
        root's folder; default the current directory).
    """

    def __init__(self, tracking_uri: str | None = None, artifact_root: str | None = None, *,
                 start: Path | None = None):
        from jupyter_mlops.config import resolve_locations

        location = resolve_locations(tracking_uri, artifact_root, start)
        super().__init__(location, open_store(location.tracking_uri, location.artifact_root))
        #: The component stores (pipelines, monitoring, registry), built once, one engine.
        self.stores = ComponentStores(self.store)

    @property
    def runs(self) -> RunsClient:
        """Tracking: runs, metrics, params, tags, artifacts, datasets, lineage, search.

        The same object as the Client (its flat methods are the tracking facet's), so
        existing ``client.log_metric(...)`` callers and ``client.runs.log_metric(...)`` agree.
        """
        return self

    @functools.cached_property
    def registry(self) -> RegistryClient:
        """The model registry on this client's store (built once, on first use).

        Its ``require_reproduced`` gate re-executes runs through *this* client, so it reads
        the store the client was opened on, never the process default.
        """
        from jupyter_mlops.pipelines.reproduce import reproduce_check
        from jupyter_mlops.registry.api import RegistryClient

        return RegistryClient(self, reproduce_check=functools.partial(reproduce_check,
                                                                      client=self),
                              notify=self.notify)

    @functools.cached_property
    def features(self) -> FeaturesClient:
        """The feature store on this client's store: views, training sets, online values."""
        from jupyter_mlops.client.features import FeaturesClient

        return FeaturesClient(self)

    @functools.cached_property
    def pipelines(self) -> PipelinesClient:
        """Pipelines on this client's store: run, list, show, schedule, reproduce."""
        from jupyter_mlops.client.pipelines import PipelinesClient

        return PipelinesClient(self)

    @functools.cached_property
    def monitoring(self) -> MonitoringClient:
        """Monitors on this client's store: create, reopen, list."""
        from jupyter_mlops.client.monitoring import MonitoringClient

        return MonitoringClient(self)

    @functools.cached_property
    def webhooks(self) -> Notifier:
        """Webhooks of this client's store: add, list, remove, the delivery log (issue 19)."""
        from jupyter_mlops.config import current_user
        from jupyter_mlops.notify import Notifier
        from jupyter_mlops.store import pipelines_lite

        if pipelines_lite.serves(self.store.url):  # who wants an event: read on sqlite3
            from jupyter_mlops.store.webhooks_lite import LiteWebhookStore

            return Notifier(LiteWebhookStore(self.store.url), user=current_user())
        from jupyter_mlops.store.webhooks import WebhookStore

        return Notifier(WebhookStore(self.store.url), user=current_user())

    @functools.cached_property
    def lineage_events(self) -> LineageEmitter | None:
        """The OpenLineage emitter when ``OPENLINEAGE_*``/``openlineage.yml`` configure one,
        else None (``docs/openlineage.md``); decided once per client, nothing imported when off."""
        from jupyter_mlops.notify.openlineage import emitter_for

        return emitter_for(self)

    def notify(self, event: str, data: dict) -> None:
        """Send ``event`` to the store's webhooks that want it, and to OpenLineage when
        configured; the hook components are handed. Never raises: a notification must not
        fail what it reports on."""
        from jupyter_mlops.notify.openlineage import EVENTS as LINEAGE, LINEAGE_ONLY

        if event in LINEAGE and self.lineage_events is not None:
            self.lineage_events.handle(event, data)
        if event in LINEAGE_ONLY:
            return
        try:
            self.webhooks.emit(event, data)
        except Exception as exc:
            import sys

            print(f"jupyter-mlops: webhooks not notified of {event}: {exc}", file=sys.stderr)

    def close(self) -> None:
        """Write everything still queued and stop the writer thread (idempotent).

        Exit does this anyway; call it (or use ``with Client(...) as client:``) in long-lived
        processes that are done with a store.
        """
        self._environment_recorded()
        self.writer.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def gc(self, dry_run: bool = False) -> GcReport:
        """Mark dead runs and their pipeline runs KILLED, verify blobs, prune unreferenced ones.

        ``dry_run`` only spares the blobs: a dead run is dead either way.

        Returns
        -------
        GcReport
            ``runs_killed`` is exactly the runs this process marked KILLED: in this call, and
            when it opened the store (opening reaps too) unless an earlier ``gc`` reported
            them. ``blobs.missing`` lists referenced blobs that no longer exist.

        Raises
        ------
        PathEscapeError
            The artifact root's ``tmp/`` or ``blobs/`` is a symlink leading out of it.
        """
        return collect_garbage(self.store, self.stores, dry_run=dry_run)
