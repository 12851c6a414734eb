"""`%mlops show|runs|compare|diff|lineage` in a real kernel: what a reader of the output sees."""

from __future__ import annotations

import pytest

from .conftest import execute, make_notebook, text_of

pytestmark = pytest.mark.kernel


def _outputs(cell, mime):
    return [o["data"][mime] for o in cell.outputs if mime in o.get("data", {})]


@pytest.mark.slow  # runs notebooks in a kernel, 13.1 s measured (load 9)
def test_views_render_without_a_widget_front_end(kernel_store, read_client):
    nb = make_notebook(
        "%load_ext jupyter_mlops\nimport jupyter_mlops as mlops",
        "with mlops.start_run(name='a') as a:\n    mlops.log_params({'lr': 0.1, 'depth': 3})\n"
        "    for i in range(5): mlops.log_metric('loss', 1 / (i + 1))",
        "with mlops.start_run(name='b') as b:\n    mlops.log_params({'lr': 0.2, 'depth': 3})\n"
        "    for i in range(5): mlops.log_metric('loss', 2 / (i + 1))",
        "%mlops start --name live\nfor i in range(20): mlops.log_metric('acc', i / 20)",
        "%mlops show",
        "%mlops end",
        "%mlops runs --filter \"params.lr > 0.15\"",
        "%mlops compare {a.id} {b.id}",
        "%mlops diff {a.id[:8]} {b.id[:8]}",
        "%mlops lineage {a.id}",
        "%mlops runs --filter \"params.lr >\"",
        "%mlops diff {a.id}",
        "%mlops compare {a.id} {b.id} --group-by params.depth",
        "%mlops compare {a.id} {b.id} --group-by color",
    )
    ex = execute(nb, kernel_store)
    assert _outputs(ex.cells[4], "image/png"), text_of(ex.cells[4])  # live chart frame
    table = "".join(_outputs(ex.cells[6], "text/html"))
    assert ">b<" in table and ">a<" not in table  # only run b has lr > 0.15
    assert _outputs(ex.cells[7], "image/png") and "params.lr" in text_of(ex.cells[7])
    assert "params.depth" not in text_of(ex.cells[7])  # equal params are not a difference
    diff = "".join(_outputs(ex.cells[8], "text/html"))
    assert "lr" in diff and "0.1" in diff and "0.2" in diff
    assert _outputs(ex.cells[9], "image/png")
    assert "UsageError" in text_of(ex.cells[10]) and "position" in text_of(ex.cells[10])
    assert "UsageError" in text_of(ex.cells[11]) and "Traceback" not in text_of(ex.cells[11])
    grouped = ex.cells[12]  # both runs share depth 3: one group of two
    assert _outputs(grouped, "image/png"), text_of(grouped)
    assert "params.depth" in text_of(grouped) and "2" in text_of(grouped)
    assert "Traceback" not in text_of(ex.cells[13]) and "params." in text_of(ex.cells[13])


def test_notebook_diff_aligns_inserted_cells():
    from jupyter_mlops.tracking.notebook_diff import diff_cells

    def nb(*cells):
        return {"cells": [{"cell_type": "code", "source": s, "outputs": o} for s, o in cells]}

    out = lambda text: [{"output_type": "stream", "name": "stdout", "text": text}]  # noqa: E731
    left = nb(("a = 1", []), ("print(a)", out("1\n")), ("b = 2", []))
    right = nb(("a = 1", []), ("new = 0", []), ("print(a)", out("2\n")), ("b = 3", []))
    statuses = [(c.status, c.left_index, c.right_index) for c in diff_cells(left, right)]
    assert statuses == [("same", 0, 0), ("added", None, 1), ("changed", 1, 2), ("changed", 2, 3)]
    changed = diff_cells(left, right)[2]
    assert changed.source_diff == [] and "-1" in changed.outputs_diff and "+2" in changed.outputs_diff


def test_diff_html_does_not_pretend_a_missing_snapshot_is_an_empty_notebook():
    from jupyter_mlops.notebook.widgets import diff_html
    from jupyter_mlops.tracking.notebook_diff import RunDiff, diff_cells

    nb = {"cells": [{"cell_type": "code", "source": "a = 1", "outputs": []}]}
    diff = RunDiff("a" * 32, "b" * 32, diff_cells(nb, {"cells": []}), [], [],
                   missing_notebooks=["b" * 32])
    text = diff_html(diff)
    assert "no notebook snapshot for bbbbbbbb" in text
    assert "removed" not in text and "a = 1" not in text
