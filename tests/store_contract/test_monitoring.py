"""AbstractMonitoringStore contract: monitors, windows and results, feedback, rules, alerts."""

from __future__ import annotations

import math
import threading

import pytest

from jupyter_mlops.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from jupyter_mlops.store.monitoring import MonitoringStore


@pytest.fixture
def mon(backend_url: str) -> MonitoringStore:
    return MonitoringStore(backend_url)


def monitor(mon: MonitoringStore, name: str = "churn", **kw):
    fields = dict(name=name, model_name="model", model_ref="models:/model@champion",
                  reference_digest="a" * 64, reference_dataset_id=None,
                  profile_digest="b" * 64, config={"window": 100, "note": "ñ"}, user="ada")
    fields.update(kw)
    return mon.save_monitor(**fields)


def window(mon: MonitoringStore, monitor_id: int, start: float, **kw):
    fields = dict(start_at=start, end_at=start + 10, rows=3, model_version=1,
                  columns_checked=2, columns_drifted=1, summary={"psi": 0.3},
                  data_digest=None, results=[("age", "psi", 0.3, True),
                                             ("age", "ks", float("nan"), None)])
    fields.update(kw)
    return mon.add_window(monitor_id, **fields)


def test_a_monitor_is_saved_once_per_name_and_deleted_with_its_data(mon):
    first = monitor(mon)
    again = monitor(mon, model_ref="models:/model/3", config={"window": 50})
    assert again.id == first.id and again.config == {"window": 50}
    monitor(mon, "alpha")
    assert [m.name for m in mon.list_monitors()] == ["alpha", "churn"]
    assert mon.get_monitor(first.id) == mon.get_monitor("churn")
    window(mon, first.id, 0.0)
    mon.delete_monitor("churn")
    with pytest.raises(NotFoundError):
        mon.get_monitor("churn")
    with pytest.raises(NotFoundError):
        mon.delete_monitor("churn")
    assert mon.list_windows(first.id) == []


def test_windows_are_numbered_per_monitor_and_listed_oldest_first(mon):
    a, b = monitor(mon, "a"), monitor(mon, "b")
    seqs = [window(mon, a.id, float(i)).seq for i in range(4)]
    assert seqs == [1, 2, 3, 4] and window(mon, b.id, 0.0).seq == 1
    assert [w.seq for w in mon.list_windows(a.id)] == [1, 2, 3, 4]
    assert [w.seq for w in mon.list_windows(a.id, limit=2)] == [3, 4]
    assert mon.get_window(a.id, 2).start_at == 1.0
    with pytest.raises(NotFoundError):
        mon.get_window(a.id, 9)
    ids = {w.id: w.seq for w in mon.list_windows(a.id)}
    other = mon.list_windows(b.id)[0].id
    assert mon.window_seqs(a.id, [*ids, other, 10**9]) == ids


def test_concurrent_writers_of_one_monitor_get_distinct_window_numbers(mon, backend_url):
    m = monitor(mon)
    errors = []

    def add(i):
        try:
            window(MonitoringStore(backend_url), m.id, float(i))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sorted(w.seq for w in mon.list_windows(m.id)) == [1, 2, 3, 4, 5]


def test_series_are_ordered_filterable_and_a_missing_value_reads_as_nan(mon):
    m = monitor(mon)
    w1 = window(mon, m.id, 0.0)
    window(mon, m.id, 10.0, results=[("age", "psi", 0.1, False), ("income", "psi", 0.2, False)])
    points = mon.series(m.id, measure="psi")
    assert [(p.window_seq, p.feature, p.value) for p in points] == [
        (1, "age", 0.3), (2, "age", 0.1), (2, "income", 0.2)]
    assert [math.isnan(p.value) for p in mon.series(m.id, measure="ks")] == [True]
    assert [p.feature for p in mon.series(m.id, feature="income")] == ["income"]
    assert [p.window_seq for p in mon.series(m.id, since_seq=2)] == [2, 2]
    mon.upsert_results(m.id, w1.id, 5.0, [("age", "psi", 0.9, True), ("age", "acc", 0.5, None)])
    assert {(p.measure, None if math.isnan(p.value) else p.value)
            for p in mon.series(m.id) if p.window_seq == 1} == {
        ("psi", 0.9), ("ks", None), ("acc", 0.5)}


def test_feedback_labels_logged_predictions_and_waits_for_unseen_ones(mon):
    m = monitor(mon)
    window(mon, m.id, 0.0, records=[
        {"row_id": "r1", "prediction_value": 0.8}, {"row_id": "r2", "prediction_label": "yes"},
        {"row_id": "ключ-3", "prediction_value": 0.1}])
    assert mon.record_counts(m.id) == (3, 0)
    assert mon.add_feedback(m.id, [("r1", 1.0, None), ("ключ-3", 0.0, None),
                                   ("later", None, "no")], at=5.0) == [1]
    assert sorted(mon.labelled(m.id, 1)) == [(0.1, None, 0.0, None), (0.8, None, 1.0, None)]
    assert mon.record_counts(m.id) == (3, 2)
    assert mon.add_feedback(m.id, [], at=6.0) == []
    # The prediction of "later" arrives after its label: it is labelled from the start.
    window(mon, m.id, 10.0, records=[{"row_id": "later", "prediction_label": "yes"}])
    assert mon.record_counts(m.id) == (4, 3)
    assert mon.labelled(m.id, 2) == [(None, "yes", None, "no")]


def test_rules_are_checked_unique_listed_and_removed(mon):
    m = monitor(mon)
    rule = mon.add_rule(m.id, measure="psi", feature="age", op=">", threshold=0.2,
                        pipeline="retrain.yaml", parameters={"k": "ü"}, cooldown_s=60.0,
                        user="ada")
    assert mon.get_rule(rule.id) == rule and rule.breached(0.3) and not rule.breached(0.1)
    with pytest.raises(AlreadyExistsError):
        mon.add_rule(m.id, measure="psi", feature="age", op=">", threshold=0.2,
                     pipeline=None, parameters=None, cooldown_s=0.0, user="ada")
    for bad in (dict(op="=="), dict(threshold=float("inf")), dict(cooldown_s=-1.0)):
        fields = dict(measure="ks", feature=None, op="<", threshold=0.5, pipeline=None,
                      parameters=None, cooldown_s=0.0, user="ada")
        fields.update(bad)
        with pytest.raises(InvalidInputError):
            mon.add_rule(m.id, **fields)
    second = mon.add_rule(m.id, measure="ks", feature=None, op="<", threshold=0.5,
                          pipeline=None, parameters=None, cooldown_s=0.0, user="ada")
    assert [r.id for r in mon.list_rules(m.id)] == [rule.id, second.id]
    mon.remove_rule(m.id, second.id)
    with pytest.raises(NotFoundError):
        mon.remove_rule(m.id, second.id)
    with pytest.raises(NotFoundError):
        mon.get_rule(second.id)


def test_a_trigger_is_claimed_once_per_cooldown_even_concurrently(mon, backend_url):
    m = monitor(mon)
    rule = mon.add_rule(m.id, measure="psi", feature=None, op=">", threshold=0.2,
                        pipeline="p.yaml", parameters=None, cooldown_s=100.0, user="ada")
    wins = []
    threads = [threading.Thread(target=lambda: wins.append(
        MonitoringStore(backend_url).claim_trigger(rule.id, 1000.0, 100.0))) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 4 + [True]
    assert not mon.claim_trigger(rule.id, 1050.0, 100.0)
    assert mon.claim_trigger(rule.id, 1100.0, 100.0)


def test_alerts_are_newest_first_and_their_action_updatable(mon):
    m = monitor(mon)
    w = window(mon, m.id, 0.0)
    rule = mon.add_rule(m.id, measure="psi", feature=None, op=">", threshold=0.2,
                        pipeline=None, parameters=None, cooldown_s=0.0, user="ada")

    def alert(at, action="RECORDED", window_id=None):
        return mon.add_alert(rule_id=rule.id, monitor_id=m.id, window_id=window_id, at=at,
                             measure="psi", feature=None, value=float("nan"), threshold=0.2,
                             message="dérive ⚠" * 1000, action=action)

    first = alert(1.0, window_id=w.id)
    second = alert(2.0)
    assert first.value is None and len(first.message) == 4000
    assert [a.id for a in mon.list_alerts(m.id)] == [second.id, first.id]
    assert [a.id for a in mon.list_alerts(m.id, limit=1)] == [second.id]
    assert [a.id for a in mon.alerts_in_window(w.id)] == [first.id]
    mon.set_alert_action(first.id, "FAILED", "pipeline did not start")
    assert mon.get_alert(first.id).action == "FAILED"
    with pytest.raises(InvalidInputError):
        alert(3.0, action="PANIC")
    with pytest.raises(NotFoundError):
        mon.get_alert(10**6)
