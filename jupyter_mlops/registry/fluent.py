"""Module-level registry functions (``mlops.register_model(...)``) over the default client."""

from __future__ import annotations

import os
from typing import Any

from jupyter_mlops import fluent
from jupyter_mlops.registry.api import RegistryClient, registry_for

_ACTIVE = object()  # "use the active run" (None means: no run)


def registry() -> RegistryClient:
    """The :class:`RegistryClient` of the fluent API's default client."""
    return registry_for(fluent.get_client())


def register_model(model: Any, name: str, run: Any = _ACTIVE, signature: Any = None,
                   input_example: Any = None, description: str | None = None, *,
                   trusted: bool = False, trusted_types: list[str] | None = None,
                   flavor: str | None = None, user: str | None = None):
    """Register ``model`` as the next version of ``name``.

    ``run`` defaults to the active run, else, inside a pipeline step, the step's own run
    (``MLOPS_RUN_ID``: the model is linked to the run that made it even if the notebook never
    started one); pass ``None`` for no run. Everything else is as in
    :meth:`jupyter_mlops.registry.api.RegistryClient.register_model`.

    Returns
    -------
    ModelVersionRecord
    """
    if run is _ACTIVE:
        run = fluent.active_run() or os.environ.get("MLOPS_RUN_ID") or None
        if isinstance(model, str) and model.startswith("runs:/"):
            run = None  # the URI names its run
    return registry().register_model(
        model, name, run=run, signature=signature, input_example=input_example,
        description=description, trusted=trusted, trusted_types=trusted_types, flavor=flavor,
        user=user)


def set_alias(name: str, alias: str, version: int, reason: str | None = None, *,
              user: str | None = None):
    """Point ``alias`` (e.g. ``"champion"``) of model ``name`` at ``version``."""
    return registry().set_alias(name, alias, version, reason=reason, user=user)


def delete_alias(name: str, alias: str, reason: str | None = None, *, user: str | None = None):
    """Remove an alias; returns the version it pointed at."""
    return registry().delete_alias(name, alias, reason=reason, user=user)


def delete_model_version(name: str, version: int, reason: str | None = None, *,
                         user: str | None = None) -> None:
    """Delete one version (needs the manage action; refused while an alias points at it)."""
    registry().delete_version(name, version, reason=reason, user=user)


def delete_model(name: str, reason: str | None = None, *, user: str | None = None) -> int:
    """Delete a model and all its versions (needs manage; refused while it has aliases)."""
    return registry().delete_model(name, reason=reason, user=user)


def load_model(uri: str, *, trusted: bool = False, trusted_types: list[str] | None = None):
    """Load ``"models:/NAME@ALIAS"`` or ``"models:/NAME/VERSION"`` (hash-verified)."""
    return registry().load_model(uri, trusted=trusted, trusted_types=trusted_types)


def model_card(name: str, version: int | str | None = None):
    """A model card (Markdown and HTML; displays itself in a notebook)."""
    return registry().model_card(name, version)


def compare_models(name: str, versions: list[int] | None = None,
                   metrics: list[str] | None = None):
    """``(table, figure)``: the metrics of each version of ``name``."""
    return registry().compare_models(name, versions, metrics)


def propose(name: str, version: int, alias: str = "champion", reason: str | None = None, *,
            user: str | None = None):
    """Propose pointing ``alias`` at ``version``; returns the pending request."""
    return registry().propose(name, version, alias, reason=reason, user=user)


def approve(request_id: int, reason: str | None = None, *, user: str | None = None):
    """Approve a pending promotion request (needs the approve role)."""
    return registry().approve(request_id, reason=reason, user=user)


def reject(request_id: int, reason: str | None = None, *, user: str | None = None):
    """Reject a pending promotion request (needs the approve role)."""
    return registry().reject(request_id, reason=reason, user=user)


def list_models():
    """Every registered model with its latest version and aliases."""
    return registry().list_models()


__all__ = ["approve", "compare_models", "delete_alias", "list_models", "load_model",
           "model_card", "propose", "register_model", "registry", "reject", "set_alias"]


def promote_if_better(name: str, version: int, X: Any, y: Any, *, metric: str = "accuracy",
                      margin: float = 0.0, alias: str = "champion", user: str | None = None):
    """Continuous training: move ``alias`` to ``version`` only if it scores better on (X, y).

    See :func:`jupyter_mlops.registry.continuous.promote_if_better`.
    """
    from jupyter_mlops.registry.continuous import promote_if_better as decide

    return decide(registry(), name, version, X, y, metric=metric, margin=margin, alias=alias,
                  user=user)
