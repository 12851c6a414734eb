"""Fixtures that execute notebooks in a real kernel against a throwaway store."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.kernels import ipc_kernel

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def kernel_store(tmp_path, monkeypatch):
    """A project folder with its own .mlops store; kernels started now inherit it."""
    project = tmp_path / "project"
    (project / ".mlops").mkdir(parents=True)
    url = f"sqlite:///{project / '.mlops' / 'mlops.db'}"
    monkeypatch.setenv("MLOPS_TRACKING_URI", url)
    monkeypatch.setenv("MLOPS_ARTIFACT_ROOT", str(project / ".mlops" / "artifacts"))
    # The kernel imports the package from this checkout even before `pip install -e .`.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    monkeypatch.chdir(project)
    return project


@pytest.fixture
def read_client(kernel_store):
    """A Client in the test process reading what the kernel wrote."""
    from jupyter_mlops.client import Client
    from jupyter_mlops.store import forget_open_stores

    forget_open_stores()
    client = Client()
    yield client
    forget_open_stores()


def make_notebook(*sources: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def execute(nb, cwd: Path, allow_errors: bool = True, timeout: int = 120):
    """Run every cell in a fresh python3 kernel; return the executed notebook."""
    with ipc_kernel("python3") as km:  # tests/kernels.py: no TCP port for a neighbour to take
        client = NotebookClient(nb, km=km, timeout=timeout, kernel_name="python3",
                                allow_errors=allow_errors,
                                resources={"metadata": {"path": str(cwd)}})
        try:
            client.execute()
        finally:
            if client.kc is not None:
                client.kc.stop_channels()
    return nb


@pytest.fixture
def run_magics(kernel_store):
    """``run(*cells)``: ``%load_ext jupyter_mlops`` then ``cells`` in a fresh kernel on the
    store; returns the executed notebook (its cell 0 is the ``%load_ext``)."""

    def run(*cells: str, allow_errors: bool = True) -> nbformat.NotebookNode:
        return execute(make_notebook("%load_ext jupyter_mlops", *cells), kernel_store,
                       allow_errors=allow_errors)

    return run


def text_of(cell) -> str:
    """Everything a user would see under a cell: streams, results and error lines."""
    parts = []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream":
            parts.append(out["text"])
        elif out["output_type"] in ("execute_result", "display_data"):
            parts.append(out["data"].get("text/plain", ""))
        elif out["output_type"] == "error":
            parts.append(f"{out['ename']}: {out['evalue']}\n" + "\n".join(out["traceback"]))
    return "".join(parts)


PYTHON = sys.executable
