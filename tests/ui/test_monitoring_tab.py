"""The Monitoring tab in a real JupyterLab + chromium: the seeded monitor in the list with its
open alert, its per-feature drift chart with the drifted feature flagged, the latest window,
the alerts, and the standalone report in a sandboxed iframe."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.seed_panel import DRIFTED_FEATURE, MONITOR
from tests.ui.test_models_pipelines import open_tab, set_theme

pytestmark = pytest.mark.browser


def test_monitor_drift_alerts_and_report(page: Page, lab, ui_store, screenshots):
    assert ui_store.monitor == MONITOR
    panel = open_tab(page, lab, "Monitoring")
    row = panel.locator(f".jp-mlops-monitor-row[data-monitor='{MONITOR}']")
    expect(row).to_contain_text("churn@champion")
    expect(row).to_contain_text(f"1/3 drifted ({DRIFTED_FEATURE})")
    expect(row.locator(".jp-mlops-alert-badge")).to_have_text("1 open")
    page.screenshot(path=str(screenshots / "19-monitors.png"))
    row.click()

    view = panel.locator(f".jp-mlops-monitor[data-monitor='{MONITOR}']")
    expect(view.locator(".jp-mlops-monitor-status")).to_contain_text(
        f"Drift in window 4: {DRIFTED_FEATURE} and the predictions")
    # The drift chart (PSI first): one line per numeric feature, PSI's threshold with its
    # direction, the drifted feature flagged.
    chart = view.locator(".jp-mlops-feature-drift")
    expect(chart.locator(".jp-mlops-drift-line")).to_have_count(2)
    expect(chart.locator(".jp-mlops-drift-threshold")).to_contain_text("drift when PSI ≥ 0.1")
    flagged = chart.locator(".jp-mlops-legend-item.jp-mlops-drift-flagged")
    expect(flagged).to_have_count(1)
    expect(flagged).to_have_attribute("data-feature", DRIFTED_FEATURE)
    expect(flagged).to_contain_text("drifted")
    drifted_line = chart.locator(f".jp-mlops-drift-line[data-feature='{DRIFTED_FEATURE}']")
    expect(drifted_line.locator(".jp-mlops-drift-point-drifted")).to_have_count(2)
    # The categorical feature is judged by chi-squared and Jensen–Shannon: its own chart.
    view.get_by_label("Drift statistic").select_option("js")
    plan = chart.locator(".jp-mlops-drift-line[data-feature='plan']")
    expect(plan).to_have_count(1)
    expect(plan.locator(".jp-mlops-drift-point-drifted")).to_have_count(0)
    view.get_by_label("Drift statistic").select_option("psi")
    expect(view.locator(".jp-mlops-prediction-drift .jp-mlops-drift-flagged")).to_have_count(1)
    expect(view.locator(".jp-mlops-quality")).to_contain_text("accuracy")
    # The latest window, per feature.
    latest = view.locator(".jp-mlops-latest-window")
    expect(latest.locator(f"[data-feature='{DRIFTED_FEATURE}']")).to_have_attribute(
        "data-drifted", "true")
    expect(latest.locator("[data-feature='plan']")).to_have_attribute("data-drifted", "false")
    # The alerts: newest first, the latest window's one open.
    alerts = view.locator(".jp-mlops-alert-row")
    expect(alerts).to_have_count(2)
    expect(alerts.nth(0)).to_have_attribute("data-open", "true")
    expect(alerts.nth(0)).to_contain_text(DRIFTED_FEATURE)
    expect(alerts.nth(0)).to_contain_text("psi")
    expect(alerts.nth(0)).to_contain_text("RECORDED · open")
    expect(alerts.nth(1)).to_have_attribute("data-open", "false")
    page.screenshot(path=str(screenshots / "20-monitor-drift.png"), full_page=True)
    view.locator(".jp-mlops-alerts").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "21-monitor-alerts.png"))

    # The standalone report, inline, in a frame that may run nothing.
    view.get_by_role("button", name="Open report").click()
    frame_el = view.locator("iframe.jp-mlops-report-frame")
    expect(frame_el).to_have_attribute("sandbox", "")
    src = frame_el.get_attribute("src") or ""
    assert f"mlops/api/v1/monitors/{MONITOR}/report?inline=1" in src
    report = view.frame_locator("iframe.jp-mlops-report-frame")
    expect(report.locator("h2")).to_have_text(f"Monitor {MONITOR}", timeout=30_000)
    expect(report.locator("img").first).to_be_visible()
    frame_el.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "22-monitor-report.png"))

    set_theme(page, "JupyterLab Dark")
    view.get_by_role("button", name="Hide report").click()
    view.locator(".jp-mlops-feature-drift").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "23-monitor-drift-dark.png"))
    set_theme(page, "JupyterLab Light")
