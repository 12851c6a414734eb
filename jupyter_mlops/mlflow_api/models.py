"""MLflow 3's logged models, kept on the run that logged them.

A logged model is recorded as the run tag ``mlops.mlflow.model.<model id>`` (its info as
JSON) and its files as the run's artifacts ``models/<model id>/...``; so deleting nothing,
the run's page lists the model's files. A logged model without a source run is refused.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from jupyter_mlops.mlflow_api import experiments, fields
from jupyter_mlops.mlflow_api.errors import invalid, not_found
from jupyter_mlops.mlflow_api.experiment_search import split_clauses

TAG = "mlops.mlflow.model."


def _check_id(model_id: Any) -> str:
    if not isinstance(model_id, str) or not model_id.startswith("m-") or len(model_id) > 40 \
            or not model_id[2:].isalnum():
        raise not_found(f"No logged model {str(model_id)[:50]!r}.")
    return model_id


def run_of_model(client: Any, model_id: str) -> str:
    _check_id(model_id)
    client.flush()
    found = client.search_runs(f"tags.{TAG}{model_id} is not null", max_results=1, warn=False,
                               lifecycle="all")
    if not found:
        raise not_found(f"No logged model {model_id!r}.")
    return found[0].id


def _load(client: Any, model_id: str) -> tuple[str, dict]:
    run_id = run_of_model(client, model_id)
    run = client.store.runs.get_run(run_id)
    info = json.loads(run.tags[TAG + model_id])
    if info.get("deleted"):
        raise not_found(f"No logged model {model_id!r} (it was deleted).")
    return run_id, info


def delete(client: Any, request: dict, model_id: str) -> dict:
    """Marked deleted (as MLflow's lifecycle): gone from get and search; its files stay
    with the run that logged them."""
    run_id, info = _load(client, model_id)
    info["deleted"] = True
    _save(client, run_id, info)
    return {}


def delete_tag(client: Any, request: dict, model_id: str, key: str) -> dict:
    run_id, info = _load(client, model_id)
    key = fields.key(key, "tag key")
    if key not in info.get("tags", {}):
        raise not_found(f"No tag with key {key!r} on logged model {model_id!r}.")
    del info["tags"][key]
    _save(client, run_id, info)
    return {}


def _save(client: Any, run_id: str, info: dict) -> None:
    info["last_updated_timestamp_ms"] = int(time.time() * 1000)
    client.set_tags(run_id, {TAG + info["model_id"]: json.dumps(info)[:6000]})
    client.flush()


def _answer(info: dict) -> dict:
    tags = [{"key": k, "value": v} for k, v in info.get("tags", {}).items()]
    params = [{"key": k, "value": v} for k, v in info.get("params", {}).items()]
    body = {k: v for k, v in info.items() if k not in ("tags", "params", "deleted")}
    return {"model": {"info": {**body, "tags": tags}, "data": {"params": params}}}


def create(client: Any, request: dict) -> dict:
    run_id = fields.one(request, "source_run_id")
    if not run_id:
        raise invalid("This server keeps a logged model on the run that logged it: give "
                      "source_run_id (log the model inside mlflow.start_run()).")
    run_id = fields.run_id({"run_id": run_id})
    run = client.store.runs.get_run(run_id)
    exp_id = "0" if run.experiment == experiments.DEFAULT_NAME else str(run.experiment_id)
    model_id = "m-" + uuid.uuid4().hex
    now = int(time.time() * 1000)
    info = {"model_id": model_id, "experiment_id": exp_id,
            "name": fields.text(request, "name", required=False, limit=250) or "model",
            "artifact_uri": f"mlflow-artifacts:/{exp_id}/models/{model_id}/artifacts",
            "creation_timestamp_ms": now, "last_updated_timestamp_ms": now,
            "status": "LOGGED_MODEL_PENDING", "source_run_id": run_id,
            "model_type": fields.text(request, "model_type", required=False, limit=250) or "",
            "tags": fields.key_values(request, "tags", 100, "tag key"),
            "params": fields.key_values(request, "params", 100, "param name")}
    _save(client, run_id, info)
    return _answer(info)


def get(client: Any, request: dict, model_id: str) -> dict:
    return _answer(_load(client, model_id)[1])


def finalize(client: Any, request: dict, model_id: str) -> dict:
    run_id, info = _load(client, model_id)
    status = fields.one(request, "status") or "LOGGED_MODEL_READY"
    if status not in ("LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED"):
        raise invalid(f"Invalid value {str(status)[:40]!r} for parameter 'status'.")
    info["status"] = status
    _save(client, run_id, info)
    return _answer(info)


def set_tags(client: Any, request: dict, model_id: str) -> dict:
    run_id, info = _load(client, model_id)
    info.setdefault("tags", {}).update(fields.key_values(request, "tags", 100, "tag key"))
    _save(client, run_id, info)
    return {}


def log_params(client: Any, request: dict, model_id: str) -> dict:
    run_id, info = _load(client, model_id)
    info.setdefault("params", {}).update(fields.key_values(request, "params", 100,
                                                           "param name"))
    _save(client, run_id, info)
    return {}


def search(client: Any, request: dict) -> dict:
    """Logged models of the given experiments (filters on ``source_run_id`` only)."""
    client.flush()
    runs = client.search_runs(None, max_results=10_000, warn=False, lifecycle="all")
    wanted = _conditions(fields.text(request, "filter", required=False, limit=1000) or "")
    ids = request.get("experiment_ids") or []
    models = []
    for run in runs:
        for key, value in run.tags.items():
            if key.startswith(TAG):
                info = json.loads(value)
                if info.get("deleted"):
                    continue
                if (not ids or info["experiment_id"] in ids) and all(
                        str(info.get(k)) == v for k, v in wanted.items()):
                    models.append(_answer(info)["model"])
    return {"models": models}


def _conditions(flt: str) -> dict[str, str]:
    """``name = 'x' AND source_run_id = 'y'``: the filters MLflow's client sends."""
    import re

    out = {}
    for part in split_clauses(flt.strip()) if flt.strip() else []:
        m = re.fullmatch(r"(name|source_run_id|model_id|status)\s*=\s*'((?:[^']|'')*)'",
                         part.strip())
        if not m:
            raise invalid("Logged-model filters here compare name, source_run_id, model_id "
                          "or status with '=' (joined by AND).")
        out[m[1]] = m[2].replace("''", "'")
    return out
