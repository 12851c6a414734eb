"""Runs, params, metrics and tags through the Client, on every store backend."""

from __future__ import annotations

import math
import re
import time

import numpy as np
import pytest
from jupyter_mlops.errors import (
    AlreadyExistsError,
    InvalidInputError,
    MlopsError,
    NotFoundError,
)


# ----------------------------------------------------------------------------- runs
def test_new_run_is_running_with_who_what_and_when(client, monkeypatch):
    monkeypatch.setenv("MLOPS_USER", "alice")
    before = time.time()
    run = client.create_run(experiment="churn", name="baseline", tags={"team": "growth"})
    detail = client.get_run(run.id)

    assert re.fullmatch(r"[0-9a-f]{32}", run.id)
    assert detail.status == "RUNNING"
    assert detail.run.name == "baseline"
    assert detail.run.experiment == "churn"
    assert detail.run.user == "alice"
    assert before <= detail.run.start_time <= time.time()
    assert detail.run.end_time is None
    assert detail.tags == {"team": "growth"}
    assert [e.name for e in client.list_experiments()] == ["churn"]


def test_runs_without_experiment_or_name_get_defaults(client):
    run = client.create_run()
    detail = client.get_run(run.id)
    assert detail.run.experiment == "Default"
    assert detail.run.name == f"run-{run.id[:8]}"


@pytest.mark.parametrize("status", ["FINISHED", "FAILED", "KILLED", "finished"])
def test_end_run_records_status_and_end_time(client, status):
    run = client.create_run()
    client.end_run(run.id, status)
    detail = client.get_run(run.id)
    assert detail.status == status.upper()
    assert detail.run.end_time is not None
    assert detail.run.end_time >= detail.run.start_time


@pytest.mark.parametrize("status", ["RUNNING", "DONE", ""])
def test_end_run_refuses_unknown_status(client, status):
    run = client.create_run()
    with pytest.raises(InvalidInputError, match="FINISHED, FAILED or KILLED"):
        client.end_run(run.id, status)
    assert client.get_run(run.id).status == "RUNNING"


def test_unknown_run_is_not_found(client):
    missing = "0" * 32
    with pytest.raises(NotFoundError, match=missing):
        client.get_run(missing)
    with pytest.raises(NotFoundError):
        client.end_run(missing)
    with pytest.raises(NotFoundError):
        client.delete_run(missing)


def test_rename_run(client):
    run = client.create_run(name="old")
    assert client.rename_run(run.id, "new").name == "new"
    assert client.get_run(run.id).run.name == "new"
    with pytest.raises(InvalidInputError):
        client.rename_run(run.id, "   ")


def test_child_runs_point_at_their_parent(client):
    parent = client.create_run(name="sweep")
    kids = [client.create_run(name=f"trial-{i}", parent_run_id=parent.id) for i in range(3)]
    assert client.get_run(parent.id).children == [k.id for k in kids]
    assert client.get_run(kids[0].id).run.parent_run_id == parent.id
    with pytest.raises(NotFoundError, match="Parent run"):
        client.create_run(parent_run_id="f" * 32)


def test_delete_run_removes_its_values_and_orphans_children(client, raw_db):
    run = client.create_run()
    child = client.create_run(parent_run_id=run.id)
    client.log_params(run.id, {"lr": 0.1})
    client.log_metrics(run.id, {"loss": 0.5, "acc": 0.9})
    client.set_tag(run.id, "k", "v")
    client.flush()

    client.delete_run(run.id)

    with pytest.raises(NotFoundError):
        client.get_run(run.id)
    for table in ("params", "metric_chunks", "latest_metrics", "tags"):
        assert raw_db.rows(f"SELECT * FROM {table} WHERE run_id = :r", r=run.id) == []
    assert client.get_run(child.id).run.parent_run_id is None


# ----------------------------------------------------------------------------- params & tags
def test_params_are_stored_as_text(client):
    run = client.create_run()
    client.log_params(run.id, {"lr": 0.01, "layers": [64, 32], "model": "svc", "n": 3,
                               "opts": {"a": 1}, "flag": True})
    assert client.get_run(run.id).params == {
        "lr": "0.01", "layers": "[64, 32]", "model": "svc", "n": "3", "opts": '{"a": 1}',
        "flag": "True"}


def test_relogging_a_param_keeps_the_latest_value(client):
    run = client.create_run()
    client.log_param(run.id, "lr", 0.1)
    client.flush()
    client.log_param(run.id, "lr", 0.2)
    assert client.get_run(run.id).params == {"lr": "0.2"}


def test_bad_params_are_refused_and_not_stored(client):
    run = client.create_run()
    with pytest.raises(InvalidInputError, match="6000"):
        client.log_param(run.id, "blob", "x" * 6001)
    for key in ("", "a\nb", 3, "k" * 251):
        with pytest.raises(InvalidInputError):
            client.log_param(run.id, key, 1)
    assert client.get_run(run.id).params == {}


def test_tags_set_at_start_and_later_last_value_wins(client):
    run = client.create_run(tags={"team": "a", "stage": "dev"})
    client.set_tag(run.id, "stage", "prod")
    client.set_tags(run.id, {"owner": "bob"})
    assert client.get_run(run.id).tags == {"team": "a", "stage": "prod", "owner": "bob"}


def test_delete_tag_removes_one_tag_and_wins_over_a_queued_set(client):
    run = client.create_run(tags={"team": "a", "stage": "dev"})
    client.set_tag(run.id, "owner", "bob")  # still queued in the writer
    client.delete_tag(run.id, "owner")
    client.delete_tag(run.id, "stage")
    client.flush()
    assert client.get_run(run.id).tags == {"team": "a"}
    assert client.search_runs("tags.stage = 'dev'") == []
    with pytest.raises(NotFoundError, match="no tag 'stage'"):
        client.delete_tag(run.id, "stage")
    with pytest.raises(NotFoundError, match="does not exist"):
        client.delete_tag("0" * 32, "team")
    assert client.get_run(run.id).tags == {"team": "a"}


def test_fluent_delete_tag_needs_an_active_run(client):
    import jupyter_mlops as mlops

    with pytest.raises(InvalidInputError, match="No active run"):
        mlops.delete_tag("team")
    with mlops.start_run(tags={"team": "a", "x": "1"}) as run:
        mlops.delete_tag("x")
    assert client.get_run(run.id).tags == {"team": "a"}


def test_client_closes_and_works_as_a_context_manager(store_url, artifact_root):
    from jupyter_mlops.client import Client

    with Client(store_url, artifact_root) as c:
        run = c.create_run()
        c.log_metric(run.id, "loss", 0.5)  # queued; close() must write it
    with Client(store_url, artifact_root) as reader:
        assert reader.get_run(run.id).metrics == {"loss": 0.5}
    c.close()  # idempotent


# ----------------------------------------------------------------------------- metrics
def test_every_metric_point_is_kept_with_default_steps(client):
    run = client.create_run()
    values = [0.9, 0.7, 0.4, 0.5, 0.3]
    for v in values:
        client.log_metric(run.id, "loss", v)
    history = client.metric_history(run.id, "loss")
    assert [(p.step, p.value) for p in history] == list(enumerate(values))
    assert client.get_run(run.id).metrics == {"loss": 0.3}
    assert client.get_run(run.id).metric_keys == ["loss"]


def test_log_metrics_shares_one_step_and_timestamp(client):
    run = client.create_run()
    client.log_metrics(run.id, {"loss": 0.5, "acc": 0.8}, step=7, timestamp=1234.5)
    for key, value in (("loss", 0.5), ("acc", 0.8)):
        [point] = client.metric_history(run.id, key)
        assert (point.step, point.value, point.timestamp) == (7, value, 1234.5)


@pytest.mark.parametrize("flush_between", [False, True], ids=["one-batch", "two-batches"])
def test_latest_value_is_the_highest_step_not_the_last_logged(client, flush_between):
    run = client.create_run()
    client.log_metric(run.id, "loss", 0.2, step=10)
    if flush_between:
        client.flush()
    client.log_metric(run.id, "loss", 0.9, step=3)
    assert client.get_run(run.id).metrics["loss"] == 0.2
    assert [(p.step, p.value) for p in client.metric_history(run.id, "loss")] == [
        (3, 0.9), (10, 0.2)]


@pytest.mark.parametrize("flush_between", [False, True], ids=["one-batch", "two-batches"])
def test_latest_value_on_equal_steps_is_the_newest_timestamp(client, flush_between):
    run = client.create_run()
    client.log_metric(run.id, "acc", 0.1, step=1, timestamp=100.0)
    client.log_metric(run.id, "acc", 0.3, step=1, timestamp=300.0)
    if flush_between:
        client.flush()
    client.log_metric(run.id, "acc", 0.2, step=1, timestamp=200.0)
    assert client.get_run(run.id).metrics["acc"] == 0.3
    assert len(client.metric_history(run.id, "acc")) == 3


def test_nan_survives_the_history_and_is_null_in_the_latest_value(client, raw_db):
    from jupyter_mlops.store.metric_chunks import unpack

    run = client.create_run()
    for step, v in enumerate([1.0, math.inf, -math.inf, math.nan]):
        client.log_metric(run.id, "loss", v, step=step)
    client.flush()

    # What is in the database: one packed chunk holding NaN and infinities as such; the
    # searchable latest value is NULL for NaN (SQLite cannot store NaN in a REAL column).
    stored = raw_db.rows("SELECT n, data FROM metric_chunks WHERE run_id = :r", r=run.id)
    assert len(stored) == 1 and stored[0][0] == 4
    steps, values, _ = unpack(stored)
    assert steps.tolist() == [0, 1, 2, 3]
    assert values.tolist()[:3] == [1.0, math.inf, -math.inf] and math.isnan(values[3])
    assert raw_db.rows("SELECT value FROM latest_metrics WHERE run_id = :r", r=run.id) == [
        (None,)]

    # What a user reads: NaN, not None, and JSON-safe output for REST.
    values = [p.value for p in client.metric_history(run.id, "loss")]
    assert values[:3] == [1.0, math.inf, -math.inf] and math.isnan(values[3])
    detail = client.get_run(run.id)
    assert math.isnan(detail.metrics["loss"])
    assert detail.run.to_dict()["metrics"]["loss"] is None


def test_numpy_scalars_are_accepted(client):
    run = client.create_run()
    client.log_metric(run.id, "a", np.float32(0.5))
    client.log_metric(run.id, "b", np.int64(3))
    client.log_metric(run.id, "c", np.array(2.5))
    assert client.get_run(run.id).metrics == {"a": 0.5, "b": 3.0, "c": 2.5}


def test_a_bad_value_in_log_metrics_logs_nothing(client):
    run = client.create_run()
    with pytest.raises(InvalidInputError, match="'acc' must be a number"):
        client.log_metrics(run.id, {"loss": 0.1, "acc": "high"})
    for bad in (True, None, [1.0], "0.5"):
        with pytest.raises(InvalidInputError):
            client.log_metric(run.id, "x", bad)
    with pytest.raises(InvalidInputError, match="step"):
        client.log_metric(run.id, "x", 1.0, step=1.5)
    client.flush()
    assert client.get_run(run.id).metrics == {}


def test_logging_to_a_deleted_run_does_not_block_other_runs(client):
    """A run deleted (say from the panel) while a kernel still logs to it.

    The user must get an error that says what happened, and points logged to other runs in
    the meantime must still be written — not re-queued behind the bad run forever.
    """
    doomed = client.create_run(name="doomed")
    healthy = client.create_run(name="healthy")
    client.log_metric(doomed.id, "loss", 1.0)
    client.log_metric(healthy.id, "loss", 2.0)
    client.delete_run(doomed.id)

    with pytest.raises(MlopsError) as err:
        client.flush()
    assert not isinstance(err.value, AlreadyExistsError), (
        f"a missing run is reported as 'already exists': {err.value}")
    assert doomed.id in str(err.value) or "does not exist" in str(err.value)

    client.flush()  # the bad points are dropped once reported; nothing else is stuck
    assert client.get_run(healthy.id).metrics == {"loss": 2.0}


# ----------------------------------------------------------------------------- history
def test_short_history_is_returned_whole(client):
    run = client.create_run()
    client.log_metrics(run.id, {"x": 1.0})
    for s in range(1, 50):
        client.log_metric(run.id, "x", float(s), step=s)
    assert [p.step for p in client.metric_history(run.id, "x", max_points=50)] == list(range(50))


def _spiky_series(n: int = 10_000) -> dict[int, float]:
    series = {s: 0.5 + 0.1 * math.sin(s / 50) for s in range(n)}
    series[2222] = -1000.0
    series[7777] = 1000.0
    return series


def test_downsampled_history_keeps_peaks_and_ends(client):
    run = client.create_run()
    series = _spiky_series()
    for s, v in series.items():
        client.log_metric(run.id, "loss", v, step=s)

    points = client.metric_history(run.id, "loss", max_points=100)

    assert 2 <= len(points) <= 100
    values = [p.value for p in points]
    assert 1000.0 in values and -1000.0 in values
    steps = [p.step for p in points]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    assert steps[0] == 0 and steps[-1] == 9999


def test_downsampled_points_are_real_points_of_the_series(client):
    """Each returned (step, value) was logged: a falling loss must not plot as a sawtooth."""
    run = client.create_run()
    series = {s: 1000.0 - s for s in range(1000)}  # a steadily falling loss
    series[777] = 5000.0  # and one spike
    for s, v in series.items():
        client.log_metric(run.id, "loss", v, step=s)

    points = client.metric_history(run.id, "loss", max_points=20)

    wrong = [(p.step, p.value, series[p.step]) for p in points if p.value != series[p.step]]
    assert wrong == [], "(step, returned value, logged value) pairs that were never logged"
    assert (777, 5000.0) in [(p.step, p.value) for p in points]


def test_metric_history_errors(client):
    run = client.create_run()
    client.log_metric(run.id, "loss", 1.0)
    with pytest.raises(InvalidInputError, match="at least 2"):
        client.metric_history(run.id, "loss", max_points=1)
    with pytest.raises(NotFoundError, match="no metric 'acc'"):
        client.metric_history(run.id, "acc")
    with pytest.raises(NotFoundError):
        client.metric_history("e" * 32, "loss")
