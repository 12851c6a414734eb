"""``jupyter mlops …``: the command-line front door (parse, call the client, print).

One module per command group (:mod:`.runs`, :mod:`.db`, :mod:`.models`, :mod:`.pipelines`,
…); each declares its commands with ``add_commands(top)`` and maps ``(group, action)`` to a
handler in its ``COMMANDS``. Errors print one line to stderr and exit with the code
``jupyter_mlops.errors.ERROR_TABLE`` gives them (2 for a refusal, 1 for a failed step); no
traceback for a user's mistake.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from jupyter_mlops.cli import (
    check,
    db,
    dead_letter,
    env,
    features,
    gc,
    interop,
    migrate,
    models,
    monitoring,
    pipelines,
    report,
    runs,
    serve,
    server,
    sync,
    webhooks,
)
from jupyter_mlops.cli.context import location_for
from jupyter_mlops.cli.own_process import without_eager_iri_parser
from jupyter_mlops.cli.parser import CommandParser

#: The command groups, in the order ``jupyter mlops --help`` lists them.
GROUPS = (runs, db, gc, env, models, pipelines, check, report, monitoring, features, serve,
          server, webhooks, migrate, sync, interop, dead_letter)

#: ``(group, action)`` -> handler; a handler returns the exit code (None for 0).
COMMANDS = {key: handler for group in GROUPS for key, handler in group.COMMANDS.items()}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jupyter mlops", description="Experiment tracking, lineage and store maintenance.")
    parser.add_argument("--tracking-uri", help="SQLAlchemy URL (default: MLOPS_TRACKING_URI "
                        "or the project's .mlops/mlops.db)")
    parser.add_argument("--artifact-root", help="artifact folder or fsspec URL")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="print the store in use and why it was chosen (to stderr)")
    top = parser.add_subparsers(dest="group", metavar="COMMAND", required=True,
                                parser_class=CommandParser)
    for group in GROUPS:
        group.add_commands(top)
    return parser


#: Command groups that run a user's model code in this process: they get the Python
#: environment unchanged (see :mod:`jupyter_mlops.cli.own_process`).
_USER_CODE_GROUPS = frozenset({"serve"})


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.group not in _USER_CODE_GROUPS:
        without_eager_iri_parser()
    from jupyter_mlops.errors import MlopsError, exit_code_for

    try:
        handler = COMMANDS[(args.group, getattr(args, "action", None))]
        if args.verbose:
            print(f"jupyter mlops: {location_for(args).describe()}", file=sys.stderr)
        return handler(args) or 0
    except MlopsError as exc:
        print(f"error: {_with_store(exc, args)}", file=sys.stderr)
        return exit_code_for(exc)  # errors.ERROR_TABLE, the table REST statuses come from
    except BrokenPipeError:  # `… | head`
        return 0


def _with_store(exc, args) -> str:
    """A failed lookup names the store it searched (the Client's own messages already do)."""
    from jupyter_mlops.config import redact_url
    from jupyter_mlops.errors import NotFoundError

    text = str(exc)
    if not isinstance(exc, NotFoundError):
        return text
    loc = location_for(args)
    if redact_url(loc.tracking_uri) in text:
        return text
    return f"{text} Searched {loc.describe()}."
