"""Run views for the panel: a sweep, grouped curves, a run's cell timeline, HTML reports.

Read-only. Each verb parses its query (``view_schemas``), calls one Client method off the
event loop (``sweep_view``, ``group_runs``, ``cell_timeline``, ``report``) and renders it.
A run that is not a sweep, or an unknown run, is the client's ``NotFoundError`` → 404.
"""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from jupyter_mlops.server.base import MlopsHandler
from jupyter_mlops.server.view_schemas import (
    MAX_REPORT_RUNS,
    groups_query,
    report_headers,
    run_list,
    view_json,
)

_RUN = r"(?P<run_id>[^/]+)"


class SweepViewHandler(MlopsHandler):
    """A sweep's trials, history, space and parameter importance (parent or trial run)."""

    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        self.write_json(view_json(await self.call(lambda c: c.sweep_view(run_id))))


class CellTimelineHandler(MlopsHandler):
    """One row per executed cell of a run: wall and CPU time, peak RSS, I/O."""

    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        self.write_json(view_json(await self.call(lambda c: c.cell_timeline(run_id))))


class GroupsHandler(MlopsHandler):
    """Runs grouped by a param or tag: per metric, each group's mean and spread by step."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        query = groups_query(self.get_query_arguments("run"), self.str_arg("by"),
                             self.get_query_arguments("key"),
                             self.int_arg("max_points", 500, 2, 5000))
        view = await self.call(lambda c: c.group_runs(query.runs, query.by, query.keys or None,
                                                      query.max_points))
        self.write_json(view_json(view))


class _ReportHandler(MlopsHandler):
    def send_report(self, html: str, filename: str) -> None:
        headers = report_headers(filename)
        content_type = headers.pop("Content-Type")
        for name, value in headers.items():
            self.set_header(name, value)
        # APIHandler.finish would label it application/json otherwise.
        self.finish(html.encode("utf-8"), set_content_type=content_type)


class RunReportHandler(_ReportHandler):
    """One run's self-contained HTML report, as a download."""

    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        report = await self.call(lambda c: c.report(f"run:{c.resolve_run_id(run_id)}"))
        self.send_report(report.html, f"run-{run_id[:12]}")


class CompareReportHandler(_ReportHandler):
    """A comparison of 2+ runs (``?run=ID&run=ID…``) as one self-contained HTML file."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        ids = run_list(self.get_query_arguments("run"), 2, MAX_REPORT_RUNS)
        report = await self.call(lambda c: c.report("runs", runs=ids, max_runs=len(ids)))
        self.send_report(report.html, f"compare-{len(ids)}-runs")


ROUTES: list[tuple[str, type[MlopsHandler]]] = [
    (rf"runs/{_RUN}/sweep", SweepViewHandler),
    (rf"runs/{_RUN}/cells", CellTimelineHandler),
    (rf"runs/{_RUN}/report", RunReportHandler),
    ("compare/groups", GroupsHandler),
    ("compare/report", CompareReportHandler),
]
