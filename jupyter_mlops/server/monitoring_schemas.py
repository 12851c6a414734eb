"""Response models of the monitoring routes (see ``docs/openapi.yaml``).

The store keeps one ``(feature, measure, value, drifted)`` point per window; these functions
regroup them per window for the panel: each feature's drift score (``psi``, the measure every
column kind has) and verdict, the prediction's, missing values and live quality. Values that
are not finite travel as ``null`` (JSON has no NaN).
"""

from __future__ import annotations

import math
from typing import Any

from jupyter_mlops.monitoring.profile import PREDICTION

#: The per-feature drift score the series and the panel's chart use.
SCORE_MEASURE = "psi"
#: Window-level measures (feature ``""``) that describe drift, not live quality.
_WINDOW_MEASURES = {"rows", "drift_share", "columns_drifted", "schema_issues"}
#: Per-feature measures that are not a distribution test's.
_SCHEMA_MEASURES = {"schema_missing", "schema_new", "schema_type"}


def _num(value: Any) -> float | None:
    if value is None:
        return None
    v = float(value)
    return v if math.isfinite(v) else None


def window_summary_json(w: Any) -> dict[str, Any]:
    """A window's row: when, how many rows, which columns drifted."""
    summary = w.summary or {}
    schema = summary.get("schema") or {}
    return {
        "seq": w.seq, "start_at": w.start_at, "end_at": w.end_at, "rows": w.rows,
        "model_version": w.model_version, "columns_checked": w.columns_checked,
        "columns_drifted": w.columns_drifted,
        "drift_share": (w.columns_drifted / w.columns_checked) if w.columns_checked else 0.0,
        "drifted": list(summary.get("drifted") or []),
        "prediction_drifted": bool(summary.get("prediction_drifted")),
        "schema_issues": sum(len(v) for v in schema.values() if v),
    }


def monitor_summary_json(info: Any, latest: Any | None, open_alerts: int,
                         last_alert_at: float | None) -> dict[str, Any]:
    """One row of ``GET monitors``."""
    return {
        "name": info.name, "model_name": info.model_name, "model_ref": info.model_ref,
        "window": info.config.get("window"), "created_by": info.created_by,
        "created_at": info.created_at, "updated_at": info.updated_at,
        "windows": latest.seq if latest is not None else 0,
        "latest_window": window_summary_json(latest) if latest is not None else None,
        "open_alerts": open_alerts, "last_alert_at": last_alert_at,
    }


def thresholds_of(info: Any) -> dict[str, float]:
    from jupyter_mlops.monitoring.drift import DEFAULT_THRESHOLDS

    return {**DEFAULT_THRESHOLDS, **(info.config.get("thresholds") or {})}


def _column_json(c: Any) -> dict[str, Any]:
    return {"name": c.name, "kind": c.kind, "dtype": c.dtype_kind, "rows": c.rows,
            "missing_share": _num(c.missing_share)}


def monitor_detail_json(info: Any, profile: Any, latest: Any | None, rules: list[Any],
                        open_alerts: int, record_counts: tuple[int, int]) -> dict[str, Any]:
    """``GET monitors/<name>``: configuration, reference profile summary, alert rules."""
    out = monitor_summary_json(info, latest, open_alerts, None)
    out.pop("last_alert_at")
    config = dict(info.config)
    out.update({
        "config": config,
        "thresholds": thresholds_of(info),
        "task": config.get("task"),
        "score_measure": SCORE_MEASURE,
        "reference": {
            "rows": profile.rows,
            "data_digest": info.reference_digest,
            "profile_digest": info.profile_digest,
            "dataset_id": info.reference_dataset_id,
            "columns": [_column_json(c) for c in profile.columns.values()],
            "prediction": _column_json(profile.prediction) if profile.prediction else None,
        },
        "rules": [rule_json(r) for r in rules],
        "predictions_logged": record_counts[0],
        "predictions_labelled": record_counts[1],
    })
    return out


def rule_json(r: Any) -> dict[str, Any]:
    return {"id": r.id, "measure": r.measure, "feature": r.feature, "op": r.op,
            "threshold": r.threshold, "pipeline": r.pipeline, "cooldown_s": r.cooldown_s,
            "enabled": r.enabled, "last_triggered_at": r.last_triggered_at,
            "created_by": r.created_by, "created_at": r.created_at}


def alert_json(a: Any, window_seq: int | None, open_: bool) -> dict[str, Any]:
    return {"id": a.id, "rule_id": a.rule_id, "window_id": a.window_id,
            "window_seq": window_seq, "at": a.at, "measure": a.measure, "feature": a.feature,
            "value": _num(a.value), "threshold": a.threshold, "message": a.message,
            "action": a.action, "pipeline_run_id": a.pipeline_run_id, "open": open_}


def windows_json(info: Any, windows: list[Any], points: list[Any]) -> dict[str, Any]:
    """``GET monitors/<name>/windows``: one entry per window (oldest first) with every
    feature's drift score and verdict, the prediction's, missing shares and live quality."""
    by_seq: dict[int, dict[str, Any]] = {}
    for w in windows:
        entry = window_summary_json(w)
        entry.update({"features": {}, "prediction": None, "quality": {}, "schema": []})
        by_seq[w.seq] = entry
    features: dict[str, None] = {}
    for p in points:
        entry = by_seq.get(p.window_seq)
        if entry is None:
            continue
        value = _num(p.value)
        if p.feature == "":
            if p.measure not in _WINDOW_MEASURES:
                entry["quality"][p.measure] = value
            continue
        if p.measure in _SCHEMA_MEASURES:
            entry["schema"].append({"feature": p.feature, "issue": p.measure[len("schema_"):]})
            continue
        if p.feature == PREDICTION:
            col = entry["prediction"]
            if col is None:
                col = entry["prediction"] = _empty_column()
        else:
            features.setdefault(p.feature, None)
            col = entry["features"].setdefault(p.feature, _empty_column())
        if p.measure == SCORE_MEASURE:
            col["score"] = value
        elif p.measure == "drift":
            col["drifted"] = bool(p.drifted) if p.drifted is not None else bool(value)
        elif p.measure == "missing_share":
            col["missing_share"] = value
            col["missing_drifted"] = bool(p.drifted)
        col["measures"][p.measure] = value
    thresholds = thresholds_of(info)
    return {
        "name": info.name, "model_ref": info.model_ref, "score_measure": SCORE_MEASURE,
        "threshold": thresholds.get(SCORE_MEASURE), "thresholds": thresholds,
        "features": list(features), "prediction_feature": PREDICTION,
        "windows": [by_seq[w.seq] for w in windows],
    }


def _empty_column() -> dict[str, Any]:
    return {"score": None, "drifted": False, "missing_share": None, "missing_drifted": False,
            "measures": {}}


#: Headers of the standalone HTML report: it never runs anything, even opened directly.
REPORT_CSP = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def report_filename(name: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:100] or "monitor"
    return f"monitor-{safe}.html"
