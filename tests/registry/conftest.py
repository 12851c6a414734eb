"""Fixtures for the registry tests.

``client`` (from ``tests/conftest.py``) runs each test on SQLite and, when
``MLOPS_TEST_DB_URL`` is set, on PostgreSQL. Models are fitted once per session on
scikit-learn's bundled breast-cancer data.
"""

from __future__ import annotations

import io
import json
import pickle
import subprocess
import zipfile
from pathlib import Path

import pytest

HELPERS = Path(__file__).resolve().parent / "helpers"


@pytest.fixture(autouse=True)
def _in_tmp_path(monkeypatch, tmp_path):
    # The store looks for a project's .mlops/ from the working directory: never the real one.
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def no_unpickling(monkeypatch):
    """Any unpickling during the test fails it (the safe flavors never unpickle)."""

    def refuse(*args, **kwargs):
        raise AssertionError("a safe flavor unpickled something")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)


@pytest.fixture
def reg(client):
    """The RegistryClient on the test store."""

    return client.registry


@pytest.fixture(scope="session")
def data():
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X, y


@pytest.fixture(scope="session")
def pipeline(data):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = data
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(X, y)


@pytest.fixture(scope="session")
def forest(data):
    from sklearn.ensemble import RandomForestClassifier

    X, y = data
    return RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(X, y)


def craft_skops(module: str, func: str, argument: str) -> bytes:
    """A skops file whose loading would call ``module.func(argument)``."""
    schema = {
        "__class__": func, "__module__": module, "__loader__": "ConstructorFromReduceNode",
        "content": {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode",
                    "content": [{"__class__": "str", "__module__": "builtins",
                                 "__loader__": "JsonNode", "content": json.dumps(argument),
                                 "is_json": True}]},
        "protocol": 2, "_skops_version": "0.16.0"}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("schema.json", json.dumps(schema))
    return buf.getvalue()


@pytest.fixture
def spawn_helper(spawn_python):
    """Start ``tests/registry/helpers/<name>`` on the test store; killed at teardown."""

    def spawn(name: str, *args: object) -> subprocess.Popen:
        return spawn_python(HELPERS / name, *args)

    return spawn
