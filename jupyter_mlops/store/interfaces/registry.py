"""Contract of the model registry: models, versions, aliases, promotions, roles, audit log."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable

from jupyter_mlops.store.registry_records import (
    AliasRecord,
    AuditRecord,
    ModelVersionRecord,
    PromotionRecord,
    RegisteredModelRecord,
    RoleRecord,
)

#: ``gate(policy, candidate, current) -> verdict dict (with a bool "passed") or None``.
Gate = Callable[[dict | None, ModelVersionRecord, "ModelVersionRecord | None"], dict | None]


class AbstractRegistryStore(abc.ABC):
    """Registered models and their numbered versions, with every change audited.

    Each change writes its audit event in the same transaction, so the log never misses a
    change nor records one that did not happen. An unknown model, version, alias or request is
    a :class:`~jupyter_mlops.errors.NotFoundError`; an action the caller's roles do not grant
    is a :class:`~jupyter_mlops.errors.PermissionDeniedError`.
    """

    # ----------------------------------------------------------------- models and versions
    @abc.abstractmethod
    def create_version(
        self, name: str, *, digest: str, size: int, flavor: str, model_class: str,
        trusted_types: list[str] | None, signature: dict | None, input_example: dict | None,
        metrics: dict | None, description: str | None, run_id: str | None, user: str,
        details: dict | None = None,
    ) -> ModelVersionRecord:
        """Add version N+1 of ``name`` (creating the model if new); versions are never reused."""

    @abc.abstractmethod
    def get_model(self, name: str) -> RegisteredModelRecord:
        """One registered model with its latest version number and aliases."""

    @abc.abstractmethod
    def list_models(self) -> list[RegisteredModelRecord]:
        """Every registered model, ordered by name."""

    @abc.abstractmethod
    def get_version(self, name: str, version: int) -> ModelVersionRecord:
        """One version of a model."""

    @abc.abstractmethod
    def get_version_by_alias(self, name: str, alias: str) -> ModelVersionRecord:
        """The version ``alias`` points at."""

    @abc.abstractmethod
    def get_latest_version(self, name: str) -> ModelVersionRecord:
        """The highest-numbered version of a model."""

    @abc.abstractmethod
    def list_versions(self, name: str) -> list[ModelVersionRecord]:
        """Every version of a model, oldest first."""

    @abc.abstractmethod
    def set_gate_policy(self, name: str, policy: dict | None, *, user: str,
                        reason: str | None = None) -> RegisteredModelRecord:
        """Replace the model's promotion-gate policy (needs ``manage``); audited."""

    @abc.abstractmethod
    def referenced_digests(self) -> set[str]:
        """Blob digests of every stored version (what garbage collection must keep)."""

    @abc.abstractmethod
    def delete_version(self, name: str, version: int, *, user: str,
                       reason: str | None = None) -> None:
        """Delete one version (needs ``manage``); ConflictError while an alias points at it."""

    @abc.abstractmethod
    def delete_model(self, name: str, *, user: str, reason: str | None = None) -> int:
        """Delete a model and its versions (needs ``manage``), returning how many; refused while aliased."""

    # ----------------------------------------------------------------- descriptions, tags
    @abc.abstractmethod
    def create_model(self, name: str, *, description: str | None = None,
                     tags: dict[str, str] | None = None, user: str) -> RegisteredModelRecord:
        """A model with no versions yet; AlreadyExistsError if ``name`` exists."""

    @abc.abstractmethod
    def rename_model(self, name: str, new_name: str, *, user: str) -> RegisteredModelRecord:
        """Rename (needs ``manage``); AlreadyExistsError if ``new_name`` exists."""

    @abc.abstractmethod
    def update_model(self, name: str, *, description: str | None,
                     user: str) -> RegisteredModelRecord:
        """Replace the model's description."""

    @abc.abstractmethod
    def set_model_tag(self, name: str, key: str, value: str, *, user: str) -> None:
        """Set (or overwrite) one tag of a model."""

    @abc.abstractmethod
    def delete_model_tag(self, name: str, key: str, *, user: str) -> None:
        """Remove one tag of a model; NotFoundError if it has none of that key."""

    @abc.abstractmethod
    def update_version(self, name: str, version: int, *, description: str | None,
                       user: str) -> ModelVersionRecord:
        """Replace a version's description (its file never changes)."""

    @abc.abstractmethod
    def set_version_tag(self, name: str, version: int, key: str, value: str, *,
                        user: str) -> None:
        """Set (or overwrite) one tag of a version."""

    @abc.abstractmethod
    def delete_version_tag(self, name: str, version: int, key: str, *, user: str) -> None:
        """Remove one tag of a version; NotFoundError if it has none of that key."""

    # ----------------------------------------------------------------- aliases
    @abc.abstractmethod
    def set_alias(self, name: str, alias: str, version: int, *, user: str,
                  reason: str | None = None, require: str | None = None,
                  gate: Gate | None = None, details: dict | None = None) -> AliasRecord:
        """Point ``alias`` at ``version`` atomically (gate permitting); audit it with the previous target."""

    @abc.abstractmethod
    def delete_alias(self, name: str, alias: str, *, user: str, reason: str | None = None,
                     require: str | None = None) -> int:
        """Remove ``alias`` and return the version it pointed at."""

    @abc.abstractmethod
    def alias_history(self, name: str, alias: str | None = None) -> list[AuditRecord]:
        """Every alias move of a model, oldest first, refused gate checks included."""

    # ----------------------------------------------------------------- promotions
    @abc.abstractmethod
    def create_promotion(self, name: str, version: int, alias: str, *, user: str,
                         reason: str | None = None) -> PromotionRecord:
        """Open a PENDING request to point ``alias`` at ``version`` (needs ``propose``)."""

    @abc.abstractmethod
    def decide_promotion(self, request_id: int, *, approve: bool, user: str,
                         reason: str | None = None, gate: Gate | None = None) -> PromotionRecord:
        """Approve (moving the alias, gate permitting) or reject a PENDING request; ConflictError once decided."""

    @abc.abstractmethod
    def get_promotion(self, request_id: int) -> PromotionRecord:
        """One promotion request."""

    @abc.abstractmethod
    def list_promotions(self, name: str | None = None,
                        status: str | None = None) -> list[PromotionRecord]:
        """Promotion requests, optionally of one model and in one status, oldest first."""

    # ----------------------------------------------------------------- roles and permissions
    @abc.abstractmethod
    def grant_role(self, user: str, role: str, *, by: str) -> RoleRecord:
        """Give ``user`` a role (needs ``manage`` once the store is shared); granting twice keeps one."""

    @abc.abstractmethod
    def revoke_role(self, user: str, role: str, *, by: str) -> None:
        """Take a role from ``user`` (needs ``manage``)."""

    @abc.abstractmethod
    def list_roles(self, user: str | None = None) -> list[RoleRecord]:
        """Role assignments, of one user or of all."""

    @abc.abstractmethod
    def permissions(self) -> dict[str, list[str]]:
        """Role -> the actions it grants (the defaults while none were configured)."""

    @abc.abstractmethod
    def set_permission(self, role: str, action: str, allowed: bool = True, *,
                       by: str) -> dict[str, list[str]]:
        """Grant or withdraw ``action`` for ``role`` (needs ``manage``); return the new mapping."""

    @abc.abstractmethod
    def roles_apply(self) -> bool:
        """Whether roles are enforced: False while no role was ever granted (a private store)."""

    @abc.abstractmethod
    def may(self, user: str, action: str) -> bool:
        """Whether ``user`` may perform ``action`` now."""

    # ----------------------------------------------------------------- audit
    @abc.abstractmethod
    def audit_log(self, target_type: str | None = None, target_id: str | None = None, *,
                  actions: Iterable[str] | None = None,
                  limit: int | None = 200) -> list[AuditRecord]:
        """Audit events, newest first, optionally of one target and some actions, at most ``limit``."""
