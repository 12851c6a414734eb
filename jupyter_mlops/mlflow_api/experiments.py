"""Experiments: MLflow's string ids over ours, with ``"0"`` naming the default experiment.

MLflow code that sets no experiment logs to experiment ``"0"``; this store's default
experiment (``Default``) plays that part, so those runs land where our magics and panel
look first. Renames, deletes, restores and tags go through the Client (a delete hides the
experiment and, to MLflow clients, its runs; nothing is erased).
"""

from __future__ import annotations

from typing import Any

from jupyter_mlops.errors import NotFoundError
from jupyter_mlops.mlflow_api import experiment_search, fields, paging
from jupyter_mlops.mlflow_api.errors import MlflowApiError, invalid, not_found

DEFAULT_NAME = "Default"
NOTE_TAG = "mlflow.note.content"
#: ViewType as MLflow's client sends it: the enum's name (JSON) or number (query string).
VIEWS = {"ACTIVE_ONLY": "active", "DELETED_ONLY": "deleted", "ALL": "all",
         "1": "active", "2": "deleted", "3": "all"}


def mlflow_id(exp: Any) -> str:
    return "0" if exp.name == DEFAULT_NAME else str(exp.id)


def by_id(client: Any, exp_id: Any) -> Any:
    """The experiment MLflow calls ``exp_id`` (deleted or not), or RESOURCE_DOES_NOT_EXIST."""
    text = str(exp_id).strip() if exp_id is not None else ""
    if text == "0":
        return client.create_experiment(DEFAULT_NAME)
    if not text.isdigit() or len(text) > 18:
        raise not_found(f"No experiment with id {text[:40]!r}: MLflow experiment ids here are "
                        "'0' or a number. List them with `jupyter mlops runs list`.")
    try:
        return client.get_experiment(int(text))
    except NotFoundError:
        raise not_found(f"No Experiment with id={text} exists") from None


def active(client: Any, exp_id: Any) -> Any:
    """``by_id``, refused with INVALID_STATE when deleted (MLflow refuses runs there)."""
    exp = by_id(client, exp_id)
    if exp.lifecycle_stage == "deleted":
        raise MlflowApiError("INVALID_STATE",
                             f"The experiment {mlflow_id(exp)} must be in the 'active' state. "
                             "Restore it first (MlflowClient().restore_experiment).")
    return exp


def by_name(client: Any, name: str) -> Any:
    for exp in client.list_experiments("all"):
        if exp.name == name:
            return exp
    raise not_found(f"Could not find experiment with name '{name}'.")


def to_json(exp: Any) -> dict:
    created = int(exp.created_at * 1000)
    updated = int((exp.updated_at or exp.created_at) * 1000)
    tags = dict(exp.tags)
    if exp.description and NOTE_TAG not in tags:
        tags[NOTE_TAG] = exp.description
    return {"experiment_id": mlflow_id(exp), "name": exp.name,
            "artifact_location": f"mlflow-artifacts:/{mlflow_id(exp)}",
            "lifecycle_stage": exp.lifecycle_stage, "creation_time": created,
            "last_update_time": updated,
            "tags": [{"key": k, "value": v} for k, v in sorted(tags.items())]}


def _name(request: dict, field: str) -> str:
    name = fields.text(request, field, limit=256)
    if not name.strip() or not name.isprintable() or name != name.strip():
        raise invalid(f"Invalid value {name[:60]!r} for parameter '{field}': an experiment "
                      "name is 1-256 printable characters, without spaces at either end.")
    return name


def _tag_value(request: dict) -> str:
    value = fields.one(request, "value")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise invalid("Invalid value for parameter 'value': expected a string.")
    return value


def create(client: Any, request: dict) -> dict:
    name = _name(request, "name")
    tags = fields.key_values(request, "tags", 100, "tag key")
    if any(e.name == name for e in client.list_experiments("all")):
        raise MlflowApiError("RESOURCE_ALREADY_EXISTS",
                             f"Experiment(name={name}) already exists.")
    exp = client.create_experiment(name)
    for key, value in tags.items():
        client.set_experiment_tag(exp.id, key, value)
    return {"experiment_id": mlflow_id(exp)}


def get(client: Any, request: dict) -> dict:
    return {"experiment": to_json(by_id(client, fields.one(request, "experiment_id")))}


def get_by_name(client: Any, request: dict) -> dict:
    return {"experiment": to_json(by_name(client, fields.text(request, "experiment_name",
                                                             limit=256)))}


def search(client: Any, request: dict) -> dict:
    """MLflow's search: view type, filter, order_by and pages (see :mod:`.experiment_search`)."""
    view = str(fields.one(request, "view_type") or "ACTIVE_ONLY")
    if view not in VIEWS:
        raise invalid(f"Invalid value {view[:30]!r} for parameter 'view_type': ACTIVE_ONLY, "
                      "DELETED_ONLY or ALL.")
    test = experiment_search.compile_filter(fields.text(request, "filter", required=False,
                                                        limit=1000))
    order_by = request.get("order_by") or []
    order_by = order_by if isinstance(order_by, list) else [order_by]
    if len(order_by) > 20:
        raise invalid("Invalid value for parameter 'order_by': at most 20 clauses.")
    found = [e for e in (to_json(x) for x in client.list_experiments(VIEWS[view])) if test(e)]
    found = experiment_search.order(found, order_by)
    shown, token = paging.page(found, request, 1000, 50_000)
    out: dict[str, Any] = {"experiments": list(shown)}
    if token:
        out["next_page_token"] = token
    return out


def update(client: Any, request: dict) -> dict:
    """Rename (MLflow's UpdateExperiment: ``experiment_id``, ``new_name``)."""
    exp = by_id(client, fields.one(request, "experiment_id"))
    new_name = _name(request, "new_name")
    if exp.lifecycle_stage == "deleted":
        raise MlflowApiError("INVALID_STATE", "Cannot rename a non-active experiment "
                             f"{mlflow_id(exp)}: restore it first.")
    client.rename_experiment(exp.id, new_name)
    return {}


def delete(client: Any, request: dict) -> dict:
    exp = by_id(client, fields.one(request, "experiment_id"))
    if exp.name == DEFAULT_NAME:
        raise invalid("Cannot delete the default experiment '0'. This is an internally "
                      "reserved experiment.")
    client.delete_experiment(exp.id)
    return {}


def restore(client: Any, request: dict) -> dict:
    """As MLflow's restore: the experiment and every run in it become active again, runs
    deleted one by one before the experiment was included."""
    from jupyter_mlops.mlflow_api.runs import restore_all

    exp = by_id(client, fields.one(request, "experiment_id"))
    client.restore_experiment(exp.id)
    restore_all(client, exp.name)
    return {}


def set_tag(client: Any, request: dict) -> dict:
    exp = active(client, fields.one(request, "experiment_id"))
    key = fields.key(fields.one(request, "key"), "tag key")
    client.set_experiment_tag(exp.id, key, _tag_value(request))
    return {}


def delete_tag(client: Any, request: dict) -> dict:
    exp = active(client, fields.one(request, "experiment_id"))
    key = fields.key(fields.one(request, "key"), "tag key")
    try:
        client.delete_experiment_tag(exp.id, key)
    except NotFoundError:
        raise not_found(f"No tag with name: {key} in experiment with id "
                        f"{mlflow_id(exp)}") from None
    return {}
