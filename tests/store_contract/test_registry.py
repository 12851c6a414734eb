"""AbstractRegistryStore contract: versions, aliases, promotions, roles, audit — every backend."""

from __future__ import annotations

import threading

import pytest

from jupyter_mlops.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from jupyter_mlops.store.registry import RegistryStore

DIGEST = "ab" * 32


@pytest.fixture
def reg(backend_url: str) -> RegistryStore:
    return RegistryStore(backend_url)


def register(reg: RegistryStore, name: str = "model", **kw):
    fields = dict(digest=DIGEST, size=10, flavor="sklearn", model_class="m.C",
                  trusted_types=None, signature=None, input_example=None, metrics=None,
                  description=None, run_id=None, user="ada")
    fields.update(kw)
    return reg.create_version(name, **fields)


def test_versions_count_up_from_one_and_are_never_reused(reg):
    assert [register(reg).version for _ in range(3)] == [1, 2, 3]
    reg.delete_version("model", 3, user="ada")
    assert register(reg).version == 4
    assert [v.version for v in reg.list_versions("model")] == [1, 2, 4]
    assert reg.get_latest_version("model").version == 4
    assert reg.delete_model("model", user="ada") == 3
    assert register(reg).version == 5  # even after the whole model went


def test_models_are_listed_by_name_with_latest_version_and_aliases(reg):
    for name in ("zeta", "Alpha", "mid.dle-1"):
        register(reg, name)
    register(reg, "zeta")
    reg.set_alias("zeta", "champion", 1, user="ada")
    listed = reg.list_models()
    assert [m.name for m in listed] == sorted(["zeta", "Alpha", "mid.dle-1"])
    zeta = reg.get_model("zeta")
    assert (zeta.latest_version, zeta.aliases) == (2, {"champion": 1})


def test_metrics_and_text_round_trip_and_non_finite_metrics_become_null(reg):
    v = register(reg, description="modèle — 模型 🚀", metrics={"acc": 0.9, "bad": float("nan")},
                 signature={"inputs": [{"name": "ä", "type": "double"}]},
                 trusted_types=["b.T", "a.T", "a.T"])
    got = reg.get_version("model", v.version)
    assert got.description == "modèle — 模型 🚀"
    assert got.metrics == {"acc": 0.9, "bad": None}
    assert got.signature == {"inputs": [{"name": "ä", "type": "double"}]}
    assert got.trusted_types == ["a.T", "b.T"]


@pytest.mark.parametrize("name", ["", "-lead", "a b", "x" * 257, "a/b", "models:/x", "é"])
def test_bad_model_names_are_refused_before_anything_is_written(reg, name):
    with pytest.raises(InvalidInputError):
        register(reg, name)
    assert reg.list_models() == []


@pytest.mark.parametrize("call", [
    lambda r: r.get_model("nope"),
    lambda r: r.get_version("nope", 1),
    lambda r: r.get_version("model", 9),
    lambda r: r.get_version_by_alias("model", "champion"),
    lambda r: r.list_versions("nope"),
    lambda r: r.delete_alias("model", "champion", user="ada"),
    lambda r: r.get_promotion(12345),
    lambda r: r.revoke_role("bob", "admin", by="ada"),
], ids=["model", "version-of-unknown", "version", "alias", "versions", "delete_alias",
        "promotion", "role"])
def test_unknown_things_are_not_found(reg, call):
    register(reg)
    with pytest.raises(NotFoundError):
        call(reg)


def test_alias_moves_are_recorded_in_order_with_their_previous_target(reg):
    for _ in range(3):
        register(reg)
    reg.set_alias("model", "champion", 1, user="ada")
    reg.set_alias("model", "champion", 3, user="ada", reason="better")
    reg.set_alias("model", "staging", 2, user="ada")
    assert reg.get_version_by_alias("model", "champion").version == 3
    assert reg.delete_alias("model", "staging", user="ada") == 2
    history = reg.alias_history("model")
    assert [(e.action, e.details["alias"], e.details["version"], e.details["previous"])
            for e in history] == [
        ("set_alias", "champion", 1, None), ("set_alias", "champion", 3, 1),
        ("set_alias", "staging", 2, None), ("delete_alias", "staging", None, 2)]
    assert [e.details["version"] for e in reg.alias_history("model", "champion")] == [1, 3]
    assert reg.get_version("model", 3).aliases == ("champion",)


@pytest.mark.parametrize("alias", ["latest", "1", "", "a b", "x" * 129])
def test_reserved_and_malformed_aliases_are_refused(reg, alias):
    register(reg)
    with pytest.raises(InvalidInputError):
        reg.set_alias("model", alias, 1, user="ada")


def test_an_aliased_version_or_model_cannot_be_deleted(reg):
    register(reg)
    reg.set_alias("model", "champion", 1, user="ada")
    with pytest.raises(ConflictError, match="champion"):
        reg.delete_version("model", 1, user="ada")
    with pytest.raises(ConflictError, match="champion"):
        reg.delete_model("model", user="ada")
    assert reg.get_version("model", 1).version == 1  # nothing lost by a refusal


def test_a_gate_that_refuses_leaves_the_alias_and_records_the_refusal(reg):
    register(reg)
    register(reg)
    reg.set_alias("model", "champion", 1, user="ada")

    def gate(policy, candidate, current):
        return {"passed": False, "summary": f"v{candidate.version} vs v{current.version}"}

    with pytest.raises(ConflictError, match="v2 vs v1"):
        reg.set_alias("model", "champion", 2, user="ada", gate=gate)
    assert reg.get_version_by_alias("model", "champion").version == 1
    assert reg.alias_history("model")[-1].action == "gate_failed"


def test_concurrent_alias_moves_leave_one_consistent_history(backend_url, reg):
    for _ in range(4):
        register(reg)
    errors = []

    def move(version):
        try:
            for _ in range(3):
                RegistryStore(backend_url).set_alias("model", "champion", version, user="ada")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=move, args=(v,)) for v in (1, 2, 3, 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    history = reg.alias_history("model", "champion")
    assert len(history) == 12
    for before, after in zip(history, history[1:]):
        assert after.details["previous"] == before.details["version"]
    assert reg.get_version_by_alias("model", "champion").version == history[-1].details["version"]


def test_concurrent_registrations_get_distinct_versions(backend_url, reg):
    found, errors = [], []

    def add():
        try:
            found.append(register(RegistryStore(backend_url)).version)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sorted(found) == [1, 2, 3, 4, 5, 6]


def test_a_promotion_is_pending_once_and_decided_once(reg):
    register(reg)
    request = reg.create_promotion("model", 1, "champion", user="ada", reason="ready")
    assert request.status == "PENDING"
    with pytest.raises(ConflictError, match="already pending"):
        reg.create_promotion("model", 1, "champion", user="ada")
    decided = reg.decide_promotion(request.id, approve=True, user="bob")
    assert (decided.status, decided.decided_by) == ("APPROVED", "bob")
    assert reg.get_version_by_alias("model", "champion").version == 1
    with pytest.raises(ConflictError, match="already APPROVED"):
        reg.decide_promotion(request.id, approve=False, user="bob")
    second = reg.create_promotion("model", 1, "staging", user="ada")
    reg.decide_promotion(second.id, approve=False, user="bob")
    assert [p.id for p in reg.list_promotions("model")] == [request.id, second.id]
    assert [p.status for p in reg.list_promotions(status="rejected")] == ["REJECTED"]
    with pytest.raises(InvalidInputError):
        reg.get_promotion("1")  # ids are numbers


def test_roles_apply_after_the_first_grant_and_guard_changes(reg):
    register(reg)
    assert not reg.roles_apply() and reg.may("anyone", "manage")
    reg.grant_role("ada", "admin", by="ada")
    reg.grant_role("ada", "admin", by="ada")  # twice keeps one
    reg.grant_role("bob", "data_scientist", by="ada")
    assert reg.roles_apply()
    assert [(r.user, r.role) for r in reg.list_roles()] == [
        ("ada", "admin"), ("bob", "data_scientist")]
    assert reg.may("bob", "propose") and not reg.may("bob", "approve")
    with pytest.raises(PermissionDeniedError, match="grant bob"):
        reg.delete_version("model", 1, user="bob")
    assert reg.get_version("model", 1).version == 1
    perms = reg.set_permission("data_scientist", "approve", by="ada")
    assert perms["data_scientist"] == ["approve", "propose"] and reg.may("bob", "approve")
    with pytest.raises(InvalidInputError):
        reg.set_permission("data_scientist", "fly", by="ada")
    reg.revoke_role("bob", "data_scientist", by="ada")
    assert not reg.may("bob", "propose")
    assert reg.roles_apply()  # revoking every role later does not reopen the store


def test_the_audit_log_is_newest_first_filtered_and_limited(reg):
    register(reg, "a")
    register(reg, "b")
    reg.set_alias("a", "champion", 1, user="ada")
    log = reg.audit_log()
    assert [e.action for e in log] == ["set_alias", "register", "register"]
    assert [e.target_id for e in reg.audit_log("model", "b")] == ["b"]
    assert [e.action for e in reg.audit_log(actions=["register"], limit=1)] == ["register"]
    assert reg.audit_log(limit=None)[-1].target_id == "a"


def test_referenced_digests_are_those_of_stored_versions(reg):
    other = "cd" * 32
    register(reg)
    register(reg, digest=other)
    reg.delete_version("model", 1, user="ada")
    assert reg.referenced_digests() == {other}
