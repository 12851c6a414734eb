"""The key order stored with a view's rows: the join gathers with it instead of sorting.

``offline.write_offline`` stores, beside the rows, the stable permutation that sorts them by
key; ``join.match_rows`` gathers its packed array through it and checks the result, falling
back to the sort. These tests hold the join with the stored order to ``merge_asof``'s answer
(every key kind, ties across keys, TTL, time zones), check that no sort happens when the
order is right and that a wrong one costs only the sort, that blobs written without an order
still join, and that the order column never reaches a reader, a digest or a schema.
"""

from __future__ import annotations

import json
from unittest import mock

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jupyter_mlops.feature_store import join, offline
from jupyter_mlops.feature_store.frames import canonical, entity_keys
from jupyter_mlops.feature_store.timestamps import event_times
from tests.features.conftest import rides
from tests.features.test_join_engine import (
    FEATURES, KEY_SCALES, T0, _reference, add_features,
)

#: Key kinds: one integer column spread four ways (dense codes, wide and huge ranges go
#: through factorize), text, two integer columns, and text + integer.
KINDS = [*KEY_SCALES, "text", "pair", "text_pair"]


@st.composite
def cases(draw):
    kind = draw(st.sampled_from(KINDS))
    aware = draw(st.booleans())
    # Few minutes, several keys: many rows share a time across keys (ties the order breaks
    # by key, the time order within a key kept).
    rows = draw(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3), st.integers(0, 12)),
                         min_size=1, max_size=60, unique_by=lambda r: r))
    wanted = draw(st.lists(st.tuples(st.integers(0, 7), st.integers(0, 4), st.integers(-3, 15)),
                           min_size=1, max_size=40))
    ttl = draw(st.one_of(st.none(), st.integers(0, 6)))
    return kind, aware, rows, wanted, ttl


def _key_values(kind, values):
    if kind in ("text", "text_pair"):
        # Not in code point order by first appearance, and with prefixes and non-ASCII:
        # factorize's codes differ from the key order unless put in it.
        return [["zé", "a", "é", "ab", "Z", "b", "日本", "a\u0301"][v] for v in values]
    if kind == "pair":
        return list(values)
    lo, scale = KEY_SCALES[kind]
    return [lo + v * scale for v in values]


def _build(case):
    """(keys, times, table, entity, ttl_ns) of a drawn case, the view in canonical order."""
    kind, aware, rows, wanted, ttl = case
    entity = ("k", "k2") if kind in ("pair", "text_pair") else ("k",)
    if len(entity) == 1:
        seen: set = set()
        rows = [r for r in rows if (r[0], r[2]) not in seen and not seen.add((r[0], r[2]))]
    view = pd.DataFrame({"k": _key_values(kind, [r[0] for r in rows]),
                         "ts": [T0 + pd.Timedelta(minutes=r[2]) for r in rows]})
    if len(entity) == 2:
        view["k2"] = [r[1] for r in rows]
    if aware:
        view["ts"] = view["ts"].dt.tz_localize("Europe/Paris")
    add_features(view)
    vf = canonical(view, entity, "ts", tuple(FEATURES), "the view")
    table = pa.Table.from_pandas(vf.frame, preserve_index=False)
    frame = pd.DataFrame({"k": _key_values(kind, [w[0] for w in wanted]),
                          "ts": [T0 + pd.Timedelta(minutes=w[2]) for w in wanted]})
    if len(entity) == 2:
        frame["k2"] = [w[1] for w in wanted]
    if aware:
        frame["ts"] = frame["ts"].dt.tz_localize("UTC")
    keys = entity_keys(frame, entity, "the entity frame")
    times = event_times(frame["ts"], "ts", "the entity frame")
    return keys, times, table, entity, None if ttl is None else ttl * 60 * 10**9


def _join_counting_sorts(keys, times, table, entity, ttl_ns, order):
    with mock.patch.object(join, "_sort", wraps=join._sort) as sort:
        got = join.asof_join(keys, times, table, "ts", entity, FEATURES, ttl_ns,
                             key_order=order)
    return got, sort.call_count


def _assert_same(got, want):
    for f in FEATURES:
        assert got[f].dtype == want[f].dtype, f
        pd.testing.assert_series_equal(pd.Series(got[f]), pd.Series(want[f]), obj=f)


def _chunked(table, rows_per_chunk):
    """The same table in chunks of ``rows_per_chunk`` rows, as Parquet reads a big one."""
    return pa.Table.from_batches(table.to_batches(max_chunksize=rows_per_chunk), table.schema)


@pytest.mark.slow  # 5-10 s: CI runs it, make test-fast does not
@settings(max_examples=150, deadline=None)
@given(case=cases(), rows_per_chunk=st.integers(1, 9), pieces=st.integers(1, 5))
def test_the_stored_order_gives_merge_asofs_answer_without_a_sort(case, rows_per_chunk,
                                                                  pieces):
    keys, times, table, entity, ttl_ns = _build(case)
    # A chunked view (times searched chunk by chunk) and the order in pieces, as read.
    table = _chunked(table, rows_per_chunk)
    order = np.array_split(offline.key_order(table, entity), pieces)
    got, sorts = _join_counting_sorts(keys, times, table, entity, ttl_ns, order)
    _assert_same(got, _reference(keys, times, table, entity, FEATURES, ttl_ns))
    # Every key kind's codes follow the stored order: dense integers by themselves,
    # factorized integers and text once put in key order, composite keys lexicographically.
    assert sorts == 0


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(case=cases(), how=st.sampled_from(["reversed", "shuffled", "short", "shifted",
                                          "wrapped", "time_order", "float"]))
def test_a_wrong_order_costs_the_sort_never_an_answer(case, how):
    keys, times, table, entity, ttl_ns = _build(case)
    m = table.num_rows
    right = offline.key_order(table, entity)
    order = {"reversed": right[::-1].copy(),
             "shuffled": np.random.default_rng(m).permutation(right),
             "short": right[:-1],
             "shifted": right + 1,  # the last index one past the end
             "wrapped": right + m,  # out of range, and the right order modulo m
             "time_order": np.arange(m, dtype=np.int32),
             "float": right.astype(np.float64)}[how]
    got, sorts = _join_counting_sorts(keys, times, table, entity, ttl_ns, order)
    _assert_same(got, _reference(keys, times, table, entity, FEATURES, ttl_ns))
    # The right order is unique (the packed values are distinct): any other is caught and
    # costs the sort; one that happens to equal it modulo the row count (one row, a view
    # already in key order, indices wrapped) is used.
    used = order.dtype.kind in "iu" and len(order) == m and np.array_equal(order % m, right)
    assert sorts == (0 if used else 1)


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(case=cases(), rows_per_chunk=st.integers(1, 9))
def test_no_stored_order_sorts_as_before(case, rows_per_chunk):
    keys, times, table, entity, ttl_ns = _build(case)
    table = _chunked(table, rows_per_chunk)
    got, sorts = _join_counting_sorts(keys, times, table, entity, ttl_ns, None)
    _assert_same(got, _reference(keys, times, table, entity, FEATURES, ttl_ns))
    assert sorts == 1


def test_key_order_is_stable_by_key_in_code_point_order():
    table = pa.table({"k": ["b", "é", "a", "b", "Z", "a"], "k2": [2, 1, 1, 1, 0, 0]})
    assert offline.key_order(table, ("k",)).tolist() == [4, 2, 5, 0, 3, 1]
    assert offline.key_order(table, ("k", "k2")).tolist() == [4, 5, 2, 3, 0, 1]
    assert offline.key_order(table, ("k",)).dtype == np.int32


# ----------------------------------------------------------------------------- in the store
def _blob_schema(features, name):
    view = features.get_view(name)
    data = features._store.blobs.get_bytes(view.blob_digest)
    return view, pq.read_schema(pa.BufferReader(data))


def test_registration_stores_the_order_and_no_reader_sees_it(features):
    features.register_view("rides", rides(), entity="driver", timestamp="ts",
                           features=["trips", "rating", "city"])
    view, schema = _blob_schema(features, "rides")
    info = json.loads(schema.metadata[offline.KEY_ORDER_META])
    assert info["entity"] == ["driver"] and info["column"] in schema.names
    assert schema.field(info["column"]).type == pa.int32()
    assert info["column"] not in view.schema and info["column"] not in view.features
    blobs = features._store.blobs
    cols = ["driver", "ts", "trips", "rating", "city"]
    frame = offline.read_offline(blobs, view.blob_digest, cols)
    assert list(frame.columns) == cols
    table = offline.read_offline_table(blobs, view.blob_digest, cols)
    assert offline.KEY_ORDER_META not in (table.schema.metadata or {})
    table, order = offline.read_join_table(blobs, view.blob_digest, cols, view.entity)
    assert table.column_names == cols and offline.KEY_ORDER_META not in table.schema.metadata
    assert np.concatenate(order).tolist() == offline.key_order(table, ("driver",)).tolist()
    # Another entity than the one it sorts by: no order.
    assert offline.read_join_table(blobs, view.blob_digest, cols, ("city",))[1] is None
    entity = pd.DataFrame({"driver": [1, 2, 3, 9], "ts": [T0 + pd.Timedelta(hours=2)] * 4})
    with mock.patch.object(join, "_sort", side_effect=AssertionError("sorted")):
        out = features.get_training_set(entity, ["rides:trips", "rides:city"]).frame
    assert list(out.columns) == ["driver", "ts", "trips", "city"]
    assert out["trips"].tolist()[:3] == [11, 21, 30] and np.isnan(out["trips"].iloc[3])


def test_a_blob_without_the_order_joins_the_same_and_the_version_is_the_same(features,
                                                                             monkeypatch):
    from jupyter_mlops.feature_store import views

    real = offline.write_offline
    monkeypatch.setattr(views, "write_offline",  # as versions before the order were written
                        lambda blobs, frame, feats=(), entity=(): real(blobs, frame, feats))
    old = features.register_view("old", rides(), entity="driver", timestamp="ts",
                                 features=["trips", "rating", "city"])
    monkeypatch.setattr(views, "write_offline", real)
    new = features.register_view("new", rides(), entity="driver", timestamp="ts",
                                 features=["trips", "rating", "city"])
    assert old.digest == new.digest and old.data_digest == new.data_digest
    assert old.schema == new.schema and old.blob_digest != new.blob_digest
    _, schema = _blob_schema(features, "old")
    assert offline.KEY_ORDER_META not in (schema.metadata or {})
    assert offline.read_join_table(features._store.blobs, old.blob_digest, ["driver"],
                                   ("driver",))[1] is None
    h = pd.Timedelta(hours=1)
    entity = pd.DataFrame({"driver": [1, 1, 1, 1, 2, 3, 9],
                           "ts": [T0 - h, T0, T0 + 2 * h, T0 + 3 * h, T0 + 2 * h, T0 + 9 * h,
                                  T0]})
    with mock.patch.object(join, "_sort", wraps=join._sort) as sort:
        a = features.get_training_set(entity, ["old:trips", "old:rating", "old:city"]).frame
    assert sort.call_count == 1
    b = features.get_training_set(entity, ["new:trips", "new:rating", "new:city"]).frame
    pd.testing.assert_frame_equal(a, b)
    stats = [[(s.feature, s.dtype, s.stats) for s in features.statistics(n)]
             for n in ("old", "new")]
    assert stats[0] == stats[1]


def test_a_feature_named_like_the_order_column_keeps_its_values(features):
    view = rides().rename(columns={"trips": "__key_order__"})
    features.register_view("odd", view, entity="driver", timestamp="ts",
                           features=["__key_order__"])
    record, schema = _blob_schema(features, "odd")
    info = json.loads(schema.metadata[offline.KEY_ORDER_META])
    assert info["column"] != "__key_order__" and info["column"] in schema.names
    entity = pd.DataFrame({"driver": [1, 2, 3], "ts": [T0 + pd.Timedelta(hours=2)] * 3})
    with mock.patch.object(join, "_sort", side_effect=AssertionError("sorted")):
        out = features.get_training_set(entity, ["odd:__key_order__"]).frame
    assert out["__key_order__"].tolist() == [11, 21, 30]


def test_composite_text_keys_in_the_store_use_the_order(features):
    view = pd.DataFrame({"city": ["lyon", "paris", "lyon", "évry", "paris", "Nice"],
                         "driver": [1, 1, 2, 1, 1, 1],
                         "ts": [T0, T0, T0, T0, T0 + pd.Timedelta(hours=1), T0],
                         "trips": [1, 2, 3, 4, 5, 6]})
    features.register_view("pairs", view, entity=["city", "driver"], timestamp="ts",
                           features=["trips"])
    entity = pd.DataFrame({"city": ["paris", "paris", "évry", "lyon", "Nice", "rome"],
                           "driver": [1, 1, 1, 2, 1, 1],
                           "ts": [T0, T0 + pd.Timedelta(hours=2), T0, T0, T0, T0]})
    with mock.patch.object(join, "_sort", side_effect=AssertionError("sorted")):
        out = features.get_training_set(entity, ["pairs:trips"]).frame
    assert out["trips"].tolist()[:5] == [2, 5, 4, 3, 6] and np.isnan(out["trips"].iloc[5])
