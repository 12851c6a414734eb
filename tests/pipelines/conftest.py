"""Fixtures for pipeline tests: a project folder with its own store, notebooks built in it.

Kernel tests use a SQLite store only (``project``/``pclient``): they exercise papermill and
kernels, not the database. Store-level tests use the shared ``client`` fixture and so run
against every backend.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
_LIBRARY_ENV = ("MLOPS_TRACKING_URI", "MLOPS_ARTIFACT_ROOT", "MLOPS_HOME", "MLOPS_USER",
                "MLOPS_EXPERIMENT", "MLOPS_NOTEBOOK_PATH", "MLOPS_PARENT_RUN_ID", "MLOPS_RUN_ID")


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A project folder with a .mlops store; kernels started now inherit its location."""
    return init_project(tmp_path, monkeypatch)


def init_project(tmp_path: Path, monkeypatch) -> Path:
    """Make ``tmp_path/project`` with its store the one everything started from now uses."""
    root = tmp_path / "project"
    (root / ".mlops").mkdir(parents=True)
    for name in _LIBRARY_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLOPS_TRACKING_URI", f"sqlite:///{root / '.mlops' / 'mlops.db'}")
    monkeypatch.setenv("MLOPS_ARTIFACT_ROOT", str(root / ".mlops" / "artifacts"))
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "home"))
    # Kernels import jupyter_mlops from this checkout, installed or not.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def pclient(project):
    """A Client on the project's store, also the fluent API's default."""
    from jupyter_mlops import fluent
    from jupyter_mlops.client import Client
    from jupyter_mlops.store import forget_open_stores

    forget_open_stores()
    c = Client()
    fluent.set_client(c)
    try:
        yield c
    finally:
        c.writer.close()
        fluent.set_client(None)
        forget_open_stores()


def write_notebook(path: Path, *cells: str, params: str | None = None,
                   markdown: str | None = None) -> Path:
    """A python3 notebook: an optional ``parameters`` cell, then code cells."""
    nb = nbformat.v4.new_notebook()
    if markdown:
        nb.cells.append(nbformat.v4.new_markdown_cell(markdown))
    if params is not None:
        nb.cells.append(nbformat.v4.new_code_cell(params, metadata={"tags": ["parameters"]}))
    nb.cells += [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def write_yaml(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
