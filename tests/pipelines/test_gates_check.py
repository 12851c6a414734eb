"""``jupyter mlops check``: the gate grammar, every operator, missing values, JUnit, refusals.

Gates are checked on real tracked runs through the real CLI (``--run ID`` in a subprocess);
the pipeline path itself runs in ``test_ci_files.py`` (the example pipeline, with papermill).
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_mlops.errors import EXIT_GATE_FAILED, GateFailedError, InvalidInputError, exit_code_for
from jupyter_mlops.pipelines import gates_check as gc

VALUES = {"metrics": {"f1": 0.9, "loss": 0.25}, "params": {"C": "1.0", "model": "logreg"},
          "tags": {"stage": "dev"}}


def _cli(*args: str, env: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jupyter_mlops.cli", *args], cwd=cwd,
                          capture_output=True, text=True, env=env or os.environ.copy(),
                          timeout=600)


# --------------------------------------------------------------------------- grammar
@pytest.mark.parametrize("text, passed", [
    ("metrics.f1 >= 0.9", True), ("metrics.f1 >= 0.91", False),
    ("metrics.f1 > 0.89", True), ("metrics.f1 > 0.9", False),
    ("metrics.loss <= 0.25", True), ("metrics.loss <= 0.2", False),
    ("metrics.loss < 0.3", True), ("metrics.loss < 0.25", False),
    ("metrics.f1 == 0.9", True), ("metrics.f1 == 0.8", False),
    ("metrics.f1 != 0.8", True), ("metrics.f1 != 0.9", False),
    ("params.C == 1", True), ("params.C > 1", False),       # numeric compare of a param
    ("params.model == logreg", True), ("params.model != 'logreg'", False),
    ("tags.stage == \"dev\"", True), ("tags.stage != dev", False),
    ("metrics.f1>=0.9", True), ("  metrics.f1   >=   9e-1 ", True),
])
def test_each_operator(text, passed):
    result = gc.evaluate(gc.parse_gate(text), VALUES)
    assert result.passed is passed, result.line()
    assert result.line().startswith("PASS" if passed else "FAIL")


def test_step_prefix_and_dotted_keys():
    gate = gc.parse_gate("train:metrics.val/loss.last <= 1e-3")
    assert (gate.step, gate.kind, gate.key, gate.op, gate.threshold) == (
        "train", "metrics", "val/loss.last", "<=", 0.001)


@pytest.mark.parametrize("text", ["metrics.recall >= 0.5", "params.nope == x", "tags.t != y"])
def test_missing_key_is_a_fail_not_a_crash(text):
    result = gc.evaluate(gc.parse_gate(text), VALUES, step="train")
    assert not result.passed and result.value == "missing"
    assert result.line().startswith("FAIL") and "missing" in result.line()
    assert not gc.evaluate(gc.parse_gate(text), None).passed  # a step without a run


def test_a_non_number_against_a_numeric_threshold_fails():
    result = gc.evaluate(gc.parse_gate("params.model >= 1"), VALUES)
    assert not result.passed and "not a number" in result.value


@pytest.mark.parametrize("text, says", [
    ("f1 >= 0.9", "not valid"), ("metrics.f1", "not valid"), ("metrics.f1 => 0.9", "not valid"),
    ("metric.f1 >= 0.9", "did you mean metrics"), ("metrics.f1 >= high", "a metric is a number"),
    ("params.model > logreg", "needs a number"), ("metrics.f1 >= nan", "nan"),
    ("params.x == two words", "quote it"), ("metrics.f1 >> 3", "not valid"),
    ("metrics.f1 >= 0.9\nrm -rf", "printable"), ("", "not valid"),
])
def test_bad_gates_are_one_line(text, says):
    with pytest.raises(InvalidInputError) as info:
        gc.parse_gate(text)
    assert says in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("text", ["churn", "churn=", "=0.2", "churn=1.5", "churn=-0.1", "c=x"])
def test_bad_max_drift(text):
    with pytest.raises(InvalidInputError):
        gc.parse_max_drift(text)
    assert gc.parse_max_drift("a=b=0.25") == ("a=b", 0.25)


def test_a_failed_gate_has_its_own_exit_code():
    assert exit_code_for(GateFailedError("x")) == EXIT_GATE_FAILED not in (0, 1, 2)


@pytest.mark.slow
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=60))
def test_random_gate_strings_exit_2_with_one_line(text, capsys):
    """Whatever the string, a gate that does not parse ends in exit 2 and one line, before
    any pipeline runs (the pipeline named here does not even exist)."""
    from jupyter_mlops.cli import main

    try:
        gc.parse_gate(text)
    except InvalidInputError:
        pass
    else:
        return  # a valid gate: nothing to refuse
    code = main(["check", "no-such-pipeline.yaml", f"--gate={text}"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err


# --------------------------------------------------------------------------- real runs, real CLI
@pytest.fixture
def runs(pclient):
    good = pclient.create_run(experiment="gates", name="good <b>")
    pclient.log_metrics(good.id, {"f1": 0.93, "loss": 0.1})
    pclient.log_params(good.id, {"C": 1.0, "model": "logreg"})
    pclient.set_tag(good.id, "stage", "candidate")
    pclient.end_run(good.id)
    out_of_order = pclient.create_run(experiment="gates", name="bad")
    pclient.log_metric(out_of_order.id, "f1", 0.5)
    pclient.mark_not_reproducible(out_of_order.id, "cell 3 ran before cell 2")
    pclient.end_run(out_of_order.id)
    pclient.flush()
    return good.id, out_of_order.id


@pytest.mark.slow
def test_cli_all_gates_pass_exits_0(runs, tmp_path):
    good, _ = runs
    report = tmp_path / "out" / "gates.xml"
    proc = _cli("check", "--run", good[:12], "--gate", "metrics.f1 >= 0.9",
                "--gate", "params.model == logreg", "--gate", "tags.stage != prod",
                "--junit", str(report))
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(("PASS", "FAIL"))]
    assert lines == [
        "PASS  metrics.f1 >= 0.9  value 0.93  threshold >= 0.9",
        "PASS  params.model == logreg  value 'logreg'  threshold == 'logreg'",
        "PASS  tags.stage != prod  value 'candidate'  threshold != 'prod'"]
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite.get("tests") == "3" and suite.get("failures") == "0"
    assert [c.get("name") for c in suite.iter("testcase")] == [
        "metrics.f1 >= 0.9", "params.model == logreg", "tags.stage != prod"]
    assert not list(suite.iter("failure"))


@pytest.mark.slow
def test_cli_a_failed_or_missing_gate_exits_3_and_says_which(runs, tmp_path):
    good, _ = runs
    report = tmp_path / "gates.xml"
    proc = _cli("check", "--run", good, "--gate", "metrics.f1 >= 0.95",
                "--gate", "metrics.recall > 0.5", "--gate", "metrics.loss < 0.2",
                "--gate", "train:metrics.f1 > 0", "--junit", str(report))
    assert proc.returncode == EXIT_GATE_FAILED, proc.stderr
    assert "FAIL  metrics.f1 >= 0.95  value 0.93  threshold >= 0.95" in proc.stdout
    assert "FAIL  metrics.recall > 0.5  value missing  threshold > 0.5" in proc.stdout
    assert "PASS  metrics.loss < 0.2  value 0.1  threshold < 0.2" in proc.stdout
    assert "FAIL  train:metrics.f1 > 0  value missing (the run is not a pipeline run)" \
        in proc.stdout
    assert "1 passed, 3 failed" in proc.stdout and "Traceback" not in proc.stderr
    suite = ET.parse(report).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("4", "3")
    failed = [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None]
    assert failed == ["metrics.f1 >= 0.95", "metrics.recall > 0.5", "train:metrics.f1 > 0"]
    assert "value 0.93, threshold >= 0.95" in suite.find("testcase/failure").get("message")


@pytest.mark.slow
def test_cli_reproducible_and_drift(runs):
    good, bad = runs
    proc = _cli("check", "--run", bad, "--reproducible", "--max-drift", "churn=0.2")
    assert proc.returncode == EXIT_GATE_FAILED, proc.stderr
    assert "FAIL  reproducible bad  value no: cell 3 ran before cell 2" in proc.stdout
    assert "FAIL  drift churn  value missing (no such monitor)" in proc.stdout
    proc = _cli("check", "--run", good, "--reproducible")
    assert proc.returncode == EXIT_GATE_FAILED  # never checked: not proof of reproducibility
    assert "value not checked" in proc.stdout


@pytest.mark.slow
def test_cli_bad_gate_refused_before_running(project):
    proc = _cli("check", "pipeline.yaml", "--gate", "metrics.f1 = 0.9")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: Gate 'metrics.f1")
    assert proc.stdout == "" and not (project / "pipeline.yaml").exists()
    proc = _cli("check", "--gate", "metrics.f1 >= 0.9")
    assert proc.returncode == 2 and "--run ID" in proc.stderr


def test_junit_escapes_hostile_text():
    report = gc.CheckReport(pipeline_run_id="p", run_id="r", status="SUCCEEDED", results=[
        gc.GateResult(name="tags.t == '<x>&\"y\"'", passed=False, value="'a\x01b]]>'",
                      threshold="== '<x>'", step="s<1>")])
    root = ET.fromstring(gc.junit_xml(report))
    case = root.find("testsuite/testcase")
    assert case.get("name") == "tags.t == '<x>&\"y\"'"
    assert case.get("classname") == "mlops.gates.s<1>"
    assert "a\ufffdb]]>" in case.find("failure").text


def test_final_step_is_the_last_of_the_dependency_order():
    spec = {"steps": [{"name": "evaluate", "depends_on": ["train_a", "train_b"]},
                      {"name": "prepare"}, {"name": "train_b", "depends_on": ["prepare"]},
                      {"name": "train_a", "depends_on": ["prepare"]}]}
    assert gc.final_step(spec, ["prepare", "train_a", "train_b", "evaluate"]) == "evaluate"
    assert gc.final_step({}, ["a", "b"]) == "b"


@pytest.mark.slow
@pytest.mark.kernel
def test_cli_a_failed_pipeline_exits_1_and_still_prints_the_gates(project, tmp_path):
    """A real two-step pipeline (papermill) whose last step raises: exit 1, not 3, and each
    gate is still printed on what ran (the failed step's metric logged before it raised)."""
    from tests.pipelines.conftest import write_notebook, write_yaml

    write_notebook(project / "fit.ipynb", "import jupyter_mlops as mlops",
                   "mlops.log_metric('f1', 0.97)")
    write_notebook(project / "boom.ipynb", "import jupyter_mlops as mlops",
                   "mlops.log_metric('seen', 1)", "raise RuntimeError('broken step')")
    write_yaml(project / "pipeline.yaml", "name: gated\nsteps:\n"
               "  fit: {notebook: fit.ipynb}\n"
               "  boom: {notebook: boom.ipynb, depends_on: [fit]}\n")
    # No store in the environment, started elsewhere: the pipeline's project store is used
    # (found from the pipeline file's folder), and -v says so.
    env = {k: v for k, v in os.environ.items()
           if k not in ("MLOPS_TRACKING_URI", "MLOPS_ARTIFACT_ROOT")}
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / ".mlops").mkdir(parents=True)
    proc = _cli("-v", "check", str(project / "pipeline.yaml"), "--gate", "fit:metrics.f1 >= 0.9",
                "--gate", "metrics.seen == 1", "--junit", str(tmp_path / "j.xml"),
                env=env, cwd=elsewhere)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "'gated': FAILED" in proc.stdout
    assert "PASS  fit:metrics.f1 >= 0.9  value 0.97  threshold >= 0.9 (step fit)" in proc.stdout
    assert "PASS  metrics.seen == 1  value 1  threshold == 1 (step boom)" in proc.stdout
    assert "error: the pipeline ended FAILED" in proc.stderr
    assert str(project / ".mlops") in proc.stderr  # -v names the pipeline project's store
    assert ET.parse(tmp_path / "j.xml").getroot().find("testsuite").get("tests") == "2"
