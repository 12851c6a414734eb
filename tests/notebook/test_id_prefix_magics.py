"""The magics take unique run-id prefixes like the API, and say "not found" for unknown ids."""

from __future__ import annotations

import pytest

from .conftest import execute, make_notebook, text_of


@pytest.mark.slow  # 4-8 s: CI runs it, make test-fast does not
@pytest.mark.kernel
def test_magics_accept_a_prefix_and_refuse_unknown_ids(kernel_store, read_client):
    run = read_client.create_run(name="shown-by-prefix")
    read_client.end_run(run.id)
    for run_id, name in (("abcd1234" + "0" * 24, "twin-a"), ("abcd5678" + "1" * 24, "twin-b")):
        read_client.store.runs.create_run(experiment=None, name=name, user="u", run_id=run_id)
    nb = execute(make_notebook(
        "%load_ext jupyter_mlops",
        f"%mlops show {run.id[:8]}",
        f"%mlops lineage run:{run.id[:8]}",
        "%mlops show 0123456789ab",
        "%mlops lineage run:0123456789ab",
        "%mlops show abcd",
    ), cwd=kernel_store)
    for cell in nb.cells[1:3]:  # the run's view and its lineage figure, no error
        assert cell.outputs and all(o["output_type"] != "error" for o in cell.outputs), cell
    ambiguous = text_of(nb.cells[5])
    assert "twin-a" in ambiguous and "twin-b" in ambiguous and "more characters" in ambiguous
    for cell in nb.cells[3:5]:
        text = text_of(cell)
        assert "0123456789ab" in text and "No run" in text, text
