"""Notebook views: a live metrics chart, an interactive runs table, compare, diff and lineage.

Every view degrades where no widget front end exists (papermill, nbconvert, GitHub): the live
chart is a PNG updated through a display id (nbclient records the final frame), and the runs
table's mime bundle carries a static HTML table beside the widget view. All user text is
escaped before it becomes HTML.
"""

from __future__ import annotations

import html
import io
import threading
from collections.abc import Sequence
from typing import Any

MAX_POINTS = 1000


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return buf.getvalue()


def figure_image(fig):
    """A displayable PNG of a figure (no dependence on the kernel's matplotlib backend)."""
    from IPython.display import Image

    return Image(_png(fig))


def _figure(nrows: int = 1, ncols: int = 1, size=(6.4, 3.2)):
    # The object-oriented API, not pyplot: no global figure state, no GUI backend needed.
    from matplotlib.figure import Figure

    return Figure(figsize=size), (nrows, ncols)


def metrics_figure(series: dict[str, dict[str, list[tuple[int, float]]]], title: str = ""):
    """One subplot per metric key; one line per run. ``series[key][run_label] = [(step, v)]``."""
    keys = sorted(series)
    fig, _ = _figure(size=(6.4, max(2.4, 2.2 * len(keys))))
    for i, key in enumerate(keys or ["(no metrics yet)"]):
        ax = fig.add_subplot(max(1, len(keys)), 1, i + 1)
        for label, points in sorted(series.get(key, {}).items()):
            if points:
                steps, values = zip(*points)
                ax.plot(steps, values, marker="." if len(points) < 30 else None, label=label)
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        if len(series.get(key, {})) > 1:
            ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    fig.axes[-1].set_xlabel("step")
    return fig


def run_series(client, run_ids: Sequence[str], keys: Sequence[str] | None = None):
    series: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for run_id in run_ids:
        detail = client.get_run(run_id)
        label = f"{detail.run.name} ({run_id[:6]})"
        for key in keys or detail.metric_keys:
            if key in detail.metric_keys:
                pts = client.metric_history(run_id, key, max_points=MAX_POINTS)
                series.setdefault(key, {})[label] = [(p.step, p.value) for p in pts]
    return series


class LiveChart:
    """A metrics chart that redraws while a run is logging (``%mlops show``)."""

    def __init__(self, client, run_id: str, keys: Sequence[str] | None = None,
                 interval: float = 1.0):
        self.client, self.run_id, self.keys, self.interval = client, run_id, keys, interval
        self._stop = threading.Event()
        self._handle = None
        self._thread: threading.Thread | None = None
        self._last: Any = None

    def render(self) -> bytes:
        series = run_series(self.client, [self.run_id], self.keys)
        run = self.client.get_run(self.run_id).run
        return _png(metrics_figure(series, f"{run.name} — {run.status}"))

    def show(self) -> "LiveChart":
        from IPython.display import Image, display

        self._handle = display(Image(self.render()), display_id=True)
        self._thread = threading.Thread(target=self._loop, name="mlops-live-chart", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        from IPython.display import Image

        while not self._stop.wait(self.interval):
            try:
                run = self.client.get_run(self.run_id).run
                snapshot = (run.status, run.metrics)
                if snapshot != self._last:
                    self._last = snapshot
                    self._handle.update(Image(self.render()))
                if run.status != "RUNNING":
                    return
            except Exception:  # a view must never break the user's cell; try next tick
                continue

    def close(self) -> None:
        self._stop.set()


def runs_html(runs) -> str:
    from jupyter_mlops.notebook.tables import runs_frame

    if not runs:
        return "<p>No runs match.</p>"
    return runs_frame(runs).to_html(escape=True, na_rep="", float_format=lambda v: f"{v:.4g}")


class RunsTable:
    """``%mlops runs`` as a widget: filter box, sort choice, refresh; static HTML fallback."""

    def __init__(self, client, filter: str | None = None, experiment: str | None = None,
                 order_by: Sequence[str] | None = None, limit: int = 20):
        import ipywidgets as w

        self.client, self.experiment, self.limit = client, experiment, limit
        # continuous_update=False: the query runs on Enter or when the box loses focus.
        self.filter = w.Text(value=filter or "", description="Filter",
                             placeholder="metrics.acc > 0.9 and params.model = 'svc'",
                             continuous_update=False, layout=w.Layout(width="70%"))
        self.order = w.Text(value=", ".join(order_by or []), placeholder="metrics.acc DESC",
                            description="Order by", continuous_update=False)
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.message = w.HTML()
        self.table = w.HTML()
        self.widget = w.VBox([w.HBox([self.filter, self.refresh_button]), self.order,
                              self.message, self.table])
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.filter.observe(lambda _c: self.refresh(), "value")
        self.order.observe(lambda _c: self.refresh(), "value")
        self.refresh()

    def query(self):
        order = [o.strip() for o in self.order.value.split(",") if o.strip()] or None
        return self.client.search_runs(self.filter.value or None, self.experiment, order,
                                       max_results=self.limit, warn=False)

    def refresh(self) -> None:
        from jupyter_mlops.errors import MlopsError

        try:
            found = self.query()
            self.table.value = runs_html(found)
            # a misspelt key: say which keys exist instead of showing a silent empty table
            self.message.value = (f"<p class='jp-mlops-hint'>hint: {html.escape(found.hint)}</p>"
                                  if found.hint else "")
        except MlopsError as exc:  # show the error in the widget, keep the last table
            self.message.value = f"<pre style='color:var(--jp-error-color1,red)'>{html.escape(str(exc))}</pre>"

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.widget._repr_mimebundle_(**kwargs) or {}
        bundle["text/html"] = self.message.value + self.table.value
        return bundle

    def close(self) -> None:
        self.widget.close()
        for child in (self.filter, self.order, self.refresh_button, self.message, self.table):
            child.close()


def compare_view(client, run_ids: Sequence[str]):
    """Metric curves of several runs in one figure, plus a table of the params that differ."""
    import pandas as pd

    runs = [client.get_run(r).run for r in run_ids]
    keys = sorted({k for r in runs for k in r.params})
    differing = [k for k in keys if len({r.params.get(k) for r in runs}) > 1]
    frame = pd.DataFrame({f"{r.name} ({r.id[:6]})": {**{f"params.{k}": r.params.get(k)
                                                         for k in differing},
                                                      **{f"metrics.{k}": v for k, v in
                                                         sorted(r.metrics.items())}}
                          for r in runs})
    fig = metrics_figure(run_series(client, run_ids), "compare")
    return fig, frame


def diff_html(diff) -> str:
    """A RunDiff as escaped HTML: params/metrics changes, then changed cells with their diffs."""
    e = html.escape
    parts = [f"<h4>Diff {e(diff.left_run[:8])} → {e(diff.right_run[:8])}</h4>"]
    for title, values in (("params", diff.params), ("metrics", diff.metrics)):
        if values:
            rows = "".join(f"<tr><td>{e(v.key)}</td><td>{e(str(v.left))}</td>"
                           f"<td>{e(str(v.right))}</td></tr>" for v in values)
            parts.append(f"<b>{title}</b><table><tr><th>key</th><th>left</th><th>right</th></tr>"
                         f"{rows}</table>")
    missing = getattr(diff, "missing_notebooks", [])
    if missing:
        # An absent snapshot is not an empty notebook: listing every cell as added would lie.
        parts.append("<b>cells</b>: not compared — no notebook snapshot for "
                     + ", ".join(e(m[:8]) for m in missing))
        return "".join(parts)
    changed = diff.changed_cells
    parts.append(f"<b>cells</b>: {len(diff.cells)} aligned, {len(changed)} differ")
    colors = {"added": "#2a7", "removed": "#c33", "changed": "#c80"}
    for c in changed:
        where = f"left #{c.left_index}" if c.left_index is not None else ""
        where += (" / " if where and c.right_index is not None else "") + \
            (f"right #{c.right_index}" if c.right_index is not None else "")
        body = "\n".join(c.source_diff) if c.status == "changed" else \
            (c.right_source or c.left_source)
        outs = "\n".join(c.outputs_diff)
        parts.append(f"<div style='border-left:4px solid {colors[c.status]};padding-left:6px;"
                     f"margin:4px 0'><b>{c.status}</b> {e(where)}<pre>{e(body)}</pre>"
                     + (f"<i>outputs</i><pre>{e(outs)}</pre>" if outs else "") + "</div>")
    return "".join(parts)


def dag_layers(nodes: Sequence[str], edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Column of each node: the longest path reaching it, so every arrow points rightwards."""
    layer = {n: 0 for n in nodes}
    for _ in range(len(nodes)):  # Bellman-Ford style relaxation; bounded even if cyclic
        changed = False
        for a, b in edges:
            if layer.get(b, 0) < layer.get(a, 0) + 1:
                layer[b] = layer.get(a, 0) + 1
                changed = True
        if not changed:
            break
    return layer


def lineage_figure(graph):
    """Layered drawing of a lineage graph: upstream left, the root in the middle, downstream right."""
    fig, _ = _figure(size=(8, 4))
    ax = fig.add_subplot(1, 1, 1)
    layer = dag_layers([n.id for n in graph.nodes], [(e.src, e.dst) for e in graph.edges])
    columns: dict[int, list[str]] = {}
    for n in graph.nodes:
        columns.setdefault(layer[n.id], []).append(n.id)
    pos = {nid: (x, -i) for x, ids in columns.items() for i, nid in enumerate(sorted(ids))}
    for edge in graph.edges:
        (x1, y1), (x2, y2) = pos[edge.src], pos[edge.dst]
        ax.annotate("", xy=(x2, y2), xytext=(x1, y1),
                    arrowprops={"arrowstyle": "->", "color": "#888"})
    colors = {"run": "#4c72b0", "dataset": "#55a868", "artifact": "#c44e52", "model": "#8172b2",
              "cell": "#ccb974"}
    labels = {n.id: n for n in graph.nodes}
    for nid, (x, y) in pos.items():
        node = labels[nid]
        ax.text(x, y, f"{node.type}\n{node.label[:28]}", ha="center", va="center", fontsize=8,
                bbox={"boxstyle": "round", "fc": colors.get(node.type, "#ddd"), "alpha": 0.35,
                      "ec": "#333" if nid == graph.root else "none"})
    xs = [p[0] for p in pos.values()] or [0]
    ys = [p[1] for p in pos.values()] or [0]
    ax.set_xlim(min(xs) - 0.7, max(xs) + 0.7)
    ax.set_ylim(min(ys) - 0.8, max(ys) + 0.8)
    ax.axis("off")
    return fig


def grouped_figure(view: dict, title: str = ""):
    """Grouped curves from :meth:`Client.group_runs`: one subplot per metric, per group its
    mean over the runs at each step as a line and the min–max range as a band."""
    keys = sorted(view["metrics"])
    fig, _ = _figure(size=(6.4, max(2.4, 2.2 * len(keys))))
    runs = {g["value"]: len(g["runs"]) for g in view["groups"]}
    for i, key in enumerate(keys or ["(no metrics)"]):
        ax = fig.add_subplot(max(1, len(keys)), 1, i + 1)
        for series in view["metrics"].get(key, []):
            if not series["points"]:
                continue
            steps, means, _std, lows, highs, _n = zip(*series["points"])
            label = f"{series['group']} ({runs.get(series['group'], 0)} runs)"
            (line,) = ax.plot(steps, means, label=label)
            ax.fill_between(steps, lows, highs, color=line.get_color(), alpha=0.2, linewidth=0)
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        if view["metrics"].get(key):
            ax.legend(fontsize="small", title=view["by"], title_fontsize="small")
    if title:
        fig.suptitle(title)
    fig.axes[-1].set_xlabel("step")
    return fig


def compare_grouped(client, run_ids: Sequence[str], by: str,
                    keys: Sequence[str] | None = None):
    """The compare view's grouped curves in a notebook: runs grouped by ``"params.NAME"`` or
    ``"tags.NAME"`` (the server's :meth:`Client.group_runs`), drawn by :func:`grouped_figure`.

    Returns the figure and the groups as a DataFrame (group value, runs)."""
    import pandas as pd

    view = client.group_runs(run_ids, by, keys)
    frame = pd.DataFrame([{view["by"]: g["value"], "runs": len(g["runs"]),
                           "names": ", ".join(r["name"] for r in g["runs"])}
                          for g in view["groups"]])
    return grouped_figure(view, f"grouped by {view['by']}"), frame
