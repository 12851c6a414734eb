"""Past the memory budget the join runs in DuckDB (spilling to disk): the same rules, the same
values as the in-memory join and as a brute-force oracle — keys, TTL, ties at the exact time,
time zones, ints with gaps, text and time features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_mlops.feature_store import join_outofcore
from tests.features.test_point_in_time import T0, entity_rows, oracle, view_rows


def _both(features, monkeypatch, entity, refs):
    """The training set in memory, then with a budget of 0 (every view is 'too big')."""
    monkeypatch.delenv(join_outofcore.MEMORY_ENV, raising=False)
    memory = features.get_training_set(entity, refs).frame
    monkeypatch.setenv(join_outofcore.MEMORY_ENV, "0")
    calls = []
    real = join_outofcore.asof_join_duckdb
    monkeypatch.setattr("jupyter_mlops.feature_store.training.asof_join_duckdb",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    spilled = features.get_training_set(entity, refs).frame
    assert calls, "the out-of-core join was not used"
    return memory, spilled


@pytest.mark.slow  # two joins and a registration per example
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=view_rows, wanted=entity_rows, ttl=st.one_of(st.none(), st.integers(1, 20)),
       aware=st.booleans())
def test_duckdb_join_equals_the_in_memory_join_and_the_oracle(features, monkeypatch, rows,
                                                              wanted, ttl, aware):
    tz = "UTC" if aware else None
    view = pd.DataFrame({"driver": [k for k, _ in rows],
                         "ts": [(T0 + pd.Timedelta(minutes=m)).tz_localize(tz) for _, m in rows],
                         "seen": [float(m) for _, m in rows],
                         "count": [m for _, m in rows],
                         "word": [f"w{m}" for _, m in rows]})
    name = "ooc_utc" if aware else "ooc"  # one view per kind: the store outlives examples
    features.register_view(name, view, entity="driver", timestamp="ts",
                           features=["seen", "count", "word"],
                           ttl=None if ttl is None else ttl * 60)
    entity = pd.DataFrame({"driver": [k for k, _ in wanted],
                           "ts": [(T0 + pd.Timedelta(minutes=m)).tz_localize(tz)
                                  for _, m in wanted]})
    memory, spilled = _both(features, monkeypatch, entity,
                            [f"{name}:seen", f"{name}:count", f"{name}:word"])
    pd.testing.assert_frame_equal(spilled, memory)
    naive = view.assign(ts=view["ts"].dt.tz_localize(None)) if aware else view
    plain = entity.assign(ts=entity["ts"].dt.tz_localize(None)) if aware else entity
    expected = oracle(naive, plain, "seen", None if ttl is None else ttl * 60.0)
    np.testing.assert_array_equal(spilled["seen"].to_numpy(dtype=float), expected)


def test_a_budget_that_is_not_a_number_is_one_clear_line(monkeypatch):
    from jupyter_mlops.errors import InvalidInputError

    monkeypatch.setenv(join_outofcore.MEMORY_ENV, "4 GB")
    with pytest.raises(InvalidInputError, match=join_outofcore.MEMORY_ENV):
        join_outofcore.memory_budget_bytes()


def test_duckdb_join_keeps_the_rules_on_a_fixed_example(features, monkeypatch):
    view = pd.DataFrame({"driver": [0, 0, 1, 1], "ts": [T0 + pd.Timedelta(minutes=m)
                                                      for m in (0, 5, 3, 9)],
                         "seen": [0.0, 5.0, 3.0, 9.0], "count": [0, 5, 3, 9],
                         "word": ["a", "b", "c", "d"]})
    features.register_view("fixed", view, entity="driver", timestamp="ts",
                           features=["seen", "count", "word"], ttl=240)
    entity = pd.DataFrame({"driver": [0, 1, 0, 2, 0, 1],
                           "ts": [T0 + pd.Timedelta(minutes=m) for m in (1, 4, 5, 1, 12, 8)]})
    memory, spilled = _both(features, monkeypatch, entity,
                            ["fixed:seen", "fixed:count", "fixed:word"])
    pd.testing.assert_frame_equal(spilled, memory)
    # exact time counts; 9 never leaks into 8 (3 is 5 min old: past the 4 min TTL); key 2
    # is unknown; at 12 min the 5 min row is stale too
    assert spilled["seen"].tolist()[:3] == [0.0, 3.0, 5.0]
    assert spilled["seen"].isna().tolist() == [False, False, False, True, True, True]
    assert spilled["word"].tolist()[:3] == ["a", "c", "b"]
