"""Contract of the monitoring store: monitors, windows and their results, feedback, alerts."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the records live beside their implementation, which imports this module
    from jupyter_mlops.store.monitoring import (
        AlertRecord,
        AlertRuleRecord,
        MonitorInfo,
        ResultPoint,
        WindowRecord,
    )


class AbstractMonitoringStore(abc.ABC):
    """Monitors of a served model, the windows they close, ground-truth feedback and alert rules.

    An unknown monitor, window, rule or alert is a :class:`~jupyter_mlops.errors.NotFoundError`.
    """

    # ----------------------------------------------------------------- monitors
    @abc.abstractmethod
    def save_monitor(self, *, name: str, model_name: str, model_ref: str,
                     reference_digest: str, reference_dataset_id: int | None,
                     profile_digest: str, config: dict, user: str) -> MonitorInfo:
        """Create monitor ``name`` or update its model, reference and configuration."""

    @abc.abstractmethod
    def get_monitor(self, name_or_id: str | int) -> MonitorInfo:
        """One monitor by name or id."""

    @abc.abstractmethod
    def list_monitors(self) -> list[MonitorInfo]:
        """Every monitor, ordered by name."""

    @abc.abstractmethod
    def delete_monitor(self, name: str) -> None:
        """Delete a monitor with its windows, results, feedback, rules and alerts."""

    # ----------------------------------------------------------------- windows and results
    @abc.abstractmethod
    def add_window(self, monitor_id: int, *, start_at: float, end_at: float, rows: int,
                   model_version: int | None, columns_checked: int, columns_drifted: int,
                   summary: dict | None, data_digest: str | None,
                   results: Iterable[tuple[str, str, float | None, bool | None]],
                   records: Sequence[dict] = ()) -> WindowRecord:
        """Store a closed window (the next seq) with its results and the predictions it logged."""

    @abc.abstractmethod
    def upsert_results(self, monitor_id: int, window_id: int, at: float,
                       results: Iterable[tuple[str, str, float | None, bool | None]]) -> None:
        """Insert or replace ``(feature, measure, value, drifted)`` results of an existing window."""

    @abc.abstractmethod
    def get_window(self, monitor_id: int, seq: int) -> WindowRecord:
        """Window number ``seq`` of a monitor."""

    @abc.abstractmethod
    def list_windows(self, monitor_id: int, limit: int | None = None) -> list[WindowRecord]:
        """A monitor's windows oldest first (the newest ``limit`` of them when given)."""

    @abc.abstractmethod
    def window_seqs(self, monitor_id: int, window_ids: Iterable[int]) -> dict[int, int]:
        """``{window id: seq}`` of the given windows of one monitor; unknown ids left out."""

    @abc.abstractmethod
    def series(self, monitor_id: int, measure: str | None = None, feature: str | None = None,
               since_seq: int | None = None) -> list[ResultPoint]:
        """Result points, oldest window first, optionally of one measure, one feature, recent windows."""

    # ----------------------------------------------------------------- feedback
    @abc.abstractmethod
    def add_feedback(self, monitor_id: int, rows: Sequence[tuple[str, float | None, str | None]],
                     at: float) -> list[int]:
        """Record ground truth ``(row_id, value, label)`` for logged predictions; return the window seqs touched."""

    @abc.abstractmethod
    def labelled(self, monitor_id: int, window_seq: int) -> list[tuple]:
        """``(prediction value, prediction label, actual value, actual label)`` of a window's labelled rows."""

    @abc.abstractmethod
    def record_counts(self, monitor_id: int) -> tuple[int, int]:
        """(predictions logged with a row id, of which labelled)."""

    # ----------------------------------------------------------------- rules and alerts
    @abc.abstractmethod
    def add_rule(self, monitor_id: int, *, measure: str, feature: str | None, op: str,
                 threshold: float, pipeline: str | None, parameters: dict | None,
                 cooldown_s: float, user: str) -> AlertRuleRecord:
        """Add an alert rule (``measure op threshold``), optionally starting ``pipeline`` when breached."""

    @abc.abstractmethod
    def list_rules(self, monitor_id: int, enabled_only: bool = False) -> list[AlertRuleRecord]:
        """A monitor's alert rules, oldest first."""

    @abc.abstractmethod
    def remove_rule(self, monitor_id: int, rule_id: int) -> None:
        """Delete one rule of a monitor."""

    @abc.abstractmethod
    def claim_trigger(self, rule_id: int, at: float, cooldown_s: float) -> bool:
        """Atomically take the right to start the rule's pipeline at ``at``; False while cooling down."""

    @abc.abstractmethod
    def add_alert(self, *, rule_id: int, monitor_id: int, window_id: int | None, at: float,
                  measure: str, feature: str | None, value: float | None, threshold: float,
                  message: str, action: str, pipeline_run_id: str | None = None) -> AlertRecord:
        """Record that a rule fired and what was done about it."""

    @abc.abstractmethod
    def set_alert_action(self, alert_id: int, action: str, message: str | None = None) -> None:
        """Update what was done about an alert (and its message)."""

    @abc.abstractmethod
    def get_alert(self, alert_id: int) -> AlertRecord:
        """One alert."""

    @abc.abstractmethod
    def get_rule(self, rule_id: int) -> AlertRuleRecord:
        """One alert rule."""

    @abc.abstractmethod
    def list_alerts(self, monitor_id: int, limit: int = 100) -> list[AlertRecord]:
        """A monitor's alerts, newest first, at most ``limit``."""

    @abc.abstractmethod
    def alerts_in_window(self, window_id: int) -> list[AlertRecord]:
        """Alerts raised for one window."""
