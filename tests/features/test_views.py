"""Registering views: versions by content and schema, sources, statistics, and each bad input."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jupyter_mlops.errors import InvalidInputError, MlopsError, NotFoundError
from jupyter_mlops.feature_store.refs import parse_ref
from tests.features.conftest import rides

FEATS = ["trips", "rating", "city"]


def register(facet, source=None, name="rides", **kw):
    kw.setdefault("features", FEATS)
    return facet.register_view(name, rides() if source is None else source,
                                  entity="driver", timestamp="ts", **kw)


def test_same_rows_in_any_order_are_the_same_version(features):
    first = register(features, description="driver activity")
    again = register(features, rides().sample(frac=1, random_state=3))
    assert (again.id, again.version) == (first.id, 1)
    assert first.rows == 6 and first.entities == 3 and first.entity == ("driver",)
    assert [v.version for v in features.versions("rides")] == [1]


def test_changed_rows_schema_or_ttl_make_new_versions_and_old_ones_stay_usable(features):
    v1 = register(features)
    changed = rides()
    changed.loc[0, "trips"] = 99
    v2 = register(features, changed)
    widened = changed.assign(score=1.5)
    v3 = register(features, widened, features=FEATS + ["score"])
    v4 = register(features, widened, features=FEATS + ["score"], ttl=3600)
    assert [v1.version, v2.version, v3.version, v4.version] == [1, 2, 3, 4]
    assert v3.schema["score"] == "float64" and v4.ttl_seconds == 3600.0
    entity = pd.DataFrame({"driver": [1], "ts": [pd.Timestamp("2024-01-01")]})
    pinned = features.get_training_set(entity, ["rides@1:trips", "rides:score"],
                                       full_names=True).frame
    assert pinned["rides__trips"].tolist() == [10] and pinned["rides__score"].tolist() == [1.5]
    newest = features.get_training_set(entity, ["rides:trips"]).frame
    assert newest["trips"].tolist() == [99]  # the newest version, never a mix of the two
    listing = features.list_views()
    assert [(x.view.name, x.view.version, x.versions) for x in listing] == [("rides", 4, 4)]


def test_statistics_per_feature(features):
    register(features)
    stats = {s.feature: s for s in features.statistics("rides")}
    assert list(stats) == FEATS
    assert stats["trips"].stats["min"] == 10 and stats["trips"].stats["max"] == 30
    assert stats["rating"].stats["missing"] == 1
    assert stats["city"].stats["top"][0] == ["lyon", 2] or stats["city"].stats["top"][0][1] == 2
    assert sum(stats["trips"].stats["histogram"]["counts"]) == 6


def test_parquet_file_csv_folder_and_sql_table_sources(features, tmp_path, store_url):
    df = rides()
    df.to_parquet(tmp_path / "rides.parquet")
    folder = tmp_path / "csv"
    folder.mkdir()
    df.iloc[:3].to_csv(folder / "a.csv", index=False)
    df.iloc[3:].to_csv(folder / "b.csv", index=False)
    from_parquet = register(features, tmp_path / "rides.parquet", name="pq")
    from_csv = register(features, str(folder), name="csv", features=["trips", "rating"])
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    engine = create_engine(store_url, poolclass=NullPool)
    df.to_sql("driver_stats", engine, index=False)
    engine.dispose()
    from_table = register(features, "table:driver_stats", name="sql")
    assert from_parquet.data_digest == from_table.data_digest  # same rows, same content hash
    assert from_csv.rows == 6 and from_table.source == "table:driver_stats"
    with pytest.raises(InvalidInputError, match="store's own tables"):
        register(features, "table:runs", name="bad")
    with pytest.raises(NotFoundError, match="no table 'nope'"):
        register(features, "table:nope", name="bad")
    with pytest.raises(NotFoundError, match="No file or folder"):
        register(features, str(tmp_path / "missing.parquet"), name="bad")


@pytest.mark.parametrize("kwargs, source, message", [
    ({"entity": "rider"}, None, "Unknown entity column 'rider'"),
    ({"timestamp": "when"}, None, "Unknown timestamp column 'when'"),
    ({"features": ["trips", "speed"]}, None, "Unknown feature column 'speed'"),
    ({"features": ["trips", "driver"]}, None, "'driver'.*used twice"),
    ({}, rides().assign(ts=1.0), "'ts' of feature view 'rides'.*holds numbers"),
    ({}, pd.concat([rides(), rides().iloc[:1].assign(trips=0)]),
     "share an entity key and a time in 'ts'.*driver=1"),
    ({}, rides().assign(driver=[1.5, 1, 1, 2, 2, 3]), "Entity column 'driver'.*float64"),
    ({"ttl": -5}, None, "ttl must be positive"),
    ({"ttl": "1 day"}, None, "ttl must be a datetime.timedelta"),
])
def test_bad_input_is_one_clear_error_naming_the_column(features, kwargs, source, message):
    args = {"entity": "driver", "timestamp": "ts", "features": FEATS, **kwargs}
    with pytest.raises(InvalidInputError, match=message):
        features.register_view("rides", rides() if source is None else source, **args)
    assert features.list_views() == []  # nothing half-recorded


def test_unknown_view_feature_and_entity_column_at_join_time(features):
    register(features)
    entity = pd.DataFrame({"driver": [1], "ts": [pd.Timestamp("2024-01-02")]})
    with pytest.raises(NotFoundError, match="no feature view 'trucks'.*'rides'"):
        features.get_training_set(entity, ["trucks:trips"])
    with pytest.raises(NotFoundError, match="'speed' is not in feature view rides@1"):
        features.get_training_set(entity, ["rides:speed"])
    with pytest.raises(NotFoundError, match="has no version 7"):
        features.get_training_set(entity, ["rides@7:trips"])
    with pytest.raises(InvalidInputError, match="Unknown entity column 'driver'"):
        features.get_training_set(entity.rename(columns={"driver": "d"}), ["rides:trips"])
    with pytest.raises(InvalidInputError, match="Unknown timestamp column 'ts'"):
        features.get_training_set(entity.rename(columns={"ts": "t"}), ["rides:trips"])
    with pytest.raises(InvalidInputError, match="'driver'.*strings but .*integers"):
        features.get_training_set(entity.astype({"driver": str}), ["rides:trips"])
    with pytest.raises(InvalidInputError, match="two columns named 'trips'"):
        features.get_training_set(entity.assign(trips=0), ["rides:trips"])


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=40), st.integers(), st.none(), st.binary(max_size=10)))
def test_hostile_feature_references_parse_or_are_refused_cleanly(text):
    try:
        ref = parse_ref(text)
    except InvalidInputError as exc:
        assert "\n" not in str(exc).strip()
        return
    assert str(ref) == text and ref.view and ref.feature


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
@settings(max_examples=30, deadline=None, suppress_health_check=[
    __import__("hypothesis").HealthCheck.function_scoped_fixture])
@given(name=st.text(max_size=30), col=st.text(max_size=30))
def test_hostile_names_and_columns_never_escape_the_error_tree(features, name, col):
    try:
        features.register_view(name, rides(), entity=col, timestamp="ts", features=["trips"])
    except MlopsError:
        return
    assert col == "driver"
