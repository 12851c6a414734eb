"""Experiments, runs, params, metrics and tags: the tracking half of the metadata store (C7).

Hot paths (``log_batch``) go through SQLAlchemy Core with one ``executemany`` per table in one
transaction; the ORM is only used where a handful of rows are read or written. On PostgreSQL
each write of a small run — create, flush, end, heartbeat — is one statement in autocommit
(:mod:`~jupyter_mlops.store.pg_writes`): one round trip and one commit each.
"""

from __future__ import annotations

import functools
import math
import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import and_, case, delete, func, select, update

from jupyter_mlops.errors import ConflictError, InvalidInputError, NotFoundError
from jupyter_mlops.store.engine import (
    now, read_connection, single_statement, upsert, write_connection,
)
from jupyter_mlops.store.experiments import ExperimentAdmin, refuse_deleted
from jupyter_mlops.store.interfaces import AbstractRunStore
from jupyter_mlops.store.labels import experiment_to_open
# One definition for both write paths (lite is the stdlib one for SQLite files).
from jupyter_mlops.store.lite import (  # noqa: F401
    CHANGE_LOG_KEEP, DEFAULT_EXPERIMENT, MAX_RESULTS_LIMIT, check_run_view,
)
# Writer tokens live in a module without SQLAlchemy (the stdlib write path uses them too);
# re-exported here for existing callers.
from jupyter_mlops.store.writers import (  # noqa: F401
    _proc_start_ticks, run_is_dead, writer_is_dead, writer_token,
)
from jupyter_mlops.store.orm import (
    Experiment, LatestMetric, MetricChunk, Param, Run, RunChange, RunWriter, Tag,
)
from jupyter_mlops.store.records import (
    RUN_STATUSES,
    ExperimentRecord,
    MetricPoint,
    RunRecord,
)

MetricRow = tuple[str, float, int, float]  # key, value, step, timestamp


def _run_select():
    """Run columns plus the experiment's name, as flat Core rows (no ORM identity map)."""
    return select(Run.__table__, Experiment.name.label("experiment_name")).join(
        Experiment, Experiment.id == Run.experiment_id)


def _row_to_record(run, params=None, metrics=None, tags=None) -> RunRecord:
    return RunRecord(
        params=params if params is not None else {},
        metrics=metrics if metrics is not None else {},
        tags=tags if tags is not None else {},
        id=run.id, experiment_id=run.experiment_id, experiment=run.experiment_name, name=run.name,
        status=run.status, user=run.user, start_time=run.start_time, end_time=run.end_time,
        parent_run_id=run.parent_run_id, reproducible=run.reproducible,
        not_reproducible_reason=run.not_reproducible_reason,
    )


@functools.lru_cache(maxsize=256)
def _parsed_filter(text: str | None):
    """Parse once per filter text: the panel and widgets repeat the same filters."""
    from jupyter_mlops.store.filters import parse_filter

    return parse_filter(text) if text else None


@functools.lru_cache(maxsize=256)
def _compiled_filter(text: str):
    from jupyter_mlops.store.filters import compile_filter

    node = _parsed_filter(text)
    return None if node is None else compile_filter(node)


#: CHANGE_LOG_KEEP (from lite): entries of the search index's change log kept (see
#: orm.RunChange); an index further behind than this rebuilds from scratch.


def _prune_change_log(conn) -> None:
    """Drop change-log entries older than the newest CHANGE_LOG_KEEP (cheap when none are)."""
    from jupyter_mlops.store import lite  # read at call time: the one setting of both paths

    newest = select(func.max(RunChange.seq)).scalar_subquery()
    conn.execute(delete(RunChange).where(RunChange.seq < newest - lite.CHANGE_LOG_KEEP))


class RunStore(ExperimentAdmin, AbstractRunStore):
    """Tracking reads and writes against one store URL."""

    def __init__(self, url: str):
        self.url = url
        # By name; cleared by a rename or delete here (another process's rename or delete is
        # seen by its next new experiment name: a run may still land in it meanwhile).
        self._experiments: dict[str, ExperimentRecord] = {}
        self._sql_searches = 0

    # ----------------------------------------------------------------- experiments
    def get_or_create_experiment(self, name: str | None) -> ExperimentRecord:
        name = experiment_to_open(name, DEFAULT_EXPERIMENT)
        found = self._experiments.get(name) or self._experiment_by_name(name)
        if found:
            self._experiments[name] = refuse_deleted(found)
            return found
        with write_connection(self.url) as conn:
            stmt = upsert(conn, Experiment.__table__).values(name=name, created_at=now())
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
        found = self._experiment_by_name(name)
        assert found is not None
        self._experiments[name] = found  # the next run of this experiment reads nothing
        return found

    def _experiment_by_name(self, name: str) -> ExperimentRecord | None:
        with read_connection(self.url) as conn:
            row = conn.execute(select(Experiment.__table__).where(Experiment.name == name)).first()
        return ExperimentRecord(row.id, row.name, row.description, row.created_at,
                                lifecycle_stage=row.lifecycle_stage) if row else None

    # ----------------------------------------------------------------- runs
    def create_run(
        self, *, experiment: str | None, name: str | None, user: str,
        parent_run_id: str | None = None, tags: dict[str, str] | None = None,
        environment_id: int | None = None, run_id: str | None = None,
        start_time: float | None = None,
    ) -> RunRecord:
        exp = self.get_or_create_experiment(experiment)
        run_id = run_id or uuid.uuid4().hex
        t = now()
        start = t if start_time is None else start_time
        name = name or f"run-{run_id[:8]}"
        tags = {str(k): str(v) for k, v in (tags or {}).items()}
        if parent_run_id:
            with read_connection(self.url) as conn:
                if conn.execute(select(Run.id).where(Run.id == parent_run_id)).first() is None:
                    raise NotFoundError(f"Parent run {parent_run_id} does not exist.")
        with single_statement(self.url) as conn:
            if conn.dialect.name == "postgresql":
                # The run and its tags in one statement (pg_writes: one round trip).
                from jupyter_mlops.store.pg_writes import CREATE_RUN

                conn.exec_driver_sql(CREATE_RUN, {
                    "id": run_id, "experiment_id": exp.id, "name": name, "user": user, "t": t,
                    "start": start,
                    "parent_run_id": parent_run_id, "writer": writer_token(),
                    "environment_id": environment_id, "tk": list(tags), "tv": list(tags.values())})
            else:
                conn.execute(Run.__table__.insert().values(
                    id=run_id, experiment_id=exp.id, name=name, status="RUNNING", user=user,
                    start_time=start, heartbeat_at=t, parent_run_id=parent_run_id,
                    writer=writer_token(), environment_id=environment_id))
                if tags:
                    conn.execute(Tag.__table__.insert(), [
                        {"run_id": run_id, "key": k, "value": v} for k, v in tags.items()])
        # Built here rather than re-read: run creation is on the hot path of every small run.
        return RunRecord(id=run_id, experiment_id=exp.id, experiment=exp.name, name=name,
                         status="RUNNING", user=user, start_time=start, end_time=None,
                         parent_run_id=parent_run_id, reproducible=None,
                         not_reproducible_reason=None, tags=tags)

    def attach(self, run_id: str) -> RunRecord:
        """Record this process as an attached writer of an existing run (a pipeline step's).

        The run stays owned by the process that started it: attaching never changes
        ``runs.writer``. This process's heartbeats keep the run alive while it lives, and its
        exit alone never makes the run KILLED (see :meth:`reap_dead_runs`).
        """
        token, t = writer_token(), now()
        with write_connection(self.url) as conn:
            owner = conn.execute(select(Run.writer).where(Run.id == run_id)).first()
            if owner is None:
                raise NotFoundError(f"Run {run_id} does not exist.")
            if owner.writer != token:
                stmt = upsert(conn, RunWriter.__table__).values(
                    run_id=run_id, writer=token, attached_at=t)
                conn.execute(stmt.on_conflict_do_nothing(index_elements=["run_id", "writer"]))
            conn.execute(update(Run).where(Run.id == run_id, Run.status == "RUNNING")
                         .values(heartbeat_at=t))
        return self.get_run(run_id)

    def end_run(self, run_id: str, status: str = "FINISHED",
                end_time: float | None = None) -> None:
        status = status.upper()
        if status not in RUN_STATUSES or status == "RUNNING":
            raise InvalidInputError(
                f"Unknown end status {status!r}: use FINISHED, FAILED or KILLED.")
        t = now()
        # PostgreSQL has no change log (SQLite's triggers write it): one UPDATE, autocommit.
        with single_statement(self.url) as conn:
            result = conn.execute(update(Run).where(Run.id == run_id).values(
                status=status, end_time=t if end_time is None else end_time, heartbeat_at=t))
            if result.rowcount == 0:
                raise NotFoundError(f"Run {run_id} does not exist.")
            if conn.dialect.name != "postgresql":
                _prune_change_log(conn)

    def rename_run(self, run_id: str, name: str) -> RunRecord:
        if not name.strip() or len(name) > 256:
            raise InvalidInputError("Run names must be 1–256 characters.")
        with write_connection(self.url) as conn:
            if conn.execute(update(Run).where(Run.id == run_id).values(name=name)).rowcount == 0:
                raise NotFoundError(f"Run {run_id} does not exist.")
        return self.get_run(run_id)

    def mark_not_reproducible(self, run_id: str, reason: str) -> None:
        with write_connection(self.url) as conn:
            conn.execute(update(Run).where(Run.id == run_id).values(
                reproducible=False, not_reproducible_reason=reason[:4000]))

    def mark_reproducible(self, run_id: str) -> None:
        """Record that the run's cells ran top to bottom (unless already marked otherwise)."""
        with write_connection(self.url) as conn:
            conn.execute(update(Run).where(Run.id == run_id, Run.reproducible.is_(None))
                         .values(reproducible=True))

    def heartbeat(self, run_ids: Sequence[str]) -> None:
        if run_ids:
            with single_statement(self.url) as conn:
                conn.execute(update(Run).where(Run.id.in_(run_ids), Run.status == "RUNNING")
                             .values(heartbeat_at=now()))

    def reap_dead_runs(self, dead_after_s: float) -> list[str]:
        """Mark dead RUNNING runs KILLED; return the ids this call changed, and only those.

        A run is dead when nobody (owner or attached writer) sent a heartbeat for
        ``dead_after_s`` seconds — the only sign available for writers on other hosts — or
        when its owner is provably gone on this host *and* so is every process that attached
        to it. A run is changed only if it is still RUNNING with the heartbeat seen here, so
        a heartbeat arriving meanwhile saves it, and of two concurrent reapers only one
        reports it.
        """
        cutoff = now() - dead_after_s
        with read_connection(self.url) as conn:
            rows = conn.execute(select(Run.id, Run.writer, Run.heartbeat_at)
                                .where(Run.status == "RUNNING")).all()
            attached: dict[str, list[str]] = {}
            if rows:
                for run_id, token in conn.execute(
                        select(RunWriter.run_id, RunWriter.writer).join(
                            Run, Run.id == RunWriter.run_id).where(Run.status == "RUNNING")):
                    attached.setdefault(run_id, []).append(token)

        changed = []
        candidates = [r for r in rows
                      if run_is_dead(r.heartbeat_at, r.writer, attached.get(r.id, ()), cutoff)]
        if candidates:
            with write_connection(self.url) as conn:
                for r in candidates:
                    done = conn.execute(update(Run).where(
                        Run.id == r.id, Run.status == "RUNNING",
                        Run.heartbeat_at == r.heartbeat_at,
                    ).values(status="KILLED", end_time=r.heartbeat_at))
                    if done.rowcount == 1:
                        changed.append(r.id)
        return changed

    def writers_of(self, run_id: str) -> tuple[str | None, list[str]]:
        """The run's owner token and the tokens of the processes attached to it."""
        with read_connection(self.url) as conn:
            owner = conn.execute(select(Run.writer).where(Run.id == run_id)).first()
            if owner is None:
                raise NotFoundError(f"Run {run_id} does not exist.")
            tokens = conn.execute(select(RunWriter.writer).where(RunWriter.run_id == run_id)
                                  .order_by(RunWriter.attached_at)).scalars().all()
        return owner.writer, list(tokens)

    def delete_run(self, run_id: str) -> None:
        with write_connection(self.url) as conn:
            if conn.execute(delete(Run).where(Run.id == run_id)).rowcount == 0:
                raise NotFoundError(f"Run {run_id} does not exist.")

    def delete_tag(self, run_id: str, key: str) -> None:
        with write_connection(self.url) as conn:
            gone = conn.execute(delete(Tag).where(Tag.run_id == run_id, Tag.key == key))
            if gone.rowcount == 0:
                if conn.execute(select(Run.id).where(Run.id == run_id)).first() is None:
                    raise NotFoundError(f"Run {run_id} does not exist.")
                raise NotFoundError(f"Run {run_id} has no tag {key!r}.")

    # ----------------------------------------------------------------- batched logging
    def log_batch(
        self, run_id: str, *, params: Iterable[tuple[str, str]] = (),
        metrics: Sequence[MetricRow] = (), tags: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Write params, metrics and tags of one run in one transaction."""
        params, tags = dict(params), dict(tags)
        if not (params or tags or metrics):
            return
        with single_statement(self.url) as conn:
            if conn.dialect.name == "postgresql":
                self._log_batch_postgres(conn, run_id, params, tags, metrics)
                return
            if params:
                stmt = upsert(conn, Param.__table__)
                conn.execute(stmt.on_conflict_do_update(
                    index_elements=["run_id", "key"], set_={"value": stmt.excluded.value}),
                    [{"run_id": run_id, "key": k, "value": v} for k, v in params.items()])
            if tags:
                stmt = upsert(conn, Tag.__table__)
                conn.execute(stmt.on_conflict_do_update(
                    index_elements=["run_id", "key"], set_={"value": stmt.excluded.value}),
                    [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()])
            if metrics:
                self._insert_metrics(conn, run_id, metrics)

    @staticmethod
    def _log_batch_postgres(conn, run_id: str, params: dict, tags: dict,
                            metrics: Sequence[MetricRow]) -> None:
        """One statement, one round trip (pg_writes); rows counted for planner_stats."""
        from jupyter_mlops.store.pg_writes import LOG_BATCH, log_batch_params

        # Through _insert_metrics, which on PostgreSQL only packs: one seam for both paths.
        chunks, latest = RunStore._insert_metrics(conn, run_id, metrics) if metrics else ([], [])
        conn.exec_driver_sql(LOG_BATCH, log_batch_params(run_id, params, tags, chunks, latest))
        conn.info["mlops_rows"] = (conn.info.get("mlops_rows", 0) + len(params) + len(tags)
                                   + len(chunks) + len(latest))

    @staticmethod
    def _insert_metrics(conn, run_id: str, metrics: Sequence[MetricRow]):
        """Write the batch's metric chunks and newest points; on PostgreSQL only pack them
        and return ``(chunks, latest)`` for log_batch's single statement."""
        # One encoding of chunks and of the batch's newest points for both write paths.
        from jupyter_mlops.store.lite import pack_chunks, pack_latest

        if conn.dialect.name == "postgresql":
            return pack_chunks(metrics), pack_latest(metrics)
        conn.execute(MetricChunk.__table__.insert(), [
            {"run_id": run_id, "key": k, "n": n, "first_step": first, "last_step": last,
             "data": data} for k, n, first, last, data in pack_chunks(metrics)])
        # One upsert that keeps whichever point is newer (lite._UPSERT_LATEST: same rule).
        stmt = upsert(conn, LatestMetric.__table__)
        ex, tbl = stmt.excluded, LatestMetric.__table__.c
        newer = (ex.step > tbl.step) | and_(ex.step == tbl.step, ex.timestamp >= tbl.timestamp)
        conn.execute(stmt.on_conflict_do_update(index_elements=["run_id", "key"], set_={
            "value": case((newer, ex.value), else_=tbl.value),
            "step": case((newer, ex.step), else_=tbl.step),
            "timestamp": case((newer, ex.timestamp), else_=tbl.timestamp),
            "count": tbl.count + ex.count,
        }), [{"run_id": run_id, "key": k, "value": v, "step": s, "timestamp": t, "count": c}
             for k, v, s, t, c in pack_latest(metrics)])

    # ----------------------------------------------------------------- reads
    def get_run(self, run_id: str) -> RunRecord:
        if not isinstance(run_id, str) or not run_id:
            raise InvalidInputError("A run id is a 32-character hex string.")
        with read_connection(self.url) as conn:
            row = conn.execute(_run_select().where(Run.id == run_id)).first()
            if row is None:
                raise NotFoundError(
                    f"Run {run_id!r} does not exist. List runs with `%mlops runs`.")
            return self._with_values(conn, [row])[0]

    def child_run_ids(self, run_id: str) -> list[str]:
        """The ids of the runs whose parent is ``run_id``, oldest first."""
        with read_connection(self.url) as conn:
            return list(conn.execute(select(Run.id).where(Run.parent_run_id == run_id)
                                     .order_by(Run.start_time)).scalars())

    def search_runs(
        self, filter: str | None = None, experiment: str | None = None,
        order_by: Sequence[str] | str | None = None, max_results: int = 100, offset: int = 0,
        *, lifecycle: str = "active",
    ) -> list[RunRecord]:
        from jupyter_mlops.store.filter_sql import custom_plans
        from jupyter_mlops.store.filters import parse_order_by

        check_run_view(lifecycle)
        if not (0 < max_results <= MAX_RESULTS_LIMIT) or offset < 0:
            raise InvalidInputError(
                f"max_results must be 1–{MAX_RESULTS_LIMIT} and offset ≥ 0.")
        index = self._search_index() if not order_by else None
        if index is not None:
            found = index.search(_parsed_filter(filter), experiment, max_results, offset,
                                 lifecycle)
            if found is not None:
                return found
        stmt = self._filtered(_run_select(), filter, experiment, lifecycle)
        stmt = stmt.order_by(*parse_order_by(order_by)).limit(max_results).offset(offset)
        with read_connection(self.url) as conn:
            with custom_plans(conn):  # a generic plan ignores the filter's values
                rows = self._metric_page(
                    conn, stmt, lambda s, f: self._filtered(s, f, experiment, lifecycle),
                    filter, order_by, max_results, offset)
                if rows is None:
                    rows = conn.execute(stmt).all()
            found = self._with_values(conn, rows)
        if not order_by:  # the in-memory index answers no order: no reason to build it
            self._searched_in_sql()
        return found

    @staticmethod
    def _metric_page(conn, whole, filtered, filter: str | None, order_by, max_results: int,
                     offset: int):
        """The rows of a search ordered by a metric first, read by walking the metric's
        index (:mod:`~jupyter_mlops.store.metric_order`); None for any other order.
        ``whole``: the one-statement plan, for when the walk gives up; ``filtered(stmt,
        filter text or None)``: ``stmt`` with the search's filter, experiment and view."""
        from jupyter_mlops.store.filter_sql import compile_node, metric_range
        from jupyter_mlops.store.filters import parse_order_by, parse_order_terms
        from jupyter_mlops.store.metric_order import leading_metric, page, split_filter

        terms = parse_order_terms(order_by)
        lead = leading_metric(terms)
        if lead is None:
            return None
        key, descending = lead
        pushed, rest = split_filter(_parsed_filter(filter), key)
        lm, in_range, walk = metric_range(key, descending, pushed)
        later = parse_order_by(order_by)[1:]  # the later terms, then the tie-breakers
        remaining = [] if rest is None else [compile_node(rest)]

        def walked(stmt, bound):
            stmt = filtered(stmt.join(lm, lm.c.run_id == Run.id), None).where(
                *in_range, *remaining)
            if bound is not None:
                stmt = stmt.where(lm.c.value >= bound if descending else lm.c.value <= bound)
            return stmt

        def bound(n: int):
            if conn.dialect.name == "postgresql":
                # PostgreSQL weighs the walk against a hash join itself (with statistics);
                # a bound made it estimate fewer rows than the page and hash-join the whole
                # experiment (100 k runs: 255 ms instead of ~2 ms for an unbounded walk).
                return None
            return conn.execute(select(lm.c.value).where(*in_range).order_by(walk)
                                .limit(1).offset(n - 1)).scalar()

        def with_value(limit: int, skip: int, bound):
            return conn.execute(walked(_run_select(), bound).order_by(walk, *later)
                                .limit(limit).offset(skip)).all()

        def without_value(limit: int, skip: int):
            has = select(lm.c.run_id).where(lm.c.run_id == Run.id, lm.c.key == key,
                                            lm.c.value.is_not(None)).exists()
            stmt = filtered(_run_select(), filter).where(~has)
            return conn.execute(stmt.order_by(*later).limit(limit).offset(skip)).all()

        return page(
            bound=bound, with_value=with_value,
            without_value=None if pushed else without_value,
            count_with_value=lambda: conn.execute(
                walked(select(func.count()).select_from(Run), None)).scalar_one(),
            whole=lambda: conn.execute(whole).all(), max_results=max_results, offset=offset)

    def _search_index(self):
        """The in-memory index of this store when it is ready to answer, else None."""
        import sys

        # Only _searched_in_sql builds an index, and it imports run_index first: before that
        # no index exists here, and a first search must not pay for numpy (~140 ms CPU).
        if "jupyter_mlops.store.run_index" not in sys.modules:
            return None
        from jupyter_mlops.store.run_index import index_for

        index = index_for(self.url)
        return index if index is not None and index.ready else None

    def _searched_in_sql(self) -> None:
        """Start building the index once this process has searched twice.

        A process that searches twice will likely search again (a server, a notebook); a
        one-shot CLI call never pays for the build. The build starts after the answer is
        ready, so its background thread does not slow the search that triggered it.
        """
        self._sql_searches += 1
        # Only SQLite stores have an index (run_index.index_for): elsewhere importing
        # run_index cost a PostgreSQL store's second search numpy's import for nothing.
        if self._sql_searches >= 2 and self.url.startswith("sqlite"):
            # Imported here, not above: the first search must not pay for numpy.
            from jupyter_mlops.store.run_index import index_for

            index = index_for(self.url)
            if index is not None:
                index.start_building()

    def count_runs(self, filter: str | None = None, experiment: str | None = None, *,
                   lifecycle: str = "active") -> int:
        check_run_view(lifecycle)
        index = self._search_index()
        if index is not None:
            counted = index.count(_parsed_filter(filter), experiment, lifecycle)
            if counted is not None:
                return counted
        stmt = self._filtered(select(func.count(Run.id)).select_from(Run), filter, experiment,
                              lifecycle)
        from jupyter_mlops.store.filter_sql import custom_plans

        with read_connection(self.url) as conn, custom_plans(conn):
            counted = int(conn.execute(stmt).scalar_one())
        self._searched_in_sql()
        return counted

    @staticmethod
    def _filtered(stmt, filter: str | None, experiment: str | None, lifecycle: str = "active"):
        if filter:
            condition = _compiled_filter(filter)
            if condition is not None:
                stmt = stmt.where(condition)
        if experiment:
            stmt = stmt.where(Run.experiment_id.in_(
                select(Experiment.id).where(Experiment.name == experiment)))
        # The one place searches and counts hide runs of deleted experiments (MLflow's
        # ACTIVE_ONLY view); a run stays readable by its id (get_run). IN, not NOT IN: as a
        # semi-join PostgreSQL estimates it from the experiments' statistics (NOT IN's
        # hashed subplan gets a fixed guess that turned newest-first walks into bitmap scans).
        if lifecycle != "all":
            stmt = stmt.where(Run.experiment_id.in_(select(Experiment.id).where(
                Experiment.lifecycle_stage == "deleted" if lifecycle == "deleted"
                else Experiment.lifecycle_stage != "deleted")))
        return stmt

    @staticmethod
    def _with_values(conn, rows) -> list[RunRecord]:
        """Records for run rows, with params, latest metrics and tags from three IN queries."""
        if not rows:
            return []
        ids = [r.id for r in rows]
        values: dict[str, tuple[dict, dict, dict]] = {i: ({}, {}, {}) for i in ids}
        for part in (ids[i:i + 500] for i in range(0, len(ids), 500)):
            for rid, k, v in conn.execute(select(Param.run_id, Param.key, Param.value)
                                          .where(Param.run_id.in_(part))):
                values[rid][0][k] = v
            for rid, k, v in conn.execute(select(LatestMetric.run_id, LatestMetric.key,
                                                 LatestMetric.value)
                                          .where(LatestMetric.run_id.in_(part))):
                values[rid][1][k] = math.nan if v is None else v
            for rid, k, v in conn.execute(select(Tag.run_id, Tag.key, Tag.value)
                                          .where(Tag.run_id.in_(part))):
                values[rid][2][k] = v
        return [_row_to_record(r, *values[r.id]) for r in rows]

    def latest_points(self, run_ids: Sequence[str]) -> dict[str, dict[str, MetricPoint]]:
        """``{run id: {key: latest point}}``: each metric's newest value with its step and
        time (what MLflow shows as a run's metric)."""
        out: dict[str, dict[str, MetricPoint]] = {}
        ids = list(dict.fromkeys(run_ids))
        with read_connection(self.url) as conn:
            for start in range(0, len(ids), 500):
                for r in conn.execute(select(
                        LatestMetric.run_id, LatestMetric.key, LatestMetric.value,
                        LatestMetric.step, LatestMetric.timestamp).where(
                        LatestMetric.run_id.in_(ids[start:start + 500]))):
                    value = math.nan if r.value is None else r.value
                    out.setdefault(r.run_id, {})[r.key] = MetricPoint(r.step, value, r.timestamp)
        return out

    def metric_keys(self, run_id: str) -> list[str]:
        with read_connection(self.url) as conn:
            return list(conn.execute(select(LatestMetric.key).where(LatestMetric.run_id == run_id)
                                     .order_by(LatestMetric.key)).scalars())

    def metric_history(self, run_id: str, key: str, max_points: int | None = None
                       ) -> list[MetricPoint]:
        """Every point of one series in step order; above ``max_points``, at most that many.

        Downsampling (M4) keeps each bucket's first, last, minimum and maximum point, so spikes
        survive (a plain stride would drop them) and every returned point was really logged.
        """
        if max_points is not None and max_points < 2:
            raise InvalidInputError("max_points must be at least 2.")
        from jupyter_mlops.store.metric_chunks import m4_indices, unpack

        with read_connection(self.url) as conn:
            blobs = conn.execute(select(MetricChunk.n, MetricChunk.data).where(
                MetricChunk.run_id == run_id, MetricChunk.key == key).order_by(MetricChunk.id)
            ).all()
        if not blobs:
            if not self.metric_keys(run_id):
                self.get_run(run_id)  # raises NotFoundError for an unknown run
            raise NotFoundError(f"Run {run_id} has no metric {key!r}.")
        steps, values, stamps = unpack(blobs)
        if max_points is not None and steps.size > max_points:
            keep = m4_indices(steps, values, max_points)
            steps, values, stamps = steps[keep], values[keep], stamps[keep]
        return [MetricPoint(int(s), float(v), float(t))
                for s, v, t in zip(steps.tolist(), values.tolist(), stamps.tolist())]

    def run_ids_with_status(self, status: str) -> list[str]:
        with read_connection(self.url) as conn:
            return list(conn.execute(select(Run.id).where(Run.status == status)).scalars())

    def require_running(self, run_id: str) -> None:
        run = self.get_run(run_id)
        if run.status != "RUNNING":
            raise ConflictError(
                f"Run {run_id} is {run.status}; start a new run to log more.")
