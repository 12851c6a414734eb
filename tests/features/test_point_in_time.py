"""Point-in-time joins: never a future value, TTL, ties, time zones — against a brute-force oracle."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_mlops.errors import InvalidInputError
from tests.features.conftest import rides

T0 = pd.Timestamp("2024-01-01")


def oracle(view: pd.DataFrame, entity: pd.DataFrame, feature: str, ttl_s: float | None):
    """For each entity row, by looking at every view row: the latest at or before, within TTL."""
    out = []
    for key, t in zip(entity["driver"], entity["ts"]):
        rows = view[(view["driver"] == key) & (view["ts"] <= t)]
        if rows.empty:
            out.append(np.nan)
            continue
        best = rows.loc[rows["ts"].idxmax()]
        if ttl_s is not None and (t - best["ts"]).total_seconds() > ttl_s:
            out.append(np.nan)
        else:
            out.append(best[feature])
    return np.array(out, dtype=float)


view_rows = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 40)), min_size=1, max_size=40,
                     unique=True)
entity_rows = st.lists(st.tuples(st.integers(0, 4), st.integers(-2, 45)), min_size=1,
                       max_size=30)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=view_rows, wanted=entity_rows, ttl=st.one_of(st.none(), st.integers(1, 20)))
def test_join_matches_the_oracle_and_never_leaks(features, rows, wanted, ttl):
    # The feature's value IS its event time (minutes), so a leak is visible as value > time.
    view = pd.DataFrame({"driver": [k for k, _ in rows],
                         "ts": [T0 + pd.Timedelta(minutes=m) for _, m in rows],
                         "seen": [float(m) for _, m in rows]})
    features.register_view("leak", view, entity="driver", timestamp="ts", features=["seen"],
                           ttl=None if ttl is None else ttl * 60)
    entity = pd.DataFrame({"driver": [k for k, _ in wanted],
                           "ts": [T0 + pd.Timedelta(minutes=m) for _, m in wanted]})
    got = features.get_training_set(entity, ["leak:seen"]).frame
    expected = oracle(view, entity, "seen", None if ttl is None else ttl * 60.0)
    np.testing.assert_array_equal(got["seen"].to_numpy(dtype=float), expected)
    minutes = ((entity["ts"] - T0).dt.total_seconds() / 60).to_numpy()
    present = ~np.isnan(got["seen"].to_numpy(dtype=float))
    assert (got["seen"].to_numpy(dtype=float)[present] <= minutes[present]).all()
    assert list(got["driver"]) == list(entity["driver"])  # rows in the caller's order


def test_exact_time_counts_latest_wins_and_whole_rows(features):
    features.register_view("rides", rides(), entity="driver", timestamp="ts",
                           features=["trips", "rating", "city"])
    h = pd.Timedelta(hours=1)
    entity = pd.DataFrame({"driver": [1, 1, 1, 1, 2, 3, 9],
                           "ts": [T0 - h, T0, T0 + 2 * h, T0 + 3 * h, T0 + 2 * h, T0 + 9 * h, T0]})
    out = features.get_training_set(entity, ["rides:trips", "rides:rating", "rides:city"]).frame
    # before any row: missing; at a row's exact time: that row; between rows: the earlier.
    assert out["trips"].tolist()[:4] == [pytest.approx(np.nan, nan_ok=True), 10, 11, 12]
    # Driver 1's row at 03:00 has rating NaN: the whole latest row is used, no back-filling.
    assert np.isnan(out["rating"].iloc[3]) and out["city"].iloc[3] == "lyon"
    assert out["trips"].iloc[4] == 21 and out["trips"].iloc[5] == 30
    assert np.isnan(out["trips"].iloc[6])  # an unknown entity gets missing values


def test_ttl_drops_stale_values_instead_of_older_ones(features):
    features.register_view("rides", rides(), entity="driver", timestamp="ts",
                           features=["trips"], ttl=dt.timedelta(minutes=90))
    h = pd.Timedelta(hours=1)
    entity = pd.DataFrame({"driver": [1, 1, 1], "ts": [T0 + 2 * h, T0 + h + 90 * pd.Timedelta(
        minutes=1), T0 + h + 91 * pd.Timedelta(minutes=1)]})
    out = features.get_training_set(entity, ["rides:trips"]).frame["trips"].tolist()
    assert out[0] == 11 and out[1] == 11  # 60 and exactly 90 minutes old: still valid
    assert np.isnan(out[2])  # 91 minutes: stale, and the even older row is not used instead


def test_duplicate_entity_rows_each_get_their_answer(features):
    features.register_view("rides", rides(), entity="driver", timestamp="ts", features=["trips"])
    entity = pd.DataFrame({"driver": [2, 2, 2], "ts": [T0 + pd.Timedelta(hours=2)] * 3},
                          index=[7, 3, 5])
    out = features.get_training_set(entity, ["rides:trips"]).frame
    assert out["trips"].tolist() == [21, 21, 21] and list(out.index) == [7, 3, 5]


def test_aware_times_compare_as_instants_across_zones(features):
    view = rides()
    view["ts"] = view["ts"].dt.tz_localize("UTC")
    features.register_view("rides", view, entity="driver", timestamp="ts", features=["trips"])
    # 02:30 in Paris (UTC+1) is 01:30 UTC: driver 1's 01:00 row, not the 03:00 one.
    entity = pd.DataFrame({"driver": [1], "ts": [pd.Timestamp("2024-01-01 02:30",
                                                               tz="Europe/Paris")]})
    assert features.get_training_set(entity, ["rides:trips"]).frame["trips"].tolist() == [11]


def test_naive_entity_times_against_an_aware_view_are_refused(features):
    view = rides()
    view["ts"] = view["ts"].dt.tz_localize("UTC")
    features.register_view("rides", view, entity="driver", timestamp="ts", features=["trips"])
    entity = pd.DataFrame({"driver": [1], "when": [T0]})
    with pytest.raises(InvalidInputError, match="'when' of the entity frame is timezone-naive"):
        features.get_training_set(entity, ["rides:trips"], timestamp="when")


def test_mixed_naive_and_aware_times_in_one_column_are_refused(features):
    view = rides().astype({"ts": object})
    view.loc[0, "ts"] = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    with pytest.raises(InvalidInputError, match="'ts' of feature view 'rides'.*mixes"):
        features.register_view("rides", view, entity="driver", timestamp="ts",
                               features=["trips"])


def test_two_views_in_one_training_set_with_lineage(features, client):
    features.register_view("rides", rides(), entity="driver", timestamp="ts", features=["trips"])
    other = rides().rename(columns={"trips": "tips"})
    other["tips"] = other["tips"] * 2
    features.register_view("tips", other, entity="driver", timestamp="ts", features=["tips"])
    entity = pd.DataFrame({"driver": [1, 2], "ts": [T0 + pd.Timedelta(hours=5)] * 2})
    ts = features.get_training_set(entity, ["rides:trips", "tips:tips"])
    assert ts.frame["trips"].tolist() == [12, 21] and ts.frame["tips"].tolist() == [24, 42]
    assert ts.features == ("rides@1:trips", "tips@1:tips")
    again = features.get_training_set(entity.copy(), ["rides:trips", "tips:tips"])
    assert again.digest == ts.digest  # same entity frame and view versions: same node
    run = client.create_run(name="train")
    features.log_training_set(ts, run.id)
    graph = client.lineage(f"run:{run.id}", depth=4)
    kinds = {n.type for n in graph.nodes}
    assert {"dataset", "feature_view", "training_set", "run"} <= kinds
    assert any(e.src.startswith("feature_view:") and e.dst == f"training_set:{ts.digest}"
               for e in graph.edges)
    # every feature node carries a name the graph and the panel show
    features.materialize("rides")
    labels = {n.id: n.label for n in client.lineage(f"run:{run.id}", depth=4).nodes}
    rides_id = features.get_view("rides").id
    assert labels[f"feature_view:{rides_id}"] == "rides@1"
    assert labels[f"feature_view:{features.get_view('tips').id}"] == "tips@1"
    assert labels[f"training_set:{ts.digest}"] == f"training set {ts.digest[:8]}"
    assert labels[f"materialization:{rides_id}"] == "rides@1 online"
    features.materialize("rides")  # again: still one online node, one edge
    edges = [e for e in client.lineage(f"materialization:{rides_id}", depth=1).edges]
    assert [(e.src, e.relation) for e in edges] == [(f"feature_view:{rides_id}", "materialized")]
