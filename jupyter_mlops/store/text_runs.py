"""Run reads the two driver-level stores answer alike: search, the runs' values, reaping.

:class:`~jupyter_mlops.store.lite.LiteRunStore` (a SQLite file on ``sqlite3``) and
:class:`~jupyter_mlops.store.pg_lite.PgLiteRunStore` (a PostgreSQL store on psycopg) answer a
fresh process's first ``search_runs`` without importing SQLAlchemy (issue 14). The statements
come from :mod:`~jupyter_mlops.store.lite_search` in the store's dialect
(:mod:`~jupyter_mlops.store.sql_dialects`); the records are the ones
``RunStore._with_values`` builds, read with the same three ``IN`` queries.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.store.records import RunRecord
from jupyter_mlops.store.sql_dialects import SQLITE
from jupyter_mlops.store.writers import run_is_dead

#: The most runs one search returns (lite re-exports it for runs.py).
MAX_RESULTS_LIMIT = 50_000


def check_page(max_results: int, offset: int) -> None:
    """``max_results`` and ``offset`` of a run search, checked where they enter the store."""
    if not (0 < max_results <= MAX_RESULTS_LIMIT) or offset < 0:
        raise InvalidInputError(
            f"max_results must be 1–{MAX_RESULTS_LIMIT} and offset ≥ 0.")


class TextRunReads:
    """The run reads of a driver-level store, mixed in before :class:`~jupyter_mlops.store.
    lite.LiteStore` (which supplies ``url``, ``_db`` and ``full``, the SQLAlchemy RunStore
    every other attribute falls through to). ``_dialect`` is the database's
    :class:`~jupyter_mlops.store.sql_dialects.Dialect`; ``_db`` has ``read(sql, args)`` and
    a ``write()`` transaction whose connection has ``execute(sql, args)``."""

    # Searches, reads and registry helpers are the SQLAlchemy store's, private ones too.
    _own_prefix = "__"
    _dialect = SQLITE
    _db: Any  # an annotation only: the store class's connection property answers

    def _full_class(self) -> type:
        from jupyter_mlops.store.runs import RunStore

        return RunStore

    def _search_read(self, sql: str, args: Sequence) -> list[tuple]:
        """Rows of a search statement (planned for its values on PostgreSQL)."""
        return self._db.read(sql, args)

    def _text_search(self, filter: str | None, experiment: str | None, order_by,
                     max_results: int, offset: int, lifecycle: str) -> list[RunRecord] | None:
        """RunStore.search_runs's answer from lite_search's statements; None when
        lite_search does not compile the filter (``Unsupported``): the caller asks the
        SQLAlchemy store."""
        from jupyter_mlops.store.lite_search import (
            Unsupported, build_metric_search, build_search,
        )

        try:  # the filter first, then the order: RunStore's errors for both invalid
            sql, args = build_search(filter, experiment, order_by, max_results, offset,
                                     lifecycle, self._dialect)
            metric = build_metric_search(filter, experiment, order_by, lifecycle,
                                         self._dialect)
        except Unsupported:
            return None
        if metric is not None:  # walk the metric's index (store.metric_order)
            return self._records(self._metric_page(metric, sql, args, max_results, offset))
        return self._records(self._search_read(sql, args))

    def _metric_page(self, metric, sql: str, args: list, max_results: int,
                     offset: int) -> list[tuple]:
        """One page of a search ordered by a metric first (:mod:`~jupyter_mlops.store.
        metric_order`); ``sql``/``args``: the one-statement plan, for when the walk gives up."""
        from jupyter_mlops.store.metric_order import page

        def first(statement: tuple[str, list]):
            rows = self._search_read(*statement)
            return rows[0][0] if rows else None

        return page(
            bound=(lambda n: first(metric.bound(n))) if self._dialect.bounds_walk
            else (lambda n: None),
            with_value=lambda limit, skip, bound: self._search_read(
                *metric.with_value(limit, skip, bound)),
            without_value=None if metric.empty_without else (
                lambda limit, skip: self._search_read(*metric.without_value(limit, skip))),
            count_with_value=lambda: first(metric.count()),
            whole=lambda: self._search_read(sql, args), max_results=max_results,
            offset=offset)

    def _records(self, rows: list[tuple]) -> list[RunRecord]:
        """Records for run rows (a search's, or in lite_search.RUN_COLUMNS' order), with
        params, latest metrics and tags from three IN queries per 500 runs, as
        RunStore._with_values."""
        rows = [self._dialect.run_row(r) for r in rows]
        values: dict[str, tuple[dict, dict, dict]] = {r[0]: ({}, {}, {}) for r in rows}
        ids = list(values)
        for part in (ids[i:i + 500] for i in range(0, len(ids), 500)):
            for slot, table in enumerate(("params", "latest_metrics", "tags")):
                args: list = []
                marks = self._dialect.marks(part, args)
                for rid, k, v in self._db.read(
                        f"SELECT run_id, key, value FROM {table} WHERE run_id IN ({marks})",
                        args):
                    # latest_metrics stores NaN as NULL (SQLite has no NaN).
                    values[rid][slot][k] = math.nan if slot == 1 and v is None else v
        return [RunRecord(id=r[0], experiment_id=r[1], experiment=r[2], name=r[3],
                          status=r[4], user=r[5], start_time=r[6], end_time=r[7],
                          parent_run_id=r[8], reproducible=None if r[9] is None else bool(r[9]),
                          not_reproducible_reason=r[10], params=values[r[0]][0],
                          metrics=values[r[0]][1], tags=values[r[0]][2]) for r in rows]

    def reap_dead_runs(self, dead_after_s: float) -> list[str]:
        """As RunStore.reap_dead_runs (same rule, runs.writers.run_is_dead)."""
        cutoff = time.time() - dead_after_s
        # SQLite names the index (Dialect.runs_by_status): sqlite_stat1 keeps only the
        # average number of rows per status value, so in a store of finished runs 'RUNNING'
        # looks as common as any status and SQLite scans every run (20 ms warm, 260-390 ms
        # from a cold page cache at 100,000 runs, paid by each process at open); through
        # the index it is about a millisecond.
        runs, m = self._dialect.runs_by_status, self._dialect.mark
        rows = self._db.read(f"SELECT r.id, r.writer, r.heartbeat_at FROM {runs} "
                             "WHERE r.status = 'RUNNING'")
        if not rows:
            return []
        attached: dict[str, list[str]] = {}
        for run_id, token in self._db.read(
                f"SELECT w.run_id, w.writer FROM run_writers w JOIN {runs} "
                "ON r.id = w.run_id WHERE r.status = 'RUNNING'"):
            attached.setdefault(run_id, []).append(token)
        candidates = [r for r in rows
                      if run_is_dead(r[2], r[1], attached.get(r[0], ()), cutoff)]
        changed = []
        if candidates:
            with self._db.write() as conn:
                for run_id, _, beat in candidates:
                    done = conn.execute(
                        f"UPDATE runs SET status = 'KILLED', end_time = {m(beat)} WHERE "
                        f"id = {m(run_id)} AND status = 'RUNNING' AND heartbeat_at = {m(beat)}",
                        (beat, run_id, beat))
                    if done.rowcount == 1:
                        changed.append(run_id)
        return changed


__all__ = ["MAX_RESULTS_LIMIT", "TextRunReads", "check_page"]
