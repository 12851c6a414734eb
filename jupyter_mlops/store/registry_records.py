"""Frozen records of the model registry (C6): what :mod:`jupyter_mlops.store.registry` returns."""

from __future__ import annotations

import dataclasses

from jupyter_mlops.store.records import Record

#: Status values of a promotion request (stored as strings).
PROMOTION_STATUSES = ("PENDING", "APPROVED", "REJECTED")


@dataclasses.dataclass(frozen=True)
class RegisteredModelRecord(Record):
    """A named model: the container of its versions and aliases."""

    id: int
    name: str
    description: str | None
    gate_policy: dict | None
    created_at: float
    updated_at: float
    latest_version: int | None = None
    #: alias -> version number, e.g. ``{"champion": 3}``.
    aliases: dict[str, int] = dataclasses.field(default_factory=dict)
    tags: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class ModelVersionRecord(Record):
    """One immutable version of a model: a content-addressed file plus its metadata."""

    id: int
    name: str
    version: int
    run_id: str | None
    digest: str
    size: int
    flavor: str
    model_class: str
    #: Types outside the loader's default trusted set that the file references.
    trusted_types: list[str]
    signature: dict | None
    input_example: dict | None
    metrics: dict[str, float | None]
    description: str | None
    created_by: str
    created_at: float
    aliases: tuple[str, ...] = ()
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    #: When its description or tags last changed (its file never does); None: never.
    updated_at: float | None = None

    @property
    def uri(self) -> str:
        """``models:/<name>/<version>``, accepted by ``load_model``."""
        return f"models:/{self.name}/{self.version}"


@dataclasses.dataclass(frozen=True)
class AliasRecord(Record):
    name: str
    alias: str
    version: int
    updated_by: str
    updated_at: float


@dataclasses.dataclass(frozen=True)
class PromotionRecord(Record):
    """A request to point ``alias`` at ``version``, and what became of it."""

    id: int
    name: str
    version: int
    alias: str
    status: str
    proposed_by: str
    proposed_at: float
    reason: str | None
    decided_by: str | None
    decided_at: float | None
    gate_verdict: dict | None


@dataclasses.dataclass(frozen=True)
class AuditRecord(Record):
    """One audit-log entry: who did what to which target, when, and why."""

    id: int
    at: float
    user: str
    action: str
    target_type: str
    target_id: str
    details: dict | None
    reason: str | None


@dataclasses.dataclass(frozen=True)
class RoleRecord(Record):
    user: str
    role: str
    granted_by: str | None
    granted_at: float
