"""``jupyter mlops env``: where the store is, why, and the environment variables read."""

from __future__ import annotations

import argparse

from jupyter_mlops.cli.parser import Subparsers


def add_commands(top: Subparsers) -> None:
    top.add_parser("env", help="where the store is and the environment variables read")


def env(args: argparse.Namespace) -> None:
    from jupyter_mlops.config import ENV_VARS, redact_url, resolve_locations

    loc = resolve_locations(args.tracking_uri, args.artifact_root)
    print(f"tracking URI:  {redact_url(loc.tracking_uri)}\nartifact root: {loc.artifact_root}\n"
          f"chosen by:     {loc.reason}\n")
    for var in ENV_VARS.values():
        print(f"{var.name}\n    {var.help}")


COMMANDS = {("env", None): env}
