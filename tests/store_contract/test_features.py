"""AbstractFeatureStore contract: view versions, statistics, source tables, the online table
and its watermark — the same behaviour on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_mlops.errors import InvalidInputError, NotFoundError
from jupyter_mlops.store.features import FeatureStore


@pytest.fixture
def fs(backend_url: str) -> FeatureStore:
    return FeatureStore(backend_url)


def version(fs: FeatureStore, name: str = "rides", digest: str = "d1", **kw):
    fields = dict(name=name, digest=digest, data_digest="data-" + digest, blob_digest="b" * 64,
                  schema={"driver": "int64", "ts": "datetime64[ns]", "trips": "int64"},
                  entity=["driver"], timestamp_column="ts", features=["trips", "rating"],
                  ttl_seconds=None, description="ñ rides", source="DataFrame", rows=10,
                  entities=3, min_event_ns=1, max_event_ns=99, dataset_id=None, user="ada",
                  stats={"rating": ("float64", {"kind": "numeric", "min": 1.0}),
                         "trips": ("int64", {"kind": "numeric", "min": 0})})
    fields.update(kw)
    return fs.add_view_version(**fields)


def test_versions_are_numbered_per_name_and_the_same_digest_is_the_same_version(fs):
    first, created = version(fs)
    assert created and first.version == 1 and first.ref == "rides@1"
    again, created = version(fs, description="another text")
    assert not created and again == first  # the digest decides, not the description
    second, created = version(fs, digest="d2", ttl_seconds=60.0)
    assert created and second.version == 2 and second.ttl_seconds == 60.0
    other, _ = version(fs, name="tips", digest="d1")
    assert other.version == 1  # numbering is per view
    assert fs.find_view("rides", "d2") == second and fs.find_view("rides", "zz") is None
    assert fs.get_view("rides") == second and fs.get_view("rides", 1) == first
    assert fs.get_view_by_id(first.id) == first
    assert [v.version for v in fs.versions("rides")] == [1, 2]
    assert first.entity == ("driver",) and first.features == ("trips", "rating")
    assert first.schema["ts"] == "datetime64[ns]" and first.description == "ñ rides"


def test_unknown_views_and_versions_are_not_found_naming_what_exists(fs):
    version(fs)
    with pytest.raises(NotFoundError, match=r"no feature view 'cars' \(views: 'rides'\)"):
        fs.get_view("cars")
    with pytest.raises(NotFoundError, match="'rides' has no version 7"):
        fs.get_view("rides", 7)
    with pytest.raises(NotFoundError, match="no feature view 'cars'"):
        fs.versions("cars")
    with pytest.raises(NotFoundError, match="id 999999"):
        fs.get_view_by_id(999999)


def test_concurrent_registrations_of_one_definition_agree_on_one_version(fs):
    results, errors = [], []

    def register():
        try:
            results.append(version(fs, digest="same"))
        except Exception as exc:  # noqa: BLE001 - the test reports any failure below
            errors.append(exc)

    threads = [threading.Thread(target=register) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert {r.id for r, _ in results} == {results[0][0].id}
    assert sum(created for _, created in results) == 1
    assert [v.version for v in fs.versions("rides")] == [1]


def test_concurrent_registrations_of_different_contents_take_distinct_numbers(fs):
    errors = []

    def register(i):
        try:
            version(fs, digest=f"content-{i}")
        except Exception as exc:  # noqa: BLE001 - the test reports any failure below
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    versions = fs.versions("rides")
    assert [v.version for v in versions] == [1, 2, 3, 4, 5, 6]
    assert len({v.digest for v in versions}) == 6


def test_list_views_gives_each_newest_version_its_count_and_materialization(fs):
    v1, _ = version(fs)
    v2, _ = version(fs, digest="d2")
    t, _ = version(fs, name="tips")
    fs.write_online(t.id, [("[1]", 5, "[1,2.5]")], 5, 1)
    listing = fs.list_views()
    assert [(x.view.ref, x.versions) for x in listing] == [("rides@2", 2), ("tips@1", 1)]
    assert listing[0].materialized is None
    assert listing[1].materialized.watermark_ns == 5 and listing[1].materialized.rows_written == 1
    assert fs.list_views()[0].view == v2 != v1


def test_statistics_come_back_in_the_views_feature_order(fs):
    v, _ = version(fs)
    stats = fs.stats(v.id)
    assert [(s.feature, s.dtype) for s in stats] == [("trips", "int64"), ("rating", "float64")]
    assert stats[1].stats == {"kind": "numeric", "min": 1.0}
    empty, _ = version(fs, digest="d3", stats={})
    assert fs.stats(empty.id) == []


def test_a_source_table_is_read_but_never_one_of_the_stores_own(fs, backend_url):
    from sqlalchemy import create_engine, text

    engine = create_engine(backend_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE user_rides (driver INTEGER, trips INTEGER)"))
        conn.execute(text("INSERT INTO user_rides VALUES (1, 10), (2, 20)"))
    engine.dispose()
    frame = fs.read_table("user_rides")
    assert sorted(frame["trips"].tolist()) == [10, 20]
    with pytest.raises(InvalidInputError, match="one of the store's own tables"):
        fs.read_table("feature_views")
    with pytest.raises(InvalidInputError, match="one of the store's own tables"):
        fs.read_table("alembic_version")
    with pytest.raises(NotFoundError, match=r"no table 'nope'.*'user_rides'"):
        fs.read_table("nope")


def test_online_rows_are_only_replaced_by_newer_events_and_the_watermark_never_falls(fs):
    v, _ = version(fs)
    assert fs.materialization(v.id) is None
    m = fs.write_online(v.id, [("[1]", 10, "[1]"), ("[2]", 20, "[2]")], 20, 2)
    assert (m.watermark_ns, m.rows_written) == (20, 2)
    # a replay of an older event changes nothing; a newer one replaces; equal time replaces
    fs.write_online(v.id, [("[1]", 5, "[0]"), ("[2]", 30, "[3]")], 10, 2)
    assert fs.online_values(v.id, ["[1]", "[2]"]) == {"[1]": (10, "[1]"), "[2]": (30, "[3]")}
    fs.write_online(v.id, [("[1]", 10, "[9]")], None, 1)
    assert fs.online_values(v.id, ["[1]"]) == {"[1]": (10, "[9]")}
    m = fs.materialization(v.id)
    assert m.watermark_ns == 20 and m.rows_written == 5  # max, never backwards; a running sum
    assert m.updated_at >= m.started_at
    # a batch with no rows still records progress (an empty view is materialized)
    empty, _ = version(fs, digest="empty")
    assert fs.write_online(empty.id, [], None, 0).watermark_ns is None
    assert fs.materialization(empty.id) is not None


def test_online_values_answer_only_known_keys_of_that_version(fs):
    v1, _ = version(fs)
    v2, _ = version(fs, digest="d2")
    fs.write_online(v1.id, [("[1]", 1, "[1]")], 1, 1)
    fs.write_online(v2.id, [("[2]", 2, "[2]")], 2, 1)
    assert fs.online_values(v1.id, []) == {}
    assert fs.online_values(v1.id, ["[1]", "[2]", "[1]"]) == {"[1]": (1, "[1]")}
    assert fs.online_values(v2.id, ["[1]", "[2]"]) == {"[2]": (2, "[2]")}
    # more keys than one statement's parameter limit would take
    rows = [(f"[{i}]", i, f"[{i}]") for i in range(12_000)]
    fs.write_online(v1.id, rows, 12_000, len(rows))
    got = fs.online_values(v1.id, [f"[{i}]" for i in range(0, 40_000, 3)])
    assert len(got) == 4000 and got["[9]"] == (9, "[9]")


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keys=st.lists(st.text(st.characters(blacklist_categories=("Cs",),
                                           blacklist_characters="\x00"),
                             min_size=1, max_size=40), min_size=1, max_size=8, unique=True))
def test_any_text_key_round_trips_exactly(fs, keys):
    import json

    v, _ = version(fs, digest="unicode")
    encoded = [json.dumps([k], ensure_ascii=False) for k in keys]
    fs.write_online(v.id, [(k, 1, k) for k in encoded], None, len(encoded))
    got = fs.online_values(v.id, [*encoded, json.dumps(["never written \u2603"])])
    assert set(got) == set(encoded)
    assert all(json.loads(got[k][1]) == json.loads(k) for k in encoded)
