"""``jupyter mlops sync`` carries experiment tags and lifecycle and registry tags and
descriptions (SQLite laptop <-> PostgreSQL team store, both real), the later change winning
the other way kept and noted; a tag value changed on the team store is pulled."""

from __future__ import annotations

import pytest

from jupyter_mlops.store.sync import sync_stores
from tests.conftest import _new_identity, _postgres_database
from tests.sync.conftest import Side, snapshot, sqlite_side

pytestmark = pytest.mark.postgres


# Both stores are copies of the session's migrated templates: no migrations per test.
@pytest.fixture
def local(tmp_path, _sqlite_template) -> Side:
    return sqlite_side(tmp_path / "laptop", _sqlite_template)


@pytest.fixture
def team(request, tmp_path, _postgres_template):
    for url in _postgres_database(request, _postgres_template):
        _new_identity(url)
        yield Side(url, tmp_path / "team-artifacts")


def push(local: Side, team: Side, **kw):
    return sync_stores(local.url, team.url, local.root, team.root, **kw)


def pull(team: Side, local: Side, **kw):
    return sync_stores(team.url, local.url, team.root, local.root, **kw)


def exp(side: Side, name: str = "sync-exp"):
    return next(e for e in side.client.list_experiments("all") if e.name == name)


def test_a_tag_value_changed_on_the_team_store_is_pulled(team, local):
    """The PostgreSQL source is compared by fingerprint: it must see a new value, not only a
    new count of tags."""
    rid = team.run("team-run")
    pull(team, local)
    team.client.set_tag(rid, "team", "vision")
    team.client.flush()
    report = pull(team, local)
    assert report.counts["tags"] == 1 and not report.conflicts
    tags = {k: v for r, k, v in snapshot(local.url)["tags"] if r == rid}
    assert tags["team"] == "vision"
    again = pull(team, local)  # in sync now: nothing to examine
    assert again.runs_examined == 0


def test_experiment_tags_and_lifecycle_follow_the_later_change(local, team):
    local.run("r1")
    local.client.set_experiment_tag(exp(local).id, "stage", "dev")
    first = push(local, team)
    assert exp(team).tags == {"stage": "dev"} and first.counts["experiment_tags"] == 1
    assert "1 experiment tags" in first.summary()

    # Deleted on the team store: the laptop's runs of it leave its listings; restored: back.
    team.client.delete_experiment(exp(team).id)
    report = pull(team, local)
    assert exp(local).lifecycle_stage == "deleted" and report.counts["experiment_lifecycle"] == 1
    assert local.client.search_runs(experiment="sync-exp") == []
    team.client.restore_experiment(exp(team).id)
    pull(team, local)
    assert exp(local).lifecycle_stage == "active"
    assert [r.name for r in local.client.search_runs(experiment="sync-exp")] == ["r1"]

    # Changed on both sides: the later change wins; the earlier side's push keeps it, noted.
    local.client.set_experiment_tag(exp(local).id, "stage", "laptop")
    team.client.set_experiment_tag(exp(team).id, "stage", "team")  # later
    report = push(local, team)
    assert exp(team).tags["stage"] == "team"
    (line,) = [n for n in report.notes if "stage" in n]
    assert "experiment 'sync-exp'" in line and "kept the target's" in line
    assert not report.conflicts
    back = pull(team, local)
    assert exp(local).tags["stage"] == "team" and not back.notes
    assert not push(local, team).notes  # agreed now: nothing moves either way


def test_an_experiment_without_runs_travels_with_its_tags_and_lifecycle(local, team):
    """Created on the laptop before its first run (and one deleted): the team store gets
    both, once; a pull does not bring them back twice."""
    c = local.client
    planned = c.create_experiment("planned")
    c.set_experiment_tag(planned.id, "owner", "ada")
    dropped = c.create_experiment("dropped")
    c.delete_experiment(dropped.id)
    report = push(local, team)
    assert report.counts["experiments"] == 2
    assert "2 experiments without runs" in report.summary()
    there = exp(team, "planned")
    assert there.tags == {"owner": "ada"} and there.lifecycle_stage == "active"
    assert exp(team, "dropped").lifecycle_stage == "deleted"
    assert push(local, team).counts.get("experiments", 0) == 0
    assert pull(team, local).counts.get("experiments", 0) == 0
    assert sorted(e.name for e in local.client.list_experiments("all")) == sorted(
        e.name for e in team.client.list_experiments("all"))


def test_registry_tags_and_descriptions_travel_and_keep_the_later_change(local, team):
    rid = local.run("model-run", artifact=b"\x80model bytes")
    reg = local.client.registry
    reg.register_model(f"runs:/{rid}/notes.txt", "churn", trusted=True)
    reg.set_model_tag("churn", "owner", "ada")
    reg.set_version_tag("churn", 1, "validated", "no")
    reg.describe_version("churn", 1, "first try")
    report = push(local, team)
    assert report.counts["registry_tags"] == 2
    team_reg = team.client.registry
    assert team_reg.get_model("churn").tags == {"owner": "ada"}
    version = team_reg.get_version("churn", 1)
    assert (version.tags, version.description) == ({"validated": "no"}, "first try")

    team_reg.set_version_tag("churn", 1, "validated", "yes")  # later, on the team store
    reg.set_model_tag("churn", "owner", "bo")  # later, on the laptop
    back = pull(team, local)
    assert reg.get_version("churn", 1).tags["validated"] == "yes"
    assert reg.get_model("churn").tags["owner"] == "bo"  # the laptop's is newer: kept
    assert any("tag 'owner' of model 'churn'" in n for n in back.notes)
    push(local, team)
    assert team_reg.get_model("churn").tags["owner"] == "bo"
    assert not pull(team, local).notes
