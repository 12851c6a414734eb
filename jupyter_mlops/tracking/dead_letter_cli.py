"""``jupyter mlops dead-letter list|replay``: see and recover rows the store refused.

``jupyter_mlops/cli.py`` calls :func:`add_commands` on its top-level subparsers and merges the
handler map it returns. The rows live in the store's dead-letter file (see
:mod:`jupyter_mlops.tracking.dead_letter`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys


def add_commands(top: argparse._SubParsersAction) -> dict:
    """Add ``dead-letter list`` and ``dead-letter replay``; return their handlers."""
    group = top.add_parser(
        "dead-letter", help="rows the store refused at write time, set aside: list, replay",
        description="A value the store refuses when the writer flushes (a constraint, a value "
        "the database cannot hold) is set aside in dead-letter.jsonl next to the store instead "
        "of blocking every later write. List those rows, and replay them once the cause is "
        "fixed.").add_subparsers(dest="action", required=True, metavar="ACTION")
    p = group.add_parser("list", help="the rows set aside for this store")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p = group.add_parser(
        "replay", help="re-validate the rows and write those now accepted; keep the rest",
        description="Exit 0 when every row was written (or dropped), 1 when some stay.")
    p.add_argument("--drop", action="store_true",
                   help="remove the rows that are still refused instead of keeping them")
    return {("dead-letter", "list"): list_rows, ("dead-letter", "replay"): replay}


def _file(args):
    from jupyter_mlops.config import resolve_locations
    from jupyter_mlops.tracking.dead_letter import DeadLetterFile

    return DeadLetterFile(resolve_locations(args.tracking_uri, args.artifact_root).tracking_uri)


def list_rows(args) -> int:
    from jupyter_mlops.cli_format import print_table, when

    dead = _file(args)
    rows = dead.rows()
    if args.format == "json":
        json.dump([dataclasses.asdict(r) for r in rows], sys.stdout, indent=2)
        print()
        return 0
    if not rows:
        print(f"no rows set aside for {dead.store} ({dead.path})")
        return 0
    print(f"{len(rows)} row(s) set aside for {dead.store} in {dead.path}:")
    print_table(["RUN", "KIND", "KEY", "VALUE", "STEP", "SET ASIDE", "WHY"],
                [[str(r.run_id)[:12], r.kind, _short(r.key, 30), _short(r.value, 30),
                  "-" if r.step is None else r.step, when(r.at), _short(r.error, 80)]
                 for r in rows])
    return 0


def replay(args) -> int:
    from jupyter_mlops.store import open_store

    dead = _file(args)
    report = dead.replay(open_store(args.tracking_uri, args.artifact_root).runs, drop=args.drop)
    print(f"written: {report.written}  kept: {len(report.kept)}  dropped: {len(report.dropped)}")
    for r in report.kept[:20]:
        print(f"  kept {r.kind} {_short(r.key, 30)} of run {str(r.run_id)[:12]}: "
              f"{_short(r.error, 100)}")
    if report.kept:
        print("(fix the cause and replay again, or remove them with `dead-letter replay "
              "--drop`)")
    return 1 if report.kept else 0


def _short(value, limit: int) -> str:
    """Printable and bounded: a refused row may hold control characters or huge text."""
    text = value if isinstance(value, str) else repr(value)
    text = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[:limit - 1] + "…"
