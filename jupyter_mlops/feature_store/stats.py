"""Per-feature statistics of a view version: for people (panel, ``features show``) and for
monitoring, which can take a view's statistics as the reference a served model is compared to.

Summaries, not the data: counts, missing share, range, mean and deviation, quantiles and a
20-bin histogram for numbers; the most frequent values for everything else. A few kilobytes
per feature whatever the view's size (monitoring's full reference profile keeps every sorted
value — 80 MB per feature of a 10-million-row view — and is built from the view's dataset
version when a monitor asks for it).
"""

from __future__ import annotations

import math
from typing import Any

HISTOGRAM_BINS = 20
TOP_VALUES = 10


def feature_stats(frame, features) -> dict[str, tuple[str, dict]]:
    """``{feature: (dtype, stats)}`` for each feature column of ``frame``."""
    return {f: (str(frame[f].dtype), column_stats(frame[f])) for f in features}


def column_stats(series) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    rows = len(series)
    missing = int(series.isna().sum())
    out: dict[str, Any] = {"count": rows, "missing": missing,
                           "missing_share": missing / rows if rows else 0.0}
    kind = series.dtype.kind
    if kind in "iuf" and not isinstance(series.dtype, pd.CategoricalDtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        values = values[np.isfinite(values)]
        if len(values):
            q = np.quantile(values, [0.05, 0.25, 0.5, 0.75, 0.95])
            counts, edges = np.histogram(values, bins=HISTOGRAM_BINS)
            out.update(kind="numeric", min=_num(values.min()), max=_num(values.max()),
                       mean=_num(values.mean()), std=_num(values.std()),
                       quantiles=dict(zip(("p05", "p25", "p50", "p75", "p95"), map(_num, q))),
                       histogram={"edges": [_num(e) for e in edges],
                                  "counts": [int(c) for c in counts]})
        else:
            out.update(kind="numeric")
        return out
    if kind == "M" or isinstance(series.dtype, pd.DatetimeTZDtype):
        present = series.dropna()
        out.update(kind="time", min=str(present.min()) if len(present) else None,
                   max=str(present.max()) if len(present) else None)
        return out
    counts = series.dropna().astype("str").value_counts()
    out.update(kind="categorical", distinct=int(len(counts)),
               top=[[str(k), int(v)] for k, v in counts.head(TOP_VALUES).items()])
    return out


def _num(value) -> float | None:
    v = float(value)
    return v if math.isfinite(v) else None
