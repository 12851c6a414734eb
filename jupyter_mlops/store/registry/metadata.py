"""What describes a model rather than what it is: an empty model, its name, descriptions and
tags (of models and of versions). A version's file never changes; these may. Every change is
audited in its transaction; renaming needs ``manage`` (deployments and URIs name the model).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import delete, select, update

from jupyter_mlops.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from jupyter_mlops.store.engine import now, upsert, write_connection
from jupyter_mlops.store.orm import (
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelTag,
)
from jupyter_mlops.store.registry.access import RegistryAccess
from jupyter_mlops.store.registry.checks import check_model_name, check_user
from jupyter_mlops.store.registry_records import ModelVersionRecord, RegisteredModelRecord
from jupyter_mlops.validation import check_key, check_text

#: MLflow's limit for a registry tag's key and value kept by this store.
MAX_TAG_VALUE = 5000
MAX_DESCRIPTION = 100_000


def _description(text: str | None) -> str | None:
    if text is None:
        return None
    if not isinstance(text, str):
        raise InvalidInputError(f"A description is a string; got {type(text).__name__}.")
    return check_text(text, "description", MAX_DESCRIPTION)


def _tag(key: str, value: str | None = None) -> tuple[str, str | None]:
    key = check_key(key, "tag key")
    if value is not None:
        if not isinstance(value, str):
            raise InvalidInputError(f"Tag values are strings; got {type(value).__name__}.")
        check_text(value, f"value of tag {key!r}", MAX_TAG_VALUE)
    return key, value


class ModelMetadata(RegistryAccess):
    """Empty models, renames, descriptions and tags (``get_model``/``get_version`` come from
    :class:`~.versions.ModelVersions`, beside it in :class:`~.RegistryStore`)."""

    get_model: Callable[[str], RegisteredModelRecord]
    get_version: Callable[[str, int], ModelVersionRecord]

    def create_model(self, name: str, *, description: str | None = None,
                     tags: dict[str, str] | None = None, user: str) -> RegisteredModelRecord:
        """A model with no versions yet (AlreadyExistsError if ``name`` exists)."""
        check_model_name(name)
        check_user(user)
        description = _description(description)
        clean = dict(_tag(k, v) for k, v in (tags or {}).items())
        t = now()
        with write_connection(self.url) as conn:
            stmt = upsert(conn, RegisteredModel.__table__).values(
                name=name, description=description, gate_policy=None, created_at=t,
                updated_at=t)
            result = conn.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
            if not result.rowcount:
                raise AlreadyExistsError(f"Registered model {name!r} already exists.")
            model = self._model_row(conn, name)
            for key, value in clean.items():
                conn.execute(RegisteredModelTag.__table__.insert().values(
                    model_id=model.id, key=key, value=value))
            self._audit(conn, user, "create_model", "model", name, {"tags": clean})
        return self.get_model(name)

    def rename_model(self, name: str, new_name: str, *, user: str) -> RegisteredModelRecord:
        """Rename (needs ``manage``); ``models:/OLD/...`` URIs stop resolving."""
        check_model_name(new_name)
        check_user(user)
        with write_connection(self.url) as conn:
            model = self._model_row(conn, name, lock=True)
            self._require(conn, user, "manage")
            if new_name != name:
                if conn.execute(select(RegisteredModel.id).where(
                        RegisteredModel.name == new_name)).first() is not None:
                    raise AlreadyExistsError(
                        f"Registered model {new_name!r} already exists; choose another name.")
                conn.execute(update(RegisteredModel).where(RegisteredModel.id == model.id)
                             .values(name=new_name, updated_at=now()))
                for target in (name, new_name):
                    self._audit(conn, user, "rename_model", "model", target,
                                {"from": name, "to": new_name})
        return self.get_model(new_name)

    def update_model(self, name: str, *, description: str | None,
                     user: str) -> RegisteredModelRecord:
        description = _description(description)
        check_user(user)
        with write_connection(self.url) as conn:
            model = self._model_row(conn, name, lock=True)
            conn.execute(update(RegisteredModel).where(RegisteredModel.id == model.id)
                         .values(description=description, updated_at=now()))
            self._audit(conn, user, "describe_model", "model", name,
                        {"description": (description or "")[:200]})
        return self.get_model(name)

    def set_model_tag(self, name: str, key: str, value: str, *, user: str) -> None:
        key, value = _tag(key, value)
        check_user(user)
        with write_connection(self.url) as conn:
            model = self._model_row(conn, name, lock=True)
            stmt = upsert(conn, RegisteredModelTag.__table__).values(
                model_id=model.id, key=key, value=value)
            conn.execute(stmt.on_conflict_do_update(index_elements=["model_id", "key"],
                                                    set_={"value": value}))
            conn.execute(update(RegisteredModel).where(RegisteredModel.id == model.id)
                         .values(updated_at=now()))
            self._audit(conn, user, "set_model_tag", "model", name, {"key": key})

    def delete_model_tag(self, name: str, key: str, *, user: str) -> None:
        key, _ = _tag(key)
        check_user(user)
        with write_connection(self.url) as conn:
            model = self._model_row(conn, name, lock=True)
            gone = conn.execute(delete(RegisteredModelTag).where(
                RegisteredModelTag.model_id == model.id, RegisteredModelTag.key == key)).rowcount
            if not gone:
                raise NotFoundError(f"Registered model {name!r} has no tag {key!r}.")
            conn.execute(update(RegisteredModel).where(RegisteredModel.id == model.id)
                         .values(updated_at=now()))
            self._audit(conn, user, "delete_model_tag", "model", name, {"key": key})

    def update_version(self, name: str, version: int, *, description: str | None,
                       user: str) -> ModelVersionRecord:
        description = _description(description)
        check_user(user)
        with write_connection(self.url) as conn:
            model = self._model_row(conn, name, lock=True)
            row = self._version_row(conn, model.id, name, version)
            conn.execute(update(ModelVersion).where(ModelVersion.id == row.id)
                         .values(description=description, updated_at=now()))
            self._audit(conn, user, "describe_version", "model", name,
                        {"version": version, "description": (description or "")[:200]})
        return self.get_version(name, version)

    def set_version_tag(self, name: str, version: int, key: str, value: str, *,
                        user: str) -> None:
        key, value = _tag(key, value)
        check_user(user)
        with write_connection(self.url) as conn:
            model = self._model_row(conn, name, lock=True)
            row = self._version_row(conn, model.id, name, version)
            stmt = upsert(conn, ModelVersionTag.__table__).values(
                version_id=row.id, key=key, value=value)
            conn.execute(stmt.on_conflict_do_update(index_elements=["version_id", "key"],
                                                    set_={"value": value}))
            conn.execute(update(ModelVersion).where(ModelVersion.id == row.id)
                         .values(updated_at=now()))
            self._audit(conn, user, "set_version_tag", "model", name,
                        {"version": version, "key": key})

    def delete_version_tag(self, name: str, version: int, key: str, *, user: str) -> None:
        key, _ = _tag(key)
        check_user(user)
        with write_connection(self.url) as conn:
            model = self._model_row(conn, name, lock=True)
            row = self._version_row(conn, model.id, name, version)
            gone = conn.execute(delete(ModelVersionTag).where(
                ModelVersionTag.version_id == row.id, ModelVersionTag.key == key)).rowcount
            if not gone:
                raise NotFoundError(f"Version {version} of {name!r} has no tag {key!r}.")
            conn.execute(update(ModelVersion).where(ModelVersion.id == row.id)
                         .values(updated_at=now()))
            self._audit(conn, user, "delete_version_tag", "model", name,
                        {"version": version, "key": key})
