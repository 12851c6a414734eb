"""The one Client's facets: each works on the Client's own store, never the process default.

``client.runs`` is the tracking facet (the Client itself, so the flat methods and the facet
are one implementation); ``client.pipelines``, ``client.monitoring`` and ``client.registry``
are built once per Client over the component stores it hands out (``client.stores``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jupyter_mlops.client import Client
from jupyter_mlops.errors import NotFoundError


@pytest.fixture
def other(tmp_path):
    """A second Client on a store of its own (the fluent default stays the ``client`` one)."""
    c = Client(f"sqlite:///{tmp_path / 'other' / 'mlops.db'}", str(tmp_path / "other-art"))
    yield c
    c.close()


@pytest.fixture
def pipeline_file(tmp_path):
    import nbformat

    folder = tmp_path / "pipe"
    folder.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("x = 1"))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, str(folder / "step.ipynb"))
    (folder / "pipeline.yaml").write_text("name: facets\nsteps:\n  one: {notebook: step.ipynb}\n")
    return folder / "pipeline.yaml"


def test_runs_is_the_tracking_facet_of_the_same_client(client):
    assert client.runs is client
    run = client.runs.create_run(experiment="facets")
    client.log_metric(run.id, "m", 1.0)
    client.runs.log_metric(run.id, "m", 2.0)
    client.end_run(run.id)
    assert [p.value for p in client.runs.metric_history(run.id, "m")] == [1.0, 2.0]


def test_facets_and_component_stores_are_built_once(client):
    assert client.pipelines is client.pipelines
    assert client.monitoring is client.monitoring
    assert client.registry is client.registry
    assert client.stores.pipelines is client.stores.pipelines
    assert client.stores.monitoring is client.stores.monitoring
    assert client.registry.store is client.stores.registry


def test_schedules_land_in_the_facets_store_not_the_default(client, other, pipeline_file):
    # `client` is the fluent API's default; the facet of `other` must not touch it.
    made = other.pipelines.add_schedule(pipeline_file, "0 3 * * *", name="nightly")
    assert [s.name for s in other.pipelines.list_schedules()] == ["nightly"]
    assert client.pipelines.list_schedules() == []
    paused = other.pipelines.pause_schedule("nightly", user="ann")
    assert paused.paused and paused.id == made.id
    assert not other.pipelines.resume_schedule("nightly").paused
    assert other.pipelines.schedule_history("nightly") == []
    other.pipelines.remove_schedule("nightly")
    assert other.pipelines.list_schedules() == []
    with pytest.raises(NotFoundError):
        other.pipelines.get_schedule("nightly")


def test_pipeline_reads_answer_for_the_facets_store(client, other):
    assert other.pipelines.list() == [] and other.pipelines.list_runs() == []
    with pytest.raises(NotFoundError):
        other.pipelines.get("nothing-ran")
    with pytest.raises(NotFoundError):
        other.pipelines.get_run("0123456789abcdef")


def test_monitors_live_in_the_facets_store(client, other):
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    model = LogisticRegression().fit(X, (X["a"] > 0).astype(int))
    version = other.registry.register_model(model, "clf", input_example=X.head(3))
    other.registry.set_alias("clf", "champion", version.version)

    mon = other.monitoring.create("clf@champion", reference=X, window=100)
    assert [m.name for m in other.monitoring.list()] == ["clf@champion"]
    assert other.monitoring.get("clf@champion").id == mon.id
    assert client.monitoring.list() == []
    with pytest.raises(NotFoundError):
        client.monitoring.get("clf@champion")


def test_components_need_their_client(pipeline_file):
    # No process-default fallback below the fluent API: a missing client is a TypeError at
    # the call, not a silent write into whatever store the process happened to open.
    from jupyter_mlops.monitoring.monitor import list_monitors
    from jupyter_mlops.pipelines.api import list_pipelines
    from jupyter_mlops.pipelines.schedule import add_schedule

    with pytest.raises(TypeError):
        list_pipelines()
    with pytest.raises(TypeError):
        list_monitors()
    with pytest.raises(TypeError):
        add_schedule(pipeline_file, "0 3 * * *")
