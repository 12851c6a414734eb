"""The records of webhooks and their delivery attempts (no SQLAlchemy here).

Both webhook stores return these (:mod:`~jupyter_mlops.store.webhooks`, and
:mod:`~jupyter_mlops.store.webhooks_lite` for the subscriber lookup).
"""

from __future__ import annotations

import dataclasses

from jupyter_mlops.store.records import Record


@dataclasses.dataclass(frozen=True)
class WebhookRecord(Record):
    id: int
    url: str
    events: tuple[str, ...]
    format: str
    has_secret: bool
    created_by: str
    created_at: float


@dataclasses.dataclass(frozen=True)
class DeliveryRecord(Record):
    """One attempt: ``status`` is the HTTP status (None when no answer came), ``error`` why
    it did not count as delivered."""

    id: int
    webhook_id: int
    delivery: str
    event: str
    attempt: int
    at: float
    status: int | None
    error: str | None
    delivered: bool
