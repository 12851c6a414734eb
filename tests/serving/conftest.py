"""Fixtures for serving tests: a store with two versions of a classifier, and the model server
started as a real process on loopback (``python -m jupyter_mlops.serving``)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
FEATURES = ["a", "b", "c"]
#: The token test servers get through MLOPS_SERVE_TOKEN (mutating routes need it).
TOKEN = "test-token-0123456789abcdef"
_LIBRARY_ENV = ("MLOPS_TRACKING_URI", "MLOPS_ARTIFACT_ROOT", "MLOPS_HOME", "MLOPS_USER",
                "MLOPS_EXPERIMENT", "MLOPS_NOTEBOOK_PATH", "MLOPS_PARENT_RUN_ID", "MLOPS_RUN_ID",
                "MLOPS_SERVE_TOKEN")


def frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n),
                         "c": rng.uniform(0, 10, n)})


class Project:
    """A store folder with ``clf`` v1 (``champion``) and v2 registered."""

    def __init__(self, root: Path):
        from sklearn.linear_model import LogisticRegression

        from jupyter_mlops.client import Client
        from jupyter_mlops.monitoring.monitor import monitor

        self.root = root
        self.url = f"sqlite:///{root / 'mlops.db'}"
        self.artifacts = str(root / "artifacts")
        self.client = Client(self.url, self.artifacts)
        self.X = frame(2000, seed=1)
        y = (self.X["a"] + self.X["b"] > 0).astype(int)
        self.v1_model = LogisticRegression().fit(self.X, y)
        self.v2_model = LogisticRegression().fit(self.X, 1 - y)  # answers the opposite
        self.reg = self.client.registry
        example = self.X.head()
        self.v1 = self.reg.register_model(self.v1_model, "clf", input_example=example)
        self.v2 = self.reg.register_model(self.v2_model, "clf", input_example=example)
        self.reg.set_alias("clf", "champion", self.v1.version)
        self.monitor = monitor("clf@champion", reference=self.X, window=50, client=self.client)
        self.client.flush()

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _LIBRARY_ENV}
        env.update(MLOPS_TRACKING_URI=self.url, MLOPS_ARTIFACT_ROOT=self.artifacts,
                   MLOPS_HOME=str(self.root / "home"), PYTHONUNBUFFERED="1",
                   PYTHONPATH=os.pathsep.join(filter(None, [str(REPO),
                                                            os.environ.get("PYTHONPATH")])))
        env.update(extra)
        return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The model server in its own process; ``stop()`` ends it (and only it).

    It gets :data:`TOKEN` through ``MLOPS_SERVE_TOKEN`` unless ``token`` says otherwise
    (``None``: none given, so the server generates one).
    """

    def __init__(self, project: Project, *args: str, env: dict[str, str] | None = None,
                 token: str | None = TOKEN, model: str = "models:/clf@champion"):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = token
        self.log = project.root / f"server-{self.port}.log"
        environ = project.env(**(env or {}))
        if token is not None:
            environ["MLOPS_SERVE_TOKEN"] = token
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "jupyter_mlops.serving", model,
                 "--port", str(self.port), *args],
                env=environ, cwd=str(project.root),
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120  # a loaded CI machine imports slowly
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()}")
            try:
                if get(self.url + "/health")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start: {self.log.read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            terminate(self.proc)


def terminate(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 20 s."""
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def post(url: str, body, content_type: str = "application/json",
         token: str | None = None) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    from jupyter_mlops.store import forget_open_stores

    p = Project(tmp_path_factory.mktemp("serving"))
    yield p
    p.client.writer.close()
    forget_open_stores()


@pytest.fixture(scope="module")
def server(project):
    s = Server(project, "--monitor", "clf@champion", "--max-body-mb", "0.05",
               "--poll-seconds", "0.2")
    yield s
    s.stop()
