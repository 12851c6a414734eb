"""A new user's first hour, in a real kernel: a run left open, a misspelt filter key, a monitor
with too few rows, and records shown as HTML and readable text."""

from __future__ import annotations

import pytest

from .conftest import execute, make_notebook, text_of

pytestmark = pytest.mark.kernel


def _html(cell) -> str:
    return "".join(out.get("data", {}).get("text/html", "") for out in cell.get("outputs", []))


@pytest.mark.slow
def test_first_hour_in_a_kernel(kernel_store, read_client):
    nb = make_notebook(
        "%load_ext jupyter_mlops",
        "%mlops start --name first",
        "%mlops metric val_acc=0.9  # left open on purpose",
        "%mlops start --name second",
        "%mlops end",
        "%mlops runs --filter 'metrics.val_ac > 0.5'",
        "import jupyter_mlops as mlops\nmlops.search_runs()",
        "mlops.get_run(mlops.search_runs()[0].id)",
        "from sklearn.datasets import load_iris\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "X, y = load_iris(return_X_y=True, as_frame=True)\n"
        "clf = LogisticRegression(max_iter=500).fit(X, y)\n"
        "v = mlops.register_model(clf, 'iris', run=None)\n"
        "mlops.set_alias('iris', 'champion', v.version)\n"
        "mon = mlops.monitor('iris@champion', reference=X)\n"
        "mon.log_predictions(X.iloc[:37], clf.predict(X.iloc[:37]))",
        "%mlops monitor iris@champion",
    )
    cells = execute(nb, kernel_store, allow_errors=False, timeout=300).cells
    first, second = sorted(read_client.search_runs(), key=lambda r: r.start_time)
    assert (first.name, first.status, second.name, second.status) == (
        "first", "FINISHED", "second", "FINISHED")
    assert first.metrics == {"val_acc": 0.9}
    started = text_of(cells[3])
    assert f"ended run 'first' ({first.id[:8]}) to start 'second'" in started
    assert "Started run 'second'" in started

    runs_out = _html(cells[5])
    assert "hint: No run has metrics.val_ac; did you mean metrics.val_acc?" in runs_out

    search = cells[6]
    assert "jp-mlops-runs" in _html(search) and "RunRecord(" not in text_of(search)
    assert text_of(search).startswith("RUN")
    assert "Run 'second'" in text_of(cells[7]) and "jp-mlops-run" in _html(cells[7])

    line = "window 37/1000 rows; flush() to close it now"
    assert text_of(cells[8]).strip() == line
    assert line in text_of(cells[9])
