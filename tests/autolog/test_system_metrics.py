"""The system-metrics sampler on a real store, and the switch's validation."""

from __future__ import annotations

import pytest

import jupyter_mlops as mlops
from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.fluent_autolog import set_system_metrics
from jupyter_mlops.tracking import system_metrics
from jupyter_mlops.tracking.system_metrics import SystemSampler


def test_the_sampler_logs_its_readings_into_the_run_it_points_at(client):
    run = client.create_run(name="sampled")
    sampler = SystemSampler(interval=0.05)  # 20 Hz here only to keep the test short
    sampler.target = (client, run.id)
    sampler.start()
    try:
        for _ in range(200):
            client.flush()
            if len(client.get_run(run.id).metrics) and len(
                    client.metric_history(run.id, "system/cpu_percent")) >= 3:
                break
            sampler._stop.wait(0.05)
    finally:
        sampler.stop()
    assert not sampler.running and sampler.errors == 0
    client.flush()
    rss = client.metric_history(run.id, "system/rss_bytes")
    assert len(rss) >= 3 and all(p.value > 0 for p in rss)
    assert [p.step for p in rss] == list(range(len(rss)))  # one series, counting up


def test_usage_since_a_mark_sees_a_short_allocation():
    sampler = SystemSampler()
    mark = sampler.mark()
    block = b"x" * 120_000_000
    del block
    usage = sampler.usage_since(mark)
    assert usage["system/cell_peak_rss_bytes"] >= 120_000_000
    assert usage["system/cell_cpu_seconds"] >= 0 and usage["system/cell_wall_seconds"] >= 0
    after = sampler.usage_since(sampler.mark())
    assert after["system/cell_peak_rss_bytes"] < usage["system/cell_peak_rss_bytes"]


@pytest.mark.parametrize("bad", ["on", 1, None])
def test_the_switch_takes_true_or_false_only(bad):
    with pytest.raises(InvalidInputError) as info:
        set_system_metrics(bad)
    assert "\n" not in str(info.value)
    with pytest.raises(InvalidInputError):
        mlops.autolog(system_metrics=bad if bad is not None else "x")


def test_the_switch_turns_it_off_and_on():
    assert not system_metrics.enabled()  # off until asked for
    try:
        mlops.autolog(system_metrics=True, disable=True)
        assert system_metrics.enabled()
        set_system_metrics(False)
        assert not system_metrics.enabled()
    finally:
        set_system_metrics(False)
