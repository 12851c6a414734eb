"""Model-registry routes through a real jupyter_server with token authentication.

Under jupyter_server's own token login every browser session is a random "Anonymous" user,
so requests act as the server's identity (MLOPS_USER = "tester" here, an ML engineer); the
role tests in ``test_registry_roles.py`` use an identity provider with named users.
"""

from __future__ import annotations

import json

import pytest

API = "mlops/api/v1"


def post(body) -> dict:
    return {"method": "POST", "body": body if isinstance(body, (str, bytes)) else json.dumps(body)}


async def test_models_list(api, registry_seed):
    status, body = await api("models")
    assert status == 200
    (model,) = body["models"]
    assert model["name"] == "churn"
    assert model["latest_version"] == 2
    assert model["aliases"] == {"champion": 1}


async def test_models_list_empty_store(api, mlops_store):
    status, body = await api("models")
    assert status == 200 and body == {"models": []}


async def test_model_with_versions_aliases_and_gate_policy(api, registry_seed):
    status, body = await api("models", "churn")
    assert status == 200
    assert body["aliases"] == {"champion": 1}
    assert body["gate_policy"]["require_better"]["metric"] == "acc"
    assert body["gate_policy"]["protected_aliases"] == ["champion"]
    v1, v2 = body["versions"]
    assert (v1["version"], v1["aliases"]) == (1, ["champion"])
    assert (v2["version"], v2["aliases"]) == (2, [])
    assert v2["metrics"]["acc"] == pytest.approx(0.93)
    assert v2["run_id"] == registry_seed.runs[1]
    assert v2["has_signature"] is True and "input_example" not in v2
    assert v2["flavor"] == "skops" and v2["created_by"] == "dana-ds"
    assert v2["uri"] == "models:/churn/2"
    assert body["promotions"] == []


async def test_version_detail_metrics_signature_lineage(api, registry_seed):
    status, body = await api("models", "churn", "versions", "2")
    assert status == 200
    assert body["version"] == 2 and body["metrics"]["auc"] == pytest.approx(0.96)
    assert body["signature_columns"] == [{"name": "tenure", "type": "float64"},
                                         {"name": "plan", "type": "int64"}]
    assert body["signature"]["type"] == "dataframe"
    assert body["input_example"] is not None
    assert body["run"]["name"] == "churn-train-2" and body["run"]["status"] == "FINISHED"
    lineage = body["lineage"]
    assert lineage["root"] == "model:churn/2"
    ids = {n["id"] for n in lineage["nodes"]}
    assert f"run:{registry_seed.runs[1]}" in ids
    assert any(n["type"] == "dataset" for n in lineage["nodes"])  # the run's training data
    # By alias, too.
    status, body = await api("models", "churn", "versions", "champion")
    assert status == 200 and body["version"] == 1 and body["aliases"] == ["champion"]


async def test_model_card_markdown_and_escaped_html(api, registry_seed):
    status, body = await api("models", "churn", "versions", "2", "card")
    assert status == 200
    assert body["title"] == "Model card: churn version 2"
    assert "## Metrics" in body["markdown"] and "acc" in body["markdown"]
    html = body["html"]
    assert "<h2>Metrics</h2>" in html
    # The description carries markup: it is text in the card, never tags.
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;window.__card_xss=1&lt;/script&gt;" in html
    assert "<script>" not in body["markdown"]


async def test_audit_log_newest_first(api, registry_seed):
    status, body = await api("models", "churn", "audit")
    assert status == 200
    actions = [e["action"] for e in body["events"]]
    assert actions == ["set_alias", "set_gate_policy", "register", "register"]
    assert body["events"][0]["user"] == "admin-ann"
    assert body["events"][0]["details"]["alias"] == "champion"
    status, body = await api("models", "churn", "audit", params={"limit": 1})
    assert len(body["events"]) == 1


async def test_propose_then_approve_moves_the_alias(api, registry_seed, registry):
    status, req = await api("models", "churn", "promotions",
                            **post({"version": 2, "alias": "champion", "reason": "acc +12"}))
    assert status == 201, req
    assert req["status"] == "PENDING" and req["proposed_by"] == "tester"
    assert req["version"] == 2 and req["alias"] == "champion" and req["reason"] == "acc +12"
    status, body = await api("models", "churn", "promotions", params={"status": "pending"})
    assert [p["id"] for p in body["promotions"]] == [req["id"]]

    status, done = await api("promotions", str(req["id"]), "approve",
                             **post({"reason": "card reviewed"}))
    assert status == 200, done
    assert done["status"] == "APPROVED" and done["decided_by"] == "tester"
    assert done["gate_verdict"]["passed"] is True
    assert registry.get_model("churn").aliases == {"champion": 2}
    status, body = await api("models", "churn", "audit")
    top = [(e["action"], e["user"]) for e in body["events"][:3]]
    assert top == [("approve", "tester"), ("set_alias", "tester"), ("propose", "tester")]

    # Deciding twice is a conflict, not a second move.
    status, body = await api("promotions", str(req["id"]), "reject", **post({}))
    assert status == 409 and "already APPROVED" in body["error"]["message"]


async def test_reject_leaves_the_alias(api, registry_seed, registry):
    status, req = await api("models", "churn", "promotions", **post({"version": 2}))
    assert status == 201 and req["alias"] == "champion"  # the default alias
    status, done = await api("promotions", str(req["id"]), "reject", **post(b""))
    assert status == 200 and done["status"] == "REJECTED"
    assert registry.get_model("churn").aliases == {"champion": 1}


async def test_gate_refusal_is_409_and_request_stays_pending(api, registry_seed, registry):
    # v1 is the champion: proposing v1 for "champion" again cannot beat itself.
    registry.set_alias("churn", "champion", 2, user="admin-ann")
    status, req = await api("models", "churn", "promotions", **post({"version": 1}))
    assert status == 201
    status, body = await api("promotions", str(req["id"]), "approve", **post({}))
    assert status == 409 and body["error"]["type"] == "ConflictError"
    assert "gate" in body["error"]["message"]
    assert registry.get_model("churn").aliases == {"champion": 2}
    assert registry.list_promotions("churn")[0].status == "PENDING"


async def test_unknown_things_are_404(api, registry_seed):
    for parts in [("models", "nope"), ("models", "nope", "versions", "1"),
                  ("models", "nope", "audit"), ("models", "nope", "promotions"),
                  ("models", "nope", "versions", "1", "card"),
                  ("models", "churn", "versions", "7"),
                  ("models", "churn", "versions", "7", "card"),
                  ("models", "churn", "versions", "challenger")]:
        status, body = await api(*parts)
        assert status == 404, parts
        assert body["error"]["type"] == "NotFoundError"
    status, body = await api("models", "churn", "versions", "7")
    assert "latest version is 2" in body["error"]["message"]
    status, body = await api("promotions", "999", "approve", **post({}))
    assert status == 404 and "#999" in body["error"]["message"]
    status, body = await api("models", "nope", "promotions", **post({"version": 1}))
    assert status == 404


@pytest.mark.parametrize("body, message", [
    ({"version": "two"}, "'version' must be a version number"),
    ({"version": 0}, "'version' must be a version number"),
    ({"version": True}, "'version' must be a version number"),
    ({}, "'version' must be a version number"),
    ({"version": 2, "alias": "1abc"}, "Aliases are"),
    ({"version": 2, "alias": ""}, "'alias' must be a non-empty string"),
    ({"version": 2, "reason": 5}, "'reason' must be a string"),
    ({"version": 2, "reason": "x" * 2001}, "longer than 2000"),
    ({"version": 2, "user": "someone-else"}, "Unknown field(s) ['user']"),
    ("[1, 2]", "must be a JSON object"),
    ("{not json", "not valid JSON"),
])
async def test_bad_propose_bodies_are_400(api, registry_seed, registry, body, message):
    status, resp = await api("models", "churn", "promotions", **post(body))
    assert status == 400, resp
    assert message in resp["error"]["message"]
    assert registry.list_promotions("churn") == []


async def test_bad_decision_bodies_and_ids_are_400(api, registry_seed):
    status, req = await api("models", "churn", "promotions", **post({"version": 2}))
    for path, body, message in [
            (("promotions", str(req["id"]), "approve"), {"user": "bob"}, "Unknown field"),
            (("promotions", str(req["id"]), "reject"), {"reason": ["no"]}, "must be a string"),
            (("promotions", "abc", "approve"), {}, "ids are numbers")]:
        status, resp = await api(*path, **post(body))
        assert status == 400, (path, resp)
        assert message in resp["error"]["message"]


async def test_identity_under_token_login_is_the_servers(api, registry_seed):
    status, body = await api("identity")
    assert status == 200
    assert body["user"] == "tester" and body["source"] == "process"
    assert body["roles"] == ["ml_engineer"]
    assert body["actions"] == ["propose", "approve", "set_alias"]
    # jupyter_server's token login: a random per-session id, not a person.
    assert len(body["jupyter_user"]) == 32


async def test_cookie_post_without_xsrf_is_403_and_changes_nothing(
        raw_fetch, registry_seed, registry):
    from http.cookies import SimpleCookie

    status, headers, _ = await raw_fetch(f"{API}/models")
    jar = SimpleCookie()
    for value in headers.get_list("Set-Cookie"):
        jar.load(value)
    cookie = "; ".join(f"{k}={m.value}" for k, m in jar.items())
    assert cookie
    status, _, body = await raw_fetch(f"{API}/models/churn", auth=False,
                                      headers={"Cookie": cookie})
    assert status == 200  # the cookie alone reads
    status, _, body = await raw_fetch(f"{API}/models/churn/promotions", auth=False,
                                      method="POST", body=b'{"version": 2}',
                                      headers={"Cookie": cookie})
    assert status == 403 and b"xsrf" in body.lower()
    assert registry.list_promotions("churn") == []
    assert registry.audit_log("churn")[0].action == "set_alias"
