"""How every SQLite connection to a store is set up: one place for the SQLAlchemy engine
(engine.py) and the stdlib paths (lite.py, sweep_storage.py), so they cannot drift.
Standard library only: the stdlib paths exist to avoid importing SQLAlchemy."""

from __future__ import annotations

from typing import Any

#: How long a writer waits for another's transaction before "database is locked".
BUSY_TIMEOUT_S = 60.0
#: Page cache per connection, an upper bound (pages are cached as they are read). SQLite's
#: default, 2 MiB, is smaller than the pages an online feature lookup of 1,000 random keys
#: touches in a 100,000-row table: 6-7 ms per lookup, 4 ms with this.
CACHE_KIB = 32 * 1024


def configure(cursor: Any, *, read_only: bool = False) -> None:
    """Set a new connection's pragmas (``cursor``: a sqlite3 connection or cursor)."""
    cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    cursor.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    if not read_only:
        # journal_mode=WAL rewrites the file's header: never on a database we only read.
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
