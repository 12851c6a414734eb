"""``jupyter mlops sync``: push the local store to a team store, or pull from one (parse,
call, print).

The work is :func:`jupyter_mlops.client.store_admin.sync_store`; the rules (what moves, what
counts as a conflict, why a rerun is safe) are in :mod:`jupyter_mlops.store.sync`. Exit code
0 when everything moved, 1 when conflicts were reported or blobs were missing at the source,
2 for a refusal (``jupyter_mlops.errors.ERROR_TABLE``).
"""

from __future__ import annotations

import argparse
import sys

from jupyter_mlops.cli.parser import Subparsers


def add_commands(top: Subparsers) -> None:
    p = top.add_parser(
        "sync", help="push this store's new runs, metrics, artifacts and registry changes to "
        "a team store (--to), or pull from one (--from)",
        description="Incremental, idempotent and resumable: only what changed since the last "
        "sync moves, a rerun adds nothing, and a sync killed or disconnected anywhere is "
        "finished by running it again. Newer data on the other side is never overwritten: "
        "conflicts (an alias moved on both sides, a param with another value…) are listed "
        "and the other side's data is kept. The local store is --tracking-uri (default: the "
        "project's .mlops/).")
    way = p.add_mutually_exclusive_group(required=True)
    way.add_argument("--to", dest="to_uri", metavar="URI",
                     help="push to this store (postgresql://… or sqlite:///PATH)")
    way.add_argument("--from", dest="from_uri", metavar="URI",
                     help="pull from this store")
    p.add_argument("--artifacts", metavar="URL", help="the other store's artifact root (a "
                   "folder or fsspec URL; default for a SQLite file: the artifacts folder "
                   "beside it)")
    p.add_argument("--run", dest="runs", action="append", metavar="RUN_ID",
                   help="with --from: pull only this run (repeatable)")
    p.add_argument("--quiet", "-q", action="store_true", help="print only the summary")


def sync(args: argparse.Namespace) -> int:
    from jupyter_mlops.cli.context import location_for
    from jupyter_mlops.client.store_admin import sync_store

    here = location_for(args)
    progress = None if args.quiet else (lambda line: print(f"  {line}", file=sys.stderr))
    pull = args.from_uri is not None
    report = sync_store(here.tracking_uri, here.artifact_root,
                        args.from_uri if pull else args.to_uri, args.artifacts, pull=pull,
                        run_ids=args.runs, progress=progress)
    print(report.summary())
    return 1 if report.conflicts or report.missing_blobs else 0


COMMANDS = {("sync", None): sync}
