"""The demo notebook's run (executed by papermill while seeding) as a user finds it in the panel."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.ui.test_panel import PANEL, apply_filter, choose_experiment, names, open_panel, row

# It drives chromium like the other panel tests (it was missing from test-fast's exclusion).
pytestmark = pytest.mark.browser


def test_demo_run_is_browsable(page: Page, lab, screenshots):
    open_panel(page, lab)
    choose_experiment(page, "breast-cancer")
    apply_filter(page, "params.model = 'logreg' and metrics.accuracy > 0.9")
    expect(page.locator(f"{PANEL} .jp-mlops-run-row")).to_have_count(1)
    assert names(page) == ["logreg-42"]
    row(page, "logreg-42").click()
    details = page.locator(f"{PANEL} .jp-mlops-details")
    expect(details.locator(".jp-mlops-run-name")).to_have_text("logreg-42")
    for text in ("roc_auc", "curve_accuracy", "roc.png", "breast_cancer v1",
                 "breast_cancer_train v1"):
        expect(details).to_contain_text(text)
    page.screenshot(path=str(screenshots / "24-demo-run.png"))
