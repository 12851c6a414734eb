"""``python -m jupyter_mlops.cli.launch alert``: the pipeline an alert started, run in-process.

The launcher is the one the scheduler uses too (``schedule``); here the alert side: what it
runs comes from the stored rule, a pipeline that cannot start or dies marks the alert FAILED
with the reason, and the exit code is the one errors.ERROR_TABLE gives.
"""

from __future__ import annotations

import pytest

from jupyter_mlops.cli import launch
from jupyter_mlops.errors import EXIT_ERROR, EXIT_FAILED, StepExecutionError
from jupyter_mlops.monitoring.monitor import monitor

from .conftest import make_frame


@pytest.fixture
def alert(client, registered, reference, tmp_path):
    """A TRIGGERED alert whose rule runs ``retrain.yaml`` (nothing is spawned here)."""
    (tmp_path / "retrain.yaml").write_text("name: retrain\nsteps: {}\n")
    started = []
    mon = monitor("clf@champion", reference=reference, window=100, client=client,
                  launcher=lambda rule, alert: started.append(alert.id))
    mon.add_alert("drift_share", 0.0, op=">", pipeline=str(tmp_path / "retrain.yaml"),
                  parameters={"n": "3"})
    mon.log_predictions(make_frame(100, seed=3, shift=3.0))
    (record,) = mon.alerts()
    assert record.action == "TRIGGERED" and started == [record.id]
    return record


def _stored(client, alert_id):
    return client.stores.monitoring.get_alert(alert_id)


def test_a_pipeline_that_cannot_start_marks_the_alert_failed(client, alert, tmp_path, capsys):
    (tmp_path / "retrain.yaml").unlink()  # gone since the rule was added: refused up front
    assert launch.main(["alert", "--alert-id", str(alert.id)]) == EXIT_ERROR
    assert f"error: alert {alert.id}: " in capsys.readouterr().err
    stored = _stored(client, alert.id)
    assert stored.action == "FAILED"
    assert stored.message.startswith(alert.message + "; the pipeline could not start: ")


def test_the_rule_decides_what_runs_and_a_failed_step_exits_1(client, alert, monkeypatch):
    from jupyter_mlops.pipelines import runner

    calls = []

    def failing(pipeline, parameters, **kwargs):
        calls.append((pipeline, parameters, kwargs["trigger"], kwargs["pipeline_run_id"]))
        raise StepExecutionError("step 'train' failed (cell 2)", step="train")

    monkeypatch.setattr(runner, "run_pipeline", failing)
    assert launch.main(["alert", "--alert-id", str(alert.id)]) == EXIT_FAILED
    (pipeline, parameters, trigger, run_id), = calls
    assert pipeline.endswith("retrain.yaml") and parameters == {"n": "3"}
    assert (trigger, run_id) == ("alert", alert.pipeline_run_id)
    assert _stored(client, alert.id).action == "FAILED"


def test_a_run_that_dies_is_not_left_looking_started(client, alert, monkeypatch):
    from jupyter_mlops.pipelines import runner

    def dies(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run_pipeline", dies)
    with pytest.raises(KeyboardInterrupt):
        launch.main(["alert", "--alert-id", str(alert.id)])
    stored = _stored(client, alert.id)
    assert stored.action == "FAILED" and "the pipeline run stopped: KeyboardInterrupt" in \
        stored.message


def test_an_unknown_alert_is_one_line(client, capsys):
    assert launch.main(["alert", "--alert-id", "999999"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
