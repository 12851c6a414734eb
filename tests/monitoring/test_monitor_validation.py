"""Monitoring input is validated at the call, and rows buffered at exit are stored.

Issue 12: ``log_feedback``/``log_predictions`` took a list, an object, None or a megabyte as
a row id, and rows still buffered in a monitor's open window were lost when the interpreter
exited.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.monitoring.monitor import get_monitor, monitor
from tests.reliability.faults import record

from .conftest import FEATURES, make_frame, truth

N = 4
HOSTILE_IDS = {
    "None": [None] * N,
    "lists": [[1]] * N,
    "dicts": [{"a": 1}] * N,
    "floats": [1.5, 2.5, 3.5, 4.5],
    "bools": [True, False, True, False],
    "too long": ["x" * 257, "a", "b", "c"],
    "empty": ["", "a", "b", "c"],
    "beyond int64": [2**63, 1, 2, 3],
    "numpy uint64 beyond int64": np.array([2**63, 1, 2, 3], dtype=np.uint64),
    "lone surrogate": ["\udcff", "a", "b", "c"],
    "NUL": ["a\x00", "b", "c", "d"],
    "a string, not a list": "abcd",
    "a dict": {"a": 1, "b": 2, "c": 3, "d": 4},
    "too few": ["a", "b", "c"],
    "too many": ["a", "b", "c", "d", "e"],
    "a megabyte": ["x" * 1_000_000, "a", "b", "c"],
}


@pytest.fixture
def mon(client, registered, reference):
    return monitor("clf@champion", reference=reference, window=1000, client=client)


@pytest.mark.parametrize("case", sorted(HOSTILE_IDS))
def test_hostile_prediction_ids_are_refused_and_buffer_nothing(mon, model, case):
    cur = make_frame(N, seed=3)
    with pytest.raises(InvalidInputError) as refused:
        mon.log_predictions(cur, model.predict(cur[FEATURES]), ids=HOSTILE_IDS[case])
    text = str(refused.value)
    assert text and "\n" not in text and len(text) < 400, text
    assert mon._buffered == 0 and mon.predictions_logged == 0
    record("hostile-monitor-id", inputs=1)


@pytest.mark.parametrize("case", sorted(HOSTILE_IDS))
def test_hostile_feedback_ids_are_refused(mon, case):
    with pytest.raises(InvalidInputError):
        mon.log_feedback(HOSTILE_IDS[case], [0, 1, 0, 1])
    assert mon.feedback_logged == 0


@pytest.mark.parametrize("timestamp", [math.nan, math.inf, -1.0, 1e15, "yesterday-ish",
                                       np.array([1.7e9, math.nan, 1.7e9, 1.7e9])])
def test_bad_timestamps_are_refused(mon, model, timestamp):
    cur = make_frame(N, seed=3)
    with pytest.raises(InvalidInputError, match="timestamp"):
        mon.log_predictions(cur, model.predict(cur[FEATURES]), timestamp=timestamp)
    assert mon._buffered == 0
    if not isinstance(timestamp, (str, np.ndarray)):
        with pytest.raises(InvalidInputError, match="timestamp"):
            mon.log_feedback(["a"], [1], timestamp=timestamp)


def test_good_ids_of_every_kind_are_accepted(mon, model):
    cur = make_frame(N, seed=3)
    preds = model.predict(cur[FEATURES])
    mon.log_predictions(cur, preds, ids=["a", "b", "c", "d"])
    mon.log_predictions(cur, preds, ids=[1, -(2**63), 2**63 - 1, np.int64(4)])
    mon.log_predictions(cur, preds, ids=np.arange(10, 14))
    mon.log_predictions(cur, preds, ids=["a", "e", "f", "g"])  # "a" again: the last wins
    window = mon.flush()
    assert window.rows == 4 * N
    quality = mon.log_feedback(["a", "1", str(2**63 - 1), 10], [1, 0, 1, 0])
    assert list(quality) == [window.seq]


@pytest.mark.slow  # a child process imports the package and opens the store
def test_rows_buffered_at_interpreter_exit_are_stored(client, mon, model, subprocess_env,
                                                      tmp_path):
    cur = make_frame(10, seed=5)
    data = tmp_path / "rows.json"
    data.write_text(json.dumps({"frame": cur.to_dict(orient="list"),
                                "preds": model.predict(cur[FEATURES]).tolist(),
                                "ids": [f"exit-{i}" for i in range(10)]}))
    child = (
        "import json, sys\n"
        "import pandas as pd\n"
        "from jupyter_mlops.client import Client\n"
        "from jupyter_mlops.monitoring.monitor import get_monitor\n"
        "d = json.load(open(sys.argv[1]))\n"
        "mon = get_monitor('clf@champion', client=Client())\n"
        "assert mon.log_predictions(pd.DataFrame(d['frame']), d['preds'], ids=d['ids']) == []\n"
        "print('buffered', mon._buffered)\n"  # fewer rows than the window: nothing stored yet
    )
    done = subprocess.run([sys.executable, "-c", child, str(data)], env=subprocess_env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "buffered 10" in done.stdout
    again = get_monitor("clf@champion", client=client)
    [window] = again.windows()
    assert window.rows == 10
    # The rows' predictions were stored under their ids: feedback joins them.
    assert list(again.log_feedback([f"exit-{i}" for i in range(10)], truth(cur))) == [window.seq]
    record("monitor-exit-flush", lost=10 - window.rows, checked=10)
