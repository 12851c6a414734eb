"""``postgresql+psycopg://`` URLs read without SQLAlchemy as SQLAlchemy reads them (pg_conninfo).

pg_lite connects with psycopg itself, so the arguments it passes must be the ones SQLAlchemy's
psycopg dialect passes for the same URL (``create_connect_args``): generated URLs with hostile
user names, passwords, hosts, ports, databases and query strings are compared with it; URLs
the module leaves to SQLAlchemy give None, never a guess.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from jupyter_mlops.store.pg_conninfo import connect_kwargs


def sqlalchemy_kwargs(url: str):
    """What SQLAlchemy hands psycopg.connect for ``url`` ("error" if it refuses the URL)."""
    from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
    from sqlalchemy.engine import make_url

    try:
        args, kwargs = PGDialect_psycopg().create_connect_args(make_url(url))
    except Exception:
        return "error"
    assert args in ([], [""])  # the conninfo string: empty either way
    kwargs.pop("context", None)  # SQLAlchemy's adapters map, not a connection parameter
    return kwargs


TEXT = st.lists(st.sampled_from(list("aZ09._-~ %@:/?#&=+[],;'\"\\ü日") +
                                ["%40", "%3A", "%2F", "%25", "%20", "%zz", "%C3%BC"]),
                max_size=10).map("".join)
HOSTS = st.sampled_from(["", "localhost", "127.0.0.1", "db.example.org", "[::1]",
                         "[fe80::1%25eth0]", "h_1", "%2Fvar%2Frun"]) | TEXT
PORTS = st.sampled_from(["", ":", ":5432", ":0", ":05433", ":abc", ":٣", ": 1"])
KEYS = st.sampled_from(["sslmode", "host", "port", "options", "application_name",
                        "connect_timeout", "target_session_attrs", "autocommit", "plugin",
                        "dbname", "password"])


@st.composite
def urls(draw):
    url = "postgresql+psycopg://"
    if draw(st.booleans()):
        url += draw(TEXT)
        if draw(st.booleans()):
            url += ":" + draw(TEXT)
        url += "@"
    url += draw(HOSTS) + draw(PORTS)
    if draw(st.booleans()):
        url += "/" + draw(TEXT)
    if draw(st.booleans()):
        pairs = draw(st.lists(st.tuples(KEYS, TEXT), max_size=3))
        url += "?" + "&".join(f"{k}={v}" for k, v in pairs)
    return url


@settings(max_examples=1500, deadline=None)
@given(url=urls())
@example(url="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
@example(url="postgresql+psycopg://me:p%40ss%3Aw%2Fd@db:5433/mlops?sslmode=require")
@example(url="postgresql+psycopg://me@/mlops?host=/var/run/postgresql")
@example(url="postgresql+psycopg://me@/mlops?host=/tmp&port=5444")
@example(url="postgresql+psycopg://me@h/mlops?port=5444")
@example(url="postgresql+psycopg://")
def test_every_url_it_reads_is_read_as_sqlalchemy_reads_it(url):
    ours = connect_kwargs(url)
    if ours is not None:
        assert ours == sqlalchemy_kwargs(url), url


@pytest.mark.parametrize("url, expected", [
    ("postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
     {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "postgres"}),
    ("postgresql+psycopg://me:p%40ss%3Aw%2Fd@db/ml%20ops",
     {"host": "db", "user": "me", "password": "p@ss:w/d", "dbname": "ml ops"}),
    ("postgresql+psycopg://me@/mlops?host=/var/run/postgresql",
     {"host": "/var/run/postgresql", "user": "me", "dbname": "mlops"}),
    ("postgresql+psycopg://me@[::1]:5433/mlops?sslmode=verify-full&application_name=my+app",
     {"host": "::1", "port": 5433, "user": "me", "dbname": "mlops", "sslmode": "verify-full",
      "application_name": "my app"}),
    ("postgresql+psycopg://u@h/d?options=-c%20statement_timeout%3D5000",
     {"host": "h", "user": "u", "dbname": "d", "options": "-c statement_timeout=5000"}),
    ("postgresql+psycopg://", {}),
])
def test_known_urls(url, expected):
    assert connect_kwargs(url) == expected == sqlalchemy_kwargs(url)


@pytest.mark.parametrize("url", [
    "postgresql://u@h/d",  # SQLAlchemy's default PostgreSQL driver is psycopg2
    "postgresql+psycopg2://u@h/d",
    "postgresql+psycopg_async://u@h/d",
    "sqlite:///x.db",
    "postgresql+psycopg://u@h/d?host=a&host=b",  # multi-host forms
    "postgresql+psycopg://u@/d?host=a,b",
    "postgresql+psycopg://u@/d?host=a:5432",
    "postgresql+psycopg://u@h:notaport/d",
    "postgresql+psycopg://u@h/d?port=x",
    "postgresql+psycopg://u@h/d?autocommit=false",  # psycopg.connect's own argument
    "postgresql+psycopg://u@h/d?plugin=x",  # SQLAlchemy's
    "postgresql+psycopg://u@h/d\n",
])
def test_urls_left_to_sqlalchemy(url):
    assert connect_kwargs(url) is None


def test_the_read_only_url_is_read_only(store_url):
    """engine.read_only_url's options reach the server (a migration reads its source so)."""
    if not store_url.startswith("postgresql+psycopg"):
        pytest.skip("PostgreSQL")
    import psycopg

    from jupyter_mlops.store.engine import read_only_url

    kwargs = connect_kwargs(read_only_url(store_url))
    assert kwargs == sqlalchemy_kwargs(read_only_url(store_url))
    with psycopg.connect(**kwargs) as conn:
        assert conn.execute("SHOW default_transaction_read_only").fetchone()[0] == "on"
