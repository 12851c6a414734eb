"""Fixtures for the REST tests: a seeded store in tmp_path and a jupyter_server with the
extension enabled, authentication on (pytest-jupyter gives it a random token).

pytest-jupyter's server fixtures are imported here rather than registered with
``pytest_plugins`` (not allowed in a non-root conftest), so its autouse event-loop fixtures
only apply under ``tests/server/``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403  (fixtures and async-test hooks)
from traitlets.config import Config

from jupyter_mlops.client import Client

NOTEBOOK = {
    "cells": [
        {"cell_type": "code", "execution_count": 1, "id": "c1", "metadata": {},
         "outputs": [], "source": "lr = 0.01"},
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


@dataclasses.dataclass
class Seeded:
    tracking_uri: str
    artifact_root: str
    alpha: list[str]  # finished runs in experiment "alpha", acc ascending
    live: str  # a RUNNING run in "alpha"
    beta: str  # run in "beta" with an artifact, a notebook and a dataset
    series: str  # run with a 5,000-point metric series "loss" and a spike
    spike_step: int = 1234
    spike_value: float = 100.0


def _seed(client: Client, folder: Path) -> dict:
    """Write the Seeded data through the public Client API; return the ids."""
    alpha = []
    for i in range(6):
        run = client.create_run(experiment="alpha", name=f"alpha-{i}", tags={"idx": str(i)})
        client.log_params(run.id, {"lr": 0.1 / (i + 1), "model": "svc" if i % 2 else "lr"})
        for step in range(3):
            client.log_metric(run.id, "acc", 0.5 + 0.08 * i - 0.01 * (2 - step), step=step)
        client.end_run(run.id)
        alpha.append(run.id)

    live = client.create_run(experiment="alpha", name="alpha-live")
    client.log_metric(live.id, "acc", 0.1, step=0)
    client.flush()

    beta = client.create_run(experiment="beta", name="beta-artifacts")
    client.log_artifact(beta.id, {"threshold": 0.5}, name="config/params.json")
    client.log_artifact(beta.id, b"root:x:0:0:not-the-real-passwd", name="passwd.txt")
    data = folder / "train.csv"
    data.write_text("x,y\n1,2\n3,4\n")
    client.log_dataset(beta.id, data, name="train")
    client.log_notebook(beta.id, NOTEBOOK)
    client.end_run(beta.id)

    series = client.create_run(experiment="beta", name="long-series")
    points = [(1.0 / (s + 1), s) for s in range(5000)]
    for value, step in points:
        spike = 100.0 if step == 1234 else value
        client.log_metric(series.id, "loss", spike, step=step)
    client.end_run(series.id)
    client.flush()
    return {"alpha": alpha, "live": live.id, "beta": beta.id, "series": series.id}


def _point_env_at(monkeypatch: pytest.MonkeyPatch, folder: Path) -> tuple[str, str]:
    uri = f"sqlite:///{folder / 'store' / 'mlops.db'}"
    root = str(folder / "store" / "artifacts")
    # MLOPS_FAULT_LOG is kept: benchmarks/faults_bench.py counts what these tests tried.
    for name in [n for n in os.environ if n.startswith("MLOPS_") and n != "MLOPS_FAULT_LOG"]:
        monkeypatch.delenv(name)  # a developer's shell must not leak into the server
    monkeypatch.setenv("MLOPS_HOME", str(folder / "mlops-home"))
    monkeypatch.setenv("MLOPS_TRACKING_URI", uri)
    monkeypatch.setenv("MLOPS_ARTIFACT_ROOT", root)
    monkeypatch.setenv("MLOPS_USER", "tester")
    return uri, root


@pytest.fixture(scope="session")
def _seeded_template(tmp_path_factory) -> tuple[Path, dict]:
    """The seeded store, written once per session (seeding is ~90% of a server test's setup:
    the 5,000-point series alone is 5,000 metric writes); each test gets a copy of it."""
    from jupyter_mlops.store import forget_open_stores

    folder = tmp_path_factory.mktemp("seeded-template")
    with pytest.MonkeyPatch.context() as mp:
        uri, root = _point_env_at(mp, folder)
        client = Client(uri, root)
        try:
            ids = _seed(client, folder)
        finally:
            client.writer.close()
            # Closes the pooled connections: SQLite checkpoints its WAL into mlops.db, so the
            # folder copied below is a complete, quiescent store.
            forget_open_stores()
    return folder, ids


@pytest.fixture
def mlops_store(_seeded_template, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[Seeded]:
    """A store under tmp_path seeded through the public Client API; env vars point at it.

    A private copy of the session's seeded store, so a test may change it freely; its ids
    are the same in every test (the dataset's recorded source is the template's train.csv).
    """
    import shutil

    from jupyter_mlops.store import forget_open_stores, open_store

    template, ids = _seeded_template
    shutil.copytree(template / "store", tmp_path / "store")
    uri, root = _point_env_at(monkeypatch, tmp_path)
    # The live run's writer was this process's template Client, closed since: beat for it
    # now, as it would have, so no reaper sees it silent for MLOPS_DEAD_AFTER_SECONDS.
    open_store(uri, root).runs.heartbeat([ids["live"]])
    forget_open_stores()
    yield Seeded(uri, root, list(ids["alpha"]), ids["live"], ids["beta"], ids["series"])
    forget_open_stores()


@pytest.fixture
def jp_server_config(mlops_store: Seeded) -> Config:
    return Config({
        "ServerApp": {"jpserver_extensions": {"jupyter_mlops.server": True}},
    })


@pytest.fixture
def mlops_extension(jp_web_app):
    """The server's MlopsExtension; closed (threads stopped) after the test."""
    ext = jp_web_app.settings["jupyter_mlops"]
    yield ext
    ext.close()


@pytest.fixture
def api(jp_fetch, mlops_extension):
    """``await api("runs", params=...)`` → (status, decoded JSON body), never raising on 4xx."""
    from tornado.httpclient import HTTPClientError

    async def call(*parts: str, **kwargs):
        try:
            response = await jp_fetch("mlops", "api", "v1", *parts, **kwargs)
        except HTTPClientError as err:
            response = err.response
            assert response is not None, err
        body = response.body
        ctype = response.headers.get("Content-Type", "")
        return response.code, (json.loads(body) if "json" in ctype and body else body)

    return call


@pytest.fixture
def raw_fetch(http_server_client, jp_base_url, jp_auth_header, mlops_extension):
    """Fetch ``<base_url>/<path>`` exactly as written (no escaping), token auth by default.

    Returns (status, headers, body bytes) and never raises on HTTP errors.
    """
    from tornado.httpclient import HTTPClientError

    async def call(path: str, *, auth: bool = True, headers: dict | None = None, **kwargs):
        all_headers = dict(jp_auth_header) if auth else {}
        all_headers.update(headers or {})
        try:
            response = await http_server_client.fetch(
                jp_base_url + path, headers=all_headers, request_timeout=20,
                allow_nonstandard_methods=True, **kwargs)
        except HTTPClientError as err:
            response = err.response
            assert response is not None, err
        return response.code, response.headers, response.body

    return call


@pytest.fixture
def handler_verbs():
    """``handler_verbs(cls)`` → the HTTP verbs an mlops handler implements itself."""
    from jupyter_server.base.handlers import APIHandler

    def verbs(handler: type) -> list[str]:
        return [v for v in ("get", "head", "post", "put", "patch", "delete")
                if getattr(handler, v) is not getattr(APIHandler, v)]

    return verbs


@pytest.fixture
def every_request(mlops_store, handler_verbs) -> list[tuple[str, str]]:
    """(METHOD, path) for every verb of every route, with real ids filled in."""
    import re

    from jupyter_mlops.server.handlers import API_ROOT, ROUTES

    values = {"run_id": mlops_store.beta, "other_run_id": mlops_store.beta, "key": "acc",
              "name": "config/params.json", "model": "churn", "version": "1", "request_id": "1",
              "pipeline": "train-churn", "pipeline_run_id": "0" * 32, "schedule": "nightly",
              "monitor": "churn-monitor", "view": "driver_stats"}
    out = []
    for pattern, handler in ROUTES:
        path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: values[m.group(1)], pattern)
        out += [(verb.upper(), f"{API_ROOT}/{path}") for verb in handler_verbs(handler)]
    return out


@pytest.fixture
def body_for():
    """A valid body for mutating verbs (so only auth can refuse the request)."""
    return lambda method: b'{"name": "x"}' if method in ("POST", "PUT", "PATCH") else None


# ----------------------------------------------------------------------------- registry
@pytest.fixture
def registry_seed(mlops_store):
    """Model ``churn`` v1 (champion) and v2; roles: tester (the server's own identity under
    token auth) and bob are ML engineers, alice a data scientist, carol holds none."""
    from tests.seed_panel import seed_registry

    client = Client(mlops_store.tracking_uri, mlops_store.artifact_root)
    try:
        return seed_registry(client, {"tester": "ml_engineer", "alice": "data_scientist",
                                      "bob": "ml_engineer"})
    finally:
        client.writer.close()


@pytest.fixture
def registry(mlops_store):
    """The RegistryClient on the test store (to check what a request changed)."""
    client = Client(mlops_store.tracking_uri, mlops_store.artifact_root)
    yield client.registry
    client.writer.close()


# ----------------------------------------------------------------------------- pipelines
@dataclasses.dataclass
class PipelineSeed:
    path: Path  # the pipeline.yaml
    pipeline: str
    run_id: str  # a pipeline run with SUCCEEDED, CACHED, FAILED and SKIPPED steps
    step_runs: dict[str, str]  # step -> its child run id
    schedule: str
    schedule_id: int


@pytest.fixture
def pipeline_seed(mlops_store, tmp_path) -> PipelineSeed:
    """Pipeline ``train-churn`` with one recorded run and a nightly schedule with a fire.

    The run's records are written through the pipeline store (as the runner would) so each
    step has a known state without running kernels; ``test_schedule_run_now`` runs it for real.
    """
    from jupyter_mlops.pipelines.schedule import add_schedule
    from jupyter_mlops.pipelines.spec import Pipeline
    from jupyter_mlops.store.pipelines import PipelineStore
    from tests.seed_panel import write_pipeline_project

    path = write_pipeline_project(tmp_path / "project")
    client = Client(mlops_store.tracking_uri, mlops_store.artifact_root)
    try:
        spec = Pipeline.load(path)
        store = PipelineStore(client.store.url)
        pipe = store.save_pipeline(spec.name, spec.to_dict(), spec.digest(), str(path))
        parent = client.create_run(experiment="train-churn", name="train-churn")
        steps = ["prepare", "train_a", "train_b", "evaluate"]
        prid = store.create_pipeline_run(pipe.id, steps, run_id=parent.id, parameters={},
                                         trigger="manual", executor="local")
        children = {}
        for step, status, attempts, error in [
                ("prepare", "CACHED", 0, None), ("train_a", "SUCCEEDED", 1, None),
                ("train_b", "FAILED", 2, "ValueError: C must be positive (cell 2)"),
                ("evaluate", "SKIPPED", 0, "upstream step train_b failed")]:
            fields = {"status": status, "attempts": attempts, "error": error}
            if status != "SKIPPED":
                child = client.create_run(experiment="train-churn", name=f"train-churn/{step}",
                                          parent_run_id=parent.id)
                client.end_run(child.id, "FAILED" if status == "FAILED" else "FINISHED")
                children[step] = child.id
                fields.update(run_id=child.id, started_at=100.0, ended_at=102.5)
            if status == "CACHED":
                fields["cached_from"] = 1
            store.update_step(prid, step, **fields)
        store.finish_pipeline_run(prid, "FAILED", error="step train_b failed")
        client.end_run(parent.id, "FAILED")
        sched = add_schedule(path, "0 3 * * *", timezone="Europe/Berlin", name="nightly",
                             client=client)
        store.claim_slot(sched.id, 1_700_000_000.0, "host:1", "SKIPPED")
        client.flush()
    finally:
        client.writer.close()
    return PipelineSeed(path, "train-churn", prid, children, "nightly", sched.id)


# ----------------------------------------------------------------------------- monitoring
@pytest.fixture
def monitor_seed(mlops_store):
    """Monitor ``churn-monitor``: 4 windows, ``tenure`` drifted in the last two, an alert
    rule ``psi > 0.2`` on it that fired twice, ground truth for the latest window."""
    from tests.seed_panel import seed_monitor

    client = Client(mlops_store.tracking_uri, mlops_store.artifact_root)
    try:
        return seed_monitor(client)
    finally:
        client.writer.close()
