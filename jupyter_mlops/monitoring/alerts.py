"""Alerts: thresholds per measure (and optionally per feature) of a monitor, recorded when they
fire, and optionally starting a pipeline — the retraining loop that closes P6/P9.

One incident must not start ten runs: before a rule's pipeline is launched, the right to do
so is claimed with a single conditional ``UPDATE`` of the rule's ``last_triggered_at`` (see
:meth:`~jupyter_mlops.store.monitoring.MonitoringStore.claim_trigger`). Every process that
sees the breach inside the cool-down records the alert as ``COOLDOWN`` instead. A launched
pipeline runs in its own detached process (``python -m jupyter_mlops.cli.launch alert``) with
``trigger="alert"``; its pipeline-run id is chosen first and stored on the alert, so the alert
links to the run even before the run exists.
"""

from __future__ import annotations

import logging
import re
import subprocess
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.store.monitoring import (
    ALERT_OPS,
    AlertRecord,
    AlertRuleRecord,
    MonitoringStore,
)

if TYPE_CHECKING:  # the Client's shape, for type checkers only
    from jupyter_mlops.ports import StoreHolder

log = logging.getLogger(__name__)

#: ``launcher(rule, alert)`` starts the pipeline of a fired rule (``alert.pipeline_run_id`` set).
Launcher = Callable[[AlertRuleRecord, AlertRecord], None]
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)?\s*")
_UNITS = {None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
DEFAULT_COOLDOWN_S = 3600.0


def parse_duration(value: float | int | str) -> float:
    """Seconds from ``3600``, ``"90s"``, ``"30m"``, ``"1h"`` or ``"1d"``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < 0:
            raise InvalidInputError(f"A duration cannot be negative; got {value}.")
        return float(value)
    m = _DURATION.fullmatch(str(value))
    if not m:
        raise InvalidInputError(f"{value!r} is not a duration: use seconds or e.g. '30m', "
                                "'1h', '1d'.")
    return float(m[1]) * _UNITS[m[2]]


def check_rule(measure: str, op: str) -> None:
    if not isinstance(measure, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,63}", measure):
        raise InvalidInputError(f"{measure!r} is not a measure name (e.g. 'psi', 'drift_share', "
                                "'accuracy').")
    if op not in ALERT_OPS:
        raise InvalidInputError(f"Alert operator must be one of {', '.join(ALERT_OPS)}; "
                                f"got {op!r}.")


class SubprocessLauncher:
    """Start each triggered pipeline as ``python -m jupyter_mlops.cli.launch alert`` (detached).

    Output goes to ``<project>/.mlops/logs/alert-<id>.log`` when the store has a local folder.
    """

    def __init__(self, client: StoreHolder):
        self.client = client
        self.processes: list[subprocess.Popen] = []

    def __call__(self, rule: AlertRuleRecord, alert: AlertRecord) -> None:
        from jupyter_mlops.pipelines.detached import start_launcher

        self.processes.append(start_launcher(
            self.client, ["alert", "--alert-id", str(alert.id)],
            f"alert-{alert.id}.log", Path(rule.pipeline or ".").resolve().parent))


class AlertEvaluator:
    """Check a monitor's enabled rules against new result points, record and act.

    Parameters
    ----------
    store : MonitoringStore
    launcher : callable, optional
        ``launcher(rule, alert)``; default :class:`SubprocessLauncher` on ``client``.
    clock : callable
        Wall-clock time for cool-downs (tests pass their own).
    notify : callable, optional
        ``notify(event, data)``, told ``alert.fired`` for each alert; default the client's
        webhooks (``client.notify``), handed in so monitoring never imports them.
    """

    def __init__(self, store: MonitoringStore,
                 client: StoreHolder | None = None, launcher: Launcher | None = None,
                 clock: Callable[[], float] | None = None,
                 notify: Callable[[str, dict], None] | None = None):
        import time

        self.store = store
        self.launcher = launcher or (SubprocessLauncher(client) if client is not None else None)
        self.clock = clock or time.time
        self.notify = notify or getattr(client, "notify", None)

    def evaluate(self, monitor_id: int, window_id: int | None,
                 points: Iterable[tuple[str, str, float | None, bool | None]],
                 label: str = "") -> list[AlertRecord]:
        """Fire every enabled rule that one of ``(feature, measure, value, drifted)`` breaches.

        One alert per rule and call (the worst breaching value), whatever the number of
        features that breach it.
        """
        rules = self.store.list_rules(monitor_id, enabled_only=True)
        if not rules:
            return []
        points = list(points)
        fired = []
        for rule in rules:
            hits = [(f, v) for f, m, v, _ in points if m == rule.measure
                    and (rule.feature is None or f == rule.feature)
                    and v is not None and rule.breached(float(v))]
            if not hits:
                continue
            worst = max(hits, key=lambda h: h[1]) if rule.op.startswith(">") \
                else min(hits, key=lambda h: h[1])
            alert = self._fire(rule, monitor_id, window_id, worst, len(hits), label)
            fired.append(alert)
            self._tell(rule, alert)
        return fired

    def _tell(self, rule: AlertRuleRecord, alert: AlertRecord) -> None:
        """Send ``alert.fired`` to the webhooks; a failure to queue it never loses the alert."""
        if self.notify is None:
            return
        try:
            self.notify("alert.fired", {
                "alert_id": alert.id, "monitor_id": alert.monitor_id, "rule_id": rule.id,
                "measure": alert.measure, "feature": alert.feature, "value": alert.value,
                "threshold": alert.threshold, "action": alert.action, "message": alert.message,
                "pipeline": rule.pipeline, "pipeline_run_id": alert.pipeline_run_id})
        except Exception:  # noqa: BLE001 - the alert is recorded; say why no webhook went out
            log.exception("alert %s: could not queue the alert.fired webhook", alert.id)

    def _fire(self, rule: AlertRuleRecord, monitor_id: int, window_id: int | None,
              worst: tuple[str, float], count: int, label: str) -> AlertRecord:
        feature, value = worst
        at = self.clock()
        where = f" on {feature!r}" if feature else ""
        more = f" (and {count - 1} more feature(s))" if count > 1 else ""
        message = (f"{rule.measure}{where} = {value:.4g} {rule.op} {rule.threshold:g}{more}"
                   + (f" in {label}" if label else ""))
        if not rule.pipeline:
            return self.store.add_alert(
                rule_id=rule.id, monitor_id=monitor_id, window_id=window_id, at=at,
                measure=rule.measure, feature=feature or None, value=value,
                threshold=rule.threshold, message=message, action="RECORDED")
        if not self.store.claim_trigger(rule.id, at, rule.cooldown_s):
            return self.store.add_alert(
                rule_id=rule.id, monitor_id=monitor_id, window_id=window_id, at=at,
                measure=rule.measure, feature=feature or None, value=value,
                threshold=rule.threshold, action="COOLDOWN",
                message=f"{message}; pipeline not started: still within the "
                        f"{rule.cooldown_s:g} s cool-down of the last trigger")
        prid = uuid.uuid4().hex
        alert = self.store.add_alert(
            rule_id=rule.id, monitor_id=monitor_id, window_id=window_id, at=at,
            measure=rule.measure, feature=feature or None, value=value,
            threshold=rule.threshold, action="TRIGGERED", pipeline_run_id=prid,
            message=f"{message}; started pipeline {rule.pipeline} (run {prid[:12]})")
        try:
            if self.launcher is None:
                raise RuntimeError("no launcher configured")
            self.launcher(rule, alert)
        except Exception as exc:  # the alert stays recorded; say why nothing runs
            log.exception("alert %s: could not start pipeline %s", alert.id, rule.pipeline)
            self.store.set_alert_action(alert.id, "FAILED",
                                        f"{message}; could not start {rule.pipeline}: {exc}")
            return self.store.get_alert(alert.id)
        return alert
