"""Training metrics of the common case in plain numpy: the same numbers as scikit-learn's.

scikit-learn's metric functions check their inputs on every call (``type_of_target``,
``check_array`` through narwhals, label binarisers): for a small model, the six training
metrics cost 14–20 ms of CPU, more than the rest of autologging together. After ``fit`` the
inputs are known good, so the usual case — unweighted, 1-D integer, boolean or string labels
(classifiers), 1-D numeric targets (regressors) — is computed here with the formulas
scikit-learn uses (``precision_recall_fscore_support(average="weighted",
zero_division=0)``, ``log_loss`` with its clipping, ``roc_auc_score`` as the Mann–Whitney
statistic with average ranks for ties, which is the area under the ROC curve scikit-learn
integrates; ``r2_score`` with ``force_finite``). Anything else returns None and the caller
uses scikit-learn. ``tests/autolog/test_fast_metrics.py`` holds the two to the same values.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def classifier(y: Any, pred: Any, proba: Any, classes: Any) -> dict[str, float] | None:
    """Accuracy, weighted precision/recall/F1, and (with ``proba``) log loss and ROC AUC;
    None when this is not the plain case (the caller then asks scikit-learn)."""
    y, pred = _labels(y), _labels(pred)
    if y is None or pred is None or y.shape != pred.shape or y.size == 0:
        return None
    labels, inverse = np.unique(np.concatenate([y, pred]), return_inverse=True)
    true_idx, pred_idx = inverse[:y.size], inverse[y.size:]
    k = labels.size
    true_count = np.bincount(true_idx, minlength=k).astype(np.float64)
    pred_count = np.bincount(pred_idx, minlength=k).astype(np.float64)
    tp = np.bincount(true_idx[true_idx == pred_idx], minlength=k).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(pred_count > 0, tp / pred_count, 0.0)
        recall = np.where(true_count > 0, tp / true_count, 0.0)
        denominator = pred_count + true_count
        f1 = np.where(denominator > 0, 2 * tp / denominator, 0.0)
    weights = true_count
    out = {"training_accuracy_score": float(np.mean(y == pred)),
           "training_precision_score": float(np.average(precision, weights=weights)),
           "training_recall_score": float(np.average(recall, weights=weights)),
           "training_f1_score": float(np.average(f1, weights=weights))}
    if proba is None or classes is None:
        return out
    proba = np.asarray(proba)
    classes = np.asarray(classes)
    # Anything unusual goes to scikit-learn, which decides what applies.
    if (proba.ndim != 2 or proba.dtype.kind != "f" or proba.shape != (y.size, classes.size)
            or classes.size < 2 or classes.ndim != 1
            or classes.dtype.kind != labels.dtype.kind):
        return None
    if np.any(classes[1:] <= classes[:-1]):  # not sorted as scikit-learn's classes_
        return None
    position = np.searchsorted(classes, y)
    if np.any(position >= classes.size) or np.any(classes[np.minimum(
            position, classes.size - 1)] != y):
        return None  # a label the model does not know
    if proba.min() < 0 or proba.max() > 1:
        return None
    eps = np.finfo(proba.dtype).eps
    picked = np.clip(proba[np.arange(y.size), position], eps, 1 - eps)
    out["training_log_loss"] = float(np.mean(-np.log(picked)))
    auc = _roc_auc(position, proba, classes.size)
    if auc is not None:
        out["training_roc_auc"] = auc
    return out


def regressor(y: Any, pred: Any) -> dict[str, float] | None:
    """MSE, RMSE, MAE and R² of a 1-D numeric target, or None."""
    y, pred = np.asarray(y), np.asarray(pred)
    if (y.ndim != 1 or pred.shape != y.shape or y.size < 2 or y.dtype.kind not in "iuf"
            or pred.dtype.kind not in "iuf"):
        return None
    y = y.astype(np.float64, copy=False)
    pred = pred.astype(np.float64, copy=False)
    residual = y - pred
    mse = float(np.mean(residual ** 2))
    ss_res = float((residual ** 2).sum())
    ss_tot = float(((y - np.mean(y)) ** 2).sum())
    if ss_tot != 0:
        r2 = 1 - ss_res / ss_tot
    else:  # scikit-learn's force_finite
        r2 = 1.0 if ss_res == 0 else 0.0
    return {"training_mean_squared_error": mse,
            "training_root_mean_squared_error": float(np.sqrt(mse)),
            "training_mean_absolute_error": float(np.mean(np.abs(residual))),
            "training_r2_score": r2}


def _labels(values: Any) -> np.ndarray | None:
    a = np.asarray(values)
    if a.ndim != 1 or a.dtype.kind not in "iubU":
        return None
    return a


def _roc_auc(position: np.ndarray, proba: np.ndarray, k: int) -> float | None:
    """Binary: AUC of the second column; multiclass: the one-vs-rest macro mean, defined
    only when every class occurs (scikit-learn raises otherwise, and the metric is left
    out)."""
    counts = np.bincount(position, minlength=k)
    if np.any(counts == 0):
        return None
    if k == 2:
        return _binary_auc(position == 1, proba[:, 1])
    if not np.allclose(proba.sum(axis=1), 1.0):
        return None  # scikit-learn refuses scores that are not probabilities
    return float(np.mean([_binary_auc(position == c, proba[:, c]) for c in range(k)]))


def _binary_auc(positive: np.ndarray, score: np.ndarray) -> float:
    ranks = _average_ranks(score)
    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    boundaries = np.concatenate([[True], ordered[1:] != ordered[:-1], [True]])
    starts = np.flatnonzero(boundaries)
    # Rank of each tie group: the mean of its 1-based positions.
    group_rank = (starts[:-1] + starts[1:] + 1) / 2.0
    group = np.cumsum(boundaries[:-1]) - 1
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = group_rank[group]
    return ranks
