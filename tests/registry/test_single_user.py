"""A store never shared is one person's: its user holds every role until the first grant."""

from __future__ import annotations

import pytest

from jupyter_mlops.config import current_user
from jupyter_mlops.errors import PermissionDeniedError


def _register(reg, model, name: str = "m"):
    run = reg.client.create_run()
    version = reg.register_model(model, name, run=run)
    reg.client.end_run(run.id)
    return version


def test_a_fresh_stores_user_proposes_approves_and_moves_a_protected_alias(reg, pipeline):
    _register(reg, pipeline)
    _register(reg, pipeline)
    assert reg.roles_apply() is False
    assert set(reg.allowed_actions()) == {"propose", "approve", "set_alias", "manage"}
    reg.set_gate_policy("m", {"protected_aliases": ["champion"]})
    request = reg.propose("m", 1, "champion", reason="first model")
    done = reg.approve(request.id)
    assert (done.status, done.proposed_by, done.decided_by) == (
        "APPROVED", current_user(), current_user())
    reg.set_alias("m", "champion", 2)  # protected, moved directly: no grant needed
    assert reg.get_model("m").aliases == {"champion": 2}
    assert reg.list_roles() == []  # nothing was granted behind the user's back


def test_four_eyes_still_holds_in_a_single_user_store(reg, pipeline):
    _register(reg, pipeline)
    reg.set_gate_policy("m", {"separate_approver": True})
    request = reg.propose("m", 1, "champion")
    with pytest.raises(PermissionDeniedError, match="separate_approver"):
        reg.approve(request.id)
    assert reg.get_model("m").aliases == {}
    assert [p.status for p in reg.list_promotions("m")] == ["PENDING"]
    reg.reject(request.id)  # rejecting is not approving one's own request


def test_the_first_grant_makes_roles_matter_for_good(reg, pipeline):
    _register(reg, pipeline)
    me = current_user()
    reg.grant_role("someone-else", "data_scientist")
    assert reg.roles_apply() is True
    with pytest.raises(PermissionDeniedError, match=f"'{me}' may not propose.*no role"):
        reg.propose("m", 1, "champion")
    request = reg.propose("m", 1, "champion", user="someone-else")
    with pytest.raises(PermissionDeniedError, match="'someone-else' may not approve"):
        reg.approve(request.id, user="someone-else")
    # nobody holds manage now, so not even the store's first user can undo the grant
    with pytest.raises(PermissionDeniedError, match="may not manage"):
        reg.revoke_role("someone-else", "data_scientist")
    assert reg.get_model("m").aliases == {}


def test_revoking_every_role_keeps_the_store_shared(reg, pipeline):
    _register(reg, pipeline)
    reg.grant_role("ada", "admin", by="ada")
    reg.revoke_role("ada", "admin", by="ada")
    assert reg.list_roles() == [] and reg.roles_apply() is True
    with pytest.raises(PermissionDeniedError, match="may not propose"):
        reg.propose("m", 1, "champion", user="ada")


def test_print_card_shows_its_markdown_and_html_escapes(reg, pipeline, capsys):
    run = reg.client.create_run(name="<script>alert(1)</script>")
    reg.register_model(pipeline, "m", run=run, description="<script>bad()</script>")
    reg.client.end_run(run.id)
    card = reg.model_card("m", 1)
    print(card)
    out = capsys.readouterr().out
    assert out.startswith("# Model card: m version 1\n") and "## " in out
    assert "ModelCard(" not in out and "<script>" not in out
    assert "<script>" not in card._repr_html_() and "&lt;script&gt;" in card._repr_html_()
