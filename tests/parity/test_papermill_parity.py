"""papermill's own test notebooks, run three ways, must end the same way (issue 12).

1. plain ``papermill.execute_notebook``;
2. papermill with a first cell ``%load_ext jupyter_mlops`` + ``%mlops start`` (the notebook
   hooks record a run);
3. a one-step pipeline through :func:`~jupyter_mlops.pipelines.runner.run_pipeline`.

Each notebook runs with the parameters papermill's tests give it. The outcome — "ok",
"failed" (a kernel ran it and it failed) or "refused" (nothing ran) — must agree across the
three, and the recorded runs must say the same: FINISHED exactly when papermill succeeded.
Where jupyter-mlops differs on purpose, the difference is listed in :data:`DIFFERENCES` and
must be named in docs/pipelines.md ("Differences from plain papermill"). The notebooks
(BSD-3, nteract) and what was left out are described in ``notebooks/README.md``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from tests.pipelines.conftest import init_project
from tests.reliability.faults import record

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
NOTEBOOKS = HERE / "notebooks"
DOCS = HERE.parents[1] / "docs" / "pipelines.md"

#: notebook: (the parameters papermill's tests pass, papermill's outcome, "(cell N)" of the
#: failing cell in the notebook file, for the pipeline's error message)
CASES: dict[str, tuple[dict | None, str, int | None]] = {
    "blank-vscode": ({"var": "It works"}, "refused", None),  # no kernelspec
    "broken": (None, "failed", 1),  # Python 2 print: a SyntaxError
    "broken1": (None, "failed", 7),  # banners of an earlier papermill run in front
    "broken2": (None, "failed", 2),
    "complex_parameters": (None, "failed", 1),  # `= 2` in the parameters cell
    "keyboard_interrupt": (None, "failed", 1),  # interrupted after 3 s (see _interrupt)
    "line_magic_error": (None, "failed", 1),
    "nb_version_4.4": ({"var": "It works"}, "ok", None),
    "no_parameters": ({"msg": "Hello"}, "ok", None),
    "read_check": (None, "ok", None),  # reads check.txt in the folder it runs in
    "report_mode_test": ({"a": 0}, "ok", None),
    "result_no_exec": (None, "ok", None),
    "simple_execute": ({"msg": "Hello"}, "ok", None),
    "sysexit": (None, "ok", None),
    "sysexit0": (None, "ok", None),
    "sysexit1": (None, "failed", 2),
    "systemexit": (None, "ok", None),
    "test_autosave": (None, "ok", None),  # kernel `python`: jupyter_client maps it to python3
    "test_logging": (None, "failed", 3),  # imports ggplot, which is not installed
    "test_notebooknode_io": (None, "ok", None),
}

#: (notebook, way): (its outcome there, the words docs/pipelines.md uses for the difference)
DIFFERENCES = {
    # papermill only warns that "It works" is not an int like `var = 1`; a pipeline checks
    # parameter types against the notebook's defaults before anything runs.
    ("nb_version_4.4", "pipeline"): ("refused", "type of its default"),
}


def _interrupt(cell) -> int | None:
    """nbclient's per-cell timeout: interrupt the endless cell of keyboard_interrupt.ipynb."""
    return 3 if "sleep(60)" in cell.source else None


def _papermill(src: Path, out: Path, parameters) -> str:
    """Run ``src`` with papermill (in the current folder, the project's); its outcome."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    try:
        pm.execute_notebook(str(src), str(out), parameters=parameters, progress_bar=False,
                            timeout_func=_interrupt, interrupt_on_timeout=True)
    except PapermillExecutionError:
        return "failed"
    except ValueError as exc:  # "No kernel name found in notebook…": refused up front
        assert "kernel name" in str(exc), exc
        return "refused"
    return "ok"


def _with_hooks(src: Path, dest: Path, name: str) -> Path:
    """``src`` with a first cell that loads the extension and starts a run named ``name``."""
    nb = nbformat.read(str(src), as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(
        f"%load_ext jupyter_mlops\n%mlops start --name {name}"))
    nbformat.write(nb, str(dest))
    return dest


def _pipeline(project: Path, src: Path, parameters, timeout: float | None, client):
    """Run ``src`` as a one-step pipeline: its outcome and the step's record."""
    from jupyter_mlops.errors import InvalidInputError
    from jupyter_mlops.pipelines.runner import run_pipeline

    step = {"notebook": src.name, "parameters": parameters or {}}
    if timeout:
        step["timeout"] = timeout
    spec = project / "pipeline.yaml"
    spec.write_text(json.dumps({"name": "parity", "steps": {"step": step}}))
    try:
        record = run_pipeline(spec, progress=False, client=client, warm_kernels=False)
    except InvalidInputError:
        return "refused", None
    [step_run] = record.steps
    return ("ok" if step_run.status == "SUCCEEDED" else "failed"), step_run


@pytest.mark.parametrize("name", sorted(CASES))
def test_papermill_notebook_ends_the_same_three_ways(tmp_path, monkeypatch, name):
    from jupyter_mlops.client import Client

    parameters, expected, cell = CASES[name]
    project = init_project(tmp_path, monkeypatch)  # also the current folder
    (project / "check.txt").write_text("exists")  # for read_check.ipynb
    src = Path(shutil.copy(NOTEBOOKS / f"{name}.ipynb", project / f"{name}.ipynb"))
    hooked = _with_hooks(src, tmp_path / "hooked.ipynb", "hooked")
    client = Client()
    try:
        # One after the other: papermill is not thread-safe (its local file handler changes
        # the process's working folder while it writes).
        outcome = {"papermill": _papermill(src, tmp_path / "plain-out.ipynb", parameters),
                   "hooks": _papermill(hooked, tmp_path / "hooked-out.ipynb", parameters)}
        outcome["pipeline"], step = _pipeline(project, src, parameters,
                                              3 if name == "keyboard_interrupt" else None,
                                              client)
        assert outcome["papermill"] == expected, "papermill itself changed its verdict"

        # The run the hooks recorded says what papermill said.
        runs = client.search_runs("name = 'hooked'")
        if outcome["hooks"] == "refused":
            assert runs == []  # no kernel ever ran the notebook: nothing to record
        else:
            [run] = runs
            assert run.status == ("FINISHED" if outcome["hooks"] == "ok" else "FAILED")

        # So does the step's run; a refused pipeline recorded nothing.
        if step is None:
            assert [r.name for r in client.search_runs()] in ([], ["hooked"])
        else:
            want = "FINISHED" if step.status == "SUCCEEDED" else "FAILED"
            assert client.get_run(step.run_id).status == want
            if cell is not None:
                assert f"(cell {cell})" in step.error, step.error
    finally:
        client.close()

    record("papermill-parity", inputs=1)
    for way in ("hooks", "pipeline"):
        differs = DIFFERENCES.get((name, way))
        assert outcome[way] == (differs[0] if differs else outcome["papermill"]), (
            way, outcome, step.error if step is not None else None)  # the step's reason


def test_every_difference_is_documented():
    text = DOCS.read_text()
    section = text[text.index("## Differences from plain papermill"):]
    section = section[:section.find("\n## ", 3)] if "\n## " in section[3:] else section
    for (name, _way), (_outcome, words) in DIFFERENCES.items():
        assert words in section and name.split(".")[0] in section, (name, words)


def test_the_vendored_notebooks_are_papermills_with_their_licence():
    licence = (NOTEBOOKS / "LICENSE").read_text()
    assert "BSD 3-Clause" in licence and "Copyright (c) 2017, nteract" in licence
    vendored = {p.stem for p in NOTEBOOKS.glob("*.ipynb")}
    assert vendored == set(CASES)  # every vendored notebook is exercised, and only those
    readme = (NOTEBOOKS / "README.md").read_text()
    for left_out in ("binder", "notimplemented_translator", "gcs", "s3"):
        assert left_out in readme
