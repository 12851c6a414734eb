"""The ready CI files in docs/ci/ do what they say: their gate commands pass on the example pipeline.

Both files are parsed as YAML; the GitHub Actions step and the GitLab CI script that run
``jupyter mlops check`` are run as written (bash, ``-euo pipefail``), with the project's own
``jupyter`` from this venv, in a fresh folder holding a copy of ``examples/``: the example
pipeline runs for real (papermill, five notebooks), and the JUnit report is read back.
The install steps are not run (this venv is the installed project); they are checked to
install this project.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CI = REPO / "docs" / "ci"
VENV_BIN = Path(sys.executable).parent


def github_steps() -> tuple[list[str], str]:
    doc = yaml.safe_load((CI / "github-actions.yml").read_text())
    steps = [s for job in doc["jobs"].values() for s in job["steps"]]
    runs = [s["run"] for s in steps if "run" in s]
    check = [r for r in runs if "jupyter mlops check" in r]
    assert len(check) == 1, runs
    return runs, check[0]


def gitlab_script() -> tuple[list[str], str]:
    doc = yaml.safe_load((CI / "gitlab-ci.yml").read_text())
    job = doc["quality-gates"]
    assert job["artifacts"]["reports"]["junit"] == "reports/quality-gates.xml"
    assert any("jupyter mlops check" in line for line in job["script"])
    return job["before_script"], "\n".join(job["script"])


def _with_venv(script: str) -> str:
    """The project's own command from this venv (``jupyter`` then finds ``jupyter-mlops``)."""
    return re.sub(r"(?m)^(\s*)jupyter mlops ", rf"\1{VENV_BIN / 'jupyter'} mlops ", script)


def _env(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_")}
    env["PATH"] = os.pathsep.join([str(VENV_BIN), env.get("PATH", "")])
    env["MLOPS_HOME"] = str(folder / "home")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return env


def test_install_steps_install_this_project():
    runs, _ = github_steps()
    before, _ = gitlab_script()
    for commands in (runs, before):
        assert any(re.search(r"pip install \.(\s|$)", c) for c in commands), commands


def _run(script: str, folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-euo", "pipefail", "-c", _with_venv(script)], cwd=folder,
                          env=_env(folder), capture_output=True, text=True, timeout=1500)


def _gates(script: str) -> list[str]:
    return re.findall(r'--gate "([^"]+)"', script)


@pytest.mark.slow
@pytest.mark.kernel
def test_ci_files_gate_the_example_pipeline(tmp_path):
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    report = tmp_path / "reports" / "quality-gates.xml"
    for name, script in (("github", github_steps()[1]), ("gitlab", gitlab_script()[1])):
        report.unlink(missing_ok=True)
        proc = _run(script, tmp_path)
        assert proc.returncode == 0, f"{name}: {proc.stdout}\n{proc.stderr}"
        gates = _gates(script)
        assert gates and all(f"PASS  {g}  value " in proc.stdout for g in gates), proc.stdout
        assert "SUCCEEDED" in proc.stdout
        suite = ET.parse(report).getroot().find("testsuite")
        names = [c.get("name") for c in suite.iter("testcase")]
        assert names[:len(gates)] == gates
        # --reproducible: one case per step of the example pipeline
        assert [n for n in names[len(gates):]] == [
            f"reproducible {s}" for s in ("prepare", "train_logreg", "train_rf", "evaluate",
                                          "promote")]
        assert suite.get("failures") == "0"

    # The same gates with a bar the example cannot meet, on the run just made (--run reads it
    # instead of running the pipeline a third time): the job fails with the gate's exit code.
    prid = re.search(r"^pipeline run (\w+) ", proc.stdout, re.M)[1]
    strict = github_steps()[1].replace(">= 0.95", ">= 1.01", 1).replace(
        "check examples/pipeline/pipeline.yaml", f"check --run {prid}")
    proc = _run(strict, tmp_path)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert re.search(r"FAIL  evaluate:metrics\.logreg_roc_auc >= 1\.01  value 0\.\d+  "
                     r"threshold >= 1\.01", proc.stdout), proc.stdout
