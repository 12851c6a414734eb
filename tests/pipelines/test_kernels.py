"""Kernels started ahead of time (the local executor's warm pool): one kernel per attempt,
never shared; the attempt's own variables reach it; nothing is left running afterwards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from jupyter_mlops.pipelines.executors import LocalExecutor, make_executor
from jupyter_mlops.pipelines.kernels import KernelKey, KernelPool
from jupyter_mlops.pipelines.runner import run_pipeline
from jupyter_mlops.pipelines.step import Attempts, StepTask, execute_step
from jupyter_mlops.store.pipelines import PipelineStore

from .conftest import write_notebook, write_yaml

pytestmark = pytest.mark.kernel

#: What a step's kernel sees before the step's own code runs.
PROBE = textwrap.dedent("""\
    import json, os, pathlib
    seen = {"pid": os.getpid(), "leak": "leak" in globals(), "cwd": os.getcwd(),
            "run_id": os.environ.get("MLOPS_RUN_ID"),
            "notebook": os.environ.get("MLOPS_NOTEBOOK_PATH"),
            "parent": os.environ.get("MLOPS_PARENT_RUN_ID"),
            "alt": os.environ.get("ALT_KERNEL"), "history": len(In)}
    leak = tag
    pathlib.Path(f"seen-{tag}.json").write_text(json.dumps(seen))
    """)


def _kernels(tag: str) -> list[int]:
    """Live (not zombie) kernel processes whose environment carries ``tag``."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if b"ipykernel" not in (d / "cmdline").read_bytes():
                continue
            if (d / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
            if f"MLOPS_TEST_TAG={tag}".encode() in (d / "environ").read_bytes().split(b"\0"):
                found.append(int(d.name))
        except (OSError, IndexError):
            continue
    return found


@pytest.fixture(autouse=True)
def _pool_on_by_default(monkeypatch):
    monkeypatch.delenv("MLOPS_WARM_KERNELS", raising=False)


@pytest.fixture
def tag(monkeypatch) -> str:
    """Marks every kernel this test starts (they inherit the environment)."""
    value = uuid.uuid4().hex
    monkeypatch.setenv("MLOPS_TEST_TAG", value)
    return value


def _seen(project: Path, name: str) -> dict:
    return json.loads((project / f"seen-{name}.json").read_text())


@pytest.mark.slow  # runs a pipeline in kernels, 9.5 s measured (load 10)
def test_each_step_gets_a_fresh_kernel_with_its_own_variables(pclient, project, tag):
    write_notebook(project / "probe.ipynb", PROBE, params="tag = 'x'")
    spec = write_yaml(project / "pipeline.yaml", """
name: fresh
steps:
  a: {notebook: probe.ipynb, parameters: {tag: a}}
  b: {notebook: probe.ipynb, parameters: {tag: b}, depends_on: [a]}
  c: {notebook: probe.ipynb, parameters: {tag: c}, depends_on: [b]}
  d: {notebook: probe.ipynb, parameters: {tag: d}, depends_on: [c]}
""")
    ex = LocalExecutor(1)
    try:
        run = run_pipeline(spec, executor=ex, progress=False, client=pclient)
        assert ex.kernels is not None and ex.kernels.used >= 2  # b, c, d: started ahead
        assert _kernels(tag) == []  # no spare outlives the run, even with the executor open
    finally:
        ex.shutdown()
    assert run.status == "SUCCEEDED", run.error
    seen = {s: _seen(project, s) for s in "abcd"}
    assert len({v["pid"] for v in seen.values()}) == 4  # a kernel is never used twice
    for name, v in seen.items():
        assert v["leak"] is False  # the previous step's variable is not there
        assert v["run_id"] == run.step(name).run_id  # set in an already-running kernel
        assert v["parent"] == run.run_id
        assert v["notebook"] == str(project / "probe.ipynb")
        assert Path(v["cwd"]) == project
        # The variables were set without a trace in the history or the execution counts.
        assert v["history"] == seen["a"]["history"]
        nb = json.loads(pclient.read_artifact(run.step(name).run_id,
                                              f"{name}.executed.ipynb")[1])
        counts = [c["execution_count"] for c in nb["cells"] if c["cell_type"] == "code"]
        assert counts == list(range(1, len(counts) + 1))


@pytest.mark.slow  # runs a pipeline in kernels, 8.3 s measured (load 10)
def test_steps_with_different_kernels_and_environments(pclient, project, tag, monkeypatch,
                                                       tmp_path):
    share = tmp_path / "share" / "jupyter"
    spec_dir = share / "kernels" / "mlops-alt"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "alt", "language": "python", "env": {"ALT_KERNEL": "yes"}}))
    monkeypatch.setenv("JUPYTER_PATH", os.pathsep.join(
        filter(None, [str(share), os.environ.get("JUPYTER_PATH")])))
    write_notebook(project / "probe.ipynb", PROBE, params="tag = 'x'")
    spec = write_yaml(project / "pipeline.yaml", """
name: mixed
steps:
  a: {notebook: probe.ipynb, parameters: {tag: a}}
  b: {notebook: probe.ipynb, parameters: {tag: b}, depends_on: [a], kernel: mlops-alt}
  c: {notebook: probe.ipynb, parameters: {tag: c}, depends_on: [b]}
  d: {notebook: probe.ipynb, parameters: {tag: d}, depends_on: [c], kernel: mlops-alt}
  e: {notebook: probe.ipynb, parameters: {tag: e}, depends_on: [c], kernel: mlops-alt}
""")
    ex = LocalExecutor(2)
    try:
        run = run_pipeline(spec, executor=ex, progress=False, client=pclient)
        assert ex.kernels.used >= 3
    finally:
        ex.shutdown()
    assert run.status == "SUCCEEDED", run.error
    seen = {s: _seen(project, s) for s in "abcde"}
    assert {s: v["alt"] for s, v in seen.items()} == {
        "a": None, "b": "yes", "c": None, "d": "yes", "e": "yes"}
    assert len({v["pid"] for v in seen.values()}) == 5
    assert all(v["run_id"] == run.step(s).run_id for s, v in seen.items())
    assert _kernels(tag) == []


@pytest.mark.slow  # runs a pipeline in kernels, 6.9 s measured (load 10)
def test_no_kernel_left_after_failures(pclient, project, tag):
    write_notebook(project / "ok.ipynb", "import time; time.sleep(0.5)")
    write_notebook(project / "bad.ipynb", "x = 1", "y = x / 0")
    write_notebook(project / "dies.ipynb", "import os\nos._exit(3)")
    write_notebook(project / "after.ipynb", "print('never')")
    spec = write_yaml(project / "pipeline.yaml", """
name: failing
steps:
  ok: {notebook: ok.ipynb}
  bad: {notebook: bad.ipynb, depends_on: [ok]}
  after: {notebook: after.ipynb, depends_on: [bad]}
  later: {notebook: after.ipynb, depends_on: [after]}
  dies: {notebook: dies.ipynb, depends_on: [ok]}
  orphan: {notebook: after.ipynb, depends_on: [dies]}
""")
    ex = LocalExecutor(2)
    try:
        run = run_pipeline(spec, executor=ex, progress=False, client=pclient)
        assert ex.kernels.started >= 1  # spares were started for the dependants…
        assert _kernels(tag) == []  # …and killed once they were skipped
    finally:
        ex.shutdown()
    states = {s.step: s.status for s in run.steps}
    assert states == {"ok": "SUCCEEDED", "bad": "FAILED", "after": "SKIPPED",
                      "later": "SKIPPED", "dies": "FAILED", "orphan": "SKIPPED"}
    assert "ZeroDivisionError" in run.step("bad").error
    assert "kernel died" in run.step("dies").error


@pytest.mark.slow  # runs a pipeline in kernels, 7.3 s measured (load 10)
def test_timeout_kills_a_kernel_started_ahead_of_time(pclient, project, tag):
    write_notebook(project / "quick.ipynb", "import time; time.sleep(1)")
    write_notebook(project / "hang.ipynb",
                   "import os, pathlib; pathlib.Path('pid').write_text(str(os.getpid()))",
                   "import time; time.sleep(120)")
    spec = write_yaml(project / "pipeline.yaml", """
name: hang
steps:
  quick: {notebook: quick.ipynb}
  hang: {notebook: hang.ipynb, depends_on: [quick], timeout: 3}
""")
    ex = LocalExecutor(1)
    try:
        t = time.time()
        run = run_pipeline(spec, executor=ex, progress=False, client=pclient)
        assert time.time() - t < 30
        assert ex.kernels.used == 1
    finally:
        ex.shutdown()
    assert run.step("hang").status == "FAILED" and "timed out" in run.step("hang").error
    with pytest.raises(ProcessLookupError):
        os.kill(int((project / "pid").read_text()), 0)
    assert _kernels(tag) == []


@pytest.mark.slow  # runs a pipeline in kernels, 5.9 s measured (load 10)
def test_exit_hooks_finish_and_a_stuck_exit_is_cut_short(pclient, project, tag):
    """A kernel runs its exit hooks (the library flushes logged values there) however long
    they take; once it is past them (its heartbeat stops), a hang in ipykernel's socket
    teardown costs no more than about half a second."""
    write_notebook(project / "hooks.ipynb",
                   "import atexit, pathlib, time\n"
                   "def flush():\n    time.sleep(1.5)\n"
                   "    pathlib.Path('flushed').write_text('ok')\n"
                   "atexit.register(flush)")
    # ipykernel's race, made certain: after the shutdown request the control thread's
    # flush blocks, and the main thread, closing the sockets, waits for it.
    write_notebook(project / "stuck.ipynb",
                   "import sys, threading, time\n_flush = sys.stdout.flush\n"
                   "def flush(*args, **kwargs):\n"
                   "    if threading.current_thread().name == 'Control':\n"
                   "        time.sleep(60)\n"
                   "    return _flush(*args, **kwargs)\n"
                   "sys.stdout.flush = flush")
    spec = write_yaml(project / "pipeline.yaml", """
name: exits
steps:
  hooks: {notebook: hooks.ipynb}
  stuck: {notebook: stuck.ipynb, depends_on: [hooks]}
  stuck2: {notebook: stuck.ipynb, depends_on: [stuck]}
""")
    run = run_pipeline(spec, workers=1, progress=False, client=pclient)
    assert run.status == "SUCCEEDED", run.error
    assert (project / "flushed").read_text() == "ok"
    for name in ("stuck", "stuck2"):
        step = run.step(name)
        assert step.ended_at - step.started_at < 4.0  # not the 5 s wait, nor 60 s
    assert _kernels(tag) == []


@pytest.mark.slow  # runs a pipeline in kernels, 6.4 s measured (load 10)
def test_warm_kernels_can_be_turned_off(pclient, project, tag, monkeypatch):
    assert make_executor(None, 1, warm_kernels=False).kernels is None
    monkeypatch.setenv("MLOPS_WARM_KERNELS", "0")
    ex = make_executor("local", 1)
    assert ex.kernels is None
    assert make_executor("local", 1, warm_kernels=True).kernels is not None
    write_notebook(project / "probe.ipynb", PROBE, params="tag = 'x'")
    spec = write_yaml(project / "pipeline.yaml", """
name: cold
steps:
  a: {notebook: probe.ipynb, parameters: {tag: a}}
  b: {notebook: probe.ipynb, parameters: {tag: b}, depends_on: [a]}
""")
    try:
        run = run_pipeline(spec, executor=ex, progress=False, client=pclient)
    finally:
        ex.shutdown()
    assert run.status == "SUCCEEDED"
    assert _seen(project, "b")["run_id"] == run.step("b").run_id
    assert _seen(project, "a")["pid"] != _seen(project, "b")["pid"]
    assert _kernels(tag) == []


def test_pool_only_starts_python_kernels_and_closes(tmp_path, monkeypatch, tag):
    spec_dir = tmp_path / "share" / "jupyter" / "kernels" / "not-python"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "R", "language": "R"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "share" / "jupyter"))
    pool = KernelPool(2)
    try:
        pool.want([KernelKey.of("not-python", str(tmp_path), {}),
                   KernelKey.of("no-such-kernel", str(tmp_path), {})])
        assert pool.started == 0  # their steps start their own kernels (and report errors)
        key = KernelKey.of("python3", str(tmp_path), {"MLOPS_RUN_ID": "x", "A": "1"})
        assert key == KernelKey.of("python3", str(tmp_path), {"MLOPS_RUN_ID": "y", "A": "1"})
        pool.want([key, key, key])
        assert pool.started == 2  # one spare per worker at most
        taken = pool.take(key)
        assert taken is not None and pool.take(KernelKey.of("python3", "/elsewhere", {})) is None
        taken.discard()
        deadline = time.time() + 30
        while len(_kernels(tag)) < 1 and time.time() < deadline:
            time.sleep(0.1)
    finally:
        pool.close()
    assert _kernels(tag) == []
    pool.want([key])  # closed: starts nothing
    assert pool.started == 2


@pytest.mark.slow  # signals a running pipeline, 30–49 s measured (load 10)
@pytest.mark.parametrize("signum, code, to_step_thread", [
    (signal.SIGTERM, 143, False), (signal.SIGINT, 130, False),
    # The OS may hand a process's signal to any of its threads: here a step thread gets the
    # Ctrl-C (the main thread then heard of it only when a step ended, minutes later).
    (signal.SIGINT, 130, True)], ids=["sigterm", "ctrl-c", "ctrl-c-to-a-step-thread"])
def test_sigterm_or_ctrl_c_stops_every_kernel(pclient, project, tag, signum, code,
                                              to_step_thread):
    write_notebook(project / "long.ipynb", "import time; time.sleep(120)")
    write_notebook(project / "next.ipynb", "print('never')")
    spec = write_yaml(project / "pipeline.yaml", """
name: stopped
steps:
  one: {notebook: long.ipynb}
  two: {notebook: long.ipynb}
  three: {notebook: next.ipynb, depends_on: [one]}
""")
    # SIGUSR1 makes the process print every thread's stack: what it waits on, should it hang.
    script = ("import faulthandler, signal, sys, threading\n"
              "faulthandler.register(signal.SIGUSR1)\n"
              # On a line from the test, SIGINT to one step thread (not to the process).
              "def relay():\n"
              "    if sys.stdin.readline().strip() != 'go':\n        return\n"  # EOF: no
              "    step = next(t for t in threading.enumerate()\n"
              "                if t.name.startswith('mlops-step'))\n"
              "    signal.pthread_kill(step.ident, signal.SIGINT)\n"
              "threading.Thread(target=relay, daemon=True).start()\n"
              "from jupyter_mlops.client import Client\n"
              "from jupyter_mlops.pipelines.runner import run_pipeline\n"
              "try:\n    run_pipeline(sys.argv[1], workers=2, progress=False, client=Client())\n"
              "except KeyboardInterrupt:\n    sys.exit(130)\n")
    proc = subprocess.Popen([sys.executable, "-c", script, str(spec)], cwd=project,
                            env=dict(os.environ), stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 60
        while len(_kernels(tag)) < 3 and time.time() < deadline:  # two running, one spare
            time.sleep(0.1)
        assert len(_kernels(tag)) >= 3
        if to_step_thread:
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
        else:
            proc.send_signal(signum)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGUSR1)
            time.sleep(2)
            proc.kill()
            pytest.fail("the pipeline still ran 60 s after the signal; its threads:\n"
                        + proc.communicate()[1].decode()[-6000:])
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err.decode()[-2000:]
    assert _kernels(tag) == []
    store = PipelineStore(pclient.store.url)
    run = store.get_pipeline_run(store.list_pipeline_runs("stopped")[0].id)
    assert run.status == "KILLED"
    assert {s.step: s.status for s in run.steps} == {
        "one": "FAILED", "two": "FAILED", "three": "SKIPPED"}


def _task(folder: Path, notebook: Path) -> StepTask:
    return StepTask(pipeline="p", step="s", attempt=1, notebook=str(notebook), cwd=str(folder),
                    parameters={}, kernel="python3", timeout=None, env={},
                    artifact_root=str(folder / "artifacts"), outputs=())


@pytest.mark.parametrize("ahead", [True, False], ids=["kernel-started-ahead", "own-kernel"])
def test_an_abort_before_a_step_has_its_kernel_runs_no_notebook(tmp_path, tag, ahead):
    """Ctrl-C can land while a step's thread is still importing papermill, or waiting for the
    kernel started ahead of time for it: that step must not go on to run its notebook (it
    did, with a kernel from the pool, and Ctrl-C then waited for the whole cell)."""
    notebook = write_notebook(tmp_path / "long.ipynb",
                              "import pathlib, time\npathlib.Path('ran').touch()\ntime.sleep(30)")
    pool = KernelPool(1)
    try:
        kernel = None
        if ahead:
            key = KernelKey.of("python3", str(tmp_path), {})
            pool.want([key])
            kernel = pool.take(key)
            assert kernel is not None
        attempts = Attempts()
        attempts.stop_all()  # the executor was aborted before the step's thread got here
        outcome = execute_step(_task(tmp_path, notebook), kernel=kernel, attempts=attempts)
    finally:
        pool.close()
    assert outcome.status == "FAILED"
    assert "stopped before the kernel was ready" in outcome.error
    assert not (tmp_path / "ran").exists()
    assert _kernels(tag) == []


def test_aborting_one_executor_leaves_another_pipelines_steps_alone(tmp_path, tag):
    """Two pipelines in one process (a server, parallel sweep trials): interrupting one
    must not kill the kernels of the other."""
    import threading

    notebook = write_notebook(tmp_path / "ok.ipynb",
                              "import pathlib, time\npathlib.Path('started').touch()\n"
                              "time.sleep(1)\npathlib.Path('done').touch()")
    mine, other = Attempts(), Attempts()
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.update(
        result=execute_step(_task(tmp_path, notebook), attempts=mine)))
    thread.start()
    deadline = time.time() + 60
    while not (tmp_path / "started").exists() and time.time() < deadline:
        time.sleep(0.05)
    other.stop_all()
    thread.join(90)
    assert outcome["result"].status == "SUCCEEDED", outcome["result"].error
    assert (tmp_path / "done").exists()
    assert _kernels(tag) == []
