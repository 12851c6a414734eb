"""``jupyter mlops features …``: the feature store's command-line front door (issue 16).

``list`` shows every view's newest version and its freshness (the newest event it holds and
how far it is materialized), ``show`` a view's versions and one version's per-feature
statistics, ``materialize`` brings the online table up to date, printing progress to stderr
and a summary to stdout. Each parses, calls ``client.features``, and prints; a rejected value
is one line (``jupyter_mlops.cli.main``) with the exit code ``errors.ERROR_TABLE`` gives it.

``list`` stays light: it imports neither pandas nor numpy.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any

from jupyter_mlops.cli.context import client_for
from jupyter_mlops.cli.format import dump_json, print_table, when
from jupyter_mlops.cli.parser import Subparsers


def add_commands(top: Subparsers) -> None:
    """Add the ``features`` command group (list, show, materialize)."""
    group = top.add_parser("features", help="feature views: versions, statistics, online table") \
        .add_subparsers(dest="action", required=True, metavar="ACTION")

    p = group.add_parser("list", help="feature views with their newest version and freshness")
    p.add_argument("--format", choices=["table", "json"], default="table")

    p = group.add_parser("show", help="a view's versions and per-feature statistics")
    p.add_argument("view", help="view name (or name@N)")
    p.add_argument("--version", type=_positive_int, help="version for the statistics "
                   "(default: the newest)")
    p.add_argument("--format", choices=["text", "json"], default="text")

    p = group.add_parser("materialize", help="write a view's latest values to the online table")
    p.add_argument("view", help="view name (or name@N)")
    p.add_argument("--start", help="first event time to read (ISO 8601, inclusive)")
    p.add_argument("--end", help="last event time to read (ISO 8601, inclusive)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines")


def _positive_int(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 0 < int(text) < 2**31:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, not {text!r}")
    return int(text)


def event_time(ns: int | None) -> str:
    """An event time kept as ns since the epoch (UTC for aware times, as-is for naive ones)."""
    if ns is None:
        return "-"
    t = dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=ns // 1000)
    return t.strftime("%Y-%m-%d %H:%M:%S")


def ttl_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return str(dt.timedelta(seconds=seconds))


def listing_row(item) -> dict[str, Any]:
    """One view of ``client.features.list_views()`` as plain values (the JSON output)."""
    v, m = item.view, item.materialized
    return {
        "name": v.name, "version": v.version, "versions": item.versions,
        "entity": list(v.entity), "features": list(v.features), "rows": v.rows,
        "ttl_seconds": v.ttl_seconds, "last_event": event_time(v.max_event_ns),
        "materialized_to": None if m is None else event_time(m.watermark_ns),
        "materialized_at": None if m is None else m.updated_at,
    }


def features_list(args) -> None:
    items = [listing_row(i) for i in client_for(args).features.list_views()]
    if args.format == "json":
        return dump_json(items)
    print_table(["VIEW", "LATEST", "ENTITY", "FEATURES", "LAST EVENT", "MATERIALIZED TO",
                 "MATERIALIZED AT"],
                [[i["name"], i["version"], ", ".join(i["entity"]), _features(i["features"]),
                  i["last_event"], i["materialized_to"] or "never",
                  when(i["materialized_at"])] for i in items])
    if not items:
        print("(no feature views registered)")


def _features(names: list[str], limit: int = 4) -> str:
    more = len(names) - limit
    return ", ".join(names[:limit]) + (f" (+{more})" if more > 0 else "")


def features_show(args) -> None:
    features = client_for(args).features
    versions = features.versions(args.view)
    view = features.get_view(args.view, args.version)
    stats = features.statistics(view.name, view.version)
    if args.format == "json":
        return dump_json({"versions": [v.to_dict() for v in versions],
                          "version": view.version,
                          "statistics": [s.to_dict() for s in stats]})
    print(f"{view.name}: {len(versions)} version(s); entity {', '.join(view.entity)}, "
          f"time {view.timestamp_column}")
    if view.description:
        print(f"  {view.description}")
    print_table(["VERSION", "ROWS", "ENTITIES", "FEATURES", "TTL", "FIRST EVENT", "LAST EVENT",
                 "DIGEST", "BY", "REGISTERED"],
                [[v.version, v.rows, v.entities, len(v.features), ttl_text(v.ttl_seconds),
                  event_time(v.min_event_ns), event_time(v.max_event_ns), v.digest[:12],
                  v.created_by, when(v.created_at)] for v in versions])
    print(f"\nStatistics of {view.ref}:")
    print_table(["FEATURE", "DTYPE", "KIND", "COUNT", "MISSING", "MIN", "MEAN", "MAX",
                 "TOP"],
                [[s.feature, s.dtype, s.stats.get("kind", "-"), s.stats.get("count", "-"),
                  f"{s.stats.get('missing_share', 0.0):.1%}", _num(s.stats.get("min")),
                  _num(s.stats.get("mean")), _num(s.stats.get("max")), _top(s.stats)]
                 for s in stats])


def _num(value) -> str:
    if value is None:
        return "-"
    return f"{value:.6g}" if isinstance(value, (int, float)) else str(value)


def _top(stats: dict) -> str:
    top = stats.get("top") or []
    return ", ".join(f"{k} ({n})" for k, n in top[:3]) or "-"


def features_materialize(args) -> None:
    def progress(written: int, total: int) -> None:
        if not args.quiet:
            print(f"materialize {args.view}: {written}/{total} entities", file=sys.stderr,
                  flush=True)

    report = client_for(args).features.materialize(args.view, args.start, args.end,
                                                   on_progress=progress)
    mark = "not moved (the window starts after the first event)" \
        if report.watermark_ns is None else f"at {event_time(report.watermark_ns)}"
    print(f"Materialized {report}; watermark {mark}.")


COMMANDS = {
    ("features", "list"): features_list,
    ("features", "show"): features_show,
    ("features", "materialize"): features_materialize,
}
