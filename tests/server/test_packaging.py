"""The package is discoverable by jupyter_server and JupyterLab as installed."""

from __future__ import annotations

import json
from pathlib import Path

import jupyter_mlops
from jupyter_mlops.server.app import MlopsServerApp

REPO = Path(__file__).resolve().parents[2]


def test_top_level_package_exposes_extension_points():
    # `jpserver_extensions: {"jupyter_mlops": true}` and `jupyter labextension develop .`
    # look these up on the top-level package.
    assert jupyter_mlops._jupyter_server_extension_points() == [
        {"module": "jupyter_mlops.server", "app": MlopsServerApp}]
    paths = jupyter_mlops._jupyter_labextension_paths()
    assert paths == [{"src": "labextension", "dest": "jupyter-mlops"}]
    package_json = json.loads((REPO / "labextension" / "package.json").read_text())
    assert package_json["name"] == paths[0]["dest"]
    assert package_json["jupyterlab"]["outputDir"] == "../jupyter_mlops/labextension"


def test_server_config_enables_the_extension():
    config = json.loads(
        (REPO / "jupyter-config" / "server-config" / "jupyter_mlops.json").read_text())
    assert config == {"ServerApp": {"jpserver_extensions": {"jupyter_mlops": True}}}
    install = json.loads((REPO / "install.json").read_text())
    assert install["packageName"] == "jupyter-mlops"
