"""Monitors in a sync (laptop SQLite -> team SQLite or PostgreSQL, both real): definitions
with their reference profile, windows with results, alert rules and alerts; a rerun adds
nothing; a window number taken at the target is renumbered; a definition changed on both
sides is a conflict."""

from __future__ import annotations

from jupyter_mlops.store.monitoring import MonitoringStore
from jupyter_mlops.store.sync import sync_stores
from tests.sync.conftest import Side


def push(local: Side, team: Side, **kw):
    return sync_stores(local.url, team.url, local.root, team.root, **kw)


def pull(team: Side, local: Side, **kw):
    return sync_stores(team.url, local.url, team.root, local.root, **kw)


def _monitor(side: Side, config: dict | None = None):
    profile = side.client.store.blobs.put_bytes(b"reference profile").digest
    return MonitoringStore(side.url).save_monitor(
        name="churn-live", model_name="churn", model_ref="churn@champion",
        reference_digest="d" * 64, reference_dataset_id=None, profile_digest=profile,
        config=config or {"window": 100}, user="ada")


def _window(side: Side, monitor_id: int, start: float, drift: float):
    raw = side.client.store.blobs.put_bytes(b"rows %f" % start).digest
    return MonitoringStore(side.url).add_window(
        monitor_id, start_at=start, end_at=start + 10, rows=100, model_version=1,
        columns_checked=2, columns_drifted=1, summary={"schema": []}, data_digest=raw,
        results=[("age", "psi", drift, drift > 0.2), ("", "accuracy", 0.9, None)])


def _state(side: Side) -> tuple:
    m = MonitoringStore(side.url)
    info = m.get_monitor("churn-live")
    windows = [(w.seq, w.start_at, w.rows, w.data_digest) for w in m.list_windows(info.id)]
    series = sorted((p.feature, p.measure, p.value) for p in m.series(info.id))
    rules = [(r.measure, r.op, r.threshold, r.last_triggered_at) for r in m.list_rules(info.id)]
    alerts = [(a.measure, a.value, a.action, a.at) for a in m.list_alerts(info.id)]
    return info.model_ref, info.config, windows, series, rules, alerts


def test_monitors_windows_and_alerts_reach_the_team(laptop, target):
    m = MonitoringStore(laptop.url)
    info = _monitor(laptop)
    w1 = _window(laptop, info.id, 0.0, 0.1)
    w2 = _window(laptop, info.id, 10.0, 0.4)
    rule = m.add_rule(info.id, measure="psi", feature="age", op=">", threshold=0.2,
                      pipeline=None, parameters=None, cooldown_s=60.0, user="ada")
    m.claim_trigger(rule.id, 25.0, 60.0)
    m.add_alert(rule_id=rule.id, monitor_id=info.id, window_id=w2.id, at=20.0,
                measure="psi", feature="age", value=0.4, threshold=0.2,
                message="psi 0.4 > 0.2", action="RECORDED")
    report = push(laptop, target)
    c = report.counts
    assert (c["monitors"], c["monitor_windows"], c["monitor_results"], c["alert_rules"],
            c["alerts"]) == (1, 2, 4, 1, 1)
    assert not report.conflicts and "2 windows" in report.summary()
    assert _state(target) == _state(laptop)
    blobs = target.client.store.blobs
    there = MonitoringStore(target.url).get_monitor("churn-live")
    assert blobs.exists(there.profile_digest) and blobs.exists(w1.data_digest)
    (alert,) = MonitoringStore(target.url).list_alerts(there.id)
    assert MonitoringStore(target.url).window_seqs(there.id, [alert.window_id]) == {
        alert.window_id: 2}
    again = push(laptop, target)
    assert sum(again.counts.values()) == 0 and not again.conflicts
    assert sum(pull(target, laptop).counts.values()) == 0


def test_a_window_number_taken_at_the_target_is_renumbered(laptop, target):
    info = _monitor(laptop)
    push(laptop, target)
    there = MonitoringStore(target.url).get_monitor("churn-live")
    _window(target, there.id, 100.0, 0.0)  # window 1 at the team
    _window(laptop, info.id, 0.0, 0.3)  # window 1 on the laptop: another window
    report = push(laptop, target)
    assert report.counts["monitor_windows"] == 1
    assert any("window 1 is window 2 at the target" in n for n in report.notes)
    seqs = [(w.seq, w.start_at) for w in MonitoringStore(target.url).list_windows(there.id)]
    assert sorted(seqs) == [(1, 100.0), (2, 0.0)]
    assert sum(push(laptop, target).counts.values()) == 0


def test_a_definition_follows_the_side_that_changed_it(laptop, target):
    _monitor(laptop, {"window": 100})
    push(laptop, target)
    _monitor(laptop, {"window": 200})  # the laptop only
    assert push(laptop, target).counts["monitors"] == 1
    assert MonitoringStore(target.url).get_monitor("churn-live").config == {"window": 200}
    _monitor(laptop, {"window": 300})
    _monitor(target, {"window": 400})  # both
    report = push(laptop, target)
    assert MonitoringStore(target.url).get_monitor("churn-live").config == {"window": 400}
    assert any("monitor 'churn-live'" in c and "both sides" in c for c in report.conflicts)
