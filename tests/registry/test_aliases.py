"""Aliases: atomic reassignment, deletion, full history, and a race between two processes."""

from __future__ import annotations

import pytest

from jupyter_mlops.errors import InvalidInputError, NotFoundError


@pytest.fixture
def two_versions(reg, pipeline, forest):
    reg.register_model(pipeline, "m")
    reg.register_model(forest, "m")
    return reg


def test_reassign_and_delete_keep_the_full_history(two_versions):
    reg = two_versions
    reg.set_alias("m", "champion", 1, reason="first", user="ann")
    reg.set_alias("m", "champion", 2, reason="better", user="bob")
    assert reg.get_version("m", "champion").version == 2
    assert reg.get_version("m", 1).aliases == ()
    assert reg.delete_alias("m", "champion", reason="retired", user="ann") == 2
    history = [(e.action, e.user, e.details["previous"], e.details["version"], e.reason)
               for e in reg.alias_history("m", "champion")]
    assert history == [("set_alias", "ann", None, 1, "first"),
                       ("set_alias", "bob", 1, 2, "better"),
                       ("delete_alias", "ann", 2, None, "retired")]
    with pytest.raises(NotFoundError, match="no alias 'champion'"):
        reg.load_model("models:/m@champion")


def test_deleting_a_missing_alias_is_not_found(two_versions):
    with pytest.raises(NotFoundError, match="no alias 'gone' to delete"):
        two_versions.delete_alias("m", "gone")


@pytest.mark.parametrize("alias", ["", "3", "latest", "a b", "x" * 129, "@x", None])
def test_bad_alias_names_are_refused(two_versions, alias):
    with pytest.raises(InvalidInputError):
        two_versions.set_alias("m", alias, 1)
    assert two_versions.get_model("m").aliases == {}


def test_several_aliases_on_one_version(two_versions):
    reg = two_versions
    reg.set_alias("m", "champion", 2)
    reg.set_alias("m", "challenger", 2)
    assert reg.get_version("m", 2).aliases == ("challenger", "champion")
    assert reg.alias_history("m", "challenger")[0].details["alias"] == "challenger"


@pytest.mark.slow  # two processes race, 5.6 s measured (load 9)
def test_two_processes_racing_leave_one_winner_and_a_complete_log(
        two_versions, spawn_helper, tmp_path):
    reg, n = two_versions, 25
    go = tmp_path / "go"
    workers = [spawn_helper("flip_alias.py", name, n, go) for name in ("w1", "w2")]
    for proc in workers:
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
    go.touch()
    for proc in workers:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and out.strip() == "done", err
    history = reg.alias_history("m", "champion")
    assert len(history) == 2 * n
    assert {e.user for e in history} == {"w1", "w2"}
    # Each move saw the one before it: no lost update, no interleaving inside a move.
    previous = None
    for event in history:
        assert event.details["previous"] == previous
        previous = event.details["version"]
    assert reg.get_model("m").aliases == {"champion": previous}
    for worker in ("w1", "w2"):  # each worker's moves are all there, in its own order
        reasons = [e.reason for e in history if e.user == worker]
        assert reasons == [f"{worker}-{i}" for i in range(n)]
