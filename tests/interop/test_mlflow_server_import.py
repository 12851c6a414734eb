"""``jupyter mlops import mlflow http://…``: a real ``mlflow server`` (subprocess) as the
source, read through MLflow's REST API; artifacts come through the server's proxy."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.interop.test_mlflow_import import build_source, dump, ours
from tests.lab_server import free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    # No job runner: MLflow 3 starts one beside the server by default (a third process importing
    # MLflow, for trace and evaluation jobs) that the REST import never uses.
    env = {**os.environ, "MLFLOW_ENABLE_TELEMETRY": "false", "DO_NOT_TRACK": "1",
           "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    log = open(tmp / "server.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{tmp / 'mlflow.db'}",
         "--artifacts-destination", str(tmp / "artifacts"),
         "--default-artifact-root", "mlflow-artifacts:/", "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600  # minutes on a loaded machine
    while True:
        try:
            urllib.request.urlopen(url + "/health", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError((tmp / "server.log").read_bytes()[-3000:].decode())
            time.sleep(0.5)
    try:
        yield url, tmp
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_import_from_a_tracking_server_matches_the_database_import(server, tmp_path):
    url, tmp = server
    built = build_source(url, tmp_path, n_runs=3)
    through_rest = ours(tmp_path, "rest")
    report = import_mlflow_quiet(through_rest, url)
    assert report.runs_imported == len(built["runs"])
    first = built["first"]
    assert {a.name for a in through_rest.list_artifacts(first)} == {
        "model/model.pkl", "notes.txt"}
    assert through_rest.read_artifact(first, "notes.txt")[1] == b"hello"
    # The same store read from its database directly: every field equal, except artifacts
    # (the database names mlflow-artifacts:/ locations, which only the server resolves).
    direct = ours(tmp_path, "direct")
    db_report = import_mlflow_quiet(direct, f"sqlite:///{tmp / 'mlflow.db'}")
    assert any("mlflow-artifacts:" in n for n in db_report.notes)
    strip = lambda d: {k: v[:9] for k, v in d.items()}  # noqa: E731 - all but artifacts
    assert strip(dump(through_rest)) == strip(dump(direct))
    versions = through_rest.registry.list_versions("clf")
    assert [(v.version, v.run_id) for v in versions] == [(1, first), (2, first)]
    assert import_mlflow_quiet(through_rest, url).added_nothing


def import_mlflow_quiet(client, source):
    from jupyter_mlops.interop.mlflow_import import import_mlflow

    return import_mlflow(client, source, progress=False)
