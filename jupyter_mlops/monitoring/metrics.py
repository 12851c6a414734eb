"""Prometheus exposition of a monitor: drift scores, live quality and prediction counts.

:class:`MonitorCollector` is a ``prometheus_client`` custom collector. It reads the monitor's
in-memory state (the last closed window of this process) when the model server has the
monitor open, and otherwise the newest stored window, so ``/metrics`` scrapes never scan
history. Metric names:

``mlops_monitor_drift_score{monitor,feature,measure}``
    psi, ks, js, chi2_pvalue… of the latest window, per feature (``@prediction`` = outputs)
``mlops_monitor_feature_drifted{monitor,feature}``
    1 when the feature's distribution drifted in the latest window
``mlops_monitor_drift_share{monitor}``, ``mlops_monitor_schema_issues{monitor}``
``mlops_monitor_quality{monitor,measure}``
    accuracy, f1, mae, rmse of the latest labelled window
``mlops_monitor_predictions_total{monitor}``, ``mlops_monitor_feedback_total{monitor}``
    rows logged / ground-truth values received by this process
``mlops_monitor_windows{monitor}``
    windows closed (sequence number of the latest)
"""

from __future__ import annotations

import math

SCORE_MEASURES = ("psi", "ks", "ks_pvalue", "js", "chi2_pvalue", "missing_share")
QUALITY_MEASURES = ("accuracy", "f1", "mae", "rmse")


class MonitorCollector:
    """Yield a monitor's latest numbers at scrape time.

    Parameters
    ----------
    monitor : Monitor
    read_store : bool
        When this process has closed no window yet, read the newest stored one (default).
    """

    def __init__(self, monitor, read_store: bool = True):
        self.monitor = monitor
        self.read_store = read_store

    def describe(self):
        return []  # collected lazily: do not read the store at registration

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        mon = self.monitor
        name = mon.name
        scores = GaugeMetricFamily("mlops_monitor_drift_score",
                                   "Drift measure of a feature in the latest window",
                                   labels=["monitor", "feature", "measure"])
        drifted = GaugeMetricFamily("mlops_monitor_feature_drifted",
                                    "1 if the feature drifted in the latest window",
                                    labels=["monitor", "feature"])
        share = GaugeMetricFamily("mlops_monitor_drift_share",
                                  "Share of feature columns drifted in the latest window",
                                  labels=["monitor"])
        schema = GaugeMetricFamily("mlops_monitor_schema_issues",
                                   "Missing, new or retyped columns in the latest window",
                                   labels=["monitor"])
        quality = GaugeMetricFamily("mlops_monitor_quality",
                                    "Live model quality of the latest labelled window",
                                    labels=["monitor", "measure"])
        windows = GaugeMetricFamily("mlops_monitor_windows", "Windows closed so far",
                                    labels=["monitor"])
        points, quality_points, seq = self._latest()
        for feature, measure, value, flag in points:
            if feature and measure in SCORE_MEASURES and _finite(value):
                scores.add_metric([name, feature, measure], value)
            elif feature and measure == "drift":
                drifted.add_metric([name, feature], 1.0 if flag else 0.0)
            elif not feature and measure == "drift_share":
                share.add_metric([name], value)
            elif not feature and measure == "schema_issues":
                schema.add_metric([name], value)
        for measure, value in quality_points.items():
            if measure in QUALITY_MEASURES and _finite(value):
                quality.add_metric([name, measure], value)
        if seq is not None:
            windows.add_metric([name], seq)
        preds = CounterMetricFamily("mlops_monitor_predictions",
                                    "Prediction rows logged to the monitor by this process",
                                    labels=["monitor"])
        preds.add_metric([name], mon.predictions_logged)
        feedback = CounterMetricFamily("mlops_monitor_feedback",
                                       "Ground-truth values received by this process",
                                       labels=["monitor"])
        feedback.add_metric([name], mon.feedback_logged)
        yield from (scores, drifted, share, schema, quality, windows, preds, feedback)

    def _latest(self):
        mon = self.monitor
        if mon.latest is not None and mon.latest_window is not None:
            return mon.latest.results(), dict(mon.latest_quality), mon.latest_window.seq
        if not self.read_store:
            return [], {}, None
        windows = mon.store.list_windows(mon.id, 1)
        if not windows:
            return [], {}, None
        seq = windows[-1].seq
        pts = mon.store.series(mon.id, since_seq=seq)
        points = [(p.feature, p.measure, p.value, p.drifted) for p in pts]
        quality = {p.measure: p.value for p in pts if not p.feature
                   and p.measure in QUALITY_MEASURES}
        return points, quality, seq


def _finite(value) -> bool:
    return value is not None and isinstance(value, (int, float)) and math.isfinite(value)


def exposition(monitor) -> bytes:
    """The monitor's metrics in Prometheus text format (for a one-off scrape or a file)."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(MonitorCollector(monitor))
    return generate_latest(registry)
