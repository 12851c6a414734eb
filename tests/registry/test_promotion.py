"""Roles, propose/approve/reject, promotion gates and their verdicts in the audit log."""

from __future__ import annotations

import pytest

from jupyter_mlops.errors import ConflictError, InvalidInputError, PermissionDeniedError
from jupyter_mlops.registry.api import RegistryClient


def _with_check(reg, check):
    """The same store's registry, built with ``check`` as its reproduce gate."""
    return RegistryClient(reg.client, reproduce_check=check)


@pytest.fixture
def team(reg):
    """admin 'ada', data scientist 'dana', ML engineer 'eli'."""
    reg.grant_role("ada", "admin", by="ada")  # the first grant bootstraps the store
    reg.grant_role("dana", "data_scientist", by="ada")
    reg.grant_role("eli", "ml_engineer", by="ada")
    return reg


def _register(reg, model, metric: float, name: str = "m"):
    run = reg.client.create_run()
    reg.client.log_metric(run.id, "auc", metric)
    version = reg.register_model(model, name, run=run)
    reg.client.end_run(run.id)
    return version


def test_propose_then_approve_moves_the_alias_and_audits_each_step(team, pipeline):
    _register(team, pipeline, 0.9)
    request = team.propose("m", 1, "champion", reason="best AUC", user="dana")
    assert (request.status, request.proposed_by) == ("PENDING", "dana")
    done = team.approve(request.id, reason="reviewed", user="eli")
    assert (done.status, done.decided_by) == ("APPROVED", "eli")
    assert team.get_model("m").aliases == {"champion": 1}
    events = [(e.action, e.user) for e in reversed(team.audit_log("m"))]
    assert [a for a, _ in events] == ["register", "propose", "set_alias", "approve"]
    assert events[1:] == [("propose", "dana"), ("set_alias", "eli"), ("approve", "eli")]
    moved = team.alias_history("m", "champion")[-1]
    assert moved.details["via"] == "promotion" and moved.details["request_id"] == request.id
    assert moved.reason == "reviewed"


def test_reject_leaves_the_alias_alone(team, pipeline):
    _register(team, pipeline, 0.9)
    request = team.propose("m", 1, user="dana")
    assert team.reject(request.id, reason="not yet", user="eli").status == "REJECTED"
    assert team.get_model("m").aliases == {}
    with pytest.raises(ConflictError, match="already REJECTED"):
        team.approve(request.id, user="eli")


def test_a_user_without_roles_cannot_propose(team, pipeline):
    _register(team, pipeline, 0.9)
    with pytest.raises(PermissionDeniedError, match="'zed' may not propose"):
        team.propose("m", 1, user="zed")
    assert team.list_promotions() == []


def test_duplicate_pending_request_is_a_conflict(team, pipeline):
    _register(team, pipeline, 0.9)
    team.propose("m", 1, user="dana")
    with pytest.raises(ConflictError, match="already pending"):
        team.propose("m", 1, user="eli")


def test_role_management_needs_manage_once_roles_exist(team):
    with pytest.raises(PermissionDeniedError, match="'dana' may not manage"):
        team.grant_role("dana", "ml_engineer", by="dana")
    team.grant_role("fay", "ml_engineer", by="ada")
    team.revoke_role("fay", "ml_engineer", by="ada")
    assert {(r.user, r.role) for r in team.list_roles()} == {
        ("ada", "admin"), ("dana", "data_scientist"), ("eli", "ml_engineer")}
    actions = [e.action for e in team.store.audit_log("user", "fay")]
    assert actions == ["revoke_role", "grant_role"]


def test_the_role_mapping_is_configurable(team, pipeline):
    _register(team, pipeline, 0.9)
    team.set_permission("data_scientist", "approve", by="ada")
    assert "approve" in team.permissions()["data_scientist"]
    assert "approve" in team.permissions()["ml_engineer"]  # defaults were kept
    request = team.propose("m", 1, user="dana")
    assert team.approve(request.id, user="dana").status == "APPROVED"
    team.set_permission("data_scientist", "propose", allowed=False, by="ada")
    with pytest.raises(PermissionDeniedError):
        team.propose("m", 1, "challenger", user="dana")
    with pytest.raises(InvalidInputError, match="Unknown action"):
        team.set_permission("data_scientist", "delete_everything", by="ada")


def test_protected_alias_needs_set_alias_when_moved_directly(team, pipeline):
    _register(team, pipeline, 0.9)
    team.set_gate_policy("m", {"protected_aliases": ["champion"]}, user="ada")
    with pytest.raises(PermissionDeniedError, match="'dana' may not set alias"):
        team.set_alias("m", "champion", 1, user="dana")
    team.set_alias("m", "challenger", 1, user="dana")  # unprotected
    team.set_alias("m", "champion", 1, user="eli")
    with pytest.raises(PermissionDeniedError):
        team.delete_alias("m", "champion", user="dana")


def test_only_managers_set_gate_policies(team, pipeline):
    _register(team, pipeline, 0.9)
    with pytest.raises(PermissionDeniedError):
        team.set_gate_policy("m", {"require_reproduced": True}, user="eli")
    assert team.get_model("m").gate_policy is None


@pytest.mark.parametrize("policy", [
    {"require_better": {"direction": "max"}}, {"require_better": {"metric": "auc",
                                                                  "direction": "up"}},
    {"gated_aliases": "champion"}, {"typo": True}, "strict"])
def test_bad_gate_policies_are_refused(reg, pipeline, policy):
    reg.register_model(pipeline, "m")
    with pytest.raises(InvalidInputError):
        reg.set_gate_policy("m", policy)


def test_better_metric_gate_on_approval(team, pipeline, forest):
    _register(team, pipeline, 0.90)
    _register(team, forest, 0.85)
    _register(team, forest, 0.95)
    team.set_gate_policy("m", {"require_better": {"metric": "auc", "direction": "max"}},
                         user="ada")
    team.set_alias("m", "champion", 1, user="eli")  # nothing to beat yet: passes

    worse = team.propose("m", 2, user="dana")
    with pytest.raises(ConflictError, match=r"auc 0\.85 vs 0\.9 on version 1"):
        team.approve(worse.id, user="eli")
    assert team.get_model("m").aliases == {"champion": 1}
    pending = team.store.get_promotion(worse.id)
    assert pending.status == "PENDING" and pending.gate_verdict["passed"] is False
    refused = team.alias_history("m", "champion")[-1]
    assert refused.action == "gate_failed" and refused.details["gate"]["passed"] is False

    better = team.propose("m", 3, user="dana")
    assert team.approve(better.id, user="eli").gate_verdict["passed"] is True
    moved = team.alias_history("m", "champion")[-1]
    assert (moved.action, moved.details["version"], moved.details["previous"]) == \
        ("set_alias", 3, 1)
    assert moved.details["gate"]["checks"][0]["candidate"] == 0.95


def test_gates_apply_to_direct_alias_moves_and_only_gated_aliases(reg, pipeline):
    _register(reg, pipeline, 0.9)
    _register(reg, pipeline, 0.8)
    reg.set_gate_policy("m", {"require_better": "auc"})
    reg.set_alias("m", "champion", 1)
    with pytest.raises(ConflictError):
        reg.set_alias("m", "champion", 2)
    reg.set_alias("m", "challenger", 2)  # not gated
    assert reg.get_model("m").aliases == {"champion": 1, "challenger": 2}


def test_a_candidate_without_the_metric_fails_the_gate(reg, pipeline):
    reg.register_model(pipeline, "m")
    reg.set_gate_policy("m", {"require_better": {"metric": "auc", "direction": "min"}})
    with pytest.raises(ConflictError, match="version 1 has no 'auc' metric"):
        reg.set_alias("m", "champion", 1)


def test_reproduced_gate_fails_clearly_while_no_check_is_installed(reg, pipeline):
    reg = _with_check(reg, None)
    _register(reg, pipeline, 0.9)
    reg.set_gate_policy("m", {"require_reproduced": True})
    with pytest.raises(ConflictError, match="built without a reproduction check"):
        reg.set_alias("m", "champion", 1)
    assert reg.alias_history("m")[-1].action == "gate_failed"


def test_reproduced_gate_asks_the_hook(reg, pipeline):
    seen = []

    def check(run_id):
        seen.append(run_id)
        return (run_id == v2.run_id, "rebuilt from snapshot")

    reg = _with_check(reg, check)
    v1 = _register(reg, pipeline, 0.9)
    v2 = _register(reg, pipeline, 0.9)
    reg.set_gate_policy("m", {"require_reproduced": True})
    with pytest.raises(ConflictError, match="rebuilt from snapshot"):
        reg.set_alias("m", "champion", 1)
    reg.set_alias("m", "champion", 2)
    assert seen == [v1.run_id, v2.run_id]
    assert reg.alias_history("m")[-1].details["gate"]["checks"][0]["passed"] is True


def test_a_crashing_reproduce_hook_fails_the_gate(reg, pipeline):
    def check(run_id):
        raise RuntimeError("kernel died")

    reg = _with_check(reg, check)
    _register(reg, pipeline, 0.9)
    reg.set_gate_policy("m", {"require_reproduced": True})
    with pytest.raises(ConflictError, match="kernel died"):
        reg.set_alias("m", "champion", 1)


def test_both_gates_together(reg, pipeline):
    reg = _with_check(reg, lambda run_id: True)
    _register(reg, pipeline, 0.9)
    _register(reg, pipeline, 0.95)
    reg.set_gate_policy("m", {"require_better": "auc", "require_reproduced": True})
    reg.set_alias("m", "champion", 1)
    reg.set_alias("m", "champion", 2)
    verdict = reg.alias_history("m")[-1].details["gate"]
    assert [c["gate"] for c in verdict["checks"]] == ["require_better", "require_reproduced"]
    assert verdict["passed"] is True


def test_the_pipelines_reproduce_hook_plugs_in(reg, pipeline, monkeypatch):
    import importlib

    # The package re-exports a function named like the module, so import the module itself.
    reproduce = importlib.import_module("jupyter_mlops.pipelines.reproduce")

    seen = []

    def no_kernel_here(run_id, *args, client=None, **kwargs):
        seen.append(client)
        raise RuntimeError(f"would re-run {run_id}")

    monkeypatch.setattr(reproduce, "reproduce", no_kernel_here)
    reg = reg.client.registry  # what Client builds: the pipelines check, bound to the client
    version = _register(reg, pipeline, 0.9)
    reg.set_gate_policy("m", {"require_reproduced": True})
    with pytest.raises(ConflictError, match=f"would re-run {version.run_id}"):
        reg.set_alias("m", "champion", 1)
    assert seen == [reg.client]  # re-executed through the registry's own client


def test_separate_approver_policy_refuses_self_approval(team, pipeline):
    team.grant_role("sam", "data_scientist", by="ada")
    team.grant_role("sam", "ml_engineer", by="ada")  # may propose and approve
    _register(team, pipeline, 0.9)
    own = team.propose("m", 1, "champion", user="sam")
    assert team.approve(own.id, user="sam").status == "APPROVED"  # no policy: allowed
    team.set_gate_policy("m", {"separate_approver": True}, user="ada")
    _register(team, pipeline, 0.95)
    own = team.propose("m", 2, "champion", user="sam")
    with pytest.raises(PermissionDeniedError, match="separate_approver"):
        team.approve(own.id, user="sam")
    assert team.store.get_promotion(own.id).status == "PENDING"
    assert team.get_model("m").aliases == {"champion": 1}
    assert team.approve(own.id, user="eli").status == "APPROVED"
    assert team.get_model("m").aliases == {"champion": 2}
    with pytest.raises(InvalidInputError, match="Unknown gate policy"):
        team.set_gate_policy("m", {"four_eyes": True}, user="ada")


def test_delete_versions_and_models(team, pipeline):
    for metric in (0.8, 0.9, 0.95):
        _register(team, pipeline, metric)
    team.set_alias("m", "champion", 2, user="ada")
    pending = team.propose("m", 3, "challenger", user="dana")
    with pytest.raises(PermissionDeniedError, match="manage"):
        team.delete_version("m", 1, user="dana")
    with pytest.raises(ConflictError, match="champion"):
        team.delete_version("m", 2, user="ada")
    team.delete_version("m", 3, reason="leaked test data", user="ada")
    assert [v.version for v in team.list_versions("m")] == [1, 2]
    assert pending.id not in [p.id for p in team.list_promotions("m")]
    # Numbers are never reused: the next registration is 4, not 3.
    assert _register(team, pipeline, 0.97).version == 4
    with pytest.raises(ConflictError, match="aliases"):
        team.delete_model("m", user="ada")
    team.delete_alias("m", "champion", user="ada")
    assert team.delete_model("m", reason="retired", user="ada") == 3
    assert "m" not in [m.name for m in team.list_models()]
    actions = [e.action for e in team.audit_log("m")]
    assert actions[0] == "delete_model" and "delete_version" in actions
    assert _register(team, pipeline, 0.5).version == 5  # a new model of that name continues
