"""``jupyter mlops db upgrade|current``: the store's schema revision."""

from __future__ import annotations

import argparse

from jupyter_mlops.cli.parser import Subparsers


def add_commands(top: Subparsers) -> None:
    db = top.add_parser("db", help="schema migrations").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    db.add_parser("upgrade", help="migrate the store to this version's schema")
    db.add_parser("current", help="print the store's schema revision")


def _tracking_uri(args: argparse.Namespace) -> str:
    from jupyter_mlops.config import resolve_locations

    return resolve_locations(args.tracking_uri, args.artifact_root).tracking_uri


def db_upgrade(args: argparse.Namespace) -> None:
    from jupyter_mlops.config import redact_url
    from jupyter_mlops.client.store_admin import upgrade_schema

    url = _tracking_uri(args)
    before, after = upgrade_schema(url)
    print(f"{redact_url(url)}: schema {before or '(empty)'} -> {after}")


def db_current(args: argparse.Namespace) -> None:
    from jupyter_mlops.client.store_admin import schema_revision

    # Read only: the normal engine would switch a stranger's SQLite file to WAL on connect.
    stored, expected = schema_revision(_tracking_uri(args))
    print(f"{stored or '(empty)'} (this version expects {expected})")


COMMANDS = {("db", "upgrade"): db_upgrade, ("db", "current"): db_current}
