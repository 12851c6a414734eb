"""Drift reports: per-feature scores over time, reference vs current distributions, live
quality and alerts, as matplotlib figures and as one standalone HTML file.

Figures are built with :class:`matplotlib.figure.Figure` (no pyplot state, safe in threads
and servers). The HTML export embeds every figure as a base64 PNG and escapes every piece of
text (feature names and messages come from user data), so the file is self-contained and
cannot run anything when opened.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import time
from typing import Any

import numpy as np

from jupyter_mlops.monitoring.drift import DEFAULT_THRESHOLDS, reference_distribution

MAX_FEATURE_LINES = 12
MAX_DISTRIBUTIONS = 6
_QUALITY = ("accuracy", "f1", "mae", "rmse")


@dataclasses.dataclass
class MonitorReport:
    """What ``%mlops monitor`` shows; ``save_html(path)`` writes the standalone file."""

    name: str
    model_ref: str
    measure: str
    windows: list
    series: Any  # DataFrame: window, at, feature, measure, value, drifted
    alerts: list
    rules: list
    figures: dict  # title -> matplotlib Figure
    generated_at: float

    def __str__(self) -> str:
        # print(report) / a terminal: the summary and the latest verdicts, not the dataclass
        # (whose repr holds every series point and figure object).
        lines = [f"Monitor {self.name} on {self.model_ref}: {len(self.windows)} window(s), "
                 f"{len(self.alerts)} alert(s)"]
        if self.windows:
            lines.append(f"latest {self.windows[-1]}")
            table = self.latest_table()
            if not table.empty:
                lines += ["", table.to_string(float_format=lambda v: f"{v:.4g}")]
        else:
            lines.append("no window has closed yet: log more rows or flush() the monitor")
        return "\n".join(lines)

    # ------------------------------------------------------------------ tables
    def latest_table(self):
        """Latest window: one row per feature with its measures and verdict."""
        import pandas as pd

        if not self.windows:
            return pd.DataFrame()
        seq = self.windows[-1].seq
        s = self.series[(self.series["window"] == seq) & (self.series["feature"] != "")]
        if s.empty:
            return pd.DataFrame()
        table = s.pivot_table(index="feature", columns="measure", values="value",
                              aggfunc="last")
        if "drift" in table:
            table["drift"] = table["drift"].astype(bool)
            table = table.sort_values("drift", ascending=False, kind="stable")
        return table

    def alerts_table(self):
        import pandas as pd

        return pd.DataFrame([{
            "when": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(a.at)),
            "measure": a.measure, "feature": a.feature or "", "value": a.value,
            "action": a.action, "message": a.message} for a in self.alerts])

    # ------------------------------------------------------------------ HTML
    def to_html(self, standalone: bool = True) -> str:
        e = html.escape
        parts = [f"<h2>Monitor {e(self.name)}</h2>",
                 f"<p>Model <code>{e(self.model_ref)}</code>; {len(self.windows)} window(s)"]
        if self.windows:
            w = self.windows[-1]
            parts.append(f"; latest: window {w.seq}, {w.rows} rows, {w.columns_drifted} of "
                         f"{w.columns_checked} columns drifted (model version "
                         f"{e(str(w.model_version))})")
            schema = (w.summary or {}).get("schema") or {}
            issues = [f"{k.replace('_', ' ')}: {', '.join(map(str, v))}"
                      for k, v in schema.items() if v]
            if issues:
                parts.append(f"; schema: {e('; '.join(issues))}")
        parts.append(".</p>")
        quality = self.series[(self.series["feature"] == "")
                              & self.series["measure"].isin(_QUALITY + ("labelled",))] \
            if len(self.series) else self.series
        if len(quality):
            seq = quality["window"].max()
            q = quality[quality["window"] == seq]
            parts.append(f"<p>Live quality (window {int(seq)}): " + ", ".join(
                f"{e(str(m))} {v:.4g}" for m, v in zip(q["measure"], q["value"])) + "</p>")
        for title, fig in self.figures.items():
            parts.append(f"<h3>{e(title)}</h3><img alt=\"{e(title)}\" "
                         f"src=\"data:image/png;base64,{_png(fig)}\"/>")
        table = self.latest_table()
        if len(table):
            parts.append("<h3>Latest window</h3>" + table.to_html(float_format="%.4g",
                                                                   escape=True))
        parts.append("<h3>Alerts</h3>")
        alerts = self.alerts_table()
        parts.append(alerts.to_html(index=False, escape=True) if len(alerts)
                     else "<p>No alerts.</p>")
        if self.rules:
            parts.append("<h3>Alert rules</h3><ul>" + "".join(
                f"<li>{e(r.measure)} {e(r.op)} {r.threshold:g}"
                + (f" on {e(r.feature)}" if r.feature else "")
                + (f" → pipeline {e(r.pipeline)} (cool-down {r.cooldown_s:g} s)"
                   if r.pipeline else "") + "</li>" for r in self.rules) + "</ul>")
        body = "\n".join(parts)
        if not standalone:
            return body
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.generated_at))
        return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                f"<title>Monitor {e(self.name)}</title><style>"
                "body{font-family:sans-serif;margin:2em;max-width:1100px}"
                "table{border-collapse:collapse;font-size:13px}"
                "td,th{border:1px solid #ccc;padding:2px 6px}img{max-width:100%}"
                "</style></head><body>\n" + body +
                f"\n<p><small>Generated {e(stamp)} by jupyter-mlops.</small></p>"
                "</body></html>\n")

    def save_html(self, path) -> str:
        """Write the standalone HTML report; returns the path."""
        from pathlib import Path

        p = Path(path)
        p.write_text(self.to_html(), encoding="utf-8")
        return str(p)

    def _repr_html_(self) -> str:
        return self.to_html(standalone=False)

    def close(self) -> None:
        self.figures.clear()


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", dpi=90)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def build_report(monitor, last: int = 50, measure: str = "psi") -> MonitorReport:
    """Read a monitor's last ``last`` windows back and draw them."""
    windows = monitor.windows(last)
    since = windows[0].seq if windows else None
    import pandas as pd

    points = monitor.store.series(monitor.id, since_seq=since)
    series = pd.DataFrame([p.to_dict() for p in points],
                          columns=["window_seq", "at", "feature", "measure", "value", "drifted"]
                          ).rename(columns={"window_seq": "window"})
    figures: dict[str, Any] = {}
    if len(series):
        threshold = monitor.thresholds.get(measure, DEFAULT_THRESHOLDS.get(measure))
        figures[f"{measure} per feature over time"] = scores_figure(series, measure, threshold)
        quality = series[(series["feature"] == "") & series["measure"].isin(_QUALITY)]
        figures["Drift share and live quality"] = overview_figure(series, quality)
    if windows:
        figures["Reference vs latest window"] = distributions_figure(monitor.profile,
                                                                    windows[-1])
    return MonitorReport(monitor.name, monitor.model_ref, measure, windows, series,
                         monitor.alerts(50), monitor.rules(), figures, time.time())


def scores_figure(series, measure: str, threshold: float | None = None):
    """One line per feature: ``measure`` by window (the most drifted features first)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.6))
    ax = fig.add_subplot()
    s = series[(series["measure"] == measure) & (series["feature"] != "")]
    if s.empty:
        ax.text(0.5, 0.5, f"no {measure} values yet", ha="center", va="center")
        return fig
    worst = s.groupby("feature")["value"].max().sort_values(ascending=False)
    for feature in worst.index[:MAX_FEATURE_LINES]:
        f = s[s["feature"] == feature].sort_values("window")
        ax.plot(f["window"], f["value"], marker="o", markersize=3, label=str(feature))
    if threshold is not None:
        ax.axhline(threshold, color="red", linestyle="--", linewidth=1, label="threshold")
    ax.set_xlabel("window")
    ax.set_ylabel(measure)
    ax.legend(fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


def overview_figure(series, quality):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.0))
    ax = fig.add_subplot()
    share = series[(series["feature"] == "") & (series["measure"] == "drift_share")] \
        .sort_values("window")
    ax.plot(share["window"], share["value"], color="tab:red", marker="o", markersize=3,
            label="drift share")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("window")
    ax.set_ylabel("share of columns drifted")
    if len(quality):
        ax2 = ax.twinx()
        for m in _QUALITY:
            q = quality[quality["measure"] == m].sort_values("window")
            if len(q):
                ax2.plot(q["window"], q["value"], marker="s", markersize=3, linestyle=":",
                         label=m)
        ax2.set_ylabel("live quality")
        ax2.legend(fontsize=7, loc="upper right")
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def distributions_figure(profile, window, features: list[str] | None = None):
    """Reference vs current bars for the window's most drifted features."""
    from matplotlib.figure import Figure

    current = (window.summary or {}).get("current") or {}
    drifted = list((window.summary or {}).get("drifted") or [])
    if (window.summary or {}).get("prediction_drifted") and profile.prediction is not None:
        drifted.append(profile.prediction.name)
    names = features or [*drifted, *[n for n in current if n not in drifted]]
    names = [n for n in names if n in current and
             (n in profile.columns or (profile.prediction and n == profile.prediction.name))]
    names = names[:MAX_DISTRIBUTIONS]
    cols = min(3, max(1, len(names)))
    rows = max(1, -(-len(names) // cols))
    fig = Figure(figsize=(3.3 * cols, 2.5 * rows))
    if not names:
        fig.add_subplot().text(0.5, 0.5, "no distributions", ha="center", va="center")
        return fig
    for i, name in enumerate(names):
        ax = fig.add_subplot(rows, cols, i + 1)
        col = profile.columns.get(name) or profile.prediction
        ref = reference_distribution(col)
        cur = current[name]
        if col.kind == "numeric":
            r = np.asarray(ref["bins"], dtype=float)
            c = np.asarray(cur.get("bins", []), dtype=float)
            labels = _bin_labels(ref["edges"])
        else:
            cats = list(dict.fromkeys([*cur.get("categories", []), *ref["categories"]]))[:10]
            rmap = dict(zip(ref["categories"], ref["counts"]))
            cmap = dict(zip(cur.get("categories", []), cur.get("counts", [])))
            r = np.array([rmap.get(k, 0) for k in cats], dtype=float)
            c = np.array([cmap.get(k, 0) for k in cats], dtype=float)
            labels = [str(k)[:12] for k in cats]
        x = np.arange(len(labels))
        if len(r) and r.sum():
            ax.bar(x - 0.2, r / r.sum(), width=0.4, label="reference", color="tab:blue")
        if len(c) == len(x) and c.sum():
            ax.bar(x + 0.2, c / c.sum(), width=0.4, label="current", color="tab:orange")
        ax.set_xticks(x)
        ax.set_xticklabels(labels, rotation=60, fontsize=6)
        mark = " (drifted)" if name in drifted else ""
        ax.set_title(f"{name}{mark}", fontsize=9, color="red" if mark else "black")
        if i == 0:
            ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


def _bin_labels(edges) -> list[str]:
    e = [float(x) for x in edges]
    if not e:
        return ["all"]
    return [f"≤{e[0]:.3g}", *[f"{a:.3g}–{b:.3g}" for a, b in zip(e, e[1:])], f">{e[-1]:.3g}"]
