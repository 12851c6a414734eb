"""Materialization and online lookups: equal to the latest offline value, incremental,
resumable after a kill, TTL at lookup time, and the errors a caller can make."""

from __future__ import annotations

import datetime as dt
import signal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jupyter_mlops.errors import InvalidInputError, NotFoundError
from jupyter_mlops.feature_store.online import encode_key, online_features
from tests.features.conftest import rides

CHILD = Path(__file__).with_name("materialize_child.py")
FAR_FUTURE = pd.Timestamp("2200-01-01")


def many_rows(n_keys: int = 300, per_key: int = 5, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    keys = np.repeat(np.arange(n_keys), per_key)
    minutes = rng.permutation(n_keys * per_key * 3)[:n_keys * per_key]
    return pd.DataFrame({
        "driver": keys,
        "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(minutes, unit="min"),
        "trips": rng.integers(0, 1000, len(keys)),
        "rating": rng.normal(4, 1, len(keys)),
        "city": rng.choice(["paris", "lyon", "nice"], len(keys)),
        "seen_at": pd.Timestamp("2023-06-01", tz="UTC") + pd.to_timedelta(minutes, unit="s"),
    })


FEATS = ["trips", "rating", "city", "seen_at"]


def latest_offline(features, view: str, keys) -> pd.DataFrame:
    entity = pd.DataFrame({"driver": keys, "ts": [FAR_FUTURE] * len(keys)})
    return features.get_training_set(entity, [f"{view}:{f}" for f in FEATS]).frame


def assert_online_equals_offline(features, view: str, keys) -> None:
    online = features.get_online_features(list(keys), [f"{view}:{f}" for f in FEATS],
                                          as_frame=True)
    offline = latest_offline(features, view, list(keys))
    for f in FEATS:
        got, want = online[f].tolist(), offline[f].tolist()
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert (pd.isna(g) and pd.isna(w)) or g == w, (f, g, w)


def test_online_values_equal_the_latest_offline_values(features):
    features.register_view("d", many_rows(), entity="driver", timestamp="ts", features=FEATS)
    report = features.materialize("d", batch_rows=97)
    assert report.rows_written == 300 and report.batches >= 4
    assert_online_equals_offline(features, "d", range(0, 305))  # 300–304 unknown: None
    again = features.materialize("d")  # nothing newer than the watermark: nothing written
    assert again.rows_written == 0 and again.watermark_ns == report.watermark_ns


def test_incremental_windows_end_where_a_full_run_ends(features):
    rows = many_rows(50, 4)
    features.register_view("d", rows, entity="driver", timestamp="ts", features=FEATS)
    cut = rows["ts"].sort_values().iloc[len(rows) // 2]
    first = features.materialize("d", end=cut)
    assert first.watermark_ns == int(cut.value)
    entity = pd.DataFrame({"driver": range(50), "ts": [cut] * 50})
    half = features.get_training_set(entity, ["d:trips"]).frame["trips"]
    mid = features.get_online_features(list(range(50)), ["d:trips"])["trips"]
    assert [None if pd.isna(x) else x for x in half] == mid  # online at the cut = offline at it
    features.materialize("d")
    assert_online_equals_offline(features, "d", range(50))


@pytest.mark.slow
def test_materialize_resumes_after_a_kill(features, spawn_python):
    rows = many_rows(400, 3, seed=5)
    features.register_view("d", rows, entity="driver", timestamp="ts", features=FEATS)
    child = spawn_python(CHILD, "d", 50)
    line = child.stdout.readline()
    assert line.startswith("committed 50 of 400"), line + child.stderr.read()
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    view = features.get_view("d")
    store = features._client.store
    partial = store.features.materialization(view.id)
    assert partial is not None and partial.rows_written == 50
    assert partial.watermark_ns < view.max_event_ns  # stopped mid-way, one batch committed
    resumed = features.materialize("d", batch_rows=50)
    assert resumed.rows_written == 350  # only what the killed run had not committed
    assert_online_equals_offline(features, "d", range(400))


def test_ttl_applies_at_lookup_time(features):
    features.register_view("r", rides(), entity="driver", timestamp="ts",
                           features=["trips"], ttl=dt.timedelta(hours=2))
    features.materialize("r")
    store = features._client.store
    at = pd.Timestamp("2024-01-01 04:00").value  # driver 1 at 03:00, 2 at 02:00, 3 at 00:00
    got = online_features(store, [1, 2, 3], ["r:trips"], now_ns=at)
    assert got["trips"] == [12, 21, None]  # 1 h and exactly 2 h old: valid; 4 h: stale


def test_online_lookup_errors(features):
    features.register_view("r", rides(), entity="driver", timestamp="ts", features=["trips"])
    with pytest.raises(NotFoundError, match="r@1 is not materialized"):
        features.get_online_features([1], ["r:trips"])
    features.materialize("r")
    changed = rides().assign(trips=0)
    features.register_view("r", changed, entity="driver", timestamp="ts", features=["trips"])
    with pytest.raises(NotFoundError, match="r@2 is not materialized"):  # never v1's values
        features.get_online_features([1], ["r:trips"])
    assert features.get_online_features([1], ["r@1:trips"])["trips"] == [12]
    with pytest.raises(InvalidInputError, match="'driver'.*integers, got '1'"):
        features.get_online_features(["1"], ["r@1:trips"])
    with pytest.raises(InvalidInputError, match="Unknown entity column 'driver'"):
        features.get_online_features([{"rider": 1}], ["r@1:trips"])
    with pytest.raises(InvalidInputError, match="start .* is after end"):
        features.materialize("r", start="2024-02-01", end="2024-01-01")


@given(st.lists(st.one_of(st.integers(-2**63, 2**63 - 1), st.text(max_size=20)), min_size=1,
                max_size=3))
def test_the_fast_key_encoding_is_the_json_encoding(values):
    import json

    assert encode_key(values) == json.dumps(values, separators=(",", ":"), ensure_ascii=False)


# ---------------------------------------------------------------- the stdlib-sqlite3 path
def _sqlite_only(store_url: str) -> None:
    if not store_url.startswith("sqlite"):
        pytest.skip("the lite reader is for SQLite files; PostgreSQL takes the SQLAlchemy path")


def test_lite_reader_answers_as_the_sqlalchemy_store(features, store_url):
    """The client's first-lookup path (stdlib sqlite3) gives exactly the store's answers:
    values of every dtype, missing keys, TTL, pinned versions, text keys; and the same
    errors, word for word."""
    from jupyter_mlops.store.features import _ONLINE_SQLITE
    from jupyter_mlops.store.features_lite import ONLINE_SQL, LiteFeatureReader, feature_reader

    _sqlite_only(store_url)
    assert ONLINE_SQL == _ONLINE_SQLITE
    store = features._client.store
    lite = feature_reader(store.url, lambda: store.features)
    assert isinstance(lite, LiteFeatureReader)
    features.register_view("d", many_rows(), entity="driver", timestamp="ts", features=FEATS,
                           ttl=dt.timedelta(days=30))
    features.materialize("d")
    text = rides().assign(driver=lambda f: f["driver"].map({1: "a", 2: "b", 3: "ü\"'"}))
    features.register_view("t", text, entity="driver", timestamp="ts",
                           features=["trips", "rating", "city"])
    features.materialize("t")
    for name, version in (("d", None), ("d", 1), ("t", None)):
        view = store.features.get_view(name, version)
        assert lite.get_view(name, version) == view
        assert lite.materialization(view.id) == store.features.materialization(view.id)
        k = ['[0]', '[5]', '[300]', '["a"]']
        assert lite.online_values(view.id, k) == store.features.online_values(view.id, k)
    keys = [0, 5, 299, 300, -1, 5, 17]
    for rows, feats, kw in [
            (keys, [f"d:{f}" for f in FEATS], {}),
            ([{"driver": k} for k in keys], ["d@1:trips", "d:seen_at"], {"full_names": True}),
            ({"driver": keys}, ["d:rating"], {"now_ns": pd.Timestamp("2024-03-01").value}),
            (["a", "b", "ü\"'", "zz"], ["t:trips", "t:rating", "t:city"], {}),
            ([], ["t:trips"], {})]:
        want = online_features(store, rows, feats, **kw)
        got = online_features(store, rows, feats, reader=lite, **kw)
        assert got.keys() == want.keys()
        for c in want:
            assert len(got[c]) == len(want[c])
            for g, w in zip(got[c], want[c]):
                assert type(g) is type(w) and ((g != g and w != w) or g == w), (c, g, w)
        assert features.get_online_features(rows, feats, full_names=kw.get(
            "full_names", False)).keys() == want.keys()
    features.register_view("u", rides(), entity="driver", timestamp="ts", features=["trips"])
    for feats in (["nope:trips"], ["d@7:trips"], ["u:trips"], ["d:nope"]):
        with pytest.raises(NotFoundError) as full:
            online_features(store, [1], feats)
        with pytest.raises(NotFoundError) as light:
            online_features(store, [1], feats, reader=lite)
        assert str(light.value) == str(full.value)


def _child_answer(code: str, env: dict) -> dict:
    """Run ``code`` in a fresh interpreter; the JSON it printed last."""
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_first_lookup_of_a_fresh_process_imports_neither_sqlalchemy_nor_pandas(
        features, store_url, subprocess_env):
    _sqlite_only(store_url)
    features.register_view("d", many_rows(), entity="driver", timestamp="ts", features=FEATS)
    features.materialize("d")
    want = features.get_online_features([1, 2, 999], ["d:trips", "d:city"])
    code = ("import json, sys\n"
            "from jupyter_mlops.client import Client\n"
            "got = Client().features.get_online_features([1, 2, 999], ['d:trips', 'd:city'])\n"
            "print(json.dumps({'got': got, 'loaded': sorted(m for m in ('sqlalchemy', 'pandas',"
            " 'numpy') if m in sys.modules)}))\n")
    answer = _child_answer(code, subprocess_env)
    assert answer["got"] == want
    assert answer["loaded"] == []


def test_first_training_set_of_a_fresh_process_imports_no_sqlalchemy(
        features, store_url, subprocess_env):
    """A notebook's first ``get_training_set`` on a SQLite file reads its views and writes
    its lineage through sqlite3, with the same frame, digest and views as in the process
    that registered them; an unknown view is the store's own error, word for word (that
    one loads SQLAlchemy, to name the views that exist)."""
    _sqlite_only(store_url)
    features.register_view("d", many_rows(), entity="driver", timestamp="ts", features=FEATS)
    make_entity = ("pd.DataFrame({'driver': [1, 2, 999, 1], 'ts': pd.to_datetime("
                   "['2024-01-02', '2024-01-09', '2024-01-05', '2023-01-01'])})")
    entity = eval(make_entity)  # noqa: S307 - the test's own literal, built the same in the child
    want = features.get_training_set(entity, ["d:trips", "d@1:city"])
    with pytest.raises(NotFoundError) as full:
        features.get_training_set(entity, ["nope:trips"])
    code = ("import json, sys\nimport pandas as pd\n"
            "from jupyter_mlops.client import Client\n"
            f"entity = {make_entity}\n"
            "features = Client().features\n"
            "got = features.get_training_set(entity, ['d:trips', 'd@1:city'])\n"
            "light = 'sqlalchemy' not in sys.modules\n"  # the error below takes the full path
            "try:\n    features.get_training_set(entity, ['nope:trips'])\n"
            "except Exception as exc:\n    error = str(exc)\n"
            "print(json.dumps({'frame': got.frame.to_json(orient='split', date_format='iso',"
            " date_unit='ns'),"
            " 'digest': got.digest, 'views': got.views, 'error': error,"
            " 'light': light}))\n")
    answer = _child_answer(code, subprocess_env)
    assert answer["frame"] == want.frame.to_json(orient="split", date_format="iso",
                                                 date_unit="ns")
    assert answer["digest"] == want.digest
    assert [tuple(v) for v in answer["views"]] == [tuple(v) for v in want.views]
    assert answer["error"] == str(full.value)
    assert answer["light"] is True
