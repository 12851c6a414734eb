"""The Models and Pipelines tabs in a real JupyterLab + chromium: promote a model version by
clicking (propose, approve), its audit log and model card; a pipeline run's DAG with step
states and cache hits, a step's run; pausing, resuming and running a schedule now."""

from __future__ import annotations

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.seed_panel import LAB_USER

pytestmark = pytest.mark.browser

PANEL = "#jupyter-mlops-panel"


def open_tab(page: Page, lab, tab: str, width: int = 820) -> Locator:
    """Load JupyterLab, open the panel, widen it, switch to ``tab``; returns the panel."""
    page.goto(lab.lab_url())
    side = page.locator('.jp-SideBar [data-id="jupyter-mlops-panel"]')
    side.wait_for(timeout=30_000)
    side.click()
    panel = page.locator(PANEL)
    expect(panel).to_be_visible()
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle").first
    box = handle.bounding_box()
    if box:
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 200)
        page.mouse.down()
        page.mouse.move(width, box["y"] + 200, steps=5)
        page.mouse.up()
    panel.locator(f".jp-mlops-tab[data-tab='{tab}']").click()
    return panel


def version_row(panel: Locator, version: int) -> Locator:
    return panel.locator(f".jp-mlops-version-row[data-version='{version}']")


def set_theme(page: Page, theme: str) -> None:
    page.evaluate(f"window.jupyterapp.commands.execute('apputils:change-theme', "
                  f"{{theme: '{theme}'}})")
    light = "false" if "Dark" in theme else "true"
    expect(page.locator("body")).to_have_attribute("data-jp-theme-light", light, timeout=15_000)


def test_promote_a_version_by_clicking(page: Page, lab, ui_store, screenshots):
    registry = ui_store.client.registry
    panel = open_tab(page, lab, "Models")
    model = panel.locator(".jp-mlops-model-row[data-model='churn']")
    expect(model).to_contain_text("v2")
    expect(model.locator(".jp-mlops-alias")).to_have_text("@champion → v1")
    page.screenshot(path=str(screenshots / "11-models.png"))
    model.click()

    expect(panel.locator(".jp-mlops-identity")).to_have_text(
        f"acting as {LAB_USER} (ml_engineer)")
    expect(panel.locator(".jp-mlops-version-row")).to_have_count(2)
    expect(version_row(panel, 1).locator(".jp-mlops-alias")).to_have_text("@champion")
    expect(version_row(panel, 2).locator(".jp-mlops-alias")).to_have_count(0)
    expect(version_row(panel, 2)).to_contain_text("0.93")  # its run's acc

    version_row(panel, 2).get_by_role("button", name="Propose…").click()
    form = panel.locator(".jp-mlops-propose-form")
    expect(form.get_by_label("Alias")).to_have_value("champion")
    form.get_by_label("Reason").fill("acc 0.81 -> 0.93 on the same split")
    form.get_by_role("button", name="Propose", exact=True).click()

    pending = panel.locator(".jp-mlops-promotion-pending")
    expect(pending).to_have_count(1)
    expect(pending).to_contain_text("v2")
    expect(pending).to_contain_text(LAB_USER)
    expect(form).to_have_count(0)
    page.screenshot(path=str(screenshots / "12-model-proposed.png"))
    (request,) = registry.list_promotions("churn", "PENDING")
    assert (request.version, request.alias, request.proposed_by) == (2, "champion", LAB_USER)
    assert registry.get_model("churn").aliases == {"champion": 1}  # nothing moved yet

    pending.get_by_role("button", name="Approve").click()
    # The badge moved from v1 to v2 …
    expect(version_row(panel, 2).locator(".jp-mlops-alias")).to_have_text("@champion")
    expect(version_row(panel, 1).locator(".jp-mlops-alias")).to_have_count(0)
    expect(panel.locator(".jp-mlops-run-title .jp-mlops-alias")).to_have_text(
        "@champion → v2")
    expect(panel.locator(".jp-mlops-promotion-pending")).to_have_count(0)
    expect(panel.locator(".jp-mlops-promotion-approved")).to_have_count(1)
    # … and the audit log shows both events, by the lab's user, newest first.
    rows = panel.locator(".jp-mlops-audit-row")
    expect(rows.nth(0)).to_have_attribute("data-action", "approve")
    expect(rows.nth(1)).to_have_attribute("data-action", "set_alias")
    expect(rows.nth(2)).to_have_attribute("data-action", "propose")
    for i in range(3):
        expect(rows.nth(i)).to_contain_text(LAB_USER)
    expect(rows.nth(1)).to_contain_text("@champion: v1 → v2 via request")
    expect(rows.nth(2)).to_contain_text("acc 0.81 -> 0.93 on the same split")
    page.screenshot(path=str(screenshots / "13-model-approved.png"))
    assert registry.get_model("churn").aliases == {"champion": 2}
    events = [(e.action, e.user) for e in registry.audit_log("churn")][:3]
    assert events == [("approve", LAB_USER), ("set_alias", LAB_USER), ("propose", LAB_USER)]

    # A second proposal of the same version for the same alias: refused inline.
    version_row(panel, 1).get_by_role("button", name="Propose…").click()
    panel.locator(".jp-mlops-propose-form").get_by_role("button", name="Propose",
                                                         exact=True).click()
    pending = panel.locator(".jp-mlops-promotion-pending")
    expect(pending).to_have_count(1)
    pending.get_by_role("button", name="Approve").click()
    # v1's acc does not beat v2's: the gate refuses, the error is shown, nothing moves.
    error = panel.locator(".jp-mlops-error")
    expect(error).to_contain_text("promotion gate")
    expect(version_row(panel, 2).locator(".jp-mlops-alias")).to_have_text("@champion")
    expect(panel.locator(".jp-mlops-audit-row").nth(0)).to_have_attribute(
        "data-action", "gate_failed")
    page.screenshot(path=str(screenshots / "13b-model-gate-refused.png"))
    pending.get_by_role("button", name="Reject").click()
    expect(panel.locator(".jp-mlops-promotion-pending")).to_have_count(0)
    assert registry.get_model("churn").aliases == {"champion": 2}


def test_model_version_and_sandboxed_card(page: Page, lab, screenshots):
    panel = open_tab(page, lab, "Models")
    panel.locator(".jp-mlops-model-row[data-model='churn']").click()
    version_row(panel, 2).get_by_role("button", name="v2").click()
    view = panel.locator(".jp-mlops-model-version")
    expect(view.locator(".jp-mlops-run-title")).to_contain_text("churn v2")
    expect(view.locator(".jp-mlops-kv tr", has_text="tenure")).to_contain_text("float64")
    expect(view.locator(".jp-mlops-kv tr", has_text="acc").first).to_contain_text("0.93")
    expect(view).to_contain_text("churn-train-2")

    frame_el = view.locator("iframe.jp-mlops-card-frame")
    expect(frame_el).to_have_attribute("sandbox", "")
    card = view.frame_locator("iframe.jp-mlops-card-frame")
    expect(card.locator("h1")).to_have_text("Model card: churn version 2")
    expect(card.locator("h2", has_text="Metrics")).to_be_visible()
    # The description's markup is text in the card: no element was made of it, nothing ran.
    expect(card.locator("body")).to_contain_text("<script>window.__card_xss=1</script>")
    expect(card.locator("b")).to_have_count(0)
    assert page.evaluate("window.__card_xss") is None
    view.locator(".jp-mlops-card").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "14-model-card.png"))
    view.get_by_label("Markdown").check()
    expect(view.locator(".jp-mlops-card-markdown")).to_contain_text("## Metrics")
    view.get_by_role("button", name="Lineage").click()
    expect(panel.locator(".jp-mlops-lineage .jp-mod-focus")).to_have_attribute(
        "data-node-id", "model:churn/2")


def open_pipeline_run(panel: Locator, run_id: str) -> Locator:
    panel.locator(".jp-mlops-pipeline-row[data-pipeline='train-churn']").click()
    panel.locator(f".jp-mlops-pipeline-run-row[data-pipeline-run='{run_id}']").click()
    return panel.locator(".jp-mlops-pipeline-run")


def test_pipeline_dag_with_step_states(page: Page, lab, ui_store, screenshots):
    panel = open_tab(page, lab, "Pipelines")
    expect(panel.locator(".jp-mlops-pipeline-row[data-pipeline='train-churn']")).to_contain_text(
        "4")
    view = open_pipeline_run(panel, ui_store.pipeline_runs["failed"])
    dag = view.locator(".jp-mlops-dag svg")
    steps = {name: dag.locator(f".jp-mlops-step[data-step='{name}']")
             for name in ("prepare", "train_a", "train_b", "evaluate")}
    for name in ("prepare", "train_a", "train_b"):
        expect(steps[name]).to_have_attribute("data-status", "CACHED")
        expect(steps[name].locator(".jp-mlops-cache-marker")).to_have_count(1)
    expect(steps["evaluate"]).to_have_attribute("data-status", "FAILED")
    expect(steps["evaluate"].locator(".jp-mlops-cache-marker")).to_have_count(0)
    expect(steps["evaluate"].locator("title")).to_contain_text("evaluation data missing")
    expect(dag.locator(".jp-mlops-dag-edge")).to_have_count(4)
    # Layered left to right: prepare, then both trainings, then evaluate.
    x = {n: steps[n].bounding_box()["x"] for n in steps}
    assert x["prepare"] < x["train_a"] == x["train_b"] < x["evaluate"]
    # Status colours differ: a failed step is not drawn like a cached one.
    stroke = {n: steps[n].locator(".jp-mlops-step-box").evaluate(
        "el => getComputedStyle(el).stroke") for n in ("train_a", "evaluate")}
    assert stroke["train_a"] != stroke["evaluate"], stroke
    expect(view.locator(".jp-mlops-step-row[data-step='evaluate']")).to_contain_text(
        "RuntimeError: evaluation data missing")
    page.screenshot(path=str(screenshots / "15-pipeline-dag.png"))

    # Click a step: its child run opens (a cached step's run records where it came from).
    steps["evaluate"].click()
    details = panel.locator(".jp-mlops-details")
    expect(details.locator(".jp-mlops-run-name")).to_have_text("evaluate")
    expect(details.locator(".jp-mlops-badge").first).to_have_text("FAILED")
    details.get_by_role("button", name="← Pipeline run").click()
    view.locator(".jp-mlops-step[data-step='train_b']").click()
    expect(details.locator(".jp-mlops-run-name")).to_have_text("train_b (cached)")
    details.get_by_role("button", name="← Pipeline run").click()

    # The first run: every step executed.
    view.get_by_role("button", name="← train-churn").click()
    panel.locator(f".jp-mlops-pipeline-run-row[data-pipeline-run="
                  f"'{ui_store.pipeline_runs['ok']}']").click()
    for name in ("prepare", "train_a", "train_b", "evaluate"):
        expect(view.locator(f".jp-mlops-step[data-step='{name}']")).to_have_attribute(
            "data-status", "SUCCEEDED")
    expect(view.locator(".jp-mlops-cache-marker")).to_have_count(0)
    set_theme(page, "JupyterLab Dark")
    try:
        view.get_by_role("button", name="← train-churn").click()
        open_failed = panel.locator(f".jp-mlops-pipeline-run-row[data-pipeline-run="
                                    f"'{ui_store.pipeline_runs['failed']}']")
        open_failed.click()
        expect(view.locator(".jp-mlops-step[data-step='evaluate']")).to_be_visible()
        page.screenshot(path=str(screenshots / "16-pipeline-dag-dark.png"))
    finally:
        set_theme(page, "JupyterLab Light")


def test_pause_resume_and_run_schedule_now(page: Page, lab, ui_store, screenshots):
    from jupyter_mlops.pipelines.schedule import get_schedule

    panel = open_tab(page, lab, "Pipelines")
    row = panel.locator(".jp-mlops-schedule-row[data-schedule='nightly-churn']")
    expect(row.locator(".jp-mlops-badge").first).to_have_text("ACTIVE")
    expect(row).to_contain_text("0 3 * * *")
    expect(row).to_contain_text("Europe/Berlin")

    row.get_by_role("button", name="Pause").click()
    expect(row.locator(".jp-mlops-badge").first).to_have_text("PAUSED")
    expect(row.get_by_role("button", name="Resume")).to_be_visible()
    assert get_schedule("nightly-churn", ui_store.client).paused is True
    page.screenshot(path=str(screenshots / "17-schedule-paused.png"))

    # Run now (allowed while paused): a new process runs the pipeline; the history shows
    # the fire, then its run (every step a cache hit of the first run).
    row.get_by_role("button", name="Run now").click()
    history = panel.locator(".jp-mlops-history")
    fire = history.locator(".jp-mlops-fire-row").first
    expect(fire).to_contain_text("run now")
    expect(fire.locator(".jp-mlops-link .jp-mlops-badge")).to_have_text(
        "SUCCEEDED", timeout=90_000)
    # The lists above follow: the schedule's last fire and the pipeline's last run.
    expect(row.locator(".jp-mlops-last-fire .jp-mlops-badge")).to_have_text("SUCCEEDED")
    expect(panel.locator(".jp-mlops-pipeline-row[data-pipeline='train-churn'] "
                         ".jp-mlops-badge")).to_have_text("SUCCEEDED")
    page.screenshot(path=str(screenshots / "18-schedule-history.png"))
    fire.locator(".jp-mlops-link").click()
    run_view = panel.locator(".jp-mlops-pipeline-run")
    expect(run_view.locator(".jp-mlops-step[data-status='CACHED']")).to_have_count(4)
    expect(run_view.locator(".jp-mlops-kv tr", has_text="trigger")).to_contain_text(
        "schedule #")
    run_view.get_by_role("button", name="← Pipelines").click()

    row.get_by_role("button", name="Resume").click()
    expect(row.locator(".jp-mlops-badge").first).to_have_text("ACTIVE")
    sched = get_schedule("nightly-churn", ui_store.client)
    assert sched.paused is False


@pytest.fixture(autouse=True)
def _no_console_errors(page: Page):
    """Fail a test if the panel logs a JavaScript error."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield
    assert not [e for e in errors if "mlops" in e.lower()], errors
