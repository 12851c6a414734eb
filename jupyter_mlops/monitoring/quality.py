"""Live model quality from ground truth that arrives after the predictions.

Classification: accuracy and F1 (the positive class's F1 for binary labels ``0/1``,
``False/True`` or ``-1/1``; macro-averaged F1 otherwise). Regression: MAE and RMSE. Plain
NumPy, so scoring a window costs nothing next to reading it back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

_POSITIVE = ("1", "True", "true", "yes")


def classification_quality(y_pred: Sequence[str], y_true: Sequence[str]) -> dict[str, float]:
    """``accuracy`` and ``f1`` of string labels."""
    p = np.asarray(y_pred, dtype=object).astype(str)
    t = np.asarray(y_true, dtype=object).astype(str)
    if len(p) == 0:
        return {}
    accuracy = float(np.mean(p == t))
    labels = sorted(set(t.tolist()) | set(p.tolist()))
    positive = next((lab for lab in _POSITIVE if lab in labels), None)
    if len(labels) <= 2 and positive is not None:
        f1 = _f1(p, t, positive)
    else:
        f1 = float(np.mean([_f1(p, t, lab) for lab in labels]))
    return {"accuracy": accuracy, "f1": f1}


def _f1(p: np.ndarray, t: np.ndarray, label: str) -> float:
    tp = float(np.sum((p == label) & (t == label)))
    fp = float(np.sum((p == label) & (t != label)))
    fn = float(np.sum((p != label) & (t == label)))
    denom = 2 * tp + fp + fn
    return 2 * tp / denom if denom else 0.0


def regression_quality(y_pred: Sequence[float], y_true: Sequence[float]) -> dict[str, float]:
    """``mae`` and ``rmse`` of numbers (rows with a missing value on either side skipped)."""
    p = np.asarray(y_pred, dtype=np.float64)
    t = np.asarray(y_true, dtype=np.float64)
    ok = np.isfinite(p) & np.isfinite(t)
    if not ok.any():
        return {}
    err = p[ok] - t[ok]
    return {"mae": float(np.mean(np.abs(err))), "rmse": float(math.sqrt(np.mean(err ** 2)))}


def window_quality(rows: Sequence[tuple], task: str) -> dict[str, float]:
    """Quality of ``(prediction_value, prediction_label, actual_value, actual_label)`` rows."""
    if not rows:
        return {}
    if task == "regression":
        out = regression_quality([r[0] for r in rows], [r[2] for r in rows])
    else:
        pred = [r[1] if r[1] is not None else _as_label(r[0]) for r in rows]
        true = [r[3] if r[3] is not None else _as_label(r[2]) for r in rows]
        out = classification_quality(pred, true)
    if out:
        out["labelled"] = float(len(rows))
    return out


def _as_label(value) -> str:
    if value is None:
        return ""
    f = float(value)
    return str(int(f)) if f.is_integer() else str(f)
