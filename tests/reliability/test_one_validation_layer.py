"""`%mlops metric` accepts exactly what the Python API accepts: one validation layer.

The magic used to keep its own numeric check (int or float, or anything with ``shape == ()``),
which let through values the API then refused — *after* the magic had started a run for them
— and named the problem differently. It now asks :mod:`jupyter_mlops.validation`, before any
run is started.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from jupyter_mlops import fluent
from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.notebook.magics import MlopsMagics
from jupyter_mlops.validation import check_key, to_metric_value
from tests.reliability.faults import record


class _Huge:
    """A number type whose float() overflows (like a huge Decimal or Fraction)."""

    shape = ()

    def __float__(self):
        raise OverflowError("too big")


VALUES = {
    "good_float": 0.5, "good_int": 3, "good_nan": math.nan, "np_scalar": np.float32(0.25),
    "zero_d": np.array(1.5), "text": "high", "flag": True, "none": None, "listed": [1.0],
    "huge_int": 10**400, "huge_object": _Huge(), "complex_value": 1j,
}


@pytest.fixture
def magics(client):
    shell = InteractiveShell.instance()
    try:
        yield MlopsMagics(shell)
    finally:
        while fluent.active_run() is not None:
            fluent.end_run()


@pytest.mark.parametrize("name", sorted(VALUES))
def test_metric_magic_refuses_exactly_what_the_api_refuses(magics, client, name):
    magics.shell.user_ns[name] = VALUES[name]
    try:
        check_key(name, "metric name")
        to_metric_value(name, VALUES[name])
        api_accepts = True
    except InvalidInputError:
        api_accepts = False
    if api_accepts:
        magics.mlops(f"metric {name}")
        fluent.flush()
        [run] = client.search_runs()
        assert name in client.get_run(run.id).metrics
    else:
        with pytest.raises(UsageError, match=f"Metric '{name}'.*Usage: %mlops metric") as info:
            magics.mlops(f"metric {name}")
        assert "\n" not in str(info.value)
        # Refused before a run was started for it (the magic's own check let 10**400 and
        # a huge __float__ through, so a run was created and then the API refused).
        assert fluent.active_run() is None and client.search_runs() == []
    record("magic-metric-validation", inputs=1)


def test_metric_magic_keeps_its_usage_message(magics):
    with pytest.raises(UsageError, match="must be a number, got 'high'"):
        magics.mlops("metric acc='high'")
