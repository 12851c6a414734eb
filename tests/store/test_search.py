"""``search_runs`` with the filter language against real runs, on every store backend."""

from __future__ import annotations

import pytest

from jupyter_mlops.errors import FilterSyntaxError, InvalidInputError

# name -> (experiment, status, params, metrics, tags)
RUNS = {
    "cv-1": ("exp-a", "FINISHED", {"model": "svc"}, {"acc": 0.95}, {"team": "a"}),
    "cv-2": ("exp-a", "FINISHED", {"model": "lr"}, {"acc": 0.92}, {"team": "x"}),
    "cv-3": ("exp-a", "FAILED", {"model": "rf"}, {"acc": 0.97}, {"team": "b"}),
    "other-4": ("exp-a", "FINISHED", {"model": "svc"}, {"acc": 0.99}, {"team": "a"}),
    "cv-5": ("exp-b", "FINISHED", {"model": "knn"}, {"acc": 0.98}, {"team": "a"}),
    "cv-6": ("exp-b", "FINISHED", {"model": "lr"}, {"acc": 0.85}, {"team": "c"}),
    "cv-7": ("exp-b", "FINISHED", {"model": "rf"}, {"acc": 0.93}, {"team": "c"}),
    "cv-8": ("exp-b", "RUNNING", {"model": "lr", "depth": "12"}, {}, {}),
}

ISSUE_FILTER = ("metrics.acc > 0.9 and (params.model = 'svc' or params.model in ('lr', 'rf')) "
                "and tags.team != 'x' and status = 'FINISHED' and name like 'cv-%'")


@pytest.fixture
def runs(client) -> dict[str, str]:
    """Create RUNS; return name -> run id."""
    ids = {}
    for name, (exp, status, params, metrics, tags) in RUNS.items():
        run = client.create_run(experiment=exp, name=name, tags=tags)
        client.log_params(run.id, params)
        if metrics:
            client.log_metrics(run.id, metrics)
        if status != "RUNNING":
            client.end_run(run.id, status)
        ids[name] = run.id
    client.flush()
    return ids


def names(records) -> set[str]:
    return {r.name for r in records}


def test_the_filter_from_the_docs(client, runs):
    assert names(client.search_runs(ISSUE_FILTER)) == {"cv-1", "cv-7"}
    assert client.count_runs(ISSUE_FILTER) == 2


@pytest.mark.parametrize("flt, expected", [
    ("params.model = 'lr'", {"cv-2", "cv-6", "cv-8"}),
    ("params.model = 'lr' or params.model = 'rf'", {"cv-2", "cv-3", "cv-6", "cv-7", "cv-8"}),
    ("params.model in ('knn', 'svc') and metrics.acc >= 0.98", {"other-4", "cv-5"}),
    ("not (status = 'FINISHED')", {"cv-3", "cv-8"}),
    ("name like 'other-%'", {"other-4"}),
    ("name like 'CV-%'", set()),  # like is case-sensitive…
    ("name ilike 'CV-1'", {"cv-1"}),  # …ilike is not
    ("metrics.acc is null", {"cv-8"}),
    ("tags.team != 'x'", {"cv-1", "cv-3", "other-4", "cv-5", "cv-6", "cv-7"}),
    ("params.depth > 5", {"cv-8"}),  # numeric comparison of a param's text
    ("experiment = 'exp-b' and metrics.acc < 0.9", {"cv-6"}),
])
def test_filters_select_the_right_runs(client, runs, flt, expected):
    assert names(client.search_runs(flt)) == expected


def test_search_in_one_experiment(client, runs):
    assert names(client.search_runs(experiment="exp-b")) == {"cv-5", "cv-6", "cv-7", "cv-8"}
    assert names(client.search_runs("params.model = 'lr'", experiment="exp-a")) == {"cv-2"}
    assert client.search_runs(experiment="no-such-experiment") == []


def test_results_carry_params_latest_metrics_and_tags(client, runs):
    [run] = client.search_runs("name = 'cv-1'")
    assert run.id == runs["cv-1"]
    assert (run.params, run.metrics, run.tags) == ({"model": "svc"}, {"acc": 0.95}, {"team": "a"})
    assert run.experiment == "exp-a" and run.status == "FINISHED"


def test_order_and_paging(client, runs):
    by_acc = [r.name for r in client.search_runs(order_by="metrics.acc desc")]
    assert by_acc == ["other-4", "cv-5", "cv-3", "cv-1", "cv-7", "cv-2", "cv-6", "cv-8"]
    assert [r.name for r in client.search_runs(order_by=["metrics.acc desc"], max_results=3)] \
        == by_acc[:3]
    assert [r.name for r in client.search_runs(order_by="metrics.acc desc", max_results=3,
                                               offset=3)] == by_acc[3:6]
    newest_first = [r.name for r in client.search_runs()]
    assert newest_first == list(reversed(RUNS))


@pytest.mark.parametrize("max_results, offset", [(0, 0), (-1, 0), (50_001, 0), (10, -1)])
def test_paging_limits(client, max_results, offset):
    with pytest.raises(InvalidInputError, match="max_results"):
        client.search_runs(max_results=max_results, offset=offset)


@pytest.mark.parametrize("flt, position", [
    ("metrics.acc >", 13),
    ("metrics.acc > 0.9 and and status = 'FINISHED'", 22),
    ("params.model = 'svc", 15),
    ("(status = 'FINISHED'", 20),
    ("colour = 'red'", 0),
])
def test_malformed_filters_point_at_the_error(client, runs, flt, position):
    with pytest.raises(FilterSyntaxError) as err:
        client.search_runs(flt)
    assert err.value.position == position
    # The message shows the filter with a caret under the offending spot.
    assert f"\n  {flt}\n  {' ' * position}^" in str(err.value)


@pytest.mark.parametrize("hostile", [
    "name = ''; DROP TABLE runs; --'",
    "name = 'x' or 1=1",
    "params.`model' OR '1'='1` = 'svc'",
    "tags.team = 'a'' OR ''1''=''1'",
])
def test_hostile_filters_never_reach_sql(client, runs, hostile):
    try:
        found = client.search_runs(hostile)
    except FilterSyntaxError:
        found = []
    assert names(found) <= {"cv-1", "other-4", "cv-5"}  # at most a literal match, never all
    assert client.count_runs() == len(RUNS)  # and the table is intact
