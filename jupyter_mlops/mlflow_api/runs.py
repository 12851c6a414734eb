"""Runs, params, metrics and tags in MLflow's shapes, over ``client.runs``.

Times: MLflow sends and expects epoch milliseconds; this store keeps seconds. Deleting a run
through MLflow is a soft delete, as in MLflow (a ``mlops.mlflow.deleted`` tag that restore
removes): nothing recorded is lost, and ``jupyter mlops runs`` still lists it.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from jupyter_mlops.errors import NotFoundError
from jupyter_mlops.mlflow_api import experiments, fields, paging
from jupyter_mlops.mlflow_api.errors import invalid

DELETED_TAG = "mlops.mlflow.deleted"
#: A dataset a run used (log-inputs): ``mlflow.dataset.<name>`` -> MLflow's DatasetInput JSON.
DATASET_TAG = "mlflow.dataset."
MAX_MS = 253_402_300_799_000
#: MLflow's log-batch limits (mlflow/utils/validation.py): follow them so clients batch alike.
MAX_METRICS, MAX_PARAMS, MAX_TAGS, MAX_ENTRIES = 1000, 100, 100, 1000
_TERMINAL = ("FINISHED", "FAILED", "KILLED")
_STATUSES = ("RUNNING", "SCHEDULED", *_TERMINAL)


def ms(seconds: float | None) -> int | None:
    """Epoch seconds (this store) -> integer epoch milliseconds (MLflow's wire)."""
    return None if seconds is None else int(round(seconds * 1000))


def seconds(request: dict, name: str) -> float | None:
    """An epoch-milliseconds field of a request as epoch seconds (None when absent)."""
    value = fields.integer(request, name)
    if value is None:
        return None
    if not 0 <= value <= MAX_MS:
        raise invalid(f"Invalid value {value} for parameter '{name}': epoch milliseconds "
                      "between 0 and 253402300799000.")
    return value / 1000.0


def run_json(run: Any, points: dict | None = None, experiment_deleted: bool = False) -> dict:
    """A RunRecord as MLflow's ``Run`` message: each metric's latest value, with its step and
    time when ``points`` (``{key: MetricPoint}``) is given; times in integer ms."""
    exp_id = "0" if run.experiment == experiments.DEFAULT_NAME else str(run.experiment_id)
    start = ms(run.start_time)
    tags = dict(run.tags)
    tags.setdefault("mlflow.runName", run.name)
    if run.parent_run_id:
        tags.setdefault("mlflow.parentRunId", run.parent_run_id)
    deleted = experiment_deleted or DELETED_TAG in tags
    info = {"run_id": run.id, "run_uuid": run.id, "run_name": run.name,
            "experiment_id": exp_id, "user_id": run.user, "status": run.status,
            "start_time": start,
            "artifact_uri": f"mlflow-artifacts:/{exp_id}/{run.id}/artifacts",
            "lifecycle_stage": "deleted" if deleted else "active"}
    if run.end_time is not None:
        info["end_time"] = ms(run.end_time)
    points = points or {}
    metrics = []
    for k, v in run.metrics.items():
        p = points.get(k)
        metrics.append({"key": k, "value": v, "timestamp": ms(p.timestamp) if p else start,
                        "step": p.step if p else 0})
    return {"info": info,
            "data": {"metrics": metrics,
                     "params": [{"key": k, "value": v} for k, v in run.params.items()],
                     "tags": [{"key": k, "value": v} for k, v in tags.items()
                              if k != DELETED_TAG and not k.startswith(DATASET_TAG)]},
            "inputs": {"dataset_inputs": _dataset_inputs(tags)}}


def _get(client: Any, run_id: str) -> Any:
    """The run record (no artifacts, datasets or environment: MLflow's Run has none)."""
    client.flush()
    return client.store.runs.get_run(run_id)


def _full_json(client: Any, run: Any) -> dict:
    """``run_json`` with metric steps and times and its experiment's lifecycle."""
    points = client.latest_points([run.id]).get(run.id)
    exp = client.get_experiment(run.experiment_id)
    return run_json(run, points, exp.lifecycle_stage == "deleted")


def create(client: Any, request: dict) -> dict:
    exp = experiments.active(client, fields.one(request, "experiment_id") or "0")
    tags = fields.key_values(request, "tags", MAX_TAGS, "tag key")
    name = fields.text(request, "run_name", required=False, limit=250) or tags.get(
        "mlflow.runName")
    parent = tags.get("mlflow.parentRunId")
    run = client.create_run(experiment=exp.name, name=name, tags=tags or None,
                            parent_run_id=parent,
                            user=fields.text(request, "user_id", required=False, limit=250),
                            start_time=seconds(request, "start_time"))
    return {"run": run_json(run)}


def get(client: Any, request: dict) -> dict:
    return {"run": _full_json(client, _get(client, fields.run_id(request)))}


def update(client: Any, request: dict) -> dict:
    """Rename, and end a RUNNING run (``status``, ``end_time`` in ms as MLflow sends it)."""
    run_id = fields.run_id(request)
    run = _get(client, run_id)
    name = fields.text(request, "run_name", required=False, limit=250)
    status = fields.one(request, "status")
    if status is not None and status not in _STATUSES:
        raise invalid(f"Invalid value {str(status)[:40]!r} for parameter 'status': one of "
                      f"{', '.join(_STATUSES)}.")
    end = seconds(request, "end_time")
    if name and name != run.name:
        client.rename_run(run_id, name)
    if status in _TERMINAL and run.status == "RUNNING":
        client.end_run(run_id, status, end_time=end)
    return {"run_info": _full_json(client, _get(client, run_id))["info"]}


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


def restore_all(client: Any, experiment: str) -> None:
    """Undo the soft delete of every run of ``experiment`` (MLflow's restore_experiment)."""
    client.flush()
    while True:
        page = client.search_runs(f"tags.{DELETED_TAG} is not null", experiment=experiment,
                                  max_results=1000, warn=False, lifecycle="all")
        for run in page:
            client.delete_tag(run.id, DELETED_TAG)
        client.flush()
        if len(page) < 1000:
            return


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


_DATASET_FIELDS = ("name", "digest", "source_type", "source", "schema", "profile")


def log_inputs(client: Any, request: dict) -> dict:
    """Datasets a run used, kept as run tags ``mlflow.dataset.<name>.<digest>`` holding
    MLflow's DatasetInput (its tags, such as ``mlflow.data.context``, and the dataset's name,
    digest, source and, when they fit in a tag's 6000 characters, schema and profile); read
    back as the run's ``inputs``. Logging the same dataset again replaces its entry."""
    run_id = fields.run_id(request)
    datasets = fields.entries(request, "datasets", 1000)
    tags = {}
    for entry in datasets:
        ds = entry.get("dataset")
        if not isinstance(ds, dict):
            raise invalid("Invalid value for parameter 'datasets': each entry needs a "
                          "'dataset' object.")
        info = {}
        for name in _DATASET_FIELDS:
            value = ds.get(name)
            if value is not None and not isinstance(value, str):
                raise invalid(f"Invalid value for parameter 'dataset.{name}': expected a "
                              "string.")
            if value is not None:
                info[name] = value
        name = fields.key(info.get("name"), "dataset name")
        digest = fields.key(info.get("digest") or "-", "dataset digest")
        entry_tags = fields.key_values(entry, "tags", 100, "dataset input tag key")
        for drop in ("profile", "schema", None):  # what is left out when it is too long
            text = json.dumps({"dataset": info, "tags": [{"key": k, "value": v}
                                                         for k, v in entry_tags.items()]})
            if len(text) <= 6000 or drop is None:
                break
            info.pop(drop, None)
        if len(text) > 6000:
            raise invalid(f"Dataset {name[:60]!r}: its name, digest, source and tags exceed "
                          "6000 characters; shorten the source.")
        tags[f"{DATASET_TAG}{name}.{digest}"[:250]] = text
    if tags:
        _write(client, run_id, lambda: client.set_tags(run_id, tags))
    return {}


def _dataset_inputs(tags: dict[str, str]) -> list[dict]:
    out = []
    for key, value in sorted(tags.items()):
        if key.startswith(DATASET_TAG):
            try:
                entry = json.loads(value)
            except ValueError:
                continue
            if isinstance(entry, dict) and isinstance(entry.get("dataset"), dict):
                out.append({"tags": entry.get("tags") or [], "dataset": entry["dataset"]})
    return out


LOGGED_MODELS_TAG = "mlflow.log-model.history"


def log_model(client: Any, request: dict) -> dict:
    """MLflow's ``record_logged_model``: the model's summary (run id, artifact path, time,
    uuid, flavors without their config) appended to the run's ``mlflow.log-model.history``
    tag, as MLflow's stores keep it."""
    run_id = fields.run_id(request)
    text = fields.text(request, "model_json", limit=1_000_000)
    try:
        model = json.loads(text)
    except ValueError:
        model = None
    if not isinstance(model, dict):
        raise invalid("Invalid value for parameter 'model_json': expected a JSON object.")
    summary = {k: model[k] for k in ("run_id", "utc_time_created", "artifact_path",
                                     "model_uuid") if k in model}
    flavors = model.get("flavors") if isinstance(model.get("flavors"), dict) else {}
    summary["flavors"] = {name: ({k: v for k, v in conf.items() if k != "config"}
                                 if isinstance(conf, dict) else conf)
                          for name, conf in flavors.items()}
    run = _exists(client, run_id)
    try:
        history = json.loads(run.tags.get(LOGGED_MODELS_TAG, "[]"))
    except ValueError:
        history = []
    value = json.dumps([*(history if isinstance(history, list) else []), summary])
    if len(value) > 6000:
        raise invalid(f"The run's {LOGGED_MODELS_TAG} tag would exceed 6000 characters; the "
                      "model's files are logged all the same.")
    _write(client, run_id, lambda: client.set_tags(run_id, {LOGGED_MODELS_TAG: value}))
    return {}


def log_outputs(client: Any, request: dict) -> dict:
    run_id = fields.run_id(request)
    _exists(client, run_id)
    return {}


# ---------------------------------------------------------------------------- metric history
def history(client: Any, request: dict) -> dict:
    """A metric's whole series; a page of it with ``max_results`` (and ``page_token``), as
    MLflow's client asks for long series."""
    run_id = fields.run_id(request)
    key = fields.key(fields.one(request, "metric_key"), "metric name")
    shown, token = paging.page(_points(client, run_id, key), request, None, 10**9)
    out: dict[str, Any] = {"metrics": [_point(key, p) for p in shown]}
    if token:
        out["next_page_token"] = token
    return out


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
    return {"key": key, "value": p.value, "timestamp": ms(p.timestamp), "step": p.step}


#: MLflow's limits for GetMetricHistoryBulkInterval (mlflow/server/handlers.py).
MAX_INTERVAL_RUNS, MAX_INTERVAL_RESULTS = 100, 2500


def history_bulk_interval(client: Any, request: dict) -> dict:
    """One metric of up to 100 runs, sampled to about ``max_results`` steps, as MLflow's UI
    asks for its charts. The semantics are MLflow's: steps are sampled evenly over the union
    of the runs' steps inside ``[start_step, end_step]`` (default ``[0, highest step]``);
    every run's first and last step in the range are always kept; each run then answers
    its points at the sampled steps, ordered by step and time, evenly thinned to at most
    ``max(max_results, number of sampled steps)`` points."""
    ids = request.get("run_ids")
    ids = [] if ids is None else ids if isinstance(ids, list) else [ids]
    if not ids:
        raise invalid("Missing value for required parameter 'run_ids'.")
    if len(ids) > MAX_INTERVAL_RUNS:
        raise invalid(f"GetMetricHistoryBulkInterval request must specify at most "
                      f"{MAX_INTERVAL_RUNS} run_ids. Received {len(ids)} run_ids.")
    run_ids = [fields.run_id({"run_id": r}) for r in ids]
    key = fields.key(fields.one(request, "metric_key"), "metric name")
    size = fields.integer(request, "max_results", MAX_INTERVAL_RESULTS)
    if size is None or not 1 <= size <= MAX_INTERVAL_RESULTS:
        raise invalid(f"max_results must be between 1 and {MAX_INTERVAL_RESULTS}.")
    start, end = fields.integer(request, "start_step"), fields.integer(request, "end_step")
    if (start is None) != (end is None):
        raise invalid("If either start step or end step are specified, both must be "
                      "specified.")
    if start is not None and start > end:
        raise invalid(f"end_step must be greater than start_step. Found start_step={start} "
                      f"and end_step={end}.")
    series = {rid: _points(client, rid, key) for rid in run_ids}
    steps = sampled_steps([[p.step for p in pts] for pts in series.values()], size,
                          start, end)
    out = []
    for rid, pts in series.items():
        chosen = sorted((p for p in pts if p.step in steps), key=lambda p: (p.step, p.timestamp))
        for i in evenly_spaced(len(chosen), max(size, len(steps))):
            out.append({**_point(key, chosen[i]), "run_id": rid})
    return {"metrics": out}


def sampled_steps(runs: list[list[int]], size: int, start: int | None,
                  end: int | None) -> set[int]:
    """The steps MLflow's bulk-interval sampling keeps (see :func:`history_bulk_interval`)."""
    import bisect

    every = sorted({s for steps in runs for s in steps})
    if start is None:
        start, end = 0, (every[-1] if every else 0)
    edges = {s for steps in runs if steps for s in (min(steps), max(steps))
             if start <= s <= end}
    lo, hi = bisect.bisect_left(every, start), bisect.bisect_right(every, end)
    if hi - lo <= size:
        kept = set(every[lo:hi])
    else:
        stride = (hi - lo) / size
        kept = {every[lo + int(i * stride)] for i in range(size) if lo + int(i * stride) < hi}
        kept.add(every[hi - 1])
    return kept | edges


def evenly_spaced(total: int, most: int) -> list[int]:
    """At most ``most`` indices into ``total`` items, evenly apart, first and last kept."""
    if total <= most:
        return list(range(total))
    if most == 1:
        return [total - 1]
    stride = (total - 1) / (most - 1)
    return sorted({round(i * stride) for i in range(most)})


# ---------------------------------------------------------------------------- search
_RENAMES = {"run_name": "name", "user_id": "user", "run_id": "run_id"}


def _translate(text: str) -> str:
    """MLflow's attribute names that ours spell differently, and its times (epoch ms) as
    this store's (epoch seconds), outside quoted strings."""
    parts = re.split(r"('(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`)", text)
    for i in range(0, len(parts), 2):
        parts[i] = _TIME_COMPARISON.sub(
            lambda m: f"{m[1]}{m[2]} {m[3]} {float(m[4]) / 1000!r}", parts[i])
        parts[i] = re.sub(r"\b(?:attributes?\.)?(run_name|user_id)\b",
                          lambda m: _RENAMES[m[1]], parts[i], flags=re.IGNORECASE)
    return "".join(parts)


#: ``start_time > 1700000000000`` (an attribute, not ``metrics.start_time``) and its number.
_TIME_COMPARISON = re.compile(
    r"(?<![\w.`])((?:attributes?\.)?)(start_time|end_time)\s*(<=|>=|!=|=|<|>)\s*"
    r"(-?\d{1,19}(?:\.\d+)?)(?![\w.])", re.IGNORECASE)


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
    view = experiments.VIEWS.get(str(fields.one(request, "run_view_type") or "ACTIVE_ONLY"))
    if view is None:
        raise invalid(f"Invalid value {str(fields.one(request, 'run_view_type'))[:30]!r} for "
                      "parameter 'run_view_type': ACTIVE_ONLY, DELETED_ONLY or ALL.")
    # A run is deleted when it was deleted itself or its experiment was (as in MLflow).
    gone = {e.name for e in client.list_experiments("deleted")}
    gone_list = ", ".join("'" + n.replace("'", "''") + "'" for n in sorted(gone))
    if view == "active":
        clauses.append(f"tags.{DELETED_TAG} is null")
        if gone:
            clauses.append(f"experiment not in ({gone_list})")
    elif view == "deleted":
        clauses.append(f"(tags.{DELETED_TAG} is not null"
                       + (f" or experiment in ({gone_list}))" if gone else ")"))
    size = paging.size(request, 1000, 50_000) or 1000  # never None: it has a default
    order = request.get("order_by") or []
    order = order if isinstance(order, list) else [order]
    if not all(isinstance(o, str) and len(o) < 1000 for o in order) or len(order) > 20:
        raise invalid("Invalid value for parameter 'order_by': a list of up to 20 strings.")
    offset = paging.offset(request)
    client.flush()
    found = list(client.search_runs(" and ".join(clauses) or None,
                                    order_by=[_translate(o) for o in order] or None,
                                    max_results=size + 1, offset=offset, warn=False,
                                    # the view is the clauses above (run or experiment deleted)
                                    lifecycle="all"))
    found_page = found[:size]
    points = client.latest_points([r.id for r in found_page]) if found_page else {}
    out: dict[str, Any] = {"runs": [run_json(r, points.get(r.id), r.experiment in gone)
                                    for r in found_page]}
    if len(found) > size:
        out["next_page_token"] = paging.token(offset + size)
    return out


def now_ms() -> int:
    return int(time.time() * 1000)
