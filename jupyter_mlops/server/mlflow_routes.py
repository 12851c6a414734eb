"""MLflow's tracking REST API in the jupyter_server extension (issue 18).

Mounted at the server's ``base_url`` + ``api/2.0/mlflow/...`` (and ``ajax-api/2.0/...``,
``api/2.0/mlflow-artifacts/...``), so ``MLFLOW_TRACKING_URI=http://host:8888/<base_url>``
with ``MLFLOW_TRACKING_TOKEN=<the Jupyter token>`` records into the store the panel shows:
MLflow's client sends the token as ``Authorization: Bearer``, which jupyter_server accepts.
The routes themselves are :mod:`jupyter_mlops.mlflow_api.routes`, shared with the standalone
``jupyter mlops server``; this module only authenticates and hands the request over.
"""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from jupyter_mlops.mlflow_api.routes import handle
from jupyter_mlops.server.base import MlopsHandler


class MlflowApiHandler(MlopsHandler):
    """Every MLflow route: the shared table answers, on the extension's worker threads."""

    async def _answer(self, path: str) -> None:
        query = {k: [v.decode("utf-8", "replace") for v in vs]
                 for k, vs in self.request.query_arguments.items()}
        answer = await self.call(handle, self.request.method, path, query,
                                 self.request.body or b"")
        self.set_status(answer.status)
        self.set_header("Content-Type", answer.content_type)
        self.finish(answer.encoded())

    @web.authenticated
    @authorized
    async def get(self, path: str) -> None:
        await self._answer(path)

    @web.authenticated
    @authorized
    async def post(self, path: str) -> None:
        await self._answer(path)

    @web.authenticated
    @authorized
    async def put(self, path: str) -> None:
        await self._answer(path)

    @web.authenticated
    @authorized
    async def patch(self, path: str) -> None:
        await self._answer(path)

    @web.authenticated
    @authorized
    async def delete(self, path: str) -> None:
        await self._answer(path)


#: Patterns relative to the server's base_url (ExtensionApp puts it in front).
HANDLERS = [
    (r"api/2\.0/(mlflow/.*|mlflow-artifacts/.*)", MlflowApiHandler),
    (r"ajax-api/2\.0/(mlflow/.*|mlflow-artifacts/.*)", MlflowApiHandler),
]
