"""``jupyter mlops migrate``: copy a whole store elsewhere (parse, call, print).

The copy itself is :func:`jupyter_mlops.client.store_admin.copy_store`; refusals are ``MlopsError``
and exit with the code of ``jupyter_mlops.errors.ERROR_TABLE`` (2 for every one migrate raises).
"""

from __future__ import annotations

import argparse
import sys

from jupyter_mlops.cli.parser import Subparsers


def add_commands(top: Subparsers) -> None:
    p = top.add_parser(
        "migrate", help="copy a whole store (rows and blobs) into an empty one, verified",
        description="Copy every table (in foreign-key order) from --from into the empty store "
        "--to, and every referenced blob from --from-artifacts to --to-artifacts; then verify "
        "each table's row count and each blob's hash at the target. Stop writers first. "
        "Interrupted (even killed), it leaves the target's database empty or complete and "
        "its artifact root without partial blobs: run the same command again, with --resume "
        "if it says so.")
    p.add_argument("--from", dest="source", required=True, metavar="URI",
                   help="SQLAlchemy URL of the store to copy")
    p.add_argument("--to", dest="target", required=True, metavar="URI",
                   help="SQLAlchemy URL of an empty (or new) store")
    p.add_argument("--from-artifacts", metavar="ROOT", help="source artifact folder or URL")
    p.add_argument("--to-artifacts", metavar="ROOT", help="target artifact folder or URL")
    p.add_argument("--batch-rows", type=int, default=2000, help="rows per INSERT (default 2000)")
    p.add_argument("--resume", action="store_true",
                   help="finish an interrupted migrate: keep the rows already at the target "
                   "(checked to be the source's), copy the missing blobs, verify everything")
    p.add_argument("--quiet", "-q", action="store_true", help="print only the summary")


def migrate(args: argparse.Namespace) -> int:
    from jupyter_mlops.client.store_admin import copy_store

    progress = None if args.quiet else (lambda line: print(f"  {line}", file=sys.stderr))
    report = copy_store(args.source, args.target, args.from_artifacts, args.to_artifacts,
                        batch_rows=args.batch_rows, progress=progress, resume=args.resume)
    print(report.summary())
    return 1 if report.missing_blobs else 0


COMMANDS = {("migrate", None): migrate}
