"""Registered models and their numbered versions: register, read, list, delete.

Version numbers are never reused, not even after a delete (the audit log remembers the
highest one), so ``models:/NAME/3`` never silently means a different model.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, func, select, update

from jupyter_mlops.errors import ConflictError, NotFoundError
from jupyter_mlops.store.engine import now, read_connection, upsert, write_connection
from jupyter_mlops.store.orm import (
    AuditEvent,
    ModelAlias,
    ModelVersion,
    PromotionRequest,
    RegisteredModel,
)
from jupyter_mlops.store.registry.access import RegistryAccess
from jupyter_mlops.store.registry.checks import (
    check_alias,
    check_model_name,
    check_user,
    clean_metrics,
)
from jupyter_mlops.store.registry.rows import _model_record, model_tags
from jupyter_mlops.store.registry_records import ModelVersionRecord, RegisteredModelRecord


class ModelVersions(RegistryAccess):
    """Models and versions; changing or deleting them needs the ``manage`` action."""

    def create_version(
        self, name: str, *, digest: str, size: int, flavor: str, model_class: str,
        trusted_types: list[str] | None, signature: dict | None, input_example: dict | None,
        metrics: dict | None, description: str | None, run_id: str | None, user: str,
        details: dict | None = None,
    ) -> ModelVersionRecord:
        """Add version N+1 of ``name`` (creating the model if new) and audit it."""
        check_model_name(name)
        check_user(user)
        t = now()
        with write_connection(self.url) as conn:
            stmt = upsert(conn, RegisteredModel.__table__).values(
                name=name, description=description, gate_policy=None, created_at=t,
                updated_at=t)
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
            model = self._model_row(conn, name, lock=True)
            version = max(conn.execute(select(func.max(ModelVersion.version)).where(
                ModelVersion.model_id == model.id)).scalar() or 0,
                self._highest_deleted(conn, name)) + 1
            values = dict(
                model_id=model.id, version=version, run_id=run_id, digest=digest, size=size,
                flavor=flavor, model_class=model_class[:512],
                trusted_types=sorted(set(trusted_types or [])), signature=signature,
                input_example=input_example, metrics=clean_metrics(metrics),
                description=description, created_by=user, created_at=t)
            version_id = conn.execute(ModelVersion.__table__.insert().values(**values)
                                      ).inserted_primary_key[0]
            conn.execute(update(RegisteredModel).where(RegisteredModel.id == model.id)
                         .values(updated_at=t))
            self._audit(conn, user, "register", "model", name, {
                "version": version, "digest": digest, "flavor": flavor, "run_id": run_id,
                "trusted_types": values["trusted_types"], **(details or {})})
        values.pop("model_id")
        return ModelVersionRecord(id=version_id, name=name, **values)

    def get_model(self, name: str) -> RegisteredModelRecord:
        check_model_name(name)
        with read_connection(self.url) as conn:
            row = self._model_row(conn, name)
            latest = conn.execute(select(func.max(ModelVersion.version)).where(
                ModelVersion.model_id == row.id)).scalar()
            return _model_record(row, latest, self._aliases_of_model(conn, row.id),
                                 model_tags(conn, [row.id]).get(row.id))

    def list_models(self) -> list[RegisteredModelRecord]:
        with read_connection(self.url) as conn:
            rows = conn.execute(select(RegisteredModel.__table__)
                                .order_by(RegisteredModel.name)).all()
            latest = dict(conn.execute(select(ModelVersion.model_id, func.max(
                ModelVersion.version)).group_by(ModelVersion.model_id)).all())
            aliases: dict[int, dict[str, int]] = {}
            for model_id, alias, version in conn.execute(
                    select(ModelAlias.model_id, ModelAlias.alias, ModelVersion.version)
                    .join(ModelVersion, ModelVersion.id == ModelAlias.version_id)
                    .order_by(ModelAlias.alias)):
                aliases.setdefault(model_id, {})[alias] = version
            tags = model_tags(conn)
        return [_model_record(r, latest.get(r.id), aliases.get(r.id, {}), tags.get(r.id))
                for r in rows]

    def get_version(self, name: str, version: int) -> ModelVersionRecord:
        check_model_name(name)
        with read_connection(self.url) as conn:
            model = self._model_row(conn, name)
            self._version_row(conn, model.id, name, version)
            return self._versions(conn, model, ModelVersion.version == version)[0]

    def get_version_by_alias(self, name: str, alias: str) -> ModelVersionRecord:
        check_model_name(name)
        check_alias(alias)
        with read_connection(self.url) as conn:
            model = self._model_row(conn, name)
            target = self._alias_target(conn, model.id, alias)
            if target is None:
                known = ", ".join(self._aliases_of_model(conn, model.id)) or "none"
                raise NotFoundError(
                    f"Model {name!r} has no alias {alias!r} (its aliases: {known}). Set one "
                    f"with `mlops.set_alias({name!r}, {alias!r}, VERSION)`.")
            return self._versions(conn, model, ModelVersion.id == target.version_id)[0]

    def get_latest_version(self, name: str) -> ModelVersionRecord:
        check_model_name(name)
        with read_connection(self.url) as conn:
            model = self._model_row(conn, name)
            latest = conn.execute(select(func.max(ModelVersion.version)).where(
                ModelVersion.model_id == model.id)).scalar()
            if latest is None:
                raise NotFoundError(f"Model {name!r} has no versions yet.")
            return self._versions(conn, model, ModelVersion.version == latest)[0]

    def list_versions(self, name: str) -> list[ModelVersionRecord]:
        check_model_name(name)
        with read_connection(self.url) as conn:
            return self._versions(conn, self._model_row(conn, name))

    def set_gate_policy(self, name: str, policy: dict | None, *, user: str,
                        reason: str | None = None) -> RegisteredModelRecord:
        """Replace the model's promotion-gate policy (needs ``manage``); audited."""
        check_user(user)
        with write_connection(self.url) as conn:
            model = self._model_row(conn, name, lock=True)
            self._require(conn, user, "manage")
            conn.execute(update(RegisteredModel).where(RegisteredModel.id == model.id)
                         .values(gate_policy=policy, updated_at=now()))
            self._audit(conn, user, "set_gate_policy", "model", name,
                        {"policy": policy, "previous": model.gate_policy}, reason)
        return self.get_model(name)

    def referenced_digests(self) -> set[str]:
        """Blob digests the registry points at (to keep them out of garbage collection)."""
        with read_connection(self.url) as conn:
            return set(conn.execute(select(ModelVersion.digest)).scalars())

    @staticmethod
    def _highest_deleted(conn: Connection, name: str) -> int:
        """The highest version number of ``name`` ever deleted: numbers are never reused."""
        rows = conn.execute(select(AuditEvent.details).where(
            AuditEvent.target_type == "model", AuditEvent.target_id == name,
            AuditEvent.action.in_(("delete_version", "delete_model"))))
        return max((int(d.get("highest_version") or d.get("version") or 0)
                    for (d,) in rows if isinstance(d, dict)), default=0)

    def delete_version(self, name: str, version: int, *, user: str,
                       reason: str | None = None) -> None:
        """Delete one version (needs ``manage``); refused while an alias points at it.

        Its pending promotion requests go with it; its blob is left for ``jupyter mlops gc``;
        the audit log keeps the registration and the deletion, and the number is not reused.
        """
        check_user(user)
        with write_connection(self.url) as conn:
            model = self._model_row(conn, name, lock=True)
            row = self._version_row(conn, model.id, name, version)
            self._require(conn, user, "manage")
            aliases = sorted(conn.execute(select(ModelAlias.alias).where(
                ModelAlias.version_id == row.id)).scalars())
            if aliases:
                raise ConflictError(
                    f"Version {version} of {name!r} is {', '.join(aliases)}: point "
                    f"{'those aliases' if len(aliases) > 1 else 'that alias'} elsewhere or "
                    "delete it first.")
            conn.execute(delete(PromotionRequest).where(PromotionRequest.version_id == row.id))
            conn.execute(delete(ModelVersion).where(ModelVersion.id == row.id))
            conn.execute(update(RegisteredModel).where(RegisteredModel.id == model.id)
                         .values(updated_at=now()))
            self._audit(conn, user, "delete_version", "model", name,
                        {"version": version, "digest": row.digest, "run_id": row.run_id},
                        reason)

    def delete_model(self, name: str, *, user: str, reason: str | None = None) -> int:
        """Delete a model and all its versions (needs ``manage``); refused while it has
        aliases. Returns how many versions went. The audit log keeps its history."""
        check_user(user)
        with write_connection(self.url) as conn:
            model = self._model_row(conn, name, lock=True)
            self._require(conn, user, "manage")
            aliases = self._aliases_of_model(conn, model.id)
            if aliases:
                raise ConflictError(
                    f"Model {name!r} still has aliases ({', '.join(sorted(aliases))}): "
                    "delete them first, so no deployment loses its model by surprise.")
            versions = list(conn.execute(select(ModelVersion.version).where(
                ModelVersion.model_id == model.id)).scalars())
            conn.execute(delete(PromotionRequest).where(PromotionRequest.model_id == model.id))
            conn.execute(delete(ModelVersion).where(ModelVersion.model_id == model.id))
            conn.execute(delete(RegisteredModel).where(RegisteredModel.id == model.id))
            self._audit(conn, user, "delete_model", "model", name,
                        {"versions": sorted(versions),
                         "highest_version": max([*versions, self._highest_deleted(conn, name)])},
                        reason)
        return len(versions)
