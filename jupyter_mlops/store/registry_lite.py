"""The registry's first-call path for a SQLite file store, on the standard library's ``sqlite3``.

Why: a process's first ``register_model`` + ``load_model`` needs four statements, yet the
SQLAlchemy :class:`~jupyter_mlops.store.registry.RegistryStore` costs an import of SQLAlchemy
and the ORM (≈ 0.6 s) plus its first compiled queries (≈ 0.3 s). For a plain SQLite file
(``lite.sqlite_path``; the Client has already checked the schema is at head),
:class:`LiteRegistryStore` registers a version and reads versions by number, alias or
"latest" here, through lite's shared connection (``BEGIN IMMEDIATE``, busy timeout, WAL);
every other registry method is the SQLAlchemy store's, built on first use.

The statements have the semantics of ``store/registry/versions.py`` and ``rows.py``: the same
rows (JSON columns written as SQLAlchemy's JSON type writes them on SQLite: ``json.dumps``,
so ``None`` is the JSON ``null``), the same audit event, version numbers never reused after a
delete, the same errors. ``tests/registry/test_registry_lite.py`` runs both paths on one
store and compares rows and records.
"""

from __future__ import annotations

import json
import time

from jupyter_mlops.errors import InvalidInputError, NotFoundError
from jupyter_mlops.store import lite
from jupyter_mlops.store.registry.checks import (
    check_alias,
    check_model_name,
    check_user,
    clean_metrics,
)
from jupyter_mlops.store.registry_records import ModelVersionRecord

_VERSION_COLUMNS = ("id, version, run_id, digest, size, flavor, model_class, trusted_types, "
                    "signature, input_example, metrics, description, created_by, created_at, "
                    "updated_at")


def _dumps(value) -> str:
    return json.dumps(value)  # SQLAlchemy's JSON type on SQLite: json.dumps, None -> 'null'


def _loads(text):
    return None if text is None else json.loads(text)


class LiteRegistryStore(lite.LiteStore):
    """:class:`~jupyter_mlops.store.registry.RegistryStore` for a SQLite file: registering
    and reading versions on ``sqlite3``; anything else is the SQLAlchemy store's."""

    # Aliases, promotions, roles, audit… are the SQLAlchemy store's, private ones too.
    _own_prefix = "__"

    def _full_class(self) -> type:
        from jupyter_mlops.store.registry import RegistryStore

        return RegistryStore

    # ------------------------------------------------------------------ writing
    def create_version(
        self, name: str, *, digest: str, size: int, flavor: str, model_class: str,
        trusted_types: list[str] | None, signature: dict | None, input_example: dict | None,
        metrics: dict | None, description: str | None, run_id: str | None, user: str,
        details: dict | None = None,
    ) -> ModelVersionRecord:
        """Add version N+1 of ``name`` (creating the model if new) and audit it."""
        check_model_name(name)
        check_user(user)
        t = time.time()
        values = dict(
            version=0, run_id=run_id, digest=digest, size=size, flavor=flavor,
            model_class=model_class[:512], trusted_types=sorted(set(trusted_types or [])),
            signature=signature, input_example=input_example, metrics=clean_metrics(metrics),
            description=description, created_by=user, created_at=t)
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO registered_models (name, description, gate_policy, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
                (name, description, _dumps(None), t, t))
            (model_id,) = conn.execute("SELECT id FROM registered_models WHERE name = ?",
                                       (name,)).fetchone()
            (highest,) = conn.execute("SELECT max(version) FROM model_versions "
                                      "WHERE model_id = ?", (model_id,)).fetchone()
            values["version"] = max(highest or 0, _highest_deleted(conn, name)) + 1
            cur = conn.execute(
                "INSERT INTO model_versions (model_id, version, run_id, digest, size, flavor, "
                "model_class, trusted_types, signature, input_example, metrics, description, "
                "created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (model_id, values["version"], run_id, digest, size, flavor,
                 values["model_class"], _dumps(values["trusted_types"]), _dumps(signature),
                 _dumps(input_example), _dumps(values["metrics"]), description, user, t))
            version_id = cur.lastrowid
            conn.execute("UPDATE registered_models SET updated_at = ? WHERE id = ?",
                         (t, model_id))
            conn.execute(
                "INSERT INTO audit_log (at, user, action, target_type, target_id, details, "
                "reason) VALUES (?, ?, 'register', 'model', ?, ?, ?)",
                (time.time(), user, name, _dumps({
                    "version": values["version"], "digest": digest, "flavor": flavor,
                    "run_id": run_id, "trusted_types": values["trusted_types"],
                    **(details or {})}), None))
        return ModelVersionRecord(id=version_id, name=name, **values)

    # ------------------------------------------------------------------ reading
    def get_version(self, name: str, version: int) -> ModelVersionRecord:
        check_model_name(name)
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise InvalidInputError(f"Model versions are numbers from 1; got {version!r}.")
        model_id = self._model_id(name)
        rows = self._versions(model_id, name, "version = ?", (version,))
        if not rows:
            (latest,) = self._db.read("SELECT max(version) FROM model_versions "
                                      "WHERE model_id = ?", (model_id,))[0]
            have = f"its latest version is {latest}" if latest else "it has no versions"
            raise NotFoundError(f"Model {name!r} has no version {version}; {have}.")
        return rows[0]

    def get_version_by_alias(self, name: str, alias: str) -> ModelVersionRecord:
        check_model_name(name)
        check_alias(alias)
        model_id = self._model_id(name)
        target = self._db.read("SELECT version_id FROM model_aliases "
                               "WHERE model_id = ? AND alias = ?", (model_id, alias))
        if not target:
            known = ", ".join(self._aliases(model_id)) or "none"
            raise NotFoundError(
                f"Model {name!r} has no alias {alias!r} (its aliases: {known}). Set one "
                f"with `mlops.set_alias({name!r}, {alias!r}, VERSION)`.")
        return self._versions(model_id, name, "id = ?", (target[0][0],))[0]

    def get_latest_version(self, name: str) -> ModelVersionRecord:
        check_model_name(name)
        model_id = self._model_id(name)
        (latest,) = self._db.read("SELECT max(version) FROM model_versions WHERE model_id = ?",
                                  (model_id,))[0]
        if latest is None:
            raise NotFoundError(f"Model {name!r} has no versions yet.")
        return self._versions(model_id, name, "version = ?", (latest,))[0]

    def _model_id(self, name: str) -> int:
        rows = self._db.read("SELECT id FROM registered_models WHERE name = ?", (name,))
        if not rows:
            raise NotFoundError(
                f"There is no registered model {name!r}. List models with `%mlops models` or "
                "`jupyter mlops models list`.")
        return rows[0][0]

    def _aliases(self, model_id: int) -> dict[str, int]:
        return dict(self._db.read(
            "SELECT a.alias, v.version FROM model_aliases a JOIN model_versions v "
            "ON v.id = a.version_id WHERE a.model_id = ? ORDER BY a.alias", (model_id,)))

    def _versions(self, model_id: int, name: str, where: str, args: tuple
                  ) -> list[ModelVersionRecord]:
        by_version: dict[int, list[str]] = {}
        for alias, version in self._aliases(model_id).items():
            by_version.setdefault(version, []).append(alias)
        rows = self._db.read(f"SELECT {_VERSION_COLUMNS} FROM model_versions "  # noqa: S608
                             f"WHERE model_id = ? AND {where} ORDER BY version",
                             (model_id, *args))
        tags: dict[int, dict[str, str]] = {}
        if rows:
            for owner, key, value in self._db.read(
                    "SELECT t.version_id, t.key, t.value FROM model_version_tags t JOIN "
                    "model_versions v ON v.id = t.version_id WHERE v.model_id = ? "
                    "ORDER BY t.key", (model_id,)):
                tags.setdefault(owner, {})[key] = value
        return [ModelVersionRecord(
            id=r[0], name=name, version=r[1], run_id=r[2], digest=r[3], size=r[4],
            flavor=r[5], model_class=r[6], trusted_types=list(_loads(r[7]) or []),
            signature=_loads(r[8]), input_example=_loads(r[9]), metrics=dict(_loads(r[10]) or {}),
            description=r[11], created_by=r[12], created_at=r[13],
            aliases=tuple(sorted(by_version.get(r[1], ()))), tags=tags.get(r[0], {}),
            updated_at=r[14]) for r in rows]


def _highest_deleted(conn, name: str) -> int:
    """The highest version number of ``name`` ever deleted (versions.py's rule)."""
    rows = conn.execute(
        "SELECT details FROM audit_log WHERE target_type = 'model' AND target_id = ? "
        "AND action IN ('delete_version', 'delete_model')", (name,)).fetchall()
    found = 0
    for (text,) in rows:
        d = _loads(text)
        if isinstance(d, dict):
            found = max(found, int(d.get("highest_version") or d.get("version") or 0))
    return found
