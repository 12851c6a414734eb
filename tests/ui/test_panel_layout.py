"""Issue 15, the panel in a new user's first hour, in a real JupyterLab + chromium: every tab
reachable at the default sidebar width (230 px) and at 600 px, tables scrolling inside the
panel; the run list's column picker; figure thumbnails; the filter hint; drift thresholds that
agree with the verdicts; the model card visible; lineage of an unknown id says "not found".

Screenshots go to a pytest tmp folder (its path is printed); look at them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.seed_panel import DRIFTED_FEATURE, FIGURE_NAME, MONITOR

pytestmark = pytest.mark.browser

PANEL = "#jupyter-mlops-panel"
ROWS = f"{PANEL} .jp-mlops-run-row"
TABS = ["Runs", "Models", "Pipelines", "Monitoring", "Features", "Lineage"]
#: What each tab shows once opened (with the session's seeded store).
TAB_VIEWS = {
    "Runs": ".jp-mlops-run-row",
    "Models": ".jp-mlops-model-row[data-model='churn']",
    "Pipelines": ".jp-mlops-pipeline-row",
    "Monitoring": f".jp-mlops-monitor-row[data-monitor='{MONITOR}']",
    "Features": ".jp-mlops-features",
    "Lineage": ".jp-mlops-lineage-input",
}


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("panel-layout-screenshots")
    print(f"\nscreenshots in {folder}")
    return folder


def open_panel(page: Page, lab) -> Locator:
    page.goto(lab.lab_url())
    side = page.locator('.jp-SideBar [data-id="jupyter-mlops-panel"]')
    side.wait_for(timeout=60_000)
    side.click()
    panel = page.locator(PANEL)
    expect(panel).to_be_visible(timeout=30_000)
    return panel


def set_sidebar_width(page: Page, width: int) -> None:
    """Drag the handle between the left sidebar and the main area until the sidebar's
    stack (which holds the panel) is ``width`` px wide (±3 px)."""
    if width < 250:
        # JupyterLab 4.6's themes keep the sidebar at least 250 px wide
        # (--jp-sidebar-min-width); the issue's ~230 px is narrower still, so lower the floor.
        page.add_style_tag(content=f":root {{ --jp-sidebar-min-width: {width - 30}px !important; }}"
                                   f" #jp-left-stack {{ min-width: {width - 30}px !important; }}")
        # Lumino reads size limits when a layout is fitted: hide and show the left area.
        for _ in range(2):
            page.evaluate("window.jupyterapp.commands.execute('application:toggle-left-area')")
            page.wait_for_timeout(300)
        expect(page.locator(PANEL)).to_be_visible()
    stack = page.locator("#jp-left-stack")
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle").first
    for _ in range(4):
        left = stack.bounding_box()
        box = handle.bounding_box()
        assert left and box
        if abs(left["width"] - width) <= 3:
            return
        y = box["y"] + 300
        page.mouse.move(box["x"] + box["width"] / 2, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] / 2 + (width - left["width"]), y, steps=6)
        page.mouse.up()
        page.wait_for_timeout(300)
    final = stack.bounding_box()
    assert final and abs(final["width"] - width) <= 3, f"sidebar is {final}, wanted {width}"


def inside(inner: dict, outer: dict, slack: float = 1.0) -> bool:
    return (inner["x"] >= outer["x"] - slack and inner["y"] >= outer["y"] - slack
            and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + slack
            and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + slack)


@pytest.mark.parametrize("width", [230, 600])
def test_every_tab_reachable(page: Page, lab, shots, width):
    panel = open_panel(page, lab)
    set_sidebar_width(page, width)
    expect(panel.locator(ROWS.replace(f"{PANEL} ", "")).first).to_be_visible(timeout=30_000)
    page.screenshot(path=str(shots / f"tabs-{width}px-start.png"))
    panel_box = panel.bounding_box()
    assert panel_box and abs(panel_box["width"] - width) <= 4, panel_box
    # The panel never overflows sideways: whatever is wider scrolls inside it.
    assert panel.evaluate("el => el.scrollWidth <= el.clientWidth + 1")
    table = panel.locator(".jp-mlops-table")
    table_box = table.bounding_box()
    assert table_box and inside(table_box, panel_box), (table_box, panel_box)
    if width == 230:  # the runs table is wider than the panel: it scrolls horizontally
        assert table.evaluate("el => el.scrollWidth > el.clientWidth")
        table.evaluate("el => { el.scrollLeft = el.scrollWidth; }")
        assert table.evaluate("el => el.scrollLeft > 0")
        expect(panel.locator(".jp-mlops-app.jp-mlops-compact")).to_have_count(1)
    else:
        expect(panel.locator(".jp-mlops-app.jp-mlops-compact")).to_have_count(0)
        expect(panel.locator(".jp-mlops-tab-label")).to_have_text(TABS)

    for name in TABS:
        tab = panel.get_by_role("tab", name=name, exact=True)
        expect(tab).to_be_visible()
        expect(tab).to_have_attribute("title", name)
        box = tab.bounding_box()
        assert box and inside(box, panel_box), f"tab {name} at {box} is outside {panel_box}"
        tab.click()
        expect(tab).to_have_attribute("aria-selected", "true")
        expect(panel.locator(TAB_VIEWS[name]).first).to_be_visible(timeout=30_000)
        # The open tab says its name, even in the compact strip.
        expect(tab.locator(".jp-mlops-tab-label")).to_have_text(name)
        page.screenshot(path=str(shots / f"tabs-{width}px-{name.lower()}.png"))

    # Keyboard: arrows move between tabs (wrapping), the focused tab opens its view.
    panel.get_by_role("tab", name="Lineage", exact=True).focus()
    page.keyboard.press("ArrowRight")
    runs = panel.get_by_role("tab", name="Runs", exact=True)
    expect(runs).to_have_attribute("aria-selected", "true")
    expect(runs).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(panel.get_by_role("tab", name="Models", exact=True)).to_be_focused()
    expect(panel.locator(TAB_VIEWS["Models"])).to_be_visible()
    page.keyboard.press("End")
    expect(panel.get_by_role("tab", name="Lineage", exact=True)).to_have_attribute(
        "aria-selected", "true")


def header_titles(panel: Locator) -> list[str]:
    return [t.strip() for t in panel.locator(".jp-mlops-header [data-sort-field]")
            .all_inner_texts()]


def test_column_picker_sorts_numerically_and_is_remembered(page: Page, lab, shots):
    panel = open_panel(page, lab)
    set_sidebar_width(page, 600)
    panel.locator(".jp-mlops-experiment-select").select_option("iris")
    expect(panel.locator(".jp-mlops-total")).to_have_text("10 runs")
    panel.get_by_role("button", name="Columns").click()
    picker = panel.get_by_role("group", name="Columns")
    expect(picker).to_be_visible()
    # Fed by the keys present: the seeded iris runs log acc and loss, and four params.
    for key in ("metrics.acc", "metrics.loss", "params.lr", "params.seed", "params.model"):
        expect(picker.locator(f"[data-column='{key}']")).to_have_count(1)
    # Show loss and seed only.
    for key, want in (("metrics.acc", False), ("params.epochs", False), ("params.lr", False),
                      ("params.seed", True), ("metrics.loss", True)):
        box = picker.locator(f"[data-column='{key}'] input")
        if box.is_checked() != want:
            box.click()
        expect(box).to_be_checked(checked=want)
    titles = header_titles(panel)
    assert "loss" in titles and "seed" in titles, titles
    assert "acc" not in titles and "lr" not in titles, titles
    # Picked columns come right after the name: on screen without scrolling sideways.
    loss_box = panel.locator('.jp-mlops-header [data-sort-field="metrics.loss"]').bounding_box()
    panel_box = panel.bounding_box()
    assert loss_box and panel_box and inside(loss_box, panel_box), (loss_box, panel_box)
    page.screenshot(path=str(shots / "columns-picked.png"))

    # Sorting on a metric column orders by value, as numbers.
    header = panel.locator('.jp-mlops-header [data-sort-field="metrics.loss"]')
    header.click()  # descending
    expect(header).to_contain_text("▼")

    def losses() -> list[float]:
        texts = panel.locator(f'.jp-mlops-run-row [data-col="metrics.loss"]').all_inner_texts()
        return [float(t) for t in texts if t.strip()]

    expect(panel.locator('.jp-mlops-run-row [data-col="metrics.loss"]').first).not_to_be_empty()
    desc = losses()
    assert len(desc) >= 8 and desc == sorted(desc, reverse=True), desc
    header.click()  # ascending
    expect(header).to_contain_text("▲")
    page.wait_for_function(
        "() => { const c = [...document.querySelectorAll("
        "'#jupyter-mlops-panel .jp-mlops-run-row [data-col=\"metrics.loss\"]')]"
        ".map(e => e.textContent.trim()).filter(Boolean).map(Number);"
        " return c.length >= 8 && c.every((v, i) => i === 0 || c[i - 1] <= v); }",
        timeout=30_000)
    asc = losses()
    assert asc == sorted(asc) and asc == sorted(desc), (asc, desc)

    # The choice survives a reload (localStorage).
    panel = open_panel(page, lab)
    expect(panel.locator('.jp-mlops-header [data-sort-field="metrics.loss"]')).to_have_count(1)
    titles = header_titles(panel)
    assert "seed" in titles and "acc" not in titles, titles
    page.evaluate("window.localStorage.removeItem('jupyter-mlops:run-columns')")


def test_filter_hint_and_figure_thumbnail(page: Page, lab, ui_store, shots):
    panel = open_panel(page, lab)
    set_sidebar_width(page, 230)
    box = panel.locator(".jp-mlops-filter-input")
    box.fill("metrics.acu > 0.5")
    box.press("Enter")
    expect(panel.locator(".jp-mlops-total")).to_have_text("0 runs")
    hint = panel.locator(".jp-mlops-filter-hint")
    expect(hint).to_be_visible()
    expect(hint).to_contain_text("acu")
    expect(hint).to_contain_text("acc")
    page.screenshot(path=str(shots / "filter-hint-230px.png"))
    box.fill("metrics.acc > 0.5")
    box.press("Enter")
    expect(hint).to_have_count(0)

    set_sidebar_width(page, 600)
    panel.locator(".jp-mlops-experiment-select").select_option("iris")
    name = page.locator('[data-col="name"]', has_text=re.compile(r"^rf-lr0\.1$"))
    panel.locator(".jp-mlops-run-row", has=name).click()
    figure = panel.locator(f".jp-mlops-figure[data-artifact='{FIGURE_NAME}']")
    img = figure.get_by_role("img", name=FIGURE_NAME)
    expect(img).to_be_visible(timeout=30_000)
    expect(img).to_have_attribute("src", re.compile("^blob:"))
    # The bytes arrived and decoded: the PNG's own size (64 × 40).
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle())
    assert img.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [64, 40]
    expect(figure.locator("figcaption")).to_have_text(FIGURE_NAME)
    # Non-image artifacts get no thumbnail.
    expect(panel.locator(".jp-mlops-figure")).to_have_count(1)
    figure.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "figure-thumbnail.png"))


@pytest.mark.parametrize("width", [230, 600])
def test_model_card_is_visible(page: Page, lab, shots, width):
    panel = open_panel(page, lab)
    set_sidebar_width(page, width)
    panel.get_by_role("tab", name="Models", exact=True).click()
    panel.locator(".jp-mlops-model-row[data-model='churn']").click()
    panel.locator(".jp-mlops-version-row[data-version='2']").get_by_role(
        "button", name="v2").click()
    frame_el = panel.locator("iframe.jp-mlops-card-frame")
    expect(frame_el).to_be_visible(timeout=30_000)
    frame_el.scroll_into_view_if_needed()
    frame_box = frame_el.bounding_box()
    assert frame_box and frame_box["height"] > 150 and frame_box["width"] > 150, frame_box
    card = panel.frame_locator("iframe.jp-mlops-card-frame")
    title = card.locator("h1")
    expect(title).to_have_text("Model card: churn version 2")
    expect(title).to_be_visible()
    # Visible means drawn: text and background differ, and the title lies inside the frame.
    colours = title.evaluate(
        "h => [getComputedStyle(h).color, getComputedStyle(h.ownerDocument.body).backgroundColor]")
    assert colours[0] != colours[1], colours
    title_box = title.bounding_box()
    assert title_box and title_box["height"] > 5 and inside(title_box, frame_box), (
        title_box, frame_box)
    page.screenshot(path=str(shots / f"model-card-{width}px.png"))
    if width == 600:  # the card follows a theme change: still drawn, now in dark colours
        page.evaluate("window.jupyterapp.commands.execute('apputils:change-theme', "
                      "{theme: 'JupyterLab Dark'})")
        expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "false",
                                                       timeout=15_000)
        card = panel.frame_locator("iframe.jp-mlops-card-frame")
        expect(card.locator("h1")).to_be_visible(timeout=15_000)
        expect(card.locator("body")).not_to_have_css("background-color", colours[1],
                                                      timeout=15_000)
        dark = card.locator("h1").evaluate(
            "h => [getComputedStyle(h).color,"
            " getComputedStyle(h.ownerDocument.body).backgroundColor]")
        assert dark[0] != dark[1] and dark[1] != colours[1], (dark, colours)
        page.screenshot(path=str(shots / "model-card-600px-dark.png"))
        page.evaluate("window.jupyterapp.commands.execute('apputils:change-theme', "
                      "{theme: 'JupyterLab Light'})")
        expect(page.locator("body")).to_have_attribute("data-jp-theme-light", "true",
                                                       timeout=15_000)


def test_lineage_of_unknown_id_says_not_found(page: Page, lab, ui_store, shots):
    panel = open_panel(page, lab)
    panel.get_by_role("tab", name="Lineage", exact=True).click()
    box = panel.locator(".jp-mlops-lineage-input")
    box.fill("run:0123456789abcdef0123456789abcdef")
    box.press("Enter")
    expect(panel.locator(".jp-mlops-lineage-not-found")).to_contain_text("Not found")
    expect(panel.locator(".jp-mlops-lineage .jp-mlops-node")).to_have_count(0)
    expect(panel.locator(".jp-mlops-lineage svg")).to_have_count(0)
    # A real run still draws its graph.
    box.fill(f"run:{ui_store.runs['svc-lr0.1']}")
    box.press("Enter")
    focus = panel.locator(".jp-mlops-lineage .jp-mlops-node.jp-mod-focus")
    expect(focus).to_be_visible(timeout=30_000)
    expect(panel.locator(".jp-mlops-lineage-not-found")).to_have_count(0)


def test_drift_thresholds_agree_with_verdicts(page: Page, lab, ui_store, shots):
    panel = open_panel(page, lab)
    set_sidebar_width(page, 600)
    panel.get_by_role("tab", name="Monitoring", exact=True).click()
    panel.locator(f".jp-mlops-monitor-row[data-monitor='{MONITOR}']").click()
    view = panel.locator(f".jp-mlops-monitor[data-monitor='{MONITOR}']")
    rule = view.locator(".jp-mlops-drift-rule")
    expect(rule).to_contain_text("KS p-value < 0.05 and PSI ≥ 0.1")
    expect(rule).to_contain_text("χ² p-value < 0.05 and Jensen–Shannon ≥ 0.1")
    select = view.get_by_label("Drift statistic")
    chart = view.locator(".jp-mlops-feature-drift")
    expected = {  # measure: (threshold, direction, features it decides)
        "psi": (0.1, "above", {"tenure", "charges"}),
        "ks_pvalue": (0.05, "below", {"tenure", "charges"}),
        "chi2_pvalue": (0.05, "below", {"plan"}),
        "js": (0.1, "above", {"plan"}),
    }
    for measure, (value, direction, feats) in expected.items():
        select.select_option(measure)
        line = chart.locator(".jp-mlops-drift-threshold")
        expect(line).to_have_attribute("data-measure", measure)
        assert float(line.get_attribute("data-threshold")) == value
        expect(line).to_have_attribute("data-direction", direction)
        op = "≥" if direction == "above" else "<"
        expect(line).to_contain_text(f"{op} {value:g}")
        lines = chart.locator(".jp-mlops-drift-line")
        expect(lines).to_have_count(len(feats))
        assert {lines.nth(i).get_attribute("data-feature") for i in range(len(feats))} == feats
        # Every point the verdict calls drifted is on the drift side of this line, and is
        # drawn on that side of it (SVG y grows downwards).
        line_y = float(line.get_attribute("data-y"))
        points = chart.locator("circle[data-drifted='true']")
        for i in range(points.count()):
            p = points.nth(i)
            v = float(p.get_attribute("data-value"))
            cy = float(p.get_attribute("cy"))
            if direction == "above":
                assert v >= value and cy <= line_y + 0.1, (measure, v, cy, line_y)
            else:
                assert v < value and cy > line_y - 0.1, (measure, v, cy, line_y)
        if measure in ("psi", "ks_pvalue"):
            expect(chart.locator(f".jp-mlops-drift-line[data-feature='{DRIFTED_FEATURE}'] "
                                 "circle[data-drifted='true']")).to_have_count(2)
        chart.scroll_into_view_if_needed()
        page.screenshot(path=str(shots / f"drift-{measure}.png"))
