"""Feature views in a sync (laptop SQLite -> team PostgreSQL, real on both sides): the
versions, their statistics and offline tables arrive, the team's training sets equal the
laptop's, the lineage dataset -> view -> training set -> run follows; a rerun adds nothing;
a version number the team already uses for other rows is renumbered, with a note."""

from __future__ import annotations

import pandas as pd
import pytest

from jupyter_mlops.store.sync import sync_stores
from tests.sync.conftest import Side

pytestmark = pytest.mark.postgres


def _rides(shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({
        "driver": [1, 1, 2, 2, 3],
        "ts": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-01-02", "2024-01-08",
                              "2024-01-03"], utc=True),
        "trips": [3, 5, 1, 2, 7],
        "rating": [4.5 + shift, 4.7, 3.9, 4.1, 5.0]})


ENTITY = pd.DataFrame({"driver": [1, 2, 3, 9],
                       "ts": pd.to_datetime(["2024-01-06", "2024-01-03", "2024-01-01",
                                             "2024-01-06"], utc=True)})


def push(local: Side, team: Side):
    return sync_stores(local.url, team.url, local.root, team.root)


def test_views_their_tables_and_lineage_reach_the_team(local, team):
    f = local.client.features
    f.register_view("rides", _rides(), entity="driver", timestamp="ts",
                    features=["trips", "rating"], description="per driver")
    f.register_view("rides", _rides(0.1), entity="driver", timestamp="ts",
                    features=["trips", "rating"])  # version 2
    run = local.client.create_run("features", name="train")
    training = f.get_training_set(ENTITY, ["rides:trips", "rides@1:rating"])
    f.log_training_set(training, run.id)
    local.client.end_run(run.id)

    report = push(local, team)
    assert report.counts["feature_views"] == 2 and not report.conflicts
    assert "2 feature view versions" in report.summary()
    t = team.client.features
    assert [v.version for v in t.versions("rides")] == [1, 2]
    assert t.get_view("rides", 1).description == "per driver"

    def stats(side) -> list:
        return [(s.feature, s.dtype, s.stats) for s in side.statistics("rides", 2)]

    assert stats(t) == stats(f) and stats(t)
    there = t.get_training_set(ENTITY, ["rides:trips", "rides@1:rating"])
    pd.testing.assert_frame_equal(there.frame, training.frame)
    assert there.digest == training.digest
    view_id = t.get_view("rides", 1).id
    graph = team.client.store.lineage.graph(f"feature_view:{view_id}")
    assert f"training_set:{training.digest}" in graph.downstream()
    assert f"run:{run.id}" in graph.downstream()

    again = push(local, team)
    assert again.counts.get("feature_views", 0) == 0 and again.blobs_copied == 0


def test_a_taken_version_number_is_renumbered_with_a_note(local, team):
    team.client.features.register_view("rides", _rides(1.0), entity="driver", timestamp="ts",
                                       features=["trips", "rating"])
    local.client.features.register_view("rides", _rides(), entity="driver", timestamp="ts",
                                        features=["trips", "rating"])
    report = push(local, team)
    assert report.counts["feature_views"] == 1
    assert any("feature view 'rides' version 1 is version 2 at the target" in n
               for n in report.notes)
    t = team.client.features
    laptop = local.client.features.get_training_set(ENTITY, ["rides@1:rating"]).frame
    team_frame = t.get_training_set(ENTITY, ["rides@2:rating"]).frame
    pd.testing.assert_frame_equal(team_frame, laptop)
    assert push(local, team).counts.get("feature_views", 0) == 0
