"""``jupyter mlops sync``: SQLite laptop <-> PostgreSQL team store, both real.

Incremental (a second sync moves only what is new), idempotent (a rerun adds nothing),
pull by run id, never overwriting newer data, alias conflicts, blobs by digest, hostile URIs.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jupyter_mlops.errors import InvalidInputError, NotFoundError
from jupyter_mlops.store.sync import check_store_uri, sync_stores
from tests.sync.conftest import Side, snapshot

pytestmark = pytest.mark.postgres


def push(local: Side, team: Side, **kw):
    return sync_stores(local.url, team.url, local.root, team.root, **kw)


def pull(team: Side, local: Side, **kw):
    return sync_stores(team.url, local.url, team.root, local.root, **kw)


def test_push_is_complete_incremental_and_idempotent(local, team):
    ids = [local.run(f"r{i}", artifact=b"file %d" % i) for i in range(3)]
    first = push(local, team)
    assert first.counts["runs_new"] == 3 and not first.conflicts
    assert first.blobs_copied == 3
    assert snapshot(team.url) == snapshot(local.url)

    # New runs, and new points on a run the team already has: only those move.
    running = local.run("live", end=False)
    push(local, team)
    for step in range(5, 8):
        local.client.log_metric(running, "loss", 0.01 * step, step=step)
    local.client.flush()
    new = [local.run("r3"), local.run("r4", artifact=b"file 0")]  # same bytes as r0's
    second = push(local, team)
    assert second.mode == "change log"
    assert second.counts["runs_new"] == 2
    assert second.runs_examined == 3  # the two new runs and the live one, nothing else
    assert second.counts["metric_points"] == 2 * 5 + 3
    assert second.blobs_copied == 0 and second.blobs_present == 1  # by digest
    assert snapshot(team.url) == snapshot(local.url)

    # Finishing the live run moves its status (the laptop owns it).
    local.client.end_run(running)
    third = push(local, team)
    assert third.counts.get("runs_updated") == 1
    assert snapshot(team.url)["runs"][running][1] == "FINISHED"

    again = push(local, team)
    assert again.runs_examined == 0 and sum(again.counts.values()) == 0
    assert snapshot(team.url) == snapshot(local.url)
    assert set(ids + new) <= set(snapshot(team.url)["runs"])


def test_full_comparison_when_the_change_log_was_pruned(local, team, monkeypatch):
    from jupyter_mlops.store import lite

    local.run("a")
    push(local, team)
    monkeypatch.setattr(lite, "CHANGE_LOG_KEEP", 0)  # prune everything on the next write
    local.run("b")
    local.run("c")
    report = push(local, team)
    assert report.mode == "full comparison"
    assert report.counts["runs_new"] == 2
    assert snapshot(team.url) == snapshot(local.url)
    assert sum(push(local, team).counts.values()) == 0


def test_pull_everything_and_selected_runs(team, local, tmp_path):
    ids = [team.run(f"t{i}", artifact=b"team %d" % i) for i in range(3)]
    report = pull(team, local)
    assert report.counts["runs_new"] == 3 and report.mode == "full comparison"
    assert snapshot(local.url) == snapshot(team.url)
    assert sum(pull(team, local).counts.values()) == 0  # idempotent

    other = Side(f"sqlite:///{tmp_path / 'other.db'}", tmp_path / "other-artifacts")
    one = pull(team, other, run_ids=[ids[1]])
    assert one.counts["runs_new"] == 1
    assert set(snapshot(other.url)["runs"]) == {ids[1]}
    assert other.client.read_artifact(ids[1], "notes.txt")[1] == b"team 1"
    with pytest.raises(NotFoundError, match="is not in"):
        pull(team, other, run_ids=["f" * 32])


def test_a_finished_run_on_the_target_is_never_overwritten(local, team):
    rid = local.run("shared", end=False)
    push(local, team)
    team.client.end_run(rid, "FINISHED")  # the team closed it (e.g. its reaper)
    team.client.set_tag(rid, "reviewed", "yes")
    for step in range(5, 7):
        team.client.log_metric(rid, "loss", 0.5, step=step)
    team.client.flush()
    local.client.log_metric(rid, "loss", 0.25, step=9)
    local.client.flush()
    local.client.end_run(rid, "FAILED")
    report = push(local, team)
    snap = snapshot(team.url)
    assert snap["runs"][rid][1] == "FINISHED"
    assert any("never overwritten" in c for c in report.conflicts)
    # Metrics append from both sides, each point once; the team's tag stays.
    steps = [p[0] for p in snap["points"][(rid, "loss")]]
    assert steps == [0, 1, 2, 3, 4, 5, 6, 9]
    assert ("reviewed" in {k for r, k, _v in snap["tags"] if r == rid})
    assert push(local, team).counts.get("metric_points", 0) == 0


def test_tags_follow_the_owner_and_params_are_written_once(local, team):
    rid = team.run("team-run")
    pull(team, local)
    local.client.set_tag(rid, "team", "changed-on-laptop")
    local.client.set_tag(rid, "note", "added-on-laptop")
    local.client.flush()
    report = push(local, team)
    tags = {k: v for r, k, v in snapshot(team.url)["tags"] if r == rid}
    assert tags["team"] == "ml"  # the team store created the run: its value stays
    assert tags["note"] == "added-on-laptop"  # a new key is simply added
    assert any("tag 'team'" in c and "belongs to" in c for c in report.conflicts)

    mine = local.run("laptop-run")
    push(local, team)
    local.client.set_tag(mine, "team", "owner-changed")
    local.client.flush()
    push(local, team)
    tags = {k: v for r, k, v in snapshot(team.url)["tags"] if r == mine}
    assert tags["team"] == "owner-changed"  # the laptop owns this one


def _register(side: Side, rid: str, name: str = "churn") -> int:
    # A pickle's first byte; registered from the run's file as is (never loaded here).
    return side.client.registry.register_model(f"runs:/{rid}/notes.txt", name,
                                               trusted=True).version


def test_alias_moved_on_both_sides_is_a_conflict_and_the_target_keeps_its(local, team):
    rid = local.run("model-run", artifact=b"\x80model bytes")
    versions = [_register(local, rid) for _ in range(3)]
    assert versions == [1, 2, 3]
    local.client.registry.set_alias("churn", "champion", 1)
    first = push(local, team)
    assert first.counts["model_versions"] == 3 and first.counts["aliases"] == 1
    assert ("churn", "champion", ("churn", 1)) in snapshot(team.url)["aliases"]

    team.client.registry.set_alias("churn", "champion", 2)
    local.client.registry.set_alias("churn", "champion", 3)
    local.client.registry.set_alias("churn", "staging", 2)  # moved here only
    report = push(local, team)
    aliases = snapshot(team.url)["aliases"]
    assert ("churn", "champion", ("churn", 2)) in aliases  # kept the target's
    assert ("churn", "staging", ("churn", 2)) in aliases  # pushed
    (line,) = [c for c in report.conflicts if "champion" in c]
    assert "moved on both sides" in line and "version 3" in line and "version 2" in line
    assert "jupyter mlops models alias churn champion" in line

    # Resolving on one side (the laptop adopts the team's) ends the conflict.
    local.client.registry.set_alias("churn", "champion", 2)
    assert not push(local, team).conflicts
    team.client.registry.set_alias("churn", "champion", 1)  # only the team moves now
    back = pull(team, local)
    assert not back.conflicts
    assert ("churn", "champion", ("churn", 1)) in snapshot(local.url)["aliases"]


def test_versions_with_a_taken_number_are_renumbered(local, team):
    team_run = team.run("team-model", artifact=b"\x80team model")
    _register(team, team_run)
    rid = local.run("laptop-model", artifact=b"\x80laptop model")
    _register(local, rid)
    report = push(local, team)
    assert any("version 1 is version 2" in n for n in report.notes)
    assert [v for v, _d, _r in snapshot(team.url)["versions"]] == [1, 2]
    assert sum(push(local, team).counts.values()) == 0


def test_blobs_are_copied_by_digest_and_verified(local, team):
    from jupyter_mlops.store.blobs import BlobStore

    rid = local.run("blob", artifact=b"x" * 100_000)
    push(local, team)
    (row,) = [a for a in snapshot(team.url)["artifacts"] if a[0] == rid]
    assert BlobStore(team.root).verify(row[2])
    assert team.client.read_artifact(rid, "notes.txt")[1] == b"x" * 100_000


def test_a_corrupt_source_blob_stops_before_any_row(local, team):
    from jupyter_mlops.errors import CorruptArtifactError
    from jupyter_mlops.store.blobs import BlobStore

    rid = local.run("bad", artifact=b"original bytes")
    digest = local.client.list_artifacts(rid)[0].digest
    path = BlobStore(local.root).path_of(digest)
    with open(path, "wb") as f:
        f.write(b"tampered")
    with pytest.raises(CorruptArtifactError):
        push(local, team)
    assert rid not in snapshot(team.url)["runs"]


def test_the_same_store_is_refused(local, tmp_path):
    folder = tmp_path / "laptop"
    spelled = f"sqlite:///{folder / '..' / 'laptop' / 'mlops.db'}"
    with pytest.raises(InvalidInputError, match="is the store being synced from"):
        sync_stores(local.url, spelled, local.root, local.root)
    # A byte copy of the file carries the same store id: refused too, untouched.
    local.run("x")
    copy = tmp_path / "copy.db"
    import sqlite3

    with sqlite3.connect(folder / "mlops.db") as a, sqlite3.connect(copy) as b:
        a.backup(b)
    with pytest.raises(InvalidInputError, match="same store id"):
        sync_stores(local.url, f"sqlite:///{copy}", local.root, local.root)


@pytest.mark.parametrize("uri,match", [
    ("mysql://u@h/db", "unknown store scheme 'mysql'"),
    ("s3://bucket/path", "unknown store scheme 's3'"),
    ("not a uri", "is not a store URI"),
    ("sqlite://", "in-memory SQLite"),
    ("", "give a store URI"),
])
def test_hostile_uris_get_one_clear_line(local, uri, match):
    with pytest.raises(InvalidInputError, match=match) as info:
        sync_stores(local.url, uri, local.root, None)
    assert "\n" not in str(info.value)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=60))
def test_any_text_as_a_uri_is_accepted_or_refused_cleanly(text):
    try:
        check_store_uri(text, "--to")
    except InvalidInputError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("--to")


@pytest.mark.parametrize("run_id", ["../../etc", "A" * 32, "0" * 31, "'; drop table runs"])
def test_bad_run_ids_are_refused(team, local, run_id):
    with pytest.raises(InvalidInputError, match="is not a run id"):
        pull(team, local, run_ids=[run_id])


def test_a_run_deleted_at_the_target_comes_back_on_a_full_comparison(local, team, monkeypatch):
    from jupyter_mlops.store import lite

    rid = local.run("deleted-there")
    push(local, team)
    team.client.delete_run(rid)
    monkeypatch.setattr(lite, "CHANGE_LOG_KEEP", 0)  # the laptop's log pruned: full compare
    local.run("next")
    report = push(local, team)  # deletions are not synced: the laptop still has it
    assert report.mode == "full comparison" and report.counts["runs_new"] == 2
    assert snapshot(team.url) == snapshot(local.url)
