"""``jupyter mlops serve models:/NAME@ALIAS``: start the model server in this process.

The command belongs to the serving front door: its options and what it runs are
:mod:`jupyter_mlops.serving.command`, which ``python -m jupyter_mlops.serving`` uses too. Front
doors do not import each other (the ``front-doors-independent`` import-linter contract), so
this module hands the command over by module name, the way ``python -m`` would; that module
imports only argparse until the server starts.
"""

from __future__ import annotations

import argparse
import importlib

from jupyter_mlops.cli.parser import Subparsers

#: The serving front door's command module, looked up by name (see the module docstring).
SERVING_COMMAND = "jupyter_mlops.serving.command"


def add_commands(top: Subparsers) -> None:
    importlib.import_module(SERVING_COMMAND).add_arguments(top.add_parser(
        "serve", help="serve a registered model over HTTP (MLflow-compatible)"))


def serve(args: argparse.Namespace) -> None:
    importlib.import_module(SERVING_COMMAND).run(args)


COMMANDS = {("serve", None): serve}
