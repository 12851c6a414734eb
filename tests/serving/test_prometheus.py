"""The model server's ``/metrics`` as Prometheus reads it: a real server with a monitor, real
requests that close drift windows, then ``promtool check metrics`` (Prometheus' own linter) on
the scraped text, and the types and names checked with prometheus_client's parser."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from .conftest import FEATURES, frame, get, post


def _scrape_with_drift(server) -> str:
    X = frame(160, seed=21)
    X["c"] = X["c"] + 50.0  # shifted: drift to report
    status, _ = post(server.url + "/invocations",
                     {"dataframe_split": {"columns": FEATURES, "data": X.to_numpy().tolist()}})
    assert status == 200
    post(server.url + "/invocations", {"instances": [["x", 1, 2]]})  # one 400
    deadline = time.time() + 30
    text = ""
    while time.time() < deadline:  # windows close off the request path
        text = get(server.url + "/metrics")[1].decode()
        if "mlops_drift_psi{" in text and "mlops_drift_ks_pvalue{" in text:
            return text
        time.sleep(0.2)
    pytest.fail(f"no drift gauges appeared in /metrics:\n{text}")


def test_promtool_accepts_the_exposition(server, tmp_path):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (scripts/install-system-deps installs the "
                    "Debian 'prometheus' package that ships it)")
    text = _scrape_with_drift(server)
    out = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                         capture_output=True, timeout=60)
    # promtool exits 0 when clean, 3 for lint problems (printed one per line), 1 on errors.
    assert out.returncode == 0 and not out.stdout.strip() and not out.stderr.strip(), (
        out.returncode, out.stdout.decode(), out.stderr.decode())


def test_counters_are_counters_and_each_statistic_has_its_gauge(server):
    from prometheus_client.parser import text_string_to_metric_families

    text = _scrape_with_drift(server)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    types = {name: f.type for name, f in families.items()}
    for name in ("mlops_serving_requests", "mlops_serving_predictions",
                 "mlops_serving_model_switches", "mlops_serving_errors",
                 "mlops_serving_request_body_bytes", "mlops_monitor_predictions",
                 "mlops_monitor_feedback", "mlops_monitor_windows",
                 "mlops_serving_monitor_dropped_requests", "mlops_serving_monitor_errors"):
        assert types.get(name) == "counter", (name, types.get(name))
        assert any(s.name == name + "_total" for s in families[name].samples), name
    for name in ("mlops_drift_psi", "mlops_drift_ks_statistic", "mlops_drift_ks_pvalue",
                 "mlops_drift_feature_drifted", "mlops_drift_drifted_features_ratio",
                 "mlops_serving_model_version", "mlops_serving_start_time_seconds"):
        assert types.get(name) == "gauge", (name, types.get(name))
    assert types.get("mlops_serving_request_seconds") == "histogram"
    assert not any("drift_score" in n for n in families)
    assert not any(s.labels.get("measure") for f in families.values() for s in f.samples)
    psi = {s.labels["feature"]: s.value for s in families["mlops_drift_psi"].samples}
    pvalue = {s.labels["feature"]: s.value for s in families["mlops_drift_ks_pvalue"].samples}
    assert set(FEATURES) <= set(psi) and psi["c"] > 1.0  # the shifted column
    assert all(0.0 <= v <= 1.0 for v in pvalue.values()) and pvalue["c"] < 0.01
    errors = {s.labels["error_code"]: s.value for s in families["mlops_serving_errors"].samples
              if s.name.endswith("_total")}
    assert errors.get("BAD_REQUEST", 0) >= 1  # the string in a float column
    windows = [s.value for s in families["mlops_monitor_windows"].samples
               if s.name.endswith("_total")]
    assert windows and windows[0] >= 1
    assert all(s.value >= 0 for s in families["mlops_serving_model_switches"].samples)
    for name in ("mlops_serving_monitor_dropped_requests", "mlops_serving_monitor_errors"):
        assert [s.value for s in families[name].samples if s.name.endswith("_total")] == [0]
