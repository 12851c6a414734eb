"""OpenLineage tests: the client's own configuration (OPENLINEAGE_CONFIG, OPENLINEAGE_URL)
pointed at a file or a real local receiver; nothing from the user's environment leaks in."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest


@pytest.fixture
def no_openlineage_env(monkeypatch, tmp_path: Path):
    """No OPENLINEAGE_* variable, no openlineage.yml in the cwd or ~/.openlineage."""
    import os

    for name in list(os.environ):
        if name.startswith("OPENLINEAGE"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    yield
    # The OpenLineage client copies OPENLINEAGE_URL into OPENLINEAGE__TRANSPORT__… variables
    # of this process: remove them, or every later test's Client would emit lineage.
    for name in list(os.environ):
        if name.startswith("OPENLINEAGE"):
            del os.environ[name]


@pytest.fixture
def configure(no_openlineage_env, monkeypatch, tmp_path: Path):
    """Write an openlineage.yml with ``transport`` and point OPENLINEAGE_CONFIG at it."""
    def write(transport: dict) -> Path:
        config = tmp_path / "openlineage.yml"
        config.write_text(json.dumps({"transport": transport}))  # JSON is YAML
        monkeypatch.setenv("OPENLINEAGE_CONFIG", str(config))
        return config
    return write


@pytest.fixture
def lineage_client(client):
    """The test client; its emitter is closed (queue drained) after the test."""
    yield client
    emitter = client.__dict__.get("lineage_events")
    if emitter is not None:
        emitter.close()


def check_required(event: dict) -> None:
    """The fields the OpenLineage spec requires of a run event (the client ships no JSON
    schema file to validate against), and the ones every facet must carry."""
    for key in ("eventTime", "producer", "schemaURL", "run", "job"):
        assert event.get(key), f"missing {key}"
    assert event["eventType"] in ("START", "COMPLETE", "ABORT", "FAIL", "OTHER")
    uuid.UUID(event["run"]["runId"])
    assert event["job"]["namespace"] and event["job"]["name"]
    facets = [*event["run"].get("facets", {}).values()]
    for ds in event.get("inputs", []) + event.get("outputs", []):
        assert ds["namespace"] and ds["name"]
        facets += ds.get("facets", {}).values()
    for facet in facets:
        assert facet["_producer"] and facet["_schemaURL"].startswith("https://")
