"""A fully cached pipeline run imports no kernel machinery and no SQLAlchemy (issue 14).

The cache of every step is checked, and its results restored, before anything that runs a
notebook is imported: the executors, the kernel pool, papermill, nbclient, jupyter_client,
nbformat, jsonschema, zmq — and IPython, which a CLI process is never inside. On a SQLite
file store the run is recorded through the stdlib (store/pipelines_lite.py and friends), so
SQLAlchemy, the ORM and Alembic are not imported either. The slow test
runs a real 3-step pipeline through the real CLI: once uncached (papermill runs the notebooks;
in the test's process), then in fresh processes where every step is a cache hit, whose imports
are read from ``python -X importtime``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from jupyter_mlops.pipelines.runner import _LazyLocal, _make_executor

from .conftest import write_notebook, write_yaml

#: Imported only when a step really runs (or by a notebook front end).
NOT_IMPORTED = ("papermill", "nbclient", "jupyter_client", "nbformat", "jsonschema", "zmq",
                    "IPython", "jupyter_mlops.pipelines.kernels",
                    "jupyter_mlops.pipelines.executors",
                    # recorded on sqlite3: nothing of SQLAlchemy's path either
                    "sqlalchemy", "alembic", "jupyter_mlops.store.orm",
                    "jupyter_mlops.store.engine")

SPEC = """name: fast
parameters: {n: 3}
steps:
  make:
    notebook: make.ipynb
    parameters: {n: "${n}"}
    outputs: {data: out/data.txt}
  square:
    notebook: square.ipynb
    depends_on: [make]
    inputs: [out/data.txt]
    outputs: {sq: out/sq.txt}
  double:
    notebook: double.ipynb
    depends_on: [make]
    inputs: [out/data.txt]
    outputs: {db: out/db.txt}
"""


def _cli(args: list[str], cwd, importtime: bool = False) -> subprocess.CompletedProcess:
    cmd = [sys.executable] + (["-X", "importtime"] if importtime else []) + [
        "-m", "jupyter_mlops.cli", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=os.environ.copy(),
                          timeout=600)


def _imported(importtime_stderr: str) -> set[str]:
    names = set()
    for line in importtime_stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    return names


@pytest.mark.slow
def test_fully_cached_cli_run_imports_no_kernel_machinery(project, capsys):
    write_notebook(project / "make.ipynb",
                   "import pathlib\npathlib.Path('out').mkdir(exist_ok=True)\n"
                   "pathlib.Path('out/data.txt').write_text(' '.join(map(str, range(n))))",
                   params="n = 1")
    for name, expr, out in (("square", "v * v", "sq"), ("double", "2 * v", "db")):
        write_notebook(project / f"{name}.ipynb",
                       "import pathlib\nvals = [int(v) for v in "
                       "pathlib.Path('out/data.txt').read_text().split()]\n"
                       f"pathlib.Path('out/{out}.txt').write_text("
                       f"' '.join(str({expr}) for v in vals))")
    write_yaml(project / "pipeline.yaml", SPEC)
    run = ["pipeline", "run", "pipeline.yaml", "--format", "json", "--no-progress"]

    # The uncached run only fills the cache: the CLI's own entry point, in this process (a
    # fresh interpreter here would only import papermill once more). The runs whose imports
    # are read below are fresh processes.
    from jupyter_mlops.cli import main
    from jupyter_mlops.store import forget_open_stores

    capsys.readouterr()
    assert main(run) == 0, capsys.readouterr()
    assert {s["status"] for s in json.loads(capsys.readouterr().out)["steps"]} == {"SUCCEEDED"}
    forget_open_stores()

    (project / "out" / "sq.txt").unlink()  # a cached output is restored from the store
    cached = _cli(run, project, importtime=True)
    assert cached.returncode == 0, cached.stdout + cached.stderr
    record = json.loads(cached.stdout)
    assert record["status"] == "SUCCEEDED"
    assert {s["step"]: s["status"] for s in record["steps"]} == {
        "make": "CACHED", "square": "CACHED", "double": "CACHED"}
    assert (project / "out" / "sq.txt").read_text() == "0 1 4"
    imported = _imported(cached.stderr)
    assert "jupyter_mlops.pipelines.runner" in imported  # the listing is real
    assert not imported & set(NOT_IMPORTED), sorted(imported & set(NOT_IMPORTED))

    # A miss on one step takes the normal path: the executor is built and the step runs.
    forced = _cli([*run, "--force-step", "double"], project, importtime=True)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert {s["step"]: s["status"] for s in json.loads(forced.stdout)["steps"]} == {
        "make": "CACHED", "square": "CACHED", "double": "SUCCEEDED"}
    assert {"papermill", "jupyter_mlops.pipelines.executors"} <= _imported(forced.stderr)


def test_lazy_local_executor_is_built_only_to_run_a_step():
    from jupyter_mlops.pipelines.executors import LocalExecutor

    lazy = _make_executor("local", 3, False)
    assert isinstance(lazy, _LazyLocal)
    real = LocalExecutor(3, False)
    try:
        assert (lazy.name, lazy.workers) == (real.name, real.workers) == ("local:3", 3)
    finally:
        real.shutdown()
    assert isinstance(_make_executor(None, None, None), _LazyLocal)
    lazy.prestart([])
    lazy.abort()
    lazy.shutdown()
    assert lazy._real is None  # nothing ran: no thread pool, no kernel pool

    done = []
    lazy = _make_executor("local", 1, False)
    lazy.submit(lambda x: x * 2, 21, lambda result, exc: done.append((result, exc)))
    lazy.shutdown()
    assert isinstance(lazy._real, LocalExecutor)
    assert done == [(42, None)]
    # The uncommon executors are built as before (a typo still fails at once).
    with pytest.raises(Exception, match="Unknown executor"):
        _make_executor("lokal", None, None)
