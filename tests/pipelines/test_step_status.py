"""A step's status for every way a notebook can end, agreeing with papermill (issue 12).

One pipeline of independent steps covers the cases that need a kernel (run two at a time);
the numbering of "(cell N)" and the refusal of a notebook without a kernelspec are also
checked without one, the numbering against papermill's own parameterising and error-marking
code on random notebooks.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.pipelines.runner import run_pipeline
from jupyter_mlops.pipelines.step import analyse, user_cell_index

from .conftest import write_notebook, write_yaml

MARKER = "papermill-error-cell-tag"


def _nb(*cells, kernelspec: bool = True) -> nbformat.NotebookNode:
    """``cells``: ("code"|"markdown", source, tags) triples."""
    nb = nbformat.v4.new_notebook()
    for kind, source, tags in cells:
        make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
        nb.cells.append(make(source, metadata={"tags": list(tags)} if tags else {}))
    if kernelspec:
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                     "language": "python"}
    return nb


def _save(path: Path, nb) -> Path:
    nbformat.write(nb, str(path))
    return path


# --------------------------------------------------------------------------- with kernels
CASES = {
    # step: (cells after the first `x = 1` cell, expected status, words in the error)
    "ok": (["y = x + 1"], "SUCCEEDED", None),
    "exception": (["raise ValueError('boom')", "print('never')"], "FAILED",
                  ["ValueError: boom", "(cell 2)"]),
    "syntax": (["print 'python 2'", "print('never')"], "FAILED", ["SyntaxError", "(cell 2)"]),
    "exit0": (["import sys; sys.exit(0)", "raise RuntimeError('never runs')"], "SUCCEEDED",
              None),
    "exit_bare": (["raise SystemExit", "raise RuntimeError('never runs')"], "SUCCEEDED", None),
    "exit1": (["import sys; sys.exit(1)", "print('never')"], "FAILED",
              ["SystemExit: 1", "(cell 2)"]),
    "exit_message": (["raise SystemExit('bad input data')"], "FAILED",
                     ["SystemExit: bad input data", "(cell 2)"]),
    "keyboard_interrupt": (["raise KeyboardInterrupt"], "FAILED",
                           ["KeyboardInterrupt", "(cell 2)"]),
    "line_magic": (["%undefined-line-magic", "print('never')"], "FAILED",
                   ["UsageError", "(cell 2)"]),
    "segfault": (["import ctypes; ctypes.string_at(0)", "print('never')"], "FAILED",
                 ["the kernel died", "(cell 2)"]),
}


@pytest.fixture
def status_pipeline(project):
    steps = {}
    for name, (cells, _status, _words) in CASES.items():
        write_notebook(project / f"{name}.ipynb", "x = 1", *cells)
        steps[name] = {"notebook": f"{name}.ipynb"}
    # A declared output is still required after a successful early exit.
    write_notebook(project / "exit0_no_output.ipynb", "import sys; sys.exit(0)",
                   "open('out.txt', 'w').write('never')")
    steps["exit0_no_output"] = {"notebook": "exit0_no_output.ipynb",
                                "outputs": {"out": "out.txt"}}
    # The parameters cell raises; papermill's injected cell after it is not the user's.
    write_notebook(project / "params_raise.ipynb", "print('never')",
                   params="n = 1\nraise ValueError(f'the parameters cell fails (n={n})')",
                   markdown="# Intro")
    steps["params_raise"] = {"notebook": "params_raise.ipynb", "parameters": {"n": 5}}
    # broken1's layout: markdown cells (two of them error banners from an earlier papermill
    # run), a parameters cell papermill adds a cell after: the user's cell 8 fails.
    _save(project / "numbering.ipynb", _nb(
        ("markdown", "banner", [MARKER]), ("markdown", "notes", []),
        ("markdown", "anchor", [MARKER]), ("code", "n = 1", ["parameters"]),
        ("markdown", "more", []), ("markdown", "and more", []), ("code", "y = n", []),
        ("code", "assert y == 1, 'y is ' + str(y)", []), ("code", "print('never')", [])))
    steps["numbering"] = {"notebook": "numbering.ipynb", "parameters": {"n": 2}}
    # nbclient runs on past a cell tagged raises-exception, papermill then fails the notebook.
    _save(project / "raises_tag.ipynb", _nb(("code", "1 / 0", ["raises-exception"]),
                                            ("code", "print('runs')", [])))
    steps["raises_tag"] = {"notebook": "raises_tag.ipynb"}
    # A kernelspec naming a kernel that is not installed: the attempt fails, saying which.
    nb = _nb(("code", "x = 1", []))
    nb.metadata["kernelspec"] = {"name": "no-such-kernel", "display_name": "R",
                                 "language": "R"}
    _save(project / "missing_kernel.ipynb", nb)
    steps["missing_kernel"] = {"notebook": "missing_kernel.ipynb"}
    # No kernelspec, but the step names its kernel: runs.
    _save(project / "no_kernelspec.ipynb", _nb(("code", "z = 3", []), kernelspec=False))
    steps["no_kernelspec"] = {"notebook": "no_kernelspec.ipynb", "kernel": "python3"}
    return write_yaml(project / "pipeline.yaml", json.dumps(
        {"name": "statuses", "steps": steps}))


@pytest.mark.kernel
@pytest.mark.slow
def test_every_way_a_step_ends(pclient, project, status_pipeline):
    run = run_pipeline(status_pipeline, workers=2, progress=False, client=pclient)
    steps = {s.step: s for s in run.steps}
    expected = {name: (status, words) for name, (_c, status, words) in CASES.items()}
    expected.update({
        "exit0_no_output": ("FAILED", ["declared output(s) not written", "out.txt"]),
        "params_raise": ("FAILED", ["ValueError: the parameters cell fails (n=1)",
                                     "(cell 2)"]),
        "numbering": ("FAILED", ["AssertionError: y is 2", "(cell 8)"]),
        "no_kernelspec": ("SUCCEEDED", None),
        "raises_tag": ("FAILED", ["ZeroDivisionError", "(cell 1)"]),
        "missing_kernel": ("FAILED", ["No such kernel named no-such-kernel"]),
    })
    got = {name: steps[name].status for name in expected}
    assert got == {name: status for name, (status, _w) in expected.items()}
    for name, (_status, words) in expected.items():
        for word in words or []:
            assert word in (steps[name].error or ""), (name, steps[name].error)
        if words is None:
            assert steps[name].error is None, (name, steps[name].error)
    # Each attempt's run ends FINISHED exactly when its step succeeded.
    for name, step in steps.items():
        want = "FINISHED" if step.status == "SUCCEEDED" else "FAILED"
        assert pclient.get_run(step.run_id).status == want, name
    assert run.status == "FAILED"
    assert pclient.get_run(run.run_id).status == "FAILED"


@pytest.mark.kernel
def test_cli_exit_status_one_when_a_step_fails_two_when_refused(pclient, project, capsys):
    from jupyter_mlops.cli import main

    write_notebook(project / "bad.ipynb", "x = 1", "raise ValueError('boom')")
    spec = write_yaml(project / "pipeline.yaml", "name: bad\nsteps:\n  bad: {notebook: bad.ipynb}\n")
    assert main(["pipeline", "run", str(spec), "--no-progress"]) == 1
    assert "ValueError: boom (cell 2)" in capsys.readouterr().out
    _save(project / "nokernel.ipynb", _nb(("code", "x = 1", []), kernelspec=False))
    spec = write_yaml(project / "refused.yaml",
                      "name: refused\nsteps:\n  s: {notebook: nokernel.ipynb}\n")
    assert main(["pipeline", "run", str(spec), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "step 's': field 'kernel'" in err and "names no kernel" in err


# --------------------------------------------------------------------------- no kernel
def test_a_notebook_without_kernelspec_is_refused_before_anything_runs(pclient, project):
    _save(project / "a.ipynb", _nb(("code", "x = 1", [])))
    _save(project / "b.ipynb", _nb(("code", "x = 1", []), kernelspec=False))
    nb = _nb(("code", "x = 1", []))
    nb.metadata["kernelspec"] = {"display_name": "no name"}
    _save(project / "c.ipynb", nb)
    spec = write_yaml(project / "pipeline.yaml", """
name: nokernel
steps:
  a: {notebook: a.ipynb}
  b: {notebook: b.ipynb}
  c: {notebook: c.ipynb}
""")
    with pytest.raises(InvalidInputError) as err:
        run_pipeline(spec, progress=False, client=pclient)
    text = str(err.value)
    assert "2 problem(s)" in text and "step 'b': field 'kernel'" in text \
        and "step 'c': field 'kernel'" in text and "step 'a'" not in text
    assert "kernel: python3" in text  # says what to do
    assert pclient.search_runs() == []  # refused: nothing recorded, no kernel started


def _executed_error_at(source: nbformat.NotebookNode, fail_source: str, tmp: Path,
                       parameters: dict) -> dict:
    """What papermill writes when the cell whose source is ``fail_source`` raised: its own
    code removes old banners, injects parameters and adds the banners of this failure."""
    from papermill.exceptions import PapermillExecutionError
    from papermill.execute import raise_for_execution_errors, remove_error_markers
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    path = _save(tmp / "source.ipynb", source)
    nb = load_notebook_node(str(path))
    if parameters:
        nb = parameterize_notebook(nb, parameters, kernel_name="python3", language="python")
    nb = remove_error_markers(nb)
    for n, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            cell.execution_count = n + 1
        if cell.source == fail_source:
            cell.outputs = [nbformat.v4.new_output("error", ename="ValueError", evalue="x",
                                                   traceback=[])]
            break
    out = tmp / "executed.ipynb"
    with pytest.raises(PapermillExecutionError):
        raise_for_execution_errors(nb, str(out))
    return json.loads(out.read_text())


_cell = st.tuples(st.sampled_from(["code", "markdown", "marker", "injected", "parameters"]),
                  st.booleans())


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(layout=st.lists(_cell, min_size=1, max_size=12), pick=st.integers(0, 50),
       with_params=st.booleans())
def test_cell_numbers_are_the_users_own_whatever_papermill_adds(tmp_path, layout, pick,
                                                                with_params):
    cells = []
    for i, (kind, _) in enumerate(layout):
        if kind == "marker":
            cells.append(("markdown", f"old banner {i}", [MARKER]))
        elif kind == "injected":  # an input that is itself an earlier papermill output
            cells.append(("code", f"# Parameters\nold_{i} = 1", ["injected-parameters"]))
        elif kind == "parameters":
            cells.append(("code", f"p_{i} = 0", ["parameters"]))
        else:
            cells.append((kind, f"cell_{i} = {i}", []))
    mine = [i for i, c in enumerate(cells) if c[0] == "code" and "injected-parameters" not in c[2]]
    if not mine:
        cells.append(("code", "last = 1", []))
        mine = [len(cells) - 1]
    target = mine[pick % len(mine)]
    source = _nb(*cells)
    executed = _executed_error_at(source, cells[target][1], tmp_path,
                                  {"alpha": 0.5} if with_params else {})
    found = analyse(executed, json.loads((tmp_path / "source.ipynb").read_text()))
    assert found is not None
    index, message, kind = found
    assert kind == "cell_error" and index == target
    assert message == f"ValueError: x (cell {target + 1})"


def test_cell_numbers_without_the_users_notebook_never_guess():
    executed = _nb(("code", "# Parameters\na = 1", ["injected-parameters"]), ("code", "b", []))
    executed.cells[0].execution_count, executed.cells[1].execution_count = 1, 2
    executed.cells[1].outputs = [nbformat.v4.new_output("error", ename="E", evalue="v",
                                                        traceback=[])]
    assert analyse(executed, None) == (None, "E: v (cell 2 of the executed notebook)",
                                       "cell_error")
    assert user_cell_index(executed, None, 1) is None
    # The injected parameters cell is papermill's, not one of the user's.
    executed.cells[0].outputs = list(executed.cells[1].outputs)
    assert analyse(executed, executed) == (None, "E: v (papermill's injected parameters "
                                           "cell)", "cell_error")


@pytest.mark.parametrize(("ename", "evalue", "fails"), [
    ("SystemExit", "", False), ("SystemExit", "0", False), ("SystemExit", "1", True),
    ("SystemExit", "None", True), ("SystemExit", "stop", True), ("ValueError", "0", True),
    ("KeyboardInterrupt", "", True)])
def test_analyse_follows_papermills_rule_for_exits(ename, evalue, fails):
    nb = _nb(("code", "a", []), ("code", "b", []), ("code", "never ran", []))
    nb.cells[0].execution_count, nb.cells[1].execution_count = 1, 2
    nb.cells[1].outputs = [nbformat.v4.new_output("error", ename=ename, evalue=evalue,
                                                  traceback=[])]
    found = analyse(nb, nb)
    if fails:
        assert found == (1, f"{ename}: {evalue} (cell 2)", "cell_error")
    else:  # a clean exit: the cells after it not running is no problem
        assert found is None
