"""``jupyter mlops webhooks add|list|remove|deliveries``: who hears of runs, pipelines, alerts
and model promotions (the store's webhooks, :mod:`jupyter_mlops.notify`)."""

from __future__ import annotations

import argparse
import os
import sys

from jupyter_mlops.cli.context import client_for
from jupyter_mlops.cli.format import print_table, when
from jupyter_mlops.cli.parser import Subparsers

#: Kept in step with jupyter_mlops.notify.payloads.EVENTS (a test checks); listed here so the
#: help text costs no import of the component.
EVENTS = ("run.finished", "run.failed", "pipeline.failed", "alert.fired",
          "model.proposed", "model.promoted")


def add_commands(top: Subparsers) -> None:
    hooks = top.add_parser(
        "webhooks", help="HTTP endpoints told of runs, pipelines, alerts and promotions",
        description="Each event is POSTed as JSON (or Slack's {\"text\": …}), signed with "
        "HMAC-SHA256 when the webhook has a secret, and retried with backoff; every attempt "
        "is in the delivery log.").add_subparsers(dest="action", required=True, metavar="ACTION")
    p = hooks.add_parser("add", help="add a webhook")
    p.add_argument("url", help="http:// or https:// address")
    p.add_argument("--event", action="append", choices=EVENTS, dest="events",
                   help="an event to send (repeat; default: all)")
    p.add_argument("--format", choices=["json", "slack"], default="json")
    # A secret on the command line would show in `ps` and shell history: read it from an
    # environment variable or standard input instead.
    secret = p.add_mutually_exclusive_group()
    secret.add_argument("--secret-env", metavar="VAR",
                        help="sign payloads with the secret held in environment variable VAR")
    secret.add_argument("--secret-stdin", action="store_true",
                        help="sign payloads with the secret read from standard input")
    hooks.add_parser("list", help="the store's webhooks (secrets are never shown)")
    p = hooks.add_parser("remove", help="remove a webhook")
    p.add_argument("webhook_id", metavar="ID")
    p = hooks.add_parser("deliveries", help="the delivery log, newest attempt first")
    p.add_argument("webhook_id", metavar="ID", nargs="?")
    p.add_argument("--limit", default="50", help="at most this many attempts (default 50)")


def webhooks_add(args: argparse.Namespace) -> None:
    hook = client_for(args).webhooks.add(args.url, args.events, secret=_secret(args),
                                         format=args.format)
    signed = "signed" if hook.has_secret else "unsigned"
    print(f"webhook {hook.id}: {hook.url} ({hook.format}, {signed}) for "
          f"{', '.join(hook.events)}")


def webhooks_list(args: argparse.Namespace) -> None:
    hooks = client_for(args).webhooks.list()
    if not hooks:
        print("no webhooks (add one with `jupyter mlops webhooks add URL`)")
        return
    print_table(["ID", "URL", "FORMAT", "SIGNED", "EVENTS", "ADDED", "BY"],
                [[h.id, h.url, h.format, "yes" if h.has_secret else "no", ",".join(h.events),
                  when(h.created_at), h.created_by] for h in hooks])


def webhooks_remove(args: argparse.Namespace) -> None:
    from jupyter_mlops.validation import parse_int

    webhook_id = parse_int(args.webhook_id, "webhook id", 1, 2**31 - 1)
    client_for(args).webhooks.remove(webhook_id)
    print(f"removed webhook {webhook_id}")


def webhooks_deliveries(args: argparse.Namespace) -> None:
    from jupyter_mlops.validation import parse_int

    webhook_id = None if args.webhook_id is None else parse_int(
        args.webhook_id, "webhook id", 1, 2**31 - 1)
    limit = parse_int(args.limit, "--limit", 1, 10_000)
    rows = client_for(args).webhooks.deliveries(webhook_id, limit)
    if not rows:
        print("no deliveries yet")
        return
    print_table(["WEBHOOK", "DELIVERY", "EVENT", "TRY", "AT", "STATUS", "OK", "ERROR"],
                [[d.webhook_id, d.delivery[:12], d.event, d.attempt, when(d.at),
                  "-" if d.status is None else d.status, "yes" if d.delivered else "no",
                  _one_line(d.error or "")] for d in rows])


def _secret(args: argparse.Namespace) -> str | None:
    from jupyter_mlops.errors import InvalidInputError

    if args.secret_env:
        value = os.environ.get(args.secret_env)
        if not value:
            raise InvalidInputError(f"Environment variable {args.secret_env} is not set or "
                                    "empty: export the secret there, or leave --secret-env out "
                                    "to send unsigned.")
        return value
    if args.secret_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            raise InvalidInputError("No secret on standard input: pipe it in, e.g. "
                                    "`printenv HOOK_SECRET | jupyter mlops webhooks add URL "
                                    "--secret-stdin`.")
        return value
    return None


def _one_line(text: str, limit: int = 80) -> str:
    """An error from the far side may hold anything: printable, one line, bounded."""
    text = "".join(c if c.isprintable() else " " for c in text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


COMMANDS = {("webhooks", "add"): webhooks_add, ("webhooks", "list"): webhooks_list,
            ("webhooks", "remove"): webhooks_remove,
            ("webhooks", "deliveries"): webhooks_deliveries}
