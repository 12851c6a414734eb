"""A tracked run, its dataset and its registered model become OpenLineage START / OTHER /
COMPLETE (or FAIL) events, written by the client's own file and HTTP transports."""

from __future__ import annotations

import json
import logging
import uuid

import pandas as pd
from sklearn.linear_model import LinearRegression

from jupyter_mlops.notify import openlineage as ol
from jupyter_mlops.pipelines.recording import TAG_PIPELINE, TAG_STEP

from ..notify.test_webhooks import Receiver
from .conftest import check_required


def _events(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _train_and_register(client, run_id: str) -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [2.0, 4.0, 6.0]})
    client.log_dataset(run_id, frame, "train")
    client.registry.register_model(LinearRegression().fit(frame[["x"]], frame["y"]),
                                   "doubler", run=run_id)


def test_a_run_with_a_dataset_and_a_model_writes_start_and_complete(
        lineage_client, configure, tmp_path, store_url):
    client = lineage_client
    out = tmp_path / "events.jsonl"
    configure({"type": "file", "log_file_path": str(out), "append": True})
    run = client.create_run(experiment="churn", name="fit")
    _train_and_register(client, run.id)
    client.end_run(run.id)
    assert client.lineage_events.wait(30)

    events = _events(out)
    for event in events:
        check_required(event)
    assert [e["eventType"] for e in events] == ["START", "OTHER", "COMPLETE"]
    assert {e["run"]["runId"] for e in events} == {str(uuid.UUID(run.id))}
    start, registered, complete = events
    namespace = ol.namespace_of(store_url)
    assert (complete["job"]["namespace"], complete["job"]["name"]) == (namespace, "churn")
    [train] = complete["inputs"]
    assert (train["namespace"], train["name"]) == (namespace, "datasets/train")
    digest = client.get_run(run.id).datasets[0].digest
    assert train["facets"]["version"]["datasetVersion"] == digest
    assert [f["name"] for f in train["facets"]["schema"]["fields"]] == ["x", "y"]
    [model] = complete["outputs"]
    assert model["name"] == "models/doubler" and model["facets"]["version"]["datasetVersion"] == "1"
    assert [o["name"] for o in registered["outputs"]] == ["models/doubler"]
    assert start["inputs"] == [] and "parent" not in start["run"].get("facets", {})


def test_a_failed_pipeline_step_writes_fail_with_its_parent(lineage_client, configure, tmp_path):
    client = lineage_client
    out = tmp_path / "events.jsonl"
    configure({"type": "file", "log_file_path": str(out), "append": True})
    # The tags and parent pipelines/recording.py gives a step's run.
    parent = client.create_run(experiment="pipelines", name="nightly",
                               tags={TAG_PIPELINE: "nightly"})
    step = client.create_run(experiment="pipelines", name="train",
                             tags={TAG_PIPELINE: "nightly", TAG_STEP: "train"},
                             parent_run_id=parent.id)
    client.end_run(step.id, "FAILED")
    client.end_run(parent.id, "FAILED")
    assert client.lineage_events.wait(30)

    events = _events(out)
    for event in events:
        check_required(event)
    by_job = [(e["job"]["name"], e["eventType"]) for e in events]
    assert by_job == [("nightly", "START"), ("nightly.train", "START"),
                      ("nightly.train", "FAIL"), ("nightly", "FAIL")]
    step_fail = events[2]
    parent_facet = step_fail["run"]["facets"]["parent"]
    assert parent_facet["run"]["runId"] == str(uuid.UUID(parent.id))
    assert parent_facet["job"]["name"] == "nightly"
    assert step_fail["run"]["facets"]["errorMessage"]["message"]


def test_an_http_receiver_gets_the_same_events(lineage_client, no_openlineage_env,
                                               monkeypatch):
    client = lineage_client
    receiver = Receiver()
    try:
        monkeypatch.setenv("OPENLINEAGE_URL", receiver.url.rsplit("/", 1)[0])
        run = client.create_run(experiment="churn")
        _train_and_register(client, run.id)
        client.end_run(run.id)
        assert client.lineage_events.wait(30)
        events = [json.loads(body) for _, body in receiver.requests]
    finally:
        receiver.close()
    for event in events:
        check_required(event)
    assert [e["eventType"] for e in events] == ["START", "OTHER", "COMPLETE"]
    assert [d["name"] for d in events[2]["inputs"]] == ["datasets/train"]
    assert [d["name"] for d in events[2]["outputs"]] == ["models/doubler"]


def test_a_receiver_that_is_down_never_fails_the_run(lineage_client, configure, caplog):
    client = lineage_client
    receiver = Receiver()
    url = receiver.url.rsplit("/", 1)[0]
    receiver.close()  # nothing listens there now
    configure({"type": "http", "url": url, "retry": {"total": 0}})
    with caplog.at_level(logging.WARNING, logger="jupyter_mlops.notify.openlineage"):
        run = client.create_run(experiment="churn")
        client.log_metric(run.id, "loss", 0.5)
        client.end_run(run.id)
        assert client.lineage_events.wait(60)
    assert client.get_run(run.id).status == "FINISHED"
    assert client.get_run(run.id).metrics == {"loss": 0.5}
    warnings = [r for r in caplog.records if r.name == "jupyter_mlops.notify.openlineage"]
    assert len(warnings) == 1 and "not delivered" in warnings[0].getMessage()


def test_a_killed_run_writes_abort(lineage_client, configure, tmp_path):
    client = lineage_client
    out = tmp_path / "events.jsonl"
    configure({"type": "file", "log_file_path": str(out), "append": True})
    run = client.create_run(experiment="churn", name="interrupted")
    client.end_run(run.id, "KILLED")
    assert client.lineage_events.wait(30)

    events = _events(out)
    for event in events:
        check_required(event)
    assert [e["eventType"] for e in events] == ["START", "ABORT"]
    abort = events[1]
    from datetime import datetime

    # Stamped with the run's end, not the moment the event was sent.
    at = datetime.fromisoformat(abort["eventTime"]).timestamp()
    assert abs(at - client.get_run(run.id).end_time) < 1e-3
    assert "errorMessage" not in abort["run"].get("facets", {})
