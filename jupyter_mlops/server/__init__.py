"""jupyter_server extension: the REST API behind the JupyterLab side panel.

Routes live under ``<base_url>/mlops/api/v1/`` (see ``docs/rest-api.md``); configuration is
``c.MlopsExtension.*`` (see :class:`MlopsExtension`); loading and shutdown are
:class:`~jupyter_mlops.server.app.MlopsServerApp`'s.
"""

from __future__ import annotations

from typing import Any

from jupyter_mlops.server.extension import MlopsExtension

__all__ = [
    "MlopsExtension",
    "_jupyter_labextension_paths",
    "_jupyter_server_extension_points",
]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from jupyter_mlops.server.app import MlopsServerApp

    return [{"module": "jupyter_mlops.server", "app": MlopsServerApp}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    # Relative to the top-level ``jupyter_mlops`` package, which re-exports this function.
    return [{"src": "labextension", "dest": "jupyter-mlops"}]
