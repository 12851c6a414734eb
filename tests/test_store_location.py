"""The store is always visible: one resolver says which store and why, and every front door
(``%load_ext``, the CLI's ``--verbose`` and ``env``, ``serve``, pipelines) shows or obeys it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from jupyter_mlops.config import redact_url, resolve_locations

_ENV = ("MLOPS_TRACKING_URI", "MLOPS_ARTIFACT_ROOT", "MLOPS_HOME")


@pytest.fixture
def projects(tmp_path, monkeypatch):
    """Two projects with their own .mlops/, a folder deep inside the first, and a home."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    a, b = tmp_path / "a", tmp_path / "b"
    for p in (a, b):
        (p / ".mlops").mkdir(parents=True)
    (a / "notebooks" / "deep").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "home"))
    return tmp_path


def test_each_source_is_named_with_its_reason(projects, monkeypatch):
    deep = projects / "a" / "notebooks" / "deep"
    loc = resolve_locations(start=deep)
    assert loc.source == "project" and loc.tracking_uri.endswith("/a/.mlops/mlops.db")
    assert str(projects / "a" / ".mlops") in loc.reason and str(deep) in loc.reason

    loc = resolve_locations(start=projects / "elsewhere")
    assert loc.source == "home" and "MLOPS_HOME" in loc.reason
    assert loc.tracking_uri == f"sqlite:///{projects / 'home' / 'mlops.db'}"
    monkeypatch.delenv("MLOPS_HOME")
    loc = resolve_locations(start=projects / "elsewhere")
    assert loc.source == "home" and loc.reason.startswith("user default")

    monkeypatch.setenv("MLOPS_TRACKING_URI", "postgresql://me:s3cret@db:5432/mlops")
    loc = resolve_locations(start=deep)  # the environment beats a project folder
    assert loc.source == "environment" and "MLOPS_TRACKING_URI" in loc.reason
    assert "s3cret" not in loc.describe() and "me:***@db:5432" in loc.describe()

    loc = resolve_locations("sqlite:///x.db", start=deep)  # an argument beats the environment
    assert loc.source == "argument" and "explicitly" in loc.reason


@pytest.mark.parametrize("url", ["sqlite:///a.db", "postgresql://u:p@h/d", "postgresql://h/d",
                                 "postgresql://u:p@h:notaport/d", "::::", ""])
def test_redaction_never_shows_a_password(url):
    shown = redact_url(url)
    assert ":p@" not in shown


def test_one_redaction_serves_store_and_front_doors():
    from jupyter_mlops.server import handlers
    from jupyter_mlops.store import engine

    assert engine.redact is redact_url
    assert not hasattr(handlers, "_redact")
    assert redact_url("postgresql://u:p@[::1]:5432/d") == "postgresql://u:***@[::1]:5432/d"


def test_cli_env_and_verbose_say_why(projects, monkeypatch, capsys):
    from jupyter_mlops.cli import main

    monkeypatch.chdir(projects / "a" / "notebooks")
    assert main(["env"]) == 0
    out = capsys.readouterr().out
    assert "chosen by:" in out and str(projects / "a" / ".mlops") in out
    assert main(["--verbose", "db", "current"]) == 0
    err = capsys.readouterr().err
    assert "found walking up from" in err and str(projects / "a" / "notebooks") in err


def test_a_pipeline_file_uses_its_own_projects_store(projects, monkeypatch):
    """``pipeline run`` from another project's folder still looks up from the YAML's folder."""
    from jupyter_mlops.cli import build_parser
    from jupyter_mlops.cli.context import location_for, store_start

    monkeypatch.chdir(projects / "b")
    yaml = projects / "a" / "notebooks" / "pipeline.yaml"
    args = build_parser().parse_args(["pipeline", "run", str(yaml)])
    assert store_start(args) == yaml.parent
    assert location_for(args).tracking_uri == f"sqlite:///{projects / 'a' / '.mlops' / 'mlops.db'}"
    args = build_parser().parse_args(["pipeline", "list"])
    assert location_for(args).tracking_uri == f"sqlite:///{projects / 'b' / '.mlops' / 'mlops.db'}"
    monkeypatch.setenv("MLOPS_TRACKING_URI", "sqlite:///from-env.db")  # the environment wins
    args = build_parser().parse_args(["pipeline", "run", str(yaml)])
    assert location_for(args).source == "environment"


def _one_step_pipeline(projects, monkeypatch) -> Path:
    """A one-step pipeline.yaml inside project a, the kernel importing this checkout."""
    import os

    import nbformat

    repo = Path(__file__).resolve().parents[1]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        filter(None, [str(repo), os.environ.get("PYTHONPATH")])))
    a = projects / "a" / "notebooks"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import jupyter_mlops as mlops\n"
                                          "mlops.log_metric('v', 1.0)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, str(a / "one.ipynb"))
    (a / "pipeline.yaml").write_text("name: where\nsteps:\n  one: {notebook: one.ipynb}\n")
    return a / "pipeline.yaml"


def _runs_in(project: Path) -> int:
    with sqlite3.connect(project / ".mlops" / "mlops.db") as conn:
        return conn.execute("select count(*) from runs").fetchone()[0]


@pytest.mark.kernel
def test_a_pipeline_run_from_another_project_writes_to_the_yamls_project(projects, monkeypatch,
                                                                         capsys):
    from jupyter_mlops.cli import main
    from jupyter_mlops.store import forget_open_stores

    yaml = _one_step_pipeline(projects, monkeypatch)
    monkeypatch.chdir(projects / "b")
    forget_open_stores()
    try:
        code = main(["-v", "pipeline", "run", str(yaml), "--no-progress"])
    finally:
        forget_open_stores()
    err = capsys.readouterr().err
    assert code == 0, err
    assert str(projects / "a" / ".mlops") in err
    assert _runs_in(projects / "a") >= 1
    assert not (projects / "b" / ".mlops" / "mlops.db").exists()


@pytest.mark.kernel
def test_run_pipeline_from_python_writes_to_the_yamls_project(projects, monkeypatch):
    """``mlops.run_pipeline(path)`` follows the YAML's project like the CLI does."""
    import jupyter_mlops as mlops
    from jupyter_mlops import fluent
    from jupyter_mlops.store import forget_open_stores

    yaml = _one_step_pipeline(projects, monkeypatch)
    monkeypatch.chdir(projects / "b")
    forget_open_stores()
    mlops.set_client(None)
    monkeypatch.setattr(fluent, "_project_clients", {})
    try:
        record = mlops.run_pipeline(str(yaml), progress=False)
        assert record.status == "SUCCEEDED", record
        assert _runs_in(projects / "a") >= 1
        assert not (projects / "b" / ".mlops" / "mlops.db").exists()  # b never opened
        # A YAML in the default client's own project uses the default client itself.
        assert fluent.client_for(projects / "b") is mlops.get_client()
    finally:
        mlops.set_client(None)
        forget_open_stores()


@pytest.mark.kernel
def test_load_ext_prints_the_store_and_why(projects, monkeypatch):
    import os

    from tests.notebook.conftest import REPO, execute, make_notebook, text_of

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    deep = projects / "a" / "notebooks" / "deep"
    nb = execute(make_notebook("%load_ext jupyter_mlops"), cwd=deep, allow_errors=False)
    [line] = text_of(nb.cells[0]).splitlines()
    assert line.startswith("jupyter-mlops: store sqlite:///")
    assert str(projects / "a" / ".mlops") in line and str(deep) in line


def test_serve_names_its_store_at_start_and_in_model_not_found(projects, monkeypatch, capsys):
    from jupyter_mlops.cli import main
    from jupyter_mlops.serving.__main__ import main as serving_main

    pytest.importorskip("uvicorn")
    monkeypatch.chdir(projects / "a")
    store = str(projects / "a" / ".mlops" / "mlops.db")
    assert main(["serve", "models:/no-such-model@champion"]) != 0
    err = capsys.readouterr().err
    first, *rest = err.splitlines()
    assert first.startswith("jupyter mlops serve: store sqlite:///") and store in first
    assert "no-such-model" in rest[-1] and store in rest[-1] and "found walking up" in rest[-1]
    assert rest[-1].count(store) == 1  # named once, not twice
    assert serving_main(["models:/no-such-model@champion"]) != 0
    assert store in capsys.readouterr().err.splitlines()[-1]


def test_the_load_ext_line_needs_no_sqlalchemy(projects):
    """The line comes from the config resolver alone: ``%load_ext`` stays cheap."""
    import subprocess
    import sys

    code = ("import sys\nfrom jupyter_mlops.notebook.extension import _location\n"
            "print(_location().source)\n"
            "print(sorted(m for m in ('sqlalchemy', 'jupyter_mlops.client') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=projects / "a" / "notebooks",
                         capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[:2] == ["project", "[]"]
