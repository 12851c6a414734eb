"""``jupyter mlops gc``: mark dead runs KILLED, verify blobs, prune unreferenced ones."""

from __future__ import annotations

import argparse

from jupyter_mlops.cli.context import client_for
from jupyter_mlops.cli.parser import Subparsers


def add_commands(top: Subparsers) -> None:
    p = top.add_parser("gc", help="mark dead runs KILLED, verify blobs, prune unreferenced ones")
    p.add_argument("--dry-run", action="store_true",
                   help="delete no blob or temp file; only report what would go")
    p.add_argument("--verify", action="store_true",
                   help="exit 1 if any referenced blob is missing or corrupt")


def gc(args: argparse.Namespace) -> int:
    """Exit 1 if a blob is corrupt (or, with --verify, corrupt or missing); else 0."""
    done = client_for(args).gc(dry_run=args.dry_run)
    report = done.blobs
    print(f"runs marked KILLED: {len(done.runs_killed)}")
    for run_id in done.runs_killed:
        print(f"  {run_id}")
    print(f"pipeline runs marked KILLED: {len(done.pipeline_runs_killed)}")
    for run_id in done.pipeline_runs_killed:
        print(f"  {run_id}")
    would = "would be " if report.dry_run else ""
    print(f"blobs checked: {report.checked}")
    print(f"blobs {would}deleted (unreferenced): {len(report.deleted)}")
    print(f"blobs corrupt ({would}removed): {len(report.corrupt)}")
    for digest in report.corrupt:
        print(f"  corrupt blob {digest}: the artifacts pointing at it cannot be read")
    print(f"blobs missing: {len(report.missing)}")
    for digest in report.missing:
        users = done.missing_used_by.get(digest) or ["(a stored record)"]
        print(f"  missing blob {digest}, used by {'; '.join(users)}")
    print(f"temp files {would}removed: {len(report.temp_removed)}")
    if report.missing and not args.verify:
        print("(run `jupyter mlops gc --verify` to make missing blobs fail the command)")
    return 1 if report.corrupt or (args.verify and report.missing) else 0


COMMANDS = {("gc", None): gc}
