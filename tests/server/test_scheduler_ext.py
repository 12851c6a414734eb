"""The pipeline scheduler runs inside the server (``MlopsExtension.run_scheduler``): started
when the extension loads, stopped when the server shuts its extensions down."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest
from traitlets.config import Config

REPO = Path(__file__).resolve().parents[2]


async def test_scheduler_starts_with_the_server_and_stops_on_shutdown(
        jp_serverapp, mlops_extension):
    assert mlops_extension.run_scheduler is True  # the default
    scheduler = mlops_extension.wait_for_scheduler()
    assert scheduler is not None
    thread = scheduler._thread
    assert thread is not None and thread.is_alive() and thread.daemon
    assert scheduler.client is mlops_extension.client()  # watches the server's store

    await jp_serverapp.extension_manager.stop_all_extensions()  # what server shutdown does
    assert mlops_extension.scheduler is None
    assert not thread.is_alive()


@pytest.mark.slow
async def test_in_server_scheduler_fires_a_due_schedule(api, mlops_extension, tmp_path,
                                                        monkeypatch):
    from jupyter_mlops.client import Client
    from jupyter_mlops.pipelines.schedule import add_schedule
    from tests.seed_panel import write_notebook

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    write_notebook(tmp_path / "tick" / "tick.ipynb", "import jupyter_mlops as mlops\n"
                   "mlops.log_metric('n', n)", params="n = 1")
    (tmp_path / "tick" / "pipeline.yaml").write_text(
        "name: tick\nsteps:\n  tick: {notebook: tick.ipynb, parameters: {n: 7}}\n")
    client = Client()  # the test store, from the environment
    add_schedule(tmp_path / "tick" / "pipeline.yaml", "* * * * * *", name="every-second",
                 catchup="none", client=client)
    client.writer.close()
    scheduler = mlops_extension.wait_for_scheduler()

    deadline = time.monotonic() + 120
    while True:
        status, body = await api("schedules", "every-second", "history", params={"limit": 500})
        done = [f for f in body["fires"] if f["pipeline_status"] in ("SUCCEEDED", "FAILED")]
        if done:
            break
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.5)
    (fire,) = done
    assert fire["pipeline_status"] == "SUCCEEDED" and fire["fired_by"] == scheduler.identity
    # While that run went on, later slots were not launched on top of it.
    assert {f["status"] for f in body["fires"]} <= {"FIRED", "SKIPPED"}

    status, _ = await api("schedules", "every-second", "pause", method="POST", body=b"")
    assert status == 200
    status, body = await api("schedules", "every-second", "history", params={"limit": 500})
    count = len(body["fires"])
    await asyncio.sleep(2.5)
    status, body = await api("schedules", "every-second", "history", params={"limit": 500})
    assert len(body["fires"]) == count  # paused: no more slots


class TestDisabled:
    @pytest.fixture
    def jp_server_config(self, mlops_store) -> Config:
        return Config({"ServerApp": {"jpserver_extensions": {"jupyter_mlops.server": True}},
                       "MlopsExtension": {"run_scheduler": False}})

    async def test_no_scheduler_when_disabled(self, api, mlops_extension):
        assert mlops_extension.wait_for_scheduler() is None
        status, _ = await api("schedules")
        assert status == 200
        assert mlops_extension.scheduler is None


async def test_loaded_once_when_enabled_under_both_names(jp_configurable_serverapp, mlops_store):
    """``jupyter_mlops`` (the shipped config) and ``jupyter_mlops.server`` both enabled: one
    extension object, one scheduler, routes registered once."""
    from jupyter_mlops.server.registry_routes import ModelsHandler

    app = jp_configurable_serverapp(config=Config({"ServerApp": {"jpserver_extensions": {
        "jupyter_mlops": True, "jupyter_mlops.server": True}}}))
    try:
        ext = app.web_app.settings["jupyter_mlops"]
        assert ext.wait_for_scheduler() is not None
        apps = app.extension_manager.extension_apps
        assert {type(a).__name__ for a in apps["jupyter_mlops"] | apps["jupyter_mlops.server"]} \
            == {"MlopsServerApp"}
        assert _count_rules(app.web_app.default_router, ModelsHandler) == 1
        await app.extension_manager.stop_all_extensions()
        assert ext.scheduler is None
    finally:
        await app._cleanup()


def _count_rules(router, handler: type) -> int:
    count = 0
    for rule in getattr(router, "rules", []):
        count += 1 if rule.target is handler else _count_rules(rule.target, handler)
    return count
