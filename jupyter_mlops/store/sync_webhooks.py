"""Webhooks in a sync: the endpoint, its events and format — never a credential.

A webhook is matched by (URL, format). One the target lacks is added there when nothing
about it is a credential: no signing secret, and a URL that carries none (no
``user:password@``, no query string, and not the ``slack`` format, whose incoming-webhook URL
*is* Slack's token). The others are left out, each with one note giving the command that
adds it on the target, because:

- the store keeps the signing secret as it was given (``webhooks.secret``, plain text, read
  only to sign): copying it would put it in another database, readable by everyone who can
  read that one, who cannot read it today;
- adding the hook there without its secret would send unsigned deliveries to a receiver
  that was promised signed ones (one that checks refuses them all; one that does not gets
  less than it asked for).

A webhook both stores hold with other events keeps the target's (noted). The delivery log
stays with each store. Only a whole-store sync carries webhooks.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import Connection, select

from jupyter_mlops.store.orm import Webhook
from jupyter_mlops.store.sync_runs import insert_rows


def webhook_rows(conn: Connection) -> list[dict]:
    """The source's webhooks, with whether a secret is set instead of the secret."""
    return [dict(r, secret=None, signed=r["secret"] is not None) for r in conn.execute(
        select(Webhook.__table__).order_by(Webhook.id)).mappings()]


def _credential(hook: dict) -> str | None:
    """Why ``hook`` must not be copied, or None."""
    if hook["signed"]:
        return "it is signed and its secret is not carried"
    if hook["format"] == "slack":
        return "a Slack webhook URL is itself a credential"
    parts = urlsplit(hook["url"])
    if parts.username or parts.password or parts.query:
        return "its URL carries a credential or token"
    return None


def _shown(url: str) -> str:
    """The URL without what may be a credential (scheme, host and the path's first part)."""
    parts = urlsplit(url)
    head = parts.path.strip("/").split("/")[0]
    return f"{parts.scheme}://{parts.hostname or ''}/{head + '/…' if head else ''}"


def write_webhooks(dst: Connection, hooks: list[dict], out) -> None:
    have = {(r.url, r.format): tuple(r.events or ()) for r in dst.execute(
        select(Webhook.url, Webhook.format, Webhook.events))}
    rows = []
    for h in hooks:
        key = (h["url"], h["format"])
        if key in have:
            if sorted(have[key]) != sorted(h["events"] or ()):
                out.notes.append(
                    f"webhook {_shown(h['url'])} ({h['format']}) listens to other events at "
                    "the target: kept the target's.")
            continue
        why = _credential(h)
        if why is not None:
            out.notes.append(
                f"webhook {_shown(h['url'])} ({h['format']}) not carried: {why}. Add it on "
                "the target with `jupyter mlops --tracking-uri TARGET webhooks add URL "
                f"--format {h['format']}"
                + "".join(f" --event {e}" for e in h["events"] or ())
                + (" --secret-env VAR`." if h["signed"] else "`."))
            continue
        rows.append({k: h[k] for k in ("url", "events", "format", "created_by",
                                       "created_at")})
        have[key] = tuple(h["events"] or ())
    insert_rows(dst, Webhook.__table__, rows)
    out.counts["webhooks"] += len(rows)
