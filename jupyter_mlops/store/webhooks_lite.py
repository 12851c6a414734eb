"""Which webhooks want an event, read on ``sqlite3`` (issue 14).

Every run a process creates or ends asks the store's webhooks whether they want the event
(``Notifier.emit``; once per 5 s per event). On a plain SQLite file store that question is
answered here without importing SQLAlchemy, with the query and records of
:meth:`~jupyter_mlops.store.webhooks.WebhookStore.subscribers`; adding, removing and the
delivery log stay with the SQLAlchemy store, loaded on first use.
"""

from __future__ import annotations

from jupyter_mlops.store.lite import LiteStore
from jupyter_mlops.store.pipelines_lite import from_json
from jupyter_mlops.store.webhook_records import WebhookRecord


class LiteWebhookStore(LiteStore):
    """:class:`~jupyter_mlops.store.webhooks.WebhookStore` whose ``subscribers`` is stdlib."""

    def _full_class(self):
        from jupyter_mlops.store.webhooks import WebhookStore

        return WebhookStore

    def subscribers(self, event: str) -> list:
        """Webhooks that want ``event``, each with its secret (for signing only)."""
        out = []
        for id_, url, secret, events, fmt, by, at in self._db.read(
                "SELECT id, url, secret, events, format, created_by, created_at FROM webhooks "
                "ORDER BY id"):
            events = from_json(events) or []
            if event in events:
                out.append((WebhookRecord(id_, url, tuple(events), fmt, secret is not None,
                                          by, at), secret))
        return out
