"""What a webhook receives: the events, their JSON body, the Slack form, and the checks on
what a user configures (URL, events, format)."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

from jupyter_mlops.errors import InvalidInputError

#: Every event a webhook can ask for.
EVENTS = ("run.finished", "run.failed", "pipeline.failed", "alert.fired",
          "model.proposed", "model.promoted")
FORMATS = ("json", "slack")
MAX_URL = 2048


def check_url(url: Any) -> str:
    """An absolute http(s) URL with a host, else one line saying what to give instead."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL or not url.isprintable():
        raise InvalidInputError(
            f"A webhook URL is an http:// or https:// address of at most {MAX_URL} printable "
            "characters.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        raise InvalidInputError(f"{_show(url)} is not a URL: give http(s)://host[:port]/path."
                                ) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidInputError(
            f"{_show(url)} is not an http(s) URL with a host: webhooks are delivered only to "
            "http:// or https:// addresses, e.g. https://hooks.example.com/mlops.")
    return url


def check_events(events: Any) -> list[str]:
    if events is None:
        return list(EVENTS)
    if isinstance(events, str):
        events = [events]
    events = list(events)
    unknown = [e for e in events if e not in EVENTS]
    if unknown or not events:
        raise InvalidInputError(
            f"Unknown webhook event(s) {', '.join(map(_show, unknown)) or '(none given)'}: "
            f"choose from {', '.join(EVENTS)}.")
    return list(dict.fromkeys(events))


def check_format(format: Any) -> str:
    if format not in FORMATS:
        raise InvalidInputError(f"A webhook's format is 'json' or 'slack', not {_show(format)}.")
    return format


def body(event: str, data: dict, format: str, delivery: str) -> bytes:
    """The request body: the event as JSON, or Slack's ``{"text": …}``."""
    if format == "slack":
        return json.dumps({"text": slack_text(event, data)}).encode()
    return json.dumps({"event": event, "delivery": delivery, "at": time.time(), "data": data},
                      default=str, allow_nan=False).encode()


def slack_text(event: str, data: dict) -> str:
    """One readable line: the event and its main facts (names, ids, statuses)."""
    facts = ", ".join(f"{k}={v}" for k, v in data.items()
                      if isinstance(v, (str, int, float, bool)) and k != "message")
    message = data.get("message")
    text = f"[jupyter-mlops] {event}" + (f": {facts}" if facts else "")
    return text + (f" — {message}" if isinstance(message, str) and message else "")


def _show(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"
