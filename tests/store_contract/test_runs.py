"""AbstractRunStore contract: experiments, run lifecycle, values, search — on every backend."""

from __future__ import annotations

import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_mlops.errors import (
    ConflictError,
    InvalidInputError,
    MlopsError,
    NotFoundError,
)
from jupyter_mlops.store.refusals import store_error
from jupyter_mlops.store.runs import RunStore

UNKNOWN = "0" * 32


@pytest.fixture
def runs(backend_url: str) -> RunStore:
    return RunStore(backend_url)


def new_run(runs: RunStore, **kw):
    kw.setdefault("experiment", "exp")
    kw.setdefault("name", None)
    kw.setdefault("user", "ada")
    return runs.create_run(**kw)


# ----------------------------------------------------------------------------- experiments
def test_experiments_are_created_once_and_listed_by_name(runs, backend_url):
    first = runs.get_or_create_experiment("zeta")
    assert runs.get_or_create_experiment("zeta") == first
    # Another instance (another process, in effect) finds the same row, not a duplicate.
    assert RunStore(backend_url).get_or_create_experiment("zeta").id == first.id
    runs.get_or_create_experiment("alpha")
    runs.get_or_create_experiment(None)  # the default experiment
    assert [e.name for e in runs.list_experiments()] == ["Default", "alpha", "zeta"]


def test_experiment_names_are_1_to_256_characters_of_any_script(runs):
    name = "实验-éxp-🧪" + "x" * 248
    assert len(name) == 256
    assert runs.get_or_create_experiment(name).name == name
    for bad in ("   ", "y" * 257):  # ("" and None mean the default experiment)
        with pytest.raises(InvalidInputError):
            runs.get_or_create_experiment(bad)


def test_concurrent_creators_of_one_experiment_get_one_row(backend_url):
    found, errors = [], []

    def create():
        try:
            found.append(RunStore(backend_url).get_or_create_experiment("race").id)
        except Exception as exc:  # noqa: BLE001 - any error is the failure reported below
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(found)) == 1


# ----------------------------------------------------------------------------- lifecycle
def test_a_run_is_created_read_renamed_ended_and_deleted(runs):
    run = new_run(runs, name="first", tags={"team": "ml"})
    assert run.status == "RUNNING" and run.end_time is None
    got = runs.get_run(run.id)
    assert (got.name, got.experiment, got.user, got.tags) == ("first", "exp", "ada", {"team": "ml"})
    assert runs.rename_run(run.id, "renamed").name == "renamed"
    runs.end_run(run.id, "failed")  # case-insensitive
    ended = runs.get_run(run.id)
    assert ended.status == "FAILED" and ended.end_time >= ended.start_time
    runs.delete_run(run.id)
    with pytest.raises(NotFoundError):
        runs.get_run(run.id)


def test_a_given_run_id_is_kept_and_a_taken_one_is_refused(runs):
    run = new_run(runs, run_id="a" * 32)
    assert run.id == "a" * 32 and runs.get_run("a" * 32).id == run.id
    with pytest.raises(MlopsError):
        new_run(runs, run_id="a" * 32)


@pytest.mark.parametrize("call", [
    lambda s: s.get_run(UNKNOWN),
    lambda s: s.end_run(UNKNOWN),
    lambda s: s.rename_run(UNKNOWN, "x"),
    lambda s: s.delete_run(UNKNOWN),
    lambda s: s.delete_tag(UNKNOWN, "k"),
    lambda s: s.writers_of(UNKNOWN),
    lambda s: s.attach(UNKNOWN),
    lambda s: s.require_running(UNKNOWN),
    lambda s: s.metric_history(UNKNOWN, "loss"),
    lambda s: new_run(s, parent_run_id=UNKNOWN),
], ids=["get", "end", "rename", "delete", "delete_tag", "writers_of", "attach",
        "require_running", "metric_history", "parent"])
def test_an_unknown_run_is_not_found(runs, call):
    with pytest.raises(NotFoundError):
        call(runs)


def test_end_status_must_be_a_final_one(runs):
    run = new_run(runs)
    for bad in ("RUNNING", "DONE", ""):
        with pytest.raises(InvalidInputError):
            runs.end_run(run.id, bad)
    assert runs.get_run(run.id).status == "RUNNING"  # nothing recorded by a refusal


def test_logging_to_an_ended_run_is_a_conflict(runs):
    run = new_run(runs)
    runs.require_running(run.id)
    runs.end_run(run.id)
    with pytest.raises(ConflictError, match="start a new run"):
        runs.require_running(run.id)


def test_a_missing_tag_is_not_found_and_names_the_tag(runs):
    run = new_run(runs, tags={"keep": "1", "drop": "2"})
    runs.delete_tag(run.id, "drop")
    assert runs.get_run(run.id).tags == {"keep": "1"}
    with pytest.raises(NotFoundError, match="drop"):
        runs.delete_tag(run.id, "drop")


def test_statuses_list_their_runs_and_heartbeats_skip_ended_ones(runs):
    a, b = new_run(runs), new_run(runs)
    runs.end_run(b.id, "KILLED")
    runs.heartbeat([a.id, b.id, UNKNOWN])  # unknown and ended ids are ignored
    assert runs.run_ids_with_status("RUNNING") == [a.id]
    assert runs.run_ids_with_status("KILLED") == [b.id]
    assert runs.reap_dead_runs(3600.0) == []  # a fresh heartbeat is alive


def test_reproducibility_marks_do_not_overwrite_each_other(runs):
    a, b = new_run(runs), new_run(runs)
    runs.mark_not_reproducible(a.id, "cells ran out of order")
    runs.mark_reproducible(a.id)
    runs.mark_reproducible(b.id)
    assert (runs.get_run(a.id).reproducible, runs.get_run(a.id).not_reproducible_reason) == (
        False, "cells ran out of order")
    assert runs.get_run(b.id).reproducible is True


def test_children_are_listed_oldest_first(runs):
    parent = new_run(runs)
    kids = [new_run(runs, parent_run_id=parent.id).id for _ in range(3)]
    assert runs.child_run_ids(parent.id) == kids
    assert runs.child_run_ids(kids[0]) == []


# ----------------------------------------------------------------------------- values
def test_a_batch_writes_params_tags_and_metrics_and_the_latest_point_wins(runs):
    run = new_run(runs)
    runs.log_batch(run.id, params=[("lr", "0.1")], tags=[("t", "a")],
                   metrics=[("loss", 0.9, 0, 1.0), ("loss", 0.5, 2, 3.0), ("loss", 0.7, 1, 2.0)])
    runs.log_batch(run.id, params=[("lr", "0.2")], tags=[("t", "b")],
                   metrics=[("loss", 0.6, 1, 4.0), ("acc", float("nan"), 0, 4.0)])
    got = runs.get_run(run.id)
    assert got.params == {"lr": "0.2"} and got.tags["t"] == "b"
    assert got.metrics["loss"] == 0.5  # step 2 is still the latest step
    assert runs.metric_keys(run.id) == ["acc", "loss"]
    history = runs.metric_history(run.id, "loss")
    assert [(p.step, p.value) for p in history] == [(0, 0.9), (1, 0.7), (1, 0.6), (2, 0.5)]
    with pytest.raises(NotFoundError, match="no metric 'nope'"):
        runs.metric_history(run.id, "nope")


def test_history_downsampling_keeps_real_points_and_extremes(runs):
    run = new_run(runs)
    points = [("m", -100.0 if i == 333 else float(i % 7), i, float(i)) for i in range(1000)]
    runs.log_batch(run.id, metrics=points)
    few = runs.metric_history(run.id, "m", max_points=40)
    assert 2 <= len(few) <= 40
    logged = {(s, v) for _, v, s, _ in points}
    assert all((p.step, p.value) in logged for p in few)
    assert min(p.value for p in few) == -100.0  # the spike survives
    with pytest.raises(InvalidInputError):
        runs.metric_history(run.id, "m", max_points=1)


def test_a_batch_is_all_or_nothing(runs):
    run = new_run(runs)
    with pytest.raises(Exception) as caught:  # the second row cannot be stored anywhere
        runs.log_batch(run.id, params=[("ok", "1")],
                       metrics=[("m", 1.0, 2**70, 1.0)])
    assert isinstance(store_error(caught.value), InvalidInputError)
    assert runs.get_run(run.id).params == {}


def test_a_batch_for_a_deleted_run_is_not_found_not_set_aside(runs):
    run = new_run(runs)
    runs.delete_run(run.id)
    with pytest.raises(Exception) as caught:
        runs.log_batch(run.id, params=[("a", "1")])
    assert isinstance(store_error(caught.value), NotFoundError)


text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
               min_size=1, max_size=200)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=text.filter(lambda s: len(s) <= 250), value=text)
def test_any_unicode_key_and_value_round_trip_exactly(runs, key, value):
    run = new_run(runs)
    runs.log_batch(run.id, params=[(key, value)], tags=[(key, value)])
    got = runs.get_run(run.id)
    assert got.params == {key: value} and got.tags == {key: value}


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.text(min_size=1, max_size=20))
def test_a_value_a_backend_cannot_hold_is_refused_as_the_rows_fault(runs, value):
    # NUL and lone surrogates: SQLite stores some, PostgreSQL none. Either it round-trips
    # exactly or the store's answer classifies as the row's fault (set aside, not retried).
    run = new_run(runs)
    try:
        runs.log_batch(run.id, params=[("k", value)])
    except Exception as exc:  # noqa: BLE001 - classified below
        assert isinstance(store_error(exc), InvalidInputError), repr(exc)
        assert runs.get_run(run.id).params == {}
    else:
        assert runs.get_run(run.id).params == {"k": value}


# ----------------------------------------------------------------------------- search
@pytest.fixture
def ten_runs(runs):
    ids = []
    for i in range(10):
        run = new_run(runs, experiment="even" if i % 2 == 0 else "odd", name=f"r{i}")
        runs.log_batch(run.id, params=[("i", str(i))], metrics=[("acc", i / 10, 0, 1.0)])
        ids.append(run.id)
    return ids


def test_search_pages_through_every_run_once_newest_first(runs, ten_runs):
    pages = [runs.search_runs(max_results=3, offset=o) for o in (0, 3, 6, 9)]
    seen = [r.id for page in pages for r in page]
    assert sorted(seen) == sorted(ten_runs) and len(seen) == 10
    starts = [r.start_time for page in pages for r in page]
    assert starts == sorted(starts, reverse=True)
    assert runs.search_runs(max_results=5, offset=10) == []
    assert runs.count_runs() == 10


def test_search_filters_orders_and_counts_alike(runs, ten_runs):
    found = runs.search_runs("metrics.acc >= 0.5", order_by="metrics.acc DESC")
    assert [r.params["i"] for r in found] == ["9", "8", "7", "6", "5"]
    assert runs.count_runs("metrics.acc >= 0.5") == 5
    odd = runs.search_runs(experiment="odd", order_by=["params.i ASC"])
    assert [r.params["i"] for r in odd] == ["1", "3", "5", "7", "9"]
    assert runs.count_runs(experiment="odd") == 5


@pytest.mark.parametrize("kw", [{"max_results": 0}, {"max_results": 50_001}, {"offset": -1}])
def test_search_page_limits_are_checked(runs, kw):
    with pytest.raises(InvalidInputError):
        runs.search_runs(**kw)


def test_a_bad_filter_is_invalid_input(runs, ten_runs):
    with pytest.raises(InvalidInputError):
        runs.search_runs("metrics.acc >>> 1")
