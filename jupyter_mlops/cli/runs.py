"""``jupyter mlops runs list|show`` and ``jupyter mlops lineage``: what was recorded."""

from __future__ import annotations

import argparse
import json
import sys

from jupyter_mlops.cli.context import client_for
from jupyter_mlops.cli.format import print_table, when
from jupyter_mlops.cli.parser import Subparsers


def add_commands(top: Subparsers) -> None:
    runs = top.add_parser("runs", help="list and inspect runs").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    p = runs.add_parser("list", help="runs matching a filter")
    p.add_argument("--experiment", "-e")
    p.add_argument("--filter", "-f")
    p.add_argument("--order-by", "-o", action="append")
    p.add_argument("--limit", "-l", type=int, default=50)
    p.add_argument("--lifecycle", choices=["active", "deleted", "all"], default="active",
                   help="runs of active experiments (default), of deleted ones, or all")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p = runs.add_parser("show", help="everything recorded about one run")
    p.add_argument("run_id")
    p.add_argument("--format", choices=["text", "json"], default="text")

    p = top.add_parser("lineage", help="upstream/downstream graph of run:ID, dataset:ID …")
    p.add_argument("node")
    p.add_argument("--format", choices=["text", "json"], default="text")


def runs_list(args: argparse.Namespace) -> None:
    client = client_for(args)
    runs = client.search_runs(args.filter, args.experiment, args.order_by,
                              max_results=max(1, min(args.limit, 50_000)), warn=False,
                              lifecycle=args.lifecycle)
    if runs.hint:  # on stderr, so `--format json` output stays parseable
        print(f"hint: {runs.hint}", file=sys.stderr)
    if args.format == "json":
        json.dump([r.to_dict() for r in runs], sys.stdout, indent=2)
        print()
        return
    metric_keys = sorted({k for r in runs for k in r.metrics})[:6]
    header = ["RUN", "NAME", "EXPERIMENT", "STATUS", "STARTED", *metric_keys]
    rows = [[r.id[:12], r.name[:30], r.experiment[:20], r.status, when(r.start_time),
             *(_fmt(r.metrics.get(k)) for k in metric_keys)] for r in runs]
    print_table(header, rows)
    if not runs:
        print("(no runs match)")


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.6g}"


def runs_show(args: argparse.Namespace) -> None:
    client = client_for(args)
    detail = client.get_run(client.resolve_run_id(args.run_id))
    if args.format == "json":
        print(json.dumps(detail.to_dict(), indent=2))
        return
    r = detail.run
    print(f"Run {r.id}  {r.name!r}\n  experiment {r.experiment}  status {r.status}  "
          f"user {r.user}\n  started {when(r.start_time)}  ended {when(r.end_time)}")
    if r.parent_run_id:
        print(f"  parent {r.parent_run_id}")
    if r.reproducible is not None:
        print(f"  reproducible: {'yes' if r.reproducible else 'no — ' + str(r.not_reproducible_reason)}")
    for title, values in (("params", r.params), ("metrics", r.metrics), ("tags", r.tags)):
        if values:
            print(f"{title}:")
            for k, v in sorted(values.items()):
                print(f"  {k} = {v}")
    if detail.artifacts:
        print("artifacts:")
        for a in detail.artifacts:
            print(f"  {a.name}  {a.size} B  {a.media_type}  {a.digest[:12]}")
    if detail.datasets:
        print("datasets:")
        for d in detail.datasets:
            print(f"  {d.role:6} {d.name} v{d.version}  {d.digest[:12]}  rows={d.row_count}")
    if detail.code:
        c = detail.code
        git = f"  git {c.git_commit[:10]}{' (dirty)' if c.git_dirty else ''}" if c.git_commit else ""
        print(f"notebook: {c.notebook_path or '(kernel history)'}  {c.digest[:12]}{git}")
    if detail.environment:
        e = detail.environment
        print(f"environment: Python {e.python}, {len(e.packages)} packages ({e.digest[:12]})")


def lineage(args: argparse.Namespace) -> None:
    """An unknown id fails (NotFoundError, exit 1); a known one without edges prints so."""
    graph = client_for(args).lineage(args.node)
    if args.format == "json":
        print(json.dumps(graph.to_dict(), indent=2))
        return
    labels = {n.id: f"{n.label} [{n.id}]" for n in graph.nodes}
    for e in graph.edges:
        print(f"{labels.get(e.src, e.src)} --{e.relation}--> {labels.get(e.dst, e.dst)}")
    if not graph.edges:
        print(f"{graph.root}: no lineage recorded")


COMMANDS = {("runs", "list"): runs_list, ("runs", "show"): runs_show,
            ("lineage", None): lineage}
