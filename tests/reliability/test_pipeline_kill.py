"""SIGKILL a running pipeline step's kernel, or the pipeline runner itself, at random points.

The pipeline (run by ``jupyter mlops pipeline run`` in its own process, 2 workers)::

    prep ──> train ──> report          side (independent)

``train`` logs 100 ``flushed`` points and flushes, then logs a ``burst`` of points (flushing
every 50) until the test creates a ``release`` file. The test SIGKILLs, at a random moment
of that burst (or, for the runner, at a random moment from the start):

* **the step's kernel** — the runner carries on: ``train`` is FAILED ("the kernel died"),
  its run FAILED, its executed notebook stored with the interrupted cell marked; ``report``
  is SKIPPED; ``prep`` and ``side`` SUCCEEDED with their outputs; the pipeline run FAILED.
* **the runner** — its kernels exit with it (no process of the run is left), the store opens
  cleanly, and ``jupyter mlops gc`` marks the pipeline run and its tracked runs KILLED, the
  step that was running FAILED and the waiting ones SKIPPED, keeping finished steps as they
  were.

In both cases every ``flushed`` point is there, the ``burst`` points stored are a prefix
with no holes, every blob verifies, and re-running the pipeline takes the completed steps
from the cache and runs the rest to success.

Cost (CI has a 30-minute budget): the killed runner is a process of its own (it has to be, to
be SIGKILLed), but the re-run goes through the same CLI entry point in the test's process,
which has papermill and the library imported already. One kill moment per phase: the kernel
0.96 s into the burst, the runner 0.18 s into it (two burst moments, as before, one for each
target) and anywhere from start-up (2.19 s). The cases dropped repeated one of these: a second
seed in the same phase, and ``any-4``, whose moment (2.18 s) was ``any-3``'s.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.pipelines.conftest import init_project, write_notebook, write_yaml
from tests.reliability.faults import record

# Each test SIGKILLs a pipeline run and its kernels: 15–95 s measured (load 5–11).
pytestmark = [pytest.mark.kernel, pytest.mark.slow]

RUN_ARGS = ["pipeline", "run", "pipeline.yaml", "--workers", "2", "--no-progress",
            "--format", "json"]
RUN = [sys.executable, "-c",
       "import sys; from jupyter_mlops.cli import main; sys.exit(main(sys.argv[1:]))",
       *RUN_ARGS]

TRAIN_START = """\
import os, pathlib, time, jupyter_mlops as mlops
for i in range(100):
    mlops.log_metric('flushed', i, step=i)
mlops.flush()
pathlib.Path('pids').mkdir(exist_ok=True)
pathlib.Path('pids/train').write_text(str(os.getpid()))  # the kernel's pid: ready to kill"""
TRAIN_BURST = """\
i, deadline = 0, time.time() + 120
while not pathlib.Path('release').exists() and time.time() < deadline:
    mlops.log_metric('burst', i, step=i)
    i += 1
    if i % 50 == 0:
        mlops.flush()
    time.sleep(0.001)
assert pathlib.Path('release').exists(), 'never released'
pathlib.Path('out').mkdir(exist_ok=True)
pathlib.Path('out/model.txt').write_text(pathlib.Path('data/prep.txt').read_text() + ' trained')
mlops.log_metric('done', 1)"""


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    root = init_project(tmp_path, monkeypatch)
    (root / "raw.txt").write_text("a b c")
    write_notebook(root / "prep.ipynb",
                   "import pathlib, jupyter_mlops as mlops\n"
                   "pathlib.Path('data').mkdir(exist_ok=True)\n"
                   "pathlib.Path('data/prep.txt').write_text(pathlib.Path('raw.txt').read_text())\n"
                   "mlops.log_metric('rows', 3)")
    write_notebook(root / "side.ipynb",
                   "import pathlib\npathlib.Path('out').mkdir(exist_ok=True)\n"
                   "pathlib.Path('out/side.txt').write_text('side')")
    write_notebook(root / "train.ipynb", TRAIN_START, TRAIN_BURST)
    write_notebook(root / "report.ipynb",
                   "import pathlib\n"
                   "pathlib.Path('out/report.txt').write_text("
                   "pathlib.Path('out/model.txt').read_text() + ' reported')")
    write_yaml(root / "pipeline.yaml", """
name: killable
steps:
  prep: {notebook: prep.ipynb, inputs: [raw.txt], outputs: {rows: data/prep.txt}}
  side: {notebook: side.ipynb, outputs: {side: out/side.txt}}
  train:
    notebook: train.ipynb
    depends_on: [prep]
    inputs: [data/prep.txt]
    outputs: {model: out/model.txt}
  report:
    notebook: report.ipynb
    depends_on: [train]
    inputs: [out/model.txt]
    outputs: {report: out/report.txt}
""")
    return root


def start_runner(project: Path, tag: str) -> subprocess.Popen:
    log = open(project / f"runner-{tag[:8]}.log", "wb")  # noqa: SIM115 - closed by the caller
    env = dict(os.environ, MLOPS_KILL_TEST_TAG=tag, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(RUN, cwd=project, env=env, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT)
    proc.log = log  # type: ignore[attr-defined]
    return proc


def processes_tagged(tag: str) -> list[int]:
    """Live processes (runner, kernels) started with ``MLOPS_KILL_TEST_TAG=tag``."""
    needle = f"MLOPS_KILL_TEST_TAG={tag}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def wait_gone(tag: str, timeout: float = 30.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = processes_tagged(tag)
        if not left:
            return []
        time.sleep(0.2)
    return processes_tagged(tag)


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, (project_log(proc), "runner ended early")
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def project_log(proc) -> str:
    proc.log.flush()
    return Path(proc.log.name).read_text(errors="replace")[-3000:]


def latest_run(client):
    from jupyter_mlops.store.pipelines import PipelineStore

    store = PipelineStore(client.store.url)
    return store.get_pipeline_run(store.list_pipeline_runs("killable")[0].id)


def check_store(client) -> dict:
    """Flushed points all there, burst a prefix, blobs whole; returns counts for the log."""
    from jupyter_mlops.errors import NotFoundError

    pr = latest_run(client)
    train = pr.step("train")
    flushed = burst = []
    if train.run_id:
        try:
            flushed = client.metric_history(train.run_id, "flushed")
        except NotFoundError:
            flushed = []
        try:
            burst = client.metric_history(train.run_id, "burst")
        except NotFoundError:
            burst = []
    blobs = client.store.blobs
    stored = list(blobs.iter_digests())
    corrupt = [d for d in stored if not blobs.verify(d)]
    return {"flushed": [p.step for p in flushed], "burst": [p.step for p in burst],
            "blobs": len(stored), "corrupt": corrupt}


def rerun_and_check(project: Path, before) -> dict:
    """Release the step, run the pipeline again: finished steps cached, the rest succeed.

    Through the CLI's ``main`` in this process (the killed runner's ``RUN``, minus a fresh
    interpreter importing papermill again); its kernels carry the tag, so none may be left.
    """
    from jupyter_mlops.cli import main
    from jupyter_mlops.client import Client
    from jupyter_mlops.store import forget_open_stores

    (project / "release").touch()
    tag = uuid.uuid4().hex
    out = io.StringIO()
    forget_open_stores()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out):
        patch.setenv("MLOPS_KILL_TEST_TAG", tag)
        patch.chdir(project)
        rc = main(RUN_ARGS)
    assert rc == 0, out.getvalue()[-3000:]
    assert wait_gone(tag) == []

    forget_open_stores()
    client = Client()
    try:
        again = latest_run(client)
        assert again.status == "SUCCEEDED"
        done_before = {s.step for s in (before.steps if before else ())
                       if s.status in ("SUCCEEDED", "CACHED")}
        statuses = {s.step: s.status for s in again.steps}
        for step, status in statuses.items():
            assert status == ("CACHED" if step in done_before else "SUCCEEDED"), statuses
        assert (project / "out/report.txt").read_text() == "a b c trained reported"
        return statuses
    finally:
        client.writer.close()


@pytest.mark.parametrize("seed", [2])
def test_sigkill_the_step_kernel(project, seed):
    from jupyter_mlops.client import Client
    from jupyter_mlops.store import forget_open_stores

    tag = uuid.uuid4().hex
    proc = start_runner(project, tag)
    try:
        wait_for(project / "pids" / "train", proc)
        time.sleep(random.Random(seed).uniform(0.05, 1.0))  # somewhere in the burst
        kernel = int((project / "pids" / "train").read_text())
        os.kill(kernel, signal.SIGKILL)
        rc = proc.wait(120)  # the runner notices, records, finishes the other branches
    finally:
        proc.log.close()
    assert rc == 1, project_log(proc)  # 1: the pipeline failed (not a crash of the runner)
    assert wait_gone(tag) == []

    forget_open_stores()
    client = Client()
    try:
        pr = latest_run(client)
        steps = {s.step: s for s in pr.steps}
        assert pr.status == "FAILED"
        assert steps["train"].status == "FAILED" and "kernel died" in steps["train"].error
        assert steps["report"].status == "SKIPPED"
        for name in ("prep", "side"):
            assert steps[name].status == "SUCCEEDED" and steps[name].outputs
        assert client.get_run(steps["train"].run_id).run.status == "FAILED"
        assert client.get_run(pr.run_id).run.status == "FAILED"
        nb = json.loads(client.read_artifact(steps["train"].run_id, "train.executed.ipynb")[1])
        marks = [o for c in nb["cells"] for o in c.get("outputs", [])
                 if o.get("ename") == "StepInterrupted"]
        assert len(marks) == 1
        seen = check_store(client)
        report = client.gc().blobs
        assert report.corrupt == ()
    finally:
        client.writer.close()
    lost = (100 - len(seen["flushed"])) + len(seen["corrupt"])
    record("sigkill-kernel", faults=1, lost=lost, checked=len(seen["flushed"]) +
           len(seen["burst"]) + seen["blobs"], burst_kept=len(seen["burst"]))
    assert seen["flushed"] == list(range(100))
    assert seen["burst"] == list(range(len(seen["burst"])))  # a prefix, no holes
    assert seen["corrupt"] == []
    statuses = rerun_and_check(project, pr)
    assert statuses == {"prep": "CACHED", "side": "CACHED", "train": "SUCCEEDED",
                        "report": "SUCCEEDED"}


@pytest.mark.parametrize("when,seed", [("burst", 1), ("any", 3)])
def test_sigkill_the_runner(project, capsys, when, seed):
    from jupyter_mlops.cli import main
    from jupyter_mlops.client import Client
    from jupyter_mlops.store import forget_open_stores

    rng = random.Random(seed)
    tag = uuid.uuid4().hex
    proc = start_runner(project, tag)
    try:
        if when == "burst":
            wait_for(project / "pids" / "train", proc)
            time.sleep(rng.uniform(0.05, 1.0))
        else:  # anywhere from start-up to the burst: imports, prep, side, train's start
            time.sleep(rng.uniform(1.0, 6.0))
        assert proc.poll() is None, project_log(proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        proc.log.close()
    # Its kernels notice their parent is gone and exit: nothing of the run is left behind.
    assert wait_gone(tag) == [], "a kernel outlived its killed runner"

    forget_open_stores()
    client = Client()  # opens cleanly (and marks runs whose writer is gone KILLED)
    try:
        from jupyter_mlops.store.pipelines import PipelineStore

        recorded = bool(PipelineStore(client.store.url).list_pipeline_runs("killable"))
        capsys.readouterr()
        assert main(["gc"]) == 0
        out = capsys.readouterr().out
        assert f"pipeline runs marked KILLED: {int(recorded)}" in out, out
        assert not client.search_runs("status = 'RUNNING'", max_results=10)
        if not recorded:  # killed while starting up: nothing to keep, nothing half-done
            record("sigkill-runner", faults=1, when=when, states={})
            client.writer.close()
            rerun_and_check(project, None)
            return
        pr = latest_run(client)
        assert pr.status == "KILLED"
        assert client.get_run(pr.run_id).run.status == "KILLED"
        final = ("SUCCEEDED", "FAILED", "SKIPPED", "CACHED")
        steps = {s.step: s for s in pr.steps}
        assert all(s.status in final for s in steps.values()), {
            n: s.status for n, s in steps.items()}
        for s in steps.values():
            if s.status == "SUCCEEDED":
                assert s.outputs and client.get_run(s.run_id).run.status == "FINISHED"
            elif s.status == "FAILED":  # was running when the runner died
                assert "stopped while this step ran" in s.error
                assert client.get_run(s.run_id).run.status == "KILLED"
        if when == "burst":
            assert steps["train"].status == "FAILED" and steps["report"].status == "SKIPPED"
        seen = check_store(client)
        assert not client.search_runs("status = 'RUNNING'", max_results=10)
    finally:
        client.writer.close()
    reached = (project / "pids" / "train").exists()
    lost = (100 - len(seen["flushed"]) if reached else 0) + len(seen["corrupt"])
    record("sigkill-runner", faults=1, lost=lost, checked=len(seen["flushed"]) +
           len(seen["burst"]) + seen["blobs"], when=when,
           states={n: s.status for n, s in steps.items()})
    if reached:
        assert seen["flushed"] == list(range(100))
    assert seen["burst"] == list(range(len(seen["burst"])))
    assert seen["corrupt"] == []
    rerun_and_check(project, pr)
