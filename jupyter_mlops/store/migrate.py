"""Schema migrations with Alembic, applied on first open and by ``jupyter mlops db upgrade``.

Opening an up-to-date store costs one indexed read of ``alembic_version`` (Alembic itself is
only imported when there is something to do). Concurrent first opens are serialised: SQLite by
the ``BEGIN IMMEDIATE`` write lock, PostgreSQL by a transaction-scoped advisory lock, and the
version is re-read after the lock is held.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, inspect, text

from jupyter_mlops.errors import StoreUnavailableError
from jupyter_mlops.store.engine import redact, write_connection
from jupyter_mlops.store.schema_head import HEAD_REVISION  # re-exported: callers import it here

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_ADVISORY_LOCK_ID = 0x6D6C6F7073  # "mlops"
_checked: set[str] = set()


def current_revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def stored_revision(url: str) -> str | None:
    """The schema revision of the store at ``url``, read without writing anything.

    For ``jupyter mlops db current``: the file is identified first and read through
    ``engine.read_only_url`` (:mod:`.identify`), as migrate reads a source, so a foreign
    SQLite file is never switched to WAL and a missing one is not created. None for a store
    not created yet (no file, an empty file or an empty database).

    Raises
    ------
    InvalidInputError, NotFoundError
        ``url`` holds something else (an MLflow database, another application's, not
        SQLite…): the message names it.
    """
    from jupyter_mlops.store import identify

    found = identify.identify(url)
    if found.kind in (identify.MISSING, identify.EMPTY_FILE, identify.EMPTY_DATABASE):
        return None
    if found.kind in (identify.STORE, identify.OLDER_STORE, identify.NEWER_STORE):
        return found.revision
    identify.require_current_store(url, "store")  # raises, naming what the file is
    raise StoreUnavailableError(f"{redact(url)} could not be identified.")  # pragma: no cover


def _alembic_config(conn: Connection):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = conn
    return cfg


def upgrade(url: str, revision: str = "head") -> tuple[str | None, str]:
    """Bring the store at ``url`` to ``revision``; return (before, after) revisions."""
    from alembic import command

    with write_connection(url) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK_ID})
        before = current_revision(conn)
        if before != HEAD_REVISION or revision != "head":
            command.upgrade(_alembic_config(conn), revision)
        after = current_revision(conn)
    _checked.add(url)
    return before, after or ""


def ensure_schema(url: str) -> None:
    """Migrate a new or older store; refuse one written by a newer jupyter-mlops.

    A database that is not a store (an MLflow one, another application's SQLite file, a file
    that is not SQLite) is refused with a message naming it, and left as it was: a SQLite
    file our engine never opened is identified read-only first, before the engine's
    ``journal_mode=WAL`` pragma could rewrite its header.
    """
    if url in _checked:
        return
    from jupyter_mlops.store import identify
    from jupyter_mlops.store.engine import read_connection

    found = identify.identify_if_foreign(url)
    if found is not None and found.kind not in identify.OPENABLE:
        identify.require_current_store(url, "store")  # raises, naming what it is
    with read_connection(url) as conn:
        revision = current_revision(conn)
    if revision == HEAD_REVISION:
        _checked.add(url)
        return
    if revision is not None and not _is_known(revision):
        identify.require_current_store(url, "store")  # MLflow, newer store, unknown: named
        raise StoreUnavailableError(  # pragma: no cover - identify found our head meanwhile
            f"The store at {redact(url)} has schema {revision}, which this jupyter-mlops "
            f"({HEAD_REVISION}) does not know. Upgrade with `pip install -U jupyter-mlops`.")
    upgrade(url)


def forget_checked() -> None:
    """Re-check schemas on the next open (after a store was replaced or in tests)."""
    _checked.clear()


def _is_known(revision: str) -> bool:
    return any(
        p.name.startswith(f"{revision}_") for p in (MIGRATIONS_DIR / "versions").glob("*.py")
    )
