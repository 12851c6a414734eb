"""Hostile input on the route table, called as both doors call it (``routes.handle``) on a
real Client: every answer is MLflow's error shape with a 4xx, never a 500, and no artifact
path leaves its run."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_mlops.client import Client
from jupyter_mlops.mlflow_api.routes import TABLE, handle


@pytest.fixture(scope="module", params=[
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
])
def client(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    if request.param == "sqlite":
        with Client(f"sqlite:///{folder / 'm.db'}", str(folder / "art")) as c:
            yield c
        return
    from tests.conftest import _postgres_database

    for url in _postgres_database(request):
        with Client(url, str(folder / "art")) as c:
            yield c


@pytest.fixture(scope="module")
def run_id(client):
    answer = call(client, "POST", "mlflow/runs/create", {"experiment_id": "0"})
    assert answer.status == 200, answer.body
    return answer.body["run"]["info"]["run_id"]


def call(client, method, path, body=None, query=None):
    raw = json.dumps(body).encode() if body is not None else b""
    return handle(client, method, path, query or {}, raw)


def history(client, run_id, key):
    answer = call(client, "GET", "mlflow/metrics/get-history",
                  query={"run_id": [run_id], "metric_key": [key]})
    assert answer.status == 200, answer.body
    return answer.body["metrics"]


def assert_refused(answer, status=400):
    assert answer.status == status, answer.body
    assert set(answer.body) == {"error_code", "message"} and answer.body["message"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(sorted(TABLE)), body=st.dictionaries(
    st.sampled_from(["run_id", "experiment_id", "name", "key", "value", "metrics", "params",
                     "tags", "filter", "max_results", "order_by", "page_token", "version",
                     "alias", "source", "timestamp", "step", "status", "experiment_ids",
                     "metric_key", "run_view_type"]), json_values, max_size=6))
def test_no_body_makes_a_500(client, route, body):
    method, path = route
    if method == "GET":
        answer = call(client, method, path, query={k: [str(v)] for k, v in body.items()})
    else:
        answer = call(client, method, path, body)
    assert answer.status < 500 or answer.body["error_code"] == "NOT_IMPLEMENTED", answer.body
    if answer.status >= 400:
        assert set(answer.body) == {"error_code", "message"}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(segments=st.lists(st.sampled_from(["..", ".", "", "a", "%2e%2e", "..\\x", "/etc",
                                          "b\x00", "c\n"]), min_size=1, max_size=5))
def test_artifact_paths_never_escape(client, run_id, segments):
    rel = "/".join(segments)
    path = f"mlflow-artifacts/artifacts/0/{run_id}/artifacts/{rel}"
    answer = handle(client, "PUT", path, {}, b"data")
    if answer.status == 200:  # only plain names are stored, and inside the run
        names = [a.name for a in client.list_artifacts(run_id)]
        assert all(".." not in n.split("/") and not n.startswith("/") for n in names)
    else:
        assert_refused(answer)


@pytest.mark.parametrize("bad", ["", "x" * 65, "../etc", "a b", "0" * 32])
def test_bad_run_ids(client, bad):
    answer = call(client, "GET", "mlflow/runs/get", query={"run_id": [bad]})
    assert_refused(answer, 404 if bad == "0" * 32 else 400)


def test_huge_batch_is_refused_whole(client, run_id):
    metrics = [{"key": "m", "value": 1.0, "timestamp": 0, "step": i} for i in range(1001)]
    assert_refused(call(client, "POST", "mlflow/runs/log-batch",
                        {"run_id": run_id, "metrics": metrics}))
    assert history(client, run_id, "m") == []


def test_one_bad_metric_logs_none(client, run_id):
    metrics = [{"key": "good", "value": 1.0, "timestamp": 0, "step": 0},
               {"key": "bad", "value": "one", "timestamp": 0, "step": 0}]
    assert_refused(call(client, "POST", "mlflow/runs/log-batch",
                        {"run_id": run_id, "metrics": metrics}))
    assert history(client, run_id, "good") == []


@pytest.mark.parametrize("value", [math.nan, "NaN", "Infinity", "-Infinity"])
def test_non_finite_metrics_are_kept_as_mlflow_does(client, run_id, value):
    key = f"nf{str(value).strip('-')}"
    answer = call(client, "POST", "mlflow/runs/log-metric",
                  {"run_id": run_id, "key": key, "value": value, "timestamp": 1, "step": 0})
    assert answer.status == 200, answer.body
    history = call(client, "GET", "mlflow/metrics/get-history",
                   query={"run_id": [run_id], "metric_key": [key]})
    assert json.loads(history.encoded())["metrics"][0]["value"] in (
        "NaN", "Infinity", "-Infinity")


def test_unknown_endpoint_and_bad_json(client):
    assert_refused(call(client, "POST", "mlflow/nope"), 404)
    assert_refused(handle(client, "POST", "mlflow/runs/create", {}, b"{not json"))
    assert_refused(handle(client, "POST", "mlflow/runs/create", {}, b"[1, 2]"))


def test_bad_page_token_and_filter(client):
    assert_refused(call(client, "POST", "mlflow/runs/search", {"page_token": "%%%"}))
    assert_refused(call(client, "POST", "mlflow/runs/search", {"filter": "metrics.x >"}))


def test_a_param_keeps_its_first_value_as_in_mlflow(client, run_id):
    ok = call(client, "POST", "mlflow/runs/log-parameter",
              {"run_id": run_id, "key": "frozen", "value": "1"})
    assert ok.status == 200, ok.body
    assert call(client, "POST", "mlflow/runs/log-parameter",
                {"run_id": run_id, "key": "frozen", "value": "1"}).status == 200
    assert_refused(call(client, "POST", "mlflow/runs/log-batch",
                        {"run_id": run_id, "params": [{"key": "frozen", "value": "2"}]}))
    assert client.get_run(run_id).params["frozen"] == "1"
