"""Counting what the hardening tests do: faults injected, hostile inputs tried, anything lost.

When ``MLOPS_FAULT_LOG`` names a file, :func:`record` appends one JSON line per call::

    {"test": "tests/reliability/test_crash.py::test_…[1]", "kind": "sigkill",
     "faults": 1, "inputs": 0, "lost": 0, "checked": 1000}

``faults``: faults injected (a SIGKILL, an ENOSPC…); ``inputs``: hostile or random inputs
tried (fuzz examples, refused requests…); ``lost``: data that should have survived and did
not, *measured* before the test asserts it is zero (so a failing run still logs what it
lost); ``checked``: items verified afterwards (points, rows, blobs). Without the variable
nothing is written. ``benchmarks/faults_bench.py`` runs the tests with it set and sums the
lines.
"""

from __future__ import annotations

import json
import os

LOG_ENV = "MLOPS_FAULT_LOG"


def record(kind: str, *, faults: int = 0, inputs: int = 0, lost: int = 0, checked: int = 0,
           **extra) -> None:
    path = os.environ.get(LOG_ENV)
    if not path:
        return
    test = os.environ.get("PYTEST_CURRENT_TEST", "?").rsplit(" (", 1)[0]
    line = json.dumps({"test": test, "kind": kind, "faults": faults, "inputs": inputs,
                       "lost": lost, "checked": checked, **extra}, default=str)
    # One short write with O_APPEND: lines from parallel processes never interleave.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)
