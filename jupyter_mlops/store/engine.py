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

from jupyter_mlops.errors import AlreadyExistsError, NotFoundError, StoreUnavailableError

BUSY_TIMEOUT_S = 60.0
_engines: dict[tuple[str, bool], Engine] = {}
_engines_lock = threading.Lock()


def _configure_sqlite(engine: Engine, immediate: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # pragma: no cover - exercised via every test
        # Let SQLAlchemy's "begin" event below own transaction boundaries (pysqlite recipe).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
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
            _configure_sqlite(engine, immediate=writer)
        else:
            engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
        _engines[key] = engine
        return engine


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


def redact(url: str) -> str:
    """Hide a password in a URL before it reaches a message or a log."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable URL>"


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
