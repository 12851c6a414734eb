"""Runs, params, metrics and tags in MLflow's shapes, over ``client.runs``.

Times: MLflow sends and expects epoch milliseconds; this store keeps seconds. Deleting a run
through MLflow is a soft delete, as in MLflow (a ``mlops.mlflow.deleted`` tag that restore
removes): nothing recorded is lost, and ``jupyter mlops runs`` still lists it.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from jupyter_mlops.errors import NotFoundError
from jupyter_mlops.mlflow_api import experiments, fields
from jupyter_mlops.mlflow_api.errors import invalid

DELETED_TAG = "mlops.mlflow.deleted"
#: MLflow's log-batch limits (mlflow/utils/validation.py): follow them so clients batch alike.
MAX_METRICS, MAX_PARAMS, MAX_TAGS, MAX_ENTRIES = 1000, 100, 100, 1000
_TERMINAL = ("FINISHED", "FAILED", "KILLED")
_STATUSES = ("RUNNING", "SCHEDULED", *_TERMINAL)


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1000)


def run_json(run: Any) -> dict:
    """A RunRecord as MLflow's ``Run`` message (the latest value of each metric)."""
    exp_id = "0" if run.experiment == experiments.DEFAULT_NAME else str(run.experiment_id)
    start = _ms(run.start_time)
    tags = dict(run.tags)
    tags.setdefault("mlflow.runName", run.name)
    if run.parent_run_id:
        tags.setdefault("mlflow.parentRunId", run.parent_run_id)
    info = {"run_id": run.id, "run_uuid": run.id, "run_name": run.name,
            "experiment_id": exp_id, "user_id": run.user, "status": run.status,
            "start_time": start,
            "artifact_uri": f"mlflow-artifacts:/{exp_id}/{run.id}/artifacts",
            "lifecycle_stage": "deleted" if DELETED_TAG in tags else "active"}
    if run.end_time is not None:
        info["end_time"] = _ms(run.end_time)
    return {"info": info,
            "data": {"metrics": [{"key": k, "value": v, "timestamp": start, "step": 0}
                                 for k, v in run.metrics.items()],
                     "params": [{"key": k, "value": v} for k, v in run.params.items()],
                     "tags": [{"key": k, "value": v} for k, v in tags.items()
                              if k != DELETED_TAG]},
            "inputs": {}}


def _get(client: Any, run_id: str) -> Any:
    """The run record (no artifacts, datasets or environment: MLflow's Run has none)."""
    client.flush()
    return client.store.runs.get_run(run_id)


def create(client: Any, request: dict) -> dict:
    exp = experiments.by_id(client, fields.one(request, "experiment_id") or "0")
    tags = fields.key_values(request, "tags", MAX_TAGS, "tag key")
    name = fields.text(request, "run_name", required=False, limit=250) or tags.get(
        "mlflow.runName")
    parent = tags.get("mlflow.parentRunId")
    run = client.create_run(experiment=exp.name, name=name, tags=tags or None,
                            parent_run_id=parent,
                            user=fields.text(request, "user_id", required=False, limit=250))
    return {"run": run_json(run)}


def get(client: Any, request: dict) -> dict:
    return {"run": run_json(_get(client, fields.run_id(request)))}


def update(client: Any, request: dict) -> dict:
    run_id = fields.run_id(request)
    run = _get(client, run_id)
    name = fields.text(request, "run_name", required=False, limit=250)
    if name and name != run.name:
        client.rename_run(run_id, name)
    status = fields.one(request, "status")
    if status is not None and status not in _STATUSES:
        raise invalid(f"Invalid value {str(status)[:40]!r} for parameter 'status': one of "
                      f"{', '.join(_STATUSES)}.")
    if status in _TERMINAL and run.status == "RUNNING":
        client.end_run(run_id, status)
    run = _get(client, run_id)
    return {"run_info": run_json(run)["info"]}


def delete(client: Any, request: dict) -> dict:
    run_id = fields.run_id(request)
    _get(client, run_id)
    client.set_tag(run_id, DELETED_TAG, "true")
    client.flush()
    return {}


def restore(client: Any, request: dict) -> dict:
    run_id = fields.run_id(request)
    if DELETED_TAG in _get(client, run_id).tags:
        client.delete_tag(run_id, DELETED_TAG)
    return {}


def log_metric(client: Any, request: dict) -> dict:
    run_id = fields.run_id(request)
    _log_metrics(client, run_id, [request])
    return {}


def _log_metrics(client: Any, run_id: str, entries: list[dict]) -> None:
    # Validate every entry before queueing any, so one bad entry logs none (as MLflow).
    rows = []
    for e in entries:
        key = fields.key(fields.one(e, "key"), "metric name")
        value = fields.number(fields.one(e, "value"), "value")
        ts = fields.integer(e, "timestamp")
        step = fields.integer(e, "step", 0)
        if ts is None:
            raise invalid("Missing value for required parameter 'timestamp'.")
        rows.append((key, value, step, max(ts, 0) / 1000.0))
    for key, value, step, ts in rows:
        client.log_metric(run_id, key, value, step=step, timestamp=ts)


def log_param(client: Any, request: dict) -> dict:
    run_id = fields.run_id(request)
    key = fields.key(fields.one(request, "key"), "param name")
    value = fields.one(request, "value")
    params = {key: "" if value is None else str(value)}
    _write(client, run_id, lambda: client.log_params(run_id, params), params)
    return {}


def set_tag(client: Any, request: dict) -> dict:
    run_id = fields.run_id(request)
    key = fields.key(fields.one(request, "key"), "tag key")
    value = fields.one(request, "value")
    _write(client, run_id, lambda: _set_tags(client, run_id, {key: "" if value is None
                                                              else str(value)}))
    return {}


def _set_tags(client: Any, run_id: str, tags: dict[str, str]) -> None:
    if "mlflow.runName" in tags and tags["mlflow.runName"]:
        client.rename_run(run_id, tags["mlflow.runName"])
    client.set_tags(run_id, tags)


def delete_tag(client: Any, request: dict) -> dict:
    run_id = fields.run_id(request)
    client.delete_tag(run_id, fields.key(fields.one(request, "key"), "tag key"))
    return {}


def log_batch(client: Any, request: dict) -> dict:
    run_id = fields.run_id(request)
    metrics = fields.entries(request, "metrics", MAX_METRICS)
    params = fields.key_values(request, "params", MAX_PARAMS, "param name")
    tags = fields.key_values(request, "tags", MAX_TAGS, "tag key")
    if len(metrics) + len(params) + len(tags) > MAX_ENTRIES:
        raise invalid(f"A batch logging request can contain at most {MAX_ENTRIES} metrics, "
                      "params and tags in total. Send them in several requests.")

    def write() -> None:
        if params:
            client.log_params(run_id, params)
        if tags:
            _set_tags(client, run_id, tags)
        _log_metrics(client, run_id, metrics)

    _write(client, run_id, write, params)
    return {}


def _write(client: Any, run_id: str, write: Any, params: dict | None = None) -> None:
    """Queue, then make durable before answering: a 200 means recorded (as MLflow's server).

    The run must exist: the batched writer would otherwise set the rows aside in its
    dead-letter file instead of refusing them here. A param keeps its first value, as in
    MLflow (which refuses a change rather than overwrite what was recorded).
    """
    run = _exists(client, run_id)
    for key, value in (params or {}).items():
        old = run.params.get(key)
        if old is not None and old != value:
            raise invalid(f"Changing param values is not allowed. Param with key='{key}' was "
                          f"already logged with value='{old[:200]}' for run ID='{run_id}'. "
                          f"Attempted logging new value '{value[:200]}'.")
    write()
    client.flush()


def _exists(client: Any, run_id: str) -> Any:
    return client.store.runs.get_run(run_id)


def log_inputs(client: Any, request: dict) -> dict:
    """Datasets a run used: recorded as ``mlflow.dataset.<name>`` tags (name, digest, source)."""
    run_id = fields.run_id(request)
    datasets = fields.entries(request, "datasets", 1000)
    tags = {}
    for entry in datasets:
        ds = entry.get("dataset") or {}
        if not isinstance(ds, dict):
            raise invalid("Invalid value for parameter 'datasets': expected objects.")
        name = fields.key(ds.get("name"), "dataset name")
        tags[f"mlflow.dataset.{name}"[:250]] = json.dumps(
            {k: ds.get(k) for k in ("digest", "source_type", "source")})[:6000]
    if tags:
        _write(client, run_id, lambda: client.set_tags(run_id, tags))
    return {}


def log_outputs(client: Any, request: dict) -> dict:
    run_id = fields.run_id(request)
    _exists(client, run_id)
    return {}


# ---------------------------------------------------------------------------- metric history
def history(client: Any, request: dict) -> dict:
    run_id = fields.run_id(request)
    key = fields.key(fields.one(request, "metric_key"), "metric name")
    return {"metrics": [_point(key, p) for p in _points(client, run_id, key)]}


def _points(client: Any, run_id: str, key: str) -> list:
    """The series, or [] for a key the run never logged (MLflow answers an empty history)."""
    _exists(client, run_id)
    try:
        return client.metric_history(run_id, key)
    except NotFoundError:
        return []


def history_bulk(client: Any, request: dict) -> dict:
    ids = request.get("run_id") or []
    ids = ids if isinstance(ids, list) else [ids]
    if len(ids) > 100:
        raise invalid("GetMetricHistoryBulk takes at most 100 run ids.")
    key = fields.key(fields.one(request, "metric_key"), "metric name")
    out = []
    for rid in ids:
        rid = fields.run_id({"run_id": rid})
        out.extend({**_point(key, p), "run_id": rid} for p in _points(client, rid, key))
    return {"metrics": out}


def _point(key: str, p: Any) -> dict:
    return {"key": key, "value": p.value, "timestamp": int(p.timestamp * 1000), "step": p.step}


# ---------------------------------------------------------------------------- search
_RENAMES = {"run_name": "name", "user_id": "user", "run_id": "run_id"}


def _translate(text: str) -> str:
    """MLflow's attribute names that ours spell differently (outside quoted strings)."""
    import re

    parts = re.split(r"('(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`)", text)
    for i in range(0, len(parts), 2):
        parts[i] = re.sub(r"\b(?:attributes?\.)?(run_name|user_id)\b",
                          lambda m: _RENAMES[m[1]], parts[i], flags=re.IGNORECASE)
    return "".join(parts)


def search(client: Any, request: dict) -> dict:
    ids = request.get("experiment_ids") or []
    ids = ids if isinstance(ids, list) else [ids]
    if len(ids) > 1000:
        raise invalid("search_runs takes at most 1000 experiment ids.")
    names = [experiments.by_id(client, i).name for i in ids]
    flt = fields.text(request, "filter", required=False, limit=10_000)
    clauses = [f"({_translate(flt)})"] if flt else []
    if names:
        quoted = ", ".join("'" + n.replace("'", "''") + "'" for n in names)
        clauses.append(f"experiment in ({quoted})")
    view = fields.one(request, "run_view_type") or "ACTIVE_ONLY"
    if view == "ACTIVE_ONLY":
        clauses.append(f"tags.{DELETED_TAG} is null")
    elif view == "DELETED_ONLY":
        clauses.append(f"tags.{DELETED_TAG} is not null")
    elif view != "ALL":
        raise invalid(f"Invalid value {str(view)[:30]!r} for parameter 'run_view_type'.")
    size = fields.integer(request, "max_results", 1000)
    if size is None or not 1 <= size <= 50_000:
        raise invalid("Invalid value for parameter 'max_results': between 1 and 50000.")
    order = request.get("order_by") or []
    order = order if isinstance(order, list) else [order]
    if not all(isinstance(o, str) and len(o) < 1000 for o in order) or len(order) > 20:
        raise invalid("Invalid value for parameter 'order_by': a list of up to 20 strings.")
    offset = _offset(fields.one(request, "page_token"))
    client.flush()
    found = list(client.search_runs(" and ".join(clauses) or None,
                                    order_by=[_translate(o) for o in order] or None,
                                    max_results=size + 1, offset=offset, warn=False))
    out: dict[str, Any] = {"runs": [run_json(r) for r in found[:size]]}
    if len(found) > size:
        out["next_page_token"] = base64.urlsafe_b64encode(
            json.dumps({"offset": offset + size}).encode()).decode()
    return out


def _offset(token: Any) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(str(token)[:200]))["offset"]
        if isinstance(offset, int) and 0 <= offset < 10**9:
            return offset
    except (ValueError, KeyError, TypeError):
        pass
    raise invalid("Invalid page token: pass the next_page_token of a previous answer.")


def now_ms() -> int:
    return int(time.time() * 1000)
