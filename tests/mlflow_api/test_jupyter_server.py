"""The same routes mounted in the jupyter_server extension, under a non-default base_url,
with the Jupyter token sent as MLflow sends MLFLOW_TRACKING_TOKEN (``Bearer``)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.lab_server import REPO, free_port


# A jupyter_server process and MLflow's first run (environment capture) take ~20 s here.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory):
    folder = tmp_path_factory.mktemp("jupyter-mlflow")
    config = folder / "config"
    config.mkdir()
    (config / "jupyter_server_config.json").write_text(json.dumps(
        {"ServerApp": {"jpserver_extensions": {"jupyter_mlops.server": True}}}))
    port, token = free_port(), secrets.token_hex(16)
    db = f"sqlite:///{folder / 'mlops.db'}"
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config), "MLOPS_TRACKING_URI": db,
           "MLOPS_ARTIFACT_ROOT": str(folder / "artifacts"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    log = open(folder / "server.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--no-browser", "--ip=127.0.0.1",
         f"--port={port}", f"--IdentityProvider.token={token}", "--ServerApp.base_url=/jl/",
         f"--ServerApp.root_dir={folder}", "--allow-root", "--ServerApp.port_retries=0"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=folder)
    url = f"http://127.0.0.1:{port}/jl"
    deadline = time.monotonic() + 120
    try:
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((folder / "server.log").read_text()[-3000:]) from None
                time.sleep(0.2)
        yield url, token, db, str(folder / "artifacts")
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_mlflow_client_through_the_extension(jupyter, monkeypatch):
    import mlflow
    from mlflow import MlflowClient

    url, token, db, artifacts = jupyter
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    mlflow.set_tracking_uri(url)
    try:
        # MLflow keeps the active experiment id per process: another module's test in this
        # worker may have set one that only exists on its own server.
        mlflow.set_experiment("through-jupyter")
        with mlflow.start_run(run_name="from-jupyter") as run:
            mlflow.log_param("p", "v")
            mlflow.log_metric("m", 2.5, step=3)
            mlflow.log_text("hi", "note.txt")
        got = MlflowClient().get_run(run.info.run_id)
        assert got.data.params == {"p": "v"} and got.info.status == "FINISHED"
    finally:
        mlflow.set_tracking_uri(None)
    from jupyter_mlops.client import Client

    with Client(db, artifacts) as client:
        assert [(p.step, p.value) for p in client.metric_history(run.info.run_id, "m")] == \
            [(3, 2.5)]
        assert client.read_artifact(run.info.run_id, "note.txt")[1] == b"hi"


def test_the_extension_wants_the_token(jupyter):
    url, _token, _db, _art = jupyter
    request = urllib.request.Request(f"{url}/api/2.0/mlflow/experiments/search",
                                     data=b"{}", method="POST",
                                     headers={"Authorization": "Bearer wrong"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=10)
    assert err.value.code in (401, 403)
