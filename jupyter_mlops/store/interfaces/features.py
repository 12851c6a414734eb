"""Contract of the feature store: versioned views, their statistics, the online table."""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the records live beside their implementation, which imports this module
    from jupyter_mlops.store.features import (
        FeatureStatRecord,
        FeatureViewRecord,
        MaterializationRecord,
        ViewListing,
    )


class AbstractFeatureStore(abc.ABC):
    """Feature views (one row per version), per-feature statistics, online values, watermarks.

    An unknown view or version is a :class:`~jupyter_mlops.errors.NotFoundError` naming the
    views that exist.
    """

    @abc.abstractmethod
    def add_view_version(self, *, name: str, digest: str, data_digest: str, blob_digest: str,
                         schema: dict, entity: Sequence[str], timestamp_column: str,
                         features: Sequence[str], ttl_seconds: float | None,
                         description: str | None, source: str | None, rows: int,
                         entities: int, min_event_ns: int | None, max_event_ns: int | None,
                         dataset_id: int | None, user: str,
                         stats: Mapping[str, tuple[str, dict]]) -> tuple[FeatureViewRecord, bool]:
        """The version of ``name`` with ``digest``, created (next number) if new; (record, created)."""

    @abc.abstractmethod
    def find_view(self, name: str, digest: str) -> FeatureViewRecord | None:
        """The version of ``name`` with this definition digest, or None."""

    @abc.abstractmethod
    def read_table(self, table: str):
        """A table of the store's database (not one of the store's own) as a DataFrame."""

    @abc.abstractmethod
    def get_view(self, name: str, version: int | None = None) -> FeatureViewRecord:
        """One version of a view (the newest when ``version`` is None)."""

    @abc.abstractmethod
    def get_view_by_id(self, view_id: int) -> FeatureViewRecord:
        """One view version by its row id (lineage nodes name it)."""

    @abc.abstractmethod
    def versions(self, name: str) -> list[FeatureViewRecord]:
        """Every version of a view, oldest first."""

    @abc.abstractmethod
    def list_views(self) -> list[ViewListing]:
        """The newest version of every view with its version count and materialization."""

    @abc.abstractmethod
    def stats(self, view_id: int) -> list[FeatureStatRecord]:
        """Statistics of each feature of one view version, in the view's feature order."""

    @abc.abstractmethod
    def materialization(self, view_id: int) -> MaterializationRecord | None:
        """How far a view version is materialized (None: never)."""

    @abc.abstractmethod
    def write_online(self, view_id: int, rows: Sequence[tuple[str, int, str]],
                     watermark_ns: int | None, rows_written: int) -> MaterializationRecord:
        """Upsert ``(entity_key, event_ns, values_json)`` rows and move the watermark, atomically.

        A row replaces the stored one only if its event is not older, so replaying a chunk
        after a crash changes nothing; the watermark never moves backwards.
        """

    @abc.abstractmethod
    def online_values(self, view_id: int, keys: Sequence[str]) -> dict[str, tuple[int, str]]:
        """``entity_key -> (event_ns, values_json)`` for the keys that are materialized."""
