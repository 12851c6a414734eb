"""The embedded store's first-call path on the standard library's ``sqlite3``, no SQLAlchemy.

Why: importing SQLAlchemy (and Alembic) costs more than half a second, while a notebook's
first ``%mlops metric`` needs only a handful of statements. For a plain SQLite file store,
:class:`LiteRunStore` checks the schema revision with one read of ``alembic_version``, and
creates runs, logs batches, sends heartbeats and ends runs here; searches too
(:mod:`~jupyter_mlops.store.text_runs`, shared with PostgreSQL's psycopg path,
:mod:`~jupyter_mlops.store.pg_lite`). Everything else (registry, most reads) loads the
SQLAlchemy :class:`~jupyter_mlops.store.runs.RunStore` on first use. SQLite URLs with options
always take the SQLAlchemy path.

The statements below have the semantics of the SQLAlchemy ones in ``runs.py`` (the same
upserts, the same "newer point wins" rule for ``latest_metrics``); tests/store runs the same
write tests through both and compares the rows. SQLite's triggers (migration 0005) log every
write into ``run_changes``, so the search index sees these rows like any other.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import sqlite3
import logging
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence

from jupyter_mlops.errors import (
    AlreadyExistsError, ConflictError, InvalidInputError, NotFoundError, StoreUnavailableError,
)
from jupyter_mlops.store import planner_stats, sqlite_pragmas
from jupyter_mlops.store.labels import experiment_to_open
from jupyter_mlops.store.records import RUN_STATUSES, ExperimentRecord, RunRecord
from jupyter_mlops.store.schema_head import HEAD_REVISION
# MAX_RESULTS_LIMIT re-exported: runs.py imports it from here.
from jupyter_mlops.store.text_runs import (  # noqa: F401
    MAX_RESULTS_LIMIT, TextRunReads, check_page,
)
from jupyter_mlops.store.writers import writer_token

log = logging.getLogger(__name__)
BUSY_TIMEOUT_S = sqlite_pragmas.BUSY_TIMEOUT_S
#: Entries of run_changes kept; runs.py imports these three names from here.
CHANGE_LOG_KEEP = 200_000
DEFAULT_EXPERIMENT = "Default"
_PREFIX = "sqlite:///"


def refuse_deleted(record: ExperimentRecord) -> ExperimentRecord:
    """New runs go to active experiments only (as MLflow's ``set_experiment``)."""
    if record.lifecycle_stage == "deleted":
        raise ConflictError(
            f"Experiment {record.name!r} is deleted: restore it (MLflow: "
            f"`MlflowClient().restore_experiment('{record.id}')`) or use another name.")
    return record


#: Which runs a search sees by their experiment's lifecycle (MLflow's run ViewType: deleting
#: an experiment hides its runs from the default, active view; restoring brings them back).
RUN_VIEWS = ("active", "deleted", "all")


def check_run_view(lifecycle: object) -> str:
    """``lifecycle`` of a run search, checked where it enters the store."""
    if lifecycle not in RUN_VIEWS:
        raise InvalidInputError(
            "lifecycle is 'active' (runs of active experiments), 'deleted' (runs of deleted "
            f"experiments) or 'all'; got {str(lifecycle)[:30]!r}.")
    return lifecycle  # type: ignore[return-value]


def run_view_sql(lifecycle: str, experiments: str) -> str | None:
    """The SQL condition on the joined experiments table (alias ``experiments``) that keeps
    the runs of ``lifecycle``; None for ``all``. Constant text: nothing to bind."""
    if check_run_view(lifecycle) == "all":
        return None
    op = "<>" if lifecycle == "active" else "="
    return f"{experiments}.lifecycle_stage {op} 'deleted'"


def sqlite_path(url: str) -> str | None:
    """The file of a plain ``sqlite:///PATH`` URL, else None (this path is not for it).

    URLs with options (``?mode=ro``, ``uri=true``), in-memory databases and paths that
    need URL decoding stay with SQLAlchemy, which knows how to read them.
    """
    if not url.startswith(_PREFIX):
        return None
    path = url[len(_PREFIX):]
    if not path or path == ":memory:" or any(c in path for c in "?%#"):
        return None
    return path


def schema_is_current(url: str) -> bool:
    """True when ``url`` is a SQLite store already at HEAD_REVISION (one read, read-only).

    Anything else — no file yet, an older or newer store, another application's database —
    returns False, and ``migrate.ensure_schema`` (SQLAlchemy, Alembic) decides what to do.
    The file is opened read-only so a foreign database is never touched here.
    """
    path = sqlite_path(url)
    if path is None:
        return False
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
    except sqlite3.Error:
        return False
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:  # no such table, not a database, locked…: let migrate decide
        return False
    finally:
        conn.close()
    return row is not None and row[0] == HEAD_REVISION


class _Connection:
    """One ``sqlite3`` connection per store file, tuned like engine.get_engine's."""

    def __init__(self, path: str):
        self.path = path
        # check_same_thread=False: the buffer's flush thread and the cell's thread share it;
        # self.lock keeps one transaction at a time on it.
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                               check_same_thread=False)
        sqlite_pragmas.configure(conn)
        # `value REGEXP pattern`, as SQLAlchemy's SQLite dialect registers it: lite_search's
        # param-as-number comparisons use it. Registering is cheap; `re` is imported on use.
        conn.create_function("regexp", 2, _regexp, deterministic=True)
        # Long-lived (one per process and file): SQLite's advice on open, and an ANALYZE if
        # a big store never had one (planner_stats).
        planner_stats.sqlite_on_open(conn)
        self.conn = conn
        self.pid = os.getpid()
        self.lock = threading.Lock()
        self._checked_at = conn.total_changes  # rows written when statistics were last checked

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction (see engine.py for why IMMEDIATE)."""
        with self.lock:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self.conn
                except BaseException:
                    self.conn.execute("ROLLBACK")
                    raise
                self.conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise _translate(exc, self.path) from exc
            # Every BULK_ROWS rows written (a bulk load, or a long session's many flushes)
            # the best search plan may have changed: check the statistics now, in the
            # writing thread (for logged values the buffer's flush thread, never the
            # log_metric caller). total_changes is a counter in memory: free to read.
            if self.conn.total_changes - self._checked_at >= planner_stats.BULK_ROWS:
                self._checked_at = self.conn.total_changes
                planner_stats.sqlite_on_close(self.conn)

    def close(self) -> None:
        """Close once no transaction or read is under way on another thread.

        Closing a connection while another thread runs a statement on it crashed the process
        (a writer thread's flush, waiting in ``BEGIN IMMEDIATE`` for another connection's
        write lock, outlasted the old one-second wait here). A transaction that holds on
        past the busy timeout is left its connection: an open connection costs a file
        handle, a closed one under a running statement costs the process.
        """
        if self.pid != os.getpid():  # a forked child: no thread of its own uses it
            self.conn.close()
            return
        if not self.lock.acquire(timeout=BUSY_TIMEOUT_S + 5):
            log.warning("A store connection to %s was left open: a transaction on it has "
                        "not ended.", self.path)
            return
        try:
            planner_stats.sqlite_on_close(self.conn)  # SQLite's advice on close
            self.conn.close()
        finally:
            self.lock.release()

    def optimize(self) -> None:
        """Refresh statistics and ``PRAGMA optimize``, unless a transaction is under way."""
        if self.lock.acquire(timeout=1.0):
            try:
                planner_stats.sqlite_on_close(self.conn)
            finally:
                self.lock.release()

    def read(self, sql: str, args: Sequence = ()) -> list[tuple]:
        with self.lock:
            try:
                return self.conn.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise _translate(exc, self.path) from exc


def _regexp(pattern: str, value: str | None) -> bool | None:
    from jupyter_mlops.store.lite_search import regexp

    return regexp(pattern, value)


def _translate(exc: sqlite3.Error, path: str) -> Exception:
    """The errors engine._translate gives for the same failures through SQLAlchemy."""
    if isinstance(exc, sqlite3.IntegrityError):
        if "FOREIGN KEY constraint failed" in str(exc):
            return NotFoundError(
                f"A record this refers to does not exist (was a run deleted?): {exc}")
        return AlreadyExistsError(f"That record already exists ({exc}).")
    if isinstance(exc, sqlite3.DataError):
        return InvalidInputError(f"The store refused a value: {exc}.")
    return unavailable(f"sqlite:///{path}", exc)


def unavailable(where: str, exc: object) -> StoreUnavailableError:
    """The error of a store that did not answer (``where``: its URL, password hidden), on
    every path (engine, lite, pg_lite)."""
    return StoreUnavailableError(
        f"The metadata store at {where} is unavailable: {exc}. "
        "Check that it is reachable and not full, then retry.")


def nul_refused() -> InvalidInputError:
    """The error of a text value PostgreSQL cannot hold (engine and pg_lite give it)."""
    return InvalidInputError(
        "A text value contains the NUL character (\\x00), which a PostgreSQL store "
        "cannot hold; remove it and retry.")


_connections: dict[str, _Connection] = {}
_connections_lock = threading.Lock()


def _connection(path: str) -> _Connection:
    with _connections_lock:
        found = _connections.get(path)
        if found is None:
            try:
                found = _connections[path] = _Connection(path)
            except sqlite3.Error as exc:
                raise _translate(exc, path) from exc
        return found


def close_connections() -> None:
    """Close every connection (store.forget_open_stores, tests, after fork)."""
    with _connections_lock:
        found = list(_connections.values())
        _connections.clear()
    for c in found:
        c.close()


@atexit.register
def _optimize_at_exit() -> None:
    # A process's end is its connections' close: SQLite's advice is PRAGMA optimize then.
    # Connections stay open (a writer thread may still flush after this handler).
    with _connections_lock:
        found = [c for c in _connections.values() if c.pid == os.getpid()]
    for c in found:
        c.optimize()


def pack_latest(metrics: Sequence[tuple[str, float, int, float]]) -> list[tuple]:
    """The newest point per key of one batch and the batch's count per key.

    ``(key, value, step, timestamp, count)`` rows, NaN as None; shared by both write paths.
    """
    latest: dict[str, list] = {}
    for k, v, s, t in metrics:
        cur = latest.get(k)
        if cur is None or (s, t) >= (cur[2], cur[3]):
            latest[k] = [k, v, s, t, (cur[4] + 1) if cur else 1]
        else:
            cur[4] += 1
    return [(k, None if v != v else v, s, t, c) for k, v, s, t, c in latest.values()]


def pack_chunks(metrics: Sequence[tuple[str, float, int, float]]) -> list[tuple]:
    """One ``(key, n, first_step, last_step, blob)`` chunk per key of one batch."""
    from jupyter_mlops.store.metric_chunks import pack

    by_key: dict[str, list[tuple[float, int, float]]] = {}
    for k, v, st, t in metrics:
        by_key.setdefault(k, []).append((v, st, t))
    chunks = []
    for k, points in by_key.items():
        data, first, last = pack(points)
        chunks.append((k, len(points), first, last, data))
    return chunks


_UPSERT_VALUE = ("INSERT INTO {table} (run_id, key, value) VALUES (?, ?, ?) "
                 "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value")
# The incoming point replaces the stored one when it is at a later step, or at the same step
# and not older; the count always adds up (runs.RunStore._insert_metrics, same rule).
_UPSERT_LATEST = (
    "INSERT INTO latest_metrics (run_id, key, value, step, timestamp, count) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, key) DO UPDATE SET "
    "value = CASE WHEN {newer} THEN excluded.value ELSE latest_metrics.value END, "
    "step = CASE WHEN {newer} THEN excluded.step ELSE latest_metrics.step END, "
    "timestamp = CASE WHEN {newer} THEN excluded.timestamp ELSE latest_metrics.timestamp END, "
    "count = latest_metrics.count + excluded.count"
).format(newer="(excluded.step > latest_metrics.step OR (excluded.step = latest_metrics.step"
               " AND excluded.timestamp >= latest_metrics.timestamp))")


class LiteStore:
    """A stdlib store of one SQLite file: the methods a cold call needs are the subclass's,
    on ``sqlite3``; any other attribute is the SQLAlchemy store's (``_full_class()(url)``),
    created — and SQLAlchemy imported — on first use."""

    #: Attributes with this prefix never fall through to the SQLAlchemy store (private
    #: state, and no recursion before ``__init__`` ends).
    _own_prefix = "_"

    def __init__(self, url: str):
        self.url = url
        self._full = None
        self._full_lock = threading.Lock()
        self._open(url)

    def _open(self, url: str) -> None:
        """Check that this path serves ``url`` and note what ``_db`` needs to connect."""
        path = sqlite_path(url)
        if path is None:
            raise InvalidInputError(f"{url} is not a plain SQLite file URL.")
        self._path = path

    def _full_class(self) -> type:  # pragma: no cover - each subclass names its store
        raise NotImplementedError

    def __getattr__(self, name: str):
        # Only called for attributes not found here.
        if name.startswith(self._own_prefix):
            raise AttributeError(name)
        return getattr(self.full, name)

    @property
    def full(self):
        """The SQLAlchemy store of the same URL (imports SQLAlchemy the first time)."""
        with self._full_lock:
            if self._full is None:
                self._full = self._full_class()(self.url)
            return self._full

    @property
    def _db(self) -> _Connection:
        return _connection(self._path)


class LiteRunStore(TextRunReads, LiteStore):
    """:class:`~jupyter_mlops.store.runs.RunStore` for a SQLite file, writes on ``sqlite3``.

    The methods a first run needs are here; any other attribute is the SQLAlchemy
    ``RunStore``'s, created (and SQLAlchemy imported) on first use.
    """

    def __init__(self, url: str):
        super().__init__(url)
        self._experiments: dict[str, ExperimentRecord] = {}
        self._sql_searches = 0  # filtered searches answered here (see _searched)

    # ----------------------------------------------------------------- experiments, runs
    def get_or_create_experiment(self, name: str | None) -> ExperimentRecord:
        name = experiment_to_open(name, DEFAULT_EXPERIMENT)
        found = self._experiments.get(name) or self._experiment_by_name(name)
        if found is None:
            with self._db.write() as conn:
                conn.execute("INSERT INTO experiments (name, created_at) VALUES (?, ?) "
                             "ON CONFLICT (name) DO NOTHING", (name, time.time()))
            found = self._experiment_by_name(name)
            assert found is not None
        self._experiments[name] = refuse_deleted(found)
        return found

    def _experiment_by_name(self, name: str) -> ExperimentRecord | None:
        rows = self._db.read("SELECT id, name, description, created_at, lifecycle_stage "
                             "FROM experiments WHERE name = ?", (name,))
        return ExperimentRecord(*rows[0]) if rows else None

    def create_run(
        self, *, experiment: str | None, name: str | None, user: str,
        parent_run_id: str | None = None, tags: dict[str, str] | None = None,
        environment_id: int | None = None, run_id: str | None = None,
        start_time: float | None = None,
    ) -> RunRecord:
        import uuid  # here: a search or a read never needs it (uuid imports platform)

        exp = self.get_or_create_experiment(experiment)
        run_id = run_id or uuid.uuid4().hex
        t = time.time()
        start = t if start_time is None else start_time
        name = name or f"run-{run_id[:8]}"
        tags = {str(k): str(v) for k, v in (tags or {}).items()}
        with self._db.write() as conn:
            if parent_run_id and conn.execute(
                    "SELECT 1 FROM runs WHERE id = ?", (parent_run_id,)).fetchone() is None:
                raise NotFoundError(f"Parent run {parent_run_id} does not exist.")
            conn.execute(
                'INSERT INTO runs (id, experiment_id, name, status, "user", start_time, '
                "heartbeat_at, parent_run_id, writer, environment_id) "
                "VALUES (?, ?, ?, 'RUNNING', ?, ?, ?, ?, ?, ?)",
                (run_id, exp.id, name, user, start, t, parent_run_id, writer_token(),
                 environment_id))
            if tags:
                conn.executemany("INSERT INTO tags (run_id, key, value) VALUES (?, ?, ?)",
                                 [(run_id, k, v) for k, v in tags.items()])
        return RunRecord(id=run_id, experiment_id=exp.id, experiment=exp.name, name=name,
                         status="RUNNING", user=user, start_time=start, end_time=None,
                         parent_run_id=parent_run_id, reproducible=None,
                         not_reproducible_reason=None, tags=tags)

    def end_run(self, run_id: str, status: str = "FINISHED",
                end_time: float | None = None) -> None:
        status = status.upper()
        if status not in RUN_STATUSES or status == "RUNNING":
            raise InvalidInputError(
                f"Unknown end status {status!r}: use FINISHED, FAILED or KILLED.")
        t = time.time()
        with self._db.write() as conn:
            done = conn.execute("UPDATE runs SET status = ?, end_time = ?, heartbeat_at = ? "
                                "WHERE id = ?",
                                (status, t if end_time is None else end_time, t, run_id))
            if done.rowcount == 0:
                raise NotFoundError(f"Run {run_id} does not exist.")
            conn.execute("DELETE FROM run_changes WHERE seq < "
                         "(SELECT max(seq) FROM run_changes) - ?", (CHANGE_LOG_KEEP,))

    def mark_reproducible(self, run_id: str) -> None:
        with self._db.write() as conn:
            conn.execute("UPDATE runs SET reproducible = 1 "
                         "WHERE id = ? AND reproducible IS NULL", (run_id,))

    def heartbeat(self, run_ids: Sequence[str]) -> None:
        if run_ids:
            marks = ", ".join("?" * len(run_ids))
            with self._db.write() as conn:
                conn.execute(f"UPDATE runs SET heartbeat_at = ? WHERE id IN ({marks}) "
                             "AND status = 'RUNNING'", (time.time(), *run_ids))

    # ----------------------------------------------------------------- batched logging
    def log_batch(
        self, run_id: str, *, params: Iterable[tuple[str, str]] = (),
        metrics: Sequence[tuple[str, float, int, float]] = (),
        tags: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Write params, metrics and tags of one run in one transaction (as RunStore's)."""
        params, tags = dict(params), dict(tags)
        with self._db.write() as conn:
            if params:
                conn.executemany(_UPSERT_VALUE.format(table="params"),
                                 [(run_id, k, v) for k, v in params.items()])
            if tags:
                conn.executemany(_UPSERT_VALUE.format(table="tags"),
                                 [(run_id, k, v) for k, v in tags.items()])
            if metrics:
                self._insert_metrics(conn, run_id, metrics)

    @staticmethod
    def _insert_metrics(conn, run_id: str, metrics: Sequence[tuple[str, float, int, float]]
                        ) -> None:
        conn.executemany(
            "INSERT INTO metric_chunks (run_id, key, n, first_step, last_step, data) "
            "VALUES (?, ?, ?, ?, ?, ?)", [(run_id, *c) for c in pack_chunks(metrics)])
        conn.executemany(_UPSERT_LATEST, [(run_id, *row) for row in pack_latest(metrics)])

    # ----------------------------------------------------------------- listing
    def search_runs(self, filter: str | None = None, experiment: str | None = None,
                    order_by=None, max_results: int = 100, offset: int = 0, *,
                    lifecycle: str = "active") -> list[RunRecord]:
        """RunStore.search_runs, answered here on ``sqlite3``: no SQLAlchemy.

        ``jupyter mlops runs list`` and a first ``%mlops runs`` ask for the newest runs; a
        filter or an order is parsed (filters.py has no SQLAlchemy) and compiled to SQL text
        by :mod:`~jupyter_mlops.store.lite_search`, in the shape the SQLAlchemy path renders.
        What lite_search does not compile (``Unsupported``: a filter nested deeper than
        INLINE_DEPTH), and every unordered search once this process built an in-memory
        index, go to the SQLAlchemy store. The index answers no ``order_by``: an ordered
        search neither goes there nor counts toward building it (a process that only sorts
        would pay numpy, SQLAlchemy and a build thread holding the GIL for nothing).
        """
        view = run_view_sql(lifecycle, "e")
        if "jupyter_mlops.store.run_index" in sys.modules and not order_by:
            return self.full.search_runs(filter, experiment, order_by, max_results, offset,
                                         lifecycle=lifecycle)
        check_page(max_results, offset)
        if filter or order_by:
            found = self._text_search(filter, experiment, order_by, max_results, offset,
                                      lifecycle)
            if found is None:
                return self.full.search_runs(filter, experiment, order_by, max_results, offset,
                                             lifecycle=lifecycle)
            if not order_by:
                self._searched()
            return found
        conditions, args = (["e.name = ?"], [experiment]) if experiment else ([], [])
        conditions += [view] if view else []
        where = f"WHERE {' AND '.join(conditions)} " if conditions else ""
        # filter_sql.default_order: newest first, then run id (a total order for paging).
        rows = self._db.read(
            'SELECT r.id, r.experiment_id, e.name, r.name, r.status, r."user", r.start_time, '
            "r.end_time, r.parent_run_id, r.reproducible, r.not_reproducible_reason "
            f"FROM runs r JOIN experiments e ON e.id = r.experiment_id {where}"
            "ORDER BY r.start_time DESC, r.id ASC LIMIT ? OFFSET ?",
            (*args, max_results, offset))
        return self._records(rows)

    def _searched(self) -> None:
        """RunStore._searched_in_sql's rule: the second filtered search of this process
        starts building the in-memory index (after its answer is ready)."""
        self._sql_searches += 1
        if self._sql_searches >= 2:
            from jupyter_mlops.store.run_index import index_for

            index = index_for(self.url)
            if index is not None:
                index.start_building()

    def get_run(self, run_id: str) -> RunRecord:
        """RunStore.get_run on ``sqlite3`` (a cached pipeline step copies its source run's
        values through it), with the same errors."""
        if not isinstance(run_id, str) or not run_id:
            raise InvalidInputError("A run id is a 32-character hex string.")
        rows = self._records(self._db.read(
            'SELECT r.id, r.experiment_id, e.name, r.name, r.status, r."user", r.start_time, '
            "r.end_time, r.parent_run_id, r.reproducible, r.not_reproducible_reason "
            "FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE r.id = ?",
            (run_id,)))
        if not rows:
            raise NotFoundError(f"Run {run_id!r} does not exist. List runs with `%mlops runs`.")
        return rows[0]

    # ----------------------------------------------------------------- environments
    def get_or_create_environment(self, digest: str, python: str, platform: str,
                                  packages: dict[str, str]) -> int:
        """As CatalogStore.get_or_create_environment (packages stored as SQLAlchemy's JSON)."""
        with self._db.write() as conn:
            conn.execute("INSERT INTO environments (digest, python, platform, packages, "
                         "created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (digest) DO NOTHING",
                         (digest, python, platform, json.dumps(packages), time.time()))
            return conn.execute("SELECT id FROM environments WHERE digest = ?",
                                (digest,)).fetchone()[0]

    def set_run_environment(self, run_id: str, environment_id: int) -> None:
        with self._db.write() as conn:
            conn.execute("UPDATE runs SET environment_id = ? WHERE id = ?",
                         (environment_id, run_id))
