"""Fast BLAKE3 hashing of bytes, files and directories, with an optional stat cache.

Every content address in jupyter-mlops is a BLAKE3 hex digest (64 lowercase hex characters).
Files are hashed through a memory map on all cores, which is what makes re-logging a
multi-gigabyte dataset cheap; :class:`HashCache` makes re-checking an unchanged file a
``stat`` plus one indexed SQLite lookup.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable

import blake3

from jupyter_mlops.errors import InvalidInputError, NotFoundError

__all__ = ["CHUNK_SIZE", "HashCache", "hash_bytes", "hash_file", "hash_path", "new_hasher"]

#: Read size for streamed hashing and copying (the store uses the same value).
CHUNK_SIZE = 4 * 1024 * 1024

# Directory digests are prefixed so a directory can never share a digest with a file whose
# bytes happen to equal the directory's manifest encoding.
_DIR_DOMAIN = b"jupyter-mlops directory v1\0"

# A file modified within the same timestamp tick as our read keeps its old (size, mtime) and
# would be served stale forever ("racy git" problem). Entries whose mtime is this close to
# the moment they were hashed are therefore rehashed on the next check; 2 s covers the
# coarsest common timestamp resolution (FAT) and NFS clock skew.
_RACY_WINDOW_NS = 2_000_000_000


def new_hasher() -> blake3.blake3:
    """Return an incremental BLAKE3 hasher allowed to use every core."""
    return blake3.blake3(max_threads=blake3.blake3.AUTO)


def hash_bytes(data: bytes | bytearray | memoryview) -> str:
    """Return the BLAKE3 hex digest of ``data``.

    Parameters
    ----------
    data : bytes-like
        The content to hash.

    Returns
    -------
    str
        64 lowercase hex characters.
    """
    return blake3.blake3(data, max_threads=blake3.blake3.AUTO).hexdigest()


def hash_array(array) -> str:
    """Return the content digest of a numpy array: its dtype, shape and values.

    Deterministic across processes and machines: the values are hashed in C order in native
    byte order, so a transposed copy, a Fortran-ordered array or a big-endian array with the
    same values gives the same digest, and the same bytes under another dtype or shape do not.

    Raises
    ------
    InvalidInputError
        For an object array (its bytes are memory addresses, not values).
    """
    import json

    import numpy as np

    a = np.asarray(array)
    if a.dtype.hasobject:
        raise InvalidInputError(
            f"Cannot version a numpy array of dtype {a.dtype} by content (it holds Python "
            "objects): convert it to a numeric or string dtype, or to a pandas DataFrame.")
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    dtype = a.dtype.descr if a.dtype.names else a.dtype.str
    header = json.dumps(["ndarray", dtype, list(a.shape)]).encode()
    hasher = new_hasher()
    hasher.update(len(header).to_bytes(8, "little") + header)
    if a.size:
        hasher.update(np.ascontiguousarray(a).reshape(-1).view(np.uint8))
    return hasher.hexdigest()


def hash_file(path: str | os.PathLike[str]) -> str:
    """Return the BLAKE3 hex digest of one file's content.

    Parameters
    ----------
    path : str or os.PathLike
        A regular file (symlinks are followed).

    Returns
    -------
    str
        64 lowercase hex characters.

    Raises
    ------
    NotFoundError
        ``path`` does not exist.
    InvalidInputError
        ``path`` is a directory (use :func:`hash_path`).
    """
    path = os.fspath(path)
    hasher = new_hasher()
    try:
        # mmap lets blake3 split the file across threads with no copies into Python.
        hasher.update_mmap(path)
        return hasher.hexdigest()
    except FileNotFoundError:
        raise NotFoundError(f"Cannot hash {path!r}: no such file. Check the path.") from None
    except IsADirectoryError:
        raise InvalidInputError(f"{path!r} is a directory; hash it with hash_path().") from None
    except (OSError, ValueError):
        pass  # not mappable (pipe, special or network file): stream it instead
    hasher = new_hasher()
    with open(path, "rb", buffering=0) as f:
        buf = bytearray(CHUNK_SIZE)
        view = memoryview(buf)
        while n := f.readinto(buf):
            hasher.update(view[:n])
    return hasher.hexdigest()


def hash_path(path: str | os.PathLike[str]) -> str:
    """Return the BLAKE3 hex digest of a file or of a whole directory tree.

    A directory's digest covers every file below it: the sorted ``/``-separated relative
    paths and each file's digest. It does not depend on creation order, timestamps,
    permissions or the platform's path separator; empty directories do not contribute.
    Symlinks to files are hashed by content; symlinked directories are not descended, so a
    link cycle cannot hang the walk.

    Parameters
    ----------
    path : str or os.PathLike
        A file or a directory.

    Returns
    -------
    str
        64 lowercase hex characters.

    Raises
    ------
    NotFoundError
        ``path`` does not exist.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        return _hash_dir(path, hash_file)
    return hash_file(path)


def _hash_dir(root: str, hash_one: Callable[[str], str]) -> str:
    entries = []
    for dirpath, _dirnames, filenames in os.walk(root, onerror=_raise):
        for name in filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            entries.append((os.fsencode(rel), full))
    # Sort by encoded bytes, not str, so the order never depends on locale or platform.
    entries.sort()
    hasher = new_hasher()
    hasher.update(_DIR_DOMAIN)
    for rel, full in entries:
        # Length-prefixing keeps the encoding unambiguous whatever bytes a name contains.
        hasher.update(len(rel).to_bytes(8, "little") + rel + bytes.fromhex(hash_one(full)))
    return hasher.hexdigest()


def _raise(error: OSError) -> None:
    if isinstance(error, FileNotFoundError):
        raise NotFoundError(f"Cannot hash {error.filename!r}: no such file or directory.")
    raise error


class HashCache:
    """Remember file digests keyed by ``(absolute path, size, mtime_ns, inode)``.

    The cache lives in a small SQLite file (WAL mode, a busy timeout and one-statement
    transactions) so notebooks, the server and CLI processes can share it safely. It is
    purely an optimisation: deleting the file loses nothing. A file modified less than two
    seconds before it was hashed is hashed once more on its next check, because a write in
    the same timestamp tick would otherwise go unnoticed.

    Parameters
    ----------
    db_path : str, os.PathLike or None
        Where to keep the cache; ``None`` keeps it in memory for this object's lifetime.
    """

    _SCHEMA_VERSION = 1
    _BUSY_TIMEOUT_S = 30.0

    def __init__(self, db_path: str | os.PathLike[str] | None = None):
        self._db_path = ":memory:" if db_path is None else os.fspath(db_path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1

    def hash(self, path: str | os.PathLike[str]) -> str:
        """Return the digest of a file or directory, rehashing only what changed.

        Parameters
        ----------
        path : str or os.PathLike
            A file or directory; directories are combined exactly as :func:`hash_path`
            does, with each file looked up in the cache.

        Returns
        -------
        str
            64 lowercase hex characters, equal to ``hash_path(path)``.

        Raises
        ------
        NotFoundError
            ``path`` does not exist.
        """
        path = os.path.abspath(os.fspath(path))
        if os.path.isdir(path):
            return _hash_dir(path, self._hash_file)
        return self._hash_file(path)

    def _hash_file(self, path: str) -> str:
        try:
            before = os.stat(path)
        except FileNotFoundError:
            raise NotFoundError(f"Cannot hash {path!r}: no such file. Check the path.") from None
        if not stat.S_ISREG(before.st_mode):
            return hash_file(path)  # pipes and devices have no stable identity to cache
        row = self._execute(
            "SELECT size, mtime_ns, inode, hashed_at_ns, digest FROM file_hashes WHERE path = ?",
            (path,),
        ).fetchone()
        if row is not None and row[:3] == (before.st_size, before.st_mtime_ns, before.st_ino):
            if before.st_mtime_ns < row[3] - _RACY_WINDOW_NS:
                return row[4]
        hashed_at = time.time_ns()
        digest = hash_file(path)
        try:
            after = os.stat(path)
        except FileNotFoundError:
            return digest  # removed while being read: nothing left to remember
        if _identity(after) == _identity(before):  # changed while reading: don't remember it
            self._execute(
                "INSERT OR REPLACE INTO file_hashes"
                " (path, size, mtime_ns, inode, hashed_at_ns, digest) VALUES (?, ?, ?, ?, ?, ?)",
                (path, after.st_size, after.st_mtime_ns, after.st_ino, hashed_at, digest),
            )
        return digest

    def close(self) -> None:
        """Close the database connection; the cache reopens it on next use."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> HashCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _execute(self, sql: str, params: tuple) -> sqlite3.Cursor:
        with self._lock:
            # A connection inherited through fork() must never be used by the child.
            if self._conn is None or self._pid != os.getpid():
                self._conn = self._connect()
                self._pid = os.getpid()
            return self._conn.execute(sql, params)

    def _connect(self) -> sqlite3.Connection:
        if self._db_path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(self._db_path)), exist_ok=True)
        # Autocommit: every statement is its own short transaction, so no process holds the
        # write lock while it hashes a large file.
        conn = sqlite3.connect(
            self._db_path,
            timeout=self._BUSY_TIMEOUT_S,
            isolation_level=None,
            check_same_thread=False,
        )
        conn.execute(f"PRAGMA busy_timeout = {int(self._BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")  # losing the last entries only costs a rehash
        if conn.execute("PRAGMA user_version").fetchone()[0] != self._SCHEMA_VERSION:
            # IMMEDIATE takes the write lock first, so processes opening a new cache at the
            # same moment create the table once instead of racing each other.
            conn.execute("BEGIN IMMEDIATE")
            try:
                if conn.execute("PRAGMA user_version").fetchone()[0] != self._SCHEMA_VERSION:
                    # A cache, not a record: an unknown layout is rebuilt, never migrated.
                    conn.execute("DROP TABLE IF EXISTS file_hashes")
                    conn.execute(
                        "CREATE TABLE file_hashes (path TEXT PRIMARY KEY,"
                        " size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,"
                        " inode INTEGER NOT NULL, hashed_at_ns INTEGER NOT NULL,"
                        " digest TEXT NOT NULL) WITHOUT ROWID"
                    )
                    conn.execute(f"PRAGMA user_version = {self._SCHEMA_VERSION}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return conn


def _identity(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ino)
