"""jupyter_server extension: the REST API behind the JupyterLab side panel.

Routes live under ``<base_url>/mlops/api/v1/`` (see ``docs/rest-api.md``); configuration is
``c.MlopsExtension.*`` (see :class:`MlopsExtension`).
"""

from __future__ import annotations

from typing import Any

from jupyter_mlops.server.extension import MlopsExtension

__all__ = [
    "MlopsExtension",
    "_jupyter_labextension_paths",
    "_jupyter_server_extension_points",
    "_load_jupyter_server_extension",
]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "jupyter_mlops.server"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    # Relative to the top-level ``jupyter_mlops`` package, which re-exports this function.
    return [{"src": "labextension", "dest": "jupyter-mlops"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Register the REST handlers; the store is opened lazily on the first request."""
    from jupyter_mlops.server.base import SETTINGS_KEY
    from jupyter_mlops.server.handlers import route_table

    web_app = serverapp.web_app
    if SETTINGS_KEY in web_app.settings:
        # Enabled twice (as ``jupyter_mlops`` and as ``jupyter_mlops.server``): load once.
        return
    ext = MlopsExtension(parent=serverapp, root_dir=str(serverapp.root_dir))
    web_app.settings[SETTINGS_KEY] = ext
    web_app.add_handlers(".*$", route_table(web_app.settings["base_url"]))
    serverapp.log.info("jupyter_mlops: REST API at %smlops/api/v1/", web_app.settings["base_url"])
