"""Buffered logging of metrics, params and tags: the hot path of tracking.

Values are validated here, where they enter; the :class:`BatchWriter` makes them durable in
batches, and rows the store still refuses at write time go to the dead-letter file.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from jupyter_mlops.client.inputs import as_mapping
from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.validation import (
    INT64_MAX,
    INT64_MIN,
    check_key,
    check_run_id,
    check_step,
    check_timestamp,
    to_metric_value,
    to_param_value,
)

if TYPE_CHECKING:
    from jupyter_mlops.store import Store
    from jupyter_mlops.tracking.buffer import BatchWriter
    from jupyter_mlops.tracking.dead_letter import DeadLetterFile, ReplayReport


class MetricsLogging:
    """Metric, param and tag logging of the tracking facet (mixed into RunsClient)."""

    store: Store
    writer: BatchWriter
    _steps: dict[tuple[str, str], int]
    _checked_keys: set[str]
    _checked_runs: set[str]
    _steps_lock: threading.Lock

    def log_metric(self, run_id: str, key: str, value: Any, step: int | None = None,
                   timestamp: float | None = None) -> None:
        """Queue one metric point; invalid input raises InvalidInputError here, never at flush.

        Raises
        ------
        InvalidInputError
            A malformed run id or key, a value that is not a number (or beyond the float
            range), a step outside int64, or a timestamp outside 1970..9999 (epoch seconds).
        """
        # Hot path (≈ µs): exact-type fast paths first, full validation only for the rest.
        if type(run_id) is not str or run_id not in self._checked_runs:
            self._checked_runs.add(check_run_id(run_id))
        if type(key) is not str or key not in self._checked_keys:
            self._checked_keys.add(check_key(key, "metric name"))
        v = value if type(value) is float else to_metric_value(key, value)
        if type(step) is int and INT64_MIN <= step < INT64_MAX:
            # One dict store is atomic under the GIL: no lock needed for explicit steps.
            self._steps[(run_id, key)] = step + 1
        else:
            step = self._next_step(run_id, key, step)
        self.writer.add_metric(run_id, key, v, step,
                               time.time() if timestamp is None else check_timestamp(timestamp))

    def log_metrics(self, run_id: str, metrics: Mapping[str, Any], step: int | None = None,
                    timestamp: float | None = None) -> None:
        """Queue several metrics at one step; one invalid entry refuses them all."""
        if type(run_id) is not str or run_id not in self._checked_runs:
            self._checked_runs.add(check_run_id(run_id))
        ts = time.time() if timestamp is None else check_timestamp(timestamp)
        known = self._checked_keys
        rows = []
        for k, val in as_mapping(metrics, "metrics").items():  # validate all: a bad one logs none
            if type(k) is not str or k not in known:
                known.add(check_key(k, "metric name"))
            rows.append((k, val if type(val) is float else to_metric_value(k, val)))
        if type(step) is int and INT64_MIN <= step < INT64_MAX:
            steps = self._steps
            for k, _v in rows:
                steps[(run_id, k)] = step + 1
            self.writer.add_metrics(run_id, [(k, v, step, ts) for k, v in rows])
        else:
            if step is not None:
                step = check_step(step)
            self.writer.add_metrics(run_id, [(k, v, self._next_step(run_id, k, step), ts)
                                             for k, v in rows])

    def _next_step(self, run_id: str, key: str, step: int | None) -> int:
        """Default steps count up per series (0, 1, 2…) so curves plot without bookkeeping."""
        if step is not None:
            step = check_step(step)
        with self._steps_lock:
            s = self._steps.get((run_id, key), 0) if step is None else step
            if s > INT64_MAX:
                raise InvalidInputError(
                    f"The next automatic step of metric {key!r} would pass the 64-bit integer "
                    f"range (the last step logged was {INT64_MAX}); pass step= explicitly.")
            self._steps[(run_id, key)] = s + 1
        return s

    def log_param(self, run_id: str, key: str, value: Any) -> None:
        self.log_params(run_id, {key: value})

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        """Queue params (text up to 6,000 characters); one invalid entry refuses them all."""
        check_run_id(run_id)
        clean = {check_key(k, "param name"): to_param_value(k, v, "param")
                 for k, v in as_mapping(params, "params").items()}
        self.writer.add_params(run_id, clean)

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        self.set_tags(run_id, {key: value})

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        """Queue tags (text up to 6,000 characters); one invalid entry refuses them all."""
        check_run_id(run_id)
        clean = {check_key(k, "tag key"): to_param_value(k, v, "tag")
                 for k, v in as_mapping(tags, "tags").items()}
        self.writer.add_tags(run_id, clean)

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove one tag; NotFoundError if the run does not have it."""
        check_run_id(run_id)
        self.writer.flush()  # a queued set_tag of the same key must not land afterwards
        self.store.runs.delete_tag(run_id, check_key(key, "tag key"))

    def flush(self) -> None:
        """Make everything logged so far durable (autologging's file writes included)."""
        autolog_writes = sys.modules.get("jupyter_mlops.tracking.autolog.deferred")
        if autolog_writes is not None:
            autolog_writes.drain()
        self.writer.flush()

    def dead_letter(self) -> DeadLetterFile:
        """The file where rows the store refused at write time were set aside.

        ``dead_letter().rows()`` lists them; see :mod:`jupyter_mlops.tracking.dead_letter`.
        """
        return self.writer.dead_letter_file()

    def replay_dead_letter(self, drop: bool = False) -> ReplayReport:
        """Re-validate the rows set aside and write those the store now accepts.

        Rows still refused stay in the file, or are removed with ``drop=True``.
        """
        return self.dead_letter().replay(self.store.runs, drop=drop)
