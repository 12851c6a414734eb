"""Webhooks configured per store and the log of every delivery attempt (notifications).

Rows never leave this module: callers get the frozen records of
:mod:`~jupyter_mlops.store.webhook_records`. A webhook's signing
secret is stored to sign payloads and returned only by :meth:`WebhookStore.subscribers`, the
sender's own read; records say whether a secret is set, never what it is.
"""

from __future__ import annotations

from sqlalchemy import delete, select

from jupyter_mlops.errors import NotFoundError
from jupyter_mlops.store.engine import now, read_connection, write_connection
from jupyter_mlops.store.orm import Webhook, WebhookDelivery
from jupyter_mlops.store.webhook_records import DeliveryRecord, WebhookRecord  # noqa: F401


def _record(row) -> WebhookRecord:
    return WebhookRecord(row.id, row.url, tuple(row.events), row.format, row.secret is not None,
                         row.created_by, row.created_at)


class WebhookStore:
    """Webhook reads and writes against one store URL."""

    def __init__(self, url: str):
        self.url = url

    def add(self, *, url: str, secret: str | None, events: list[str], format: str,
            user: str) -> WebhookRecord:
        with write_connection(self.url) as conn:
            new_id = conn.execute(Webhook.__table__.insert().values(
                url=url, secret=secret, events=list(events), format=format, created_by=user,
                created_at=now()).returning(Webhook.id)).scalar_one()
        return self.get(new_id)

    def get(self, webhook_id: int) -> WebhookRecord:
        with read_connection(self.url) as conn:
            row = conn.execute(select(Webhook).where(Webhook.id == webhook_id)).first()
        if row is None:
            raise NotFoundError(f"No webhook {webhook_id} in this store: list them with "
                                "client.webhooks.list().")
        return _record(row)

    def list(self) -> list[WebhookRecord]:
        with read_connection(self.url) as conn:
            return [_record(r) for r in conn.execute(select(Webhook).order_by(Webhook.id))]

    def remove(self, webhook_id: int) -> None:
        self.get(webhook_id)  # NotFoundError names what to do
        with write_connection(self.url) as conn:
            conn.execute(delete(Webhook).where(Webhook.id == webhook_id))

    def subscribers(self, event: str) -> list[tuple[WebhookRecord, str | None]]:
        """Webhooks that want ``event``, each with its secret (for signing only)."""
        with read_connection(self.url) as conn:
            rows = conn.execute(select(Webhook).order_by(Webhook.id)).all()
        return [(_record(r), r.secret) for r in rows if event in (r.events or [])]

    def record_attempt(self, *, webhook_id: int, delivery: str, event: str, attempt: int,
                       status: int | None, error: str | None, delivered: bool) -> None:
        with write_connection(self.url) as conn:
            conn.execute(WebhookDelivery.__table__.insert().values(
                webhook_id=webhook_id, delivery=delivery, event=event, attempt=attempt,
                at=now(), status=status, error=error, delivered=delivered))

    def deliveries(self, webhook_id: int | None = None,
                   limit: int = 200) -> list[DeliveryRecord]:
        """Attempts, newest first (of one webhook, or all)."""
        stmt = select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(limit)
        if webhook_id is not None:
            stmt = stmt.where(WebhookDelivery.webhook_id == webhook_id)
        with read_connection(self.url) as conn:
            return [DeliveryRecord(r.id, r.webhook_id, r.delivery, r.event, r.attempt, r.at,
                                   r.status, r.error, r.delivered)
                    for r in conn.execute(stmt)]
