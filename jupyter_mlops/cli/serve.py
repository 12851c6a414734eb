"""``jupyter mlops serve models:/NAME@ALIAS``: start the model server in this process.

The command belongs to the serving front door: its options and what it runs are
:mod:`jupyter_mlops.serving.command`, which ``python -m jupyter_mlops.serving`` uses too, and
which imports only argparse until the server starts. This is the one import between front
doors, allowed by name in the ``front-doors-independent`` contract: the shell is where a user
starts the model server.
"""

from __future__ import annotations

import argparse

from jupyter_mlops.cli.parser import Subparsers
from jupyter_mlops.serving import command


def add_commands(top: Subparsers) -> None:
    command.add_arguments(top.add_parser(
        "serve", help="serve a registered model over HTTP (MLflow-compatible)"))


def serve(args: argparse.Namespace) -> None:
    command.run(args)


COMMANDS = {("serve", None): serve}
