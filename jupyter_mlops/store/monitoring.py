"""Monitors, their windows and per-window results, the prediction/feedback log and alerts (C9).

Rows never leave this module: callers get the frozen records below. A window, its results and
its prediction records are written in one transaction, so a reader never sees a window
without its numbers. Triggering a pipeline from an alert is claimed with one conditional
``UPDATE`` (``last_triggered_at`` older than the cool-down), so however many processes see the
same incident at once, exactly one of them starts a run per cool-down period.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update

from jupyter_mlops.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from jupyter_mlops.store.engine import now, read_connection, upsert, write_connection
from jupyter_mlops.store.interfaces import AbstractMonitoringStore
from jupyter_mlops.store.orm import (
    Alert,
    AlertRule,
    Monitor,
    MonitorRecord,
    MonitorResult,
    MonitorWindow,
)
from jupyter_mlops.store.records import Record

ALERT_OPS = (">", ">=", "<", "<=")
ALERT_ACTIONS = ("RECORDED", "TRIGGERED", "COOLDOWN", "FAILED")
_CHUNK = 500


@dataclasses.dataclass(frozen=True)
class MonitorInfo(Record):
    id: int
    name: str
    model_name: str
    model_ref: str
    reference_digest: str
    reference_dataset_id: int | None
    profile_digest: str
    config: dict
    created_by: str
    created_at: float
    updated_at: float


@dataclasses.dataclass(frozen=True)
class WindowRecord(Record):
    id: int
    monitor_id: int
    seq: int
    start_at: float
    end_at: float
    rows: int
    model_version: int | None
    columns_checked: int
    columns_drifted: int
    summary: dict | None
    data_digest: str | None
    created_at: float

    def __str__(self) -> str:
        # print(window) in a terminal: one line, not the dataclass with every bin count.
        import time

        span = " – ".join(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))
                          for t in (self.start_at, self.end_at))
        version = "" if self.model_version is None else f", model version {self.model_version}"
        return (f"window {self.seq}: {self.rows} rows ({span}), {self.columns_drifted} of "
                f"{self.columns_checked} columns drifted{version}")


@dataclasses.dataclass(frozen=True)
class ResultPoint(Record):
    window_seq: int
    at: float
    feature: str
    measure: str
    value: float
    drifted: bool | None


@dataclasses.dataclass(frozen=True)
class AlertRuleRecord(Record):
    id: int
    monitor_id: int
    measure: str
    feature: str | None
    op: str
    threshold: float
    pipeline: str | None
    parameters: dict | None
    cooldown_s: float
    enabled: bool
    last_triggered_at: float | None
    created_by: str
    created_at: float

    def breached(self, value: float) -> bool:
        if value is None or value != value:
            return False
        return {">": value > self.threshold, ">=": value >= self.threshold,
                "<": value < self.threshold, "<=": value <= self.threshold}[self.op]


@dataclasses.dataclass(frozen=True)
class AlertRecord(Record):
    id: int
    rule_id: int
    monitor_id: int
    window_id: int | None
    at: float
    measure: str
    feature: str | None
    value: float | None
    threshold: float
    message: str
    action: str
    pipeline_run_id: str | None


def _clean(value: Any) -> float | None:
    if value is None:
        return None
    v = float(value)
    return v if math.isfinite(v) else None


def _monitor(row) -> MonitorInfo:
    return MonitorInfo(row.id, row.name, row.model_name, row.model_ref, row.reference_digest,
                       row.reference_dataset_id, row.profile_digest, dict(row.config or {}),
                       row.created_by, row.created_at, row.updated_at)


def _window(row) -> WindowRecord:
    return WindowRecord(row.id, row.monitor_id, row.seq, row.start_at, row.end_at, row.rows,
                        row.model_version, row.columns_checked, row.columns_drifted,
                        row.summary, row.data_digest, row.created_at)


def _rule(row) -> AlertRuleRecord:
    return AlertRuleRecord(row.id, row.monitor_id, row.measure, row.feature, row.op,
                           row.threshold, row.pipeline, row.parameters, row.cooldown_s,
                           bool(row.enabled), row.last_triggered_at, row.created_by,
                           row.created_at)


def _alert(row) -> AlertRecord:
    return AlertRecord(row.id, row.rule_id, row.monitor_id, row.window_id, row.at, row.measure,
                       row.feature, row.value, row.threshold, row.message, row.action,
                       row.pipeline_run_id)


class MonitoringStore(AbstractMonitoringStore):
    """Monitoring reads and writes against one store URL."""

    def __init__(self, url: str):
        self.url = url

    # ----------------------------------------------------------------- monitors
    def save_monitor(self, *, name: str, model_name: str, model_ref: str,
                     reference_digest: str, reference_dataset_id: int | None,
                     profile_digest: str, config: dict, user: str) -> MonitorInfo:
        """Create monitor ``name`` or update its model, reference and configuration."""
        t = now()
        values = dict(model_name=model_name, model_ref=model_ref,
                      reference_digest=reference_digest,
                      reference_dataset_id=reference_dataset_id, profile_digest=profile_digest,
                      config=config, updated_at=t)
        with write_connection(self.url) as conn:
            row = conn.execute(select(Monitor.id).where(Monitor.name == name)).first()
            if row is None:
                conn.execute(Monitor.__table__.insert().values(
                    name=name, created_by=user, created_at=t, **values))
            else:
                conn.execute(update(Monitor).where(Monitor.id == row.id).values(**values))
        return self.get_monitor(name)

    def get_monitor(self, name_or_id: str | int) -> MonitorInfo:
        cond = (Monitor.id == name_or_id) if isinstance(name_or_id, int) \
            else (Monitor.name == name_or_id)
        with read_connection(self.url) as conn:
            row = conn.execute(select(Monitor).where(cond)).first()
        if row is None:
            raise NotFoundError(
                f"There is no monitor {name_or_id!r}. Create one with "
                "`mlops.monitor('MODEL@ALIAS', reference=…)`; list them with "
                "`jupyter mlops monitor list`.")
        return _monitor(row)

    def list_monitors(self) -> list[MonitorInfo]:
        with read_connection(self.url) as conn:
            return [_monitor(r) for r in conn.execute(select(Monitor).order_by(Monitor.name))]

    def delete_monitor(self, name: str) -> None:
        with write_connection(self.url) as conn:
            if conn.execute(delete(Monitor).where(Monitor.name == name)).rowcount == 0:
                raise NotFoundError(f"There is no monitor {name!r}.")

    # ----------------------------------------------------------------- windows + results
    def add_window(self, monitor_id: int, *, start_at: float, end_at: float, rows: int,
                   model_version: int | None, columns_checked: int, columns_drifted: int,
                   summary: dict | None, data_digest: str | None,
                   results: Iterable[tuple[str, str, float | None, bool | None]],
                   records: Sequence[dict] = ()) -> WindowRecord:
        """Store a closed window with its ``(feature, measure, value, drifted)`` results and
        its prediction records (``row_id``, ``ts``, ``prediction_value``/``_label``) at once."""
        t = now()
        with write_connection(self.url) as conn:
            # Lock the monitor's row so two writers cannot both read the same max(seq):
            # PostgreSQL's READ COMMITTED would let them (SQLite's BEGIN IMMEDIATE already
            # serialises writers, and SQLAlchemy renders no FOR UPDATE there).
            conn.execute(select(Monitor.id).where(Monitor.id == monitor_id).with_for_update())
            seq = (conn.execute(select(func.max(MonitorWindow.seq))
                                .where(MonitorWindow.monitor_id == monitor_id)).scalar() or 0) + 1
            window_id = conn.execute(MonitorWindow.__table__.insert().values(
                monitor_id=monitor_id, seq=seq, start_at=start_at, end_at=end_at, rows=rows,
                model_version=model_version, columns_checked=columns_checked,
                columns_drifted=columns_drifted, summary=summary, data_digest=data_digest,
                created_at=t)).inserted_primary_key[0]
            points = [{"monitor_id": monitor_id, "window_id": window_id, "feature": f,
                       "measure": m, "value": _clean(v), "drifted": d, "at": end_at}
                      for f, m, v, d in results]
            if points:
                conn.execute(MonitorResult.__table__.insert(), points)
            if records:
                self._upsert_predictions(conn, monitor_id, seq, model_version, records)
            row = conn.execute(select(MonitorWindow).where(MonitorWindow.id == window_id)).one()
        return _window(row)

    @staticmethod
    def _upsert_predictions(conn, monitor_id: int, seq: int, model_version: int | None,
                            records: Sequence[dict]) -> None:
        stmt = upsert(conn, MonitorRecord.__table__)
        fields = ("window_seq", "ts", "model_version", "prediction_value", "prediction_label")
        stmt = stmt.on_conflict_do_update(index_elements=["monitor_id", "row_id"],
                                          set_={k: stmt.excluded[k] for k in fields})
        conn.execute(stmt, [{"monitor_id": monitor_id, "row_id": r["row_id"], "window_seq": seq,
                             "ts": r.get("ts"), "model_version": model_version,
                             "prediction_value": _clean(r.get("prediction_value")),
                             "prediction_label": r.get("prediction_label"),
                             "actual_value": None, "actual_label": None, "feedback_at": None}
                            for r in records])

    def upsert_results(self, monitor_id: int, window_id: int, at: float,
                       results: Iterable[tuple[str, str, float | None, bool | None]]) -> None:
        """Replace measures of an existing window (live quality is recomputed on feedback)."""
        points = [{"monitor_id": monitor_id, "window_id": window_id, "feature": f,
                   "measure": m, "value": _clean(v), "drifted": d, "at": at}
                  for f, m, v, d in results]
        if not points:
            return
        with write_connection(self.url) as conn:
            stmt = upsert(conn, MonitorResult.__table__)
            conn.execute(stmt.on_conflict_do_update(
                index_elements=["window_id", "feature", "measure"],
                set_={"value": stmt.excluded.value, "drifted": stmt.excluded.drifted}), points)

    def get_window(self, monitor_id: int, seq: int) -> WindowRecord:
        with read_connection(self.url) as conn:
            row = conn.execute(select(MonitorWindow).where(
                MonitorWindow.monitor_id == monitor_id, MonitorWindow.seq == seq)).first()
        if row is None:
            raise NotFoundError(f"Monitor {monitor_id} has no window {seq}.")
        return _window(row)

    def list_windows(self, monitor_id: int, limit: int | None = None) -> list[WindowRecord]:
        """Windows oldest first (the newest ``limit`` when given)."""
        stmt = select(MonitorWindow).where(MonitorWindow.monitor_id == monitor_id) \
            .order_by(MonitorWindow.seq.desc())
        if limit:
            stmt = stmt.limit(limit)
        with read_connection(self.url) as conn:
            return [_window(r) for r in reversed(conn.execute(stmt).all())]

    def window_seqs(self, monitor_id: int, window_ids: Iterable[int]) -> dict[int, int]:
        """``{window id: seq}`` of the given windows of one monitor (unknown ids left out)."""
        ids = sorted({int(i) for i in window_ids})
        out: dict[int, int] = {}
        with read_connection(self.url) as conn:
            for i in range(0, len(ids), _CHUNK):
                out.update({r.id: r.seq for r in conn.execute(
                    select(MonitorWindow.id, MonitorWindow.seq).where(
                        MonitorWindow.monitor_id == monitor_id,
                        MonitorWindow.id.in_(ids[i:i + _CHUNK])))})
        return out

    def series(self, monitor_id: int, measure: str | None = None, feature: str | None = None,
               since_seq: int | None = None) -> list[ResultPoint]:
        """Result points, oldest window first."""
        stmt = select(MonitorWindow.seq, MonitorResult.at, MonitorResult.feature,
                      MonitorResult.measure, MonitorResult.value, MonitorResult.drifted) \
            .join(MonitorWindow, MonitorWindow.id == MonitorResult.window_id) \
            .where(MonitorResult.monitor_id == monitor_id)
        if measure is not None:
            stmt = stmt.where(MonitorResult.measure == measure)
        if feature is not None:
            stmt = stmt.where(MonitorResult.feature == feature)
        if since_seq is not None:
            stmt = stmt.where(MonitorWindow.seq >= since_seq)
        stmt = stmt.order_by(MonitorWindow.seq, MonitorResult.feature, MonitorResult.measure)
        with read_connection(self.url) as conn:
            return [ResultPoint(r.seq, r.at, r.feature, r.measure,
                                math.nan if r.value is None else r.value, r.drifted)
                    for r in conn.execute(stmt)]

    # ----------------------------------------------------------------- feedback
    def add_feedback(self, monitor_id: int, rows: Sequence[tuple[str, float | None, str | None]],
                     at: float) -> list[int]:
        """Record ground truth ``(row_id, actual_value, actual_label)``; return the window
        numbers whose predictions gained labels (rows not predicted yet wait for them)."""
        if not rows:
            return []
        with write_connection(self.url) as conn:
            stmt = upsert(conn, MonitorRecord.__table__)
            stmt = stmt.on_conflict_do_update(
                index_elements=["monitor_id", "row_id"],
                set_={k: stmt.excluded[k] for k in ("actual_value", "actual_label",
                                                     "feedback_at")})
            conn.execute(stmt, [{"monitor_id": monitor_id, "row_id": rid,
                                 "actual_value": _clean(v), "actual_label": lab,
                                 "feedback_at": at} for rid, v, lab in rows])
            seqs: set[int] = set()
            ids = [r[0] for r in rows]
            for i in range(0, len(ids), _CHUNK):
                seqs.update(conn.execute(select(MonitorRecord.window_seq).distinct().where(
                    MonitorRecord.monitor_id == monitor_id,
                    MonitorRecord.row_id.in_(ids[i:i + _CHUNK]),
                    MonitorRecord.window_seq.is_not(None))).scalars())
        return sorted(seqs)

    def labelled(self, monitor_id: int, window_seq: int) -> list[tuple]:
        """``(prediction_value, prediction_label, actual_value, actual_label)`` of a window's
        rows that have both a prediction and ground truth."""
        r = MonitorRecord
        with read_connection(self.url) as conn:
            return [tuple(x) for x in conn.execute(
                select(r.prediction_value, r.prediction_label, r.actual_value, r.actual_label)
                .where(r.monitor_id == monitor_id, r.window_seq == window_seq,
                       r.feedback_at.is_not(None),
                       or_(r.prediction_value.is_not(None), r.prediction_label.is_not(None)))
            ).all()]

    def record_counts(self, monitor_id: int) -> tuple[int, int]:
        """(predictions logged with an id, of which labelled)."""
        r = MonitorRecord
        with read_connection(self.url) as conn:
            total = conn.execute(select(func.count()).select_from(r).where(
                r.monitor_id == monitor_id, r.window_seq.is_not(None))).scalar_one()
            labelled = conn.execute(select(func.count()).select_from(r).where(
                r.monitor_id == monitor_id, r.window_seq.is_not(None),
                r.feedback_at.is_not(None))).scalar_one()
        return int(total), int(labelled)

    # ----------------------------------------------------------------- alert rules
    def add_rule(self, monitor_id: int, *, measure: str, feature: str | None, op: str,
                 threshold: float, pipeline: str | None, parameters: dict | None,
                 cooldown_s: float, user: str) -> AlertRuleRecord:
        if op not in ALERT_OPS:
            raise InvalidInputError(f"Alert operator must be one of {', '.join(ALERT_OPS)}; "
                                    f"got {op!r}.")
        if not math.isfinite(float(threshold)):
            raise InvalidInputError("An alert threshold must be a finite number.")
        if cooldown_s < 0:
            raise InvalidInputError("The cool-down must be zero or more seconds.")
        with write_connection(self.url) as conn:
            dup = conn.execute(select(AlertRule.id).where(
                AlertRule.monitor_id == monitor_id, AlertRule.measure == measure,
                AlertRule.feature.is_(None) if feature is None else AlertRule.feature == feature,
                AlertRule.op == op, AlertRule.threshold == float(threshold))).first()
            if dup is not None:
                raise AlreadyExistsError(
                    f"Alert rule {dup.id} already watches {measure} {op} {threshold}"
                    + (f" on {feature!r}" if feature else "") + "; remove it first.")
            rule_id = conn.execute(AlertRule.__table__.insert().values(
                monitor_id=monitor_id, measure=measure, feature=feature, op=op,
                threshold=float(threshold), pipeline=pipeline, parameters=parameters,
                cooldown_s=float(cooldown_s), enabled=True, created_by=user,
                created_at=now())).inserted_primary_key[0]
            row = conn.execute(select(AlertRule).where(AlertRule.id == rule_id)).one()
        return _rule(row)

    def list_rules(self, monitor_id: int, enabled_only: bool = False) -> list[AlertRuleRecord]:
        stmt = select(AlertRule).where(AlertRule.monitor_id == monitor_id)
        if enabled_only:
            stmt = stmt.where(AlertRule.enabled.is_(True))
        with read_connection(self.url) as conn:
            return [_rule(r) for r in conn.execute(stmt.order_by(AlertRule.id))]

    def remove_rule(self, monitor_id: int, rule_id: int) -> None:
        with write_connection(self.url) as conn:
            if conn.execute(delete(AlertRule).where(AlertRule.id == rule_id,
                                                   AlertRule.monitor_id == monitor_id)
                            ).rowcount == 0:
                raise NotFoundError(f"This monitor has no alert rule {rule_id}.")

    def claim_trigger(self, rule_id: int, at: float, cooldown_s: float) -> bool:
        """Atomically take the right to start the rule's pipeline (False: cooling down)."""
        with write_connection(self.url) as conn:
            result = conn.execute(update(AlertRule).where(
                AlertRule.id == rule_id,
                or_(AlertRule.last_triggered_at.is_(None),
                    AlertRule.last_triggered_at <= at - cooldown_s)
            ).values(last_triggered_at=at))
            return result.rowcount == 1

    # ----------------------------------------------------------------- alerts
    def add_alert(self, *, rule_id: int, monitor_id: int, window_id: int | None, at: float,
                  measure: str, feature: str | None, value: float | None, threshold: float,
                  message: str, action: str, pipeline_run_id: str | None = None) -> AlertRecord:
        if action not in ALERT_ACTIONS:
            raise InvalidInputError(f"Unknown alert action {action!r}.")
        with write_connection(self.url) as conn:
            alert_id = conn.execute(Alert.__table__.insert().values(
                rule_id=rule_id, monitor_id=monitor_id, window_id=window_id, at=at,
                measure=measure, feature=feature, value=_clean(value), threshold=threshold,
                message=message[:4000], action=action, pipeline_run_id=pipeline_run_id)
            ).inserted_primary_key[0]
            row = conn.execute(select(Alert).where(Alert.id == alert_id)).one()
        return _alert(row)

    def set_alert_action(self, alert_id: int, action: str, message: str | None = None) -> None:
        values: dict[str, Any] = {"action": action}
        if message is not None:
            values["message"] = message[:4000]
        with write_connection(self.url) as conn:
            conn.execute(update(Alert).where(Alert.id == alert_id).values(**values))

    def get_alert(self, alert_id: int) -> AlertRecord:
        with read_connection(self.url) as conn:
            row = conn.execute(select(Alert).where(Alert.id == alert_id)).first()
        if row is None:
            raise NotFoundError(f"There is no alert {alert_id}.")
        return _alert(row)

    def get_rule(self, rule_id: int) -> AlertRuleRecord:
        with read_connection(self.url) as conn:
            row = conn.execute(select(AlertRule).where(AlertRule.id == rule_id)).first()
        if row is None:
            raise NotFoundError(f"There is no alert rule {rule_id}.")
        return _rule(row)

    def list_alerts(self, monitor_id: int, limit: int = 100) -> list[AlertRecord]:
        """Newest first."""
        with read_connection(self.url) as conn:
            return [_alert(r) for r in conn.execute(
                select(Alert).where(Alert.monitor_id == monitor_id)
                .order_by(Alert.at.desc(), Alert.id.desc()).limit(limit))]

    def alerts_in_window(self, window_id: int) -> list[AlertRecord]:
        with read_connection(self.url) as conn:
            return [_alert(r) for r in conn.execute(
                select(Alert).where(and_(Alert.window_id == window_id)).order_by(Alert.id))]
