"""The route table: ``(method, path)`` -> ``function(client, request) -> response dict``.

Written once, framework-free; the jupyter_server extension and the standalone ASGI server
both call :func:`handle`. Paths are relative to ``/api/2.0/`` (also served under
``/ajax-api/2.0/``, as MLflow's server does).
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable
from typing import Any

from jupyter_mlops.errors import MlopsError
from jupyter_mlops.mlflow_api import artifacts, experiments, models, registry, runs
from jupyter_mlops.mlflow_api.errors import MlflowApiError, from_library
from jupyter_mlops.request_body import BodyLimits, parse_json_body

log = logging.getLogger(__name__)

Route = Callable[[Any, dict], dict]
_E, _R, _M = "mlflow/experiments/", "mlflow/runs/", "mlflow/registered-models/"
_V = "mlflow/model-versions/"

#: Fixed paths.
TABLE: dict[tuple[str, str], Route] = {
    ("POST", _E + "create"): experiments.create,
    ("GET", _E + "get"): experiments.get,
    ("GET", _E + "get-by-name"): experiments.get_by_name,
    ("POST", _E + "search"): experiments.search,
    ("GET", _E + "search"): experiments.search,
    ("GET", _E + "list"): experiments.search,
    ("POST", _E + "update"): experiments.update,
    ("POST", _E + "delete"): experiments.delete,
    ("POST", _E + "restore"): experiments.restore,
    ("POST", _E + "set-experiment-tag"): experiments.set_tag,
    ("POST", _E + "delete-experiment-tag"): experiments.delete_tag,
    ("POST", _R + "create"): runs.create,
    ("GET", _R + "get"): runs.get,
    ("POST", _R + "update"): runs.update,
    ("POST", _R + "delete"): runs.delete,
    ("POST", _R + "restore"): runs.restore,
    ("POST", _R + "search"): runs.search,
    ("POST", _R + "log-metric"): runs.log_metric,
    ("POST", _R + "log-parameter"): runs.log_param,
    ("POST", _R + "set-tag"): runs.set_tag,
    ("POST", _R + "delete-tag"): runs.delete_tag,
    ("POST", _R + "log-batch"): runs.log_batch,
    ("POST", _R + "log-inputs"): runs.log_inputs,
    ("POST", _R + "outputs"): runs.log_outputs,
    ("POST", _R + "log-model"): runs.log_model,
    ("GET", "mlflow/metrics/get-history"): runs.history,
    ("GET", "mlflow/metrics/get-history-bulk"): runs.history_bulk,
    ("GET", "mlflow/metrics/get-history-bulk-interval"): runs.history_bulk_interval,
    ("GET", "mlflow/artifacts/list"): artifacts.list_run_artifacts,
    ("POST", "mlflow/logged-models"): models.create,
    ("POST", "mlflow/logged-models/search"): models.search,
    ("POST", _M + "create"): registry.create_model,
    ("GET", _M + "get"): registry.get_model,
    ("GET", _M + "search"): registry.search_models,
    ("POST", _M + "get-latest-versions"): registry.latest_versions,
    ("GET", _M + "get-latest-versions"): registry.latest_versions,
    ("DELETE", _M + "delete"): registry.delete_model,
    ("PATCH", _M + "update"): registry.update_model,
    ("POST", _M + "rename"): registry.rename_model,
    ("POST", _M + "set-tag"): registry.set_model_tag,
    ("DELETE", _M + "delete-tag"): registry.delete_model_tag,
    ("POST", _M + "alias"): registry.set_alias,
    ("DELETE", _M + "alias"): registry.delete_alias,
    ("GET", _M + "alias"): registry.get_by_alias,
    ("POST", _V + "create"): registry.create_version,
    ("GET", _V + "get"): registry.get_version,
    ("DELETE", _V + "delete"): registry.delete_version,
    ("GET", _V + "search"): registry.search_versions,
    ("GET", _V + "get-download-uri"): registry.download_uri,
    ("POST", _V + "transition-stage"): registry.transition_stage,
    ("PATCH", _V + "update"): registry.update_version,
    ("POST", _V + "set-tag"): registry.set_version_tag,
    ("DELETE", _V + "delete-tag"): registry.delete_version_tag,
}

#: Paths with an id in them (MLflow 3's logged models).
PATTERNS: list[tuple[str, re.Pattern, Callable[..., dict]]] = [
    ("GET", re.compile(r"mlflow/logged-models/([^/]{1,64})"), models.get),
    ("PATCH", re.compile(r"mlflow/logged-models/([^/]{1,64})"), models.finalize),
    ("PATCH", re.compile(r"mlflow/logged-models/([^/]{1,64})/tags"), models.set_tags),
    ("POST", re.compile(r"mlflow/logged-models/([^/]{1,64})/params"), models.log_params),
    ("DELETE", re.compile(r"mlflow/logged-models/([^/]{1,64})"), models.delete),
    ("DELETE", re.compile(r"mlflow/logged-models/([^/]{1,64})/tags/([^/]{1,250})"),
     models.delete_tag),
]

PREFIXES = ("/api/2.0/", "/ajax-api/2.0/")
ARTIFACTS = "mlflow-artifacts/artifacts"
LIMITS = BodyLimits(max_bytes=64 * 1024 * 1024, max_depth=32,
                    raise_bytes="send fewer entries per request",
                    raise_depth="flatten the request", allow_nan=True)


class Answer:
    """What a door sends: a status, and a JSON dict or raw bytes."""

    __slots__ = ("status", "body", "content_type")

    def __init__(self, status: int, body: dict | bytes,
                 content_type: str = "application/json"):
        self.status, self.body, self.content_type = status, body, content_type

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        text = json.dumps(self.body)
        if "NaN" in text or "Infinity" in text:
            # MLflow's client parses answers with protobuf, which wants non-finite doubles as
            # the strings "NaN"/"Infinity"/"-Infinity" (its own server sends them so).
            text = json.dumps(_quoted_nonfinite(self.body))
        return text.encode()


def _quoted_nonfinite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _quoted_nonfinite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_quoted_nonfinite(v) for v in value]
    return value


def handle(client: Any, method: str, path: str, query: dict[str, list[str]],
           body: bytes) -> Answer:
    """Answer one request; ``path`` is relative to ``/api/2.0/``. Never raises."""
    try:
        return _route(client, method.upper(), path, query, body)
    except MlflowApiError as exc:
        return Answer(exc.status, exc.body())
    except MlopsError as exc:
        err = from_library(exc)
        return Answer(err.status, err.body())
    except Exception:  # a bug of ours: logged, answered without internals
        log.exception("jupyter-mlops MLflow API: %s %s failed", method, path)
        return Answer(500, {"error_code": "INTERNAL_ERROR",
                            "message": "The server failed; its log has the details."})


def _route(client: Any, method: str, path: str, query: dict[str, list[str]],
           body: bytes) -> Answer:
    path = path.strip("/")
    if path == ARTIFACTS and method == "GET":
        return Answer(200, artifacts.listing(client, _query(query)))
    if path.startswith(ARTIFACTS + "/"):
        rel = path[len(ARTIFACTS) + 1:]
        if method == "PUT":
            return Answer(200, artifacts.upload(client, rel, body))
        if method == "GET":
            return Answer(200, artifacts.download(client, rel), "application/octet-stream")
        if method == "DELETE":
            return Answer(200, artifacts.delete(client, rel))
        raise MlflowApiError("ENDPOINT_NOT_FOUND",
                             f"No {method} endpoint for artifacts: GET, PUT or DELETE.")
    func = TABLE.get((method, path))
    if func is not None:
        return Answer(200, func(client, _request(method, query, body)))
    for verb, pattern, pfunc in PATTERNS:
        m = pattern.fullmatch(path)
        if m and verb == method:
            return Answer(200, pfunc(client, _request(method, query, body), *m.groups()))
    raise MlflowApiError("ENDPOINT_NOT_FOUND",
                         f"No {method} endpoint /api/2.0/{path[:120]} on this server.")


def _query(query: dict[str, list[str]]) -> dict:
    out: dict[str, Any] = {k: v if len(v) > 1 else v[0] for k, v in query.items() if v}
    out["__query__"] = True
    return out


def _request(method: str, query: dict[str, list[str]], body: bytes) -> dict:
    if method == "GET" or not body.strip():
        req = _query(query)
        # Repeated GET keys that MLflow defines as lists stay lists.
        for name in ("experiment_ids", "run_id", "run_ids"):
            if name in query and len(query[name]) == 1 and name != "run_id":
                req[name] = query[name]
        if "run_id" in query and len(query["run_id"]) > 1:
            req["run_id"] = query["run_id"]
        return req
    value = parse_json_body(body, LIMITS)
    if not isinstance(value, dict):
        raise MlflowApiError("MALFORMED_REQUEST", "The request body must be a JSON object.")
    return value
