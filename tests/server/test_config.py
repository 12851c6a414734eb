"""``c.MlopsExtension.*`` traitlets configure the extension (and win over env vars)."""

from __future__ import annotations

import pytest
from traitlets.config import Config

from jupyter_mlops.server import MlopsExtension


@pytest.fixture
def jp_server_config(mlops_store, tmp_path, monkeypatch) -> Config:
    # The environment points at an empty store; the traitlets point at the seeded one.
    monkeypatch.setenv("MLOPS_TRACKING_URI", f"sqlite:///{tmp_path / 'empty' / 'mlops.db'}")
    monkeypatch.setenv("MLOPS_ARTIFACT_ROOT", str(tmp_path / "empty" / "artifacts"))
    return Config({
        "ServerApp": {"jpserver_extensions": {"jupyter_mlops.server": True}},
        "MlopsExtension": {
            "tracking_uri": mlops_store.tracking_uri,
            "artifact_root": mlops_store.artifact_root,
            "default_page_size": 3,
            "max_page_size": 5,
        },
    })


async def test_traitlets_select_the_store_and_limits(api, mlops_store):
    status, body = await api("health")
    assert body["store"]["tracking_uri"] == mlops_store.tracking_uri
    from jupyter_mlops._version import __version__

    assert body["version"] == __version__
    status, body = await api("runs")
    assert status == 200 and body["total"] == 9 and body["limit"] == 3
    assert len(body["runs"]) == 3
    status, body = await api("runs", params={"limit": 6})
    assert status == 400 and "between 1 and 5" in body["error"]["message"]
    status, body = await api("runs", mlops_store.beta, "artifacts", "config", "params.json")
    assert status == 200 and body == {"threshold": 0.5}


def test_every_config_trait_has_help():
    traits = MlopsExtension.class_traits(config=True)
    assert {"tracking_uri", "artifact_root", "max_workers"} <= set(traits)
    for name, trait in traits.items():
        assert trait.help and len(trait.help) > 20, name
