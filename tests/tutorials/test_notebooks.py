"""The tutorial notebooks as committed: no outputs, a papermill `parameters` cell, a kernel."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("0*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs_with_a_parameters_cell(path):
    book = nbformat.read(path, as_version=4)
    nbformat.validate(book)
    code = [c for c in book.cells if c.cell_type == "code"]
    assert not [c for c in code if c.outputs or c.execution_count is not None], path.name
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "one papermill parameters cell (the size knob lives there)"
    assert book.metadata.kernelspec.name == "python3"
    assert book.cells[0].cell_type == "markdown" and book.cells[0].source.startswith("# ")
