"""The panel's run views as notebook widgets (issue 19): grouped curves (mean and min–max
band per group) and a sweep's four views reopened from its parent run, built in-process on
a real store."""

from __future__ import annotations

import pytest

from jupyter_mlops.client import Client
from jupyter_mlops.errors import InvalidInputError, NotFoundError


@pytest.fixture
def client(tmp_path):
    with Client(f"sqlite:///{tmp_path / 'mlops.db'}", str(tmp_path / "artifacts")) as c:
        yield c


def _runs(client) -> list[str]:
    ids = []
    for i, model in enumerate(["svc", "svc", "rf", "rf", "rf"]):
        run = client.create_run(name=f"{model}-{i}", tags={"team": "<b>a</b>"})
        client.log_params(run.id, {"model": model})
        for step in range(4):
            client.log_metric(run.id, "acc", i + step, step=step)
        client.end_run(run.id)
        ids.append(run.id)
    return ids


@pytest.mark.slow  # imports matplotlib and pandas
def test_grouped_curves_widget(client):
    from jupyter_mlops.notebook.widgets import compare_grouped

    ids = _runs(client)
    fig, frame = compare_grouped(client, ids, "params.model")
    assert list(frame["params.model"]) == ["rf", "svc"] and list(frame["runs"]) == [3, 2]
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["rf (3 runs)",
                                                                  "svc (2 runs)"]
    assert len(ax.collections) == 2  # one min–max band per group
    rf_mean = ax.lines[0].get_ydata()
    assert list(rf_mean) == [3.0, 4.0, 5.0, 6.0]  # runs 2, 3, 4 at each step
    view = client.group_runs(ids, "tags.team")
    assert [g["value"] for g in view["groups"]] == ["<b>a</b>"]  # kept as text
    with pytest.raises(InvalidInputError, match="params.NAME"):
        client.group_runs(ids, "metrics.acc")


@pytest.mark.slow  # a sweep, and Optuna's importance imports scikit-learn
def test_sweep_widget_reopened_from_its_run(client):
    import ipywidgets as w

    from jupyter_mlops.notebook.sweep_widgets import sweep_widget_for_run
    from jupyter_mlops.sweeps.runner import sweep

    result = sweep(lambda t: (t["x"] - 1) ** 2, "x=uniform(-2,2)", n_trials=3, name="w",
                   sampler="random", seed=0, client=client)
    box = sweep_widget_for_run(client, result.parent_run_id)
    tabs = box.children[1]
    assert isinstance(tabs, w.Tab)
    assert [tabs.get_title(i) for i in range(4)] == ["Trials", "History",
                                                     "Parallel coordinates", "Importance"]
    with pytest.raises(NotFoundError, match="not part of a sweep"):
        client.sweep_result(_runs(client)[0])
