"""Browser tests of the side panel: JupyterLab on a free loopback port over a seeded store,
driven by pytest-playwright with Debian's chromium (Playwright never downloads a browser).

Screenshots go to ``ui-tests/screenshots/`` (gitignored).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_mlops.client import Client
from tests.lab_server import start_lab, stop_lab
from tests.seed_panel import LAB_USER

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "ui-tests" / "screenshots"
CHROMIUM = os.environ.get("MLOPS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
BULK_RUNS = 1200


# pytest-jupyter's autouse fixtures close Playwright's event loop if its plugin is registered
# for the whole session (STACK-NOTES §4): neutralise them here.
@pytest.fixture
def jp_asyncio_loop():
    yield None


@pytest.fixture
def jp_server_cleanup():
    yield


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (or set MLOPS_CHROMIUM)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1400, "height": 900}}


@dataclasses.dataclass
class UiStore:
    tracking_uri: str
    artifact_root: str
    client: Client
    runs: dict[str, str]  # name -> id of the hand-made runs
    live: str
    #: "ok": every step ran; "failed": steps cached from "ok", evaluate failed.
    pipeline_runs: dict[str, str] = dataclasses.field(default_factory=dict)
    pipeline_path: Path | None = None
    #: Monitor of churn@champion with a drifted feature and an alert (tests.seed_panel).
    monitor: str | None = None


def _seed(client: Client, data_dir: Path) -> tuple[dict[str, str], str]:
    runs: dict[str, str] = {}
    dataset = data_dir / "train.csv"
    dataset.write_text("x,y\n" + "".join(f"{i},{i * 2}\n" for i in range(50)))
    for i, (model, lr) in enumerate([("svc", 0.1), ("svc", 0.01), ("rf", 0.1), ("rf", 0.01),
                                     ("lr", 0.1), ("lr", 0.01), ("svc", 0.001), ("rf", 0.5)]):
        name = f"{model}-lr{lr}"
        run = client.create_run(experiment="iris", name=name, tags={"model": model})
        client.log_params(run.id, {"model": model, "lr": lr, "epochs": 40,
                                   "seed": 7 if i % 3 else 11})
        for step in range(40):
            acc = 0.95 - 0.4 * (0.9 ** (step * (1 + lr * 10))) - 0.01 * i
            client.log_metrics(run.id, {"acc": acc, "loss": 1 - acc + 0.02 * ((step * 7) % 3)},
                               step=step)
        client.log_dataset(run.id, dataset, name="iris-train")
        client.log_artifact(run.id, {"model": model, "lr": lr}, name="config.json")
        client.log_notebook(run.id, _notebook(model, lr), path=None)
        client.end_run(run.id, "FAILED" if name == "rf-lr0.5" else "FINISHED")
        runs[name] = run.id
    # A user-supplied name with markup must be shown as text, never as HTML.
    evil = client.create_run(experiment="iris", name='<img src=x onerror="window.__xss=1">')
    client.log_metric(evil.id, "acc", 0.5)
    client.end_run(evil.id)
    runs["evil"] = evil.id

    runs.update(_seed_notebook_diff(client))

    live = client.create_run(experiment="iris", name="live-training")
    client.log_params(live.id, {"model": "svc", "lr": 0.05})
    client.log_metric(live.id, "acc", 0.4, step=0)
    client.flush()

    for i in range(BULK_RUNS):
        run = client.create_run(experiment="bulk", name=f"bulk-{i:05d}")
        client.log_metrics(run.id, {"acc": (i % 997) / 997})
        client.end_run(run.id)
    return runs, live.id


def _notebook(model: str, lr: float) -> dict:
    return {
        "cells": [
            {"cell_type": "markdown", "id": "m1", "metadata": {}, "source": f"# Train {model}"},
            {"cell_type": "code", "execution_count": 1, "id": "c1", "metadata": {},
             "outputs": [{"name": "stdout", "output_type": "stream", "text": "trained\n"}],
             "source": f"model = {model!r}\nlr = {lr}\nprint('trained')"},
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }


def _seed_notebook_diff(client: Client) -> dict[str, str]:
    """Runs ``nbdiff-left``/``nbdiff-right`` (experiment ``notebook-diff``) whose notebooks
    differ in every way the diff knows: an inserted cell, changed code, changed outputs only,
    a removed cell — with markup in the sources and outputs, which must stay text."""
    def code(source: str, stdout: str | None = None) -> dict:
        outputs = [{"name": "stdout", "output_type": "stream", "text": stdout}] if stdout else []
        return {"cell_type": "code", "execution_count": None, "metadata": {},
                "outputs": outputs, "source": source}

    title = {"cell_type": "markdown", "metadata": {}, "source": "# Notebook <b>diff</b>"}
    left = [title, code("import math"), code("rate = 1\nprint(rate)", "1\n"),
            code("print('<img src=x onerror=window.__xss=2>')", "<i>left</i>\n"),
            code("leftover = True")]
    right = [title, code("inserted = '<script>x</script>'"), code("import math"),
             code("rate = 2\nprint(rate)", "2\n"),
             code("print('<img src=x onerror=window.__xss=2>')", "<i>right</i>\n")]
    out = {}
    for name, cells in (("nbdiff-left", left), ("nbdiff-right", right)):
        run = client.create_run(experiment="notebook-diff", name=name)
        client.log_notebook(run.id, {"cells": cells, "metadata": {}, "nbformat": 4,
                                     "nbformat_minor": 4})
        client.end_run(run.id)
        out[name] = run.id
    return out


def _seed_models_and_pipelines(client: Client, base: Path) -> tuple[dict[str, str], Path]:
    """Model ``churn`` v1 (champion) and v2 with the lab user as ML engineer; pipeline
    ``train-churn`` run twice for real (all steps, then cache hits and a failed step) and
    scheduled nightly."""
    from jupyter_mlops.pipelines import add_schedule, run_pipeline
    from tests.seed_panel import seed_registry, write_pipeline_project

    seed_registry(client, {LAB_USER: "ml_engineer", "dana-ds": "data_scientist"})
    path = write_pipeline_project(base / "project")
    with pytest.MonkeyPatch.context() as mp:  # the step kernels import this checkout
        mp.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO),
                                                               os.environ.get("PYTHONPATH")])))
        ok = run_pipeline(path, client=client, progress=False, workers=2)
        failed = run_pipeline(path, {"fail": True}, client=client, progress=False, workers=2)
    assert ok.status == "SUCCEEDED" and failed.status == "FAILED", (ok, failed)
    add_schedule(path, "0 3 * * *", timezone="Europe/Berlin", name="nightly-churn",
                 client=client)
    return {"ok": ok.id, "failed": failed.id}, path


def _seed_demo_notebook(base: Path, uri: str, root: str) -> None:
    """Run the README's demo notebook headless into the UI store, as `make demo` does."""
    repo = Path(__file__).resolve().parents[2]
    project = base / "demo"
    project.mkdir()
    env = dict(os.environ, MLOPS_TRACKING_URI=uri, MLOPS_ARTIFACT_ROOT=root,
               PYTHONPATH=os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")])))
    subprocess.run([sys.executable, "-m", "papermill", "--cwd", str(project), "--log-level",
                    "ERROR", str(repo / "notebooks" / "demo_breast_cancer.ipynb"),
                    str(project / "executed.ipynb"), "-p", "model", "logreg"],
                   env=env, check=True, timeout=300)


@pytest.fixture(scope="session")
def ui_store(tmp_path_factory) -> Iterator[UiStore]:
    base = tmp_path_factory.mktemp("ui-store")
    uri = f"sqlite:///{base / 'mlops.db'}"
    root = str(base / "artifacts")
    _seed_demo_notebook(base, uri, root)
    client = Client(uri, root)
    runs, live = _seed(client, base)
    from tests.seed_panel import seed_figure

    seed_figure(client, runs["rf-lr0.1"], base)  # a thumbnail in the run detail (issue 15)
    pipeline_runs, pipeline_path = _seed_models_and_pipelines(client, base)
    from tests.seed_panel import seed_monitor

    monitor = seed_monitor(client).name
    client.flush()
    yield UiStore(uri, root, client, runs, live, pipeline_runs, pipeline_path, monitor)
    client.writer.close()


@dataclasses.dataclass
class Lab:
    url: str
    token: str
    root_dir: Path

    def lab_url(self) -> str:
        # `reset` drops the saved workspace so each test starts from the same layout.
        return f"{self.url}/lab?reset&token={self.token}"


@pytest.fixture(scope="session")
def lab(ui_store: UiStore, tmp_path_factory) -> Iterator[Lab]:
    env = {**os.environ, "MLOPS_TRACKING_URI": ui_store.tracking_uri,
           "MLOPS_ARTIFACT_ROOT": ui_store.artifact_root, "MLOPS_USER": LAB_USER}
    try:
        proc, url, token, root = start_lab(
            tmp_path_factory.mktemp("lab"), env, timeout=60,
            extra_args=("--LabApp.expose_app_in_browser=True",))
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield Lab(url, token, root)
    stop_lab(proc)


@pytest.fixture(scope="session")
def screenshots() -> Path:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    return SCREENSHOTS
