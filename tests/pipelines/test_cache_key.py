"""The notebook's identity for caching: code only, normalised."""

from __future__ import annotations

import nbformat

from jupyter_mlops.pipelines.cache import cache_key, normalise_code, normalise_notebook

from .conftest import write_notebook


def _key(path, **over):
    args = dict(code=normalise_notebook(path), parameters={"a": 1}, inputs={"x.csv": "d1"},
                upstream={}, kernel="python3", environment="env1")
    args.update(over)
    return cache_key(**args)


def test_cosmetic_edits_keep_the_key(tmp_path):
    path = write_notebook(tmp_path / "n.ipynb", "import math\nx = math.sqrt(4)  # root",
                          "%matplotlib inline\nprint(x)", params="a = 1")
    before = _key(path)
    nb = nbformat.read(str(path), 4)
    nb.cells[1].source = "import math\n\n\nx   =   math.sqrt( 4 )\n# a new comment\n"
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="2.0\n")]
    nb.cells[1].execution_count = 7
    nb.cells[1].metadata["collapsed"] = True
    nb.cells.insert(0, nbformat.v4.new_markdown_cell("# A title, *new*"))
    nb.cells.append(nbformat.v4.new_code_cell("   \n# only a comment\n"))
    nb.metadata["widgets"] = {"state": {}}
    nbformat.write(nb, str(path))
    assert _key(path) == before


def test_code_parameters_inputs_environment_change_the_key(tmp_path):
    path = write_notebook(tmp_path / "n.ipynb", "x = 1 + 1")
    base = _key(path)
    assert _key(path, parameters={"a": 2}) != base
    assert _key(path, inputs={"x.csv": "d2"}) != base
    assert _key(path, upstream={"prep/train": "d3"}) != base
    assert _key(path, environment="env2") != base
    assert _key(path, kernel="other") != base
    write_notebook(path, "x = 1 + 2")
    assert _key(path) != base


def test_magics_and_unparsable_cells_are_normalised():
    assert normalise_code("%time x = 1\n\n# c") == normalise_code("%time x = 1")
    assert normalise_code("!ls -la") != normalise_code("!ls")
    assert normalise_code("def f(:\n  pass  # broken") == normalise_code("def f(:\n    pass")
    assert normalise_code("# nothing\n\n") == ""
