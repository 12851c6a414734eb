"""Digits typed by a user become an int in one place: validation.parse_int.

Before, several front doors checked ``str.isdigit()`` and then called ``int()``: ``"²"`` (and
every other Unicode digit) passes the first and makes the second raise ValueError, and 20
ASCII digits pass both and overflow the database's int64 column. Now each of those paths
answers with one InvalidInputError line (or NotFoundError when the number is valid but
names nothing); never ValueError or OverflowError.
"""

from __future__ import annotations

import string
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_mlops.errors import InvalidInputError, NotFoundError, exit_code_for
from jupyter_mlops.validation import INT64_MAX, INT64_MIN, parse_int
from tests.reliability.faults import record

#: Unicode decimal digits (Nd: "٣", "७", fullwidth "５"…) and other digits (No: "²", "①"),
#: mixed with ASCII digits, signs and lengths far beyond int64.
unicode_digits = st.text(
    alphabet=st.one_of(st.characters(categories=["Nd", "No"]),
                       st.sampled_from(string.digits + "+-")),
    min_size=1, max_size=40)
huge = st.integers(min_value=INT64_MAX + 1, max_value=10**40).map(str)
hostile = st.one_of(unicode_digits, huge, st.text(max_size=25))


@given(hostile)
def test_parse_int_only_ever_raises_invalid_input(text):
    try:
        value = parse_int(text, "number")
    except InvalidInputError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    # Accepted: exactly what an ASCII decimal integer in int64 means.
    assert set(text.lstrip("+-")) <= set(string.digits) and text.lstrip("+-")
    assert INT64_MIN <= value <= INT64_MAX and value == int(text)


@pytest.mark.parametrize("text, value", [("0", 0), ("007", 7), ("-12", -12), ("+3", 3),
                                         (str(INT64_MAX), INT64_MAX),
                                         (str(INT64_MIN), INT64_MIN)])
def test_parse_int_accepts_ascii_integers(text, value):
    assert parse_int(text, "number") == value


@pytest.mark.parametrize("text", ["²", "٣", "５", "", "-", "1 ", " 1", "1_000", "0x10",
                                  str(INT64_MAX + 1), str(INT64_MIN - 1), "1" * 5000])
def test_parse_int_refuses_with_one_line_naming_the_field(text):
    with pytest.raises(InvalidInputError, match="the widget count|The widget count") as info:
        parse_int(text, "widget count", 0, INT64_MAX)
    assert "\n" not in str(info.value) and len(str(info.value)) < 400


def test_parse_int_range_is_inclusive():
    assert parse_int("1", "n", 1, 5) == 1 and parse_int("5", "n", 1, 5) == 5
    for text in ("0", "6", "-1"):
        with pytest.raises(InvalidInputError, match="outside 1..5"):
            parse_int(text, "n", 1, 5)


def _clean(call) -> None:
    """Run ``call``: it may refuse (InvalidInputError) or find nothing (NotFoundError)."""
    try:
        call()
    except (InvalidInputError, NotFoundError) as exc:
        assert "\n" not in str(exc).strip(), str(exc)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hostile)
def test_every_int_parsing_front_door_refuses_cleanly(client, text):
    """The call sites that used ``isdigit()`` + ``int()``, through their Python API."""
    from jupyter_mlops.monitoring.windows import parse_window
    from jupyter_mlops.pipelines.cron import CronExpression
    from jupyter_mlops.registry.api import parse_model_ref
    from jupyter_mlops.store.engine import read_connection
    from jupyter_mlops.store.lineage import LineageStore
    from jupyter_mlops.store.pipelines import PipelineStore

    if "/" in text or "@" in text:
        text = text.replace("/", "").replace("@", "") or "1"
    _clean(lambda: parse_model_ref(f"models:/m/{text}"))
    _clean(lambda: client.registry.get_version("m", text))
    _clean(lambda: client.registry.resolve(f"models:/m/{text}"))
    _clean(lambda: PipelineStore(client.store.url).get_schedule(text))
    _clean(lambda: parse_window(text))
    _clean(lambda: parse_window(f"{text}rows"))
    _clean(lambda: CronExpression(f"{text} * * * *").next_after(0))
    _clean(lambda: CronExpression(f"*/{text} * * * *").next_after(0))
    with read_connection(client.store.url) as conn:
        labels = LineageStore._labels(conn, {f"dataset:{text}", f"artifact:{text}"})
    assert labels == {}  # no row has such an id; before, int() raised or overflowed
    record("parse-int", inputs=1)


@pytest.mark.slow  # one CLI subprocess per input: 30 s at load ~25
def test_the_cli_answers_one_line_and_the_table_exit_code(client, subprocess_env, store_url,
                                                          artifact_root):
    """The CLI reaches the same code: no traceback, InvalidInputError's exit code."""
    for version in ("²", "99999999999999999999"):
        done = subprocess.run(
            [sys.executable, "-m", "jupyter_mlops.cli", "--tracking-uri", store_url,
             "--artifact-root", artifact_root, "models", "show", "m", version],
            env=subprocess_env, capture_output=True, text=True, timeout=300)
        assert "Traceback" not in done.stderr, done.stderr
        if version == "²":  # not ASCII digits: an alias name, and there is no such alias
            assert done.returncode == exit_code_for(NotFoundError("x")), done.stderr
        else:
            assert done.returncode == exit_code_for(InvalidInputError("x")), done.stderr
            assert "outside" in done.stderr + done.stdout
        record("parse-int-cli", inputs=1)
