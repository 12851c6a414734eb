"""Hostile names and tag values where they enter: experiment renames and tags, registered
model names, descriptions and tags, through the route table on a real Client (SQLite and
PostgreSQL). Every answer is a 200 whose value reads back exactly, or MLflow's error shape
with a 4xx — never a 500, never a value changed on the way."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_mlops.client import Client
from jupyter_mlops.mlflow_api.routes import handle


@pytest.fixture(scope="module", params=[
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
])
def client(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile-names")
    if request.param == "sqlite":
        with Client(f"sqlite:///{folder / 'm.db'}", str(folder / "art")) as c:
            yield c
        return
    from tests.conftest import _postgres_database

    for url in _postgres_database(request):
        with Client(url, str(folder / "art")) as c:
            yield c


def call(client, method, path, body=None, query=None):
    raw = json.dumps(body).encode() if body is not None else b""
    return handle(client, method, f"mlflow/{path}", query or {}, raw)


def ok_or_refused(answer) -> bool:
    if answer.status == 200:
        return True
    assert 400 <= answer.status < 500, answer.body
    assert set(answer.body) == {"error_code", "message"} and answer.body["message"]
    assert "\n" not in answer.body["message"].strip()
    return False


_counter = itertools.count()
hostile = st.one_of(
    st.text(max_size=300),
    st.sampled_from(["", " ", "Default", "a\x00b", "\ud800", "x" * 257, "../etc",
                     "'; DROP TABLE experiments; --", "name' OR '1'='1", "%", "_", "\t\n",
                     "é🙂", "0", "-1"]))
values = st.one_of(st.text(max_size=80), st.sampled_from(["", "\x00", "\ud800", "v" * 5001]),
                   st.integers(), st.none(), st.lists(st.text(max_size=3), max_size=2))


@pytest.fixture(scope="module")
def experiment_id(client):
    answer = call(client, "POST", "experiments/create", {"name": "hostile-base"})
    assert answer.status == 200, answer.body
    return answer.body["experiment_id"]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=hostile)
def test_experiment_names(client, experiment_id, name):
    answer = call(client, "POST", "experiments/update",
                  {"experiment_id": experiment_id, "new_name": name})
    if ok_or_refused(answer):
        got = call(client, "GET", "experiments/get",
                   query={"experiment_id": [experiment_id]}).body["experiment"]
        assert got["name"] == name
        by_name = call(client, "GET", "experiments/get-by-name",
                       query={"experiment_name": [name]})
        assert by_name.body["experiment"]["experiment_id"] == experiment_id
    created = call(client, "POST", "experiments/create", {"name": f"{name}{next(_counter)}"})
    ok_or_refused(created)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=hostile, value=values)
def test_experiment_tags(client, experiment_id, key, value):
    answer = call(client, "POST", "experiments/set-experiment-tag",
                  {"experiment_id": experiment_id, "key": key, "value": value})
    if ok_or_refused(answer):
        got = call(client, "GET", "experiments/get", query={"experiment_id": [experiment_id]})
        tags = {t["key"]: t["value"] for t in got.body["experiment"]["tags"]}
        assert tags[key] == ("" if value is None else value)
        assert call(client, "POST", "experiments/delete-experiment-tag",
                    {"experiment_id": experiment_id, "key": key}).status == 200


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=hostile, description=values, key=hostile, value=values)
def test_registered_model_names_descriptions_and_tags(client, name, description, key, value):
    created = call(client, "POST", "registered-models/create",
                   {"name": name, "description": description,
                    "tags": [{"key": key, "value": value}]})
    if not ok_or_refused(created):
        return
    got = call(client, "GET", "registered-models/get", query={"name": [name]})
    assert got.status == 200, got.body
    model = got.body["registered_model"]
    assert model["name"] == name and model["description"] == (description or "")
    # A non-string tag value is sent as its text, as for run tags (MLflow sends strings).
    expected = "" if value is None else value if isinstance(value, str) else str(value)
    assert {t["key"]: t["value"] for t in model["tags"]} == {key: expected}
    renamed = call(client, "POST", "registered-models/rename",
                   {"name": name, "new_name": f"{name}-{next(_counter)}"})
    if ok_or_refused(renamed):
        name = renamed.body["registered_model"]["name"]
    tag = call(client, "POST", "registered-models/set-tag",
               {"name": name, "key": key, "value": value})
    ok_or_refused(tag)
    assert call(client, "DELETE", "registered-models/delete",
                {"name": name}).status == 200
