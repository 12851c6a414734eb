"""The validation layer seen from a notebook: a refused value is one UsageError line.

Issue 12: ``%mlops metric x=1 --step 9223372036854775808`` used to be accepted and then fail
every later flush of the kernel. Now the call is refused with one line, and values logged
before and after it are stored.
"""

from __future__ import annotations

import pytest

from tests.notebook.conftest import text_of


@pytest.mark.slow  # starts a kernel
def test_values_beyond_int64_are_one_line_and_block_nothing(run_magics, read_client):
    executed = run_magics(
        "%mlops metric acc=0.5",
        "%mlops metric x=1 --step 9223372036854775808",
        "%mlops metric x=1 --step -9223372036854775809",
        "%mlops metric x=1e400 --step 3",
        "%mlops metric acc=0.75",
    )
    for cell in executed.cells[2:4]:
        out = text_of(cell).strip()
        assert out.startswith("UsageError"), out
        assert "64-bit integer range" in out and "\n" not in out, out
    [run] = read_client.search_runs()
    assert [(p.step, p.value) for p in read_client.metric_history(run.id, "acc")] == \
        [(0, 0.5), (1, 0.75)]
    # 1e400 parses as inf: an accepted value, stored as such.
    assert [(p.step, p.value) for p in read_client.metric_history(run.id, "x")] == \
        [(3, float("inf"))]
