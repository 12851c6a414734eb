"""GET runs/<id>/diff/<other>: the notebook diff of two runs, computed by the one Python
implementation (``jupyter_mlops.tracking.notebook_diff.diff_runs``) and served as JSON."""

from __future__ import annotations

import json

import pytest

from jupyter_mlops.client import Client
from jupyter_mlops.tracking.notebook_diff import diff_runs

API = "mlops/api/v1"
UNKNOWN = "0" * 32


def _notebook(*cells: tuple[str, str, str | None]) -> dict:
    """cells: (cell_type, source, stdout or None)."""
    out = []
    for i, (kind, source, stdout) in enumerate(cells):
        cell = {"cell_type": kind, "id": f"c{i}", "metadata": {}, "source": source}
        if kind == "code":
            cell["execution_count"] = i + 1
            cell["outputs"] = ([{"output_type": "stream", "name": "stdout", "text": stdout}]
                               if stdout is not None else [])
        out.append(cell)
    return {"cells": out, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


LEFT = _notebook(
    ("markdown", "# Train <b>svc</b>", None),
    ("code", "import numpy as np", None),
    ("code", "lr = 0.01\nepochs = 10\nprint(lr)", "0.01\n"),
    ("code", "print('seed')", "seed 1\n"),
    ("code", "old_cell = 1", None),
)
RIGHT = _notebook(
    ("markdown", "# Train <b>svc</b>", None),
    ("code", "extra = 'inserted'", None),
    ("code", "import numpy as np", None),
    ("code", "lr = 0.1\nepochs = 10\nprint(lr)", "0.1\n"),
    ("code", "print('seed')", "seed 2\n"),
)


@pytest.fixture
def two_runs(mlops_store):
    """(left, right) finished runs with different notebooks, params and metrics."""
    client = Client(mlops_store.tracking_uri, mlops_store.artifact_root)
    try:
        ids = []
        for name, nb, lr, acc in (("left", LEFT, 0.01, 0.8), ("right", RIGHT, 0.1, 0.9)):
            run = client.create_run(experiment="diff", name=name)
            client.log_params(run.id, {"lr": lr, "epochs": 10})
            client.log_metric(run.id, "acc", acc)
            client.log_notebook(run.id, nb)
            client.end_run(run.id)
            ids.append(run.id)
        client.flush()
        yield tuple(ids)
    finally:
        client.writer.close()


def _expected(mlops_store, left: str, right: str) -> dict:
    client = Client(mlops_store.tracking_uri, mlops_store.artifact_root)
    try:
        return json.loads(json.dumps(diff_runs(client, left, right).to_dict()))
    finally:
        client.writer.close()


async def test_diff_is_the_python_diff(api, mlops_store, two_runs):
    left, right = two_runs
    status, body = await api("runs", left, "diff", right)
    assert status == 200
    assert body == _expected(mlops_store, left, right)

    assert body["left_run"] == left and body["right_run"] == right
    assert body["missing_notebooks"] == []
    statuses = [(c["status"], c["left_index"], c["right_index"]) for c in body["cells"]]
    assert statuses == [("same", 0, 0), ("added", None, 1), ("same", 1, 2),
                        ("changed", 2, 3), ("changed", 3, 4), ("removed", 4, None)]
    changed = body["cells"][3]
    assert "-lr = 0.01" in changed["source_diff"] and "+lr = 0.1" in changed["source_diff"]
    assert " epochs = 10" in changed["source_diff"]
    assert "-0.01" in changed["outputs_diff"] and "+0.1" in changed["outputs_diff"]
    outputs_only = body["cells"][4]
    assert outputs_only["left_source"] == outputs_only["right_source"] == "print('seed')"
    assert outputs_only["source_diff"] == []
    assert "-seed 1" in outputs_only["outputs_diff"] and "+seed 2" in outputs_only["outputs_diff"]
    # User text travels as data, unescaped: the client renders it as text.
    assert body["cells"][0]["left_source"] == "# Train <b>svc</b>"
    assert body["params"] == [{"key": "lr", "left": "0.01", "right": "0.1"}]
    assert body["metrics"] == [{"key": "acc", "left": 0.8, "right": 0.9}]


async def test_diff_is_directional(api, mlops_store, two_runs):
    left, right = two_runs
    status, body = await api("runs", right, "diff", left)
    assert status == 200
    assert body == _expected(mlops_store, right, left)
    assert [c["status"] for c in body["cells"]].count("removed") == 1
    removed = body["cells"][1]  # the cell RIGHT inserted: "removed" when RIGHT is the left side
    assert (removed["status"], removed["left_index"], removed["right_index"]) \
        == ("removed", 1, None)
    assert removed["left_source"] == "extra = 'inserted'"


async def test_run_diffed_with_itself_is_all_same(api, two_runs):
    status, body = await api("runs", two_runs[0], "diff", two_runs[0])
    assert status == 200
    assert {c["status"] for c in body["cells"]} == {"same"}
    assert body["params"] == [] and body["metrics"] == []


@pytest.mark.parametrize("side", ["left", "right", "both"])
async def test_unknown_run_is_404(api, mlops_store, side):
    left = UNKNOWN if side in ("left", "both") else mlops_store.beta
    right = UNKNOWN if side in ("right", "both") else mlops_store.beta
    status, body = await api("runs", left, "diff", right)
    assert status == 404
    assert body == {"error": {"type": "NotFoundError", "message": body["error"]["message"]}}
    assert UNKNOWN in body["error"]["message"]
    assert body["error"]["message"].startswith("No run ")  # and names the store searched


@pytest.mark.parametrize("bad, status, kind", [
    ("not-a-run", 404, "NotFoundError"),  # an id's characters, but no such run
    # Characters no run id has: the request is malformed (400), never a path to follow.
    ("%3Cscript%3E", 400, "InvalidInputError"), ("..", 400, "InvalidInputError"),
    ("%2E%2E", 400, "InvalidInputError")])
async def test_malformed_or_unknown_run_id(raw_fetch, mlops_store, bad, status, kind):
    got, headers, body = await raw_fetch(f"{API}/runs/{mlops_store.beta}/diff/{bad}")
    assert got == status, body
    assert headers["Content-Type"].startswith("application/json")
    error = json.loads(body)["error"]
    assert error["type"] == kind
    assert error["message"]
    if status == 400:
        assert "is not a run id" in error["message"]


async def test_run_without_notebook_is_not_an_error(api, mlops_store):
    # alpha runs have no notebook snapshot; beta has one (one code cell).
    no_nb, with_nb = mlops_store.alpha[0], mlops_store.beta
    status, body = await api("runs", no_nb, "diff", with_nb)
    assert status == 200
    assert body == _expected(mlops_store, no_nb, with_nb)
    assert body["missing_notebooks"] == [no_nb]
    assert [c["status"] for c in body["cells"]] == ["added"]

    status, body = await api("runs", mlops_store.alpha[0], "diff", mlops_store.alpha[1])
    assert status == 200
    assert body["cells"] == []
    assert body["missing_notebooks"] == [mlops_store.alpha[0], mlops_store.alpha[1]]
    assert body["params"] and body["metrics"]  # lr and acc differ between alpha runs


async def test_no_or_wrong_token_is_403(raw_fetch, two_runs):
    left, right = two_runs
    path = f"{API}/runs/{left}/diff/{right}"
    status, _, body = await raw_fetch(path, auth=False)
    assert status == 403
    assert b"cells" not in body and b"lr = " not in body
    status, _, body = await raw_fetch(path, auth=False,
                                      headers={"Authorization": "token not-the-token"})
    assert status == 403
    assert b"cells" not in body
    status, _, body = await raw_fetch(path)
    assert status == 200 and b"cells" in body
