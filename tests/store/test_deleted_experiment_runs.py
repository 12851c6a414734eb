"""Runs of a deleted experiment leave the default searches and come back on restore (MLflow's
ACTIVE_ONLY view), on every search path: SQL (SQLite and PostgreSQL), the stdlib SQLite path
(plain listing and compiled filters) and the in-memory index; a run stays readable by id."""

from __future__ import annotations

import pytest

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.store import run_index


@pytest.fixture
def two_experiments(client):
    """Client with experiment ``kept`` (runs k1, k2) and ``gone`` (run g1), ``gone`` deleted."""
    ids = {}
    for exp, names in (("kept", ("k1", "k2")), ("gone", ("g1",))):
        for name in names:
            run = client.create_run(experiment=exp, name=name)
            client.end_run(run.id)
            ids[name] = run.id
    client.flush()
    gone = next(e for e in client.list_experiments() if e.name == "gone")
    client.delete_experiment(gone.id)
    return client, gone, ids


def names(runs) -> list[str]:
    return sorted(r.name for r in runs)


def views(runs_store, filter=None, order_by=None) -> dict[str, list[str]]:
    return {view: names(runs_store.search_runs(filter, order_by=order_by, lifecycle=view))
            for view in ("active", "deleted", "all")}


EXPECTED = {"active": ["k1", "k2"], "deleted": ["g1"], "all": ["g1", "k1", "k2"]}


@pytest.mark.parametrize("filter, order_by", [
    (None, None),                                # the plain newest-first listing
    ("status != 'nope'", None),                  # a compiled filter
    (None, ["name"]),                            # an order
    ("experiment = 'gone' or experiment = 'kept'", ["start_time DESC"]),
])
def test_searches_hide_runs_of_deleted_experiments(two_experiments, filter, order_by):
    client, gone, ids = two_experiments
    assert views(client.store.runs, filter, order_by) == EXPECTED
    assert names(client.search_runs(filter, order_by=order_by)) == ["k1", "k2"]
    assert client.count_runs(filter) == 2
    assert client.count_runs(filter, lifecycle="deleted") == 1
    assert client.count_runs(filter, lifecycle="all") == 3
    # Named explicitly, a deleted experiment's runs are still hidden from the active view.
    assert client.search_runs(filter, experiment="gone", order_by=order_by) == []
    assert names(client.search_runs(filter, experiment="gone", order_by=order_by,
                                    lifecycle="deleted")) == ["g1"]
    # Explicit access by id keeps working.
    assert client.get_run(ids["g1"]).name == "g1"
    assert client.store.runs.get_run(ids["g1"]).experiment == "gone"

    client.restore_experiment(gone.id)
    assert names(client.search_runs(filter, order_by=order_by)) == ["g1", "k1", "k2"]
    assert client.count_runs(filter, lifecycle="deleted") == 0


def test_the_sqlalchemy_path_agrees(two_experiments):
    """RunStore (what PostgreSQL always uses, and SQLite past the stdlib path)."""
    client, gone, _ = two_experiments
    full = getattr(client.store.runs, "full", client.store.runs)
    assert views(full) == EXPECTED
    assert views(full, "status != 'nope'") == EXPECTED
    assert full.count_runs(None) == 2


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # the index is SQLite's
def test_the_in_memory_index_agrees_and_sees_delete_and_restore(two_experiments):
    client, gone, _ = two_experiments
    index = run_index.index_for(client.store.url)
    assert index is not None and index.build()
    full = client.store.runs.full
    try:
        assert views(full) == EXPECTED
        assert index.count(None, None) == 2 and index.count(None, None, "all") == 3
        client.restore_experiment(gone.id)  # the index must notice without a rebuild
        assert names(full.search_runs(None)) == ["g1", "k1", "k2"]
        client.delete_experiment(gone.id)
        assert names(full.search_runs(None)) == ["k1", "k2"]
        assert index.count(None, None, "deleted") == 1
    finally:
        run_index.drop_indexes()


@pytest.mark.parametrize("bad", ["ACTIVE_ONLY", "", None, 3])
def test_a_lifecycle_that_is_not_one_of_the_three_is_refused(client, bad):
    for search in (client.search_runs, client.count_runs,
                   getattr(client.store.runs, "full", client.store.runs).search_runs):
        with pytest.raises(InvalidInputError, match="'active'.*'deleted'.*'all'"):
            search(None, lifecycle=bad)


def test_cli_runs_list_hides_them_unless_asked(two_experiments, capsys):
    import json

    from jupyter_mlops.cli import main

    client, _, _ = two_experiments
    base = ["--tracking-uri", client.store.url, "--artifact-root", client.store.artifact_root,
            "runs", "list", "--format", "json"]
    for extra, expected in (([], ["k1", "k2"]), (["--lifecycle", "deleted"], ["g1"]),
                            (["--lifecycle", "all"], ["g1", "k1", "k2"])):
        assert main([*base, *extra]) == 0
        assert sorted(r["name"] for r in json.loads(capsys.readouterr().out)) == expected
