"""Continuous training (P6): move ``champion`` to a new version only when it is better.

The last step of a scheduled training pipeline calls :func:`promote_if_better` with held-out
data. Both the candidate and the current champion are scored on the *same* rows, so the
decision does not depend on metrics logged under different splits. The alias moves through
:meth:`RegistryClient.set_alias`, so roles, promotion gates and the audit log apply; the
decision (with both scores) is the audit entry's reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from jupyter_mlops.errors import InvalidInputError, NotFoundError
from jupyter_mlops.store.records import Record

#: name -> (scorer(y_true, y_pred), higher is better)
SCORERS: dict[str, tuple[str, bool]] = {
    "accuracy": ("accuracy_score", True),
    "f1": ("f1_score", True),
    "roc_auc": ("roc_auc_score", True),
    "r2": ("r2_score", True),
    "mae": ("mean_absolute_error", False),
    "rmse": ("root_mean_squared_error", False),
}


@dataclasses.dataclass(frozen=True)
class PromotionDecision(Record):
    model: str
    alias: str
    candidate_version: int
    champion_version: int | None
    metric: str
    candidate_score: float
    champion_score: float | None
    margin: float
    promoted: bool
    reason: str


def _scorer(metric: str) -> tuple[Callable[[Any, Any], float], bool]:
    if metric not in SCORERS:
        raise InvalidInputError(
            f"Unknown metric {metric!r}: use one of {', '.join(sorted(SCORERS))}.")
    import sklearn.metrics

    name, higher = SCORERS[metric]
    return getattr(sklearn.metrics, name), higher


def promote_if_better(registry, name: str, version: int, X: Any, y: Any, *,
                      metric: str = "accuracy", margin: float = 0.0, alias: str = "champion",
                      user: str | None = None) -> PromotionDecision:
    """Score ``version`` and the current ``alias`` holder on ``(X, y)``; move the alias if the
    candidate wins by more than ``margin`` (or when no version holds the alias yet).

    Parameters
    ----------
    registry : RegistryClient
    name, version : the candidate model version.
    X, y : held-out features and labels.
    metric : one of :data:`SCORERS` (``roc_auc`` scores ``predict_proba``'s positive column).
    margin : how much better (in the metric's units) the candidate must be.

    Returns
    -------
    PromotionDecision

    Raises
    ------
    NotFoundError
        Unknown model or version.
    ConflictError / PermissionDeniedError
        A promotion gate or the model's alias protection refused the move.
    """
    score, higher = _scorer(metric)

    def evaluate(ref: str) -> float:
        loaded = registry.load_model(ref)
        if metric == "roc_auc":
            return float(score(y, loaded.model.predict_proba(X)[:, 1]))
        return float(score(y, loaded.predict(X)))

    candidate = evaluate(f"models:/{name}/{version}")
    try:
        champion = registry.get_version(name, alias)
    except NotFoundError:
        champion = None
    champion_score = None
    if champion is not None and champion.version != version:
        champion_score = evaluate(f"models:/{name}/{champion.version}")
    if champion is None:
        better, why = True, f"no version held {alias!r}"
    elif champion.version == version:
        better, why = False, f"version {version} already holds {alias!r}"
    else:
        gain = candidate - champion_score if higher else champion_score - candidate
        better = gain > margin
        why = (f"{metric} {candidate:.4g} vs {champion_score:.4g} for version "
               f"{champion.version} ({'+' if gain >= 0 else ''}{gain:.4g}, margin {margin:g})")
    if better:
        registry.set_alias(name, alias, version, reason=f"continuous training: {why}", user=user)
    return PromotionDecision(name, alias, version, champion.version if champion else None,
                             metric, candidate, champion_score, margin, better, why)
