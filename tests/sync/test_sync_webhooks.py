"""Webhooks in a sync (laptop SQLite -> team SQLite or PostgreSQL, both real): an unsigned
endpoint travels; a signed one, a Slack one and one whose URL holds a token do not — their
secret never reaches the team store — and the report says how to add each there."""

from __future__ import annotations

from sqlalchemy import select

from jupyter_mlops.store.engine import read_connection
from jupyter_mlops.store.orm import Webhook
from jupyter_mlops.store.sync import sync_stores
from jupyter_mlops.store.webhooks import WebhookStore
from tests.sync.conftest import Side


def push(local: Side, team: Side, **kw):
    return sync_stores(local.url, team.url, local.root, team.root, **kw)


def test_endpoints_travel_and_secrets_never_do(laptop, target):
    hooks = WebhookStore(laptop.url)
    hooks.add(url="https://ci.example.com/mlops", secret=None, events=["run.failed"],
              format="json", user="ada")
    hooks.add(url="https://signed.example.com/hook", secret="s3cret-value",
              events=["run.finished", "alert.fired"], format="json", user="ada")
    hooks.add(url="https://hooks.slack.com/services/T0/B0/tokenpart", secret=None,
              events=["alert.fired"], format="slack", user="ada")
    hooks.add(url="https://example.com/hook?token=abc", secret=None, events=["run.failed"],
              format="json", user="ada")
    report = push(laptop, target)
    assert report.counts["webhooks"] == 1 and not report.conflicts
    assert "1 webhooks (never their secrets)" in report.summary()
    (there,) = WebhookStore(target.url).list()
    assert (there.url, there.events, there.format, there.has_secret) == (
        "https://ci.example.com/mlops", ("run.failed",), "json", False)
    with read_connection(target.url) as conn:
        assert conn.execute(select(Webhook.secret)).scalars().all() == [None]
    notes = "\n".join(report.notes)
    assert "s3cret" not in notes and "tokenpart" not in notes and "token=abc" not in notes
    assert "it is signed and its secret is not carried" in notes
    assert "--secret-env VAR" in notes and "--event run.finished --event alert.fired" in notes
    assert "a Slack webhook URL is itself a credential" in notes
    assert "its URL carries a credential or token" in notes
    again = push(laptop, target)
    assert again.counts.get("webhooks", 0) == 0 and WebhookStore(target.url).list() == [there]
