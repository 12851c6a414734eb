"""``search_runs`` ordered by a metric: the index walk of store/metric_order.py (issue 14).

The answers are compared with a plain Python sort of the seeded runs (runs without the metric
or with NaN last in either direction, later terms, then ``start_time DESC, id ASC``), page by
page, on random orders, filters and page sizes (hypothesis), on SQLite (the stdlib path and
the SQLAlchemy one) and PostgreSQL; with the walk's budget shrunk so that the bounded walk,
the one-statement fallback and the "runs without the metric" part all answer. The plans are
checked with EXPLAIN: the walk reads ``ix_latest_metrics_key_value`` in order, no full sort.
"""

from __future__ import annotations

import math
import random
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_mlops.store import metric_order

NAN, INF = math.nan, math.inf
N_RUNS = 48

#: Filters with their meaning in Python, over a seeded run (see _expected).
FILTERS = {
    None: lambda r: True,
    "params.model = 'svc'": lambda r: r["model"] == "svc",
    "metrics.acc > 0.3": lambda r: _num(r, "acc") is not None and r["acc"] > 0.3,
    "metrics.acc >= 0.5 and params.model = 'lr'":
        lambda r: _num(r, "acc") is not None and r["acc"] >= 0.5 and r["model"] == "lr",
    "metrics.acc != 0.5": lambda r: _num(r, "acc") is not None and r["acc"] != 0.5,
    "metrics.acc < 0.9 and metrics.acc > -1": lambda r: _num(r, "acc") is not None
        and -1 < r["acc"] < 0.9,
    "metrics.loss < 0.5": lambda r: _num(r, "loss") is not None and r["loss"] < 0.5,
    "metrics.acc is null": lambda r: "acc" not in r,
    "metrics.acc is not null": lambda r: "acc" in r,
    "metrics.acc > 0.3 or params.model = 'svc'":
        lambda r: (_num(r, "acc") is not None and r["acc"] > 0.3) or r["model"] == "svc",
}
LATER = [[], ["metrics.loss ASC"], ["metrics.loss DESC"], ["start_time ASC"],
         ["attributes.run_id DESC"]]


def _num(run: dict, key: str) -> float | None:
    """The run's latest value of ``key``; None when it never logged it or logged NaN."""
    value = run.get(key)
    return None if value is None or math.isnan(value) else value


def _seed_values(rng: random.Random) -> list[dict]:
    """Runs with ties (values and start times), NaN, ±inf and missing metrics."""
    runs = []
    for i in range(N_RUNS):
        run = {"id": "%032x" % rng.getrandbits(128), "start": 1000.0 + rng.randrange(6),
               "model": rng.choice(["svc", "lr"])}
        acc = rng.choice(["missing", "missing", NAN, 0.1, 0.5, 0.5, 0.5, 0.9, -INF, INF, 0.3])
        if acc != "missing":
            run["acc"] = acc
        if rng.random() < 0.7:
            run["loss"] = rng.choice([0.2, 0.7, NAN, 0.2])
        runs.append(run)
    return runs


def _seed(run_store, runs: list[dict]) -> None:
    for run in runs:
        run_store.create_run(experiment="e", name=None, user="u", run_id=run["id"],
                             start_time=run["start"])
        metrics = [(k, run[k], 0, 1.0) for k in ("acc", "loss") if k in run]
        run_store.log_batch(run["id"], params=[("model", run["model"])], metrics=metrics)


def _expected(runs: list[dict], flt: str | None, order: list[str]) -> list[str]:
    """Run ids in the order search_runs promises, by a plain Python sort."""
    def key(run):
        parts = []
        for term in order:
            field, _, direction = term.partition(" ")
            sign = -1 if direction == "DESC" else 1
            if field.startswith("metrics."):
                value = _num(run, field.split(".", 1)[1])
                parts += [value is None, 0 if value is None else sign * value]
            elif field == "start_time":
                parts.append(sign * run["start"])
            else:  # attributes.run_id DESC: the hex ids as numbers sort the same
                parts.append(sign * int(run["id"], 16))
        named = " ".join(order)
        if "start_time" not in named:
            parts.append(-run["start"])
        if "run_id" not in named:
            parts.append(run["id"])
        return parts

    return [r["id"] for r in sorted((r for r in runs if FILTERS[flt](r)), key=key)]


def _stdlib_path(monkeypatch) -> None:
    """Searches in SQL (no in-memory index); see _search for LiteRunStore."""
    monkeypatch.setenv("MLOPS_SEARCH_INDEX", "0")
    monkeypatch.delitem(sys.modules, "jupyter_mlops.store.run_index", raising=False)


def _search(run_store, *args, **kwargs):
    """``run_store.search_runs``; LiteRunStore answers on sqlite3 itself (it hands every
    search to the SQLAlchemy store once this process imported the in-memory index, which
    the SQLAlchemy store's second search does) and is checked to have walked."""
    from jupyter_mlops.store.lite import LiteRunStore

    if not isinstance(run_store, LiteRunStore):
        return run_store.search_runs(*args, **kwargs)
    sys.modules.pop("jupyter_mlops.store.run_index", None)
    calls = []
    walk = run_store._metric_page

    def counted(*a, **k):
        calls.append(1)
        return walk(*a, **k)

    run_store._metric_page = counted
    try:
        found = run_store.search_runs(*args, **kwargs)
    finally:
        del run_store._metric_page
    assert calls, "LiteRunStore did not answer this search itself"
    return found


@pytest.fixture
def seeded(store, store_url, monkeypatch):
    """(run stores to ask, seeded runs): the stdlib path too on SQLite."""
    from jupyter_mlops.store.lite import LiteRunStore
    from jupyter_mlops.store.runs import RunStore

    _stdlib_path(monkeypatch)
    runs = _seed_values(random.Random(14))
    _seed(RunStore(store_url), runs)
    stores = [RunStore(store_url)]
    if store_url.startswith("sqlite"):
        stores.append(LiteRunStore(store_url))
    return stores, runs


BUDGETS = {
    "default": {},
    # Bounded walks of a few entries: most pages fall back to the one-statement plan.
    "tiny": {"MIN_BUDGET": 2, "BUDGET_PER_ROW": 1, "MAX_BUDGET": 10**6},
    # Every page deeper than 3 runs is answered by the one-statement plan at once.
    "shallow": {"MIN_BUDGET": 3, "BUDGET_PER_ROW": 1, "MAX_BUDGET": 3},
}


def _check_pages(stores, runs, monkeypatch, descending, flt, later, size, budgets) -> None:
    """Every page of the search, and one starting just past the runs with a value, equal
    the Python sort's slices."""
    for name, value in BUDGETS[budgets].items():
        monkeypatch.setattr(metric_order, name, value)
    order = ["metrics.acc " + ("DESC" if descending else "ASC"), *later]
    expected = _expected(runs, flt, order)
    for run_store in stores:
        got, offset = [], 0
        while True:
            page = _search(run_store, flt, "e", order, size, offset)
            assert len(page) <= size
            got += [r.id for r in page]
            offset += size
            if len(page) < size:
                break
        assert got == expected, (type(run_store).__name__, order, flt, size, budgets)
        # A page that starts past the runs with a value (the count is needed there).
        with_value = sum(1 for r in runs if FILTERS[flt](r) and _num(r, "acc") is not None)
        if with_value < len(expected):
            page = _search(run_store, flt, "e", order, size, with_value + 1)
            assert [r.id for r in page] == expected[with_value + 1:with_value + 1 + size]


@pytest.mark.parametrize(("descending", "flt", "later", "size", "budgets"), [
    (True, None, [], 7, "default"),
    (False, "metrics.acc > 0.3", ["metrics.loss DESC"], 5, "tiny"),
    (True, "params.model = 'svc'", ["start_time ASC"], 4, "shallow"),
    (False, "metrics.acc is null", [], 6, "default"),
    (True, "metrics.acc > 0.3 or params.model = 'svc'", ["attributes.run_id DESC"], 9, "tiny"),
])
def test_pages_match_a_python_sort(seeded, monkeypatch, descending, flt, later, size, budgets):
    _check_pages(*seeded, monkeypatch, descending, flt, later, size, budgets)


@pytest.mark.slow  # ~25 random searches, each paged to its end on two or three stores: 10-60 s
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(descending=st.booleans(), flt=st.sampled_from(list(FILTERS)),
       later=st.sampled_from(LATER), size=st.integers(1, 30),
       budgets=st.sampled_from(list(BUDGETS)))
def test_random_pages_match_a_python_sort(seeded, monkeypatch, descending, flt, later, size,
                                          budgets):
    _check_pages(*seeded, monkeypatch, descending, flt, later, size, budgets)


def test_a_metric_nobody_logged_orders_by_the_later_terms(seeded):
    stores, runs = seeded
    order = ["metrics.never DESC", "start_time ASC"]
    expected = _expected([{**r, "never": None} for r in runs], None, order)
    for run_store in stores:
        assert [r.id for r in _search(run_store, None, "e", order, 100)] == expected


def test_split_filter_pushes_only_top_level_comparisons_of_the_key():
    from jupyter_mlops.store.filters import parse_filter

    pushed, rest = metric_order.split_filter(
        parse_filter("metrics.acc > 0.5 and metrics.acc <= 2 and metrics.loss < 1 "
                     "and params.m = 'a'"), "acc")
    assert pushed == [(">", 0.5), ("<=", 2.0)]
    assert [i.operand.key for i in rest.items] == ["loss", "m"]
    for text in ("metrics.acc > 0.5 or params.m = 'a'", "metrics.acc is not null",
                 "not metrics.acc > 0.5", "metrics.loss > 0.5"):
        node = parse_filter(text)
        assert metric_order.split_filter(node, "acc") == ([], node), text
    assert metric_order.split_filter(parse_filter("metrics.acc = 1"), "acc") == (
        [("=", 1.0)], None)


# ----------------------------------------------------------------------------- plans

PLAN_RUNS = 3_000


def _bulk(url: str) -> None:
    """PLAN_RUNS runs in experiment "p" (one Core executemany per table), then ANALYZE, as
    planner_stats does after a bulk write and PostgreSQL's autovacuum does on its own."""
    from sqlalchemy import text

    from jupyter_mlops.store.engine import write_connection
    from jupyter_mlops.store.orm import LatestMetric, Param, Run
    from jupyter_mlops.store.runs import RunStore

    first = RunStore(url).create_run(experiment="p", name="r0", user="u")
    with write_connection(url) as conn:
        template = dict(conn.execute(Run.__table__.select().where(Run.id == first.id))
                        .one()._mapping)
        ids = ["%032x" % (i + 1) for i in range(PLAN_RUNS)]
        conn.execute(Run.__table__.insert(), [
            {**template, "id": rid, "name": f"r{i}", "start_time": 1e6 + i}
            for i, rid in enumerate(ids)])
        conn.execute(Param.__table__.insert(), [
            {"run_id": rid, "key": "model", "value": ("svc", "lr", "rf", "knn", "gb")[i % 5]}
            for i, rid in enumerate(ids)])
        conn.execute(LatestMetric.__table__.insert(), [
            {"run_id": rid, "key": key, "value": (i * 7919 % 1000) / 1000 + j, "step": 0,
             "timestamp": 1.0, "count": 1}
            for i, rid in enumerate(ids) for j, key in enumerate(("acc", "loss"))])
    with write_connection(url) as conn:
        conn.execute(text("ANALYZE"))


def _walk_plans(run_store, url: str, **search) -> list[str]:
    """EXPLAIN of the walk statements (those reading ``latest_metrics AS lm``) a search runs."""
    statements: list[tuple[str, object]] = []
    if url.startswith("sqlite") and type(run_store).__name__ == "LiteRunStore":
        read = run_store._db.read

        def capture(sql, args=()):
            statements.append((sql, args))
            return read(sql, args)

        run_store._db.read = capture
        try:
            found = _search(run_store, **search)
        finally:
            run_store._db.read = read
    else:
        from sqlalchemy import event

        from jupyter_mlops.store.engine import get_engine

        engine = get_engine(url, writer=False)

        def listen(conn, cursor, statement, parameters, context, executemany):
            statements.append((statement, parameters))

        event.listen(engine, "before_cursor_execute", listen)
        try:
            found = run_store.search_runs(**search)
        finally:
            event.remove(engine, "before_cursor_execute", listen)
    assert len(found) == search["max_results"]
    walks = [(s, p) for s, p in statements if "latest_metrics AS lm JOIN" in s
             or "JOIN latest_metrics AS lm" in s]
    assert walks, [s[:120] for s, _ in statements]
    from jupyter_mlops.store.engine import get_engine

    out = []
    with get_engine(url, writer=False).connect() as conn:
        cur = conn.connection.driver_connection.cursor()
        for statement, parameters in walks:
            if url.startswith("sqlite"):
                cur.execute("EXPLAIN QUERY PLAN " + statement, parameters)
                out.append("\n".join(row[3] for row in cur.fetchall()))
            else:
                cur.execute("EXPLAIN " + statement, parameters)
                out.append("\n".join(row[0] for row in cur.fetchall()))
    return out


PLAN_SEARCHES = [(flt, direction) for direction in ("DESC", "ASC") for flt in
                 (None, "params.model = 'svc'", "metrics.acc > 0.5 and params.model = 'svc'")]


@pytest.mark.slow  # seeds 3,000 runs, so that the planners choose as they would for real
def test_the_walk_reads_the_metric_index_in_order(store, store_url, monkeypatch):
    from jupyter_mlops.store.lite import LiteRunStore
    from jupyter_mlops.store.runs import RunStore

    _stdlib_path(monkeypatch)
    _bulk(store_url)
    stores = [RunStore(store_url)] + (
        [LiteRunStore(store_url)] if store_url.startswith("sqlite") else [])
    for run_store, (flt, direction) in ((s, p) for s in stores for p in PLAN_SEARCHES):
        label = (type(run_store).__name__, flt, direction)
        for text in _walk_plans(run_store, store_url, filter=flt, experiment="p",
                                order_by=[f"metrics.acc {direction}"], max_results=50):
            if store_url.startswith("sqlite"):
                assert "SEARCH lm USING" in text and "ix_latest_metrics_key_value" in text, (
                    label, text)
                assert text.index("SEARCH lm") < text.index("SEARCH runs"), (label, text)
                # Only ties are sorted (the right part); never the whole result.
                assert "USE TEMP B-TREE FOR ORDER BY" not in text, (label, text)
            else:
                assert "ix_latest_metrics_key_value on latest_metrics lm" in text, (label, text)
                assert ("Backward" in text) == (direction == "DESC"), (label, text)
                assert "Seq Scan on latest_metrics" not in text, (label, text)
                nodes = [line.strip().removeprefix("->").strip() for line in text.splitlines()]
                assert nodes[0].startswith("Limit"), (label, text)
                # A sort above the walk only orders ties (Incremental Sort), never all rows.
                assert not any(node.startswith("Sort  (") for node in nodes), (label, text)


def test_the_run_view_holds_for_metric_orders(client, monkeypatch):
    """Runs of a deleted experiment leave metric-ordered searches too (lifecycle), with the
    metric (the walk) and without it (the second part)."""
    from jupyter_mlops.store.lite import LiteRunStore
    from jupyter_mlops.store.runs import RunStore

    _stdlib_path(monkeypatch)
    for exp, name, acc in (("kept", "k1", 0.1), ("kept", "k2", None), ("gone", "g1", 0.9),
                           ("gone", "g2", None)):
        run = client.create_run(experiment=exp, name=name)
        if acc is not None:
            client.log_metric(run.id, "acc", acc)
        client.end_run(run.id)
    client.flush()
    gone = next(e for e in client.list_experiments() if e.name == "gone")
    client.delete_experiment(gone.id)
    url = client.store.url
    # With the metric first (by value), then those without it (either order: same clock).
    expected = {"active": (["k1"], ["k2"]), "deleted": (["g1"], ["g2"]),
                "all": (["g1", "k1"], ["g2", "k2"])}
    stores = [RunStore(url)] + ([LiteRunStore(url)] if url.startswith("sqlite") else [])
    for run_store in stores:
        for view, (with_value, without) in expected.items():
            found = [r.name for r in _search(run_store, None, None, ["metrics.acc DESC"], 10,
                                             lifecycle=view)]
            assert found[:len(with_value)] == with_value, (type(run_store).__name__, view)
            assert sorted(found[len(with_value):]) == without, (type(run_store).__name__, view)


def test_ordered_searches_do_not_build_the_in_memory_index(seeded, monkeypatch):
    """The index answers no order_by: sorting must not import numpy, start its build thread
    or send later sorted searches through SQLAlchemy (issue 14)."""
    stores, _ = seeded
    monkeypatch.setenv("MLOPS_SEARCH_INDEX", "1")
    for run_store in stores:
        sys.modules.pop("jupyter_mlops.store.run_index", None)
        for order in (["metrics.acc DESC"], ["name"], ["metrics.acc ASC"]):
            run_store.search_runs("params.model = 'svc'", "e", order, 5)
        assert "jupyter_mlops.store.run_index" not in sys.modules, type(run_store).__name__
        assert run_store._sql_searches == 0
