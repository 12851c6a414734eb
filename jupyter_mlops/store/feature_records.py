"""The feature store's records, apart from its SQLAlchemy queries (issue 16).

``store/features.py`` (SQLAlchemy) and ``store/features_lite.py`` (the stdlib's ``sqlite3``,
for ``jupyter mlops features list``) hand out the same frozen records; keeping them here lets
the light path build them without importing SQLAlchemy.
"""

from __future__ import annotations

import dataclasses

from jupyter_mlops.store.records import Record


@dataclasses.dataclass(frozen=True)
class FeatureViewRecord(Record):
    id: int
    name: str
    version: int
    digest: str
    data_digest: str
    blob_digest: str
    schema: dict
    entity: tuple[str, ...]
    timestamp_column: str
    features: tuple[str, ...]
    ttl_seconds: float | None
    description: str | None
    source: str | None
    rows: int
    entities: int
    min_event_ns: int | None
    max_event_ns: int | None
    dataset_id: int | None
    created_by: str
    created_at: float

    @property
    def ref(self) -> str:
        """``name@version``: how a training set and the lineage graph name this version."""
        return f"{self.name}@{self.version}"

    def __str__(self) -> str:
        return (f"{self.ref}: {len(self.features)} features by {', '.join(self.entity)}, "
                f"{self.rows} rows, {self.entities} entities")


@dataclasses.dataclass(frozen=True)
class FeatureStatRecord(Record):
    view_id: int
    feature: str
    dtype: str
    stats: dict


@dataclasses.dataclass(frozen=True)
class MaterializationRecord(Record):
    view_id: int
    #: Newest event time (ns since the epoch) written to the online table; None: none yet.
    watermark_ns: int | None
    rows_written: int
    started_at: float
    updated_at: float


@dataclasses.dataclass(frozen=True)
class ViewListing(Record):
    """A view's newest version, how many versions it has, and how far it is materialized."""

    view: FeatureViewRecord
    versions: int
    materialized: MaterializationRecord | None

    def __str__(self) -> str:
        state = "not materialized" if self.materialized is None else \
            f"materialized to {self.materialized.watermark_ns} ns"
        return f"{self.view} ({self.versions} versions, {state})"
