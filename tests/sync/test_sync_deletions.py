"""Deletions in a sync (laptop SQLite -> team SQLite or PostgreSQL, real on both sides): a run
the laptop deleted, and tag keys of runs, experiments, models and versions deleted on one
side, reach the other — unless the other side changed them since the last sync (a conflict
line or a note: its data kept). A rerun deletes nothing more."""

from __future__ import annotations

import pytest

from jupyter_mlops.store.pipelines import PipelineStore
from jupyter_mlops.store.sync import sync_stores
from tests.sync.conftest import Side, snapshot, sync_killed_at


def push(local: Side, team: Side, **kw):
    return sync_stores(local.url, team.url, local.root, team.root, **kw)


def pull(team: Side, local: Side, **kw):
    return sync_stores(team.url, local.url, team.root, local.root, **kw)


def nothing_moves(report) -> bool:
    return sum(report.counts.values()) == 0 and not report.conflicts


def run_tags(side: Side, rid: str) -> dict[str, str]:
    return {k: v for r, k, v in snapshot(side.url)["tags"] if r == rid}


@pytest.mark.parametrize("mode", ["change log", "full comparison"])
def test_a_run_deleted_on_the_laptop_is_deleted_at_the_target(laptop, target, monkeypatch,
                                                              mode):
    from jupyter_mlops.store import lite

    keep, drop = laptop.run("keep", artifact=b"kept"), laptop.run("drop", artifact=b"gone")
    push(laptop, target)
    if mode == "full comparison":  # the laptop's change log pruned past the mark
        monkeypatch.setattr(lite, "CHANGE_LOG_KEEP", 0)
    laptop.client.delete_run(drop)
    laptop.run("new")
    report = push(laptop, target)
    assert report.mode == mode
    assert report.counts["runs_deleted"] == 1 and not report.conflicts
    assert "deleted:   1 runs" in report.summary()
    assert set(snapshot(target.url)["runs"]) == set(snapshot(laptop.url)["runs"])
    assert drop not in snapshot(target.url)["runs"] and keep in snapshot(target.url)["runs"]
    assert snapshot(target.url) == snapshot(laptop.url)
    assert nothing_moves(push(laptop, target))
    assert nothing_moves(pull(target, laptop))  # the team does not bring it back


def test_a_run_changed_at_the_target_since_is_kept_with_a_conflict(laptop, target):
    rid = laptop.run("shared")
    push(laptop, target)
    target.client.set_tag(rid, "reviewed", "yes")  # the team's own addition
    target.client.flush()
    laptop.client.delete_run(rid)
    report = push(laptop, target)
    assert rid in snapshot(target.url)["runs"]
    (line,) = report.conflicts
    assert f"run {rid[:8]}: deleted at the source" in line and "changed since" in line
    assert report.counts.get("runs_deleted", 0) == 0


def test_a_run_the_team_registered_a_model_from_is_kept(laptop, target):
    rid = laptop.run("model-run", artifact=b"\x80model bytes")
    push(laptop, target)
    target.client.registry.register_model(f"runs:/{rid}/notes.txt", "churn", trusted=True)
    laptop.client.delete_run(rid)
    report = push(laptop, target)
    assert rid in snapshot(target.url)["runs"]
    assert any("registered model version 1" in c for c in report.conflicts)


def test_only_the_runs_owner_deletes_it(laptop, target):
    """A team run the laptop pulled is the team's: deleting the laptop's copy does not
    delete it there; the team deleting it does delete the laptop's copy on a pull."""
    theirs, other = target.run("team-run"), target.run("other")
    pull(target, laptop)
    laptop.client.delete_run(theirs)
    assert push(laptop, target).counts.get("runs_deleted", 0) == 0
    assert theirs in snapshot(target.url)["runs"]
    target.client.delete_run(other)
    report = pull(target, laptop)
    assert report.counts["runs_deleted"] == 1 and not report.conflicts
    assert other not in snapshot(laptop.url)["runs"]
    assert nothing_moves(pull(target, laptop))


def test_a_deleted_run_tag_is_deleted_at_the_target(laptop, target):
    rid = laptop.run("tagged")
    laptop.client.set_tags(rid, {"stage": "dev", "owner": "ada"})
    laptop.client.flush()
    push(laptop, target)
    target.client.set_tag(rid, "reviewed", "yes")  # never on the laptop: not its to delete
    target.client.flush()
    laptop.client.delete_tag(rid, "stage")
    laptop.client.delete_tag(rid, "owner")
    laptop.client.set_tag(rid, "owner", "bo")  # deleted and set again: a new value
    laptop.client.flush()
    report = push(laptop, target)
    assert report.counts["tags_deleted"] == 1 and not report.conflicts
    assert run_tags(target, rid) == {"team": "ml", "owner": "bo", "reviewed": "yes"}
    assert nothing_moves(push(laptop, target))


def test_a_run_tag_deleted_here_and_changed_there_is_a_conflict(laptop, target):
    rid = laptop.run("tagged")
    push(laptop, target)
    target.client.set_tag(rid, "team", "vision")
    target.client.flush()
    laptop.client.delete_tag(rid, "team")
    laptop.client.flush()
    report = push(laptop, target)
    assert run_tags(target, rid)["team"] == "vision"
    (line,) = [c for c in report.conflicts if "tag 'team'" in c]
    assert "deleted at the source, but changed at the target" in line


def test_tags_of_a_team_run_follow_the_team(laptop, target):
    rid = target.run("team-run")
    target.client.set_tag(rid, "stage", "dev")
    target.client.flush()
    pull(target, laptop)
    # Deleted on the laptop: the run is the team's, so the team keeps it (a conflict).
    laptop.client.delete_tag(rid, "team")
    laptop.client.flush()
    report = push(laptop, target)
    assert run_tags(target, rid)["team"] == "ml"
    assert any("belongs to" in c and "tag 'team'" in c for c in report.conflicts)
    # Deleted on the team store: a push does not add it back, a pull deletes it here.
    target.client.delete_tag(rid, "stage")
    target.client.flush()
    push(laptop, target)
    assert "stage" not in run_tags(target, rid)
    back = pull(target, laptop)
    assert back.counts["tags_deleted"] == 1
    assert "stage" not in run_tags(laptop, rid)


def test_experiment_model_and_version_tags_deleted_on_either_side(laptop, target):
    c = laptop.client
    rid = laptop.run("model-run", artifact=b"\x80model bytes")
    exp = next(e for e in c.list_experiments("all") if e.name == "sync-exp")
    c.set_experiment_tag(exp.id, "stage", "dev")
    c.set_experiment_tag(exp.id, "keep", "yes")
    reg = c.registry
    reg.register_model(f"runs:/{rid}/notes.txt", "churn", trusted=True)
    reg.set_model_tag("churn", "owner", "ada")
    reg.set_version_tag("churn", 1, "validated", "no")
    push(laptop, target)
    team_exp = next(e for e in target.client.list_experiments("all") if e.name == "sync-exp")
    target.client.set_experiment_tag(team_exp.id, "team-only", "x")

    c.delete_experiment_tag(exp.id, "stage")
    reg.delete_model_tag("churn", "owner")
    reg.delete_version_tag("churn", 1, "validated")
    report = push(laptop, target)
    assert report.counts["meta_tags_deleted"] == 3 and not report.notes
    t = target.client
    assert t.get_experiment(team_exp.id).tags == {"keep": "yes", "team-only": "x"}
    assert t.registry.get_model("churn").tags == {}
    assert t.registry.get_version("churn", 1).tags == {}
    assert nothing_moves(push(laptop, target))

    # The other way: deleted on the team store; a push does not bring it back, a pull
    # deletes it on the laptop. A value changed there since is kept, with a note.
    t.delete_experiment_tag(team_exp.id, "keep")
    push(laptop, target)
    assert "keep" not in t.get_experiment(team_exp.id).tags
    assert pull(target, laptop).counts["meta_tags_deleted"] == 1
    assert "keep" not in c.get_experiment(exp.id).tags
    reg.set_model_tag("churn", "owner", "bo")
    push(laptop, target)
    t.registry.set_model_tag("churn", "owner", "cy")
    reg.delete_model_tag("churn", "owner")
    report = push(laptop, target)
    assert t.registry.get_model("churn").tags == {"owner": "cy"}
    assert any("tag 'owner' of model 'churn' was deleted at the source" in n
               for n in report.notes)


def test_selected_runs_delete_nothing(laptop, target):
    a, b = target.run("a"), target.run("b")
    pull(target, laptop)
    target.client.delete_run(a)
    report = pull(target, laptop, run_ids=[b])
    assert report.counts.get("runs_deleted", 0) == 0
    assert a in snapshot(laptop.url)["runs"]


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", ["runs written", "committing"])
def test_sigkill_mid_deleting_then_rerun_gives_the_clean_result(laptop, target, kill_at,
                                                                subprocess_env):
    """Deletions, a pipeline run, a monitor window and a webhook in one killed batch."""
    import subprocess
    import sys

    from jupyter_mlops.store.monitoring import MonitoringStore
    from jupyter_mlops.store.webhooks import WebhookStore
    from tests.sync import test_sync_monitors as mon
    from tests.sync import test_sync_pipelines as pipe

    ids = [laptop.run(f"r{i}", points=50) for i in range(40)]
    for rid in ids[:3]:
        laptop.client.set_tag(rid, "stage", "dev")
    laptop.client.flush()
    push(laptop, target)
    for rid in ids[:3]:
        laptop.client.delete_tag(rid, "stage")
    for rid in ids[10:20]:
        laptop.client.delete_run(rid)
    more = [laptop.run(f"n{i}", points=50) for i in range(20)]  # a batch worth killing
    prid = pipe._pipeline_run(laptop, cached=True)
    more.append(PipelineStore(laptop.url).get_pipeline_run(prid).run_id)
    mon._window(laptop, mon._monitor(laptop).id, 0.0, 0.3)
    WebhookStore(laptop.url).add(url="https://ci.example.com/mlops", secret=None,
                                 events=["run.failed"], format="json", user="ada")
    cmd = [sys.executable, "-m", "jupyter_mlops.cli", "--tracking-uri", laptop.url,
           "--artifact-root", laptop.root, "sync", "--to", target.url, "--artifacts",
           target.root]
    sync_killed_at(cmd, kill_at, subprocess_env)
    runs = set(snapshot(target.url)["runs"])
    assert runs == set(ids) or runs == set(ids[:10] + ids[20:] + more)  # all or nothing

    rerun = subprocess.run(cmd, capture_output=True, text=True, env=subprocess_env)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "no conflicts" in rerun.stdout
    assert snapshot(target.url) == snapshot(laptop.url)
    assert all("stage" not in run_tags(target, rid) for rid in ids[:3])
    assert pipe._view(target, prid) == pipe._view(laptop, prid)
    assert mon._state(target) == mon._state(laptop)
    assert len(WebhookStore(target.url).list()) == 1
    assert len(MonitoringStore(target.url).list_monitors()) == 1
    assert nothing_moves(push(laptop, target))
