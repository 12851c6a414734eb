"""Keep the query planner's statistics current, so searches use their indexes (issue 14).

Why: SQLite plans from ``sqlite_stat1``, which only ``ANALYZE`` writes. A store nobody
analyzed makes the planner guess that ``runs.experiment_id = ?`` picks ~10 rows, so a search
reads the whole experiment through ``ix_runs_experiment_start`` and sorts it (279–790 ms at
100,000 runs) instead of walking ``ix_runs_start_time`` newest first and stopping after the
page is full (13–19 ms). PostgreSQL's autovacuum analyzes on its own, but only a minute or so
after a bulk load; until then the planner sees empty tables.

What runs, and when (standard library only: the SQLite write path in ``lite`` imports it):

* On open of a long-lived SQLite connection: ``PRAGMA optimize=0x10002`` (SQLite's advice
  for long-lived connections), then :func:`sqlite_refresh`.
* :func:`sqlite_refresh`: two indexed reads (the ``runs`` row count ANALYZE last saw, and
  ``max(rowid)`` of ``runs``); a full ``ANALYZE`` of the search tables only when a store of at
  least :data:`MIN_RUNS` runs was never analyzed or grew :data:`GROWTH`-fold since. Full, not
  ``analysis_limit``-sampled: a sample of the first rows of ``ix_runs_experiment_start`` sees a
  single experiment and records it as selective — the very misestimate that causes the slow
  plan. The cost (≈ 85 ms CPU for ``runs`` at 100,000 runs, ≈ 300 ms for all five tables)
  comes once per 4-fold growth.
* After a write transaction that wrote :data:`BULK_ROWS` rows or more, and on close of a
  writer connection: :func:`sqlite_refresh` then ``PRAGMA optimize`` (SQLite's advice for
  closing connections; our refresh runs first, so the search tables are already fresh and
  optimize's own sampled ANALYZE — SQLite ≥ 3.46 limits it — leaves them alone).
* PostgreSQL: :func:`postgres_analyze` after a write transaction of :data:`BULK_ROWS` rows
  or more (a ``jupyter mlops migrate`` into PostgreSQL, a bulk import), so the first search
  does not wait for autovacuum.

Nothing here ever waits for a lock: SQLite statements run with ``busy_timeout = 0`` and a
busy database skips the work until the next occasion; none of it runs per ``log_metric``.
"""

from __future__ import annotations

import logging
import sqlite3

log = logging.getLogger(__name__)

#: Below this many runs any plan answers in a few milliseconds: analyzing is not worth it.
MIN_RUNS = 2_000
#: Re-analyze when ``runs`` has grown this many times since the last ANALYZE (SQLite's own
#: ``PRAGMA optimize`` waits for 10–25×; a search plan can flip well before that).
GROWTH = 4
#: A write transaction with at least this many rows is a bulk load: statistics are refreshed.
BULK_ROWS = 20_000
#: The tables a search reads; ``runs`` first, its statistics decide the plan.
SEARCH_TABLES = ("runs", "experiments", "params", "tags", "latest_metrics")


# ----------------------------------------------------------------------------- SQLite


def _analyzed_runs(conn) -> int | None:
    """Rows ``runs`` had when last analyzed; 0 if never; None if there is no runs table."""
    try:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'runs'"
                        ).fetchone() is None:
            return None
        row = conn.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = 'runs' LIMIT 1").fetchone()
    except sqlite3.OperationalError:  # no sqlite_stat1: nothing was ever analyzed
        return 0
    try:
        return int(row[0].split()[0]) if row else 0
    except (ValueError, IndexError, AttributeError):
        return 0


def sqlite_stats_stale(conn) -> bool:
    """Whether the search tables need an ``ANALYZE`` (cheap: two indexed reads)."""
    analyzed = _analyzed_runs(conn)
    if analyzed is None:
        return False
    # max(rowid) is one B-tree descent; runs are rarely deleted, so it counts them closely.
    (runs,) = conn.execute("SELECT coalesce(max(rowid), 0) FROM runs").fetchone()
    return runs >= MIN_RUNS and runs >= GROWTH * analyzed


def _without_waiting(conn, statements: list[str]) -> bool:
    """Run ``statements`` with ``busy_timeout = 0``; False (and nothing waited) if busy."""
    (old,) = conn.execute("PRAGMA busy_timeout").fetchone()
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        for sql in statements:
            conn.execute(sql).fetchall()
        return True
    except sqlite3.OperationalError as exc:  # locked by a writer, read-only file, …
        log.debug("planner statistics skipped (%s): %s", statements[0], exc)
        return False
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(old)}")


def sqlite_refresh(conn, tables: tuple[str, ...] = SEARCH_TABLES) -> bool:
    """``ANALYZE`` ``tables`` when :func:`sqlite_stats_stale`; True if it analyzed.

    ``conn`` is a ``sqlite3`` connection in autocommit mode, outside a transaction.
    """
    try:
        if not sqlite_stats_stale(conn):
            return False
    except sqlite3.Error as exc:
        log.debug("planner statistics not checked: %s", exc)
        return False
    return _without_waiting(conn, [f"ANALYZE {t}" for t in tables])


def sqlite_on_open(conn) -> None:
    """For a long-lived connection, as SQLite advises, then our own check.

    Only the ``runs`` and ``experiments`` tables are analyzed here, if needed: they decide the
    search plan, and the connection is probably opened for a search that is about to run.
    """
    try:
        _without_waiting(conn, ["PRAGMA optimize=0x10002"])
        sqlite_refresh(conn, ("runs", "experiments"))
    except sqlite3.Error as exc:  # never let statistics stop a connection from opening
        log.debug("planner statistics skipped on open: %s", exc)


def sqlite_on_close(conn) -> None:
    """Before closing a writer connection (or after a bulk write): refresh, then optimize."""
    try:
        sqlite_refresh(conn)
        _without_waiting(conn, ["PRAGMA optimize"])
    except sqlite3.Error as exc:  # a closing connection must close whatever happens here
        log.debug("planner statistics skipped on close: %s", exc)


# ----------------------------------------------------------------------------- PostgreSQL


def postgres_analyze(dbapi_conn) -> None:
    """``ANALYZE`` the search tables on a PostgreSQL DBAPI connection (after a bulk load).

    ANALYZE reads a fixed-size sample (``default_statistics_target``), so it costs about the
    same at 10,000 and 10,000,000 runs; it takes a lock that conflicts only with schema
    changes and other ANALYZE/VACUUM. ``lock_timeout`` keeps it from queueing behind one.
    """
    cur = dbapi_conn.cursor()
    try:
        cur.execute("SET lock_timeout = '2s'")
        cur.execute("ANALYZE " + ", ".join(SEARCH_TABLES))
        cur.execute("RESET lock_timeout")
        dbapi_conn.commit()
    except Exception as exc:  # statistics are an optimisation: never fail the caller's write
        log.debug("ANALYZE after a bulk write skipped: %s", exc)
        try:
            dbapi_conn.rollback()
        except Exception:
            pass
    finally:
        cur.close()
