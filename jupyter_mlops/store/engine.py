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
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from jupyter_mlops.config import redact_url as redact  # the one redaction, re-exported here
from jupyter_mlops.errors import AlreadyExistsError, NotFoundError, StoreUnavailableError
from jupyter_mlops.extras import require_for_url

BUSY_TIMEOUT_S = 60.0
_engines: dict[tuple[str, bool], Engine] = {}
_engines_lock = threading.Lock()


def _configure_sqlite(engine: Engine, immediate: bool, read_only: bool = False) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # pragma: no cover - exercised via every test
        # Let SQLAlchemy's "begin" event below own transaction boundaries (pysqlite recipe).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        if not read_only:
            # journal_mode=WAL rewrites the file's header: never on a database we only read.
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

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
            engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
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
    if isinstance(exc, OperationalError):
        return StoreUnavailableError(
            f"The metadata store at {redact(url)} is unavailable: {exc.orig}. "
            "Check that it is reachable and not full, then retry."
        )
    return exc


def _is_foreign_key_violation(exc: IntegrityError) -> bool:
    # PostgreSQL: SQLSTATE 23503; SQLite has no codes, only this message.
    return (getattr(exc.orig, "sqlstate", None) == "23503"
            or "FOREIGN KEY constraint failed" in str(exc.orig))


@contextlib.contextmanager
def write_connection(url: str) -> Iterator[Connection]:
    """A Core connection inside one write transaction: commits, or rolls back and translates."""
    engine = get_engine(url, writer=True)
    try:
        with engine.begin() as conn:
            yield conn
    except DBAPIError as exc:
        raise _translate(exc, url) from exc


@contextlib.contextmanager
def read_connection(url: str) -> Iterator[Connection]:
    engine = get_engine(url, writer=False)
    try:
        with engine.connect() as conn:
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
