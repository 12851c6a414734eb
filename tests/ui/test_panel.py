"""The MLOps side panel in a real JupyterLab + chromium: list, filter, sort, details,
notebook snapshot, compare, lineage, virtualised scrolling, live refresh, themes."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

pytestmark = pytest.mark.browser

PANEL = "#jupyter-mlops-panel"
ROWS = f"{PANEL} .jp-mlops-run-row"


def open_panel(page: Page, lab, width: int = 760) -> None:
    """Load JupyterLab, open the panel, widen it."""
    page.goto(lab.lab_url())
    tab = page.locator('.jp-SideBar [data-id="jupyter-mlops-panel"]')
    tab.wait_for(timeout=30_000)
    tab.click()
    page.locator(ROWS).first.wait_for(timeout=10_000)
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle").first
    box = handle.bounding_box()
    if box:
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 200)
        page.mouse.down()
        page.mouse.move(width, box["y"] + 200, steps=5)
        page.mouse.up()


def row(page: Page, name: str) -> Locator:
    cell = page.locator('[data-col="name"]', has_text=re.compile(f"^{re.escape(name)}$"))
    return page.locator(ROWS, has=cell)


def names(page: Page) -> list[str]:
    return page.locator(f'{ROWS} [data-col="name"]').all_inner_texts()


def apply_filter(page: Page, text: str) -> None:
    box = page.locator(f"{PANEL} .jp-mlops-filter-input")
    box.fill(text)
    box.press("Enter")


def choose_experiment(page: Page, name: str) -> None:
    page.locator(f"{PANEL} .jp-mlops-experiment-select").select_option(name)


def test_panel_lists_runs(page: Page, lab, ui_store, screenshots):
    open_panel(page, lab)
    total = ui_store.client.count_runs()  # the panel's runs plus the models' and pipelines'
    assert total > 8 + 1 + 1 + 1200
    expect(page.locator(f"{PANEL} .jp-mlops-total")).to_have_text(f"{total:,} runs")
    choose_experiment(page, "iris")
    expect(page.locator(f"{PANEL} .jp-mlops-total")).to_have_text("10 runs")
    expect(page.locator(ROWS)).to_have_count(10)
    assert {"svc-lr0.1", "rf-lr0.5", "live-training"} <= set(names(page))
    expect(row(page, "rf-lr0.5").locator(".jp-mlops-badge")).to_have_text("FAILED")
    expect(row(page, "live-training").locator(".jp-mlops-badge")).to_have_text("RUNNING")
    # Metric and param columns come from the data.
    expect(page.locator(f"{PANEL} .jp-mlops-header")).to_contain_text("acc")
    # Markup in a run name is text: shown literally, never executed.
    expect(row(page, '<img src=x onerror="window.__xss=1">')).to_have_count(1)
    assert page.evaluate("window.__xss") is None
    page.screenshot(path=str(screenshots / "01-runs.png"))


def test_filter_and_inline_errors(page: Page, lab, screenshots):
    open_panel(page, lab)
    apply_filter(page, "metrics.acc > 0.9 and params.model = 'svc'")
    expect(page.locator(f"{PANEL} .jp-mlops-total")).to_have_text("2 runs")
    assert sorted(names(page)) == ["svc-lr0.01", "svc-lr0.1"]
    apply_filter(page, "metrics.acc >")
    error = page.locator(f"{PANEL} .jp-mlops-filter-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("position 13")
    page.screenshot(path=str(screenshots / "02-filter-error.png"))
    apply_filter(page, "")
    # The whole list is back (its total says so), and the old query's error with it gone.
    expect(page.locator(f"{PANEL} .jp-mlops-total")).to_have_text(re.compile(r"^[\d,]{5,} runs$"),
                                                                 timeout=20_000)
    expect(error).to_have_count(0)
    expect(page.locator(f"{PANEL} .jp-mlops-filter-input")).to_have_value("")


def test_sort_by_column(page: Page, lab):
    open_panel(page, lab)
    choose_experiment(page, "iris")
    expect(page.locator(ROWS)).to_have_count(10)
    header = page.locator(f'{PANEL} .jp-mlops-header [data-sort-field="name"]')
    header.click()  # name DESC
    expect(header).to_contain_text("▼")
    expect(page.locator(f'{ROWS} [data-col="name"]').first).to_have_text("svc-lr0.1")
    header.click()  # name ASC
    expect(page.locator(f'{ROWS} [data-col="name"]').first).to_have_text(
        '<img src=x onerror="window.__xss=1">')
    page.locator(f'{PANEL} .jp-mlops-header [data-sort-field="metrics.acc"]').click()
    expect(page.locator(f'{ROWS} [data-col="name"]').first).to_have_text("svc-lr0.1")


def test_run_details_and_notebook(page: Page, lab, ui_store, screenshots):
    open_panel(page, lab)
    choose_experiment(page, "iris")
    row(page, "svc-lr0.01").click()
    details = page.locator(f"{PANEL} .jp-mlops-details")
    expect(details.locator(".jp-mlops-run-name")).to_have_text("svc-lr0.01")
    expect(details).to_contain_text("epochs")
    expect(details).to_contain_text("config.json")
    expect(details).to_contain_text("iris-train v1")
    expect(details.locator(".jp-mlops-chart polyline")).to_have_count(1)
    page.screenshot(path=str(screenshots / "03-run-details.png"))

    # Artifact download goes through the authenticated API.
    with page.expect_download() as download:
        details.locator(".jp-mlops-artifacts .jp-mlops-link").first.click()
    assert download.value.suggested_filename == "config.json"

    details.locator(".jp-mlops-open-notebook").click()
    run_id = ui_store.runs["svc-lr0.01"]
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=f"{run_id}.ipynb")
    expect(tab).to_be_visible(timeout=15_000)
    cells = page.locator(".jp-NotebookPanel .jp-Cell")
    expect(cells.nth(0)).to_contain_text("Train svc")
    expect(cells.nth(1)).to_contain_text("lr = 0.01")
    expect(cells.nth(1)).to_contain_text("trained")
    # Served read-only from the store: nothing is written into the user's project.
    assert not list(lab.root_dir.rglob(f"{run_id}*.ipynb"))
    assert not (lab.root_dir / "mlops-snapshots").exists()
    page.screenshot(path=str(screenshots / "04-notebook-snapshot.png"))


def test_rename_and_tag(page: Page, lab, ui_store):
    open_panel(page, lab)
    choose_experiment(page, "iris")
    row(page, "lr-lr0.1").click()
    details = page.locator(f"{PANEL} .jp-mlops-details")
    details.locator('input[placeholder="tag"]').fill("stage")
    details.locator('input[placeholder="value"]').fill("candidate")
    details.get_by_role("button", name="Add tag").click()
    expect(details.locator(".jp-mlops-tag", has_text="stage=candidate")).to_be_visible()
    details.get_by_label("Run name").fill("lr-renamed")
    details.get_by_role("button", name="Rename").click()
    expect(details.locator(".jp-mlops-run-name")).to_have_text("lr-renamed")
    stored = ui_store.client.get_run(ui_store.runs["lr-lr0.1"])
    assert stored.run.name == "lr-renamed" and stored.tags["stage"] == "candidate"
    ui_store.client.rename_run(ui_store.runs["lr-lr0.1"], "lr-lr0.1")


def test_compare_two_runs(page: Page, lab, screenshots):
    open_panel(page, lab)
    choose_experiment(page, "iris")
    compare = page.locator(f"{PANEL} .jp-mlops-compare-button")
    expect(compare).to_be_disabled()
    for name in ("svc-lr0.1", "rf-lr0.01"):
        row(page, name).locator(".jp-mlops-select").check()
    expect(compare).to_have_text("Compare (2)")
    # The notebook diff is computed by the server (notebook_diff.diff_runs), not in the panel.
    with page.expect_response(lambda r: "/mlops/api/v1/runs/" in r.url and "/diff/" in r.url
                              ) as diff_response:
        compare.click()
    assert diff_response.value.status == 200
    view = page.locator(f"{PANEL} .jp-mlops-compare")
    expect(view.locator(".jp-mlops-chart polyline")).to_have_count(2)
    diff = view.locator(".jp-mlops-param-diff")
    expect(diff.locator("tbody tr", has_text="model")).to_contain_text("svc")
    expect(diff.locator("tbody tr", has_text="model")).to_contain_text("rf")
    expect(diff.locator("tbody tr", has_text="epochs")).to_have_count(0)  # equal: hidden
    view.get_by_text("only differences").click()
    expect(diff.locator("tbody tr", has_text="epochs")).to_have_count(1)
    view.locator(".jp-mlops-metric-select").select_option("loss")
    expect(view.locator(".jp-mlops-chart-title")).to_have_text("loss")
    page.screenshot(path=str(screenshots / "05-compare.png"))
    # Two runs: their notebook snapshots are diffed cell by cell (code and outputs).
    nbdiff = view.locator(".jp-mlops-nbdiff")
    expect(nbdiff.locator(".jp-mlops-nbdiff-cell")).to_have_count(2)
    expect(nbdiff.locator(".jp-mlops-line-del").first).to_contain_text("# Train svc")
    expect(nbdiff.locator(".jp-mlops-line-add", has_text="model = 'rf'")).to_have_count(1)
    expect(nbdiff.locator(".jp-mlops-line-add", has_text="print('trained')")).to_have_count(0)
    nbdiff.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "05b-compare-notebook-diff.png"))


def compare_runs(page: Page, experiment: str, *run_names: str) -> Locator:
    choose_experiment(page, experiment)
    for name in run_names:
        row(page, name).locator(".jp-mlops-select").check()
    page.locator(f"{PANEL} .jp-mlops-compare-button").click()
    return page.locator(f"{PANEL} .jp-mlops-compare")


def test_compare_notebook_diff_kinds(page: Page, lab, screenshots):
    """Added, changed, outputs-only and removed cells as the server diffs them; markup in
    sources and outputs is shown as text."""
    open_panel(page, lab)
    view = compare_runs(page, "notebook-diff", "nbdiff-left", "nbdiff-right")
    nbdiff = view.locator(".jp-mlops-nbdiff")
    expect(nbdiff.locator(".jp-mlops-nbdiff-summary")).to_have_text(
        "1 changed, 1 added, 1 removed, 1 with different outputs, 2 unchanged")
    expect(nbdiff.locator(".jp-mlops-nbdiff-cell")).to_have_count(4)
    expect(nbdiff.locator(".jp-mlops-nbdiff-skip")).to_have_count(2)

    added = nbdiff.locator(".jp-mlops-nbdiff-added")
    expect(added.locator(".jp-mlops-nbdiff-title")).to_contain_text("only in nbdiff-right")
    expect(added.locator(".jp-mlops-line-add")).to_have_text(
        "+ inserted = '<script>x</script>'")

    changed = nbdiff.locator(".jp-mlops-nbdiff-changed")
    code = changed.locator(".jp-mlops-nbdiff-code").first
    expect(code.locator(".jp-mlops-line-del")).to_have_text(["- rate = 1"])
    expect(code.locator(".jp-mlops-line-add")).to_have_text(["+ rate = 2"])
    expect(code.locator(".jp-mlops-line-ctx")).to_have_text(["  print(rate)"])
    outputs = changed.locator(".jp-mlops-nbdiff-output-diff")
    expect(outputs.locator(".jp-mlops-line-del")).to_have_text(["- 1"])
    expect(outputs.locator(".jp-mlops-line-add")).to_have_text(["+ 2"])

    same_code = nbdiff.locator(".jp-mlops-nbdiff-outputs-only")
    expect(same_code.locator(".jp-mlops-nbdiff-title").first).to_contain_text(
        "same code, different outputs")
    expect(same_code.locator(".jp-mlops-nbdiff-code").first).to_have_text(
        "print('<img src=x onerror=window.__xss=2>')")
    expect(same_code.locator(".jp-mlops-line-del")).to_have_text(["- <i>left</i>"])
    expect(same_code.locator(".jp-mlops-line-add")).to_have_text(["+ <i>right</i>"])

    removed = nbdiff.locator(".jp-mlops-nbdiff-removed")
    expect(removed.locator(".jp-mlops-nbdiff-title")).to_contain_text("only in nbdiff-left")
    expect(removed.locator(".jp-mlops-line-del")).to_have_text("- leftover = True")

    # Nothing from the notebooks became markup.
    expect(nbdiff.locator("img, script, i, b")).to_have_count(0)
    assert page.evaluate("window.__xss") is None
    nbdiff.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "05c-compare-notebook-diff-kinds.png"))


def test_compare_run_without_notebook(page: Page, lab):
    open_panel(page, lab)
    view = compare_runs(page, "iris", "svc-lr0.1", '<img src=x onerror="window.__xss=1">')
    expect(view.locator(".jp-mlops-empty", has_text="No notebook snapshot")).to_have_text(
        'No notebook snapshot for <img src=x onerror="window.__xss=1">.')
    expect(view.locator(".jp-mlops-error")).to_have_count(0)
    assert page.evaluate("window.__xss") is None


def test_lineage_graph_recentres(page: Page, lab, ui_store, screenshots):
    open_panel(page, lab)
    choose_experiment(page, "iris")
    row(page, "svc-lr0.1").click()
    page.locator(f"{PANEL} .jp-mlops-details").get_by_role("button", name="Lineage").click()
    graph = page.locator(f"{PANEL} .jp-mlops-lineage svg")
    focus = graph.locator(".jp-mlops-node.jp-mod-focus")
    expect(focus).to_have_attribute("data-node-id", f"run:{ui_store.runs['svc-lr0.1']}")
    dataset = graph.locator(".jp-mlops-node-dataset").first
    expect(dataset).to_be_visible()
    page.screenshot(path=str(screenshots / "06-lineage-run.png"))
    dataset.click()
    expect(focus).to_have_attribute("data-node-id", re.compile(r"^dataset:"))
    # Every iris run read this dataset version: they all appear downstream.
    expect(graph.locator(".jp-mlops-node-run")).to_have_count(8)
    # Edges point left to right: the dataset is left of every run, runs left of artifacts.
    boxes = {kind: [graph.locator(f".jp-mlops-node-{kind}").nth(i).bounding_box()["x"]
                    for i in range(graph.locator(f".jp-mlops-node-{kind}").count())]
             for kind in ("dataset", "run", "artifact")}
    assert max(boxes["dataset"]) < min(boxes["run"]) < min(boxes["artifact"])
    page.screenshot(path=str(screenshots / "07-lineage-dataset.png"))


def test_virtualised_scrolling(page: Page, lab):
    open_panel(page, lab)
    choose_experiment(page, "bulk")
    expect(page.locator(f"{PANEL} .jp-mlops-total")).to_have_text("1,200 runs")
    rendered = page.locator(f"{PANEL} .jp-mlops-table-body > .jp-mlops-row").count()
    assert rendered < 80, f"{rendered} rows in the DOM for 1,200 runs"
    table = page.locator(f"{PANEL} .jp-mlops-table")
    table.evaluate("el => { el.scrollTop = el.scrollHeight; }")
    expect(row(page, "bulk-00000")).to_be_visible()  # oldest run, last page
    table.evaluate("el => { el.scrollTop = el.scrollHeight / 2; }")
    expect(page.locator(f"{PANEL} .jp-mlops-row-loading")).to_have_count(0)
    assert page.locator(f"{PANEL} .jp-mlops-table-body > .jp-mlops-row").count() < 80


def test_live_runs_refresh(page: Page, lab, ui_store):
    open_panel(page, lab)
    choose_experiment(page, "iris")
    badge = row(page, "live-training").locator(".jp-mlops-badge")
    expect(badge).to_have_text("RUNNING")
    ui_store.client.log_metric(ui_store.live, "acc", 0.97, step=1)
    ui_store.client.end_run(ui_store.live)
    expect(badge).to_have_text("FINISHED", timeout=10_000)  # polled, no manual refresh
    expect(row(page, "live-training").locator('[data-col="metrics.acc"]')).to_have_text("0.97")


def set_theme(page: Page, theme: str) -> None:
    page.evaluate(f"window.jupyterapp.commands.execute('apputils:change-theme', "
                  f"{{theme: '{theme}'}})")
    light = "false" if "Dark" in theme else "true"
    expect(page.locator("body")).to_have_attribute("data-jp-theme-light", light, timeout=15_000)


def test_palette_commands(page: Page, lab):
    open_panel(page, lab)
    page.locator(f"{PANEL} .jp-mlops-tab[data-tab='Lineage']").click()
    # The palette's own command rather than its shortcut: under load a key press can land
    # before JupyterLab has bound its keymap, and the test is about our commands.
    page.evaluate("window.jupyterapp.commands.execute('apputils:activate-command-palette')")
    palette_input = page.locator(".lm-CommandPalette-input")
    expect(palette_input).to_be_visible(timeout=15_000)
    palette_input.fill("MLOps")
    items = page.locator(".lm-CommandPalette-item")
    # The palette filters and re-renders its list after the fill: seconds under load.
    expect(items.filter(has_text="MLOps: Open Panel")).to_have_count(1, timeout=15_000)
    expect(items.filter(has_text="MLOps: Refresh")).to_have_count(1, timeout=15_000)
    # Run it as a keyboard user does: narrowed to one item, Enter runs the active one. (A
    # click can wait forever while JupyterLab re-renders the palette's list under load.)
    palette_input.fill("MLOps: Refresh")
    expect(items).to_have_count(1, timeout=15_000)  # re-filtered: seconds under load too
    palette_input.press("Enter")
    expect(palette_input).to_be_hidden()
    # Open Panel brings the panel back after another sidebar took its place.
    page.locator('.jp-SideBar [data-id="filebrowser"]').click()
    expect(page.locator(PANEL)).to_be_hidden()
    page.evaluate("window.jupyterapp.commands.execute('mlops:open-panel')")
    expect(page.locator(PANEL)).to_be_visible()


def test_dark_theme(page: Page, lab, screenshots):
    open_panel(page, lab)
    set_theme(page, "JupyterLab Dark")
    try:
        choose_experiment(page, "iris")
        expect(page.locator(ROWS)).to_have_count(10)
        row(page, "svc-lr0.1").locator(".jp-mlops-select").check()
        row(page, "svc-lr0.01").locator(".jp-mlops-select").check()
        page.screenshot(path=str(screenshots / "08-runs-selected-dark.png"))
        page.locator(f"{PANEL} .jp-mlops-compare-button").click()
        expect(page.locator(f"{PANEL} .jp-mlops-chart polyline")).to_have_count(2)
        page.screenshot(path=str(screenshots / "08-compare-dark.png"))
        page.locator(f"{PANEL} .jp-mlops-back").click()
        row(page, "svc-lr0.1").click()
        page.locator(f"{PANEL} .jp-mlops-details").get_by_role("button", name="Lineage").click()
        expect(page.locator(f"{PANEL} .jp-mlops-node-dataset").first).to_be_visible()
        page.screenshot(path=str(screenshots / "09-lineage-dark.png"))
        page.locator(f"{PANEL} .jp-mlops-tab[data-tab='Runs']").click()
        page.locator(f"{PANEL} .jp-mlops-back").click()
        apply_filter(page, "metrics.acc >> 1")
        expect(page.locator(f"{PANEL} .jp-mlops-filter-error")).to_be_visible()
        page.screenshot(path=str(screenshots / "10-filter-error-dark.png"))
    finally:
        set_theme(page, "JupyterLab Light")  # a user setting: keep other tests on light


@pytest.fixture(autouse=True)
def _no_console_errors(page: Page):
    """Fail a test if the panel logs a JavaScript error."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield
    assert not [e for e in errors if "mlops" in e.lower()], errors
