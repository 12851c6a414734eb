"""Engines cached per URL, SQLite tuned for many writers, and the one managed session helper.

SQLite: WAL so readers never block the writer, ``synchronous=NORMAL`` (durable at checkpoint,
safe against application crashes), a long busy timeout, foreign keys on. Write transactions
start with ``BEGIN IMMEDIATE`` so two processes never both hold a read lock and then deadlock
upgrading it — the classic source of "database is locked" that ``busy_timeout`` cannot cure.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import (
    DataError, DBAPIError, DisconnectionError, IntegrityError, OperationalError,
)
from sqlalchemy.orm import Session

from jupyter_mlops.config import redact_url as redact  # the one redaction, re-exported here
from jupyter_mlops.errors import (
    AlreadyExistsError, InvalidInputError, NotFoundError, StoreUnavailableError,
)
from jupyter_mlops.extras import require_for_url
from jupyter_mlops.store import planner_stats, sqlite_pragmas
# The messages the stdlib and psycopg paths give for the same failures (store/lite.py).
from jupyter_mlops.store.lite import nul_refused, unavailable

BUSY_TIMEOUT_S = sqlite_pragmas.BUSY_TIMEOUT_S
#: A pooled PostgreSQL connection idle this long is pinged before use (see _ping_if_idle).
PING_AFTER_IDLE_S = 10.0
_engines: dict[tuple[str, bool], Engine] = {}
_engines_lock = threading.Lock()


def _configure_sqlite(engine: Engine, immediate: bool, read_only: bool = False) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # pragma: no cover - exercised via every test
        # Let SQLAlchemy's "begin" event below own transaction boundaries (pysqlite recipe).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        sqlite_pragmas.configure(cur, read_only=read_only)
        cur.close()
        if not read_only:
            # Pooled connections live as long as the process: SQLite's advice for those, plus
            # an ANALYZE of runs if a big store has none (planner_stats says why).
            planner_stats.sqlite_on_open(dbapi_conn)

    if not read_only:
        @event.listens_for(engine, "close")
        def _on_close(dbapi_conn, _record):  # dispose(), or a connection the pool drops
            planner_stats.sqlite_on_close(dbapi_conn)

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def get_engine(url: str, *, writer: bool = True) -> Engine:
    """Return the process-wide engine for ``url`` (one for writes, one for reads on SQLite)."""
    is_sqlite = url.startswith("sqlite")
    key = (url, writer if is_sqlite else True)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is not None:
            return engine
        if is_sqlite:
            engine = create_engine(
                url, connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}
            )
            read_only = is_read_only(url)
            _configure_sqlite(engine, immediate=writer and not read_only, read_only=read_only)
        else:
            require_for_url(url)  # psycopg is the 'postgres' extra
            # No pool_pre_ping: it costs a round trip on every checkout, i.e. per statement
            # of a small run. _ping_if_idle pings only connections that sat idle.
            engine = create_engine(url, pool_size=5, max_overflow=10)
            event.listen(engine, "after_cursor_execute", _count_rows)
            event.listen(engine, "checkin", _note_checkin)
            event.listen(engine, "checkout", _ping_if_idle)
        _engines[key] = engine
        return engine


def read_only_url(url: str) -> str:
    """The URL of the same database, opened so that nothing can be written through it.

    For a store that must only be read (``migrate``'s source): every engine, store class and
    connection helper here accepts the returned URL, and the database itself refuses writes.

    * SQLite: a ``file:`` URI with ``mode=ro`` (SQLAlchemy's ``uri=true``); the engine then
      skips the ``journal_mode=WAL`` pragma, which would rewrite the file's header, and
      starts transactions with a plain ``BEGIN`` (``BEGIN IMMEDIATE`` takes a write lock).
      A file that does not exist is not created: opening it fails.
    * PostgreSQL: libpq's ``options=-c default_transaction_read_only=on``, so every
      transaction of the session is ``READ ONLY`` and the server refuses any write.

    Raises
    ------
    InvalidInputError
        ``url`` is an in-memory SQLite database or another kind of database.
    """
    from urllib.parse import quote

    from sqlalchemy.engine import make_url

    from jupyter_mlops.errors import InvalidInputError

    parsed = make_url(url)
    backend = parsed.get_backend_name()
    query = dict(parsed.query)
    if backend == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or query.get("mode") == "memory":
            raise InvalidInputError(
                f"{redact(url)} is an in-memory SQLite database: there is nothing to read "
                "from another process. Give the path of a database file.")
        if query.get("uri") != "true":
            # SQLite URI syntax: '?', '#' and '%' in a path must be percent-encoded.
            database = "file:" + quote(database, safe="/")
        query.update(mode="ro", uri="true")
        return parsed.set(database=database, query=query).render_as_string(hide_password=False)
    if backend == "postgresql":
        flag = "-c default_transaction_read_only=on"
        options = query.get("options")
        query["options"] = f"{options} {flag}" if options else flag
        return parsed.set(query=query).render_as_string(hide_password=False)
    raise InvalidInputError(
        f"Unsupported database {backend!r} in {redact(url)}: use SQLite or PostgreSQL.")


def is_read_only(url: str) -> bool:
    """Whether ``url`` came from :func:`read_only_url` (or says the same thing itself)."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:
        return False
    if parsed.get_backend_name() == "sqlite":
        return parsed.query.get("mode") == "ro"
    return "default_transaction_read_only=on" in str(parsed.query.get("options", ""))


def dispose_engines() -> None:
    """Close every cached engine (used after fork and in tests)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def _translate(exc: Exception, url: str) -> Exception:
    if isinstance(exc, IntegrityError):
        if _is_foreign_key_violation(exc):
            return NotFoundError(
                f"A record this refers to does not exist (was a run deleted?): {exc.orig}")
        return AlreadyExistsError(f"That record already exists ({exc.orig}).")
    if isinstance(exc, DataError) and "NUL" in str(exc.orig):
        # psycopg refuses a NUL in any text parameter before it is sent: every entry point
        # checks its own values, this is the net for one that does not (a lookup by name).
        return nul_refused()
    if isinstance(exc, OperationalError):
        return unavailable(redact(url), exc.orig)
    return exc


def _is_foreign_key_violation(exc: IntegrityError) -> bool:
    # PostgreSQL: SQLSTATE 23503; SQLite has no codes, only this message.
    return (getattr(exc.orig, "sqlstate", None) == "23503"
            or "FOREIGN KEY constraint failed" in str(exc.orig))


def _note_checkin(_dbapi_conn, record) -> None:
    record.info["mlops_idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_conn, record, proxy) -> None:
    """Ping a connection that sat in the pool for PING_AFTER_IDLE_S or more.

    What pool_pre_ping guards against — a server restarted, or a proxy that dropped an idle
    connection — happens to connections that waited, not to one returned a moment ago. A
    failed ping makes the pool replace the connection (DisconnectionError: SQLAlchemy's
    documented way to do so from a checkout hook). A connection that breaks between pings
    fails its statement: StoreUnavailableError, the batch writer keeps the rows queued, and
    SQLAlchemy drops the pool's connections to that server on such an error.
    """
    since = record.info.get("mlops_idle_since")
    if since is None or time.monotonic() - since < PING_AFTER_IDLE_S:
        return
    try:
        # In autocommit: a ROLLBACK to end the ping's transaction would make psycopg drop
        # its prepared statements.
        was, dbapi_conn.autocommit = dbapi_conn.autocommit, True
        try:
            cur = dbapi_conn.cursor()  # a DBAPI cursor: psycopg 3 and psycopg2 alike
            try:
                cur.execute("SELECT 1")
            finally:
                cur.close()
        finally:
            dbapi_conn.autocommit = was
    except Exception as exc:
        raise DisconnectionError(str(exc)) from exc


def _count_rows(conn, cursor, statement, parameters, context, executemany) -> None:
    # PostgreSQL only (SQLite counts for itself: total_changes). Per statement, not per row;
    # reads are left out (rowcount would count the rows a SELECT returned).
    if not (context.isinsert or context.isupdate or context.isdelete):
        return
    rows = cursor.rowcount
    if rows is None or rows < 0:
        rows = len(parameters) if executemany else 0
    conn.info["mlops_rows"] = conn.info.get("mlops_rows", 0) + rows


def _rows_written(conn: Connection) -> int:
    """Rows this DBAPI connection has written since it opened (a running total)."""
    if conn.dialect.name == "sqlite":
        return conn.connection.driver_connection.total_changes
    return conn.info.get("mlops_rows", 0)


def _after_bulk_write(engine: Engine) -> None:
    """Refresh planner statistics after a bulk write (planner_stats), on a pooled connection."""
    try:
        with engine.connect() as conn:
            raw = conn.connection.driver_connection  # outside any transaction SQLAlchemy began
            if engine.dialect.name == "sqlite":
                planner_stats.sqlite_on_close(raw)
            else:
                planner_stats.postgres_analyze(raw)
    except DBAPIError:  # statistics are an optimisation; the write itself is committed
        pass


@contextlib.contextmanager
def write_connection(url: str) -> Iterator[Connection]:
    """A Core connection inside one write transaction: commits, or rolls back and translates.

    A transaction that wrote ``planner_stats.BULK_ROWS`` rows or more (a bulk import, a
    ``migrate``) is followed by a refresh of the query planner's statistics.
    """
    engine = get_engine(url, writer=True)
    written = 0
    try:
        with engine.begin() as conn:
            before = _rows_written(conn)
            yield conn
            written = _rows_written(conn) - before
    except DBAPIError as exc:
        raise _translate(exc, url) from exc
    _refresh_stats_if_bulk(engine, url, written)


def _refresh_stats_if_bulk(engine, url: str, written: int) -> None:
    """After a transaction that wrote ``planner_stats.BULK_ROWS`` rows or more, refresh the
    query planner's statistics (both write paths end this way)."""
    if written >= planner_stats.BULK_ROWS and not is_read_only(url):
        _after_bulk_write(engine)


@contextlib.contextmanager
def single_statement(url: str) -> Iterator[Connection]:
    """A connection for a write that is ONE statement: on PostgreSQL in autocommit.

    The statement is then its own transaction, atomic as any: one round trip instead of
    BEGIN, the statement and COMMIT. SQLite gets :func:`write_connection` (BEGIN IMMEDIATE
    is what keeps its writers from deadlocking). Rows the caller writes through
    ``exec_driver_sql`` count towards the bulk-write statistics refresh only if it adds them
    to ``conn.info["mlops_rows"]``.
    """
    engine = get_engine(url, writer=True)
    if engine.dialect.name != "postgresql":
        with write_connection(url) as conn:
            yield conn
        return
    written = 0
    try:
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            before = _rows_written(conn)
            yield conn
            written = _rows_written(conn) - before
    except DBAPIError as exc:
        raise _translate(exc, url) from exc
    _refresh_stats_if_bulk(engine, url, written)


@contextlib.contextmanager
def read_connection(url: str, *, transaction: bool = False) -> Iterator[Connection]:
    """A connection for reads; on PostgreSQL in autocommit unless ``transaction``.

    PostgreSQL's default READ COMMITTED takes a new snapshot per statement inside a
    transaction too, so autocommit reads see exactly what they saw before, without the
    BEGIN and ROLLBACK round trips — and without the ROLLBACK, after which psycopg drops
    every statement it had prepared on the connection (``DEALLOCATE ALL``). A streamed read
    (``yield_per``: a server-side cursor) needs ``transaction=True``: PostgreSQL declares
    cursors only inside a transaction.
    """
    engine = get_engine(url, writer=False)
    try:
        with engine.connect() as conn:
            if not transaction and conn.dialect.name == "postgresql":
                conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn
    except DBAPIError as exc:
        raise _translate(exc, url) from exc


@contextlib.contextmanager
def session(url: str, *, writer: bool = True) -> Iterator[Session]:
    """The one managed ORM session: commits on success, rolls back and translates on error."""
    engine = get_engine(url, writer=writer)
    try:
        with Session(engine, expire_on_commit=False) as s, s.begin():
            yield s
    except DBAPIError as exc:
        raise _translate(exc, url) from exc


def upsert(conn: Connection, table):
    """The dialect's ``INSERT … ON CONFLICT`` construct for ``table`` (SQLite or PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - other dialects are not supported stores
        raise StoreUnavailableError(
            f"Unsupported database {conn.dialect.name!r}: use SQLite or PostgreSQL."
        )
    return insert(table)


def now() -> float:
    return time.time()
