"""Provenance of notebook runs (issue 15): the stored notebook is the whole kernel history, and
every run records where its code came from (notebook path, git commit, dirty diff) — also
under papermill, whose kernel learns its input notebook only from the injected parameters."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from .conftest import execute, make_notebook, text_of

pytestmark = pytest.mark.kernel


def _git_repo(folder: Path) -> str:
    """Make ``folder`` a repository with one commit and one uncommitted change."""
    def git(*args):
        return subprocess.run(["git", "-C", str(folder), *args], check=True,
                              capture_output=True, text=True).stdout.strip()
    git("init", "-q")
    (folder / "train.py").write_text("lr = 0.1\n")
    git("add", "train.py")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "one")
    (folder / "train.py").write_text("lr = 0.2\n")  # dirty
    return git("rev-parse", "HEAD")


def _fresh_client():
    """A client opened after the kernel exited (no cached view of the store)."""
    from jupyter_mlops.client import Client
    from jupyter_mlops.store import forget_open_stores

    forget_open_stores()
    return Client()


@pytest.mark.slow  # 4-8 s: CI runs it, make test-fast does not
def test_cells_before_load_ext_are_stored_and_reproduce(kernel_store, read_client):
    commit = _git_repo(kernel_store)
    nb = make_notebook(
        "base = 41",  # before the extension is loaded: only IPython's history has it
        "%load_ext jupyter_mlops",
        "%mlops start --name before-load",
        "import jupyter_mlops as mlops\nmlops.log_metric('answer', base + 1)",
        "%mlops end",
    )
    execute(nb, kernel_store, allow_errors=False)
    [run] = read_client.search_runs("name = 'before-load'")
    detail = read_client.get_run(run.id)
    assert detail.metrics == {"answer": 42.0}
    snapshot = read_client.notebook_snapshot(run.id)
    sources = [c["source"] for c in snapshot["cells"]]
    assert sources[0] == "base = 41", sources
    assert not any(s.startswith("%mlops end") for s in sources)
    # No notebook file is known to a bare kernel: the git state is that of its folder.
    assert detail.code.git_commit == commit and detail.code.git_dirty is True
    diff = read_client.store.blobs.get_bytes(detail.code.git_diff_digest).decode()
    assert "+lr = 0.2" in diff

    from jupyter_mlops.pipelines.reproduce import reproduce

    report = reproduce(run.id, client=read_client, timeout=300)
    assert report.status == "reproduced", report.summary()
    assert read_client.get_run(report.new_run_id).metrics == {"answer": 42.0}


KERNEL_LOST_AT_START = "Kernel died before replying to kernel_info"


def _papermill(folder: Path, notebook: str, run_name: str, alpha: str, *options: str):
    """Run a parameterised notebook (its run named ``run_name``) under papermill with
    ``-p alpha ALPHA``; return a fresh client and the run it recorded."""
    src = make_notebook(f"import jupyter_mlops as mlops\nmlops.start_run(name={run_name!r})\n"
                        "mlops.log_metric('alpha', alpha)", "mlops.end_run()")
    src.cells[0:0] = [nbformat.v4.new_code_cell("alpha = 1.0")]
    src.cells[0].metadata["tags"] = ["parameters"]
    nbformat.write(src, folder / notebook)
    command = [str(Path(sys.executable).parent / "papermill"), notebook, "out.ipynb",
               "-p", "alpha", alpha, *options, "--kernel", "python3"]
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=600)
    if done.returncode and KERNEL_LOST_AT_START in done.stderr:
        # jupyter_client picks the kernel's TCP ports before the kernel binds them; with
        # kernels starting in parallel test workers another one can take a port in between
        # and the kernel exits at once (CI, stop 21). Nothing of the notebook ran: run again.
        done = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[:1500] + "\n[...]\n" + done.stderr[-2000:]
    read_client = _fresh_client()
    [run] = read_client.search_runs(f"name = '{run_name}'")
    return read_client, run


@pytest.mark.slow
def test_papermill_run_records_input_path_and_commit(kernel_store, read_client):
    commit = _git_repo(kernel_store)
    read_client, run = _papermill(kernel_store, "train.ipynb", "pm", "0.5",
                                  "--inject-input-path")
    detail = read_client.get_run(run.id)
    assert detail.metrics == {"alpha": 0.5}
    # The injected path is provenance, not a parameter of the user's.
    assert detail.params == {"alpha": "0.5"}
    assert detail.code.notebook_path == str((kernel_store / "train.ipynb").resolve())
    assert detail.code.git_commit == commit and detail.code.git_dirty is True
    stored = read_client.notebook_snapshot(run.id)
    assert stored == json.loads((kernel_store / "train.ipynb").read_text())


@pytest.mark.slow
def test_papermill_without_path_still_records_commit_and_history(kernel_store, read_client):
    commit = _git_repo(kernel_store)
    read_client, run = _papermill(kernel_store, "bare.ipynb", "pm-bare", "0.25")
    detail = read_client.get_run(run.id)
    assert detail.code.notebook_path is None
    assert detail.code.git_commit == commit
    sources = [c["source"] for c in read_client.notebook_snapshot(run.id)["cells"]]
    assert any("alpha = 0.25" in s for s in sources), sources  # the injected cell ran first
