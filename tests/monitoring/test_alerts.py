"""Alerts: recorded when a threshold is crossed; a pipeline starts once per cool-down, even
when several processes see the incident; a real triggered pipeline run."""

from __future__ import annotations

import time

import pytest

from jupyter_mlops.monitoring.monitor import get_monitor, monitor

from .conftest import make_frame


class Clock:
    def __init__(self, t: float = 1_800_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_alert_recorded_without_pipeline(client, registered, reference):
    mon = monitor("clf@champion", reference=reference, window=300, client=client)
    rule = mon.add_alert("psi", 0.2, feature="a")
    mon.log_predictions(make_frame(300, seed=2))  # no drift
    assert mon.alerts() == []
    mon.log_predictions(make_frame(300, seed=3, shift=1.5))
    (alert,) = mon.alerts()
    assert alert.rule_id == rule.id and alert.action == "RECORDED"
    assert alert.feature == "a" and alert.value > 0.2 and "psi on 'a'" in alert.message


def test_pipeline_triggered_once_within_cooldown(client, registered, reference, tmp_path):
    pipeline = tmp_path / "retrain.yaml"
    pipeline.write_text("name: retrain\nsteps: {}\n")
    started = []
    clock = Clock()

    def launcher(rule, alert):
        started.append(alert.pipeline_run_id)

    mon = monitor("clf@champion", reference=reference, window=200, client=client,
                  launcher=launcher)
    mon.alerts_engine.clock = clock
    mon.add_alert("drift_share", 0.2, op=">=", pipeline=str(pipeline), cooldown="1h")
    # A second process watching the same monitor sees the same incident.
    other = get_monitor("clf@champion", client=client, launcher=launcher)
    other.alerts_engine.clock = clock
    for i in range(5):
        mon.log_predictions(make_frame(200, seed=10 + i, shift=2.0))
        other.log_predictions(make_frame(200, seed=20 + i, shift=2.0))
        clock.t += 60
    actions = [a.action for a in reversed(mon.alerts())]
    assert actions == ["TRIGGERED"] + ["COOLDOWN"] * 9
    assert len(started) == 1
    triggered = [a for a in mon.alerts() if a.action == "TRIGGERED"][0]
    assert started == [triggered.pipeline_run_id]
    # After the cool-down, a persisting incident may start one more run.
    clock.t += 3600
    mon.log_predictions(make_frame(200, seed=99, shift=2.0))
    assert len(started) == 2 and mon.alerts()[0].action == "TRIGGERED"


def test_failed_launch_is_recorded(client, registered, reference, tmp_path):
    pipeline = tmp_path / "retrain.yaml"
    pipeline.write_text("name: retrain\nsteps: {}\n")

    def launcher(rule, alert):
        raise OSError("no such executable")

    mon = monitor("clf@champion", reference=reference, window=100, client=client,
                  launcher=launcher)
    mon.add_alert("drift_share", 0.0, op=">", pipeline=str(pipeline))
    mon.log_predictions(make_frame(100, seed=3, shift=3.0))
    (alert,) = mon.alerts()
    assert alert.action == "FAILED" and "no such executable" in alert.message


@pytest.mark.slow  # a real pipeline run in a kernel, 43.8 s measured (load 9)
@pytest.mark.kernel
def test_alert_starts_a_real_pipeline_run(client, registered, reference, tmp_path,
                                          monkeypatch):
    import os
    from pathlib import Path

    import nbformat

    from jupyter_mlops.pipelines.api import get_pipeline_run

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("print('retrained', x)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, str(tmp_path / "train.ipynb"))
    # The launched process and its kernel import this checkout, installed or not.
    repo = str(Path(__file__).resolve().parents[2])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [
        repo, os.environ.get("PYTHONPATH")])))
    (tmp_path / "retrain.yaml").write_text(
        "name: retrain\nsteps:\n  train: {notebook: train.ipynb, parameters: {x: 2}}\n")
    mon = monitor("clf@champion", reference=reference, window=100, client=client)
    mon.add_alert("psi", 0.2, pipeline=str(tmp_path / "retrain.yaml"), cooldown=600)
    mon.log_predictions(make_frame(100, seed=3, shift=3.0))
    (alert,) = mon.alerts()
    assert alert.action == "TRIGGERED"
    deadline = time.time() + 90
    record = None
    while time.time() < deadline:
        try:
            record = get_pipeline_run(alert.pipeline_run_id, client=client)
            if record.status != "RUNNING":
                break
        except Exception:
            pass
        time.sleep(0.5)
    assert record is not None, "the launched pipeline never recorded its run"
    assert (record.trigger, record.status) == ("alert", "SUCCEEDED"), record
    for proc in mon.alerts_engine.launcher.processes:
        proc.wait(30)


def test_a_fired_alert_is_sent_to_the_webhooks(client, registered, reference):
    import json

    from tests.notify.test_webhooks import Receiver

    receiver = Receiver()
    try:
        client.webhooks.add(receiver.url, ["alert.fired"])
        mon = monitor("clf@champion", reference=reference, window=300, client=client)
        rule = mon.add_alert("psi", 0.2, feature="a")
        mon.log_predictions(make_frame(300, seed=2))  # no drift: nothing fires, nothing sent
        mon.log_predictions(make_frame(300, seed=3, shift=1.5))
        (alert,) = mon.alerts()
        assert client.webhooks.wait(30)
        [payload] = [json.loads(body) for _, body in receiver.requests]
        assert payload["event"] == "alert.fired"
        assert payload["data"]["alert_id"] == alert.id and payload["data"]["rule_id"] == rule.id
        assert payload["data"]["feature"] == "a" and payload["data"]["action"] == "RECORDED"
    finally:
        receiver.close()
