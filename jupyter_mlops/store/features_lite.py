"""Feature-view listing and online lookups of a plain SQLite file store with the stdlib's
``sqlite3`` (issue 16).

Why: ``jupyter mlops features list`` is a whole process, and importing SQLAlchemy and the ORM
costs it more than a second of CPU on this machine, while the listing is one query. The same
holds for the first ``get_online_features`` of a fresh process (a model server's first
request, a notebook's first lookup): three small queries, behind 1.2 s of imports; and for
the view lookup of a notebook's first training set. The
queries and the records are those of ``FeatureStore`` (``store/features.py``);
tests/features/test_cli.py and test_online.py compare both paths on the same store.
PostgreSQL, and SQLite URLs with options, take the SQLAlchemy path (:func:`list_views` and
:func:`feature_reader` hand it back for them).
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
        view = _view(row[:n])
        count, m = row[n], row[n + 1:]
        done = None if m[0] is None else MaterializationRecord(*m)
        out.append(ViewListing(view, int(count), done))
    return out


_VIEW_SQL = (f"SELECT {', '.join(_VIEW_COLUMNS)} FROM feature_views WHERE name = ? "
             "ORDER BY version DESC LIMIT 1")
_VIEW_VERSION_SQL = (f"SELECT {', '.join(_VIEW_COLUMNS)} FROM feature_views "
                     "WHERE name = ? AND version = ?")
_MATERIALIZATION_SQL = ("SELECT view_id, watermark_ns, rows_written, started_at, updated_at "
                        "FROM feature_materializations WHERE view_id = ?")
#: The statement of FeatureStore.online_values on SQLite (a test checks they agree).
ONLINE_SQL = ("SELECT entity_key, event_ns, values_json FROM feature_online "
              "WHERE view_id = ? AND entity_key IN (SELECT value FROM json_each(?))")


class LiteFeatureReader:
    """What ``online_features`` and a training set's view lookup read of the store
    (``get_view``, ``online_values``, ``materialization``), through ``sqlite3``. A view that
    is not found is looked up again through ``full()`` (the SQLAlchemy store), so its error
    names the views that exist, word for word as there."""

    def __init__(self, path: str, full):
        self._path = path
        self._full = full

    def get_view(self, name: str, version: int | None = None) -> FeatureViewRecord:
        conn = lite._connection(self._path)
        rows = conn.read(_VIEW_SQL, (name,)) if version is None \
            else conn.read(_VIEW_VERSION_SQL, (name, version))
        if not rows:
            return self._full().get_view(name, version)  # raises the store's NotFoundError
        return _view(rows[0])

    def online_values(self, view_id: int, keys) -> dict[str, tuple[int, str]]:
        unique = list(dict.fromkeys(keys))
        if not unique:
            return {}
        rows = lite._connection(self._path).read(
            ONLINE_SQL, (view_id, json.dumps(unique, ensure_ascii=False)))
        return {k: (ns, v) for k, ns, v in rows}

    def materialization(self, view_id: int) -> MaterializationRecord | None:
        rows = lite._connection(self._path).read(_MATERIALIZATION_SQL, (view_id,))
        return MaterializationRecord(*rows[0]) if rows else None


def feature_reader(url: str, full):
    """A :class:`LiteFeatureReader` for a plain SQLite file, else ``full()`` itself."""
    path = lite.sqlite_path(url)
    return full() if path is None else LiteFeatureReader(path, full)


def _view(row) -> FeatureViewRecord:
    v = dict(zip(_VIEW_COLUMNS, row))
    return FeatureViewRecord(
        v["id"], v["name"], v["version"], v["digest"], v["data_digest"], v["blob_digest"],
        dict(_json(v["schema"]) or {}), tuple(_json(v["entity"]) or ()),
        v["timestamp_column"], tuple(_json(v["features"]) or ()), v["ttl_seconds"],
        v["description"], v["source"], v["rows"], v["entities"], v["min_event_ns"],
        v["max_event_ns"], v["dataset_id"], v["created_by"], v["created_at"])


def _json(text):
    return None if text is None else json.loads(text)
