"""Empty models, renames, descriptions and tags: the registry's editable metadata.

Mixed into :class:`~jupyter_mlops.registry.api.RegistryClient` (``self.store`` is the registry
store). Identity as everywhere in the registry: ``user=``, else ``MLOPS_USER`` or the OS user.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jupyter_mlops.config import current_user
from jupyter_mlops.store.registry_records import ModelVersionRecord, RegisteredModelRecord

if TYPE_CHECKING:
    from jupyter_mlops.store.interfaces.registry import AbstractRegistryStore


class RegistryMetadata:
    store: AbstractRegistryStore

    def create_model(self, name: str, *, description: str | None = None,
                     tags: dict[str, str] | None = None,
                     user: str | None = None) -> RegisteredModelRecord:
        """Create ``name`` with no versions yet (AlreadyExistsError if it exists).

        ``register_model`` creates a model with its first version by itself; this is for a
        model whose versions come later (MLflow's ``create_registered_model``).
        """
        return self.store.create_model(name, description=description, tags=tags,
                                       user=user or current_user())

    def rename_model(self, name: str, new_name: str, *,
                     user: str | None = None) -> RegisteredModelRecord:
        """Rename a model (needs ``manage``); its versions, aliases and history go with it,
        and ``models:/OLD/...`` URIs stop resolving."""
        return self.store.rename_model(name, new_name, user=user or current_user())

    def describe_model(self, name: str, description: str | None, *,
                       user: str | None = None) -> RegisteredModelRecord:
        """Replace the model's description (None clears it)."""
        return self.store.update_model(name, description=description,
                                       user=user or current_user())

    def set_model_tag(self, name: str, key: str, value: str, *,
                      user: str | None = None) -> None:
        self.store.set_model_tag(name, key, value, user=user or current_user())

    def delete_model_tag(self, name: str, key: str, *, user: str | None = None) -> None:
        self.store.delete_model_tag(name, key, user=user or current_user())

    def describe_version(self, name: str, version: int, description: str | None, *,
                         user: str | None = None) -> ModelVersionRecord:
        """Replace a version's description (its model file never changes)."""
        return self.store.update_version(name, version, description=description,
                                         user=user or current_user())

    def set_version_tag(self, name: str, version: int, key: str, value: str, *,
                        user: str | None = None) -> None:
        self.store.set_version_tag(name, version, key, value, user=user or current_user())

    def delete_version_tag(self, name: str, version: int, key: str, *,
                           user: str | None = None) -> None:
        self.store.delete_version_tag(name, version, key, user=user or current_user())
