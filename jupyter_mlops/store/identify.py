"""What a database URL points at, found without writing a byte to it.

``jupyter mlops migrate`` must only read its source, and must not take a stranger's database
for a store of ours: opening one the usual way would switch it to WAL (a header rewrite) and
then report a "newer schema". So before anything opens the source, :func:`identify` looks:
a SQLite path is checked on disk first (missing, a folder, an empty file, not SQLite at all —
the file's 100-byte header says so, and whether it is in WAL mode), and only a real SQLite
file, or a PostgreSQL database, is opened, read-only
(:func:`~jupyter_mlops.store.engine.read_only_url`; ``immutable`` for a WAL file without a
``-wal`` file, so no side file appears), to read its table names and Alembic revision. :func:`require_current_store` turns anything but a store at this
version's schema into one error whose message names what the database is and what to do.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from urllib.parse import unquote

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.pool import NullPool

from jupyter_mlops.errors import InvalidInputError, NotFoundError, StoreUnavailableError
from jupyter_mlops.store.engine import read_only_url, redact

SQLITE_MAGIC = b"SQLite format 3\x00"
_HEADER_BYTES = 100
#: Offsets of the header's file format write and read versions: 2 means WAL mode.
_WAL_BYTES = (18, 19)
#: How this project names its Alembic revisions (migrations/versions/0001_….py).
_OUR_REVISION = re.compile(r"\d{4}")
#: Tables every MLflow tracking database has (``mlflow/store/tracking/dbmodels``); ``metrics``
#: holds one row per logged value, which no jupyter-mlops schema has ever had.
MLFLOW_TABLES = frozenset({"experiments", "runs", "metrics", "params", "tags"})
#: Tables every jupyter-mlops schema since 0001 has, none of them an MLflow name.
OUR_TABLES = frozenset({"environments", "code_snapshots", "lineage_edges", "artifacts"})

MISSING = "missing"
NOT_A_FILE = "not a file"
EMPTY_FILE = "empty file"
NOT_SQLITE = "not a SQLite database"
DAMAGED = "damaged SQLite file"
EMPTY_DATABASE = "empty database"
STORE = "jupyter-mlops store"
OLDER_STORE = "jupyter-mlops store (older schema)"
NEWER_STORE = "jupyter-mlops store (newer schema)"
MLFLOW = "MLflow tracking database"
UNKNOWN = "unknown database"
#: What opening a store may create or migrate: a new store (no file, an empty file, a
#: database without tables) or a store of ours at a schema this version knows.
OPENABLE = frozenset({MISSING, EMPTY_FILE, EMPTY_DATABASE, STORE, OLDER_STORE})


@dataclasses.dataclass(frozen=True)
class Identified:
    """What :func:`identify` found.

    ``kind`` is one of this module's constants (``STORE`` for a store this version can read
    as is); ``revision`` the Alembic revision, if any; ``tables`` the table names read.
    """

    url: str
    kind: str
    revision: str | None = None
    tables: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        return redact(self.url)


def identify(url: str) -> Identified:
    """Say what ``url`` holds; writes nothing, creates nothing (not even a -wal file).

    Raises
    ------
    InvalidInputError
        An in-memory SQLite URL, or a database that is neither SQLite nor PostgreSQL.
    StoreUnavailableError
        A PostgreSQL server that does not answer, or a SQLite file that cannot be read.
    """
    from jupyter_mlops.store.migrate import HEAD_REVISION, _is_known

    ro = read_only_url(url)  # refuses :memory: and unsupported dialects first
    path = sqlite_path(url)
    if path is not None:
        if not path.exists():
            return Identified(url, MISSING)
        if not path.is_file():
            return Identified(url, NOT_A_FILE)
        try:
            with path.open("rb") as f:
                head = f.read(_HEADER_BYTES)
        except OSError as exc:
            raise StoreUnavailableError(
                f"Cannot read {path}: {exc.strerror or exc}. Check its permissions.") from exc
        if not head:
            return Identified(url, EMPTY_FILE)
        if head[:len(SQLITE_MAGIC)] != SQLITE_MAGIC:
            return Identified(url, NOT_SQLITE)
        if header_says_wal(head) and not _wal_file(path).exists():
            # Reading a WAL-mode file, even read-only, creates its -wal and -shm files. With
            # no -wal file every page is in the main file, so read it as immutable instead:
            # no locks, no side files, nothing created next to a stranger's database.
            ro = _with_query(ro, immutable="1")
    try:
        tables, revision = _peek(ro)
    except OperationalError as exc:
        raise StoreUnavailableError(
            f"Cannot read {redact(url)}: {exc.orig}. Check that it is reachable and "
            "readable, then retry.") from exc
    except DatabaseError:
        # "file is not a database" and the like: a SQLite header on bytes SQLite cannot read.
        if path is None:
            raise
        return Identified(url, DAMAGED)
    found = set(tables) - {"alembic_version"}
    if not found and revision is None:
        return Identified(url, EMPTY_DATABASE, None, tables)
    if revision is not None and _is_known(revision):
        kind = STORE if revision == HEAD_REVISION else OLDER_STORE
        return Identified(url, kind, revision, tables)
    if MLFLOW_TABLES <= found:
        return Identified(url, MLFLOW, revision, tables)
    if revision is not None and (OUR_TABLES <= found or _OUR_REVISION.fullmatch(revision)):
        return Identified(url, NEWER_STORE, revision, tables)
    return Identified(url, UNKNOWN, revision, tables)


def _peek(ro_url: str) -> tuple[tuple[str, ...], str | None]:
    """(table names, Alembic revision) through a one-off read-only engine.

    Not the engine cache: this look happens once, and an immutable SQLite connection must
    not linger in a pool that later readers of a live store would share.
    """
    engine = create_engine(ro_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            tables = tuple(sorted(inspect(conn).get_table_names()))
            revision = None
            if "alembic_version" in tables:
                revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            return tables, revision
    finally:
        engine.dispose()


def _wal_file(path: Path) -> Path:
    return path.with_name(path.name + "-wal")


def _with_query(url: str, **extra: str) -> str:
    parsed = make_url(url)
    return parsed.set(query={**parsed.query, **extra}).render_as_string(hide_password=False)


def identify_if_foreign(url: str) -> Identified | None:
    """:func:`identify` for a SQLite file our engines have never opened; else None (cheap).

    Every SQLite store this package writes is in WAL mode (the engine sets it on connect, a
    persistent change to the file's header), so a non-empty file whose header says otherwise
    was never opened by us: it is looked at read-only before our engine's pragma rewrites it.
    Reads at most 100 bytes on the common path; PostgreSQL is never looked at here (no
    statement of ours changes a database by opening it).
    """
    path = sqlite_path(url) if url.startswith("sqlite") else None
    if path is None or not path.is_file():
        return None  # a new store, or a folder SQLite cannot open (reported as unavailable)
    try:
        with path.open("rb") as f:
            head = f.read(_HEADER_BYTES)
    except OSError:
        return None  # the engine's own open reports it
    if not head or header_says_wal(head):
        return None  # an empty file becomes a new store; a WAL file is read as usual
    return identify(url)


def header_says_wal(head: bytes) -> bool:
    """Whether SQLite would open a file with this header in WAL mode (creating -wal and -shm
    files next to it, even when reading): either version byte 2. SQLite goes by the *read*
    version, a real WAL file has both, and a stranger's file may disagree with itself."""
    return head[:len(SQLITE_MAGIC)] == SQLITE_MAGIC and any(
        head[i:i + 1] == b"\x02" for i in _WAL_BYTES)


def sqlite_path(url: str) -> Path | None:
    """The file a SQLite URL names (None for other databases)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if parsed.query.get("uri") == "true" and database.startswith("file:"):
        database = unquote(database[len("file:"):].split("?", 1)[0])
        if database.startswith("//"):  # file://host/path: only an empty or local host
            database = "/" + database[2:].partition("/")[2]
    return Path(os.path.expanduser(database))


def require_current_store(url: str, role: str = "source") -> Identified:
    """Return :func:`identify`'s answer if ``url`` is a store at this version's schema.

    Anything else raises, with one line naming what ``url`` is and what to do; nothing
    was written to it.

    Raises
    ------
    NotFoundError
        No file at a SQLite path.
    InvalidInputError
        A folder, an empty file, a file that is not SQLite, a database without tables, an
        MLflow tracking database or any other database that is not a jupyter-mlops store.
    StoreUnavailableError
        A jupyter-mlops store at an older schema (upgrade it first) or a newer one (upgrade
        jupyter-mlops).
    """
    from jupyter_mlops.store.migrate import HEAD_REVISION

    found = identify(url)
    where, kind = found.where, found.kind
    untouched = "nothing was written to it"
    if kind == STORE:
        return found
    if kind == MISSING:
        raise NotFoundError(
            f"The {role} {where} does not exist ({kind}): check the path; nothing was created.")
    if kind in (NOT_A_FILE, EMPTY_FILE, NOT_SQLITE, DAMAGED):
        raise InvalidInputError(
            f"The {role} {where} is not a store ({kind}): give the path of a jupyter-mlops "
            f"store's database (.mlops/mlops.db); {untouched}.")
    if kind == EMPTY_DATABASE:
        raise InvalidInputError(
            f"The {role} {where} is an {kind} (no tables), not a store: there is nothing to "
            "copy; check the URL.")
    if kind == MLFLOW:
        raise InvalidInputError(
            f"The {role} {where} is an {kind} (Alembic revision "
            f"{found.revision or 'none'}, tables {_names(found.tables)}), not a jupyter-mlops "
            "store; it was only read, never written. Import its runs and models with "
            f"`jupyter mlops import mlflow '{where}'`.")
    if kind == OLDER_STORE:
        raise StoreUnavailableError(
            f"The {role} {where} is a {kind} ({found.revision}; this version writes "
            f"{HEAD_REVISION}), and a {role} is only read: upgrade it first with "
            f"`jupyter mlops --tracking-uri '{where}' db upgrade`, then re-run.")
    if kind == NEWER_STORE:
        raise StoreUnavailableError(
            f"The {role} {where} is a {kind} ({found.revision}; this version knows up to "
            f"{HEAD_REVISION}): upgrade jupyter-mlops (`pip install -U jupyter-mlops`); "
            "it was only read, never written.")
    raise InvalidInputError(
        f"The {role} {where} is an {kind}, not a jupyter-mlops store (Alembic revision "
        f"{found.revision or 'none'}, tables {_names(found.tables)}): check the URL; it was "
        "only read, never written.")


def _names(tables: tuple[str, ...], limit: int = 6) -> str:
    shown = ", ".join(tables[:limit])
    return shown + (", …" if len(tables) > limit else "") if shown else "none"
