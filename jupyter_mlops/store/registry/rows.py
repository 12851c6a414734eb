"""Shared by every part of the registry store: the URL, row lookups inside a transaction,
the audit writer, and the conversion of rows to frozen records (rows never leave the store)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, func, select

from jupyter_mlops.errors import InvalidInputError, NotFoundError
from jupyter_mlops.store.engine import now
from jupyter_mlops.store.orm import (
    AuditEvent,
    ModelAlias,
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelTag,
)
from jupyter_mlops.store.registry_records import (
    AuditRecord,
    ModelVersionRecord,
    RegisteredModelRecord,
)


def _model_record(row, latest: int | None, aliases: dict[str, int],
                  tags: dict[str, str] | None = None) -> RegisteredModelRecord:
    return RegisteredModelRecord(
        id=row.id, name=row.name, description=row.description, gate_policy=row.gate_policy,
        created_at=row.created_at, updated_at=row.updated_at, latest_version=latest,
        aliases=aliases, tags=tags or {})


def _version_record(row, name: str, aliases: Iterable[str] = (),
                    tags: dict[str, str] | None = None) -> ModelVersionRecord:
    return ModelVersionRecord(
        id=row.id, name=name, version=row.version, run_id=row.run_id, digest=row.digest,
        size=row.size, flavor=row.flavor, model_class=row.model_class,
        trusted_types=list(row.trusted_types or []), signature=row.signature,
        input_example=row.input_example, metrics=dict(row.metrics or {}),
        description=row.description, created_by=row.created_by, created_at=row.created_at,
        aliases=tuple(sorted(aliases)), tags=tags or {}, updated_at=row.updated_at)


def model_tags(conn: Connection, model_ids: Iterable[int] | None = None) -> dict[int, dict]:
    """``{model id: {key: value}}`` for the given models (all when None)."""
    stmt = select(RegisteredModelTag.model_id, RegisteredModelTag.key, RegisteredModelTag.value)
    if model_ids is not None:
        stmt = stmt.where(RegisteredModelTag.model_id.in_(list(model_ids)))
    out: dict[int, dict] = {}
    for owner, key, value in conn.execute(stmt.order_by(RegisteredModelTag.key)):
        out.setdefault(owner, {})[key] = value
    return out


def _audit_record(row) -> AuditRecord:
    return AuditRecord(id=row.id, at=row.at, user=row.user, action=row.action,
                       target_type=row.target_type, target_id=row.target_id,
                       details=row.details, reason=row.reason)



class RegistryRows:
    """The store URL and the row helpers every registry operation runs inside its transaction."""

    def __init__(self, url: str):
        self.url = url

    @staticmethod
    def _audit(conn: Connection, user: str, action: str, target_type: str, target_id: str,
               details: dict | None = None, reason: str | None = None) -> None:
        conn.execute(AuditEvent.__table__.insert().values(
            at=now(), user=user, action=action, target_type=target_type, target_id=target_id,
            details=details, reason=reason))

    @staticmethod
    def _model_row(conn: Connection, name: str, *, lock: bool = False):
        stmt = select(RegisteredModel.__table__).where(RegisteredModel.name == name)
        row = conn.execute(stmt.with_for_update() if lock else stmt).first()
        if row is None:
            raise NotFoundError(
                f"There is no registered model {name!r}. List models with `%mlops models` or "
                "`jupyter mlops models list`.")
        return row

    @staticmethod
    def _version_row(conn: Connection, model_id: int, name: str, version: int):
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise InvalidInputError(f"Model versions are numbers from 1; got {version!r}.")
        row = conn.execute(select(ModelVersion.__table__).where(
            ModelVersion.model_id == model_id, ModelVersion.version == version)).first()
        if row is None:
            latest = conn.execute(select(func.max(ModelVersion.version)).where(
                ModelVersion.model_id == model_id)).scalar()
            have = f"its latest version is {latest}" if latest else "it has no versions"
            raise NotFoundError(f"Model {name!r} has no version {version}; {have}.")
        return row

    @staticmethod
    def _alias_target(conn: Connection, model_id: int, alias: str):
        return conn.execute(
            select(ModelAlias.version_id, ModelVersion.version)
            .join(ModelVersion, ModelVersion.id == ModelAlias.version_id)
            .where(ModelAlias.model_id == model_id, ModelAlias.alias == alias)).first()

    def _aliases_of_model(self, conn: Connection, model_id: int) -> dict[str, int]:
        rows = conn.execute(
            select(ModelAlias.alias, ModelVersion.version)
            .join(ModelVersion, ModelVersion.id == ModelAlias.version_id)
            .where(ModelAlias.model_id == model_id).order_by(ModelAlias.alias)).all()
        return {alias: version for alias, version in rows}

    def _versions(self, conn: Connection, model_row, where=None) -> list[ModelVersionRecord]:
        by_version: dict[int, list[str]] = {}
        for alias, version in self._aliases_of_model(conn, model_row.id).items():
            by_version.setdefault(version, []).append(alias)
        stmt = select(ModelVersion.__table__).where(ModelVersion.model_id == model_row.id)
        if where is not None:
            stmt = stmt.where(where)
        rows = conn.execute(stmt.order_by(ModelVersion.version)).all()
        tags: dict[int, dict] = {}
        if rows:
            for owner, key, value in conn.execute(
                    select(ModelVersionTag.version_id, ModelVersionTag.key, ModelVersionTag.value)
                    .join(ModelVersion, ModelVersion.id == ModelVersionTag.version_id)
                    .where(ModelVersion.model_id == model_row.id)
                    .order_by(ModelVersionTag.key)):
                tags.setdefault(owner, {})[key] = value
        return [_version_record(r, model_row.name, by_version.get(r.version, ()),
                                tags.get(r.id)) for r in rows]
