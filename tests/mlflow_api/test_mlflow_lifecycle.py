"""Experiment lifecycle and tags, registry edits, client times and the sampled metric history,
through the real ``mlflow`` client against ``jupyter mlops server`` (issue 18)."""

from __future__ import annotations

import json
import pickle
import urllib.error
import urllib.parse
import urllib.request

import pytest


def raw(server, method: str, path: str, body: dict | None = None,
        query: list[tuple[str, str]] | None = None) -> tuple[int, dict]:
    """One request as the MLflow UI sends it: (status, JSON answer)."""
    url = f"{server.url}/api/2.0/mlflow/{path}"
    if query:
        url += "?" + urllib.parse.urlencode(query)
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {server.token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def refused(exc_info, code: str) -> None:
    assert exc_info.value.error_code == code, exc_info.value


@pytest.fixture(scope="module")
def client(mlflow_at):
    from mlflow import MlflowClient

    return MlflowClient()


# ------------------------------------------------------------------ experiments
def test_rename_tag_delete_restore_an_experiment(client, server):
    from mlflow.entities import ViewType
    from mlflow.exceptions import MlflowException

    exp_id = client.create_experiment("life-a", tags={"team": "blue"})
    client.create_experiment("life-taken")
    run = client.create_run(exp_id)
    client.set_terminated(run.info.run_id)
    assert client.get_experiment(exp_id).tags == {"team": "blue"}
    client.set_experiment_tag(exp_id, "stage", "dev")
    client.delete_experiment_tag(exp_id, "team")
    assert client.get_experiment(exp_id).tags == {"stage": "dev"}
    with pytest.raises(MlflowException) as exc:
        client.delete_experiment_tag(exp_id, "team")
    refused(exc, "RESOURCE_DOES_NOT_EXIST")

    client.rename_experiment(exp_id, "life-b")
    assert client.get_experiment_by_name("life-b").experiment_id == exp_id
    assert client.get_experiment_by_name("life-a") is None
    with pytest.raises(MlflowException) as exc:
        client.rename_experiment(exp_id, "life-taken")
    refused(exc, "RESOURCE_ALREADY_EXISTS")

    client.delete_experiment(exp_id)
    exp = client.get_experiment(exp_id)
    assert exp.lifecycle_stage == "deleted"
    names = lambda view: {e.name for e in client.search_experiments(view_type=view)}  # noqa: E731
    assert "life-b" not in names(ViewType.ACTIVE_ONLY)
    assert "life-b" in names(ViewType.DELETED_ONLY) and "life-taken" not in names(
        ViewType.DELETED_ONLY)
    assert {"life-b", "life-taken"} <= names(ViewType.ALL)
    # Its runs are deleted with it, as in MLflow, and it takes no new ones.
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    assert client.search_runs([exp_id]) == []
    assert [r.info.run_id for r in client.search_runs(
        [exp_id], run_view_type=ViewType.DELETED_ONLY)] == [run.info.run_id]
    with pytest.raises(MlflowException) as exc:
        client.create_run(exp_id)
    refused(exc, "INVALID_STATE")
    with pytest.raises(MlflowException) as exc:
        client.create_experiment("life-b")
    refused(exc, "RESOURCE_ALREADY_EXISTS")

    client.restore_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "active"
    assert [r.info.run_id for r in client.search_runs([exp_id])] == [run.info.run_id]
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "active"


def test_deleting_an_experiment_hides_its_runs_everywhere_and_restore_brings_all_back(
        client, server):
    """MLflow marks every run of a deleted experiment deleted and every one active again on
    restore (one deleted by itself before included); our own listings follow the same view."""
    from mlflow.entities import ViewType

    from jupyter_mlops.client import Client

    exp_id = client.create_experiment("life-runs")
    first, second = (client.create_run(exp_id).info.run_id for _ in range(2))
    client.delete_run(first)
    client.delete_experiment(exp_id)
    ours = Client(server.db, server.artifacts)
    try:
        assert ours.search_runs(experiment="life-runs") == []
        assert ours.get_run(second).id == second  # by id: still there
        assert client.search_runs([exp_id], run_view_type=ViewType.ACTIVE_ONLY) == []
        client.restore_experiment(exp_id)
        assert {r.info.run_id for r in client.search_runs([exp_id])} == {first, second}
        assert client.get_run(first).info.lifecycle_stage == "active"
        assert {r.id for r in ours.search_runs(experiment="life-runs")} == {first, second}
    finally:
        ours.writer.close()


def test_experiment_errors_have_mlflows_codes_and_statuses(client, server):
    from mlflow.exceptions import MlflowException

    for call in (lambda: client.rename_experiment("987654", "x"),
                 lambda: client.delete_experiment("987654"),
                 lambda: client.restore_experiment("987654"),
                 lambda: client.set_experiment_tag("987654", "k", "v")):
        with pytest.raises(MlflowException) as exc:
            call()
        refused(exc, "RESOURCE_DOES_NOT_EXIST")
    with pytest.raises(MlflowException) as exc:
        client.delete_experiment("0")
    refused(exc, "INVALID_PARAMETER_VALUE")
    assert raw(server, "POST", "experiments/delete", {"experiment_id": "987654"})[0] == 404
    status, body = raw(server, "POST", "experiments/update",
                       {"experiment_id": "0", "new_name": "x\ny"})
    assert status == 400 and body["error_code"] == "INVALID_PARAMETER_VALUE"
    status, body = raw(server, "POST", "experiments/search", {"view_type": "SOME"})
    assert status == 400 and "view_type" in body["message"]
    status, body = raw(server, "POST", "experiments/search", {"filter": "name ~ 'x'"})
    assert status == 400 and body["error_code"] == "INVALID_PARAMETER_VALUE"


def test_search_experiments_filter_order_and_pages(client):
    ids = [client.create_experiment(f"srch-{i}", tags={"k": "even" if i % 2 == 0 else "odd"})
           for i in range(4)]
    found = client.search_experiments(filter_string="name LIKE 'srch-%' AND tags.k = 'even'",
                                      order_by=["name DESC"])
    assert [e.name for e in found] == ["srch-2", "srch-0"]
    newest_first = client.search_experiments(filter_string="name LIKE 'srch-%'")
    assert [e.experiment_id for e in newest_first] == ids[::-1]
    first = client.search_experiments(filter_string="name ILIKE 'SRCH-%'",
                                      order_by=["name ASC"], max_results=3)
    assert [e.name for e in first] == ["srch-0", "srch-1", "srch-2"] and first.token
    rest = client.search_experiments(filter_string="name ILIKE 'SRCH-%'",
                                     order_by=["name ASC"], max_results=3,
                                     page_token=first.token)
    assert [e.name for e in rest] == ["srch-3"] and not rest.token
    created = client.get_experiment(ids[1]).creation_time
    later = client.search_experiments(
        filter_string=f"name LIKE 'srch-%' AND creation_time >= {created}",
        order_by=["experiment_id"])
    assert [e.experiment_id for e in later] == [i for i in ids
                                                if client.get_experiment(i).creation_time
                                                >= created]


def test_metric_history_pages_as_mlflows_rest_store_asks(client, server):
    """MLflow's RestStore sends max_results and page_token for a long series and follows
    next_page_token; without max_results the whole series comes in one answer."""
    exp_id = client.create_experiment("history-pages")
    run_id = client.create_run(exp_id).info.run_id
    for step in range(7):
        client.log_metric(run_id, "m", step / 2, timestamp=1_700_000_000_000 + step, step=step)
    store = client._tracking_client.store  # the RestStore behind MlflowClient
    steps, token, pages = [], None, 0
    while True:
        page = store.get_metric_history(run_id, "m", max_results=3, page_token=token)
        steps += [m.step for m in page]
        pages, token = pages + 1, page.token
        if not token:
            break
    assert steps == list(range(7)) and pages == 3
    assert [m.step for m in client.get_metric_history(run_id, "m")] == list(range(7))
    # A bare number (what earlier versions of this server answered) still works as a token;
    # anything else, or a page size below 1, is one clear refusal.
    status, body = raw(server, "GET", "metrics/get-history", query=[
        ("run_id", run_id), ("metric_key", "m"), ("max_results", "2"), ("page_token", "6")])
    assert status == 200 and [m["step"] for m in body["metrics"]] == [6]
    assert "next_page_token" not in body
    for bad in ([("page_token", "%%%")], [("max_results", "0")], [("max_results", "x")]):
        status, body = raw(server, "GET", "metrics/get-history",
                           query=[("run_id", run_id), ("metric_key", "m"), *bad])
        assert status == 400 and body["error_code"] == "INVALID_PARAMETER_VALUE", (bad, body)


# ------------------------------------------------------------------ registry
@pytest.fixture(scope="module")
def model_run(client):
    """A run whose ``model/`` folder holds a model file (registered as is, never loaded)."""
    import tempfile
    from pathlib import Path

    exp_id = client.create_experiment("registry-edits")
    run = client.create_run(exp_id)
    folder = Path(tempfile.mkdtemp()) / "model"
    folder.mkdir()
    (folder / "model.pkl").write_bytes(pickle.dumps({"weights": [1, 2]}))
    client.log_artifacts(run.info.run_id, str(folder), "model")
    client.set_terminated(run.info.run_id)
    return run.info.run_id


def test_empty_registered_model_rename_describe_and_tag(client, model_run, server):
    from mlflow.exceptions import MlflowException

    created = client.create_registered_model("empty-model", tags={"owner": "ana"},
                                             description="nothing yet")
    assert created.name == "empty-model" and created.tags == {"owner": "ana"}
    assert "empty-model" in [m.name for m in client.search_registered_models()]
    got = client.get_registered_model("empty-model")
    assert got.description == "nothing yet" and got.latest_versions == []
    with pytest.raises(MlflowException) as exc:
        client.create_registered_model("empty-model")
    refused(exc, "RESOURCE_ALREADY_EXISTS")

    client.update_registered_model("empty-model", description="now with versions")
    client.set_registered_model_tag("empty-model", "stage", "beta")
    client.delete_registered_model_tag("empty-model", "owner")
    with pytest.raises(MlflowException) as exc:
        client.delete_registered_model_tag("empty-model", "owner")
    refused(exc, "RESOURCE_DOES_NOT_EXIST")
    client.create_registered_model("other-model")
    with pytest.raises(MlflowException) as exc:
        client.rename_registered_model("empty-model", "other-model")
    refused(exc, "RESOURCE_ALREADY_EXISTS")
    client.rename_registered_model("empty-model", "named-model")
    model = client.get_registered_model("named-model")
    assert model.description == "now with versions" and model.tags == {"stage": "beta"}
    assert model.last_updated_timestamp >= model.creation_timestamp
    assert [m.name for m in client.search_registered_models(
        filter_string="tags.stage = 'beta'")] == ["named-model"]
    # AND inside a quoted value is part of the value, not a second clause.
    client.set_registered_model_tag("named-model", "note", "fast AND small")
    assert [m.name for m in client.search_registered_models(
        filter_string="tags.note = 'fast AND small' AND name LIKE 'named%'")] == ["named-model"]

    version = client.create_model_version("named-model", f"runs:/{model_run}/model",
                                          run_id=model_run, tags={"data": "v1"})
    assert version.version == "1" and version.tags == {"data": "v1"}
    client.update_model_version("named-model", "1", description="first")
    client.set_model_version_tag("named-model", "1", "checked", "yes")
    client.delete_model_version_tag("named-model", "1", "data")
    got = client.get_model_version("named-model", "1")
    assert got.description == "first" and got.tags == {"checked": "yes"}
    assert got.last_updated_timestamp >= got.creation_timestamp
    search = client.search_model_versions
    assert [v.version for v in search("name = 'named-model' AND tags.checked = 'yes'")] == ["1"]
    assert [v.name for v in search(f"run_id IN ('{model_run}', 'x')")] == ["named-model"]
    assert search("name = 'named-model' AND version_number > 1") == []
    assert search("tags.name = 'named-model'") == []
    with pytest.raises(MlflowException) as exc:
        search("name ~ 'x'")
    refused(exc, "INVALID_PARAMETER_VALUE")
    with pytest.raises(MlflowException) as exc:
        client.delete_model_version_tag("named-model", "1", "data")
    refused(exc, "RESOURCE_DOES_NOT_EXIST")
    with pytest.raises(MlflowException) as exc:
        client.set_model_version_tag("named-model", "7", "k", "v")
    refused(exc, "RESOURCE_DOES_NOT_EXIST")
    status, body = raw(server, "PATCH", "registered-models/update",
                       {"name": "no-such-model", "description": "x"})
    assert status == 404 and body["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    status, body = raw(server, "POST", "model-versions/set-tag",
                       {"name": "named-model", "version": "1", "key": "", "value": "v"})
    assert status == 400 and body["error_code"] == "INVALID_PARAMETER_VALUE"


def test_the_registry_client_and_panel_listing_see_the_empty_model(client, server):
    from jupyter_mlops.client import Client

    client.create_registered_model("panel-empty")
    with Client(server.db, server.artifacts) as ours:
        listed = {m.name: m for m in ours.registry.list_models()}
    assert listed["panel-empty"].latest_version is None


# ------------------------------------------------------------------ times on the wire
def _times(value, path=""):
    """Every (path, value) whose field name says it holds a time."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k.endswith(("time", "timestamp", "timestamp_ms")) and not isinstance(v, dict):
                yield f"{path}.{k}", v
            yield from _times(v, f"{path}.{k}")
    elif isinstance(value, list):
        for item in value:
            yield from _times(item, path + "[]")


def test_client_times_are_kept_and_every_time_is_integer_ms(client, server, model_run):
    exp_id = client.create_experiment("times")
    run = client.create_run(exp_id, start_time=1_600_000_000_123)
    run_id = run.info.run_id
    client.log_metric(run_id, "m", 1.5, timestamp=1_600_000_001_456, step=3)
    client.log_metric(run_id, "m", 2.5, timestamp=1_600_000_002_789, step=4)
    client.set_terminated(run_id, end_time=1_600_000_009_999)
    got = client.get_run(run_id)
    assert (got.info.start_time, got.info.end_time) == (1_600_000_000_123, 1_600_000_009_999)
    # Filters on start_time/end_time are in ms, as MLflow's client writes them.
    assert [r.info.run_id for r in client.search_runs(
        [exp_id], "attributes.start_time >= 1600000000123 and end_time = 1600000009999")] \
        == [run_id]
    assert client.search_runs([exp_id], "attributes.start_time > 1600000000123") == []
    [metric] = [m for m in client.get_metric_history(run_id, "m") if m.step == 4]
    assert metric.timestamp == 1_600_000_002_789
    status, body = raw(server, "GET", "runs/get", query=[("run_id", run_id)])
    assert status == 200
    assert body["run"]["data"]["metrics"] == [
        {"key": "m", "value": 2.5, "timestamp": 1_600_000_002_789, "step": 4}]
    answers = [body,
               raw(server, "GET", "experiments/get", query=[("experiment_id", exp_id)])[1],
               raw(server, "POST", "runs/search", {"experiment_ids": [exp_id]})[1],
               raw(server, "GET", "metrics/get-history",
                   query=[("run_id", run_id), ("metric_key", "m")])[1],
               raw(server, "GET", "registered-models/search")[1],
               raw(server, "GET", "model-versions/search")[1]]
    found = [pair for answer in answers for pair in _times(answer)]
    assert len(found) > 10
    assert all(type(v) is int for _p, v in found), [p for p, v in found if type(v) is not int]


def test_bad_client_times_are_refused(client, server):
    exp_id = client.create_experiment("bad-times")
    for bad in (-1, "soon", 10**20):
        status, body = raw(server, "POST", "runs/create",
                           {"experiment_id": exp_id, "start_time": bad})
        assert status == 400 and body["error_code"] == "INVALID_PARAMETER_VALUE", body
        assert "start_time" in body["message"]


# ------------------------------------------------------------------ inputs, tags, end
def test_log_input_datasets_come_back_as_run_inputs(mlflow_at, client):
    import numpy as np

    mlflow = mlflow_at
    mlflow.set_experiment("inputs")
    dataset = mlflow.data.from_numpy(np.arange(6.0).reshape(3, 2), name="train-array")
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="training")
        mlflow.set_tag("drop", "me")
    client.delete_tag(run.info.run_id, "drop")
    got = client.get_run(run.info.run_id)
    [entry] = got.inputs.dataset_inputs
    assert entry.dataset.name == "train-array" and entry.dataset.digest == dataset.digest
    assert {t.key: t.value for t in entry.tags}["mlflow.data.context"] == "training"
    assert "drop" not in got.data.tags
    assert not any(k.startswith("mlflow.dataset.") for k in got.data.tags)


# ------------------------------------------------------------------ bulk interval history
def _reference(client, run_ids, key, max_results, start, end):
    """MLflow's own sampling (AbstractStore.get_metric_history_bulk_interval) over the
    histories MLflow's client reads from this server."""
    from mlflow.store.tracking.abstract_store import AbstractStore

    class Histories:
        _evenly_spaced_indices = staticmethod(AbstractStore._evenly_spaced_indices)

        def get_metric_history(self, run_id, metric_key):
            return client.get_metric_history(run_id, metric_key)

    found = AbstractStore.get_metric_history_bulk_interval(
        Histories(), run_ids=run_ids, metric_key=key, max_results=max_results,
        start_step=start, end_step=end)
    return [(m.run_id, m.step, m.value, m.timestamp) for m in found]


def test_history_bulk_interval_samples_as_mlflow(client, server):
    exp_id = client.create_experiment("interval")
    a, b = (client.create_run(exp_id).info.run_id for _ in range(2))
    client.log_batch(a, metrics=_metrics("loss", range(0, 300, 1)))
    client.log_batch(b, metrics=_metrics("loss", range(5, 400, 3)))
    client.log_batch(b, metrics=_metrics("loss", [7, 7, 7]))  # several values at one step
    for max_results, start, end in [(2500, None, None), (10, None, None), (1, None, None),
                                    (25, 50, 120), (7, 390, 1000), (3, -5, 2)]:
        query = [("run_ids", a), ("run_ids", b), ("metric_key", "loss"),
                 ("max_results", str(max_results))]
        if start is not None:
            query += [("start_step", str(start)), ("end_step", str(end))]
        status, body = raw(server, "GET", "metrics/get-history-bulk-interval", query=query)
        assert status == 200, body
        ours = [(m["run_id"], m["step"], m["value"], m["timestamp"])
                for m in body.get("metrics", [])]
        assert ours == _reference(client, [a, b], "loss", max_results, start, end), (
            max_results, start, end)


def _metrics(key, steps):
    from mlflow.entities import Metric

    return [Metric(key, float(s) / 7, 1_700_000_000_000 + i, s) for i, s in enumerate(steps)]


@pytest.mark.parametrize("query, status, words", [
    ([("metric_key", "m")], 400, "run_ids"),
    ([("run_ids", "a" * 32), ("metric_key", "m"), ("start_step", "1")], 400, "both"),
    ([("run_ids", "a" * 32), ("metric_key", "m"), ("start_step", "5"), ("end_step", "1")],
     400, "greater"),
    ([("run_ids", "a" * 32), ("metric_key", "m"), ("max_results", "0")], 400, "between"),
    ([("run_ids", "a" * 32), ("metric_key", "m"), ("max_results", "2501")], 400, "between"),
    ([("run_ids", "a" * 32)] * 101 + [("metric_key", "m")], 400, "at most"),
    ([("run_ids", "a" * 32), ("metric_key", "m")], 404, "a" * 32),
])
def test_history_bulk_interval_refusals(server, query, status, words):
    got, body = raw(server, "GET", "metrics/get-history-bulk-interval", query=query)
    assert got == status, body
    assert set(body) == {"error_code", "message"} and words in body["message"]


# ------------------------------------------------------------------ logged models
def test_logged_model_tags_delete_and_the_log_model_history(client):
    from mlflow.exceptions import MlflowException
    from mlflow.models import Model

    exp_id = client.create_experiment("logged-models")
    run_id = client.create_run(exp_id).info.run_id
    model = client.create_logged_model(exp_id, name="m", source_run_id=run_id,
                                       tags={"a": "1", "b": "2"})
    client.delete_logged_model_tag(model.model_id, "a")
    assert client.get_logged_model(model.model_id).tags == {"b": "2"}
    with pytest.raises(MlflowException) as exc:
        client.delete_logged_model_tag(model.model_id, "a")
    refused(exc, "RESOURCE_DOES_NOT_EXIST")
    client.delete_logged_model(model.model_id)
    with pytest.raises(MlflowException) as exc:
        client.get_logged_model(model.model_id)
    refused(exc, "RESOURCE_DOES_NOT_EXIST")
    assert model.model_id not in [m.model_id for m in client.search_logged_models([exp_id])]

    summary = Model(artifact_path="model", run_id=run_id)
    summary.add_flavor("python_function", loader_module="my_loader", config={"big": 1})
    for _ in range(2):
        client._record_logged_model(run_id, summary)
    history = json.loads(client.get_run(run_id).data.tags["mlflow.log-model.history"])
    assert len(history) == 2 and history[0]["artifact_path"] == "model"
    assert history[0]["flavors"]["python_function"]["loader_module"] == "my_loader"
    assert "config" not in history[0]["flavors"]["python_function"]
