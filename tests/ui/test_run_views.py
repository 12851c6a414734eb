"""The run views of issues 17 and 19 in a real JupyterLab + chromium: a sweep's trials,
optimisation history, parallel coordinates and parameter importance in its run details, a
run's cell timeline, grouped curves in the compare view, and the HTML report downloads —
at JupyterLab's default sidebar width (230 px, as test_panel_layout sets it) and wide.
Screenshots go to ui-tests/screenshots/."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.ui.test_panel import compare_runs, row
from tests.ui.test_panel_layout import PANEL, open_panel, set_sidebar_width

pytestmark = pytest.mark.browser

EVIL = '<img src=x onerror="window.__xss=1">'
CELL_SOURCES = ["import pandas as pd", "df = pd.read_csv('train.csv')", "model.fit(X, y)"]


@pytest.fixture(scope="module")
def views_seed(ui_store):
    """A sweep (one choice is markup) and a run with per-cell system metrics and a
    notebook snapshot, in experiment "sweeps" (the other tests' experiments stay as seeded)."""
    from jupyter_mlops.sweeps.runner import sweep

    client = ui_store.client

    def objective(trial):
        if trial["kernel"] == EVIL and trial["depth"] == 2:
            raise ValueError("this combination is refused")
        return (trial["lr"] - 0.01) ** 2 + trial["depth"] / 100

    result = sweep(objective, {"lr": "loguniform(1e-4,1e-1)", "depth": "int(2,6)",
                               "kernel": ["rbf", EVIL]},
                   n_trials=10, name="ui-sweep", experiment="sweeps", sampler="random",
                   seed=3, client=client)
    run = client.create_run(experiment="sweeps", name="cells-demo")
    notebook = {"cells": [{"cell_type": "code", "execution_count": i + 1, "id": f"c{i}",
                           "metadata": {}, "outputs": [], "source": src}
                          for i, src in enumerate(CELL_SOURCES)],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    client.log_notebook(run.id, notebook, path=None)
    for count, (wall, rss) in enumerate([(0.2, 1.5e8), (3.5, 9e8), (1.0, 4e8)], start=1):
        client.log_metrics(run.id, {"system/cell_wall_seconds": wall,
                                    "system/cell_cpu_seconds": wall * 0.9,
                                    "system/cell_peak_rss_bytes": rss}, step=count)
    client.end_run(run.id)
    client.flush()
    return result


def no_sideways_overflow(page: Page) -> None:
    panel = page.locator(PANEL)
    assert panel.evaluate("el => el.scrollWidth <= el.clientWidth + 1")


@pytest.mark.parametrize("width", [230, 600])
def test_sweep_and_cells_in_run_details(page: Page, lab, views_seed, screenshots, width):
    open_panel(page, lab)
    set_sidebar_width(page, width)
    page.locator(f"{PANEL} .jp-mlops-experiment-select").select_option("sweeps")
    row(page, "ui-sweep").click()
    details = page.locator(f"{PANEL} .jp-mlops-details")
    sweep = details.locator(".jp-mlops-sweep")
    trials = sweep.locator(".jp-mlops-trials tbody tr")
    expect(trials).to_have_count(10, timeout=60_000)  # the first importance imports sklearn
    n_complete = len([t for t in views_seed.trials if t.state.name == "COMPLETE"])
    expect(sweep.locator('.jp-mlops-trials tr[data-state="COMPLETE"]')).to_have_count(n_complete)
    for t in views_seed.trials:
        if t.state.name == "FAIL":
            expect(sweep.locator('.jp-mlops-trials tr[data-state="FAIL"]').first).to_be_visible()
    # The markup choice is a value in the table, shown as text, never run.
    expect(sweep.locator(".jp-mlops-trials td", has_text=EVIL).first).to_be_attached()
    assert page.evaluate("window.__xss") is None
    expect(sweep.locator(".jp-mlops-chart polyline").first).to_be_attached()
    expect(sweep.locator(".jp-mlops-parallel polyline")).to_have_count(n_complete)
    importance = sweep.locator(".jp-mlops-importance tr")
    expect(importance).to_have_count(3)
    best = max(views_seed.importance(), key=views_seed.importance().get)
    expect(importance.first.locator("th")).to_have_text(best)
    sweep.scroll_into_view_if_needed()
    no_sideways_overflow(page)
    page.screenshot(path=str(screenshots / f"20-sweep-{width}px.png"))
    details.locator(".jp-mlops-parallel").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / f"21-sweep-charts-{width}px.png"))

    with page.expect_download() as download:
        details.locator(".jp-mlops-report").click()
    assert download.value.suggested_filename == f"run-{views_seed.parent_run_id[:12]}.html"
    assert download.value.path().read_text(encoding="utf-8").startswith("<!DOCTYPE html>")

    # The cell timeline of another run: one row per executed cell, with its source line.
    details.locator(".jp-mlops-back").click()
    row(page, "cells-demo").click()
    cells = details.locator(".jp-mlops-cells tbody tr")
    expect(cells).to_have_count(3)
    expect(cells.nth(1)).to_contain_text("[2]")
    expect(cells.nth(1)).to_contain_text(CELL_SOURCES[1])
    expect(cells.nth(1)).to_contain_text("3.5 s")
    expect(cells.nth(1)).to_contain_text("MiB")
    details.locator(".jp-mlops-cells").scroll_into_view_if_needed()
    no_sideways_overflow(page)
    page.screenshot(path=str(screenshots / f"22-cell-timeline-{width}px.png"))


def test_grouped_curves_and_compare_report(page: Page, lab, ui_store, screenshots):
    open_panel(page, lab)
    set_sidebar_width(page, 600)
    view = compare_runs(page, "iris", "svc-lr0.1", "svc-lr0.01", "rf-lr0.1", "rf-lr0.01")
    with page.expect_response(lambda r: "/mlops/api/v1/compare/groups" in r.url) as answer:
        view.locator(".jp-mlops-group-by").select_option("params.model")
    assert answer.value.status == 200
    charts = view.locator(".jp-mlops-band-chart")
    expect(charts).to_have_count(2)  # acc and loss
    acc = view.locator('.jp-mlops-band-chart[data-metric="acc"]')
    expect(acc.locator(".jp-mlops-band")).to_have_count(2)  # rf and svc
    expect(acc.locator('.jp-mlops-band[data-group="svc"] polygon')).to_have_count(1)
    expect(acc.locator(".jp-mlops-legend-item").first).to_contain_text("rf (2 runs)")
    acc.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "23-grouped-curves-600px.png"))
    set_sidebar_width(page, 230)
    expect(acc.locator(".jp-mlops-band")).to_have_count(2)
    no_sideways_overflow(page)
    acc.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "23-grouped-curves-230px.png"))

    with page.expect_download() as download:
        view.locator(".jp-mlops-report").click()
    assert download.value.suggested_filename == "compare-4-runs.html"
    html = download.value.path().read_text(encoding="utf-8")
    assert "svc-lr0.01" in html and "rf-lr0.1" in html
