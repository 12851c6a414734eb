"""``%mlops features [list | show VIEW [--version N]]``: the feature store in a notebook (issue 16).

Parse, call ``mlops.features`` (the notebook's default client), render: an HTML table in a
notebook front end, the same table as text anywhere else (``text/plain``). Every piece of
user text goes through :func:`html.escape`. ``notebook/magics.py`` adds the parser with
:func:`add_parsers` and sends the command to :func:`handle`; a :class:`MlopsError` (an unknown
view, a bad name) becomes a one-line ``UsageError`` there.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
from typing import Any

from jupyter_mlops.notebook.subcommands import Subcommands

#: The subcommands :func:`handle` serves.
COMMANDS = ("features",)

_BARS = "▁▂▃▄▅▆▇█"


def add_parsers(subparsers: Subcommands) -> None:
    """Declare ``features`` on the ``%mlops`` subparsers."""
    p = subparsers.add_parser(
        "features", help="feature views and their freshness, or one view's versions and "
                         "statistics: %mlops features [list | show VIEW [--version N]]")
    p.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    p.add_argument("view", nargs="?", metavar="VIEW", help="view name (or name@N) for show")
    p.add_argument("--version", type=int, metavar="N", help="version for the statistics")


def handle(command: str, args: argparse.Namespace, shell: Any) -> Any:
    """Run ``%mlops features …``; display a :class:`FeatureTable` (HTML, text fallback)."""
    from IPython.core.error import UsageError
    from IPython.display import display

    from jupyter_mlops.lifecycle import fluent  # the notebook's default client, lazily

    features = fluent.get_client().features
    if args.action == "list":
        if args.view is not None or args.version is not None:
            raise UsageError("`%mlops features list` takes no VIEW or --version; "
                             "use `%mlops features show VIEW`.")
        display(views_table(features.list_views()))
        return None
    if args.view is None:
        raise UsageError("Name the view: %mlops features show VIEW [--version N].")
    versions = features.versions(args.view)
    view = features.get_view(args.view, args.version)
    display(versions_table(view.name, versions))
    display(stats_table(view, features.statistics(view.name, view.version)))
    return None


# ------------------------------------------------------------------ rendering
class FeatureTable:
    """A titled table: HTML for notebook front ends, aligned text for everything else."""

    def __init__(self, title: str, header: list[str], rows: list[list[Any]], empty: str = ""):
        self.title, self.header, self.rows, self.empty = title, header, rows, empty

    def _repr_html_(self) -> str:
        e = html.escape
        head = "".join(f"<th>{e(str(h))}</th>" for h in self.header)
        body = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>"
                       for row in self.rows)
        note = f"<p>{e(self.empty)}</p>" if not self.rows and self.empty else ""
        return (f'<div class="mlops-features"><strong>{e(self.title)}</strong>'
                f'<table class="mlops-features-table"><thead><tr>{head}</tr></thead>'
                f"<tbody>{body}</tbody></table>{note}</div>")

    def __repr__(self) -> str:
        cells = [self.header, *[[str(c) for c in r] for r in self.rows]]
        widths = [max(len(str(x)) for x in col) for col in zip(*cells)]
        lines = [self.title]
        lines += ["  ".join(str(x).ljust(w) for x, w in zip(r, widths)).rstrip() for r in cells]
        if not self.rows and self.empty:
            lines.append(self.empty)
        return "\n".join(lines)


def event_time(ns: int | None) -> str:
    """ns since the epoch (UTC for aware times, as-is for naive ones) → ``YYYY-MM-DD HH:MM:SS``."""
    if ns is None:
        return "-"
    return (dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=ns // 1000)) \
        .strftime("%Y-%m-%d %H:%M:%S")


def _when(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def views_table(listing) -> FeatureTable:
    rows = []
    for item in listing:
        v, m = item.view, item.materialized
        rows.append([v.name, v.version, ", ".join(v.entity), ", ".join(v.features),
                     v.rows, event_time(v.max_event_ns),
                     "never" if m is None else event_time(m.watermark_ns),
                     "-" if m is None else _when(m.updated_at)])
    return FeatureTable(
        "Feature views", ["view", "latest", "entity", "features", "rows", "last event",
                          "materialized to", "materialized at"], rows,
        empty="No feature views yet: mlops.features.register_view(name, source, entity=…, "
              "timestamp=…, features=…)")


def versions_table(name: str, versions) -> FeatureTable:
    return FeatureTable(
        f"{name}: versions",
        ["version", "rows", "entities", "features", "ttl", "first event", "last event",
         "digest", "by", "registered"],
        [[v.version, v.rows, v.entities, len(v.features),
          "-" if v.ttl_seconds is None else str(dt.timedelta(seconds=v.ttl_seconds)),
          event_time(v.min_event_ns), event_time(v.max_event_ns), v.digest[:12],
          v.created_by, _when(v.created_at)] for v in versions])


def stats_table(view, stats) -> FeatureTable:
    rows = []
    for s in stats:
        st = s.stats
        rows.append([s.feature, s.dtype, st.get("kind", "-"), st.get("count", "-"),
                     f"{st.get('missing_share', 0.0):.1%}", _num(st.get("min")),
                     _num(st.get("mean")), _num(st.get("max")), distribution(st)])
    return FeatureTable(f"{view.ref}: statistics",
                        ["feature", "dtype", "kind", "count", "missing", "min", "mean", "max",
                         "distribution"], rows)


def distribution(stats: dict) -> str:
    """A numeric feature's histogram as bars (▁…█), a categorical one's top values."""
    hist = stats.get("histogram")
    if hist and hist.get("counts"):
        top = max(hist["counts"]) or 1
        return "".join(_BARS[round(c / top * (len(_BARS) - 1))] for c in hist["counts"])
    top_values = stats.get("top") or []
    return ", ".join(f"{k} ({n})" for k, n in top_values[:3]) or "-"


def _num(value) -> str:
    if value is None:
        return "-"
    return f"{value:.6g}" if isinstance(value, (int, float)) else str(value)
