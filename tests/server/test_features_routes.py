"""Feature-store routes (issue 16) through a real jupyter_server with token authentication."""

from __future__ import annotations

import pandas as pd
import pytest

from jupyter_mlops.client import Client


@pytest.fixture
def feature_seed(mlops_store):
    """``driver_stats`` in two versions (v2 has one more row), v2 materialized; ``cities``."""
    from jupyter_mlops.store import forget_open_stores

    t = pd.Timestamp("2024-01-01")
    h = pd.Timedelta(hours=1)
    frame = pd.DataFrame({
        "driver": [1, 1, 1, 2, 2, 3],
        "ts": [t, t + h, t + 3 * h, t + h, t + 2 * h, t],
        "trips": [10, 11, 12, 20, 21, 30],
        "rating": [4.5, 4.6, float("nan"), 3.9, 4.0, 5.0],
        "city": ["<img src=x>", "paris", "lyon", "nice", "nice", "lyon"],
    })
    client = Client(mlops_store.tracking_uri, mlops_store.artifact_root)
    try:
        kw = dict(entity="driver", timestamp="ts", features=["trips", "rating", "city"],
                  ttl=3600 * 12, description="hourly driver activity")
        client.features.register_view("driver_stats", frame.iloc[:5], **kw)
        client.features.register_view("driver_stats", frame, **kw)
        client.features.materialize("driver_stats")
        client.features.register_view("cities", frame, entity="city", timestamp="ts",
                                      features=["trips"])
    finally:
        client.writer.close()
        forget_open_stores()
    return frame


async def test_views_with_freshness(api, feature_seed):
    status, body = await api("features")
    assert status == 200
    views = {v["name"]: v for v in body["views"]}
    assert list(views) == ["cities", "driver_stats"]
    d = views["driver_stats"]
    assert d["version"] == 2 and d["versions"] == 2 and d["entity"] == ["driver"]
    assert d["features"] == ["trips", "rating", "city"] and d["rows"] == 6
    assert d["last_event"] == "2024-01-01T03:00:00" and d["ttl_seconds"] == 43200
    assert d["materialized"]["materialized_to"] == "2024-01-01T03:00:00"
    assert d["materialized"]["rows_written"] == 3
    assert views["cities"]["materialized"] is None


async def test_view_versions_and_distributions(api, feature_seed):
    status, body = await api("features", "driver_stats")
    assert status == 200
    assert body["version"] == 2 and body["latest_version"] == 2
    assert [v["version"] for v in body["versions"]] == [1, 2]
    assert [v["rows"] for v in body["versions"]] == [5, 6]
    stats = {s["feature"]: s for s in body["statistics"]}
    assert list(stats) == ["trips", "rating", "city"]
    trips = stats["trips"]
    assert (trips["min"], trips["max"], trips["count"]) == (10, 30, 6)
    hist = trips["distribution"]
    assert hist["kind"] == "histogram" and sum(hist["counts"]) == 6
    assert len(hist["edges"]) == len(hist["counts"]) + 1
    assert hist["edges"][0] == 10 and hist["edges"][-1] == 30
    assert stats["rating"]["missing"] == 1 and sum(stats["rating"]["distribution"]["counts"]) == 5
    top = stats["city"]["distribution"]
    assert top["kind"] == "top" and top["values"][:2] == [["lyon", 2], ["nice", 2]]
    assert ["<img src=x>", 1] in top["values"]  # user text as data; the panel renders text

    status, old = await api("features", "driver_stats", params={"version": "1"})
    assert status == 200 and old["version"] == 1 and old["latest_version"] == 2
    assert {s["feature"]: s["count"] for s in old["statistics"]}["trips"] == 5


@pytest.mark.parametrize("parts, params, code, words", [
    (("features", "nope"), {}, 404, "There is no feature view 'nope'"),
    (("features", "driver_stats"), {"version": "7"}, 404, "has no version 7"),
    (("features", "driver_stats"), {"version": "0"}, 400, "'version' must be between 1"),
    (("features", "driver_stats"), {"version": "x"}, 400, "must be an integer"),
    (("features", "a:b"), {}, 400, "feature view name"),
])
async def test_refusals(api, feature_seed, parts, params, code, words):
    status, body = await api(*parts, params=params)
    assert status == code, body
    error = body["error"]
    assert error["type"] == ("NotFoundError" if code == 404 else "InvalidInputError")
    assert words in error["message"] and "\n" not in error["message"]


async def test_empty_store(api, mlops_store):
    status, body = await api("features")
    assert status == 200 and body == {"views": []}
