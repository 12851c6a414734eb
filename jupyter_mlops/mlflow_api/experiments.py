"""Experiments: MLflow's string ids over ours, with ``"0"`` naming the default experiment.

MLflow code that sets no experiment logs to experiment ``"0"``; this store's default
experiment (``Default``) plays that part, so those runs land where our magics and panel
look first.
"""

from __future__ import annotations

from typing import Any

from jupyter_mlops.mlflow_api import fields
from jupyter_mlops.mlflow_api.errors import invalid, not_found, not_implemented

DEFAULT_NAME = "Default"


def mlflow_id(exp: Any) -> str:
    return "0" if exp.name == DEFAULT_NAME else str(exp.id)


def by_id(client: Any, exp_id: Any) -> Any:
    """The experiment MLflow calls ``exp_id``, or RESOURCE_DOES_NOT_EXIST."""
    text = str(exp_id).strip() if exp_id is not None else ""
    if text == "0":
        return client.create_experiment(DEFAULT_NAME)
    if not text.isdigit() or len(text) > 18:
        raise not_found(f"No experiment with id {text[:40]!r}: MLflow experiment ids here are "
                        "'0' or a number. List them with `jupyter mlops runs list`.")
    for exp in client.list_experiments():
        if exp.id == int(text):
            return exp
    raise not_found(f"No experiment with id {text!r}.")


def by_name(client: Any, name: str) -> Any:
    for exp in client.list_experiments():
        if exp.name == name:
            return exp
    raise not_found(f"Could not find experiment with name '{name}'.")


def to_json(exp: Any) -> dict:
    ms = int(exp.created_at * 1000)
    return {"experiment_id": mlflow_id(exp), "name": exp.name,
            "artifact_location": f"mlflow-artifacts:/{mlflow_id(exp)}",
            "lifecycle_stage": "active", "creation_time": ms, "last_update_time": ms,
            "tags": ([{"key": "mlflow.note.content", "value": exp.description}]
                     if exp.description else [])}


def create(client: Any, request: dict) -> dict:
    name = fields.text(request, "name", limit=256)
    if any(e.name == name for e in client.list_experiments()):
        from jupyter_mlops.mlflow_api.errors import MlflowApiError

        raise MlflowApiError("RESOURCE_ALREADY_EXISTS",
                             f"Experiment '{name}' already exists.")
    return {"experiment_id": mlflow_id(client.create_experiment(name))}


def get(client: Any, request: dict) -> dict:
    return {"experiment": to_json(by_id(client, fields.one(request, "experiment_id")))}


def get_by_name(client: Any, request: dict) -> dict:
    return {"experiment": to_json(by_name(client, fields.text(request, "experiment_name",
                                                             limit=256)))}


def search(client: Any, request: dict) -> dict:
    """All experiments (few per store), filtered by ``name`` comparisons only."""
    flt = fields.text(request, "filter", required=False, limit=1000)
    view = fields.one(request, "view_type") or "ACTIVE_ONLY"
    if view == "DELETED_ONLY":
        return {"experiments": []}
    found = sorted(client.list_experiments(), key=lambda e: -e.created_at)
    if flt:
        found = [e for e in found if _name_matches(e.name, flt)]
    size = fields.integer(request, "max_results", 1000)
    if size is None or not 1 <= size <= 50_000:
        raise invalid("Invalid value for parameter 'max_results': between 1 and 50000.")
    token = fields.one(request, "page_token")
    start = int(token) if isinstance(token, str) and token.isdigit() else 0
    page = found[start:start + size]
    out: dict[str, Any] = {"experiments": [to_json(e) for e in page]}
    if start + size < len(found):
        out["next_page_token"] = str(start + size)
    return out


def _name_matches(name: str, flt: str) -> bool:
    """``name = 'x'`` / ``name LIKE 'x%'`` (what MLflow's client sends); else refuse."""
    import fnmatch
    import re

    m = re.fullmatch(r"\s*(?:attributes\.)?name\s*(=|!=|LIKE|ILIKE)\s*'((?:[^']|'')*)'\s*",
                     flt, re.IGNORECASE)
    if not m:
        raise invalid(f"Experiment filters here compare the name only (name = '…' or "
                      f"name LIKE '…'); got {flt[:80]!r}.")
    op, value = m[1].upper(), m[2].replace("''", "'")
    if op == "=":
        return name == value
    if op == "!=":
        return name != value
    pattern = fnmatch.translate(value.replace("%", "*").replace("_", "?"))
    return re.match(pattern, name, re.IGNORECASE if op == "ILIKE" else 0) is not None


def unsupported(client: Any, request: dict) -> dict:
    raise not_implemented("Renaming, deleting or restoring an experiment")


def set_tag(client: Any, request: dict) -> dict:
    by_id(client, fields.one(request, "experiment_id"))  # existence first, as MLflow
    raise not_implemented("Tagging an experiment")
