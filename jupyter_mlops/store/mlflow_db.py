"""Reading an MLflow tracking database directly, read-only, in bulk.

MLflow's own client reads a run at a time (a query per run, per metric key for the history):
far too slow for ten thousand runs. This reads MLflow's tables (``experiments``, ``runs``,
``params``, ``tags``, ``metrics``, ``registered_models``, ``model_versions``,
``registered_model_aliases``; ``mlflow/store/tracking/dbmodels/models.py``) a batch of runs at
a time, with a handful of ``IN (...)`` queries per batch. The database is recognised first
(:func:`~jupyter_mlops.store.identify.identify`: nothing else is opened) and then only ever
opened read-only: SQLite with ``mode=ro`` (``immutable`` for a WAL file without a ``-wal``
file, so not even a side file appears), PostgreSQL in read-only transactions.

Rows are returned as plain dicts in MLflow's own units (times in milliseconds); the importer
converts and validates them. Text that is not valid UTF-8 (a hand-edited database) is decoded
with replacement characters and flagged, instead of failing the whole batch.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from sqlalchemy import bindparam, create_engine, event, text
from sqlalchemy.pool import NullPool

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.store.engine import read_only_url, redact
from jupyter_mlops.store.identify import (
    _HEADER_BYTES, MLFLOW, _wal_file, _with_query, header_says_wal, identify, sqlite_path,
)

#: Marks a value that was not valid UTF-8 in the source (decoded with U+FFFD).
BAD_UTF8 = "\ufffd"
_IN_CHUNK = 900


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


class MlflowDatabase:
    """An MLflow tracking database opened read-only.

    Raises
    ------
    InvalidInputError
        ``url`` is not an MLflow tracking database (what it is instead is named).
    """

    def __init__(self, url: str):
        found = identify(url)
        if found.kind != MLFLOW:
            raise InvalidInputError(
                f"{redact(url)} is not an MLflow tracking database (it is: {found.kind}); "
                "give the URI MLflow was started with (--backend-store-uri). It was only read.")
        self.url = url
        self.where = redact(url)
        self.tables = set(found.tables)
        ro = read_only_url(url)
        path = sqlite_path(url)
        if path is not None:
            with path.open("rb") as f:
                head = f.read(_HEADER_BYTES)
            if header_says_wal(head) and not _wal_file(path).exists():
                ro = _with_query(ro, immutable="1")
        self._engine = create_engine(ro, poolclass=NullPool)
        if path is not None:  # PostgreSQL: read_only_url made every transaction READ ONLY
            event.listen(self._engine, "connect", _sqlite_text_factory)
        self._conn = self._engine.connect()

    def close(self) -> None:
        self._conn.close()
        self._engine.dispose()

    def __enter__(self) -> MlflowDatabase:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _rows(self, sql: str, **params) -> list[dict]:
        stmt = text(sql)
        for name, value in params.items():
            if isinstance(value, (list, tuple)):
                stmt = stmt.bindparams(bindparam(name, expanding=True))
        return [dict(r._mapping) for r in self._conn.execute(stmt, params)]

    # ------------------------------------------------------------------ tracking
    def experiments(self) -> list[dict]:
        """Every experiment's row with its ``tags`` (the description is MLflow's tag
        ``mlflow.note.content``)."""
        rows = self._rows("SELECT experiment_id, name, artifact_location, lifecycle_stage, "
                          "creation_time FROM experiments ORDER BY experiment_id")
        by_id = {str(r["experiment_id"]): {**r, "tags": {}} for r in rows}
        if "experiment_tags" in self.tables:
            for t in self._rows("SELECT experiment_id, key, value FROM experiment_tags "
                                "ORDER BY key"):
                if str(t["experiment_id"]) in by_id:
                    by_id[str(t["experiment_id"])]["tags"][t["key"]] = t["value"]
        return list(by_id.values())

    def run_index(self) -> list[dict]:
        """Every run's id, experiment and lifecycle stage, oldest first (parents first)."""
        return self._rows("SELECT run_uuid, experiment_id, lifecycle_stage FROM runs "
                          "ORDER BY start_time, run_uuid")

    def runs(self, ids: Sequence[str]) -> list[dict]:
        """Full runs: the run row plus ``params``, ``tags`` dicts and ``metrics``
        ``{key: ([values], [steps], [timestamps_ms])}`` in logging order, for ``ids``."""
        out: dict[str, dict] = {}
        for i in range(0, len(ids), _IN_CHUNK):
            part = list(ids[i:i + _IN_CHUNK])
            for r in self._rows(
                    "SELECT run_uuid, name, user_id, status, start_time, end_time, "
                    "lifecycle_stage, artifact_uri, experiment_id FROM runs "
                    "WHERE run_uuid IN :ids", ids=part):
                r.update(params={}, tags={}, metrics={})
                out[r["run_uuid"]] = r
            for run_id, key, value in self._raw(
                    "SELECT run_uuid, key, value FROM params WHERE run_uuid IN ({})", part):
                out[run_id]["params"][key] = value
            for run_id, key, value in self._raw(
                    "SELECT run_uuid, key, value FROM tags WHERE run_uuid IN ({})", part):
                out[run_id]["tags"][key] = value
            for run_id, key, value, ts, step in self._raw(
                    "SELECT run_uuid, key, CASE WHEN is_nan THEN NULL ELSE value END, "
                    "timestamp, step FROM metrics WHERE run_uuid IN ({})", part):
                series = out[run_id]["metrics"].get(key)
                if series is None:
                    series = out[run_id]["metrics"][key] = ([], [], [])
                series[0].append(float("nan") if value is None else value)
                series[1].append(step)
                series[2].append(ts)
        return [out[i] for i in ids if i in out]

    # ------------------------------------------------------------------ registry
    def models(self) -> list[dict]:
        """Registered models with ``versions`` (rows) and ``aliases`` ({alias: version})."""
        if "registered_models" not in self.tables:
            return []
        models = {m["name"]: {**m, "versions": [], "aliases": {}, "tags": {}}
                  for m in self._rows("SELECT name, description, creation_time, "
                                      "last_updated_time FROM registered_models ORDER BY name")}
        if "registered_model_tags" in self.tables:
            for t in self._rows("SELECT name, key, value FROM registered_model_tags "
                                "ORDER BY key"):
                if t["name"] in models:
                    models[t["name"]]["tags"][t["key"]] = t["value"]
        if "model_versions" in self.tables:
            for v in self._rows(
                    "SELECT name, version, creation_time, description, user_id, current_stage, "
                    "source, run_id, status FROM model_versions ORDER BY name, version"):
                if v["name"] in models:
                    models[v["name"]]["versions"].append({**v, "tags": {}})
            if "model_version_tags" in self.tables:
                versions = {(v["name"], int(v["version"])): v
                            for m in models.values() for v in m["versions"]}
                for t in self._rows("SELECT name, version, key, value FROM model_version_tags "
                                    "ORDER BY key"):
                    found = versions.get((t["name"], int(t["version"])))
                    if found is not None:
                        found["tags"][t["key"]] = t["value"]
            if "storage_location" in self._columns("model_versions"):
                where = {(r["name"], r["version"]): r["storage_location"] for r in self._rows(
                    "SELECT name, version, storage_location FROM model_versions")}
                for m in models.values():
                    for v in m["versions"]:
                        v["storage_location"] = where.get((v["name"], v["version"]))
        if "registered_model_aliases" in self.tables:
            for a in self._rows("SELECT name, alias, version FROM registered_model_aliases"):
                if a["name"] in models:
                    models[a["name"]]["aliases"][a["alias"]] = int(a["version"])
        return list(models.values())

    def _raw(self, sql: str, ids: list[str]) -> list[tuple]:
        """Many rows through the driver's cursor (SQLAlchemy's per-row layer costs more than
        the query here). Text is decoded strictly first; a batch holding bytes that are not
        UTF-8 is read again with replacement characters."""
        dbapi = self._conn.connection.driver_connection
        marks = ", ".join(["%s" if self._conn.dialect.name == "postgresql" else "?"] * len(ids))
        query = sql.format(marks)
        if self._conn.dialect.name != "sqlite":
            cur = dbapi.cursor()
            cur.execute(query, ids)
            return cur.fetchall()
        dbapi.text_factory = str
        try:
            return dbapi.execute(query, ids).fetchall()
        except sqlite3.OperationalError:
            dbapi.text_factory = _decode
            return dbapi.execute(query, ids).fetchall()
        finally:
            dbapi.text_factory = _decode

    def _columns(self, table: str) -> set[str]:
        from sqlalchemy import inspect

        return {c["name"] for c in inspect(self._conn).get_columns(table)}


def _sqlite_text_factory(dbapi_conn, _record) -> None:
    dbapi_conn.text_factory = _decode
