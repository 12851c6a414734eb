"""A PostgreSQL store's first search on psycopg itself, no SQLAlchemy (issue 14).

Why: a fresh process's first ``search_runs`` against a team store spent 450-550 ms, about
85 % of it importing SQLAlchemy, its ORM and Alembic's machinery, to send a handful of
statements. For a ``postgresql+psycopg://`` URL (:func:`serves`; :mod:`~jupyter_mlops.store.
pg_conninfo` turns it into psycopg's arguments), ``open_store`` checks the schema revision
with one read of ``alembic_version`` (:func:`schema_is_current`) and ``Store.runs`` is a
:class:`PgLiteRunStore`: ``search_runs`` and ``reap_dead_runs`` (which ``open_store`` runs)
are answered here, as :class:`~jupyter_mlops.store.lite.LiteRunStore` answers them for a
SQLite file (:mod:`~jupyter_mlops.store.text_runs`); filter_hints probes keys on the same
connection. Everything else — writes, counts, reads by id — is the SQLAlchemy
:class:`~jupyter_mlops.store.runs.RunStore`'s, loaded on first use; so is a filter
:mod:`~jupyter_mlops.store.lite_search` does not compile.

The statements are the SQLAlchemy path's on PostgreSQL, text and bind casts included
(lite_search in the :data:`~jupyter_mlops.store.sql_dialects.POSTGRES` dialect), so they get
the same plans; every value is a bound parameter. Search, count and walk statements and the
key probes run unprepared (``prepare=False``: ``filter_sql.custom_plans`` says why a generic
plan is wrong for them); the value reads that follow are prepared by psycopg's default rule,
as on the SQLAlchemy path.

One connection per URL and process, in autocommit: each statement reads its own READ
COMMITTED snapshot, as each statement of the SQLAlchemy path's read transaction does at that
level. A connection found broken (a server restart, a proxy that dropped it while idle) is
replaced and the read repeated once; a forked child opens its own and leaves its parent's
untouched; connections are closed at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import threading
from collections.abc import Iterator, Sequence

from jupyter_mlops.config import redact_url
from jupyter_mlops.errors import InvalidInputError, StoreUnavailableError
from jupyter_mlops.store.lite import LiteStore, check_run_view, nul_refused, unavailable
from jupyter_mlops.store.pg_conninfo import PREFIX, connect_kwargs
from jupyter_mlops.store.records import RunRecord
from jupyter_mlops.store.schema_head import HEAD_REVISION
from jupyter_mlops.store.sql_dialects import POSTGRES
from jupyter_mlops.store.text_runs import TextRunReads, check_page


#: False: every store of this process takes the SQLAlchemy path on PostgreSQL (the tests
#: compare the two paths through it).
ENABLED = True


def serves(url: str) -> bool:
    """True when this module answers for ``url``: a ``postgresql+psycopg://`` URL that
    :func:`~jupyter_mlops.store.pg_conninfo.connect_kwargs` reads as SQLAlchemy would,
    while :data:`ENABLED`."""
    return ENABLED and url.startswith(PREFIX) and _readable(url)


@functools.lru_cache(maxsize=64)
def _readable(url: str) -> bool:
    return connect_kwargs(url) is not None


def _translate(exc: Exception, url: str) -> Exception:
    """The errors engine._translate gives for the same psycopg failures through SQLAlchemy
    (a read raises no others); anything else is raised as it is."""
    import psycopg

    if isinstance(exc, psycopg.DataError) and "NUL" in str(exc):
        return nul_refused()
    if isinstance(exc, psycopg.OperationalError):
        return unavailable(redact_url(url), exc)
    return exc


@contextlib.contextmanager
def _translated(url: str) -> Iterator[None]:
    import psycopg

    try:
        yield
    except psycopg.Error as exc:
        error = _translate(exc, url)
        if error is exc:
            raise
        raise error from exc


class _Connection:
    """One psycopg connection to one store, shared by this process's threads (``lock``
    keeps one statement or transaction at a time on it; a search holds it throughout)."""

    def __init__(self, url: str):
        self.url = url
        self.pid = os.getpid()
        self.lock = threading.RLock()
        self.conn = None

    def _connected(self):
        if self.conn is None or self.conn.closed:  # closed: also a broken connection
            import psycopg

            with _translated(self.url):
                self.conn = psycopg.connect(**connect_kwargs(self.url), autocommit=True)
        return self.conn

    def read(self, sql: str, args: Sequence = (), *, prepare: bool | None = None
             ) -> list[tuple]:
        """The rows of one statement; ``prepare=False`` never prepares it (psycopg's
        default, None, prepares a statement from its 5th execution on this connection)."""
        import psycopg

        with self.lock:
            conn = self._connected()
            try:
                with _translated(self.url):
                    return conn.execute(sql, args, prepare=prepare).fetchall()
            except (psycopg.Error, StoreUnavailableError):
                if not conn.broken:
                    raise
            # Broken before or during the statement (a restarted server, a connection
            # dropped while idle): a read is safe to repeat, once, on a new connection.
            with _translated(self.url):
                return self._connected().execute(sql, args, prepare=prepare).fetchall()

    @contextlib.contextmanager
    def write(self):
        """One transaction; the connection it yields has ``execute(sql, args)``."""
        with self.lock:
            conn = self._connected()
            with _translated(self.url), conn.transaction():
                yield conn

    def close(self) -> None:
        with self.lock:
            if self.conn is not None:
                self.conn.close()
                self.conn = None


_connections: dict[str, _Connection] = {}
#: A forked child's copies of its parent's connections: never used, never closed (closing
#: would end the parent's session on the server), kept so nothing garbage-collects them.
_inherited: list[_Connection] = []
_connections_lock = threading.Lock()


def connection(url: str) -> _Connection:
    """This process's connection to the store at ``url`` (opened on its first statement)."""
    with _connections_lock:
        found = _connections.get(url)
        if found is None or found.pid != os.getpid():
            if found is not None:
                _inherited.append(found)
            found = _connections[url] = _Connection(url)
        return found


@atexit.register
def close_connections() -> None:
    """Close this process's connections (at exit, store.forget_open_stores, tests)."""
    with _connections_lock:
        found = list(_connections.values())
        _connections.clear()
    for c in found:
        if c.pid == os.getpid():
            c.close()
        else:
            _inherited.append(c)


def schema_is_current(url: str) -> bool:
    """True when ``url`` is a PostgreSQL store this module serves, already at HEAD_REVISION
    (one read). Anything else — not served, no such table, another revision, a server that
    does not answer — returns False, and ``migrate.ensure_schema`` decides (and reports)."""
    if not serves(url):
        return False
    try:
        import psycopg
    except ImportError:  # the postgres extra is missing: ensure_schema says how to add it
        return False
    try:
        rows = connection(url).read("SELECT version_num FROM alembic_version")
    except (psycopg.Error, StoreUnavailableError, InvalidInputError):
        return False
    return bool(rows) and rows[0][0] == HEAD_REVISION


class PgLiteRunStore(TextRunReads, LiteStore):
    """:class:`~jupyter_mlops.store.runs.RunStore` for a ``postgresql+psycopg`` store:
    searches and reaping on psycopg; any other attribute is the SQLAlchemy ``RunStore``'s,
    created (and SQLAlchemy imported) on first use."""

    _dialect = POSTGRES

    def _open(self, url: str) -> None:
        if not serves(url):
            raise InvalidInputError(
                f"{redact_url(url)} is not a postgresql+psycopg URL this path reads.")

    @property
    def _db(self) -> _Connection:  # type: ignore[override]
        return connection(self.url)

    def _search_read(self, sql: str, args: Sequence) -> list[tuple]:
        return self._db.read(sql, args, prepare=False)  # planned for its values each time

    def search_runs(self, filter: str | None = None, experiment: str | None = None,
                    order_by=None, max_results: int = 100, offset: int = 0, *,
                    lifecycle: str = "active") -> list[RunRecord]:
        """RunStore.search_runs on psycopg: the same runs, order and records.

        The SQLAlchemy store answers what lite_search does not compile, and any search
        made while another thread is searching here: this path has one connection, meant
        for a process's first calls; concurrent searches (a server's) are the pooled
        engine's, as before.
        """
        check_run_view(lifecycle)
        check_page(max_results, offset)
        db = self._db
        found = None
        if db.lock.acquire(blocking=False):
            try:
                found = self._text_search(filter, experiment, order_by, max_results, offset,
                                          lifecycle)
            finally:
                db.lock.release()
        if found is None:
            return self.full.search_runs(filter, experiment, order_by, max_results, offset,
                                         lifecycle=lifecycle)
        return found


__all__ = ["ENABLED", "PgLiteRunStore", "close_connections", "connection",
           "schema_is_current", "serves"]
