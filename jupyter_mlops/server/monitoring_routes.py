"""Monitoring routes: monitors, their per-window drift/quality series, alerts, HTML report.

Read-only. Each verb reads :class:`~jupyter_mlops.store.monitoring.MonitoringStore` (and, for
the detail and the report, the monitor's reference profile) off the event loop. An unknown
monitor is the store's ``NotFoundError`` → 404 with its message. The report is the standalone
HTML of :meth:`Monitor.report` — every value escaped, figures as ``data:`` PNGs — served with
a sandboxing Content-Security-Policy and as an attachment unless ``?inline=1``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.server.base import MlopsHandler
from jupyter_mlops.server.monitoring_schemas import (
    REPORT_CSP,
    alert_json,
    monitor_detail_json,
    monitor_summary_json,
    report_filename,
    rule_json,
    windows_json,
)
from jupyter_mlops.server.schemas import attachment_header

if TYPE_CHECKING:
    from jupyter_mlops.client import Client

_MONITOR = r"(?P<monitor>[^/]+)"
MAX_WINDOWS = 10_000
MAX_ALERTS = 1000
MAX_REPORT_WINDOWS = 500


def _store(client: Client):
    return client.stores.monitoring  # the Client's own, built once


def _latest(store: Any, monitor_id: int):
    windows = store.list_windows(monitor_id, 1)
    return windows[-1] if windows else None


def _open_alerts(store: Any, latest: Any | None) -> int:
    """Alerts raised by the latest window: their condition held at the last check."""
    return len(store.alerts_in_window(latest.id)) if latest is not None else 0


class MonitorsHandler(MlopsHandler):
    """Every monitor with its model, latest window and open alerts."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        def load(client: Client) -> list[dict[str, Any]]:
            store = _store(client)
            out = []
            for info in store.list_monitors():
                latest = _latest(store, info.id)
                last = store.list_alerts(info.id, 1)
                out.append(monitor_summary_json(info, latest, _open_alerts(store, latest),
                                                last[0].at if last else None))
            return out

        self.write_json({"monitors": await self.call(load)})


class MonitorHandler(MlopsHandler):
    """One monitor: configuration, thresholds, reference profile summary, alert rules."""

    @web.authenticated
    @authorized
    async def get(self, monitor: str) -> None:
        def load(client: Client) -> dict[str, Any]:
            from jupyter_mlops.monitoring.profile import ReferenceProfile

            store = _store(client)
            info = store.get_monitor(monitor)
            profile = ReferenceProfile.from_bytes(client.store.blobs.get_bytes(
                info.profile_digest))
            latest = _latest(store, info.id)
            return monitor_detail_json(info, profile, latest, store.list_rules(info.id),
                                       _open_alerts(store, latest),
                                       store.record_counts(info.id))

        self.write_json(await self.call(load))


class MonitorWindowsHandler(MlopsHandler):
    """The newest ``limit`` windows, oldest first: the drift and quality time series."""

    @web.authenticated
    @authorized
    async def get(self, monitor: str) -> None:
        limit = self.int_arg("limit", 100, 1, MAX_WINDOWS)

        def load(client: Client) -> dict[str, Any]:
            store = _store(client)
            info = store.get_monitor(monitor)
            windows = store.list_windows(info.id, limit)
            points = store.series(info.id, since_seq=windows[0].seq) if windows else []
            return windows_json(info, windows, points)

        self.write_json(await self.call(load))


class MonitorAlertsHandler(MlopsHandler):
    """Recorded alerts, newest first (``open``: raised by the latest window), and the rules."""

    @web.authenticated
    @authorized
    async def get(self, monitor: str) -> None:
        limit = self.int_arg("limit", 100, 1, MAX_ALERTS)

        def load(client: Client) -> dict[str, Any]:
            store = _store(client)
            info = store.get_monitor(monitor)
            alerts = store.list_alerts(info.id, limit)
            seqs = store.window_seqs(info.id, [a.window_id for a in alerts
                                               if a.window_id is not None])
            latest = _latest(store, info.id)
            latest_id = latest.id if latest is not None else None
            return {
                "name": info.name, "model_ref": info.model_ref,
                "alerts": [alert_json(a, seqs.get(a.window_id) if a.window_id else None,
                                      a.window_id is not None and a.window_id == latest_id)
                           for a in alerts],
                "rules": [rule_json(r) for r in store.list_rules(info.id)],
            }

        self.write_json(await self.call(load))


class MonitorReportHandler(MlopsHandler):
    """The standalone HTML report (figures and tables of the last ``last`` windows)."""

    @web.authenticated
    @authorized
    async def get(self, monitor: str) -> None:
        last = self.int_arg("last", 50, 1, MAX_REPORT_WINDOWS)
        inline = self.str_arg("inline")
        if inline not in (None, "0", "1", "true", "false"):
            raise InvalidInputError("Query parameter 'inline' must be 1 or 0.")

        def render(client: Client) -> tuple[str, str]:
            from jupyter_mlops.monitoring.monitor import get_monitor

            mon = get_monitor(monitor, client=client)
            report = mon.report(last=last)
            try:
                return mon.name, report.to_html()
            finally:
                report.close()

        name, html = await self.call(render)
        self.set_header("Content-Security-Policy", REPORT_CSP)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "private, no-cache")
        if inline in ("1", "true"):
            self.set_header("Content-Disposition", "inline")
        else:
            self.set_header("Content-Disposition", attachment_header(report_filename(name)))
        # APIHandler.finish sets the Content-Type (JSON unless told otherwise).
        self.finish(html.encode("utf-8"), set_content_type="text/html; charset=utf-8")


ROUTES: list[tuple[str, type[MlopsHandler]]] = [
    ("monitors", MonitorsHandler),
    (rf"monitors/{_MONITOR}", MonitorHandler),
    (rf"monitors/{_MONITOR}/windows", MonitorWindowsHandler),
    (rf"monitors/{_MONITOR}/alerts", MonitorAlertsHandler),
    (rf"monitors/{_MONITOR}/report", MonitorReportHandler),
]
