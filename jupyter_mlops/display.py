"""How records look to a person: HTML in a notebook, short readable text in a terminal.

The store's frozen records (:mod:`jupyter_mlops.store.records`) call these functions from
their ``_repr_html_`` and ``__str__``. This module imports only the standard library and reads
records by attribute, so the store can use it without importing anything above itself. Every
piece of user text (names, keys, values, tags) goes through :func:`html.escape`.
"""

from __future__ import annotations

import html
import math
import time
from typing import Any, Iterable

#: Metric and param columns shown at most in a table of runs (the rest are one click away).
MAX_COLUMNS = 6
#: Runs shown at most in a text table or an HTML table.
MAX_ROWS = 50


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def _num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def _pairs(values: dict, limit: int = 8) -> str:
    items = [f"{k}={_num(v)}" for k, v in sorted(values.items())]
    more = f", … ({len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


# ------------------------------------------------------------------ one run
def run_text(run: Any) -> str:
    """A few lines: name, id, status, experiment and times; then params, metrics and tags."""
    lines = [f"Run {run.name!r} ({run.id[:8]}) {run.status} in experiment {run.experiment!r}",
             f"  started {_when(run.start_time)}, ended {_when(run.end_time)}, by {run.user}"]
    if run.parent_run_id:
        lines.append(f"  child of {run.parent_run_id[:8]}")
    for label, values in (("params", run.params), ("metrics", run.metrics),
                          ("tags", run.tags)):
        if values:
            lines.append(f"  {label}: {_pairs(values)}")
    return "\n".join(lines)


def _table(header: list[str], rows: Iterable[list[Any]], css: str) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>"
                   for row in rows)
    return (f'<table class="{css}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>")


def run_html(run: Any) -> str:
    rows = [["id", run.id], ["status", run.status], ["experiment", run.experiment],
            ["user", run.user], ["started", _when(run.start_time)],
            ["ended", _when(run.end_time)]]
    if run.parent_run_id:
        rows.append(["parent", run.parent_run_id])
    for label, values in (("param", run.params), ("metric", run.metrics), ("tag", run.tags)):
        rows.extend([f"{label} {k}", _num(v)] for k, v in sorted(values.items()))
    return (f'<div class="jp-mlops-run"><strong>Run {_e(run.name)}</strong>'
            + _table(["field", "value"], rows, "jp-mlops-run-table") + "</div>")


def detail_text(detail: Any) -> str:
    lines = [run_text(detail.run)]
    if detail.artifacts:
        lines.append("  artifacts: " + ", ".join(a.name for a in detail.artifacts[:10]))
    if detail.datasets:
        lines.append("  datasets: " + ", ".join(
            f"{d.name} v{d.version} ({d.role or 'used'})" for d in detail.datasets[:10]))
    if detail.code is not None and (detail.code.notebook_path or detail.code.git_commit):
        where = detail.code.notebook_path or "?"
        commit = f" @ {detail.code.git_commit[:10]}" if detail.code.git_commit else ""
        lines.append(f"  code: {where}{commit}")
    if detail.children:
        lines.append(f"  children: {len(detail.children)}")
    return "\n".join(lines)


def detail_html(detail: Any) -> str:
    parts = [run_html(detail.run)]
    if detail.artifacts:
        parts.append(_table(["artifact", "size", "type"],
                            ([a.name, a.size, a.media_type] for a in detail.artifacts),
                            "jp-mlops-artifacts"))
    if detail.datasets:
        parts.append(_table(["dataset", "version", "role", "rows"],
                            ([d.name, d.version, d.role or "", _num(d.row_count)]
                             for d in detail.datasets), "jp-mlops-datasets"))
    return "".join(parts)


# ------------------------------------------------------------------ many runs
def _columns(runs: list) -> list[str]:
    return sorted({k for r in runs[:MAX_ROWS] for k in r.metrics})[:MAX_COLUMNS]


def runs_text(runs: list, hint: str | None = None) -> str:
    """A fixed-width table: id, name, status, experiment, then the first metric columns."""
    metrics = _columns(runs)
    header = ["RUN", "NAME", "STATUS", "EXPERIMENT", *metrics]
    rows = [[r.id[:8], r.name[:30], r.status, r.experiment[:20],
             *(_num(r.metrics.get(k)) for k in metrics)] for r in runs[:MAX_ROWS]]
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip()
             for row in [header, *rows]]
    if len(runs) > MAX_ROWS:
        lines.append(f"… and {len(runs) - MAX_ROWS} more")
    if not runs:
        lines = ["(no runs match)"]
    if hint:
        lines.append(f"hint: {hint}")
    return "\n".join(lines)


def runs_html(runs: list, hint: str | None = None) -> str:
    metrics = _columns(runs)
    rows = ([r.id[:8], r.name, r.status, r.experiment, _when(r.start_time),
             *(_num(r.metrics.get(k)) for k in metrics)] for r in runs[:MAX_ROWS])
    parts = [_table(["run", "name", "status", "experiment", "started", *metrics], rows,
                    "jp-mlops-runs")] if runs else ["<p>No runs match.</p>"]
    if len(runs) > MAX_ROWS:
        parts.append(f"<p>… and {len(runs) - MAX_ROWS} more</p>")
    if hint:
        parts.append(f'<p class="jp-mlops-hint">{_e(hint)}</p>')
    return '<div class="jp-mlops-search">' + "".join(parts) + "</div>"


class RunList(list):
    """The runs a search found: a plain ``list`` that also renders as a table.

    ``hint`` says why a filter found nothing when it names a key no run has (else None).
    """

    def __init__(self, runs: Iterable[Any] = (), hint: str | None = None):
        super().__init__(runs)
        self.hint = hint

    def _repr_html_(self) -> str:
        return runs_html(self, self.hint)

    def __str__(self) -> str:
        return runs_text(self, self.hint)

    def _repr_pretty_(self, p, cycle) -> None:  # IPython's text view (repr() stays a list's)
        p.text(str(self))


# ------------------------------------------------------------------ lineage
def lineage_text(graph: Any) -> str:
    labels = {n.id: n.label for n in graph.nodes}
    lines = [f"Lineage of {labels.get(graph.root, graph.root)} ({graph.root}): "
             f"{len(graph.nodes)} nodes, {len(graph.edges)} edges"]
    lines += [f"  {labels.get(e.src, e.src)} --{e.relation}--> {labels.get(e.dst, e.dst)}"
              for e in graph.edges[:MAX_ROWS]]
    if len(graph.edges) > MAX_ROWS:
        lines.append(f"  … and {len(graph.edges) - MAX_ROWS} more edges")
    return "\n".join(lines)


def lineage_html(graph: Any) -> str:
    labels = {n.id: n.label for n in graph.nodes}
    kinds = {n.id: n.type for n in graph.nodes}
    rows = ([f"{labels.get(e.src, e.src)} ({kinds.get(e.src, '?')})", e.relation,
             f"{labels.get(e.dst, e.dst)} ({kinds.get(e.dst, '?')})"] for e in graph.edges)
    title = f"<strong>Lineage of {_e(labels.get(graph.root, graph.root))}</strong>"
    body = (_table(["from", "relation", "to"], rows, "jp-mlops-lineage") if graph.edges
            else "<p>No lineage recorded.</p>")
    return f'<div class="jp-mlops-lineage">{title}{body}</div>'


__all__ = ["RunList", "detail_html", "detail_text", "lineage_html", "lineage_text",
           "run_html", "run_text", "runs_html", "runs_text"]
