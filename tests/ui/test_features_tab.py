"""The Features tab in a real JupyterLab + chromium (issue 16): the views with their version
and freshness, a view's versions, a feature's distribution as a histogram from the REST
statistics (or its top values), user text shown as text; at 820 px and at the 230 px sidebar."""

from __future__ import annotations

import pandas as pd
import pytest
from playwright.sync_api import Page, expect

from jupyter_mlops.client import Client
from tests.ui.test_models_pipelines import open_tab
from tests.ui.test_panel_layout import inside, set_sidebar_width

pytestmark = pytest.mark.browser

HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def feature_view(ui_store):
    """``driver_stats`` v1 (5 rows) and v2 (6 rows, materialized) in the session's store."""
    from jupyter_mlops.store import forget_open_stores

    t = pd.Timestamp("2024-01-01")
    h = pd.Timedelta(hours=1)
    frame = pd.DataFrame({
        "driver": [1, 1, 1, 2, 2, 3],
        "ts": [t, t + h, t + 3 * h, t + h, t + 2 * h, t],
        "trips": [10, 11, 12, 20, 21, 30],
        "city": [HOSTILE, "paris", "lyon", "nice", "nice", "lyon"],
    })
    client = Client(ui_store.tracking_uri, ui_store.artifact_root)
    try:
        kw = dict(entity="driver", timestamp="ts", features=["trips", "city"])
        client.features.register_view("driver_stats", frame.iloc[:5], **kw)
        client.features.register_view("driver_stats", frame, **kw)
        client.features.materialize("driver_stats")
    finally:
        client.writer.close()
        forget_open_stores()
    return frame


def test_views_versions_and_distribution(page: Page, lab, feature_view, screenshots):
    panel = open_tab(page, lab, "Features")
    row = panel.locator(".jp-mlops-feature-view-row[data-view='driver_stats']")
    expect(row.locator("td").nth(1)).to_have_text("2")
    expect(row.locator(".jp-mlops-feature-last-event")).to_have_text("2024-01-01 03:00")
    expect(row.locator(".jp-mlops-feature-online")).to_have_text("to 2024-01-01 03:00")
    row.click()

    view = panel.locator(".jp-mlops-feature-view[data-view='driver_stats']")
    expect(view.locator(".jp-mlops-feature-title")).to_have_text("driver_stats@2")
    expect(view.locator(".jp-mlops-feature-version-row")).to_have_count(2)
    # trips: a 20-bin histogram of its six values, from 10 to 30
    stats = view.locator(".jp-mlops-feature-stats[data-feature='trips']")
    bars = stats.locator(".jp-mlops-feature-bar")
    expect(bars).to_have_count(20)
    assert sum(int(c) for c in bars.evaluate_all("els => els.map(e => e.dataset.count)")) == 6
    expect(stats.locator(".jp-mlops-feature-axis").first).to_have_text("10")
    expect(stats.locator(".jp-mlops-feature-axis").last).to_have_text("30")
    page.screenshot(path=str(screenshots / "features-view.png"))

    # city: its top values; the hostile one is text, never an element
    view.get_by_label("Feature").select_option("city")
    top = view.locator(".jp-mlops-feature-stats[data-feature='city'] .jp-mlops-feature-top-row")
    expect(top).to_have_count(4)
    expect(top.filter(has_text=HOSTILE)).to_have_count(1)
    expect(panel.locator("img")).to_have_count(0)

    # an older version's statistics
    view.locator(".jp-mlops-feature-version-row[data-version='1']").click()
    expect(view.locator(".jp-mlops-feature-title")).to_have_text("driver_stats@1")
    expect(top).to_have_count(4)  # the chosen feature stays chosen
    view.get_by_label("Feature").select_option("trips")
    counts = view.locator(".jp-mlops-feature-bar").evaluate_all(
        "els => els.map(e => Number(e.dataset.count))")
    assert sum(counts) == 5

    # At the default sidebar width nothing overflows sideways; the histogram fits.
    set_sidebar_width(page, 230)
    panel_box = panel.bounding_box()
    assert panel_box and abs(panel_box["width"] - 230) <= 4, panel_box
    assert panel.evaluate("el => el.scrollWidth <= el.clientWidth + 1")
    chart = view.locator(".jp-mlops-feature-histogram").bounding_box()
    assert chart and inside(chart, panel_box), (chart, panel_box)
    page.screenshot(path=str(screenshots / "features-view-230px.png"))
    view.locator(".jp-mlops-back").click()
    expect(row).to_be_visible()


def test_lineage_draws_feature_nodes_in_their_own_colour(page: Page, lab, ui_store,
                                                         feature_view):
    """The view's node and its online table get their own stripe colour (theme variables),
    and the legend names each node kind drawn with the same colour."""
    from jupyter_mlops.store import forget_open_stores

    client = Client(ui_store.tracking_uri, ui_store.artifact_root)
    try:
        view_id = client.features.get_view("driver_stats").id
    finally:
        client.writer.close()
        forget_open_stores()
    panel = open_tab(page, lab, "Lineage")
    box = panel.locator(".jp-mlops-lineage-input")
    box.fill(f"feature_view:{view_id}")
    box.press("Enter")
    graph = panel.locator(".jp-mlops-lineage svg")
    node = graph.locator(".jp-mlops-node-feature_view.jp-mod-focus")
    expect(node).to_be_visible(timeout=30_000)
    expect(graph.locator(".jp-mlops-node-materialization")).to_have_count(1)

    def fill(locator):
        return locator.evaluate("e => getComputedStyle(e).fill")

    def var(name):
        # The theme variable resolved the same way as a fill (a probe element).
        return page.evaluate(
            """name => { const s = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
            document.querySelector('.jp-mlops-lineage svg').appendChild(s);
            s.style.fill = `var(${name})`; const v = getComputedStyle(s).fill; s.remove();
            return v; }""", name)

    view_fill = fill(node.locator(".jp-mlops-node-stripe"))
    online_fill = fill(graph.locator(".jp-mlops-node-materialization .jp-mlops-node-stripe"))
    assert view_fill == var("--jp-brand-color1")
    assert online_fill == var("--jp-brand-color0")
    kinds = {fill(graph.locator(f".jp-mlops-node-{k} .jp-mlops-node-stripe").first)
             for k in ("feature_view", "materialization", "dataset")}
    assert len(kinds) == 3  # three kinds, three colours
    legend = panel.locator(".jp-mlops-lineage-legend")
    item = legend.locator("[data-kind='feature_view']")
    expect(item).to_have_text("feature view")
    assert fill(item.locator(".jp-mlops-node-stripe")) == view_fill
    expect(legend.locator("[data-kind='materialization']")).to_have_text("materialization")
