"""`%mlops` magics executed in a real ipykernel through nbclient."""

from __future__ import annotations

import json

import pytest

from .conftest import execute, make_notebook, text_of

pytestmark = pytest.mark.kernel


@pytest.mark.slow  # runs notebooks in a kernel, 10.2 s measured (load 9)
def test_magics_record_params_metrics_tags_artifacts_and_datasets(kernel_store, read_client):
    (kernel_store / "data.csv").write_text("a,b\n1,2\n3,4\n5,6\n")
    (kernel_store / "notes.txt").write_text("hello")
    nb = make_notebook(
        "%load_ext jupyter_mlops",
        "%mlops start --experiment exp1 --name first --tag team=vision",
        "%mlops param lr=0.01 model=svc",
        "loss = 0.25\n%mlops metric acc=0.9 loss",
        "%mlops metric acc=0.95 --step 7",
        "%mlops tag stage=dev",
        "%mlops artifact notes.txt",
        "%mlops dataset data.csv --name train",
        "import pandas as pd\nframe = pd.DataFrame({'x': [1, 2]})\n%mlops dataset frame --name tiny --role output",
        "%mlops end",
    )
    executed = execute(nb, kernel_store, allow_errors=False)
    assert "Started run 'first'" in text_of(executed.cells[1])

    [run] = read_client.search_runs(experiment="exp1")
    detail = read_client.get_run(run.id)
    assert run.status == "FINISHED" and run.name == "first"
    assert run.params == {"lr": "0.01", "model": "svc"}
    assert run.metrics == {"acc": 0.95, "loss": 0.25}
    assert run.tags == {"team": "vision", "stage": "dev"}
    history = read_client.metric_history(run.id, "acc")
    assert [(p.step, p.value) for p in history] == [(0, 0.9), (7, 0.95)]
    assert [a.name for a in detail.artifacts] == ["notes.txt"]
    assert read_client.read_artifact(run.id, "notes.txt")[1] == b"hello"
    datasets = {d.name: d for d in detail.datasets}
    assert datasets["train"].row_count == 3 and datasets["train"].role == "input"
    assert datasets["tiny"].role == "output" and datasets["tiny"].schema == {"x": "int64"}
    # the notebook snapshot (kernel history here) and the environment are stored at run end
    snapshot = read_client.notebook_snapshot(run.id)
    assert any("%mlops param lr=0.01" in c["source"] for c in snapshot["cells"])
    assert detail.environment is not None and "ipykernel" in detail.environment.packages
    assert run.reproducible is True


@pytest.mark.slow  # runs notebooks in a kernel, 5.0 s measured (load 9)
def test_bad_input_is_one_line_and_loses_nothing(run_magics, read_client):
    executed = run_magics(
        "%mlops metric acc=0.5",
        "%mlops metric acc=high",
        "%mlops frobnicate",
        "%mlops metric",
        "%mlops start --tag novalue",
        "%mlops artifact does/not/exist.bin",
        "%mlops runs --filter \"metrics.acc >> 1\"",
        "%mlops param \"unterminated",
        "%mlops track",
        "%mlops metric acc=0.75",
    )
    for cell in executed.cells[2:10]:
        out = text_of(cell)
        assert "UsageError" in out, out
        assert "Traceback" not in out and "File \"" not in out, out
    assert "must be a number, got 'high'" in text_of(executed.cells[2])
    assert "invalid choice: 'frobnicate'" in text_of(executed.cells[3])
    assert "No file or folder at 'does/not/exist.bin'" in text_of(executed.cells[6])
    assert "position" in text_of(executed.cells[7])
    [run] = read_client.search_runs()
    assert [(p.step, p.value) for p in read_client.metric_history(run.id, "acc")] == [(0, 0.5), (1, 0.75)]


@pytest.mark.slow  # runs notebooks in a kernel, 9.3 s measured (load 9)
def test_track_cell_magic_records_variables_and_lineage(kernel_store, read_client):
    nb = make_notebook(
        "%load_ext jupyter_mlops",
        "%%mlops track --params C,kind --metrics score\nC = 0.5\nkind = 'linear'\nscore = 0.875",
        "%%mlops track --metrics missing\nx = 1",
        "%%mlops track --metrics kind\ny = 2",
        "%mlops end",
    )
    executed = execute(nb, kernel_store)
    assert "did not define" in text_of(executed.cells[2])
    assert "must be a number" in text_of(executed.cells[3])
    [run] = read_client.search_runs()
    assert run.params == {"C": "0.5", "kind": "linear"}
    assert run.metrics == {"score": 0.875}
    graph = read_client.lineage(run.id)
    cells = [n for n in graph.nodes if n.type == "cell"]
    assert len(cells) == 1 and graph.upstream() == {cells[0].id}


@pytest.mark.slow  # runs notebooks in a kernel, 7.0 s measured (load 9)
def test_rerun_cell_marks_run_not_reproducible_with_warning_once(kernel_store, read_client):
    nb = make_notebook(
        "%load_ext jupyter_mlops\n%mlops start --name rerun",
        "%mlops metric m=1",
        "%mlops metric m=1",
        "%mlops metric m=1",
        "%mlops end",
    )
    executed = execute(nb, kernel_store)
    warnings = [text_of(c) for c in executed.cells if "not reproducible" in text_of(c)]
    assert len(warnings) == 1 and "ran again" in warnings[0]
    [run] = read_client.search_runs()
    assert run.reproducible is False and "ran again" in run.not_reproducible_reason


@pytest.mark.slow  # runs notebooks in a kernel, 8.0 s measured (load 9)
def test_papermill_parameters_become_params(kernel_store, read_client):
    import nbformat
    import papermill as pm

    nb = make_notebook("alpha = 0.1\nlayers = [1, 2]", "%load_ext jupyter_mlops\n%mlops metric done=1")
    nb.cells[0].metadata["tags"] = ["parameters"]
    src, out = kernel_store / "nb.ipynb", kernel_store / "out.ipynb"
    nbformat.write(nb, src)
    pm.execute_notebook(str(src), str(out), parameters={"alpha": 0.3, "name": "pm"},
                        kernel_name="python3", progress_bar=False, cwd=str(kernel_store))
    [run] = read_client.search_runs()
    assert run.params == {"alpha": "0.3", "name": "pm"}
    assert run.status == "FINISHED"  # closed at kernel shutdown


@pytest.mark.slow  # runs notebooks in a kernel, 6.1 s measured (load 9)
def test_failed_papermill_cell_marks_run_failed(kernel_store, read_client):
    import nbformat
    import papermill as pm

    nb = make_notebook("%load_ext jupyter_mlops\n%mlops metric before=1", "raise RuntimeError('boom')")
    src = kernel_store / "nb.ipynb"
    nbformat.write(nb, src)
    with pytest.raises(pm.PapermillExecutionError):
        pm.execute_notebook(str(src), str(kernel_store / "out.ipynb"), kernel_name="python3",
                            progress_bar=False, cwd=str(kernel_store))
    [run] = read_client.search_runs()
    assert run.status == "FAILED" and run.metrics == {"before": 1.0}


def test_help_lists_every_command(kernel_store):
    executed = execute(make_notebook("%load_ext jupyter_mlops\n%mlops help"), kernel_store)
    out = text_of(executed.cells[0])
    for command in ("start", "end", "param", "metric", "tag", "artifact", "dataset", "runs",
                    "status", "%%mlops track"):
        assert f"%mlops {command}" in out or command.startswith("%%") and command in out


@pytest.mark.slow  # runs notebooks in a kernel, 13.1 s measured (load 9)
def test_runs_table_escapes_html(kernel_store, read_client):
    nb = make_notebook(
        "%load_ext jupyter_mlops\n%mlops start --name '<img src=x onerror=alert(1)>'\n%mlops end",
        "%mlops runs",
    )
    executed = execute(nb, kernel_store, allow_errors=False)
    html = "".join(o.get("data", {}).get("text/html", "") for o in executed.cells[1].outputs)
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img" not in html
    assert json.dumps(executed.cells[1].outputs)  # outputs are plain JSON
