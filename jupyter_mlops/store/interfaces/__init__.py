"""Typed contracts of the store, one abstract base class per concern.

Components and the Client program against these; the SQLAlchemy classes in :mod:`jupyter_mlops.store`
implement them (each names its interface on its class line, and ``tests/store_contract`` runs the
same behavioural tests against SQLite and PostgreSQL). A new backend implements the ABC and
passes that suite; a new method goes into the ABC first, with its contract in one line.

=========================  ==========================================  =========================
concern                    interface                                   SQLAlchemy / local class
=========================  ==========================================  =========================
runs (tracking metadata)   :class:`AbstractRunStore`                   ``store.runs.RunStore``
catalog of a run's inputs  :class:`AbstractCatalogStore`               ``store.catalog.CatalogStore``
lineage graph              :class:`AbstractLineageStore`               ``store.lineage.LineageStore``
artifacts (blobs)          :class:`AbstractArtifactStore`              ``store.blobs.BlobStore``
model registry             :class:`AbstractRegistryStore`              ``store.registry.RegistryStore``
pipelines and schedules    :class:`AbstractPipelineStore`              ``store.pipelines.PipelineStore``
monitoring                 :class:`AbstractMonitoringStore`            ``store.monitoring.MonitoringStore``
feature store              :class:`AbstractFeatureStore`               ``store.features.FeatureStore``
=========================  ==========================================  =========================
"""

from jupyter_mlops.store.interfaces.artifacts import AbstractArtifactStore
from jupyter_mlops.store.interfaces.features import AbstractFeatureStore
from jupyter_mlops.store.interfaces.monitoring import AbstractMonitoringStore
from jupyter_mlops.store.interfaces.pipelines import AbstractPipelineStore
from jupyter_mlops.store.interfaces.registry import AbstractRegistryStore, Gate
from jupyter_mlops.store.interfaces.tracking import (
    AbstractCatalogStore,
    AbstractLineageStore,
    AbstractRunStore,
)

__all__ = [
    "AbstractArtifactStore",
    "AbstractCatalogStore",
    "AbstractFeatureStore",
    "AbstractLineageStore",
    "AbstractMonitoringStore",
    "AbstractPipelineStore",
    "AbstractRegistryStore",
    "AbstractRunStore",
    "Gate",
]
