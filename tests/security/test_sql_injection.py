"""SQL injection through sort keys, filters and run lookups: refused or treated as data.

Every payload either raises one of our ``InvalidInputError``s (a ``FilterSyntaxError`` with a
position) or is handled as a plain value — never a raw database error, and never a change to
the schema or the rows. Runs on SQLite and PostgreSQL. REST query strings go through the same
parser; ``tests/server/test_routes.py`` checks they map to 400.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import inspect

from jupyter_mlops.errors import InvalidInputError, MlopsError, NotFoundError
from tests.reliability.faults import record

ORDER_PAYLOADS = [
    "name; DROP TABLE runs", "name DESC; DROP TABLE runs; --", "metrics.acc DESC --",
    "1; SELECT pg_sleep(5)", "(SELECT 1)", "name, (SELECT name FROM experiments)",
    "name ASC NULLS FIRST", "params.lr'; DELETE FROM params; --", "metrics.\"acc\"",
    "start_time DESC /*", "name COLLATE \"C\"", "CASE WHEN 1=1 THEN name END",
    "run_id UNION SELECT * FROM runs", "metrics.acc DESC, name; UPDATE runs SET name='x'",
    "tags.`x` DESC; --", "sqlite_master", "pg_catalog.pg_user", "name\x00DESC",
]
FILTER_PAYLOADS = [
    "name = '' OR 1=1 --", "name = ''; DROP TABLE runs; --'", "params.lr = 'x' OR 'a'='a'",
    "name like '%' UNION SELECT * FROM runs", "metrics.acc > 0 OR (SELECT 1)",
    "status = 'FINISHED'/*", "name = \"a\"; DELETE FROM runs",
]


def snapshot(client) -> tuple:
    from jupyter_mlops.store.engine import read_connection

    with read_connection(client.tracking_uri) as conn:
        tables = sorted(inspect(conn).get_table_names())
    runs = sorted((r.id, r.name, tuple(sorted(r.params.items())))
                  for r in client.search_runs(max_results=1000))
    return tables, runs


@pytest.fixture
def seeded(client):
    weird = ["x' OR '1'='1", "a; DROP TABLE runs; --", "`b`", 'c"d', "e\\f"]
    for i in range(4):
        run = client.create_run(experiment="sqli", name=f"r{i}")
        client.log_params(run.id, {"lr": str(i / 10), **{w: f"{i}" for w in weird}})
        client.log_metric(run.id, "acc", i / 4)
        client.set_tags(run.id, {w: str(3 - i) for w in weird})
        client.end_run(run.id)
    client.flush()
    return weird


@pytest.mark.parametrize("order", ORDER_PAYLOADS)
def test_order_by_payloads_are_refused_or_inert(client, seeded, order):
    before = snapshot(client)
    try:
        client.search_runs(order_by=order, experiment="sqli")
    except InvalidInputError:
        pass
    assert snapshot(client) == before
    record("sql-injection", inputs=1)


@pytest.mark.parametrize("filter_", FILTER_PAYLOADS)
def test_filter_payloads_are_refused_or_inert(client, seeded, filter_):
    before = snapshot(client)
    try:
        runs = client.search_runs(filter_, experiment="sqli")
    except InvalidInputError:
        pass
    else:
        assert len(runs) <= 4
    assert snapshot(client) == before
    record("sql-injection", inputs=1)


def test_quoted_keys_are_bound_as_data(client, seeded):
    """A key full of SQL sorts and filters by that literal key — it is a bound value."""
    for key in seeded:
        quoted = "`" + key.replace("\\", "\\\\").replace("`", "``") + "`"
        try:
            asc = [r.name for r in client.search_runs(order_by=f"params.{quoted} ASC",
                                                       experiment="sqli")]
            desc = [r.name for r in client.search_runs(order_by=f"tags.{quoted} ASC",
                                                        experiment="sqli")]
        except InvalidInputError:
            continue  # a key the grammar cannot spell is refused, which is also safe
        assert asc == ["r0", "r1", "r2", "r3"] and desc == ["r3", "r2", "r1", "r0"]
    record("sql-injection", inputs=2 * len(seeded))


def test_run_lookups_with_payloads_are_not_found(client, seeded):
    for text in ("' OR '1'='1", "1; DROP TABLE runs", "%", "%%%%", "____", "../../x",
                 "_" * 32, "%" * 32, "' OR 1=1 --" + "x" * 21):
        with pytest.raises((NotFoundError, InvalidInputError)):
            client.get_run(text)
        with pytest.raises((NotFoundError, InvalidInputError)):
            client.get_run(client.resolve_run_id(text))  # a LIKE wildcard matches nothing
    record("sql-injection", inputs=18)


sort_text = st.one_of(
    st.text(max_size=60),
    st.lists(st.sampled_from(["name", "metrics.acc", "params.lr", "tags.t", "start_time",
                              "ASC", "DESC", ",", ";", "'", '"', "`", "(", ")", "--", "/*",
                              "SELECT", "DROP TABLE runs", "1=1", "OR", "\x00", " "]),
             max_size=10).map(" ".join))


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(order=sort_text)
def test_order_by_fuzz_raises_only_our_errors(client, seeded, order):
    try:
        client.search_runs(order_by=order, experiment="sqli", max_results=5)
    except MlopsError:
        pass
    record("sql-injection", inputs=1)
