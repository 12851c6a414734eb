"""Registered models, versions and aliases in MLflow's shapes, over ``client.registry``.

An MLflow model version's ``source`` is a folder of files (``MLmodel`` plus the model file);
this registry keeps one model file per version. Registering takes the folder's model file
(``*.skops``, ``*.pkl``, ``*.joblib``), stores it as is (a pickle is never loaded here: this
project's ``load_model`` still demands ``trusted=True`` for it), and links the run. An MLflow
lightgbm or xgboost folder (``model.lgb``; ``model.ubj``, ``.json`` or ``.xgb``) becomes this
registry's ``lightgbm``/``xgboost`` flavor, as ``import mlflow`` converts it: no pickle. The folder
stays with the run's artifacts, which is what ``get-download-uri`` points MLflow's client to.
Stages map onto aliases: ``Staging``/``Production`` set the alias ``staging``/``production``.
A registered model may be created empty (its versions come later); renames, descriptions and
tags of models and versions go through the registry Client, audited like every change.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from jupyter_mlops.errors import AlreadyExistsError, NotFoundError
from jupyter_mlops.mlflow_api import artifacts, fields, paging
from jupyter_mlops.mlflow_api.errors import MlflowApiError, invalid, not_found
from jupyter_mlops.mlflow_api.experiment_search import like, split_clauses

_MODEL_FILES = (".skops", ".pkl", ".pickle", ".joblib")
_STAGE_ALIAS = {"staging": "staging", "production": "production"}


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


def _tags(tags: dict[str, str]) -> list[dict]:
    return [{"key": k, "value": v} for k, v in sorted(tags.items())]


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
           "last_updated_timestamp": _ms(v.updated_at or v.created_at),
           "user_id": v.created_by, "current_stage": stage,
           "description": v.description or "", "source": _source(client, v),
           "status": "READY", "aliases": list(v.aliases), "tags": _tags(v.tags)}
    if v.run_id:
        out["run_id"] = v.run_id
    return out


def model_json(client: Any, m: Any) -> dict:
    out = {"name": m.name, "creation_timestamp": _ms(m.created_at),
           "last_updated_timestamp": _ms(m.updated_at), "description": m.description or "",
           "aliases": [{"alias": a, "version": str(v)} for a, v in sorted(m.aliases.items())],
           "tags": _tags(m.tags)}
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
    """An empty registered model (MLflow's ``create_registered_model``)."""
    name = _name(request)
    tags = fields.key_values(request, "tags", 100, "tag key")
    description = fields.text(request, "description", required=False, limit=100_000)
    try:
        model = client.registry.create_model(name, description=description, tags=tags)
    except AlreadyExistsError:
        raise MlflowApiError("RESOURCE_ALREADY_EXISTS",
                             f"Registered Model (name={name}) already exists.") from None
    return {"registered_model": model_json(client, model)}


def get_model(client: Any, request: dict) -> dict:
    return {"registered_model": model_json(client, _model(client, _name(request)))}


_MODEL_CLAUSE = re.compile(
    r"\s*(name|tags?\.(?:`[^`]{1,250}`|\"[^\"]{1,250}\"|[\w.\-]{1,250}))\s*"
    r"(!=|=|\bILIKE\b|\bLIKE\b)\s*'((?:[^']|'')*)'\s*", re.I)


def search_models(client: Any, request: dict) -> dict:
    """Filters on ``name`` and ``tags.<key>`` (``= != LIKE ILIKE``, joined by AND), ordered
    by name (``order_by`` ``name ASC|DESC``), paged by ``page_token``."""
    flt = fields.text(request, "filter", required=False, limit=1000) or ""
    tests = []
    for part in split_clauses(flt) if flt.strip() else []:
        m = _MODEL_CLAUSE.fullmatch(part)
        if not m:
            raise invalid(f"Invalid registered-model filter {part.strip()[:80]!r}: compare "
                          "name or tags.<key> with =, !=, LIKE or ILIKE and a quoted string, "
                          "joined by AND.")
        tests.append((m[1], m[2].upper(), m[3].replace("''", "'")))
    models = [x for x in client.registry.list_models()
              if all(_model_matches(x, *t) for t in tests)]
    order = request.get("order_by") or []
    order = order if isinstance(order, list) else [order]
    for clause in order:
        m = re.fullmatch(r"\s*name(?:\s+(ASC|DESC))?\s*", str(clause), re.I)
        if not m:
            raise invalid(f"Invalid order_by clause {str(clause)[:60]!r}: registered models "
                          "are ordered by name (ASC or DESC) here.")
        models.sort(key=lambda x: x.name, reverse=(m[1] or "").upper() == "DESC")
    shown, token = paging.page(models, request, 100, 1000)
    out: dict[str, Any] = {"registered_models": [model_json(client, x) for x in shown]}
    if token:
        out["next_page_token"] = token
    return out


def _model_matches(model: Any, field: str, op: str, value: str) -> bool:
    if field.lower() == "name":
        have: str | None = model.name
    else:
        have = model.tags.get(field.split(".", 1)[1].strip("`\""))
    if have is None:
        # MLflow's client adds tags.`mlflow.prompt.is_prompt` != 'true' to every search: a
        # model without the tag matches '!=' (as in MLflow's registry store).
        return op == "!="
    if op == "=":
        return have == value
    if op == "!=":
        return have != value
    return like(value, have, op == "ILIKE")


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


def rename_model(client: Any, request: dict) -> dict:
    name = _name(request)
    new_name = fields.text(request, "new_name", limit=256)
    _model(client, name)
    try:
        model = client.registry.rename_model(name, new_name)
    except AlreadyExistsError:
        raise MlflowApiError("RESOURCE_ALREADY_EXISTS",
                             f"Registered Model (name={new_name}) already exists.") from None
    return {"registered_model": model_json(client, model)}


def update_model(client: Any, request: dict) -> dict:
    name = _name(request)
    _model(client, name)
    description = fields.one(request, "description")
    if description is not None and not isinstance(description, str):
        raise invalid("Invalid value for parameter 'description': expected a string.")
    return {"registered_model": model_json(client, client.registry.describe_model(
        name, description))}


def _tag(request: dict) -> tuple[str, str]:
    key = fields.key(fields.one(request, "key"), "tag key")
    value = fields.one(request, "value")
    if value is not None and not isinstance(value, str):
        raise invalid("Invalid value for parameter 'value': expected a string.")
    return key, value or ""


def set_model_tag(client: Any, request: dict) -> dict:
    name = _name(request)
    key, value = _tag(request)
    _model(client, name)
    client.registry.set_model_tag(name, key, value)
    return {}


def delete_model_tag(client: Any, request: dict) -> dict:
    name = _name(request)
    key = fields.key(fields.one(request, "key"), "tag key")
    _model(client, name)
    try:
        client.registry.delete_model_tag(name, key)
    except NotFoundError:
        raise not_found(f"Registered model tag with name={name}, key={key} not found") \
            from None
    return {}


# ------------------------------------------------------------------ versions
def create_version(client: Any, request: dict) -> dict:
    name = _name(request)
    source = fields.text(request, "source", limit=2000)
    run_id, folder = _source_folder(client, source, fields.one(request, "run_id"))
    in_folder = [a for a in client.list_artifacts(run_id) if a.name.rsplit("/", 1)[0] == folder]
    tags = fields.key_values(request, "tags", 100, "tag key")
    description = fields.text(request, "description", required=False, limit=100_000)
    booster = _booster(client, run_id, folder, in_folder, source)
    if booster is not None:
        data, flavor, _model_class = booster
        version = client.registry.register_file(data, name, flavor=flavor, run=run_id,
                                                description=description)
    else:
        files = [a for a in in_folder if a.name.endswith(_MODEL_FILES)]
        if not files:
            raise invalid(f"No model file ({', '.join(_MODEL_FILES)}) in {source[:120]!r}: "
                          "this registry keeps one model file per version.")
        version = client.registry.register_model(
            f"runs:/{run_id}/{files[0].name}", name, trusted=True, description=description)
    for key, value in tags.items():
        client.registry.set_version_tag(name, version.version, key, value)
    if tags:
        version = client.registry.get_version(name, version.version)
    return {"model_version": version_json(client, version)}


def _booster(client: Any, run_id: str, folder: str, in_folder: list, source: str
             ) -> tuple[bytes, str, str] | None:
    """An MLflow lightgbm/xgboost model folder as this registry's flavor (its ``model.lgb``,
    ``model.ubj``… converted as the importer does), or None for any other folder."""
    from jupyter_mlops.registry.mlflow_boosters import SKIPPED, from_mlflow_folder

    prefix = folder + "/" if folder else ""
    files = {a.name[len(prefix):]: functools.partial(_artifact_bytes, client, run_id, a.name)
             for a in in_folder}
    notes: list[str] = []
    found = from_mlflow_folder(files, notes.append, f"the model at {source[:120]!r}")
    if found == SKIPPED:
        raise invalid("; ".join(notes))
    return found if isinstance(found, tuple) else None


def _artifact_bytes(client: Any, run_id: str, name: str) -> bytes:
    return client.read_artifact(run_id, name)[1]


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


_VERSION_CLAUSE = re.compile(
    r"\s*(name|run_id|source_path|version_number|tags?\.(?:`[^`]{1,250}`|\"[^\"]{1,250}\""
    r"|[\w.\-]{1,250}))\s*(!=|<=|>=|=|<|>|\bNOT\s+IN\b|\bIN\b|\bILIKE\b|\bLIKE\b)\s*"
    r"('(?:[^']|'')*'|\((?:\s*'(?:[^']|'')*'\s*,?)+\)|\d{1,10})\s*", re.I)
_VERSION_ORDER = re.compile(r"\s*(name|version_number|creation_timestamp|"
                            r"last_updated_timestamp)(?:\s+(ASC|DESC))?\s*", re.I)


def _version_test(field: str, op: str, raw: str):
    """One clause of MLflow's model-version filter as a predicate over the version JSON."""
    op = re.sub(r"\s+", " ", op.upper())
    key = field.lower()
    if key == "version_number":
        if not raw.isdigit() or op not in ("=", "!=", "<", "<=", ">", ">="):
            raise invalid("version_number compares with = != < <= > >= and a number.")
        number = int(raw)
        ops = {"=": int.__eq__, "!=": int.__ne__, "<": int.__lt__, "<=": int.__le__,
               ">": int.__gt__, ">=": int.__ge__}
        return lambda v: ops[op](int(v["version"]), number)
    if raw.startswith("("):
        if op not in ("IN", "NOT IN"):
            raise invalid("A list of values goes with IN or NOT IN.")
        items = {x.replace("''", "'") for x in re.findall(r"'((?:[^']|'')*)'", raw)}
    elif raw.startswith("'"):
        if op not in ("=", "!=", "LIKE", "ILIKE"):
            raise invalid(f"{field} compares with = != LIKE ILIKE and a quoted string.")
        value = raw[1:-1].replace("''", "'")
    else:
        raise invalid(f"{field} compares with a quoted string.")

    def get(v: dict) -> str | None:
        if key.startswith("tag"):
            tag = field.split(".", 1)[1].strip("`\"")
            return next((t["value"] for t in v["tags"] if t["key"] == tag), None)
        return v.get({"source_path": "source"}.get(key, key))

    def test(v: dict) -> bool:
        have = get(v)
        if have is None:
            return op in ("!=", "NOT IN")
        if op == "IN":
            return have in items
        if op == "NOT IN":
            return have not in items
        if op == "=":
            return have == value
        if op == "!=":
            return have != value
        return like(value, have, op == "ILIKE")

    return test


def search_versions(client: Any, request: dict) -> dict:
    """MLflow's model-version filter: ``name``, ``run_id``, ``source_path``,
    ``version_number`` and ``tags.<key>`` clauses joined by AND (``= != LIKE ILIKE``, ``IN``
    for lists, comparisons for version_number); ``order_by`` name, version_number,
    creation_timestamp, last_updated_timestamp; ``max_results`` and page tokens."""
    flt = fields.text(request, "filter", required=False, limit=10_000) or ""
    tests = []
    for part in split_clauses(flt) if flt.strip() else []:
        m = _VERSION_CLAUSE.fullmatch(part)
        if not m:
            raise invalid(f"Invalid model-version filter {part.strip()[:80]!r}: compare name, "
                          "run_id, source_path, version_number or tags.<key> (e.g. "
                          "name = 'm' AND run_id IN ('…')), joined by AND.")
        tests.append(_version_test(m[1], m[2], m[3]))
    # One model named outright (what MLflow's client sends most): read only its versions.
    named = re.findall(r"(?<![\w.`\"])name\s*=\s*'((?:[^']|'')*)'", flt, re.I)
    names = [n.replace("''", "'") for n in named[:1]] or [
        x.name for x in client.registry.list_models()]
    out = []
    for n in names:
        try:
            versions = client.registry.list_versions(n)
        except NotFoundError:
            continue
        for v in versions:
            answer = version_json(client, v)
            if all(t(answer) for t in tests):
                out.append(answer)
    order = request.get("order_by") or []
    for clause in reversed(order if isinstance(order, list) else [order]):
        m = _VERSION_ORDER.fullmatch(str(clause))
        if not m:
            raise invalid(f"Invalid order_by clause {str(clause)[:60]!r}: name, "
                          "version_number, creation_timestamp or last_updated_timestamp, "
                          "then ASC or DESC.")
        field = {"version_number": "version"}.get(m[1].lower(), m[1].lower())
        out.sort(key=lambda v: v[field] if field == "name" else int(v[field]),
                 reverse=(m[2] or "").upper() == "DESC")
    shown, token = paging.page(out, request, 10_000, 200_000)
    page: dict[str, Any] = {"model_versions": list(shown)}
    if token:
        page["next_page_token"] = token
    return page


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


def update_version(client: Any, request: dict) -> dict:
    v = _version(client, request)
    description = fields.one(request, "description")
    if description is not None and not isinstance(description, str):
        raise invalid("Invalid value for parameter 'description': expected a string.")
    return {"model_version": version_json(client, client.registry.describe_version(
        v.name, v.version, description))}


def set_version_tag(client: Any, request: dict) -> dict:
    v = _version(client, request)
    key, value = _tag(request)
    client.registry.set_version_tag(v.name, v.version, key, value)
    return {}


def delete_version_tag(client: Any, request: dict) -> dict:
    v = _version(client, request)
    key = fields.key(fields.one(request, "key"), "tag key")
    try:
        client.registry.delete_version_tag(v.name, v.version, key)
    except NotFoundError:
        raise not_found(f"Model version tag with name={v.name}, version={v.version}, "
                        f"key={key} not found") from None
    return {}


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
