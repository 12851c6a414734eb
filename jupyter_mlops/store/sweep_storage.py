"""Where a store keeps its Optuna studies: the location half of resumable sweeps.

Optuna's ``RDBStorage`` migrates its own tables with Alembic, into a table named
``alembic_version`` — the name our own migrations use. In one schema the two would read each
other's revision and refuse to start (or, worse, one would "upgrade" the other's tables), so
the studies never share a schema with the store:

- a SQLite store (``.../.mlops/mlops.db``) keeps them in ``optuna.db`` beside it, in the
  same folder, switched to WAL once (readers never block the trial that is writing, as in
  the store itself) and opened with a long busy timeout so several processes can share it;
- a PostgreSQL store keeps them on the same server and database, in their own schema
  (:data:`PG_SCHEMA`, created here), reached through the connection's ``search_path``.

Either way, a sweep found by name in a store is the same study for every process and
machine that opens that store. Optuna creates its tables when a storage is first opened, and
two processes doing that at once collide ("table trials already exists"):
:func:`creation_lock` serialises it (a file lock beside a SQLite file, an advisory lock on
PostgreSQL).
"""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.store import sqlite_pragmas

#: The PostgreSQL schema of the Optuna tables (beside ``public``, where the store lives).
PG_SCHEMA = "mlops_optuna"
#: The SQLite file of the Optuna tables, in the store's folder.
SQLITE_NAME = "optuna.db"
#: Seconds a SQLite writer waits for another process's transaction (as the store does).
BUSY_TIMEOUT_S = sqlite_pragmas.BUSY_TIMEOUT_S


@dataclasses.dataclass(frozen=True)
class StudyLocation:
    """The arguments of ``optuna.storages.RDBStorage(url, engine_kwargs=...)``."""

    url: str
    engine_kwargs: dict[str, Any]
    #: Shown to users (no password).
    description: str


def study_location(store_url: str) -> StudyLocation:
    """The Optuna storage that belongs to the store at ``store_url``.

    Raises
    ------
    InvalidInputError
        The store is an in-memory SQLite database (nothing would survive the process) or a
        database kind other than SQLite and PostgreSQL.
    """
    scheme, sep, rest = store_url.partition("://")
    if scheme.startswith("sqlite") and sep:
        path = rest[1:] if rest.startswith("/") else rest
        path = path.split("?", 1)[0]
        if not path or path == ":memory:":
            raise InvalidInputError(
                "Sweeps need a store on disk (their study must outlive the process); this "
                "store is in memory. Use a file store (the default .mlops/) or PostgreSQL.")
        db = Path(path).parent / SQLITE_NAME
        _wal(db)
        return StudyLocation(f"sqlite:///{db}", {"connect_args": {"timeout": BUSY_TIMEOUT_S}},
                             str(db))
    if scheme.startswith("postgresql") and sep:
        _ensure_schema(store_url)
        from jupyter_mlops.config import redact_url

        return StudyLocation(store_url, {
            "connect_args": {"options": f"-c search_path={PG_SCHEMA}"},
            "pool_pre_ping": True},
            f"{redact_url(store_url)} (schema {PG_SCHEMA})")
    raise InvalidInputError(
        f"Sweeps keep their studies in a SQLite or PostgreSQL store; this store is "
        f"{scheme or store_url!r}.")


#: PostgreSQL advisory lock key of Optuna table creation (any constant unique to us).
_PG_LOCK_KEY = 0x6D6C6F7073_5357


@contextlib.contextmanager
def creation_lock(store_url: str, location: StudyLocation) -> Iterator[None]:
    """Hold a lock across processes while Optuna's storage (and its tables) is created."""
    if location.url.startswith("sqlite"):
        import fcntl

        lock_path = location.url.removeprefix("sqlite:///") + ".lock"
        with open(lock_path, "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return
    from sqlalchemy import text

    from jupyter_mlops.store.engine import write_connection

    with write_connection(store_url) as conn:  # released when this transaction ends
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        yield


def _wal(db: Path) -> None:
    """Put the study file in WAL mode (a property of the file: once is enough)."""
    conn = sqlite3.connect(db, timeout=BUSY_TIMEOUT_S)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
    finally:
        conn.close()


def _ensure_schema(store_url: str) -> None:
    from sqlalchemy import text

    from jupyter_mlops.store.engine import write_connection

    with write_connection(store_url) as conn:
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {PG_SCHEMA}"))
