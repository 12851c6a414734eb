"""Route handlers of ``<base_url>/mlops/api/v1/``: parse, call the client off-loop, render.

No SQL and no business logic here: every verb lands in one :class:`~jupyter_mlops.client.Client`
method (or, for a run diff, :func:`~jupyter_mlops.tracking.notebook_diff.diff_runs` on the
client), like the magics and the CLI do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from jupyter_mlops.config import redact_url
from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.server import (
    features_routes,
    monitoring_routes,
    pipeline_routes,
    registry_routes,
    view_routes,
)
from jupyter_mlops.server.base import MlopsHandler
from jupyter_mlops.server.schemas import (
    RunPatch,
    RunsQuery,
    attachment_header,
    check_artifact_name,
    check_name_or_number,
    metric_history_json,
    run_detail_json,
    run_diff_json,
    runs_page_json,
    safe_media_type,
)
from jupyter_mlops.tracking.notebook_diff import diff_runs

if TYPE_CHECKING:
    from jupyter_mlops.client import Client

API_ROOT = "mlops/api/v1"
_RUN = r"(?P<run_id>[^/]+)"


class HealthHandler(MlopsHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        def probe(client: Client) -> dict[str, Any]:
            client.count_runs()
            loc = client.location  # which store, and why: the panel shows it
            return {"tracking_uri": redact_url(client.tracking_uri), "source": loc.source,
                    "reason": loc.reason}

        store = await self.call(probe)
        self.write_json({"status": "ok", "version": _version(), "store": store})


class ExperimentsHandler(MlopsHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        experiments = await self.call(lambda c: c.list_experiments())
        self.write_json({"experiments": [e.to_dict() for e in experiments]})


class RunsHandler(MlopsHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        ext = self.mlops
        order_by = [o for o in self.get_query_arguments("order_by") if o.strip()]
        query = RunsQuery(
            filter=self.str_arg("filter"),
            experiment=self.str_arg("experiment"),
            order_by=order_by,
            limit=self.int_arg("limit", ext.default_page_size, 1, ext.max_page_size),
            offset=self.int_arg("offset", 0, 0, 2**62),
        )

        def page(client: Client) -> tuple[list[Any], int]:
            runs = client.search_runs(
                filter=query.filter, experiment=query.experiment,
                order_by=query.order_by or None, max_results=query.limit, offset=query.offset,
                warn=False)  # the hint goes into the answer, not the server's log
            return runs, client.count_runs(filter=query.filter, experiment=query.experiment)

        runs, total = await self.call(page)
        self.write_json(runs_page_json(runs, total, query))


class RunHandler(MlopsHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        detail = await self.call(lambda c: c.get_run(run_id))
        self.write_json(run_detail_json(detail))

    @web.authenticated
    @authorized
    async def patch(self, run_id: str) -> None:
        change = RunPatch.from_json(self.json_body())

        def update(client: Client) -> Any:
            run_id_ = client.get_run(run_id).run.id  # 404 before any write; a prefix → full id
            if change.name is not None:
                client.rename_run(run_id_, change.name)
            if change.tags:
                client.set_tags(run_id_, change.tags)
                client.flush()
            return client.get_run(run_id_)

        detail = await self.call(update)
        self.write_json(run_detail_json(detail))


class MetricHistoryHandler(MlopsHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str, key: str) -> None:
        ext = self.mlops
        max_points = self.int_arg("max_points", ext.default_metric_points, 2,
                                  ext.max_metric_points)
        points = await self.call(lambda c: c.metric_history(run_id, key, max_points=max_points))
        self.write_json(metric_history_json(run_id, key, points, max_points))


class ArtifactHandler(MlopsHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str, name: str) -> None:
        name = check_artifact_name(name)
        record, data = await self.call(lambda c: c.read_artifact(run_id, name))
        self.set_header("Content-Disposition", attachment_header(record.name))
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "private, max-age=3600")
        self.set_header("ETag", f'"{record.digest}"')
        self.finish(data, set_content_type=safe_media_type(record.media_type))


class NotebookHandler(MlopsHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        notebook = await self.call(lambda c: c.notebook_snapshot(run_id))
        self.write_json(notebook)


class RunDiffHandler(MlopsHandler):
    @web.authenticated
    @authorized
    async def get(self, run_id: str, other_run_id: str) -> None:
        diff = await self.call(lambda c: diff_runs(c, c.resolve_run_id(run_id),
                                                   c.resolve_run_id(other_run_id)))
        self.write_json(run_diff_json(diff))


class LineageHandler(MlopsHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        node = self.str_arg("node")
        if not node:
            raise InvalidInputError("Give the node to start from, e.g. ?node=run:<id>.")
        kind, _, ident = node.partition(":")
        # Run ids are text, even all-ASCII-digit ones (a 32-digit id is a run id, not an
        # overflowing number); other kinds, and digits like "²", get the number check.
        if kind != "run" or not ident.isascii():
            check_name_or_number(ident, "node id")
        depth = self.int_arg("depth", 10, 1, 50)
        graph = await self.call(lambda c: c.lineage(node, depth=depth))
        self.write_json(graph.to_dict())


#: (path below API_ROOT, handler) — the whole REST surface, in one place.
ROUTES: list[tuple[str, type[MlopsHandler]]] = [
    ("health", HealthHandler),
    ("experiments", ExperimentsHandler),
    ("runs", RunsHandler),
    (rf"runs/{_RUN}", RunHandler),
    (rf"runs/{_RUN}/metrics/(?P<key>.+)", MetricHistoryHandler),
    (rf"runs/{_RUN}/artifacts/(?P<name>.+)", ArtifactHandler),
    (rf"runs/{_RUN}/notebook", NotebookHandler),
    (rf"runs/{_RUN}/diff/(?P<other_run_id>[^/]+)", RunDiffHandler),
    ("lineage", LineageHandler),
    *registry_routes.ROUTES,
    *pipeline_routes.ROUTES,
    *monitoring_routes.ROUTES,
    *features_routes.ROUTES,
    *view_routes.ROUTES,
]


def _version() -> str:
    from jupyter_mlops._version import __version__

    return __version__
