"""Through REST: the reproduce gate reads the store the server was configured with.

The server is given store X in its configuration (``c.MlopsExtension.tracking_uri``), with no
``MLOPS_TRACKING_URI`` and a different default store Y (``MLOPS_HOME``). Approving a
promotion that requires reproduction must ask X about the version's run — here its input
file changed, which only X knows — and never open Y (issue 12 item 7).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from traitlets.config import Config

from jupyter_mlops.client import Client


def post(body) -> dict:
    return {"method": "POST", "body": json.dumps(body)}


@pytest.fixture
def store_x(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Store X with model ``m`` v1 from a run whose input file has changed since."""
    from sklearn.linear_model import LogisticRegression

    for name in [n for n in os.environ if n.startswith("MLOPS_")]:
        monkeypatch.delenv(name)
    home_y = tmp_path / "home-y"
    monkeypatch.setenv("MLOPS_HOME", str(home_y))
    monkeypatch.setenv("MLOPS_USER", "tester")
    uri = f"sqlite:///{tmp_path / 'x' / 'mlops.db'}"
    root = str(tmp_path / "x" / "artifacts")
    client = Client(uri, root)
    try:
        data = tmp_path / "train.csv"
        data.write_text("x,y\n1,0\n2,1\n")
        run = client.create_run(experiment="gate")
        client.log_dataset(run.id, data, name="train")
        client.end_run(run.id)
        reg = client.registry
        reg.grant_role("admin-ann", "admin", by="admin-ann")
        reg.grant_role("tester", "ml_engineer", by="admin-ann")
        reg.register_model(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), "m", run=run.id)
        reg.set_gate_policy("m", {"require_reproduced": True}, user="admin-ann")
        data.write_text("x,y\n1,0\n2,1\n3,1\n")
        client.flush()
    finally:
        client.close()
    yield {"uri": uri, "root": root, "run_id": run.id, "default_y": home_y / "mlops.db"}
    from jupyter_mlops.store import forget_open_stores

    forget_open_stores()


@pytest.fixture
def jp_server_config(store_x) -> Config:
    return Config({
        "ServerApp": {"jpserver_extensions": {"jupyter_mlops.server": True}},
        "MlopsExtension": {"tracking_uri": store_x["uri"], "artifact_root": store_x["root"],
                           "run_scheduler": False},
    })


async def test_approve_asks_the_configured_store(api, store_x, jp_root_dir):
    assert not (Path(jp_root_dir) / ".mlops").exists()  # Y is the MLOPS_HOME default
    status, req = await api("models", "m", "promotions", **post({"version": 1}))
    assert status == 201, req
    status, body = await api("promotions", str(req["id"]), "approve", **post({}))
    assert status == 409 and body["error"]["type"] == "ConflictError", body
    assert "input data changed: train" in body["error"]["message"]
    assert store_x["run_id"][:12] in body["error"]["message"]

    client = Client(store_x["uri"], store_x["root"])
    try:
        tags = client.get_run(store_x["run_id"]).tags
        assert tags["mlops.reproduce_status"] == "inputs_changed"  # written in X
        assert client.registry.list_promotions("m")[0].status == "PENDING"
    finally:
        client.close()
    assert not store_x["default_y"].exists()  # the default store was never opened
