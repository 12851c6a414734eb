"""The run a notebook records ends with papermill's verdict, for every way a notebook can end.

Each notebook runs under plain papermill in a real kernel, its first cell starting a run
either with ``%load_ext jupyter_mlops`` + ``%mlops start`` or with only
``import jupyter_mlops`` + ``mlops.start_run()`` (the cell hooks are then registered by the
fluent API). papermill's outcome and the run's status must agree: FINISHED exactly when
papermill succeeds; FAILED when a cell failed; KILLED when the kernel died (nobody was left
to record anything: opening the store reaps the run).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import nbformat
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.reliability.faults import record

from .conftest import REPO

START = {
    "load_ext": "%load_ext jupyter_mlops\n%mlops start --name {name}\n"
                "import jupyter_mlops as mlops\nmlops.log_metric('first', 1.0)",
    "import": "import jupyter_mlops as mlops\nmlops.start_run(name={name!r})\n"
              "mlops.log_metric('first', 1.0)",
}

#: case: (the cells after the first, papermill succeeds?, the run's status)
CASES = {
    "ok": (["x = 1"], True, "FINISHED"),
    "exception": (["raise ValueError('boom')", "print('never')"], False, "FAILED"),
    "syntax_error": (["print 'python 2'", "print('never')"], False, "FAILED"),
    "indentation_error": (["  x = 1\n y = 2"], False, "FAILED"),
    "sys_exit_0": (["import sys; sys.exit(0)", "raise RuntimeError('never')"], True,
                   "FINISHED"),
    "raise_system_exit": (["raise SystemExit", "raise RuntimeError('never')"], True,
                          "FINISHED"),
    "sys_exit_1": (["import sys; sys.exit(1)", "print('never')"], False, "FAILED"),
    "system_exit_message": (["raise SystemExit('bad input')"], False, "FAILED"),
    "keyboard_interrupt": (["raise KeyboardInterrupt"], False, "FAILED"),
    "line_magic_error": (["%undefined-line-magic"], False, "FAILED"),
    "os_exit": (["import os; os._exit(0)"], False, "KILLED"),
    "segfault": (["import ctypes; ctypes.string_at(0)"], False, "KILLED"),
}
#: With %load_ext, the cases where how the hooks got registered could matter.
LOAD_EXT_CASES = ("ok", "exception", "syntax_error", "sys_exit_0", "sys_exit_1", "os_exit")


def _papermill(nb, cwd, parameters=None) -> bool:
    """Run ``nb`` as `papermill` does; True if papermill reports success."""
    from papermill.exceptions import PapermillExecutionError

    from tests.kernels import execute_notebook

    path = cwd / "input.ipynb"
    nbformat.write(nb, str(path))
    try:  # papermill, in a kernel on the ipc transport (tests/kernels.py)
        execute_notebook(str(path), str(cwd / "output.ipynb"), parameters=parameters,
                         kernel_name="python3", progress_bar=False, cwd=str(cwd))
    except PapermillExecutionError:
        return False
    except RuntimeError as exc:  # nbclient's DeadKernelError
        assert type(exc).__name__ == "DeadKernelError", exc
        return False
    return True


def _notebook(*sources, params: str | None = None):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(sources[0])]
    if params is not None:
        nb.cells.append(nbformat.v4.new_code_cell(params, metadata={"tags": ["parameters"]}))
    nb.cells += [nbformat.v4.new_code_cell(s) for s in sources[1:]]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


def _the_run(name: str):
    """The run as a new process sees it (opening the store reaps runs of dead kernels)."""
    from jupyter_mlops.client import Client
    from jupyter_mlops.store import forget_open_stores

    forget_open_stores()
    client = Client()
    try:
        [run] = client.search_runs(f"name = '{name}'")
        return run
    finally:
        client.close()
        forget_open_stores()


@pytest.mark.kernel
@pytest.mark.slow
@pytest.mark.parametrize(("start", "case"), [("import", c) for c in CASES]
                         + [("load_ext", c) for c in LOAD_EXT_CASES])
def test_the_run_ends_as_papermill_says(kernel_store, start, case):
    cells, succeeds, status = CASES[case]
    name = f"{start}-{case}"
    ok = _papermill(_notebook(START[start].format(name=name), *cells), kernel_store)
    assert ok is succeeds
    run = _the_run(name)
    record("notebook-failure", faults=1, lost=int(run.metrics.get("first") != 1.0), checked=1)
    assert run.status == status
    assert run.metrics["first"] == 1.0  # durable at the end of the first cell


@pytest.mark.kernel
@pytest.mark.slow
def test_raise_in_the_parameters_cell_fails_the_run(kernel_store):
    nb = _notebook(START["import"].format(name="params"), "print('never')",
                   params="n = 1\nraise ValueError('the parameters cell fails')")
    assert _papermill(nb, kernel_store, parameters={"n": 5}) is False
    assert _the_run("params").status == "FAILED"


def test_import_alone_stays_light_and_a_script_keeps_what_it_logged(kernel_store):
    """No IPython, no hooks in a plain script; its values are written at interpreter exit."""
    code = textwrap.dedent("""
        import sys
        import jupyter_mlops as mlops
        assert "IPython" not in sys.modules and "jupyter_mlops.notebook.hooks" not in sys.modules
        mlops.start_run(name="script")
        for i in range(100):
            mlops.log_metric("loss", 1.0 / (i + 1))
        assert "IPython" not in sys.modules and "jupyter_mlops.notebook.hooks" not in sys.modules
        # No flush, no end_run: exit writes what is queued.
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    subprocess.run([sys.executable, "-c", code], check=True, cwd=kernel_store, env=env,
                   timeout=120)
    run = _the_run("script")
    assert run.metrics["loss"] == pytest.approx(0.01)


@pytest.mark.kernel
@pytest.mark.slow
def test_a_bare_import_in_a_kernel_is_durable_at_cell_end(kernel_store):
    """Without %load_ext, values logged in a finished cell survive a SIGKILL of the kernel."""
    import signal

    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", cwd=str(kernel_store))
    try:
        # The writer's background thread would also write within its interval (1 s): stretch
        # it, so only a cell-end flush can have made the values durable before the kill.
        reply = kc.execute_interactive(
            "import jupyter_mlops as mlops\nmlops.get_client().writer._interval = 3600\n"
            "mlops.log_param('lr', 0.1)\n"
            "for i in range(1000):\n    mlops.log_metric('loss', 1.0 / (i + 1))",
            timeout=120)
        assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        proc = km.provisioner.process
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kc.stop_channels()
        km.cleanup_resources()
    from jupyter_mlops.client import Client
    from jupyter_mlops.store import forget_open_stores

    forget_open_stores()
    client = Client()
    try:
        [run] = client.search_runs()
        assert run.status == "KILLED" and run.params == {"lr": "0.1"}
        assert len(client.metric_history(run.id, "loss")) == 1000
    finally:
        client.close()
        forget_open_stores()


@settings(max_examples=150, deadline=None)
@given(cls=st.sampled_from([SystemExit, KeyboardInterrupt, ValueError]),
       value=st.one_of(st.none(), st.integers(-3, 3), st.booleans(), st.text(max_size=8),
                       st.sampled_from(["", "0", "1", "None"])))
def test_the_exit_rule_is_papermills_own(cls, value):
    """Whatever a cell raises, the hooks' verdict is the one papermill's own code gives its
    error output (ipykernel reports ``ename`` = class name, ``evalue`` = ``str(exc)``)."""
    import tempfile

    from papermill.exceptions import PapermillExecutionError
    from papermill.execute import raise_for_execution_errors

    from jupyter_mlops.tracking.outcome import fails_notebook

    exc = cls() if value is None else cls(value)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("raise it", execution_count=1, outputs=[
        nbformat.v4.new_output("error", ename=type(exc).__name__, evalue=str(exc),
                               traceback=[])])]
    with tempfile.TemporaryDirectory() as tmp:
        try:
            raise_for_execution_errors(nb, os.path.join(tmp, "out.ipynb"))
            papermill_fails = False
        except PapermillExecutionError:
            papermill_fails = True
    assert fails_notebook(exc) is papermill_fails
    assert fails_notebook(None) is False
