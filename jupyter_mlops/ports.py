"""What components need of the Client, as small typing protocols (issue 13).

Components receive a :class:`jupyter_mlops.client.Client` but may not import it (the Client
sits above them), so each names what it uses with a protocol from here: the run-recording
methods, the artifact and dataset methods, the read methods, the store and the component
stores, and the facets (registry, pipelines, monitoring) a component reaches through the
Client. The ``…Client`` protocols at the end combine them, one per component that needs
several. ``tests/test_client_ports.py`` and ``tests/typing/client_conforms.py`` prove that
the Client (and its facet classes) satisfy every protocol here.

Nothing is imported at run time but :mod:`typing`: the store types these protocols name are
imported for type checkers only, so a component importing this module pays nothing. This
module sits between ``tracking`` and ``store`` in the layers: it may name store records and
foundation types, never a component's class (it is below them all).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from jupyter_mlops.config import Locations
    from jupyter_mlops.display import RunList
    from jupyter_mlops.hashing import HashCache
    from jupyter_mlops.store import Store
    from jupyter_mlops.store.interfaces import (
        AbstractMonitoringStore,
        AbstractPipelineStore,
        AbstractRegistryStore,
    )
    from jupyter_mlops.store.monitoring import WindowRecord
    from jupyter_mlops.store.pipelines import PipelineRecord, PipelineRunRecord
    from jupyter_mlops.store.records import (
        ArtifactRecord,
        DatasetVersionRecord,
        LineageGraph,
        MetricPoint,
        RunDetail,
        RunRecord,
    )
    from jupyter_mlops.store.registry_records import ModelVersionRecord


# --------------------------------------------------------------------------- tracking facet
class Flusher(Protocol):
    """Makes everything logged so far durable (before reading it back)."""

    def flush(self) -> None: ...


class RunRecorder(Flusher, Protocol):
    """The run-recording methods: open, attach and end runs; params, metrics and tags."""

    def create_run(self, experiment: str | None = None, name: str | None = None,
                   tags: Mapping[str, Any] | None = None, parent_run_id: str | None = None,
                   user: str | None = None) -> RunRecord: ...

    def attach_run(self, run_id: str) -> RunRecord: ...

    def end_run(self, run_id: str, status: str = "FINISHED") -> None: ...

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None: ...

    def log_metric(self, run_id: str, key: str, value: Any, step: int | None = None,
                   timestamp: float | None = None) -> None: ...

    def log_metrics(self, run_id: str, metrics: Mapping[str, Any], step: int | None = None,
                    timestamp: float | None = None) -> None: ...

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None: ...


class ArtifactRecorder(Protocol):
    """What a run read and wrote: artifacts, datasets, its notebook, and content hashes."""

    def log_artifact(self, run_id: str, obj: Any, name: str | None = None,
                     kind: str = "artifact") -> list[ArtifactRecord]: ...

    def log_dataset(self, run_id: str | None, data: Any, name: str,
                    role: str = "input") -> DatasetVersionRecord: ...

    def get_dataset(self, name: str, version: int | None = None) -> DatasetVersionRecord: ...

    def log_notebook(self, run_id: str, notebook: Mapping | bytes, path: str | None = None,
                     git_dir: str | None = None) -> None: ...

    def hash_cache(self) -> HashCache: ...


class RunReader(Protocol):
    """Reading runs back: one run, id prefixes, search, metric history, snapshot, lineage."""

    def get_run(self, run_id: str) -> RunDetail: ...

    def resolve_run_id(self, text: str) -> str: ...

    def search_runs(self, filter: str | None = None, experiment: str | None = None,
                    order_by: Sequence[str] | str | None = None, max_results: int = 100,
                    offset: int = 0, *, warn: bool = True,
                    lifecycle: str = "active") -> RunList: ...

    def metric_history(self, run_id: str, key: str,
                       max_points: int | None = None) -> list[MetricPoint]: ...

    def notebook_snapshot(self, run_id: str) -> dict: ...

    def lineage(self, node: Any, depth: int = 10) -> LineageGraph: ...


class Located(Protocol):
    """Says which store it is on and why (error messages name it)."""

    @property
    def location(self) -> Locations: ...


# --------------------------------------------------------------------------- stores
class StoreHolder(Protocol):
    """Has the metadata store and its blobs (``store.runs``, ``.catalog``, ``.blobs`` …)."""

    @property
    def store(self) -> Store: ...


class ComponentStoreSet(Protocol):
    """The component stores one Client builds once (``client.stores``)."""

    @property
    def pipelines(self) -> AbstractPipelineStore: ...

    @property
    def monitoring(self) -> AbstractMonitoringStore: ...

    @property
    def registry(self) -> AbstractRegistryStore: ...


class ComponentStoresHolder(Protocol):
    """Has the component stores (``client.stores.pipelines`` …)."""

    @property
    def stores(self) -> ComponentStoreSet: ...


class StoresHolder(StoreHolder, ComponentStoresHolder, Protocol):
    """Has the metadata store and the component stores."""


# --------------------------------------------------------------------------- facets
class Predictor(Protocol):
    """A loaded model: ``predict(data)``."""

    def predict(self, data: Any, **kwargs: Any) -> Any: ...


class ModelResolver(Protocol):
    """The registry facet as monitoring uses it: which version a URI names, and its model."""

    def resolve(self, uri: str) -> ModelVersionRecord: ...

    def load_model(self, uri: str, *, trusted: bool = False,
                   trusted_types: list[str] | None = None) -> Predictor: ...


class RegistryHolder(Protocol):
    """Has the registry facet (``client.registry``)."""

    @property
    def registry(self) -> ModelResolver: ...


class PipelineReader(Protocol):
    """The pipelines facet as the gates read it: a pipeline, a pipeline run."""

    def get(self, name: str | int) -> PipelineRecord: ...

    def get_run(self, pipeline_run_id: str) -> PipelineRunRecord: ...


class PipelinesHolder(Protocol):
    """Has the pipelines facet (``client.pipelines``)."""

    @property
    def pipelines(self) -> PipelineReader: ...


class MonitorWindows(Protocol):
    """A monitor as the drift gate reads it: its latest windows."""

    def windows(self, last: int | None = None) -> list[WindowRecord]: ...


class MonitorLookup(Protocol):
    """The monitoring facet as the gates use it: reopen a monitor by name."""

    def get(self, name: str, launcher: Any = None) -> MonitorWindows: ...


class MonitoringHolder(Protocol):
    """Has the monitoring facet (``client.monitoring``)."""

    @property
    def monitoring(self) -> MonitorLookup: ...


# --------------------------------------------------------------------------- per component
class RecordingClient(RunRecorder, ArtifactRecorder, StoreHolder, Protocol):
    """Records runs with their files, reaching blobs and catalog directly (pipeline steps)."""


class PipelineClient(RecordingClient, ComponentStoresHolder, Protocol):
    """Runs a pipeline: records its runs and keeps its state in the pipeline store."""


class ReproduceClient(PipelineClient, RunReader, Protocol):
    """Re-executes a recorded run and compares it (also the notebook objective of sweeps)."""


class SweepClient(ReproduceClient, Located, Protocol):
    """Runs a sweep: trials as child runs, a notebook objective as a pipeline run."""


class SweepReader(RunReader, Flusher, Located, Protocol):
    """Reads a sweep's trials back (flushing first) and names the store when there are none."""


class GateClient(RunReader, PipelinesHolder, MonitoringHolder, Protocol):
    """Checks quality gates: run values, pipeline runs, drift of monitors."""


class RegistryBacking(StoresHolder, RunReader, Flusher, Protocol):
    """What the model registry keeps models in: blobs, its store, the runs they came from."""


class MonitorClient(StoresHolder, ArtifactRecorder, RegistryHolder, Protocol):
    """Creates a monitor: its store, reference datasets, the registered model's baseline."""
