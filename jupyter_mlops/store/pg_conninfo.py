"""A ``postgresql+psycopg://`` store URL as ``psycopg.connect`` keyword arguments, no SQLAlchemy.

Why: :mod:`~jupyter_mlops.store.pg_lite` connects with psycopg itself so that a fresh
process's first search never imports SQLAlchemy, and ``sqlalchemy.engine.url`` alone imports
most of SQLAlchemy (the package's ``__init__``: ~200 ms). :func:`connect_kwargs` returns what
SQLAlchemy's psycopg dialect passes to ``psycopg.connect`` for the same URL
(``create_connect_args``): the URL grammar of ``sqlalchemy.engine.url.make_url``; user name,
password and database percent-decoded; the host as written (``[…]`` removed from an IPv6
address); the port as a number; every query parameter (``sslmode``, ``options``,
``application_name``, ``host`` for a Unix socket folder, …) passed on as a libpq keyword,
form-decoded (``+`` is a space) as SQLAlchemy decodes it.

Whatever this module would have to guess at — another driver, a repeated query key
(SQLAlchemy's multi-host lists), ``host=h:port`` or comma lists in the query, a port that is
not a plain number, a query key psycopg itself would take (``autocommit``…), SQLAlchemy's
``plugin`` — gives None, and the caller leaves the URL to SQLAlchemy. tests/store/
test_pg_conninfo.py compares the two on generated URLs.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote

PREFIX = "postgresql+psycopg://"

# The grammar of sqlalchemy.engine.url._parse_url (SQLAlchemy 2), so both read a URL alike.
_URL = re.compile(
    r"""
    (?P<name>[\w+]+)://
    (?:(?P<username>[^:/]*)(?::(?P<password>[^@]*))?@)?
    (?:(?:\[(?P<ipv6host>[^/?]+)\]|(?P<ipv4host>[^/:?]+))?(?::(?P<port>[^/?]*))?)?
    (?:/(?P<database>[^?]*))?
    (?:\?(?P<query>.*))?
    """,
    re.X,
)
#: Query keys psycopg.connect reads as its own arguments rather than libpq's, and the one
#: SQLAlchemy itself consumes: such URLs stay with SQLAlchemy.
_NOT_LIBPQ = frozenset({"autocommit", "prepare_threshold", "context", "row_factory",
                        "cursor_factory", "conninfo", "plugin"})


def _plain_port(text: str) -> bool:
    return text.isascii() and text.isdigit()


def connect_kwargs(url: str) -> dict[str, str | int] | None:
    """``psycopg.connect(**kwargs)`` for a ``postgresql+psycopg://`` URL, or None when the
    URL is not one or is one this module leaves to SQLAlchemy (see the module docstring).

    The password is among the returned values: never log them.
    """
    if not url.startswith(PREFIX) or any(ord(c) < 32 for c in url):
        return None
    m = _URL.match(url)
    if m is None or m["name"] != "postgresql+psycopg":
        return None
    query: dict[str, str] = {}
    for key, value in parse_qsl(m["query"] or ""):
        if key in query or key in _NOT_LIBPQ:
            return None
        query[key] = value
    port = m["port"]
    if port is not None and not _plain_port(port):
        return None  # SQLAlchemy raises its own error for it (an empty one too)
    # SQLAlchemy's translate_connect_args: attributes that are empty (or a port of 0) are left out.
    found = {"host": m["ipv4host"] or m["ipv6host"],
             "dbname": unquote(m["database"]) if m["database"] else None,
             "user": unquote(m["username"]) if m["username"] else None,
             "password": unquote(m["password"]) if m["password"] else None,
             "port": int(port) if port else None}
    kwargs: dict[str, str | int] = {k: v for k, v in found.items() if v}
    kwargs.update(query)
    host, qport = query.get("host"), query.get("port")
    if host is not None and ("," in host or ":" in host):
        return None  # SQLAlchemy's multi-host forms
    if qport is not None:
        if not _plain_port(qport):
            return None
        if host is not None:  # one host with its port: SQLAlchemy renumbers the port
            kwargs["port"] = str(int(qport))
    return kwargs


__all__ = ["PREFIX", "connect_kwargs"]
