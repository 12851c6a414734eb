"""The in-memory join engine against bare ``pandas.merge_asof``: same values, same dtypes.

``join.asof_join`` does not call ``merge_asof`` (it packs key codes and row positions into one
sorted int64 array, see its module docstring); these tests hold it to ``merge_asof``'s answer
column by column — dense, wide, negative and huge integer keys, text keys, two-column keys,
naive and aware times, TTL, exact-time matches, every feature dtype with and without gaps.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jupyter_mlops.feature_store.frames import canonical, entity_keys
from jupyter_mlops.feature_store.join import asof_join
from jupyter_mlops.feature_store.timestamps import event_times

T0 = pd.Timestamp("2024-01-01")
FEATURES = ["f", "i", "b", "s", "d", "dz", "I"]


def add_features(view: pd.DataFrame) -> None:
    """The FEATURES columns, one of each kind the join must carry (missing values too)."""
    m = len(view)
    view["f"] = np.linspace(0.5, 9.5, m)
    view["i"] = np.arange(m, dtype=np.int64)
    view["b"] = np.arange(m) % 2 == 0
    view["s"] = [f"x{i}" if i % 3 else None for i in range(m)]
    view["d"] = T0 + pd.to_timedelta(np.arange(m), "D")
    view["dz"] = view["d"].dt.tz_localize("UTC")
    view["I"] = pd.array([None if i == 0 else i for i in range(m)], dtype="Int64")
# How integer keys are spread: dense codes, wide (hashed-id-like), negative, near 2**62.
KEY_SCALES = {"dense": (0, 1), "wide": (0, 10**12), "negative": (-50, 1), "huge": (2**62, 1)}


def _reference(keys, times, table, entity, features, ttl_ns):
    """What one writes by hand: merge_asof on the sorted entity rows, back in their order."""
    n = len(times)
    left = pd.DataFrame({c: np.asarray(keys[c]) for c in entity})
    left["__t"] = times.to_numpy() if times.dtype.kind == "M" else times.array
    left["__row"] = np.arange(n)
    left = left.sort_values("__t", kind="stable")
    right = table.to_pandas()
    out = pd.merge_asof(left, right, left_on="__t", right_on="ts", by=list(entity),
                        direction="backward", allow_exact_matches=True,
                        tolerance=None if ttl_ns is None else pd.Timedelta(ttl_ns, "ns"))
    out = out.sort_values("__row").reset_index(drop=True)
    return {f: out[f].to_numpy() for f in features}


@st.composite
def cases(draw):
    kind = draw(st.sampled_from(["dense", "wide", "negative", "huge", "text", "pair"]))
    aware = draw(st.booleans())
    rows = draw(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3), st.integers(0, 30)),
                         min_size=1, max_size=50, unique_by=lambda r: r))
    wanted = draw(st.lists(st.tuples(st.integers(0, 7), st.integers(0, 3), st.integers(-3, 33)),
                           min_size=1, max_size=40))
    ttl = draw(st.one_of(st.none(), st.integers(0, 10)))
    return kind, aware, rows, wanted, ttl


def _keys(kind, values):
    if kind == "text":
        return [f"k{v}" for v in values]
    if kind == "pair":
        return list(values)
    lo, scale = KEY_SCALES[kind]
    return [lo + v * scale for v in values]


@pytest.mark.slow  # 4-8 s: CI runs it, make test-fast does not
@settings(max_examples=150, deadline=None)
@given(case=cases())
def test_same_answer_and_dtypes_as_merge_asof(case):
    kind, aware, rows, wanted, ttl = case
    entity = ("k", "k2") if kind == "pair" else ("k",)
    if kind != "pair":
        seen: set = set()
        rows = [r for r in rows if (r[0], r[2]) not in seen and not seen.add((r[0], r[2]))]
    view = pd.DataFrame({"k": _keys(kind, [r[0] for r in rows]),
                         "ts": [T0 + pd.Timedelta(minutes=r[2]) for r in rows]})
    if kind == "pair":
        view["k2"] = [r[1] for r in rows]
    if aware:
        view["ts"] = view["ts"].dt.tz_localize("Europe/Paris")
    add_features(view)
    vf = canonical(view, entity, "ts", tuple(FEATURES), "the view")
    table = pa.Table.from_pandas(vf.frame, preserve_index=False)
    frame = pd.DataFrame({"k": _keys(kind, [w[0] for w in wanted]),
                          "ts": [T0 + pd.Timedelta(minutes=w[2]) for w in wanted]})
    if kind == "pair":
        frame["k2"] = [w[1] for w in wanted]
    if aware:
        frame["ts"] = frame["ts"].dt.tz_localize("UTC")
    keys = entity_keys(frame, entity, "the entity frame")
    times = event_times(frame["ts"], "ts", "the entity frame")
    ttl_ns = None if ttl is None else ttl * 60 * 10**9
    got = asof_join(keys, times, table, "ts", entity, FEATURES, ttl_ns)
    want = _reference(keys, times, table, entity, FEATURES, ttl_ns)
    for f in FEATURES:
        assert got[f].dtype == want[f].dtype, f
        pd.testing.assert_series_equal(pd.Series(got[f]), pd.Series(want[f]), obj=f)


def test_empty_sides_give_missing_values():
    table = pa.table({"k": pa.array([], pa.int64()), "ts": pa.array([], pa.timestamp("ns")),
                      "f": pa.array([], pa.float64())})
    keys = {"k": pd.Series([1, 2], dtype="int64")}
    times = pd.Series([T0, T0 + pd.Timedelta(days=1)])
    got = asof_join(keys, times, table, "ts", ("k",), ["f"], None)
    assert np.isnan(got["f"]).all() and len(got["f"]) == 2


@pytest.mark.parametrize("lo", [-(2**62), 0, 2**62])
def test_narrow_range_of_big_keys_does_not_overflow(lo):
    # Dense codes are key − min: keys near ±2**62 must not overflow the packed int64.
    table = pa.table({"k": pa.array([lo, lo + 1, lo], pa.int64()),
                      "ts": pa.array(pd.to_datetime(["2024-01-01", "2024-01-01",
                                                     "2024-01-02"]).to_numpy()),
                      "f": pa.array([1.0, 2.0, 3.0])})
    keys = {"k": pd.Series([lo, lo + 1, lo, lo + 5], dtype="int64")}
    times = pd.Series([T0 + pd.Timedelta(hours=12)] + [T0 + pd.Timedelta(days=2)] * 3)
    got = asof_join(keys, times, table, "ts", ("k",), ["f"], None)
    np.testing.assert_array_equal(got["f"], [1.0, 2.0, 3.0, np.nan])
