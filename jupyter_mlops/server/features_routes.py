"""Feature-store routes for the panel (issue 16): views with their freshness, one view's
versions and per-feature statistics.

Read-only; each verb calls ``client.features`` off the event loop. A name that is not a view
name is the client's ``InvalidInputError`` → 400; an unknown view or version its
``NotFoundError`` → 404 naming the view (``errors.ERROR_TABLE``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from jupyter_mlops.server.base import MlopsHandler
from jupyter_mlops.server.features_schemas import view_detail_json, view_summary_json

if TYPE_CHECKING:
    from jupyter_mlops.client import Client

_VIEW = r"(?P<view>[^/]+)"


class FeatureViewsHandler(MlopsHandler):
    """Every feature view's newest version, version count and freshness."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        def load(client: Client) -> list[dict[str, Any]]:
            return [view_summary_json(i) for i in client.features.list_views()]

        self.write_json({"views": await self.call(load)})


class FeatureViewHandler(MlopsHandler):
    """One view: its versions, and one version's statistics (``?version=N``, default newest)."""

    @web.authenticated
    @authorized
    async def get(self, view: str) -> None:
        version = self.int_arg("version", 0, 1, 2**31 - 1) or None

        def load(client: Client) -> dict[str, Any]:
            features = client.features
            versions = features.versions(view)
            chosen = features.get_view(view, version)
            stats = features.statistics(chosen.name, chosen.version)
            listing = next((i for i in features.list_views() if i.view.name == chosen.name),
                           None)
            return view_detail_json(chosen, versions, stats, listing)

        self.write_json(await self.call(load))


ROUTES: list[tuple[str, type[MlopsHandler]]] = [
    ("features", FeatureViewsHandler),
    (rf"features/{_VIEW}", FeatureViewHandler),
]
