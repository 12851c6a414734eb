"""Search that helps: a misspelt key gets a hint, `!=` on a missing key means the same on every
backend, and runs, search results and lineage read well as HTML and as text."""

from __future__ import annotations

import warnings

import pytest

import jupyter_mlops as mlops
from jupyter_mlops.display import RunList
from jupyter_mlops.errors import UnknownFilterKeyWarning

HOSTILE = "<script>alert('x')</script>"


@pytest.fixture
def runs(client):
    """Three runs: tagged team=vision, tagged team=x, and one without the tag."""
    ids = {}
    for name, tags in (("vision", {"team": "vision"}), ("x", {"team": "x"}),
                       ("untagged", {})):
        with mlops.start_run(name=name, tags=tags) as run:
            mlops.log_metric("val_acc", 0.9)
            mlops.log_param("max_iter", 100)
        ids[name] = run.id
    return ids


def _names(found) -> set[str]:
    return {r.name for r in found}


@pytest.mark.parametrize("text, expected", [
    # A run without the key matches no comparison on it (MLflow's rule) ...
    ("tags.team != 'x'", {"vision"}),
    ("tags.team not in ('x')", {"vision"}),
    ("tags.team not like 'x%'", {"vision"}),
    ("params.max_iter != '5'", {"vision", "x", "untagged"}),
    ("metrics.val_acc != 0.5", {"vision", "x", "untagged"}),
    # ... while `not (...)`, `or` and `is null` are plain logic over those comparisons.
    ("not tags.team = 'x'", {"vision", "untagged"}),
    ("tags.team != 'x' or tags.team is null", {"vision", "untagged"}),
    ("tags.team is null", {"untagged"}),
])
def test_not_equal_on_a_missing_key_is_the_same_on_every_backend(client, runs, text, expected):
    # `client` runs once per backend (SQLite and PostgreSQL); the in-memory index is
    # compared with SQL on the same store in tests/store/test_run_index.py as well.
    assert _names(client.search_runs(text)) == expected
    assert client.count_runs(text) == len(expected)


def test_the_in_memory_index_agrees_on_missing_keys(client, runs, store_url):
    if not store_url.startswith("sqlite"):
        pytest.skip("the in-memory index serves SQLite stores only")
    from jupyter_mlops.store.filters import parse_filter
    from jupyter_mlops.store.run_index import RunIndex

    index = RunIndex(client.store.url)
    try:
        assert index.build()
        for text in ("tags.team != 'x'", "tags.team not in ('x')", "not tags.team = 'x'",
                     "tags.team is null", "tags.team not like 'x%'"):
            found = index.search(parse_filter(text), None, 100, 0)
            assert _names(found) == _names(client.search_runs(text)), text
    finally:
        index.close()


def test_a_misspelt_key_warns_with_the_closest_known_keys(client, runs):
    with pytest.warns(UnknownFilterKeyWarning) as caught:
        found = mlops.search_runs("metrics.val_ac > 0.5")
    assert found == [] and isinstance(found, RunList) and isinstance(found, list)
    message = str(caught[0].message)
    assert "metrics.val_ac" in message and "metrics.val_acc" in message
    assert "not even !=" in message
    assert caught[0].filename == __file__  # points at the caller's line
    assert found.hint == message

    with pytest.warns(UnknownFilterKeyWarning, match=r"tags\.team\?"):
        mlops.search_runs("tags.tem != 'x' or params.max_iter = '100'")


def test_every_known_key_and_attribute_filters_stay_quiet(client, runs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _names(mlops.search_runs("metrics.val_acc > 0.5 and tags.team = 'x'")) == {"x"}
        mlops.search_runs("name = 'nobody' and status = 'FINISHED'")
        mlops.search_runs()
    assert client.filter_hint("params.max_iter = '100'") is None


def test_hints_without_a_close_match_list_the_known_keys(client, runs):
    assert "the param keys are max_iter" in client.filter_hint("params.zzzz = 'a'")
    assert "no run has logged any" not in client.filter_hint("params.zzzz = 'a'")
    hint = client.search_runs("metrics.VAL = 1", warn=False).hint
    assert "metrics.val_acc" in hint  # case slips are still matched


def test_a_fresh_store_says_nothing_was_logged(client):
    assert "no run has logged any metric yet" in client.filter_hint("metrics.acc > 0")


def test_search_results_render_as_html_and_text(client, runs):
    with mlops.start_run(name=HOSTILE, tags={"team": HOSTILE}):
        mlops.log_metric(HOSTILE, 1.0)
    found = mlops.search_runs()
    page = found._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page
    text = str(found)
    assert text.splitlines()[0].split()[:4] == ["RUN", "NAME", "STATUS", "EXPERIMENT"]
    assert "untagged" in text and "FINISHED" in text and "0.9" in text
    assert "RunRecord(" not in text
    with pytest.warns(UnknownFilterKeyWarning):
        empty = mlops.search_runs("metrics.nope > 1")
    assert str(empty).startswith("(no runs match)\nhint: No run has metrics.nope")
    assert "jp-mlops-hint" in empty._repr_html_()


def test_a_run_and_its_detail_print_as_a_short_summary(client, runs):
    record = client.get_run(runs["vision"]).run
    text = str(record)
    assert text.splitlines()[0] == (
        f"Run 'vision' ({record.id[:8]}) FINISHED in experiment 'Default'")
    assert "params: max_iter=100" in text and "metrics: val_acc=0.9" in text
    assert "tags: team=vision" in text and len(text.splitlines()) <= 6
    detail = mlops.get_run(record.id)
    assert str(detail).startswith(text.splitlines()[0])
    assert record.id in detail._repr_html_()


def test_run_html_escapes_every_piece_of_user_text(client):
    with mlops.start_run(name=HOSTILE, tags={HOSTILE: HOSTILE}) as run:
        mlops.log_param(HOSTILE.replace("'", ""), HOSTILE)
    for page in (client.get_run(run.id).run._repr_html_(), mlops.get_run(run.id)._repr_html_()):
        assert "<script>" not in page and "&lt;script&gt;" in page
    assert HOSTILE in str(client.get_run(run.id).run)  # text stays literal


def test_lineage_renders_as_html_and_text(client):
    with mlops.start_run(name=HOSTILE) as run:
        pass
    client.add_lineage("dataset:<b>x</b>", f"run:{run.id}", "input")
    graph = mlops.lineage(run.id)
    text = str(graph)
    assert text.startswith(f"Lineage of {HOSTILE} (run:{run.id})")
    assert "--input-->" in text
    page = graph._repr_html_()
    assert "<script>" not in page and "<b>x</b>" not in page and "&lt;b&gt;" in page


def test_the_cli_prints_the_hint_on_stderr(client, runs, store_url, artifact_root, capsys):
    import json

    from jupyter_mlops.cli import main

    args = ["--tracking-uri", store_url, "--artifact-root", artifact_root, "runs", "list"]
    assert main([*args, "--filter", "tags.tem = 'x'"]) == 0
    out, err = capsys.readouterr()
    assert "(no runs match)" in out
    assert err.splitlines()[-1].startswith("hint: No run has tags.tem; did you mean tags.team?")
    assert main([*args, "--filter", "tags.tem = 'x'", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == [] and "hint: " in err
    assert main([*args, "--filter", "tags.team = 'x'"]) == 0
    assert "hint" not in capsys.readouterr().err


def test_a_key_logged_after_a_hint_is_found_at_once(client, runs):
    assert client.filter_hint("metrics.f1 > 0.5") is not None
    run = client.create_run(name="later")
    client.log_metric(run.id, "f1", 0.7)
    client.flush()
    assert client.filter_hint("metrics.f1 > 0.5") is None  # a missing key is never remembered
    assert _names(client.search_runs("metrics.f1 > 0.5")) == {"later"}
    assert client.filter_hint("metrics.f1 > 0.5 and metrics.f2 > 0") is not None
