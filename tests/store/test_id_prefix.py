"""Ids like git: a unique prefix of a run, dataset or model id works in the API and the CLI;
an ambiguous prefix lists its candidates; an unknown id is a NotFoundError naming the store."""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_mlops.errors import InvalidInputError, NotFoundError

A = "abcd1234" + "0" * 24
B = "abcd5678" + "1" * 24
C = "ffee9999" + "2" * 24


@pytest.fixture
def seeded(client):
    """Three runs with chosen ids: A and B share the prefix 'abcd'."""
    for run_id, name in ((A, "alpha"), (B, "beta"), (C, "gamma")):
        client.store.runs.create_run(experiment=None, name=name, user="u", run_id=run_id)
    return client


def test_a_unique_prefix_names_one_run_everywhere_in_the_api(seeded):
    c = seeded
    assert c.resolve_run_id("abcd1") == A
    assert c.get_run("abcd5").run.id == B
    assert c.lineage("run:ffee").root == f"run:{C}"
    assert c.lineage("ffee99").root == f"run:{C}"
    c.end_run("ffee9", "FAILED")
    assert c.get_run(C).run.status == "FAILED"
    c.delete_run("abcd56")
    with pytest.raises(NotFoundError):
        c.get_run(B)


def test_an_ambiguous_prefix_lists_the_candidates_with_names(seeded):
    with pytest.raises(InvalidInputError) as err:
        seeded.get_run("abcd")
    text = str(err.value)
    assert A in text and B in text and "alpha" in text and "beta" in text
    assert C not in text and "more characters" in text


def test_an_unknown_or_too_short_id_is_not_found_and_names_the_store(seeded):
    with pytest.raises(NotFoundError) as err:
        seeded.lineage("run:0123456789")
    assert seeded.location.describe() in str(err.value)
    with pytest.raises(NotFoundError, match="at least 4 characters"):
        seeded.get_run("abc")
    with pytest.raises(NotFoundError):  # a full-length id that does not exist
        seeded.lineage("run:" + "9" * 32)


def test_datasets_and_models_resolve_by_id_or_digest_prefix(client, tmp_path):
    run = client.create_run(name="train")
    path = tmp_path / "raw.csv"
    path.write_text("x,y\n1,2\n")
    data = client.log_dataset(run.id, path, "raw")
    assert client.resolve_id("dataset", str(data.id)) == str(data.id)
    assert client.resolve_id("dataset", data.digest[:8]) == str(data.id)
    assert client.lineage(f"dataset:{data.digest[:8]}").upstream() == set()
    with pytest.raises(NotFoundError):
        client.lineage("dataset:999999")
    with pytest.raises(NotFoundError):
        client.resolve_id("model", "nosuch/1")
    # Kinds that name no table (cells, pipelines, monitors) pass through unchanged.
    assert client.resolve_node("cell:abc-3") == "cell:abc-3"


def _cli(client, *argv):
    from jupyter_mlops.cli import main

    return main(["--tracking-uri", client.store.url, "--artifact-root", client.store.artifact_root,
                 *argv])


def test_cli_lineage_and_runs_show_accept_prefixes_and_fail_on_unknown_ids(seeded, capsys):
    assert _cli(seeded, "lineage", "run:ffee9") == 0
    assert f"run:{C}: no lineage recorded" in capsys.readouterr().out
    assert _cli(seeded, "runs", "show", "abcd12") == 0
    assert A in capsys.readouterr().out

    assert _cli(seeded, "lineage", "run:0123456789ab") != 0
    out, err = capsys.readouterr()
    assert "no lineage" not in out
    assert "No run '0123456789ab'" in err and seeded.location.describe() in err

    assert _cli(seeded, "lineage", "run:abcd") != 0
    err = capsys.readouterr().err
    assert A in err and B in err and "alpha" in err


def test_cli_verbose_names_the_store_and_why_in_any_position(seeded, capsys):
    for argv in (["-v", "runs", "list"], ["runs", "list", "--verbose"]):
        assert _cli(seeded, *argv) == 0
        err = capsys.readouterr().err
        assert f"store {seeded.store.url}" in err and "given explicitly" in err
    assert _cli(seeded, "runs", "list") == 0
    assert "store" not in capsys.readouterr().err


def test_cli_not_found_errors_name_the_store_searched(seeded, capsys):
    assert _cli(seeded, "models", "show", "no-such-model") != 0
    err = capsys.readouterr().err
    assert "no-such-model" in err and seeded.store.url in err


_ID_TEXT = st.text(alphabet=string.ascii_letters + string.digits + "-_:/%'\" .\x00é",
                   min_size=0, max_size=40)
#: Prefixes of the seeded ids, so matches (unique and ambiguous) are drawn, not only misses.
_PREFIXES = st.sampled_from([A, B, C]).flatmap(lambda i: st.integers(0, 32).map(lambda n: i[:n]))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(_ID_TEXT, _PREFIXES))
def test_random_prefixes_never_crash_and_never_match_wrongly(seeded, text):
    try:
        found = seeded.resolve_run_id(text)
    except (NotFoundError, InvalidInputError):
        matching = [i for i in (A, B, C) if i.startswith(text.strip())]
        # refused: either nothing matches, the prefix is short, or it is ambiguous
        assert len(matching) != 1 or len(text.strip()) < 4
        return
    assert found in (A, B, C) and found.startswith(text.strip()) and len(text.strip()) >= 4


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["dataset", "artifact", "model"]),
       text=st.text(alphabet=string.digits + "²٣/abcdef-", min_size=1, max_size=30))
def test_random_dataset_artifact_and_model_ids_are_refused_cleanly(client, kind, text):
    """No row exists: every text is NotFoundError (or a refusal), never a crash."""
    with pytest.raises((NotFoundError, InvalidInputError)):
        client.resolve_id(kind, text)
