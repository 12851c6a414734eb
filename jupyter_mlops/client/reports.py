"""Shareable reports: one self-contained HTML file for a run, a comparison, a model, a monitor.

``client.report("run:ID")``, ``client.report("runs", filter=…)``, ``"model:NAME[@ALIAS|/V]"``,
``"monitor:NAME"`` build a :class:`Report`; ``.save(path)`` writes it. The file needs no server
and loads nothing: CSS is inline, figures are PNGs inlined as base64 ``data:`` URIs (drawn
with matplotlib's Agg backend), and every value a user wrote (run names, params, tags,
metric keys, notebook sources) is HTML-escaped, so ``<script>`` in a run name shows as text.

The parts reuse the components' own renderers: the model card of
:mod:`jupyter_mlops.registry.cards`, the drift report of :mod:`jupyter_mlops.monitoring.report`
and the cell-level diff of :mod:`jupyter_mlops.tracking.notebook_diff`.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlops.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from jupyter_mlops.client.core import Client

#: At most this many runs in a comparison, and metric curves drawn per run.
MAX_RUNS = 50
MAX_CURVES = 12
_KINDS = ("run", "runs", "model", "monitor")

_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1150px;color:#222}"
    "h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}"
    "table{border-collapse:collapse;font-size:13px;margin:.5em 0}"
    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}"
    "th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}"
    "td.differs{background:#fff3c4}img{max-width:100%}"
    "pre{background:#f7f7f7;padding:.6em;overflow-x:auto;font-size:12px}"
    ".add{color:#0a6b2f}.del{color:#a4161a}.muted{color:#777}"
)


def e(value: Any) -> str:
    """HTML-escape any value (quotes too: it may land in an attribute)."""
    return html.escape(str(value), quote=True)


def _num(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "-" if value is None else str(value)


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def png(fig: Any) -> str:
    """A matplotlib figure as a base64 PNG (the figure is closed)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png", bbox_inches="tight", dpi=90)
    finally:
        plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _img(fig: Any, alt: str) -> str:
    return f'<img alt="{e(alt)}" src="data:image/png;base64,{png(fig)}"/>'


def _table(header: list[str], rows: list[list[Any]], *, differs: set[int] | None = None) -> str:
    """A table; ``differs`` holds the indexes of rows whose values differ (highlighted)."""
    if not rows:
        return '<p class="muted">(none)</p>'
    out = ["<table><thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in header)
           + "</tr></thead><tbody>"]
    for i, row in enumerate(rows):
        cells = []
        for j, cell in enumerate(row):
            cls = []
            if j and isinstance(cell, (int, float)) and not isinstance(cell, bool):
                cls.append("num")
            if differs and i in differs and j:
                cls.append("differs")
            attr = f' class="{" ".join(cls)}"' if cls else ""
            cells.append(f"<td{attr}>{e(_num(cell))}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)  # no display needed; keeps an inline backend if set
    import matplotlib.pyplot as plt

    return plt


@dataclasses.dataclass(frozen=True)
class Report:
    """A finished report: ``html`` is the whole file; ``save(path)`` writes it."""

    title: str
    body: str
    generated_at: float

    @property
    def html(self) -> str:
        stamp = _when(self.generated_at)
        return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<title>{e(self.title)}</title><style>{_CSS}</style></head><body>\n"
                + self.body
                + f"\n<p class=\"muted\"><small>Generated {e(stamp)} by jupyter-mlops."
                  "</small></p></body></html>\n")

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.html, encoding="utf-8")
        return path

    def _repr_html_(self) -> str:
        return self.body

    def __str__(self) -> str:
        return f"Report {self.title!r} ({len(self.html)} bytes of HTML)"


# --------------------------------------------------------------------------- one run
def _history_figure(client: Client, run_ids: list[str], keys: list[str], labels: dict[str, str]):
    """One panel per metric key, one line per run; None when no metric has 2+ points."""
    series = {}
    for key in keys[:MAX_CURVES]:
        lines = []
        for rid in run_ids:
            try:
                points = client.metric_history(rid, key, max_points=2000)
            except NotFoundError:  # this run never logged that metric
                continue
            if points:
                lines.append((labels[rid], [p.step for p in points], [p.value for p in points]))
        if any(len(xs) > 1 for _, xs, _ in lines):
            series[key] = lines
    if not series:
        return None
    plt = _pyplot()
    n = len(series)
    cols = min(3, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax, (key, lines) in zip(axes.flat, series.items()):
        for label, xs, ys in lines:
            ax.plot(xs, ys, marker="." if len(xs) < 30 else None, label=label)
        ax.set_title(key, fontsize=10)
        ax.set_xlabel("step", fontsize=8)
        if len(run_ids) > 1:
            ax.legend(fontsize=7)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def run_section(client: Client, run_id: str) -> tuple[str, str]:
    """``(title, HTML)`` of one run: summary, params, metrics and their history, tags,
    datasets, artifacts, lineage."""
    detail = client.get_run(run_id)
    r = detail.run
    took = f"{r.end_time - r.start_time:.1f} s" if r.end_time else "running"
    parts = [f"<h1>Run {e(r.name)}</h1>",
             _table(["", ""], [
                 ["id", r.id], ["experiment", r.experiment], ["status", r.status],
                 ["user", r.user], ["started", _when(r.start_time)], ["duration", took],
                 ["parent run", r.parent_run_id or "-"],
                 ["reproducible", "not checked" if r.reproducible is None else
                  "yes" if r.reproducible else f"no: {r.not_reproducible_reason}"]])]
    parts += ["<h2>Parameters</h2>",
              _table(["parameter", "value"], [[k, v] for k, v in sorted(r.params.items())])]
    parts += ["<h2>Metrics</h2>",
              _table(["metric", "latest value"], [[k, v] for k, v in sorted(r.metrics.items())])]
    fig = _history_figure(client, [r.id], sorted(r.metrics), {r.id: r.name})
    if fig is not None:
        parts.append("<h3>Metric history</h3>" + _img(fig, "metric history"))
    parts += ["<h2>Tags</h2>",
              _table(["tag", "value"], [[k, v] for k, v in sorted(r.tags.items())])]
    parts += ["<h2>Datasets</h2>", _table(
        ["role", "dataset", "version", "rows", "digest", "source"],
        [[d.role or "-", d.name, d.version, d.row_count, d.digest[:16], d.source or "-"]
         for d in detail.datasets])]
    parts += ["<h2>Artifacts</h2>", _table(
        ["artifact", "size (bytes)", "type", "digest"],
        [[a.name, a.size, a.media_type, a.digest[:16]] for a in detail.artifacts])]
    if detail.code is not None:
        parts.append(f"<p>Notebook snapshot: <code>{e(detail.code.notebook_path or '-')}"
                     f"</code> ({e(detail.code.digest[:16])})</p>")
    graph = client.lineage(r.id, depth=3)
    labels = {n.id: f"{n.type} {n.label}" for n in graph.nodes}
    parts += ["<h2>Lineage</h2>", _table(
        ["from", "relation", "to"],
        [[labels.get(ed.src, ed.src), ed.relation, labels.get(ed.dst, ed.dst)]
         for ed in graph.edges])]
    if detail.children:
        parts += ["<h2>Child runs</h2>", "<ul>" + "".join(
            f"<li><code>{e(c)}</code></li>" for c in detail.children) + "</ul>"]
    return f"Run {r.name}", "\n".join(parts)


# --------------------------------------------------------------------------- comparison
def _differs(values: list[Any]) -> bool:
    return len({repr(v) for v in values}) > 1


def compare_section(client: Client, run_ids: list[str]) -> tuple[str, str]:
    """``(title, HTML)`` comparing runs: params and metrics side by side (differences
    highlighted), metric curves overlaid, and the cell-level notebook diff of each run against
    the first."""
    from jupyter_mlops.tracking.notebook_diff import diff_runs

    if len(run_ids) < 2:
        raise InvalidInputError(f"A comparison needs at least 2 runs; the selection has "
                                f"{len(run_ids)}.")
    runs = [client.get_run(rid).run for rid in run_ids]
    labels = {r.id: f"{r.name} ({r.id[:8]})" for r in runs}
    header = ["", *(labels[r.id] for r in runs)]
    parts = [f"<h1>Comparison of {len(runs)} runs</h1>",
             _table(["run", "experiment", "status", "started"],
                    [[labels[r.id], r.experiment, r.status, _when(r.start_time)] for r in runs])]
    for title, attr in (("Parameters", "params"), ("Metrics", "metrics")):
        keys = sorted({k for r in runs for k in getattr(r, attr)})
        rows = [[k, *(getattr(r, attr).get(k) for r in runs)] for k in keys]
        differs = {i for i, row in enumerate(rows) if _differs(row[1:])}
        parts += [f"<h2>{title}</h2>",
                  f'<p class="muted">{len(differs)} of {len(rows)} differ (highlighted).</p>',
                  _table(header, rows, differs=differs)]
    keys = sorted({k for r in runs for k in r.metrics})
    fig = _history_figure(client, [r.id for r in runs], keys, labels)
    if fig is not None:
        parts.append("<h2>Metric curves</h2>" + _img(fig, "metric curves, overlaid"))
    parts.append("<h2>Notebook diff</h2>")
    base = runs[0]
    for other in runs[1:]:
        diff = diff_runs(client, base.id, other.id)
        parts.append(f"<h3>{e(labels[base.id])} → {e(labels[other.id])}</h3>")
        if diff.missing_notebooks:
            parts.append(f'<p class="muted">No notebook snapshot for '
                         f'{e(", ".join(labels.get(m, m) for m in diff.missing_notebooks))}.</p>')
        changed = diff.changed_cells
        if not changed:
            parts.append('<p class="muted">No cell differs.</p>')
        for cell in changed:
            where = (f"cell {cell.left_index}" if cell.left_index is not None else "") + \
                (" → " if cell.left_index is not None and cell.right_index is not None else "") \
                + (f"cell {cell.right_index}" if cell.right_index is not None else "")
            lines = []
            for line in cell.source_diff or (cell.right_source or cell.left_source).splitlines():
                cls = "add" if line.startswith("+") else "del" if line.startswith("-") else ""
                lines.append(f'<span class="{cls}">{e(line)}</span>' if cls else e(line))
            parts.append(f"<p><b>{e(cell.status)}</b> {e(cell.cell_type)} {e(where)}</p>"
                         f"<pre>{chr(10).join(lines)}</pre>")
            if cell.outputs_diff:
                parts.append("<p class=\"muted\">outputs:</p><pre>"
                             + e("\n".join(cell.outputs_diff)) + "</pre>")
    return f"Comparison of {len(runs)} runs", "\n".join(parts)


# --------------------------------------------------------------------------- model, monitor
def model_section(client: Client, ref: str) -> tuple[str, str]:
    """The model card of ``NAME``, ``NAME/VERSION`` or ``NAME@ALIAS`` (latest by default)."""
    name, version = ref, None
    if "@" in ref:
        name, version = ref.split("@", 1)
    elif "/" in ref:
        name, raw = ref.rsplit("/", 1)
        if not raw.isdigit():
            raise InvalidInputError(f"model:{ref!r}: the version after / is a number.")
        version = int(raw)
    card = client.registry.model_card(name, version)
    return card.title, card.html


def monitor_section(client: Client, name: str, last: int = 50) -> tuple[str, str]:
    """The drift report of monitor ``name`` (its last ``last`` windows)."""
    from jupyter_mlops.monitoring.report import build_report

    _pyplot()
    report = build_report(client.monitoring.get(name), last=last)
    try:
        return f"Monitor {name}", report.to_html(standalone=False)
    finally:
        report.close()


# --------------------------------------------------------------------------- entry point
def parse_target(target: Any) -> tuple[str, str]:
    """``run:ID`` / ``runs`` / ``model:REF`` / ``monitor:NAME`` -> ``(kind, argument)``."""
    if not isinstance(target, str) or not target.strip() or not target.isprintable():
        raise InvalidInputError("A report names what it shows: run:ID, runs (with a filter), "
                                "model:NAME[@ALIAS|/VERSION] or monitor:NAME.")
    kind, sep, arg = target.strip().partition(":")
    kind = kind.lower()
    if kind not in _KINDS or (kind != "runs" and not arg.strip()) or (kind == "runs" and sep
                                                                         and arg.strip()):
        raise InvalidInputError(f"Report target {target[:80]!r} is not one of run:ID, runs, "
                                "model:NAME[@ALIAS|/VERSION], monitor:NAME.")
    return kind, arg.strip()


def build_report(client: Client, target: str = "runs", *, filter: str | None = None,
                 experiment: str | None = None, max_runs: int = 10,
                 runs: list[str] | None = None) -> Report:
    """Build the report ``target`` names (see :func:`parse_target`).

    ``runs`` compares the runs ``filter`` (and ``experiment``) select, newest first, at most
    ``max_runs``; or the run ids given in ``runs``.
    """
    from jupyter_mlops.validation import parse_int

    kind, arg = parse_target(target)
    max_runs = parse_int(str(max_runs) if isinstance(max_runs, int) and not isinstance(
        max_runs, bool) else max_runs, "max runs", 2, MAX_RUNS)
    if kind != "runs" and (filter or runs):
        raise InvalidInputError(f"A filter or a list of runs applies to 'runs', not {kind}:.")
    if kind == "run":
        title, body = run_section(client, client.resolve_run_id(arg))
    elif kind == "runs":
        if runs:
            ids = [client.resolve_run_id(r) for r in runs][:max_runs]
        else:
            ids = [r.id for r in client.search_runs(filter, experiment=experiment,
                                                    max_results=max_runs)]
        if len(ids) == 1:
            title, body = run_section(client, ids[0])
        else:
            title, body = compare_section(client, ids)
    elif kind == "model":
        title, body = model_section(client, arg)
    else:
        title, body = monitor_section(client, arg)
    return Report(title=title, body=body, generated_at=time.time())
