"""Monitoring routes through a real jupyter_server with token authentication."""

from __future__ import annotations

import pytest

from jupyter_mlops.server.handlers import API_ROOT


async def test_monitors_list(api, monitor_seed):
    status, body = await api("monitors")
    assert status == 200
    (mon,) = body["monitors"]
    assert mon["name"] == "churn-monitor"
    assert mon["model_ref"] == "churn@champion" and mon["model_name"] == "churn"
    assert mon["windows"] == 4 and mon["window"] == {"rows": 400}
    latest = mon["latest_window"]
    assert latest["seq"] == 4 and latest["rows"] == 400
    assert latest["drifted"] == ["tenure"] and latest["columns_drifted"] == 1
    assert latest["columns_checked"] == 3 and latest["drift_share"] == pytest.approx(1 / 3)
    assert latest["prediction_drifted"] is True
    assert mon["open_alerts"] == 1  # raised by window 4 (window 3's is history)
    assert mon["last_alert_at"] is not None


async def test_monitors_list_empty_store(api, mlops_store):
    status, body = await api("monitors")
    assert status == 200 and body == {"monitors": []}


async def test_monitor_detail_config_and_reference(api, monitor_seed):
    status, body = await api("monitors", "churn-monitor")
    assert status == 200
    assert body["name"] == "churn-monitor" and body["model_ref"] == "churn@champion"
    assert body["config"]["window"] == {"rows": 400}
    assert body["config"]["categorical"] == ["plan"]
    assert body["thresholds"]["psi"] == pytest.approx(0.1)
    assert body["score_measure"] == "psi"
    ref = body["reference"]
    assert ref["rows"] == 2000
    kinds = {c["name"]: c["kind"] for c in ref["columns"]}
    assert kinds == {"tenure": "numeric", "plan": "categorical", "charges": "numeric"}
    assert ref["prediction"]["name"] == "@prediction"
    (rule,) = body["rules"]
    assert (rule["measure"], rule["feature"], rule["op"], rule["threshold"]) == \
        ("psi", "tenure", ">", 0.2)
    assert body["open_alerts"] == 1
    assert body["predictions_logged"] == 1600 and body["predictions_labelled"] == 400


async def test_monitor_windows_series(api, monitor_seed):
    status, body = await api("monitors", "churn-monitor", "windows")
    assert status == 200
    assert body["features"] == ["charges", "plan", "tenure"]
    assert body["threshold"] == pytest.approx(0.1) and body["score_measure"] == "psi"
    windows = body["windows"]
    assert [w["seq"] for w in windows] == [1, 2, 3, 4]
    for w in windows:
        assert set(w["features"]) == {"charges", "plan", "tenure"}
        assert w["features"]["plan"]["drifted"] is False
        assert w["features"]["tenure"]["missing_share"] == 0.0
        assert w["prediction"]["score"] is not None
    assert [w["features"]["tenure"]["drifted"] for w in windows] == [False, False, True, True]
    assert windows[3]["features"]["tenure"]["score"] > 1.0 > \
        windows[0]["features"]["tenure"]["score"]
    assert windows[3]["prediction"]["drifted"] is True
    assert windows[3]["quality"]["accuracy"] == pytest.approx(0.8)
    assert windows[3]["quality"]["labelled"] == 400
    assert windows[0]["quality"] == {}
    # The newest `limit` windows, still oldest first.
    status, body = await api("monitors", "churn-monitor", "windows", params={"limit": 2})
    assert status == 200 and [w["seq"] for w in body["windows"]] == [3, 4]


async def test_monitor_alerts(api, monitor_seed):
    status, body = await api("monitors", "churn-monitor", "alerts")
    assert status == 200
    newest, older = body["alerts"]
    assert (newest["window_seq"], newest["open"]) == (4, True)
    assert (older["window_seq"], older["open"]) == (3, False)
    assert newest["feature"] == "tenure" and newest["measure"] == "psi"
    assert newest["action"] == "RECORDED" and newest["value"] > 0.2
    assert "tenure" in newest["message"]
    assert len(body["rules"]) == 1
    status, body = await api("monitors", "churn-monitor", "alerts", params={"limit": 1})
    assert status == 200 and len(body["alerts"]) == 1


@pytest.mark.slow  # renders the drift report, 7.2 s measured (load 9)
async def test_monitor_report_attachment_with_csp(raw_fetch, monitor_seed):
    status, headers, body = await raw_fetch(f"{API_ROOT}/monitors/churn-monitor/report")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert headers["Content-Security-Policy"] == (
        "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'")
    assert headers["Content-Disposition"].startswith("attachment;")
    assert "monitor-churn-monitor.html" in headers["Content-Disposition"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    html = body.decode()
    assert html.startswith("<!DOCTYPE html>") and "Monitor churn-monitor" in html
    assert "data:image/png;base64," in html and "<script" not in html


@pytest.mark.slow  # renders the drift report, 6.6 s (+5.5 s setup) measured (load 9)
async def test_monitor_report_inline(raw_fetch, monitor_seed):
    status, headers, _ = await raw_fetch(
        f"{API_ROOT}/monitors/churn-monitor/report?inline=1&last=2")
    assert status == 200
    assert headers["Content-Disposition"] == "inline"
    assert headers["Content-Security-Policy"].startswith("sandbox;")


@pytest.mark.parametrize("suffix", ["", "/windows", "/alerts", "/report"])
async def test_unknown_monitor_is_404(api, monitor_seed, suffix):
    status, body = await api(*f"monitors/nope{suffix}".split("/"))
    assert status == 404
    assert body["error"]["type"] == "NotFoundError"
    assert "There is no monitor 'nope'" in body["error"]["message"]


@pytest.mark.parametrize("path,params", [
    ("windows", {"limit": "0"}), ("windows", {"limit": "x"}), ("windows", {"limit": "10001"}),
    ("alerts", {"limit": "-1"}), ("report", {"last": "0"}), ("report", {"inline": "yes"}),
])
async def test_bad_parameters_are_400(api, monitor_seed, path, params):
    status, body = await api("monitors", "churn-monitor", path, params=params)
    assert status == 400
    assert body["error"]["type"] == "InvalidInputError"


@pytest.mark.parametrize("suffix", ["", "/churn-monitor", "/churn-monitor/windows",
                                    "/churn-monitor/alerts", "/churn-monitor/report"])
async def test_no_token_is_403(raw_fetch, monitor_seed, suffix):
    status, _, body = await raw_fetch(f"{API_ROOT}/monitors{suffix}", auth=False)
    assert status == 403
    assert b"tenure" not in body and b"churn@champion" not in body


async def test_monitor_name_with_slash_is_percent_encoded(raw_fetch, mlops_store):
    """``mlops.monitor("churn/3")`` is named ``churn/3``: its routes take it as ``churn%2F3``."""
    import numpy as np
    import pandas as pd

    from jupyter_mlops.client import Client
    from jupyter_mlops.monitoring.monitor import monitor

    client = Client(mlops_store.tracking_uri, mlops_store.artifact_root)
    try:
        ref = pd.DataFrame({"x": np.arange(50.0)})
        monitor("churn/3", reference=ref, reference_predictions=np.zeros(50), client=client)
    finally:
        client.writer.close()
    import json

    status, _, body = await raw_fetch(f"{API_ROOT}/monitors/churn%2F3")
    assert status == 200
    body = json.loads(body)
    assert body["name"] == "churn/3" and body["windows"] == 0
    status, _, body = await raw_fetch(f"{API_ROOT}/monitors/churn%2F3/windows")
    assert status == 200
    body = json.loads(body)
    assert body["windows"] == [] and body["features"] == []
