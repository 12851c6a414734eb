"""Registered models, versions and aliases in MLflow's shapes, over ``client.registry``.

An MLflow model version's ``source`` is a folder of files (``MLmodel`` plus the model file);
this registry keeps one model file per version. Registering takes the folder's model file
(``*.skops``, ``*.pkl``, ``*.joblib``), stores it as is (a pickle is never loaded here: this
project's ``load_model`` still demands ``trusted=True`` for it), and links the run. The folder
stays with the run's artifacts, which is what ``get-download-uri`` points MLflow's client to.
Stages map onto aliases: ``Staging``/``Production`` set the alias ``staging``/``production``.
An empty registered model is not kept until its first version (this registry creates a model
with its first version).
"""

from __future__ import annotations

import re
import time
from typing import Any

from jupyter_mlops.errors import NotFoundError
from jupyter_mlops.mlflow_api import artifacts, fields
from jupyter_mlops.mlflow_api.errors import MlflowApiError, invalid, not_found, not_implemented

_MODEL_FILES = (".skops", ".pkl", ".pickle", ".joblib")
_STAGE_ALIAS = {"staging": "staging", "production": "production"}


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def _model(client: Any, name: str) -> Any:
    try:
        return client.registry.get_model(name)
    except NotFoundError:
        raise not_found(f"Registered Model with name={name} not found") from None


def _source(client: Any, v: Any) -> str:
    """The MLflow model folder the version's file came from (matched by its digest)."""
    if v.run_id:
        for art in client.list_artifacts(v.run_id):
            if art.digest == v.digest:
                folder = art.name.rsplit("/", 1)[0] if "/" in art.name else ""
                return f"mlflow-artifacts:/0/{v.run_id}/artifacts/{folder}".rstrip("/")
    return ""


def version_json(client: Any, v: Any) -> dict:
    stage = "None"
    for alias in v.aliases:
        if alias in ("staging", "production"):
            stage = alias.capitalize()
    out = {"name": v.name, "version": str(v.version), "creation_timestamp": _ms(v.created_at),
           "last_updated_timestamp": _ms(v.created_at), "user_id": v.created_by,
           "current_stage": stage, "description": v.description or "",
           "source": _source(client, v), "status": "READY", "aliases": list(v.aliases),
           "tags": []}
    if v.run_id:
        out["run_id"] = v.run_id
    return out


def model_json(client: Any, m: Any) -> dict:
    out = {"name": m.name, "creation_timestamp": _ms(m.created_at),
           "last_updated_timestamp": _ms(m.updated_at), "description": m.description or "",
           "aliases": [{"alias": a, "version": str(v)} for a, v in sorted(m.aliases.items())],
           "tags": []}
    if m.latest_version:
        out["latest_versions"] = [version_json(
            client, client.registry.get_version(m.name, m.latest_version))]
    return out


def _name(request: dict) -> str:
    name = fields.text(request, "name", limit=256)
    if not re.fullmatch(r"[^\x00-\x1f/]{1,256}", name):
        raise invalid(f"Invalid model name {name[:60]!r}.")
    return name


def _version(client: Any, request: dict) -> Any:
    name = _name(request)
    number = fields.integer(request, "version")
    if number is None:
        raise invalid("Missing value for required parameter 'version'.")
    try:
        return client.registry.get_version(name, number)
    except NotFoundError:
        raise not_found(f"Model Version (name={name}, version={number}) not found") from None


# ------------------------------------------------------------------ registered models
def create_model(client: Any, request: dict) -> dict:
    name = _name(request)
    try:
        client.registry.get_model(name)
    except NotFoundError:
        now = int(time.time() * 1000)
        return {"registered_model": {"name": name, "creation_timestamp": now,
                                     "last_updated_timestamp": now}}
    raise MlflowApiError("RESOURCE_ALREADY_EXISTS",
                         f"Registered Model (name={name}) already exists.")


def get_model(client: Any, request: dict) -> dict:
    return {"registered_model": model_json(client, _model(client, _name(request)))}


def search_models(client: Any, request: dict) -> dict:
    flt = fields.text(request, "filter", required=False, limit=1000)
    models = client.registry.list_models()
    if flt:
        m = re.fullmatch(r"\s*name\s*(=|LIKE|ILIKE)\s*'((?:[^']|'')*)'\s*", flt, re.I)
        if not m:
            raise invalid("Registered-model filters here compare the name only "
                          "(name = '…' or name LIKE '…').")
        models = [x for x in models if _matches(x.name, m[1].upper(), m[2].replace("''", "'"))]
    size = fields.integer(request, "max_results", 100)
    if size is None or not 1 <= size <= 1000:
        raise invalid("Invalid value for parameter 'max_results': between 1 and 1000.")
    return {"registered_models": [model_json(client, x) for x in models[:size]]}


def _matches(name: str, op: str, value: str) -> bool:
    if op == "=":
        return name == value
    pattern = "^" + re.escape(value).replace("%", ".*").replace("_", ".") + "$"
    return re.match(pattern, name, re.I if op == "ILIKE" else 0) is not None


def delete_model(client: Any, request: dict) -> dict:
    name = _name(request)
    _model(client, name)
    client.registry.delete_model(name, reason="deleted through the MLflow API")
    return {}


def latest_versions(client: Any, request: dict) -> dict:
    m = _model(client, _name(request))
    if not m.latest_version:
        return {"model_versions": []}
    return {"model_versions": [version_json(
        client, client.registry.get_version(m.name, m.latest_version))]}


def unsupported_model(client: Any, request: dict) -> dict:
    raise not_implemented("Renaming, tagging or editing a registered model")


# ------------------------------------------------------------------ versions
def create_version(client: Any, request: dict) -> dict:
    name = _name(request)
    source = fields.text(request, "source", limit=2000)
    run_id, folder = _source_folder(client, source, fields.one(request, "run_id"))
    files = [a for a in client.list_artifacts(run_id)
             if a.name.rsplit("/", 1)[0] == folder and a.name.endswith(_MODEL_FILES)]
    if not files:
        raise invalid(f"No model file ({', '.join(_MODEL_FILES)}) in {source[:120]!r}: this "
                      "registry keeps one model file per version.")
    version = client.registry.register_model(
        f"runs:/{run_id}/{files[0].name}", name, trusted=True,
        description=fields.text(request, "description", required=False, limit=6000))
    return {"model_version": version_json(client, version)}


def _source_folder(client: Any, source: str, run_id: Any) -> tuple[str, str]:
    """``(run id, artifact folder)`` that an MLflow model source names."""
    if source.startswith("models:/m-"):
        from jupyter_mlops.mlflow_api.models import run_of_model

        model_id = source[len("models:/"):].strip("/")
        return run_of_model(client, model_id), f"models/{model_id}"
    m = re.fullmatch(r"runs:/([0-9A-Za-z_-]{1,64})/(.+)", source)
    if m:
        return m[1], artifacts.split(f"0/{m[1]}/artifacts/{m[2]}")[1]
    m = re.fullmatch(r"mlflow-artifacts:/(.+)", source)
    if m:
        rid, folder = artifacts.locate(client, m[1])
        return rid, folder
    raise invalid(f"Cannot register {source[:120]!r}: give a runs:/, models:/ or "
                  "mlflow-artifacts:/ source recorded by this server.")


def get_version(client: Any, request: dict) -> dict:
    return {"model_version": version_json(client, _version(client, request))}


def delete_version(client: Any, request: dict) -> dict:
    v = _version(client, request)
    client.registry.delete_version(v.name, v.version, reason="deleted through the MLflow API")
    return {}


def search_versions(client: Any, request: dict) -> dict:
    flt = fields.text(request, "filter", required=False, limit=1000) or ""
    m = re.fullmatch(r"\s*(name|run_id)\s*=\s*'((?:[^']|'')*)'\s*", flt)
    if flt and not m:
        raise invalid("Model-version filters here support name = '…' or run_id = '…'.")
    names = [x.name for x in client.registry.list_models()]
    out = []
    for n in names:
        if m and m[1] == "name" and n != m[2].replace("''", "'"):
            continue
        for v in client.registry.list_versions(n):
            if m and m[1] == "run_id" and v.run_id != m[2]:
                continue
            out.append(version_json(client, v))
    return {"model_versions": out}


def download_uri(client: Any, request: dict) -> dict:
    return {"artifact_uri": _source(client, _version(client, request))}


def transition_stage(client: Any, request: dict) -> dict:
    v = _version(client, request)
    stage = str(fields.one(request, "stage") or "").lower()
    if stage in _STAGE_ALIAS:
        client.registry.set_alias(v.name, _STAGE_ALIAS[stage], v.version,
                                  reason="MLflow stage transition")
    elif stage in ("none", "archived"):
        for alias in set(v.aliases) & {"staging", "production"}:
            client.registry.delete_alias(v.name, alias, reason="MLflow stage transition")
    else:
        raise invalid(f"Invalid stage {stage[:30]!r}: None, Staging, Production or Archived.")
    return {"model_version": version_json(client, client.registry.get_version(v.name,
                                                                               v.version))}


def unsupported_version(client: Any, request: dict) -> dict:
    raise not_implemented("Editing or tagging a model version")


# ------------------------------------------------------------------ aliases
def _alias(request: dict) -> str:
    alias = fields.text(request, "alias", limit=256)
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,255}", alias):
        raise invalid(f"Invalid alias {alias[:60]!r}: letters, digits, '_' and '-'.")
    return alias


def set_alias(client: Any, request: dict) -> dict:
    v = _version(client, request)
    client.registry.set_alias(v.name, _alias(request), v.version)
    return {}


def delete_alias(client: Any, request: dict) -> dict:
    name, alias = _name(request), _alias(request)
    _model(client, name)
    client.registry.delete_alias(name, alias)
    return {}


def get_by_alias(client: Any, request: dict) -> dict:
    name, alias = _name(request), _alias(request)
    _model(client, name)
    try:
        v = client.registry.resolve(f"models:/{name}@{alias}")
    except NotFoundError:
        raise not_found(f"Registered model alias {alias} not found.") from None
    return {"model_version": version_json(client, v)}
