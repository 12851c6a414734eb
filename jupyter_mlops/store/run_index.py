"""An in-memory, always-fresh search index over the runs of a SQLite store.

``search_runs`` on SQL costs ~3–15 ms at 10,000 runs however it is phrased: the filter touches
thousands of index entries and the answer needs ~800 rows of params, metrics and tags. A
process that searches repeatedly — the side panel's server, a notebook comparing runs, the
registry — instead keeps the runs in memory, dictionary-encoded per key
(:mod:`~jupyter_mlops.store.filter_mask`), and answers in well under a millisecond.

Fresh, never stale: before every answer the index reads ``MAX(seq)`` from ``run_changes`` (an
indexed lookup), which SQLite triggers bump on every write to a run, its params, tags or latest
metrics, from any process or code path (migration 0005). If it moved, the index re-reads just
the runs that changed since the last ``seq`` it saw, in one read transaction, so it always
reflects one committed state of the store. PostgreSQL stores keep searching in SQL.

Building happens once per process in a background thread, started after the process's
second search in SQL has answered (searches run in SQL until the index is ready), so a
one-shot CLI call never pays for it and the search that starts it is not slowed down. ``MLOPS_SEARCH_INDEX=0`` turns the index off; stores with more runs than
``MLOPS_SEARCH_INDEX_MAX_RUNS`` (default 500,000) are left to SQL to bound memory.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Sequence

import numpy as np

from jupyter_mlops.store.filter_mask import TextColumn, evaluate
from jupyter_mlops.store.filter_sql import Node
from jupyter_mlops.store.records import RunRecord, build_record

log = logging.getLogger(__name__)

DEFAULT_MAX_RUNS = 500_000
_ATTRIBUTE_FIELDS = {"run_id": 0, "name": 2, "status": 3, "user": 4}  # offsets into a run row

# Fixed statements: the only value that varies, the last seen seq, is a bound parameter.
_RUN_COLUMNS = ("id, experiment_id, name, status, user, start_time, end_time, parent_run_id, "
                "reproducible, not_reproducible_reason")
_SQL_SEQ = "SELECT COALESCE(MAX(seq), 0) FROM run_changes"
_SQL_OLDEST = "SELECT MIN(seq) FROM run_changes"
_SQL_COUNT = "SELECT COUNT(*) FROM runs"
_SQL_EXPERIMENTS = "SELECT id, name, lifecycle_stage FROM experiments"
_CHANGED = "(SELECT run_id FROM run_changes WHERE seq > ?)"
_SQL_CHANGED_IDS = "SELECT DISTINCT run_id FROM run_changes WHERE seq > ?"
_VALUE_TABLES = {"params": "params", "metrics": "latest_metrics", "tags": "tags"}
#: (runs, {values}) statements for a full load and for the runs changed since a seq.
_SQL_ALL = (f"SELECT {_RUN_COLUMNS} FROM runs",
            {name: f"SELECT run_id, key, value FROM {table}"
             for name, table in _VALUE_TABLES.items()})
_SQL_SINCE = (f"SELECT {_RUN_COLUMNS} FROM runs WHERE id IN {_CHANGED}",
              {name: f"SELECT run_id, key, value FROM {table} WHERE run_id IN {_CHANGED}"
               for name, table in _VALUE_TABLES.items()})


def index_enabled() -> bool:
    return os.environ.get("MLOPS_SEARCH_INDEX", "1").strip().lower() not in ("0", "false", "no",
                                                                             "off")


def _max_runs() -> int:
    try:
        return int(os.environ.get("MLOPS_SEARCH_INDEX_MAX_RUNS", DEFAULT_MAX_RUNS))
    except ValueError:
        return DEFAULT_MAX_RUNS


class RunIndex:
    """Runs of one SQLite store in memory: per-run rows and dicts plus lazily built columns.

    Positions are append-only (a deleted run's slot is marked dead), so columns are updated in
    place by position. All public methods are thread-safe.
    """

    def __init__(self, url: str):
        self.url = url
        self._lock = threading.RLock()
        self._ready = False
        self._disabled = False
        self._started = False
        self._seq: int | None = None
        self._conn = None
        self._conn_pid = 0
        self._experiments: dict[int, str] = {}
        self._deleted_experiments: list[int] = []
        self._reset()

    # ------------------------------------------------------------------ lifecycle
    @property
    def ready(self) -> bool:
        return self._ready and not self._disabled

    def start_building(self) -> None:
        """Build in a daemon thread (once); searches use SQL until it is ready."""
        with self._lock:
            if self._started or self._disabled:
                return
            self._started = True
        threading.Thread(target=self._build, name="mlops-run-index", daemon=True).start()

    def build(self) -> bool:
        """Build now, in this thread; True when the index is usable."""
        with self._lock:
            self._started = True
        self._build()
        return self.ready

    def _build(self) -> None:
        try:
            with self._lock:
                if self._ready or self._disabled:
                    return
                cur = self._cursor()
                (runs,) = cur.execute(_SQL_COUNT).fetchone()
                if runs > _max_runs():
                    log.info("run index off: %d runs > MLOPS_SEARCH_INDEX_MAX_RUNS", runs)
                    self._disabled = True
                    return
                self._refresh()
                self._ready = True
        except Exception as exc:  # the index is an accelerator: SQL keeps answering
            log.warning("run index disabled for %s: %s", self.url, exc)
            self._disabled = True

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                finally:
                    self._conn = None

    def _cursor(self):
        if self._conn is None or self._conn_pid != os.getpid():
            from jupyter_mlops.store.engine import get_engine

            # A pooled read connection of the store's own engine (WAL, busy timeout, ...),
            # held for the index's life; re-opened in a forked child.
            self._conn = get_engine(self.url, writer=False).raw_connection()
            self._conn_pid = os.getpid()
        return self._conn.driver_connection.cursor()

    # ------------------------------------------------------------------ queries
    def search(self, node: Node | None, experiment: str | None, max_results: int,
               offset: int, lifecycle: str = "active") -> list[RunRecord] | None:
        """Newest-first page of matching runs, or None if the index cannot answer (use SQL)."""
        with self._lock:
            hits = self._matches(node, experiment, lifecycle)
            if hits is None:
                return None
            order = self._newest_first()
            page = order[hits[order]][offset:offset + max_results]
            return [self._record(int(p)) for p in page]

    def count(self, node: Node | None, experiment: str | None,
              lifecycle: str = "active") -> int | None:
        with self._lock:
            hits = self._matches(node, experiment, lifecycle)
            return None if hits is None else int(np.count_nonzero(hits))

    def _matches(self, node: Node | None, experiment: str | None,
                 lifecycle: str = "active") -> np.ndarray | None:
        if not self.ready:
            return None
        try:
            self._refresh()
        except Exception as exc:
            log.warning("run index refresh failed, searching in SQL: %s", exc)
            self._disabled = True
            return None
        hits = evaluate(node, self) & self._alive
        if experiment is not None:
            ids = [i for i, name in self._experiments.items() if name == experiment]
            hits &= (self._experiment == ids[0]) if ids else False  # names are unique
        if lifecycle != "all":  # RunStore._filtered's rule, on the experiment column
            in_deleted = np.isin(self._experiment, self._deleted_experiments)
            hits &= in_deleted if lifecycle == "deleted" else ~in_deleted
        return hits

    # ------------------------------------------------------------------ columns for filter_mask
    def text_column(self, kind: str, key: str) -> TextColumn:
        column = self._text_columns.get((kind, key))
        if column is None:
            column = TextColumn(self.capacity)
            for pos in range(self._size):
                column.set(pos, self._text_value(kind, key, pos))
            self._text_columns[(kind, key)] = column
        return column

    def metric_column(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        column = self._metric_columns.get(key)
        if column is None:
            present = np.zeros(self.capacity, dtype=bool)
            values = np.full(self.capacity, np.nan)
            for pos, metrics in enumerate(self._metrics):
                if metrics is not None and key in metrics:
                    present[pos] = True
                    values[pos] = metrics[key]
            column = self._metric_columns[key] = (present, values)
        return column

    def time_column(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        if key == "start_time":
            return self._start, self._alive
        return self._end, ~np.isnan(self._end)

    def experiment_ids(self) -> np.ndarray:
        return self._experiment

    def experiment_names(self) -> dict[int, str]:
        return self._experiments

    def _text_value(self, kind: str, key: str, pos: int) -> str | None:
        if kind == "param":
            values = self._params[pos]
        elif kind == "tag":
            values = self._tags[pos]
        else:
            row = self._rows[pos]
            return None if row is None else row[_ATTRIBUTE_FIELDS[key]]
        return None if values is None else values.get(key)

    # ------------------------------------------------------------------ freshness
    def _refresh(self) -> None:
        cur = self._cursor()
        (seq,) = cur.execute(_SQL_SEQ).fetchone()
        if seq == self._seq:
            return
        # One read transaction: every row below comes from the same committed state.
        cur.execute("BEGIN")
        try:
            (seq,) = cur.execute(_SQL_SEQ).fetchone()
            (oldest,) = cur.execute(_SQL_OLDEST).fetchone()
            # Entries we never saw were pruned (we lagged too far behind): start over.
            full = self._seq is None or (oldest is not None and oldest > self._seq + 1)
            if full:
                changed, (runs_sql, values_sql), args = [], _SQL_ALL, ()
            else:
                args = (self._seq,)
                changed = [r[0] for r in cur.execute(_SQL_CHANGED_IDS, args)]
                runs_sql, values_sql = _SQL_SINCE
            runs = cur.execute(runs_sql, args).fetchall()
            values = {name: cur.execute(sql, args).fetchall() for name, sql in values_sql.items()}
            experiments = cur.execute(_SQL_EXPERIMENTS).fetchall()
        finally:
            cur.execute("COMMIT")
        if full:
            self._reset()
        self._experiments = {i: name for i, name, _ in experiments}
        self._deleted_experiments = [i for i, _, stage in experiments if stage == "deleted"]
        self._apply(changed, runs, values)
        self._seq = seq

    def _reset(self) -> None:
        self.capacity = self._size = 0
        self._pos, self._rows = {}, []
        self._params, self._metrics, self._tags = [], [], []
        self._alive = np.zeros(0, dtype=bool)
        self._start, self._end = np.zeros(0), np.zeros(0)
        self._experiment = np.zeros(0, dtype=np.int64)
        self._text_columns, self._metric_columns = {}, {}
        self._order = None

    def _apply(self, changed: Sequence[str], runs: list[tuple],
               values: dict[str, list[tuple]]) -> None:
        grouped: dict[str, tuple[dict, dict, dict]] = {r[0]: ({}, {}, {}) for r in runs}
        for slot, name in enumerate(("params", "metrics", "tags")):
            for run_id, key, value in values[name]:
                entry = grouped.get(run_id)
                if entry is not None:
                    entry[slot][key] = math.nan if value is None else value
        self._ensure_capacity(self._size + sum(1 for r in runs if r[0] not in self._pos))
        touched: list[int] = []
        for row in runs:
            pos = self._pos.get(row[0])
            if pos is None:
                pos = self._pos[row[0]] = self._size
                self._size += 1
                self._rows.append(None)
                self._params.append(None)
                self._metrics.append(None)
                self._tags.append(None)
                self._order = None
            elif self._start[pos] != row[5]:
                self._order = None
            params, metrics, tags = grouped[row[0]]
            self._rows[pos] = row
            self._params[pos], self._metrics[pos], self._tags[pos] = params, metrics, tags
            self._alive[pos] = True
            self._start[pos] = row[5]
            self._end[pos] = np.nan if row[6] is None else row[6]
            self._experiment[pos] = row[1]
            touched.append(pos)
        for run_id in set(changed) - grouped.keys():  # changed but gone: deleted
            pos = self._pos.pop(run_id, None)
            if pos is not None:
                self._alive[pos] = False
                self._rows[pos] = self._params[pos] = self._metrics[pos] = self._tags[pos] = None
                self._order = None
                touched.append(pos)
        self._update_columns(touched)

    def _update_columns(self, positions: list[int]) -> None:
        for (kind, key), column in self._text_columns.items():
            column.grow(self.capacity)
            for pos in positions:
                column.set(pos, self._text_value(kind, key, pos))
        for key, (present, values) in list(self._metric_columns.items()):
            if len(present) < self.capacity:
                present = np.concatenate([present, np.zeros(self.capacity - len(present), bool)])
                values = np.concatenate([values, np.full(self.capacity - len(values), np.nan)])
                self._metric_columns[key] = (present, values)
            for pos in positions:
                metrics = self._metrics[pos]
                has = metrics is not None and key in metrics
                present[pos] = has
                values[pos] = metrics[key] if has else np.nan

    def _ensure_capacity(self, needed: int) -> None:
        if needed <= self.capacity:
            return
        capacity = max(needed, self.capacity * 2, 1024)
        grow = capacity - self.capacity
        self._alive = np.concatenate([self._alive, np.zeros(grow, dtype=bool)])
        self._start = np.concatenate([self._start, np.zeros(grow)])
        self._end = np.concatenate([self._end, np.full(grow, np.nan)])
        self._experiment = np.concatenate([self._experiment, np.full(grow, -1, dtype=np.int64)])
        self.capacity = capacity

    # ------------------------------------------------------------------ results
    def _newest_first(self) -> np.ndarray:
        """Live positions by start_time descending, then run id: search_runs' default order."""
        if self._order is None:
            live = np.flatnonzero(self._alive)
            ids = np.array([self._rows[p][0] for p in live], dtype=str)
            self._order = live[np.lexsort((ids, -self._start[live]))] if len(live) else live
        return self._order

    def _record(self, pos: int) -> RunRecord:
        (run_id, experiment_id, name, status, user, start, end, parent, reproducible,
         reason) = self._rows[pos]
        # Fresh dicts per answer: a caller editing record.params must not edit the index.
        return build_record(RunRecord, {
            "id": run_id, "experiment_id": experiment_id,
            "experiment": self._experiments.get(experiment_id, ""), "name": name,
            "status": status, "user": user, "start_time": start, "end_time": end,
            "parent_run_id": parent,
            "reproducible": None if reproducible is None else bool(reproducible),
            "not_reproducible_reason": reason, "params": dict(self._params[pos]),
            "metrics": dict(self._metrics[pos]), "tags": dict(self._tags[pos]),
        })


#: Indexes kept per process, least recently used dropped first: a server that opens many
#: stores keeps memory and file handles bounded.
MAX_INDEXES = 4
_indexes: dict[str, RunIndex] = {}
_indexes_lock = threading.Lock()


def index_for(url: str) -> RunIndex | None:
    """The process-wide index of a SQLite store URL (None for other stores or when off)."""
    if not url.startswith("sqlite") or ":memory:" in url or not index_enabled():
        return None
    with _indexes_lock:
        index = _indexes.pop(url, None)
        if index is None:
            index = RunIndex(url)
            while len(_indexes) >= MAX_INDEXES:
                _indexes.pop(next(iter(_indexes))).close()
        _indexes[url] = index  # re-inserted: dicts keep insertion order, newest last
        return index


def drop_indexes() -> None:
    """Forget every index (after a store was replaced, and in tests)."""
    with _indexes_lock:
        for index in _indexes.values():
            index.close()
        _indexes.clear()
