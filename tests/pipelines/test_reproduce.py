"""Reproducing a run: same data → reproduced; changed data named; changed results reported."""

from __future__ import annotations

import pytest

from jupyter_mlops.pipelines.reproduce import compare_metrics, parameters_for, reproduce
from jupyter_mlops.pipelines.runner import run_pipeline

from .conftest import write_notebook, write_yaml

pytestmark = pytest.mark.kernel


@pytest.mark.slow
def test_reproduce_same_data_then_changed_data(pclient, project):
    (project / "data.csv").write_text("x\n1\n2\n3\n")
    write_notebook(project / "fit.ipynb",
                   "import jupyter_mlops as mlops\n"
                   "vals = [float(v) for v in open('data.csv').read().split()[1:]]\n"
                   "mlops.log_metrics({'mean': sum(vals) / len(vals) * scale, 'n': len(vals)})",
                   params="scale = 1.0")
    spec = write_yaml(project / "pipeline.yaml", """
name: fit
steps:
  fit: {notebook: fit.ipynb, parameters: {scale: 2.5}, inputs: [data.csv]}
""")
    step = run_pipeline(spec, progress=False, client=pclient).step("fit")
    assert pclient.get_run(step.run_id).metrics == {"mean": 5.0, "n": 3.0}

    report = reproduce(step.run_id[:10], client=pclient)
    assert report.status == "reproduced" and report.ok, report
    assert report.compared == 2 and report.differences == []
    new = pclient.get_run(report.new_run_id)
    assert new.metrics == {"mean": 5.0, "n": 3.0}  # scale=2.5 was re-injected
    assert new.tags["mlops.reproduce_of"] == step.run_id
    assert pclient.get_run(step.run_id).tags["mlops.reproduced"] == "yes"

    (project / "data.csv").write_text("x\n1\n2\n30\n")
    changed = reproduce(step.run_id, client=pclient)
    assert changed.status == "inputs_changed" and not changed.ok
    assert [c["name"] for c in changed.changed_inputs] == ["data.csv"]
    assert "data.csv (content changed)" in changed.summary()
    assert changed.new_run_id is None  # not re-executed
    assert pclient.get_run(step.run_id).tags["mlops.reproduced"] == "no"
    # The registry's promotion gate asks the same question through the check the Client
    # built its registry with (bound to this client's store).
    ok, detail = pclient.registry.reproduce_check(step.run_id)
    assert ok is False and "data.csv" in detail

    forced = reproduce(step.run_id, check_inputs=False, client=pclient)
    assert forced.status == "differs"
    assert [d["metric"] for d in forced.differences] == ["mean"]
    assert forced.differences[0]["new"] == pytest.approx(27.5)


def test_metric_comparison_and_parameter_typing():
    diffs, n = compare_metrics({"a": 1.0, "b": 2.0, "c": float("nan")},
                               {"a": 1.0 + 1e-9, "b": 2.5, "c": float("nan"), "d": 1.0},
                               1e-6, 1e-9)
    assert n == 3 and [d["metric"] for d in diffs] == ["b", "d"]
    snap = {"cells": [{"cell_type": "code", "metadata": {"tags": ["parameters"]},
                       "source": "name = 'x'\nn = 1\nrate = 0.1\nflags = [1]"}]}
    params = {"name": "42", "n": "7", "rate": "0.5", "flags": "[1, 2]", "other": "ignored"}
    assert parameters_for(snap, params) == {"name": "42", "n": 7, "rate": 0.5, "flags": [1, 2]}
