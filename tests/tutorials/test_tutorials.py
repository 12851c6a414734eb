"""The tutorials run top to bottom, headless, and leave what they promise a reader.

`scripts/run-tutorials OUT --quick` is what `make demo` runs (at full size, with --project)
and what the docs build calls: one run here covers all three. It executes every notebook of
notebooks/ with papermill in one fresh project folder on the embedded store (SQLite + local
artifacts); the checks below read that store back through the Client a reader would use.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.machinery import SourceFileLoader
from importlib.util import module_from_spec, spec_from_loader
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "run-tutorials"
TUTORIALS = ["01-data", "02-training", "03-registry", "04-pipeline", "05-monitoring",
             "06-features"]


def script_env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "MLOPS_HOME": str(tmp_path / "home")}
    # The venv's tools first, as make puts them (the notebooks start `python -m ...`).
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture(scope="module")
def tutorials(tmp_path_factory):
    """One --quick run of every tutorial; its project folder is kept for the checks."""
    tmp = tmp_path_factory.mktemp("tutorials")
    out, project = tmp / "executed", tmp / "project"
    done = subprocess.run([sys.executable, str(SCRIPT), str(out), "--quick", "--project",
                           str(project)], env=script_env(tmp), capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out, project, done.stdout, done.stderr


@pytest.mark.slow
def test_every_tutorial_ran_without_an_error_output(tutorials):
    out, _, _, stderr = tutorials
    assert "without encryption" not in stderr  # kernels on IPC sockets: no TCP warning
    assert "Parent appears to have exited" not in stderr  # each kernel stopped after its run
    for name in TUTORIALS:
        executed = nbformat.read(out / f"{name}.ipynb", as_version=4)
        errors = [o for c in executed.cells if c.cell_type == "code"
                  for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, (name, errors)
        assert executed.metadata.papermill.parameters, name  # the quick sizes were injected


@pytest.mark.slow
def test_the_store_holds_what_the_tutorials_promise(tutorials):
    from jupyter_mlops import Client

    _, project, stdout, _ = tutorials
    mlops_dir = project / ".mlops"
    with Client(f"sqlite:///{mlops_dir / 'mlops.db'}", str(mlops_dir / "artifacts")) as client:
        # 02: a training run with one child per candidate, each with its held-out scores.
        training = client.search_runs("name = 'training'", experiment="tutorial")
        assert training
        candidates = client.search_runs("tags.stage = 'candidate' and metrics.roc_auc > 0.5",
                                        experiment="tutorial")
        assert len(candidates) >= 3
        # 01: the data versioned by content; logging it again kept its version.
        assert client.list_datasets("cancer-train")
        # 03: a registered version that `champion` points at, and the gate's refusal kept it.
        registry = client.registry
        champion = registry.get_version("cancer", "champion")
        assert "champion" in champion.aliases and champion.metrics["roc_auc"] > 0.9
        # The weak challenger 03 registers to show the gate: registered, never champion.
        assert min(v.metrics.get("roc_auc", 1.0) for v in registry.list_versions("cancer")) \
            < champion.metrics["roc_auc"]
        # 04: the pipeline of the three notebooks succeeded; its schedule is paused.
        runs = client.pipelines.list_runs("tutorial", 10)
        assert runs and all(r.status == "SUCCEEDED" for r in runs), runs
        assert [s.paused for s in client.pipelines.list_schedules()
                if s.name == "nightly-training"] == [True]
        # 05: the shifted batch drifted and its alert started the retraining pipeline.
        mon = client.monitoring.get("cancer@champion")
        drift = mon.results("drift_share")
        assert drift["value"].max() >= 0.3
        assert any(a.action == "TRIGGERED" and a.pipeline_run_id for a in mon.alerts())
        assert len(runs) >= 2  # 04's run and the one the alert started
        # 06: a feature view, materialized.
        assert [v.version for v in client.features.versions("exams")] == [1]
    reports = {p.name for p in (project / "reports").glob("*.html")}
    assert {"training-comparison.html", "model-card.html", "drift.html", "runs.html"} <= reports
    # The summary make demo ends with: runs, the champion, drift, where the reports are.
    assert "champion" in stdout and "DRIFT" in stdout and "reports/" in stdout


def test_a_failing_tutorial_is_named_with_its_cell(tmp_path):
    """The line run-tutorials prints names the notebook and the cell in the tutorial file
    (papermill's executed copy has one more cell: the injected parameters)."""
    loader = SourceFileLoader("run_tutorials", str(SCRIPT))
    script = module_from_spec(spec_from_loader("run_tutorials", loader))
    loader.exec_module(script)
    book = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python",
                                                             "display_name": "Python 3"}})
    book.cells = [nbformat.v4.new_markdown_cell("# broken"),
                  nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
                  nbformat.v4.new_code_cell("y = x + 1"),
                  nbformat.v4.new_code_cell("raise ValueError('no such column: radius')")]
    project = tmp_path / "project"
    project.mkdir()
    nbformat.write(book, project / "01-data.ipynb")
    (tmp_path / "out").mkdir()
    failure = script.run("01-data", project, tmp_path / "out", quick=True)
    assert failure == ("01-data.ipynb failed in cell 4: ValueError: no such column: radius")
    assert (tmp_path / "out" / "01-data.ipynb").exists()
