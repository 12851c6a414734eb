"""Response models of the feature-store routes (see ``docs/openapi.yaml``), issue 16.

Event times are kept as integer nanoseconds, which JSON numbers cannot carry exactly past
2**53, so they travel as ISO 8601 text (UTC for timezone-aware views, as registered for naive
ones). Each feature's ``distribution`` is ready for a chart: a numeric feature's histogram
(``edges``, one more than ``counts``) or a categorical one's most frequent values.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any


def event_time(ns: int | None) -> str | None:
    if ns is None:
        return None
    return (dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=ns // 1000)).isoformat()


def _num(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def materialized_json(m: Any | None) -> dict[str, Any] | None:
    if m is None:
        return None
    return {"materialized_to": event_time(m.watermark_ns), "rows_written": m.rows_written,
            "started_at": m.started_at, "updated_at": m.updated_at}


def version_json(v: Any) -> dict[str, Any]:
    """One version of a view: its shape, time range and who registered it."""
    return {
        "name": v.name, "version": v.version, "entity": list(v.entity),
        "timestamp_column": v.timestamp_column, "features": list(v.features),
        "ttl_seconds": _num(v.ttl_seconds), "description": v.description, "source": v.source,
        "rows": v.rows, "entities": v.entities, "first_event": event_time(v.min_event_ns),
        "last_event": event_time(v.max_event_ns), "digest": v.digest,
        "created_by": v.created_by, "created_at": v.created_at,
    }


def view_summary_json(item: Any) -> dict[str, Any]:
    """One row of ``GET features``: the newest version, how many there are, its freshness."""
    out = version_json(item.view)
    out["versions"] = item.versions
    out["materialized"] = materialized_json(item.materialized)
    return out


def distribution_json(stats: dict) -> dict[str, Any] | None:
    hist = stats.get("histogram")
    if hist and hist.get("counts"):
        return {"kind": "histogram", "edges": [_num(e) for e in hist["edges"]],
                "counts": list(hist["counts"])}
    if stats.get("top"):
        return {"kind": "top", "values": [[str(k), int(n)] for k, n in stats["top"]],
                "distinct": stats.get("distinct")}
    return None


def stat_json(s: Any) -> dict[str, Any]:
    st = s.stats
    return {
        "feature": s.feature, "dtype": s.dtype, "kind": st.get("kind"),
        "count": st.get("count"), "missing": st.get("missing"),
        "missing_share": _num(st.get("missing_share")),
        "min": _num(st.get("min")), "max": _num(st.get("max")),
        "mean": _num(st.get("mean")), "std": _num(st.get("std")),
        "quantiles": {k: _num(v) for k, v in (st.get("quantiles") or {}).items()} or None,
        "distribution": distribution_json(st),
    }


def view_detail_json(view: Any, versions: list[Any], stats: list[Any],
                     listing: Any | None) -> dict[str, Any]:
    """``GET features/<name>``: every version, and the chosen one's statistics."""
    return {
        "name": view.name, "version": view.version, "latest_version": versions[-1].version,
        "view": version_json(view),
        "versions": [version_json(v) for v in versions],
        "materialized": materialized_json(listing.materialized) if listing else None,
        "statistics": [stat_json(s) for s in stats],
    }
