"""Running pipelines with real papermill kernels: order, parallelism, cache, failure, timeout."""

from __future__ import annotations

import json
import os
import time

import nbformat
import pytest

from jupyter_mlops.errors import StepExecutionError
from jupyter_mlops.pipelines.executors import LocalExecutor
from jupyter_mlops.pipelines.runner import run_pipeline
from jupyter_mlops.store.pipelines import PipelineStore

from .conftest import write_notebook, write_yaml

pytestmark = pytest.mark.kernel

SLEEPY = ("import time, pathlib, jupyter_mlops as mlops\n"
          "t0 = time.time(); time.sleep(1.0); t1 = time.time()\n"
          "rows = pathlib.Path('data/rows.txt').read_text().split()\n"
          "pathlib.Path(out).parent.mkdir(exist_ok=True)\n"
          "pathlib.Path(out).write_text(f'{t0} {t1} {len(rows) * k}')\n"
          "mlops.log_metric('score', len(rows) * k)")


@pytest.fixture
def dag(project):
    """prep -> (left, right in parallel) -> join, reading a raw input file."""
    (project / "raw.txt").write_text("a b c")
    write_notebook(project / "prep.ipynb",
                   "import pathlib\npathlib.Path('data').mkdir(exist_ok=True)\n"
                   "pathlib.Path('data/rows.txt').write_text(pathlib.Path('raw.txt').read_text())",
                   markdown="# Prepare")
    write_notebook(project / "branch.ipynb", SLEEPY, params="k = 1\nout = 'x.txt'")
    write_notebook(project / "join.ipynb",
                   "import pathlib, jupyter_mlops as mlops\n"
                   "total = sum(float(pathlib.Path(p).read_text().split()[2]) "
                   "for p in ('out/left.txt', 'out/right.txt'))\n"
                   "pathlib.Path('out/total.txt').write_text(str(total))\n"
                   "mlops.log_metric('total', total)")
    return write_yaml(project / "pipeline.yaml", """
name: dag
parameters: {k: 2}
steps:
  prep: {notebook: prep.ipynb, inputs: [raw.txt], outputs: {rows: data/rows.txt}}
  left:
    notebook: branch.ipynb
    depends_on: [prep]
    parameters: {k: "${k}", out: out/left.txt}
    inputs: [data/rows.txt]
    outputs: {result: out/left.txt}
  right:
    notebook: branch.ipynb
    depends_on: [prep]
    parameters: {k: 3, out: out/right.txt}
    inputs: [data/rows.txt]
    outputs: {result: out/right.txt}
  join:
    notebook: join.ipynb
    depends_on: [left, right]
    inputs: [out/left.txt, out/right.txt]
    outputs: {total: out/total.txt}
""")


def _times(project, name):
    t0, t1, _ = (project / "out" / f"{name}.txt").read_text().split()
    return float(t0), float(t1)


@pytest.mark.slow
def test_dag_order_parallelism_records_and_cache(pclient, project, dag):
    run = run_pipeline(dag, workers=2, progress=False, client=pclient)
    assert run.status == "SUCCEEDED", run
    assert [s.status for s in run.steps] == ["SUCCEEDED"] * 4
    steps = {s.step: s for s in run.steps}
    left, right = _times(project, "left"), _times(project, "right")
    assert left[0] < right[1] and right[0] < left[1], "independent branches did not overlap"
    assert steps["prep"].ended_at <= min(steps["left"].started_at, steps["right"].started_at)
    assert steps["join"].started_at >= max(steps["left"].ended_at, steps["right"].ended_at)
    assert (project / "out/total.txt").read_text() == "15.0"  # 3*2 + 3*3

    # Each step is a tracked child run with its params, metrics and executed notebook.
    parent = pclient.get_run(run.run_id)
    assert parent.params == {"k": "2"} and len(parent.children) == 4
    lrun = pclient.get_run(steps["left"].run_id)
    assert lrun.run.parent_run_id == run.run_id
    assert lrun.params == {"k": "2", "out": "out/left.txt"} and lrun.metrics == {"score": 6.0}
    names = {a.name: a for a in lrun.artifacts}
    assert {"left.executed.ipynb", "outputs/result"} <= set(names)
    executed = json.loads(pclient.read_artifact(lrun.id, "left.executed.ipynb")[1])
    assert any("injected-parameters" in c["metadata"].get("tags", []) for c in executed["cells"])
    assert lrun.code is not None  # the source notebook, for reproduce
    # Lineage: raw.txt -> prep -> rows artifact -> left/right -> results -> join.
    join_id = f"run:{steps['join'].run_id}"
    graph = pclient.lineage(join_id, depth=10)
    up = graph.upstream(join_id)
    assert f"run:{steps['left'].run_id}" in up and f"run:{steps['prep'].run_id}" in up
    assert any(n.type == "dataset" and n.label.startswith("raw.txt") for n in graph.nodes
               if n.id in up)

    # Second run: everything cached; deleted outputs come back from the blob store.
    (project / "out/total.txt").unlink()
    t = time.time()
    warmed = []
    with pytest.MonkeyPatch.context() as patch:  # the cache is checked before any warm-up
        patch.setattr(LocalExecutor, "warm_up", lambda self: warmed.append(self))
        again = run_pipeline(dag, workers=2, progress=False, client=pclient)
    assert [s.status for s in again.steps] == ["CACHED"] * 4
    assert warmed == []  # no worker started, papermill not imported for a fully cached run
    assert time.time() - t < 5
    assert (project / "out/total.txt").read_text() == "15.0"
    hit = again.step("left")
    assert hit.cached_from == steps["left"].id
    assert pclient.get_run(hit.run_id).metrics == {"score": 6.0}

    # A cosmetic edit (comments, whitespace, markdown, outputs, counts) keeps the cache.
    nb = nbformat.read(str(project / "branch.ipynb"), 4)
    nb.cells[1].source = "# tidy up\n" + nb.cells[1].source.replace(" = ", " =  ") + "\n\n"
    nb.cells[1].execution_count = 3
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="old output\n")]
    nb.cells.insert(0, nbformat.v4.new_markdown_cell("Notes"))
    nbformat.write(nb, str(project / "branch.ipynb"))
    assert {s.status for s in run_pipeline(dag, progress=False, client=pclient).steps} == {"CACHED"}

    # A parameter change re-runs left and, as its output changed, join — not prep or right.
    changed = run_pipeline(dag, {"k": "4"}, progress=False, client=pclient)
    assert {s.step: s.status for s in changed.steps} == {
        "prep": "CACHED", "left": "SUCCEEDED", "right": "CACHED", "join": "SUCCEEDED"}
    assert (project / "out/total.txt").read_text() == "21.0"

    # Changing an input file invalidates prep; --force-step reruns a cached step.
    (project / "raw.txt").write_text("a b c d")
    changed = run_pipeline(dag, {"k": "4"}, progress=False, force_steps=["prep"],
                           client=pclient)
    assert changed.step("prep").status == "SUCCEEDED"
    assert (project / "out/total.txt").read_text() == "28.0"
    forced = run_pipeline(dag, {"k": "4"}, progress=False, force_steps=["join"],
                          client=pclient)
    assert {s.step: s.status for s in forced.steps}["join"] == "SUCCEEDED"
    assert {s.step: s.status for s in forced.steps}["left"] == "CACHED"

    listed = PipelineStore(pclient.store.url).list_pipeline_runs("dag")
    assert len(listed) == 6 and all(r.status == "SUCCEEDED" for r in listed)


@pytest.mark.slow
def test_failure_retries_skips_dependants_and_keeps_the_notebook(pclient, project):
    write_notebook(project / "flaky.ipynb",
                   "import pathlib\nmarker = pathlib.Path('tried')\n"
                   "first = not marker.exists(); marker.touch()\n"
                   "assert not first, 'first attempt fails'",
                   "import jupyter_mlops as mlops; mlops.log_metric('ok', 1)")
    write_notebook(project / "bad.ipynb", "x = 1", "y = x / 0", "print('never')")
    write_notebook(project / "after.ipynb", "print('should not run')")
    write_notebook(project / "dies.ipynb", "import os\nos._exit(3)", "print('never')")
    spec = write_yaml(project / "pipeline.yaml", """
name: failing
steps:
  dies: {notebook: dies.ipynb}
  flaky: {notebook: flaky.ipynb, retries: 1}
  bad: {notebook: bad.ipynb, retries: 1}
  after: {notebook: after.ipynb, depends_on: [bad]}
""")
    run = run_pipeline(spec, workers=2, progress=False, client=pclient)
    assert run.status == "FAILED"
    steps = {s.step: s for s in run.steps}
    assert steps["flaky"].status == "SUCCEEDED" and steps["flaky"].attempts == 2
    assert steps["bad"].status == "FAILED" and steps["bad"].attempts == 2
    assert "ZeroDivisionError" in steps["bad"].error and "(cell 2)" in steps["bad"].error
    assert steps["after"].status == "SKIPPED" and "bad" in steps["after"].error
    assert steps["dies"].status == "FAILED" and "kernel died" in steps["dies"].error
    # The failed attempt's executed notebook, with the error cell, is an artifact.
    bad_run = pclient.get_run(steps["bad"].run_id)
    assert bad_run.status == "FAILED" and bad_run.tags["mlops.attempt"] == "2"
    nb = json.loads(pclient.read_artifact(bad_run.id, "bad.executed.ipynb")[1])
    errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert errors and errors[0]["ename"] == "ZeroDivisionError"
    attempts = [pclient.get_run(r) for r in pclient.get_run(run.run_id).children]
    assert sorted((r.tags["mlops.step"], r.status) for r in attempts) == [
        ("bad", "FAILED"), ("bad", "FAILED"), ("dies", "FAILED"), ("flaky", "FAILED"),
        ("flaky", "FINISHED")]
    assert pclient.get_run(run.run_id).status == "FAILED"


@pytest.mark.slow  # 4-8 s: CI runs it, make test-fast does not
def test_timeout_kills_the_kernel(pclient, project):
    write_notebook(project / "hang.ipynb",
                   "import os, pathlib; pathlib.Path('pid').write_text(str(os.getpid()))",
                   "import time; time.sleep(120)")
    spec = write_yaml(project / "pipeline.yaml",
                      "name: hang\nsteps:\n  hang: {notebook: hang.ipynb, timeout: 3}\n")
    t = time.time()
    with pytest.raises(StepExecutionError) as err:
        run_pipeline(spec, progress=False, raise_on_failure=True, client=pclient)
    assert time.time() - t < 30
    assert err.value.step == "hang" and "timed out" in str(err.value)
    run = PipelineStore(pclient.store.url).list_pipeline_runs("hang")[0]
    step = PipelineStore(pclient.store.url).get_pipeline_run(run.id).step("hang")
    assert step.status == "FAILED" and "timed out after 3 s" in step.error
    pid = int((project / "pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # no orphan kernel left behind
    nb = json.loads(pclient.read_artifact(step.run_id, "hang.executed.ipynb")[1])
    last = nb["cells"][-1]
    assert last["outputs"][-1]["ename"] == "StepInterrupted"


@pytest.mark.slow
def test_dask_executor_gives_the_same_results_and_records(pclient, project):
    # dask[distributed] is a test dependency: if it is missing the executor fails loudly.
    (project / "raw.txt").write_text("1 2 3 4")
    write_notebook(project / "prep.ipynb",
                   "import pathlib\nv = [int(x) for x in pathlib.Path('raw.txt').read_text().split()]\n"
                   "pathlib.Path('sum.txt').write_text(str(sum(v) * k))", params="k = 1")
    write_notebook(project / "use.ipynb",
                   "import pathlib, jupyter_mlops as mlops\n"
                   "mlops.log_metric('total', float(pathlib.Path('sum.txt').read_text()))")
    spec = write_yaml(project / "pipeline.yaml", """
name: scale
steps:
  prep: {notebook: prep.ipynb, parameters: {k: 3}, inputs: [raw.txt], outputs: [sum.txt]}
  use: {notebook: use.ipynb, depends_on: [prep], inputs: [sum.txt]}
""")
    local = run_pipeline(spec, progress=False, force=True, client=pclient)
    # One worker process: the two steps run one after the other anyway, and each worker of
    # the local cluster is a process importing dask, the library and papermill.
    dask = run_pipeline(spec, progress=False, force=True, executor="dask", workers=1,
                        client=pclient)
    assert dask.executor == "dask:local:1" and local.executor.startswith("local:")
    for a, b in zip(local.steps, dask.steps):
        assert (a.step, a.status, a.outputs) == (b.step, b.status, b.outputs)
        ra, rb = pclient.get_run(a.run_id), pclient.get_run(b.run_id)
        assert ra.metrics == rb.metrics and ra.params == rb.params
        assert sorted(x.name for x in ra.artifacts) == sorted(x.name for x in rb.artifacts)
    assert pclient.get_run(dask.step("use").run_id).metrics == {"total": 30.0}
