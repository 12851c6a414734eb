"""Monitoring (C9): drift against a profiled reference, live quality from feedback, alerts
that can start a retraining pipeline, reports and Prometheus metrics.

``mlops.monitor("churn@champion", reference=df)`` returns a :class:`Monitor`. Importing this
package is cheap; NumPy, pandas, SciPy and matplotlib load on use.
"""

from __future__ import annotations

from jupyter_mlops.lifecycle import lazy_exports

# No "monitor" here: it is also a submodule's name, and importing the submodule would
# replace the function on this package (use ``jupyter_mlops.monitor`` or the submodule).
_LAZY = {
    "get_monitor": "jupyter_mlops.monitoring.monitor",
    "list_monitors": "jupyter_mlops.monitoring.monitor",
    "Monitor": "jupyter_mlops.monitoring.monitor",
    "compute_drift": "jupyter_mlops.monitoring.drift",
    "DriftReport": "jupyter_mlops.monitoring.drift",
    "DEFAULT_THRESHOLDS": "jupyter_mlops.monitoring.drift",
    "ReferenceProfile": "jupyter_mlops.monitoring.profile",
    "MonitorReport": "jupyter_mlops.monitoring.report",
    "MonitorCollector": "jupyter_mlops.monitoring.metrics",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
