"""Experiments, runs, params, metrics and tags: the tracking half of the metadata store (C7).

Hot paths (``log_batch``) go through SQLAlchemy Core with one ``executemany`` per table in one
transaction; the ORM is only used where a handful of rows are read or written.
"""

from __future__ import annotations

import math
import os
import socket
import uuid
from collections.abc import Iterable, Sequence

from sqlalchemy import and_, case, delete, func, select, update

from jupyter_mlops.errors import ConflictError, InvalidInputError, NotFoundError
from jupyter_mlops.store.engine import now, read_connection, upsert, write_connection
from jupyter_mlops.store.orm import Experiment, LatestMetric, Metric, Param, Run, Tag
from jupyter_mlops.store.records import (
    RUN_STATUSES,
    ExperimentRecord,
    MetricPoint,
    RunRecord,
)

DEFAULT_EXPERIMENT = "Default"
MAX_RESULTS_LIMIT = 50_000
MetricRow = tuple[str, float, int, float]  # key, value, step, timestamp


def writer_token() -> str:
    """Identify this process across PID reuse: host, pid and the kernel's start tick."""
    return f"{socket.gethostname()}:{os.getpid()}:{_proc_start_ticks(os.getpid())}"


def _proc_start_ticks(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            # Field 22; the command name (field 2) may contain spaces, so split after ")".
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return "?"


def writer_is_dead(token: str | None) -> bool:
    """True only when we can prove the writer process on *this* host is gone."""
    if not token:
        return False
    host, _, rest = token.partition(":")
    pid_s, _, ticks = rest.partition(":")
    if host != socket.gethostname() or not pid_s.isdigit():
        return False
    pid = int(pid_s)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return ticks not in ("", "?") and _proc_start_ticks(pid) not in (ticks, "?")


def _run_select():
    """Run columns plus the experiment's name, as flat Core rows (no ORM identity map)."""
    return select(Run.__table__, Experiment.name.label("experiment_name")).join(
        Experiment, Experiment.id == Run.experiment_id)


def _row_to_record(run) -> RunRecord:
    return RunRecord(
        id=run.id, experiment_id=run.experiment_id, experiment=run.experiment_name, name=run.name,
        status=run.status, user=run.user, start_time=run.start_time, end_time=run.end_time,
        parent_run_id=run.parent_run_id, reproducible=run.reproducible,
        not_reproducible_reason=run.not_reproducible_reason,
    )


def _float_or_nan(value: float | None) -> float:
    return math.nan if value is None else value


class RunStore:
    """Tracking reads and writes against one store URL."""

    def __init__(self, url: str):
        self.url = url
        self._experiments: dict[str, ExperimentRecord] = {}  # names are never renamed

    # ----------------------------------------------------------------- experiments
    def get_or_create_experiment(self, name: str | None) -> ExperimentRecord:
        name = (name or DEFAULT_EXPERIMENT).strip()
        if not name or len(name) > 256:
            raise InvalidInputError("Experiment names must be 1–256 characters.")
        found = self._experiments.get(name) or self._experiment_by_name(name)
        if found:
            self._experiments[name] = found
            return found
        with write_connection(self.url) as conn:
            stmt = upsert(conn, Experiment.__table__).values(name=name, created_at=now())
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
        found = self._experiment_by_name(name)
        assert found is not None
        return found

    def _experiment_by_name(self, name: str) -> ExperimentRecord | None:
        with read_connection(self.url) as conn:
            row = conn.execute(select(Experiment).where(Experiment.name == name)).first()
        return ExperimentRecord(row.id, row.name, row.description, row.created_at) if row else None

    def list_experiments(self) -> list[ExperimentRecord]:
        with read_connection(self.url) as conn:
            rows = conn.execute(select(Experiment).order_by(Experiment.name)).all()
        return [ExperimentRecord(r.id, r.name, r.description, r.created_at) for r in rows]

    # ----------------------------------------------------------------- runs
    def create_run(
        self, *, experiment: str | None, name: str | None, user: str,
        parent_run_id: str | None = None, tags: dict[str, str] | None = None,
        environment_id: int | None = None, run_id: str | None = None,
    ) -> RunRecord:
        exp = self.get_or_create_experiment(experiment)
        run_id = run_id or uuid.uuid4().hex
        t = now()
        name = name or f"run-{run_id[:8]}"
        tags = {str(k): str(v) for k, v in (tags or {}).items()}
        with write_connection(self.url) as conn:
            if parent_run_id and conn.execute(
                    select(Run.id).where(Run.id == parent_run_id)).first() is None:
                raise NotFoundError(f"Parent run {parent_run_id} does not exist.")
            conn.execute(Run.__table__.insert().values(
                id=run_id, experiment_id=exp.id, name=name, status="RUNNING", user=user,
                start_time=t, heartbeat_at=t, parent_run_id=parent_run_id, writer=writer_token(),
                environment_id=environment_id))
            if tags:
                conn.execute(Tag.__table__.insert(),
                             [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()])
        # Built here rather than re-read: run creation is on the hot path of every small run.
        return RunRecord(id=run_id, experiment_id=exp.id, experiment=exp.name, name=name,
                         status="RUNNING", user=user, start_time=t, end_time=None,
                         parent_run_id=parent_run_id, reproducible=None,
                         not_reproducible_reason=None, tags=tags)

    def attach(self, run_id: str) -> RunRecord:
        """Take over writing an existing RUNNING run (e.g. a pipeline step's run)."""
        with write_connection(self.url) as conn:
            conn.execute(update(Run).where(Run.id == run_id).values(
                writer=writer_token(), heartbeat_at=now()))
        return self.get_run(run_id)

    def end_run(self, run_id: str, status: str = "FINISHED") -> None:
        status = status.upper()
        if status not in RUN_STATUSES or status == "RUNNING":
            raise InvalidInputError(
                f"Unknown end status {status!r}: use FINISHED, FAILED or KILLED.")
        t = now()
        with write_connection(self.url) as conn:
            result = conn.execute(update(Run).where(Run.id == run_id).values(
                status=status, end_time=t, heartbeat_at=t))
            if result.rowcount == 0:
                raise NotFoundError(f"Run {run_id} does not exist.")

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
            with write_connection(self.url) as conn:
                conn.execute(update(Run).where(Run.id.in_(run_ids), Run.status == "RUNNING")
                             .values(heartbeat_at=now()))

    def reap_dead_runs(self, dead_after_s: float) -> list[str]:
        """Mark RUNNING runs whose writer is gone (or silent too long) KILLED; return their ids."""
        cutoff = now() - dead_after_s
        with read_connection(self.url) as conn:
            rows = conn.execute(select(Run.id, Run.writer, Run.heartbeat_at)
                                .where(Run.status == "RUNNING")).all()
        dead = [r for r in rows if r.heartbeat_at < cutoff or writer_is_dead(r.writer)]
        if dead:
            with write_connection(self.url) as conn:
                for r in dead:
                    conn.execute(update(Run).where(Run.id == r.id, Run.status == "RUNNING")
                                 .values(status="KILLED", end_time=r.heartbeat_at))
        return [r.id for r in dead]

    def delete_run(self, run_id: str) -> None:
        with write_connection(self.url) as conn:
            if conn.execute(delete(Run).where(Run.id == run_id)).rowcount == 0:
                raise NotFoundError(f"Run {run_id} does not exist.")

    # ----------------------------------------------------------------- batched logging
    def log_batch(
        self, run_id: str, *, params: Iterable[tuple[str, str]] = (),
        metrics: Sequence[MetricRow] = (), tags: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Write params, metrics and tags of one run in one transaction."""
        params, tags = dict(params), dict(tags)
        with write_connection(self.url) as conn:
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
    def _insert_metrics(conn, run_id: str, metrics: Sequence[MetricRow]) -> None:
        conn.execute(Metric.__table__.insert(), [
            {"run_id": run_id, "key": k, "value": None if v != v else v, "step": s, "timestamp": t}
            for k, v, s, t in metrics])
        # Newest point per key in this batch, then one upsert that keeps whichever is newer.
        latest: dict[str, list] = {}
        for k, v, s, t in metrics:
            cur = latest.get(k)
            if cur is None or (s, t) >= (cur[2], cur[3]):
                latest[k] = [k, v, s, t, (cur[4] + 1) if cur else 1]
            else:
                cur[4] += 1
        stmt = upsert(conn, LatestMetric.__table__)
        ex, tbl = stmt.excluded, LatestMetric.__table__.c
        newer = (ex.step > tbl.step) | and_(ex.step == tbl.step, ex.timestamp >= tbl.timestamp)
        conn.execute(stmt.on_conflict_do_update(index_elements=["run_id", "key"], set_={
            "value": case((newer, ex.value), else_=tbl.value),
            "step": case((newer, ex.step), else_=tbl.step),
            "timestamp": case((newer, ex.timestamp), else_=tbl.timestamp),
            "count": tbl.count + ex.count,
        }), [{"run_id": run_id, "key": k, "value": None if v != v else v, "step": s,
              "timestamp": t, "count": c} for k, v, s, t, c in latest.values()])

    # ----------------------------------------------------------------- reads
    def get_run(self, run_id: str) -> RunRecord:
        if not isinstance(run_id, str) or not run_id:
            raise InvalidInputError("A run id is a 32-character hex string.")
        with read_connection(self.url) as conn:
            row = conn.execute(_run_select().where(Run.id == run_id)).first()
            if row is None:
                raise NotFoundError(
                    f"Run {run_id!r} does not exist. List runs with `%mlops runs`.")
            return self._with_values(conn, [_row_to_record(row)])[0]

    def search_runs(
        self, filter: str | None = None, experiment: str | None = None,
        order_by: Sequence[str] | str | None = None, max_results: int = 100, offset: int = 0,
    ) -> list[RunRecord]:
        from jupyter_mlops.store.filters import parse_order_by

        if not (0 < max_results <= MAX_RESULTS_LIMIT) or offset < 0:
            raise InvalidInputError(
                f"max_results must be 1–{MAX_RESULTS_LIMIT} and offset ≥ 0.")
        stmt = self._filtered(_run_select(), filter, experiment)
        stmt = stmt.order_by(*parse_order_by(order_by)).limit(max_results).offset(offset)
        with read_connection(self.url) as conn:
            rows = conn.execute(stmt).all()
            return self._with_values(conn, [_row_to_record(r) for r in rows])

    def count_runs(self, filter: str | None = None, experiment: str | None = None) -> int:
        stmt = self._filtered(select(func.count(Run.id)).select_from(Run), filter, experiment)
        with read_connection(self.url) as conn:
            return int(conn.execute(stmt).scalar_one())

    @staticmethod
    def _filtered(stmt, filter: str | None, experiment: str | None):
        from jupyter_mlops.store.filters import compile_filter, parse_filter

        node = parse_filter(filter) if filter else None
        if node is not None:
            stmt = stmt.where(compile_filter(node))
        if experiment:
            stmt = stmt.where(Run.experiment_id.in_(
                select(Experiment.id).where(Experiment.name == experiment)))
        return stmt

    @staticmethod
    def _with_values(conn, runs: list[RunRecord]) -> list[RunRecord]:
        """Attach params, latest metrics and tags with three IN queries (no N+1)."""
        if not runs:
            return runs
        ids = [r.id for r in runs]
        values: dict[str, tuple[dict, dict, dict]] = {i: ({}, {}, {}) for i in ids}
        for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
            for rid, k, v in conn.execute(select(Param.run_id, Param.key, Param.value)
                                          .where(Param.run_id.in_(chunk))):
                values[rid][0][k] = v
            for rid, k, v in conn.execute(select(LatestMetric.run_id, LatestMetric.key,
                                                 LatestMetric.value)
                                          .where(LatestMetric.run_id.in_(chunk))):
                values[rid][1][k] = _float_or_nan(v)
            for rid, k, v in conn.execute(select(Tag.run_id, Tag.key, Tag.value)
                                          .where(Tag.run_id.in_(chunk))):
                values[rid][2][k] = v
        from dataclasses import replace

        return [replace(r, params=values[r.id][0], metrics=values[r.id][1], tags=values[r.id][2])
                for r in runs]

    def metric_keys(self, run_id: str) -> list[str]:
        with read_connection(self.url) as conn:
            return list(conn.execute(select(LatestMetric.key).where(LatestMetric.run_id == run_id)
                                     .order_by(LatestMetric.key)).scalars())

    def metric_history(self, run_id: str, key: str, max_points: int | None = None
                       ) -> list[MetricPoint]:
        """Every point of one series in step order; above ``max_points``, at most that many.

        Downsampling (M4) keeps each bucket's first, last, minimum and maximum point, so spikes
        survive (a plain stride would drop them) and every returned point was really logged;
        the work happens in SQL, so 10^6 points never cross the wire.
        """
        if max_points is not None and max_points < 2:
            raise InvalidInputError("max_points must be at least 2.")
        base = and_(Metric.run_id == run_id, Metric.key == key)
        with read_connection(self.url) as conn:
            stats = conn.execute(select(func.count(), func.min(Metric.step), func.max(Metric.step))
                                 .where(base)).one()
            count, lo, hi = stats
            if count == 0:
                if not self.metric_keys(run_id):
                    self.get_run(run_id)  # raises NotFoundError for an unknown run
                raise NotFoundError(f"Run {run_id} has no metric {key!r}.")
            if max_points is None or count <= max_points:
                rows = conn.execute(select(Metric.step, Metric.value, Metric.timestamp)
                                    .where(base).order_by(Metric.step, Metric.id)).all()
                return [MetricPoint(s, _float_or_nan(v), t) for s, v, t in rows]
            # M4 downsampling: per bucket keep the first, last, lowest and highest point —
            # real (step, value) pairs, so peaks survive and a trend keeps its shape.
            per = 4 if max_points >= 4 else 2
            buckets = max(1, max_points // per)
            width = max(1, (hi - lo + 1 + buckets - 1) // buckets)
            bucket = (Metric.step - lo) // width  # SQLAlchemy renders portable floor division

            def first(*order):
                return func.row_number().over(partition_by=bucket, order_by=order)

            ranked = select(
                Metric.step, Metric.value, Metric.timestamp,
                first(Metric.value.asc().nulls_last(), Metric.id).label("r_min"),
                first(Metric.value.desc().nulls_last(), Metric.id).label("r_max"),
                first(Metric.step.asc(), Metric.id.asc()).label("r_first"),
                first(Metric.step.desc(), Metric.id.desc()).label("r_last"),
            ).where(base).subquery()
            keep = (ranked.c.r_min == 1) | (ranked.c.r_max == 1)
            if per == 4:
                keep = keep | (ranked.c.r_first == 1) | (ranked.c.r_last == 1)
            rows = conn.execute(select(ranked.c.step, ranked.c.value, ranked.c.timestamp)
                                .where(keep).order_by(ranked.c.step)).all()
        return [MetricPoint(s, _float_or_nan(v), t) for s, v, t in rows]

    def run_ids_with_status(self, status: str) -> list[str]:
        with read_connection(self.url) as conn:
            return list(conn.execute(select(Run.id).where(Run.status == status)).scalars())

    def require_running(self, run_id: str) -> None:
        run = self.get_run(run_id)
        if run.status != "RUNNING":
            raise ConflictError(
                f"Run {run_id} is {run.status}; start a new run to log more.")
