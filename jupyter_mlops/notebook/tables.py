"""Runs as a pandas DataFrame for display (pandas escapes cell text in its HTML)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for the annotation only: the Client is open before a table is drawn
    from jupyter_mlops.client.records import RunRecord


def runs_frame(runs: Sequence[RunRecord], max_columns: int = 12):
    """One row per run: id, name, status, start, then params and latest metrics."""
    import pandas as pd

    param_keys = sorted({k for r in runs for k in r.params})[:max_columns]
    metric_keys = sorted({k for r in runs for k in r.metrics})[:max_columns]
    rows = []
    for r in runs:
        row = {"run": r.id[:8], "name": r.name, "experiment": r.experiment, "status": r.status,
               "started": pd.Timestamp(r.start_time, unit="s").floor("s")}
        row.update({f"params.{k}": r.params.get(k) for k in param_keys})
        row.update({f"metrics.{k}": r.metrics.get(k) for k in metric_keys})
        rows.append(row)
    return pd.DataFrame(rows).set_index("run")
