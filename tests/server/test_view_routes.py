"""The panel's run views over REST (issues 17 and 19): a sweep, grouped curves, a run's cell
timeline and the HTML report downloads, through a real jupyter_server with token auth.
Their query strings are checked at the door: hostile input is a 400 with one line, never a
5xx (hypothesis drives the door's parsers with random text)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jupyter_mlops.client import Client
from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.server.view_schemas import groups_query, report_filename, run_list


@pytest.fixture
def sweep_parent(mlops_store):
    """A 6-trial sweep (one trial may fail)."""
    from jupyter_mlops.store import forget_open_stores
    from jupyter_mlops.sweeps.runner import sweep

    def objective(trial):
        if trial["depth"] == 2 and trial.optuna.number == 1:
            raise ValueError("<b>boom</b>")
        return (trial["lr"] - 0.01) ** 2 + trial["depth"] / 100

    client = Client(mlops_store.tracking_uri, mlops_store.artifact_root)
    try:
        result = sweep(objective, "lr=loguniform(1e-4,1e-1) depth=int(2,3)", n_trials=6,
                       name="rest-sweep", sampler="random", seed=1, client=client)
        return result.parent_run_id
    finally:
        client.writer.close()
        forget_open_stores()


@pytest.fixture
def cells_logged(mlops_store):
    """Two cells' system metrics on alpha-0, as notebook.cell_metrics logs them."""
    from jupyter_mlops.store import forget_open_stores

    client = Client(mlops_store.tracking_uri, mlops_store.artifact_root)
    try:
        for step, wall in ((1, 0.5), (2, 2.0)):
            client.log_metrics(mlops_store.alpha[0], {"system/cell_wall_seconds": wall,
                                                      "system/cell_peak_rss_bytes": 1e8 * step},
                               step=step)
    finally:
        client.writer.close()
        forget_open_stores()


@pytest.mark.slow  # runs a sweep; the first importance imports scikit-learn (fANOVA)
async def test_sweep_view(api, sweep_parent):
    status, body = await api("runs", sweep_parent, "sweep")
    assert status == 200, body
    assert body["name"] == "rest-sweep" and body["direction"] == "minimize"
    assert [t["number"] for t in body["trials"]] == list(range(6))
    states = {t["state"] for t in body["trials"]}
    assert states <= {"COMPLETE", "FAIL", "PRUNED"} and "COMPLETE" in states
    assert all(t["run_id"] for t in body["trials"])
    complete = [t for t in body["trials"] if t["state"] == "COMPLETE"]
    assert [h["number"] for h in body["history"]] == [t["number"] for t in complete]
    assert body["history"][-1]["best"] == min(t["value"] for t in complete)
    assert [a["name"] for a in body["space"]] == ["depth", "lr"]
    assert set(body["importance"]) == {"depth", "lr"} and body["importance_note"] is None
    # A trial's run opens the same sweep.
    status, again = await api("runs", complete[0]["run_id"], "sweep")
    assert status == 200 and again["parent_run_id"] == sweep_parent


async def test_not_a_sweep_is_404(api, mlops_store):
    status, body = await api("runs", mlops_store.beta, "sweep")
    assert status == 404 and "not part of a sweep" in body["error"]["message"]


async def test_groups_mean_and_spread(raw_fetch, mlops_store):
    import json

    params = "&".join(f"run={r}" for r in mlops_store.alpha) + "&by=params.model"
    status, _headers, raw = await raw_fetch(f"mlops/api/v1/compare/groups?{params}")
    body = json.loads(raw)
    assert status == 200, body
    assert [g["value"] for g in body["groups"]] == ["lr", "svc"]
    assert sum(len(g["runs"]) for g in body["groups"]) == 6
    lr = next(g for g in body["metrics"]["acc"] if g["group"] == "lr")
    # alpha-0, 2, 4 have model lr: acc = 0.5 + 0.08 i - 0.01 (2 - step)
    step0 = lr["points"][0]
    assert step0[0] == 0 and step0[5] == 3
    assert step0[1] == pytest.approx(0.5 + 0.08 * 2 - 0.02)
    assert step0[3] == pytest.approx(0.48) and step0[4] == pytest.approx(0.80)


async def test_cell_timeline(api, cells_logged, mlops_store):
    status, body = await api("runs", mlops_store.alpha[0], "cells")
    assert status == 200, body
    assert body["fields"] == ["peak_rss_bytes", "wall_seconds"]
    assert [(c["cell"], c["wall_seconds"]) for c in body["cells"]] == [(1, 0.5), (2, 2.0)]
    status, body = await api("runs", mlops_store.beta, "cells")
    assert status == 200 and body["cells"] == []


@pytest.mark.slow  # matplotlib draws the report's figures
async def test_reports_are_html_attachments(raw_fetch, mlops_store):
    run = mlops_store.alpha[0]
    status, headers, body = await raw_fetch(f"mlops/api/v1/runs/{run}/report")
    assert status == 200, body[:300]
    assert headers["Content-Type"].startswith("text/html")
    assert headers["Content-Disposition"] == f'attachment; filename="run-{run[:12]}.html"'
    assert "sandbox" in headers["Content-Security-Policy"]
    assert body.startswith(b"<!DOCTYPE html>") and b"alpha-0" in body
    query = "&".join(f"run={r}" for r in mlops_store.alpha[:3])
    status, headers, body = await raw_fetch(f"mlops/api/v1/compare/report?{query}")
    assert status == 200, body[:300]
    assert 'filename="compare-3-runs.html"' in headers["Content-Disposition"]
    assert b"alpha-1" in body and b"alpha-2" in body


@pytest.mark.parametrize("path", [
    "compare/groups?run=abcd&by=metrics.acc",
    "compare/groups?by=params.model",
    "compare/groups?run=abcd&by=params.",
    "compare/groups?run=abcd&by=params.model&max_points=1",
    "compare/groups?run=%00%01&by=tags.x",
    "compare/report?run=abcd",
    "compare/report?run=" + "9" * 40 + "&run=abcd",
    "runs/%F0%9F%98%80/sweep",
    "runs/..%2F..%2Fetc/report",
])
async def test_hostile_queries_are_400_or_404(raw_fetch, mlops_store, path):
    import json

    status, _headers, body = await raw_fetch(f"mlops/api/v1/{path}")
    assert status in (400, 404), (status, body[:300])
    assert json.loads(body)["error"]["message"]


# ---------------------------------------------------------------------- the door, fuzzed
_text = st.text(st.characters(codec="utf-8"), max_size=40) | st.sampled_from(
    ["params.", "tags.", "params.a\x00", "metrics.acc", "tags." + "x" * 300, "\udcff"])


@settings(max_examples=60, deadline=None, derandomize=True)
@given(runs=st.lists(_text, max_size=120), by=_text | st.none(), keys=st.lists(_text, max_size=25))
def test_groups_door_refuses_or_accepts_cleanly(runs, by, keys):
    try:
        query = groups_query(runs, by, keys, 500)
    except InvalidInputError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert 1 <= len(query.runs) <= 100 and query.by.split(".")[0] in ("params", "tags")


@settings(max_examples=60, deadline=None, derandomize=True)
@given(values=st.lists(_text, max_size=60))
def test_run_list_door(values):
    try:
        ids = run_list(values, 2, 50)
    except InvalidInputError:
        return
    assert 2 <= len(ids) <= 50 and len(set(ids)) == len(ids)


@given(stem=_text)
def test_report_filename_is_header_safe(stem):
    name = report_filename(stem)
    assert name.endswith(".html") and name.isascii() and '"' not in name and "\\" not in name
