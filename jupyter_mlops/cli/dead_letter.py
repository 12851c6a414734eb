"""``jupyter mlops dead-letter list|replay``: rows the store refused at write time."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from jupyter_mlops.cli.context import client_for
from jupyter_mlops.cli.format import print_table, when
from jupyter_mlops.cli.parser import Subparsers


def add_commands(top: Subparsers) -> None:
    dead = top.add_parser(
        "dead-letter", help="rows the store refused at write time, set aside: list, replay",
        description="A value the store refuses when the writer flushes (a constraint, a value "
        "the database cannot hold) is set aside in dead-letter.jsonl next to the store instead "
        "of blocking every later write.").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    p = dead.add_parser("list", help="the rows set aside for this store")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p = dead.add_parser("replay", help="re-validate the rows and write those now accepted; "
                        "exit 1 if some stay")
    p.add_argument("--drop", action="store_true",
                   help="remove the rows that are still refused instead of keeping them")


def dead_letter_list(args: argparse.Namespace) -> None:
    dead = client_for(args).dead_letter()
    rows = dead.rows()
    if args.format == "json":
        json.dump([dataclasses.asdict(r) for r in rows], sys.stdout, indent=2)
        print()
    elif not rows:
        print(f"no rows set aside for {dead.store} ({dead.path})")
    else:
        print(f"{len(rows)} row(s) set aside for {dead.store} in {dead.path}:")
        print_table(["RUN", "KIND", "KEY", "VALUE", "STEP", "SET ASIDE", "WHY"],
                    [[_shown(r.run_id, 64)[:12], r.kind, _shown(r.key, 30), _shown(r.value, 30),
                      "-" if r.step is None else r.step, when(r.at), _shown(r.error, 80)]
                     for r in rows])


def dead_letter_replay(args: argparse.Namespace) -> int:
    """Exit 0 when every row was written (or dropped), 1 when some stay set aside."""
    report = client_for(args).replay_dead_letter(drop=args.drop)
    print(f"written: {report.written}  kept: {len(report.kept)}  dropped: {len(report.dropped)}")
    for r in report.kept[:20]:
        print(f"  kept {r.kind} {_shown(r.key, 30)} of run {_shown(r.run_id, 64)[:12]}: "
              f"{_shown(r.error, 100)}")
    if report.kept:
        print("(fix the cause and replay again, or remove them with `dead-letter replay --drop`)")
    return 1 if report.kept else 0


def _shown(value, limit: int) -> str:
    """Printable and bounded: a refused row may hold control characters or huge text."""
    text = value if isinstance(value, str) else repr(value)
    text = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


COMMANDS = {("dead-letter", "list"): dead_letter_list,
            ("dead-letter", "replay"): dead_letter_replay}
