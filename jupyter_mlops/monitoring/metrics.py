"""Prometheus exposition of a monitor: drift statistics, live quality and counts.

:class:`MonitorCollector` is a ``prometheus_client`` custom collector. It reads the monitor's
in-memory state (the last closed window of this process) when the model server has the
monitor open, and otherwise the newest stored window, so ``/metrics`` scrapes never scan
history. One gauge per statistic, the statistic in its name (a PSI and a p-value never share a
series), counters end in ``_total``. Metric names (``feature="@prediction"`` = outputs):

``mlops_drift_psi``, ``mlops_drift_ks_statistic``, ``mlops_drift_ks_pvalue``,
``mlops_drift_js_distance``, ``mlops_drift_chi2_statistic``, ``mlops_drift_chi2_pvalue``,
``mlops_drift_new_category_ratio``, ``mlops_drift_missing_ratio``
    ``{monitor,feature}``: that statistic of the feature in the latest window
``mlops_drift_feature_drifted{monitor,feature}``
    1 when the feature's distribution drifted in the latest window
``mlops_drift_drifted_features_ratio{monitor}``, ``mlops_monitor_schema_issues{monitor}``
``mlops_monitor_quality_accuracy``, ``…_f1``, ``…_mae``, ``…_rmse`` ``{monitor}``
    live quality of the latest labelled window
``mlops_monitor_predictions_total{monitor}``, ``mlops_monitor_feedback_total{monitor}``
    rows logged / ground-truth values received by this process (counters)
``mlops_monitor_windows_total{monitor}``
    windows closed (a counter: the sequence number of the latest)

Label values are the monitor's name and its features' names; at most :data:`MAX_FEATURES`
features are exposed per metric, so a monitor with a runaway schema cannot flood a scrape.
"""

from __future__ import annotations

import math

#: Stored measure → (metric name, help text). One gauge per statistic.
DRIFT_GAUGES = {
    "psi": ("mlops_drift_psi", "Population stability index of a feature in the latest window"),
    "ks": ("mlops_drift_ks_statistic",
           "Kolmogorov-Smirnov statistic of a feature in the latest window"),
    "ks_pvalue": ("mlops_drift_ks_pvalue",
                  "Kolmogorov-Smirnov p-value of a feature in the latest window"),
    "js": ("mlops_drift_js_distance",
           "Jensen-Shannon distance of a feature in the latest window"),
    "chi2": ("mlops_drift_chi2_statistic",
             "Chi-squared statistic of a categorical feature in the latest window"),
    "chi2_pvalue": ("mlops_drift_chi2_pvalue",
                    "Chi-squared p-value of a categorical feature in the latest window"),
    "new_share": ("mlops_drift_new_category_ratio",
                  "Share of values of categories unseen in the reference (0-1)"),
    "missing_share": ("mlops_drift_missing_ratio",
                      "Share of missing values of a feature in the latest window (0-1)"),
}
SCORE_MEASURES = tuple(DRIFT_GAUGES)
QUALITY_MEASURES = ("accuracy", "f1", "mae", "rmse")
#: Most features exposed per metric family (label cardinality bound).
MAX_FEATURES = 1000


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
        gauges = {m: GaugeMetricFamily(metric, text, labels=["monitor", "feature"])
                  for m, (metric, text) in DRIFT_GAUGES.items()}
        drifted = GaugeMetricFamily("mlops_drift_feature_drifted",
                                    "1 if the feature drifted in the latest window",
                                    labels=["monitor", "feature"])
        share = GaugeMetricFamily("mlops_drift_drifted_features_ratio",
                                  "Share of feature columns drifted in the latest window (0-1)",
                                  labels=["monitor"])
        schema = GaugeMetricFamily("mlops_monitor_schema_issues",
                                   "Missing, new or retyped columns in the latest window",
                                   labels=["monitor"])
        quality = {m: GaugeMetricFamily(f"mlops_monitor_quality_{m}",
                                        f"Live {m} of the latest labelled window",
                                        labels=["monitor"])
                   for m in QUALITY_MEASURES}
        points, quality_points, seq = self._latest()
        features: set[str] = set()
        for feature, measure, value, flag in points:
            if feature and feature not in features:
                if len(features) >= MAX_FEATURES:
                    continue
                features.add(feature)
            if feature and measure in DRIFT_GAUGES and _finite(value):
                gauges[measure].add_metric([name, feature], value)
            elif feature and measure == "drift":
                drifted.add_metric([name, feature], 1.0 if flag else 0.0)
            elif not feature and measure == "drift_share" and _finite(value):
                share.add_metric([name], value)
            elif not feature and measure == "schema_issues" and _finite(value):
                schema.add_metric([name], value)
        for measure, value in quality_points.items():
            if measure in quality and _finite(value):
                quality[measure].add_metric([name], value)
        windows = CounterMetricFamily("mlops_monitor_windows",
                                      "Windows closed so far (the latest window's number)",
                                      labels=["monitor"])
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
        yield from gauges.values()
        yield from (drifted, share, schema, *quality.values(), windows, preds, feedback)

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
