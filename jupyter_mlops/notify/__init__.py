"""Notifications: webhooks told when runs end, pipelines fail, alerts fire, models move.

:class:`Notifier` is what ``client.webhooks`` returns: configure webhooks per store
(:meth:`Notifier.add`), send an event to every webhook that wants it (:meth:`Notifier.emit`,
called by the Client's lifecycle hooks), and read the delivery log. Payloads are JSON signed
with HMAC-SHA256 (:mod:`.signing`), or Slack's ``{"text": …}``; delivery happens in a
background thread with retries (:mod:`.dispatcher`).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.notify import payloads
from jupyter_mlops.notify.dispatcher import Dispatcher, Job
from jupyter_mlops.notify.payloads import EVENTS, FORMATS
from jupyter_mlops.notify.signing import verify

__all__ = ["EVENTS", "FORMATS", "Notifier", "verify"]

#: Seconds a process trusts its last look at the store's webhooks. Without it every run's end
#: paid one query (about as much CPU as a small run itself); a webhook added or removed by
#: another process is seen within this time, one added or removed through this Notifier at once.
SUBSCRIBERS_TTL = 5.0


class Notifier:
    """Webhooks of one store and their delivery.

    Parameters
    ----------
    store : WebhookStore
        Where webhooks and the delivery log live (``jupyter_mlops.store.webhooks``).
    user : str
        Recorded as who added a webhook.
    **retry : attempts, base_delay, max_delay, timeout
        Passed to the :class:`Dispatcher` (defaults: 5 tries, 1 s doubling, 60 s cap, 10 s).
    """

    def __init__(self, store: Any, user: str = "unknown", **retry: Any):
        self.store = store
        self.user = user
        self.dispatcher = Dispatcher(store, **retry)
        self._subscribers: dict[str, tuple[float, list]] = {}
        self._subscribers_lock = threading.Lock()

    def add(self, url: str, events: list[str] | str | None = None, *,
            secret: str | None = None, format: str = "json"):
        """Add a webhook; returns its record (the secret is never part of it).

        Parameters
        ----------
        url : str
            ``http://`` or ``https://`` address that receives a POST per event.
        events : list of str, optional
            Any of :data:`EVENTS`; default all.
        secret : str, optional
            Signs each payload: ``X-Mlops-Signature: sha256=<HMAC-SHA256 of
            "<X-Mlops-Timestamp>.<body>">``. Check it with :func:`verify`.
        format : {"json", "slack"}
            ``slack`` posts ``{"text": "…"}`` (a Slack incoming-webhook URL takes it as is).

        Raises
        ------
        InvalidInputError
            A URL that is not http(s), an unknown event or format, an empty secret.
        """
        url = payloads.check_url(url)
        wanted = payloads.check_events(events)
        payloads.check_format(format)
        if secret is not None and (not isinstance(secret, str) or not secret
                                   or len(secret) > 1024):
            raise InvalidInputError("A webhook secret is a non-empty string of at most 1024 "
                                    "characters (or leave it out to send unsigned).")
        record = self.store.add(url=url, secret=secret, events=wanted, format=format,
                                user=self.user)
        self._forget_subscribers()
        return record

    def list(self):
        return self.store.list()

    def remove(self, webhook_id: int) -> None:
        self.store.remove(_webhook_id(webhook_id))
        self._forget_subscribers()

    def deliveries(self, webhook_id: int | None = None, limit: int = 200):
        """The delivery log, newest attempt first: time, HTTP status, error, delivered."""
        return self.store.deliveries(None if webhook_id is None else _webhook_id(webhook_id),
                                     limit)

    def emit(self, event: str, data: dict) -> list[str]:
        """Queue ``event`` for every webhook that wants it; returns the delivery ids."""
        if event not in EVENTS:
            raise InvalidInputError(f"Unknown event {event!r}: one of {', '.join(EVENTS)}.")
        ids = []
        for hook, secret in self._subscribers_of(event):
            delivery = Dispatcher.new_delivery_id()
            self.dispatcher.submit(Job(hook.id, hook.url, secret, event,
                                       payloads.body(event, data, hook.format, delivery),
                                       delivery))
            ids.append(delivery)
        return ids

    def _subscribers_of(self, event: str) -> list:
        now = time.monotonic()
        with self._subscribers_lock:
            seen = self._subscribers.get(event)
            if seen is None or now - seen[0] >= SUBSCRIBERS_TTL:
                seen = (now, self.store.subscribers(event))
                self._subscribers[event] = seen
            return seen[1]

    def _forget_subscribers(self) -> None:
        with self._subscribers_lock:
            self._subscribers.clear()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until every queued delivery has ended; False if ``timeout`` passed first."""
        return self.dispatcher.wait(timeout)

    def close(self) -> None:
        self.dispatcher.close()


def _webhook_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        raise InvalidInputError(f"A webhook id is a positive integer, not {value!r}.")
    return value
