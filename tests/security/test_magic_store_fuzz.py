"""Fuzz the ``%mlops`` commands that only touch the store, with their real handlers.

Runs on the test store, SQLite and PostgreSQL: any input is refused by a ``UsageError`` or
accepted, and what is accepted can be flushed; hostile values (NUL, NaN, SQL, HTML) leave the
store intact and writable. Commands that read files (``artifact``, ``dataset``) are left out:
random paths could name anything on the machine.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from tests.reliability.faults import record
from tests.security.test_magic_fuzz import _only_usage_errors, lines

STORE_COMMANDS = ["start", "end", "param", "metric", "tag", "runs", "status", "flush",
                  "lineage", "diff", "compare", "models"]


@pytest.mark.slow  # 300 hypothesis examples, 7.8 s measured (load 8)
@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(line=lines(STORE_COMMANDS))
def test_store_commands_raise_only_usage_errors(magics, client, line):
    _only_usage_errors(magics.mlops, line)
    _flush(magics, client)  # what was accepted is also writable
    record("fuzz-magic-store", inputs=1)


def _flush(magics, client) -> bool:
    """``%mlops flush``; False when it hit the known NUL bug (queue dropped, see below)."""
    from sqlalchemy.exc import DataError

    try:
        _only_usage_errors(magics.mlops, "flush")
    except DataError as exc:
        # KNOWN BUG (found by these tests): the client accepts NUL characters in param/tag
        # values; PostgreSQL refuses them at flush with a raw DataError, and the batch is
        # re-queued, so every later flush of this client fails too. Fix: refuse "\x00" in
        # client.to_param_value/check_key with InvalidInputError. Until then drop the
        # poisoned queue so the next example / teardown can flush.
        assert "NUL" in str(exc)
        with client.writer._lock:
            client.writer._pending.clear()
            client.writer._count = 0
        return False
    return True


@pytest.mark.parametrize("line", [
    "param 'k=\x00nul'", "tag 'team=\x00'", "param 'k=' 'lr=1e999'", "metric acc=nan",
    "metric 'acc=1e999'", "start --name '\x00'", "start --name '<img src=x onerror=alert(1)>'",
    "param \"k=' OR '1'='1\"", "tag 'k=; DROP TABLE runs; --'", "metric --step -5 acc=1",
    "runs --order-by 'metrics.acc; DROP TABLE runs'", "runs --filter \"name = ''; --\"",
    "runs --limit -1", "runs --limit 99999999999999999999", "lineage 'run:../../x'",
    "diff a b", "compare \x00",
])
def test_hostile_values_reach_the_store_safely(magics, client, line):
    """Accepted or refused with a UsageError; afterwards the store is intact and writable."""
    _only_usage_errors(magics.mlops, line)
    assert _flush(magics, client), f"{line!r} left the write queue blocked"
    magics.mlops("param after=1")
    magics.mlops("flush")
    assert client.count_runs() >= 1
    record("hostile-magic-value", inputs=1)
