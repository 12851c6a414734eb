"""Listing feature views of a plain SQLite file store with the stdlib's ``sqlite3`` (issue 16).

Why: ``jupyter mlops features list`` is a whole process, and importing SQLAlchemy and the ORM
costs it more than a second of CPU on this machine, while the listing is one query. The query
and the records are those of ``FeatureStore.list_views`` (``store/features.py``);
tests/features/test_cli.py compares both on the same store. PostgreSQL, and SQLite URLs
with options, take the SQLAlchemy path (:func:`list_views` returns None for them).
"""

from __future__ import annotations

import json

from jupyter_mlops.store import lite
from jupyter_mlops.store.feature_records import (
    FeatureViewRecord,
    MaterializationRecord,
    ViewListing,
)

_VIEW_COLUMNS = ("id", "name", "version", "digest", "data_digest", "blob_digest", "schema",
                 "entity", "timestamp_column", "features", "ttl_seconds", "description",
                 "source", "rows", "entities", "min_event_ns", "max_event_ns", "dataset_id",
                 "created_by", "created_at")

_LIST_SQL = f"""
SELECT {", ".join("v." + c for c in _VIEW_COLUMNS)}, c.n,
       m.view_id, m.watermark_ns, m.rows_written, m.started_at, m.updated_at
FROM feature_views AS v
JOIN (SELECT name, max(version) AS latest, count(*) AS n FROM feature_views GROUP BY name) AS c
  ON v.name = c.name AND v.version = c.latest
LEFT OUTER JOIN feature_materializations AS m ON m.view_id = v.id
ORDER BY v.name
"""


def list_views(url: str) -> list[ViewListing] | None:
    """``FeatureStore(url).list_views()`` without SQLAlchemy; None when ``url`` is not a plain
    SQLite file (the caller then uses the SQLAlchemy store)."""
    path = lite.sqlite_path(url)
    if path is None:
        return None
    out = []
    n = len(_VIEW_COLUMNS)
    for row in lite._connection(path).read(_LIST_SQL):
        v = dict(zip(_VIEW_COLUMNS, row[:n]))
        view = FeatureViewRecord(
            v["id"], v["name"], v["version"], v["digest"], v["data_digest"], v["blob_digest"],
            dict(_json(v["schema"]) or {}), tuple(_json(v["entity"]) or ()),
            v["timestamp_column"], tuple(_json(v["features"]) or ()), v["ttl_seconds"],
            v["description"], v["source"], v["rows"], v["entities"], v["min_event_ns"],
            v["max_event_ns"], v["dataset_id"], v["created_by"], v["created_at"])
        count, m = row[n], row[n + 1:]
        done = None if m[0] is None else MaterializationRecord(*m)
        out.append(ViewListing(view, int(count), done))
    return out


def _json(text):
    return None if text is None else json.loads(text)
