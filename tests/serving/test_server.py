"""The model server as a real process on loopback: every MLflow JSON shape, bad bodies, the
side routes, and requests logged to the monitor (with feedback closing the loop)."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from .conftest import FEATURES, TOKEN, frame, get, post


def test_every_json_shape(server, project):
    X = frame(5, seed=9)
    expected = project.v1_model.predict(X).tolist()
    rows = X.to_numpy().tolist()
    shuffled = X[["c", "a", "b"]]
    bodies = [
        {"dataframe_split": {"columns": FEATURES, "data": rows}},
        {"dataframe_split": {"columns": ["c", "a", "b"], "data": shuffled.to_numpy().tolist(),
                             "index": list(range(5))}},
        {"dataframe_records": json.loads(shuffled.to_json(orient="records"))},
        {"instances": rows},
        {"instances": json.loads(X.to_json(orient="records"))},
        {"inputs": {c: X[c].tolist() for c in FEATURES}},
        {"inputs": rows},
    ]
    for body in bodies:
        status, out = post(server.url + "/invocations", body)
        assert status == 200, out
        assert out["predictions"] == expected, body
        assert len(out["ids"]) == 5


@pytest.mark.parametrize("body,status,code,message", [
    (b"{not json", 400, "BAD_REQUEST", "Malformed JSON"),
    (b"", 400, "BAD_REQUEST", "empty"),
    (b'"just a string"', 400, "BAD_REQUEST", "JSON object"),
    (b'{"columns": ["a"]}', 400, "BAD_REQUEST", "exactly one of"),
    (json.dumps({"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}}).encode(), 400,
     "INVALID_PARAMETER_VALUE", "missing column(s) 'c'"),
    (json.dumps({"inputs": {"a": ["x"], "b": [1], "c": [2]}}).encode(), 400,
     "BAD_REQUEST", "'a' should be float but got a string"),
    (json.dumps({"instances": [[1, 2, None]]}).encode(), 400, "BAD_REQUEST",
     "missing (null)"),
    (json.dumps({"instances": [[1.0, 2.0, 3.0]] * 5000}).encode(), 413, "REQUEST_TOO_LARGE",
     "limit"),
])
def test_bad_bodies_get_clear_4xx_and_server_keeps_serving(server, body, status, code,
                                                           message):
    got, out = post(server.url + "/invocations", body)
    assert (got, out["error_code"]) == (status, code)
    assert message in out["message"]
    ok, result = post(server.url + "/invocations", {"instances": [[0.1, 0.2, 0.3]]})
    assert ok == 200 and result["predictions"] in ([0], [1])


def test_methods_routes_and_media_types(server):
    status, out = post(server.url + "/invocations", b"c,a,b\n3,1,2\n", "text/csv")  # MLflow's CSV
    assert status == 200 and len(out["predictions"]) == 1
    assert post(server.url + "/invocations", b"a,b,c\n1,2,3", "text/plain")[0] == 415
    status, body = get(server.url + "/invocations")
    assert status == 405 and json.loads(body)["error_code"] == "METHOD_NOT_ALLOWED"
    status, body = get(server.url + "/nope")
    assert status == 404 and "POST /invocations" in json.loads(body)["message"]


def test_health_version_metrics(server, project):
    status, body = get(server.url + "/health")
    assert status == 200 and json.loads(body)["status"] == "ok"
    from jupyter_mlops._version import __version__

    assert get(server.url + "/version") == (200, __version__.encode())  # MLflow's plain string
    assert get(server.url + "/ping") == (200, b"\n")
    status, body = get(server.url + "/info")
    info = json.loads(body)
    assert info["model"] == "clf" and info["fast_path"] is True
    assert info["server"] == f"jupyter-mlops {__version__}"
    assert [c["name"] for c in info["signature"]["columns"]] == FEATURES
    post(server.url + "/invocations", {"instances": [[1, 2, 3]]})
    assert post(server.url + "/invocations", {"instances": 5})[0] == 400  # counted below too
    status, body = get(server.url + "/metrics")
    text = body.decode()
    assert status == 200
    assert 'mlops_serving_requests_total{route="invocations",status="200"}' in text
    assert 'mlops_serving_requests_total{route="invocations",status="400"}' in text
    assert "mlops_serving_request_seconds_bucket" in text
    assert "mlops_serving_model_version" in text and "mlops_monitor_predictions_total" in text


def test_requests_are_monitored_and_feedback_closes_the_loop(server, project):
    from jupyter_mlops.monitoring.monitor import get_monitor

    X = frame(120, seed=11)
    status, out = post(server.url + "/invocations",
                       {"dataframe_split": {"columns": FEATURES,
                                            "data": X.to_numpy().tolist()},
                        "ids": [f"q{i}" for i in range(120)]})
    assert status == 200 and out["ids"][:2] == ["q0", "q1"]
    mon = get_monitor("clf@champion", client=project.client)
    deadline = time.time() + 20
    while time.time() < deadline and mon.store.record_counts(mon.id)[0] < 100:
        time.sleep(0.2)  # the server logs off the request path, in batches
    assert mon.store.record_counts(mon.id)[0] >= 100
    truth = (X["a"] + X["b"] > 0).astype(int).tolist()
    status, fb = post(server.url + "/feedback", {"ids": out["ids"], "y_true": truth},
                      token=TOKEN)
    assert status == 200 and fb["received"] == 120
    accuracy = [w["accuracy"] for w in fb["windows"].values()]
    assert accuracy and all(a > 0.9 for a in accuracy)
    assert post(server.url + "/feedback", {"ids": ["x"]}, token=TOKEN)[0] == 400
    status, body = get(server.url + "/metrics")
    assert "mlops_monitor_quality" in body.decode()
    np.testing.assert_array_equal(out["predictions"], project.v1_model.predict(X))
