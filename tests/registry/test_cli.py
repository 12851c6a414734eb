"""``jupyter mlops models …`` through add_commands and the COMMANDS handler map."""

from __future__ import annotations

import argparse
import json

import pytest

from jupyter_mlops.cli import models as cli


@pytest.fixture
def jm(client, store_url, artifact_root, capsys):
    """Run one CLI command the way jupyter_mlops.cli.main() will; return stdout."""
    parser = argparse.ArgumentParser(prog="jupyter mlops")
    parser.add_argument("--tracking-uri", default=store_url)
    parser.add_argument("--artifact-root", default=artifact_root)
    top = parser.add_subparsers(dest="group", required=True)
    cli.add_commands(top)

    def run(*argv: str) -> str:
        args = parser.parse_args(argv)
        cli.COMMANDS[(args.group, args.action)](args)
        return capsys.readouterr().out

    return run


@pytest.fixture
def two(reg, pipeline, forest):
    run = reg.client.create_run()
    reg.client.log_metric(run.id, "auc", 0.9)
    reg.register_model(pipeline, "cancer", run=run)
    reg.client.end_run(run.id)
    reg.register_model(forest, "cancer")
    return reg


def test_every_documented_action_has_a_handler():
    assert {a for _, a in cli.COMMANDS} >= {"list", "show", "alias", "propose", "approve",
                                            "card"}


def test_list_and_show(jm, two):
    assert "cancer" in jm("models", "list") and "2" in jm("models", "list")
    listed = json.loads(jm("models", "list", "--format", "json"))
    assert listed[0]["name"] == "cancer" and listed[0]["latest_version"] == 2
    out = jm("models", "show", "cancer")
    assert "sklearn.pipeline.Pipeline" in out and "0.9" in out
    assert "hash" in jm("models", "show", "cancer", "1")
    assert json.loads(jm("models", "show", "cancer", "2", "--format", "json"))["version"] == 2


def test_alias_set_and_delete(jm, two):
    assert "cancer@champion -> version 2" in jm("models", "alias", "cancer", "champion", "2",
                                                "--reason", "better")
    assert two.get_model("cancer").aliases == {"champion": 2}
    assert "was version 2" in jm("models", "alias", "cancer", "champion", "--delete")
    history = jm("models", "history", "cancer")
    assert "set_alias" in history and "delete_alias" in history and "why: better" in history


def test_propose_approve_with_roles(jm, two):
    jm("models", "grant", "ada", "admin", "--by", "ada")
    jm("models", "grant", "dana", "data_scientist", "--by", "ada")
    jm("models", "grant", "eli", "ml_engineer", "--by", "ada")
    assert "dana" in jm("models", "roles")
    out = jm("models", "propose", "cancer", "1", "--user", "dana", "--reason", "auc")
    assert "Request #1" in out and "PENDING" in out
    assert "PENDING" in jm("models", "requests", "cancer")
    assert "APPROVED" in jm("models", "approve", "1", "--user", "eli")
    assert two.get_model("cancer").aliases == {"champion": 1}
    jm("models", "propose", "cancer", "2", "--user", "dana")
    assert "REJECTED" in jm("models", "reject", "2", "--user", "eli")


def test_card_to_stdout_and_file(jm, two, tmp_path):
    assert jm("models", "card", "cancer", "1").startswith("# Model card: cancer version 1")
    target = tmp_path / "card.html"
    jm("models", "card", "cancer", "--format", "html", "--output", str(target))
    assert "<h1>Model card: cancer version 2</h1>" in target.read_text()


def test_errors_are_mlops_errors_for_main_to_print(jm, two):
    from jupyter_mlops.errors import InvalidInputError, NotFoundError, PermissionDeniedError

    with pytest.raises(NotFoundError):
        jm("models", "show", "nope")
    with pytest.raises(InvalidInputError):
        jm("models", "alias", "cancer", "champion")
    two.grant_role("ada", "admin", by="ada")
    with pytest.raises(PermissionDeniedError):
        jm("models", "propose", "cancer", "1", "--user", "zed")



def test_delete_version_then_model(jm, two):
    from jupyter_mlops.errors import NotFoundError

    assert "Deleted version 1 of 'cancer'" in jm("models", "delete", "cancer", "1", "-r", "old")
    with pytest.raises(NotFoundError, match="no version 1"):
        jm("models", "delete", "cancer", "1")
    assert "1 version(s)" in jm("models", "delete", "cancer")
    assert "no models registered" in jm("models", "list")
