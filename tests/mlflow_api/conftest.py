"""A standalone ``jupyter mlops server`` per module, and the MLflow client pointed at it."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.lab_server import free_port


class Server:
    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.token = secrets.token_urlsafe(16)
        self.db = f"sqlite:///{folder / 'mlops.db'}"
        self.artifacts = str(folder / "artifacts")
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(folder / "server.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_mlops.cli", "--tracking-uri", self.db,
             "--artifact-root", self.artifacts, "server", "--port", str(self.port),
             "--token", self.token], stdout=self.log, stderr=subprocess.STDOUT, cwd=folder)
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(self.url + "/health", timeout=2).read()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError((folder / "server.log").read_text()[-2000:])
                time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("mlflow-server"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def mlflow_at(server):
    """The ``mlflow`` module with MLFLOW_TRACKING_URI/TOKEN set to the server (then unset)."""
    import mlflow

    old = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_TOKEN")}
    os.environ["MLFLOW_TRACKING_URI"] = server.url
    os.environ["MLFLOW_TRACKING_TOKEN"] = server.token
    mlflow.set_tracking_uri(server.url)
    yield mlflow
    mlflow.set_tracking_uri(None)
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
