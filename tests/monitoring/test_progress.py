"""Monitoring feedback for the impatient: a window that has not closed says how full it is."""

from __future__ import annotations

import numpy as np
from IPython.lib.pretty import pretty

from jupyter_mlops.monitoring.monitor import LoggedWindows, buffered_progress, monitor

from .conftest import FEATURES, make_frame


def test_a_few_rows_say_how_many_the_window_holds(client, registered, reference, model):
    mon = monitor("clf@champion", reference=reference, client=client)  # 1,000-row windows
    assert mon.progress() == "window 0/1000 rows"
    cur = make_frame(37, seed=3)
    closed = mon.log_predictions(cur, model.predict(cur[FEATURES]))
    assert isinstance(closed, LoggedWindows) and closed == [] and len(closed) == 0
    line = "window 37/1000 rows; flush() to close it now"
    assert repr(closed) == str(closed) == pretty(closed) == line
    assert buffered_progress(mon.id) == [line]
    window = mon.flush()
    assert window.rows == 37 and mon.progress() == "window 0/1000 rows"
    assert buffered_progress(mon.id) == []


def test_closed_windows_are_named_before_the_open_one(client, registered, reference, model):
    mon = monitor("clf@champion", reference=reference, window=100, client=client)
    cur = make_frame(250, seed=4, shift=1.0)
    closed = mon.log_predictions(cur, model.predict(cur[FEATURES]))
    assert [w.rows for w in closed] == [100, 100]
    text = repr(closed)
    assert text.startswith("closed window 1 (100 rows, ")
    assert "closed window 2 (100 rows, " in text
    assert text.endswith("window 50/100 rows; flush() to close it now")
    mon.flush()


def test_time_windows_say_when_they_close(client, registered, reference):
    mon = monitor("clf@champion", reference=reference, window="1h", client=client)
    assert "closes every 3600 s" in mon.progress()
    t0 = 1_800_000_000.0 - (1_800_000_000.0 % 3600)
    closed = mon.log_predictions(make_frame(5, seed=5), timestamp=np.full(5, t0 + 10))
    assert repr(closed).startswith("window 5 rows, closes with the first row stamped after ")
    assert repr(closed).endswith("(every 3600 s); flush() to close it now")
    mon.flush()


def test_windows_and_reports_print_as_text(client, registered, reference, model):
    """print(window) and print(mon.report()) in a terminal: short text, not dataclass dumps."""
    mon = monitor("clf@champion", reference=reference, window=100, client=client)
    assert "no window has closed yet" in str(mon.report())
    cur = make_frame(100, seed=5, shift=1.0)
    (window,) = mon.log_predictions(cur, model.predict(cur[FEATURES]))
    line = str(window)
    assert line.startswith("window 1: 100 rows (") and "columns drifted" in line
    assert "\n" not in line and "summary" not in line
    text = str(mon.report())
    assert text.splitlines()[0].endswith("on clf@champion: 1 window(s), 0 alert(s)"), text
    assert f"latest {line}" in text
    for feature in FEATURES:  # the latest verdicts, one row per feature
        assert feature in text
    assert "MonitorReport(" not in text and "WindowRecord(" not in text
