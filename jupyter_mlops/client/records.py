"""The record types the Client returns, for front doors to name.

Front doors (magics, widgets, REST, CLI) never import :mod:`jupyter_mlops.store`; when they
need a record type for an annotation or an ``isinstance`` they take it from here. The
classes are the store's own frozen dataclasses, not copies.
"""

from jupyter_mlops.store.records import (
    ArtifactRecord,
    CodeSnapshotRecord,
    DatasetVersionRecord,
    EnvironmentRecord,
    ExperimentRecord,
    LineageEdgeRecord,
    LineageGraph,
    LineageNode,
    MetricPoint,
    RunDetail,
    RunRecord,
)

__all__ = [
    "ArtifactRecord", "CodeSnapshotRecord", "DatasetVersionRecord", "EnvironmentRecord",
    "ExperimentRecord", "LineageEdgeRecord", "LineageGraph", "LineageNode", "MetricPoint",
    "RunDetail", "RunRecord",
]
