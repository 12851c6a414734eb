"""The shared request-body parser (jupyter_mlops.request_body) on its own, with random input.

Its depth count is compared with a plain recursive measure of the decoded value, and its
verdicts with ``json.loads`` plus a straightforward walk: whatever hypothesis generates
(nesting, strings full of brackets, quotes and backslashes, surrogates, huge integers), the
parser accepts exactly the bodies that are valid JSON within the limits, returns what
``json.loads`` returns, and otherwise raises InvalidInputError naming the field or limit.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.request_body import (
    BodyLimits,
    BodyTooLargeError,
    JsonSyntaxError,
    nesting_exceeds,
    parse_json_body,
)

LIMITS = BodyLimits(max_bytes=1 << 20, max_depth=8, raise_bytes="raise the size",
                    raise_depth="raise the depth")


def depth(value) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


def problems(value) -> set[str]:
    """Everything the parser must refuse in a decoded value: the reference, written plainly."""
    found: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if any(0xD800 <= ord(c) <= 0xDFFF for c in k):
                found.add("surrogate")
            found |= problems(v)
    elif isinstance(value, list):
        for v in value:
            found |= problems(v)
    elif isinstance(value, str):
        if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
            found.add("surrogate")
    elif isinstance(value, bool) or value is None:
        pass
    elif isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            found.add("int64")
    elif isinstance(value, float) and not math.isfinite(value):
        found.add("nonfinite")
    return found


def reference_depth(raw: bytes) -> int:
    """The deepest nesting a left-to-right JSON reader can reach in ``raw`` before it must
    fail: brackets outside strings, up to the first closing bracket without an opener."""
    level = best = 0
    in_string = escaped = False
    for c in raw:
        if in_string:
            if escaped:
                escaped = False
            elif c == ord("\\"):
                escaped = True
            elif c == ord('"'):
                in_string = False
        elif c == ord('"'):
            in_string = True
        elif c in b"[{":
            level += 1
            best = max(best, level)
        elif c in b"]}":
            level -= 1
            if level < 0:
                break
    return best


TRICKY = st.sampled_from(['"', "\\", "[", "]", "{", "}", "\\u", "\udcff", "\ud800", "\x00",
                          "\U0001f600", "é", ",", ":"])
text = st.lists(TRICKY | st.characters(exclude_categories=()), max_size=8).map("".join)
numbers = (st.integers(min_value=-(2**66), max_value=2**66)
           | st.sampled_from([2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 10**400])
           | st.floats(allow_nan=True, allow_infinity=True))
values = st.recursive(st.none() | st.booleans() | numbers | text,
                      lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(text, inner, max_size=3), max_leaves=20)


RAW_PIECES = st.lists(st.sampled_from(
    [b"[", b"]", b"{", b"}", b'"', b"\\", b"\\\\", b'\\"', b",", b"1", b":", b"\xff", b" "]),
    max_size=300).map(b"".join)


MESSAGES = {"depth": "nesting-depth limit", "surrogate": "not UTF-8",
            "int64": "64-bit integer range", "nonfinite": "not JSON"}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=values, ascii_only=st.booleans())
def test_verdicts_match_json_loads_and_a_plain_walk(value, ascii_only):
    # Without ensure_ascii a lone surrogate is written as raw (invalid UTF-8) bytes.
    raw = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    decoded = json.loads(raw.decode("utf-8", "surrogatepass"))
    expect = {"depth"} if depth(decoded) > LIMITS.max_depth else problems(decoded)
    try:
        got = parse_json_body(raw, LIMITS)
    except InvalidInputError as exc:
        assert expect, (raw, str(exc))
        assert any(MESSAGES[kind] in str(exc) for kind in expect), (expect, str(exc))
    else:
        assert not expect, (raw, expect)
        assert json.dumps(got, sort_keys=True) == json.dumps(decoded, sort_keys=True)


@settings(max_examples=300, deadline=None)
@given(value=values, limit=st.integers(1, 12))
def test_depth_count_is_exact_on_valid_json(value, limit):
    from unittest import mock

    from jupyter_mlops import request_body

    raw = json.dumps(value).encode("utf-8", "surrogatepass")
    assert nesting_exceeds(raw, limit) == (depth(value) > limit)
    with mock.patch.object(request_body, "_CHUNK", 3):  # the running sum across chunks
        assert nesting_exceeds(raw, limit) == (depth(value) > limit)


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=200) | RAW_PIECES)
def test_garbage_never_escapes_as_another_error(raw):
    """Any bytes at all: a value or InvalidInputError, never RecursionError or ValueError."""
    try:
        parse_json_body(raw, LIMITS)
    except InvalidInputError:
        pass


@settings(max_examples=500, deadline=None)
@given(raw=RAW_PIECES, limit=st.integers(1, 12))
def test_malformed_bodies_are_never_counted_too_shallow(raw, limit):
    """Whatever a JSON reader could reach before failing is counted: too deep at worst."""
    if reference_depth(raw) > limit:
        assert nesting_exceeds(raw, limit)


def test_limits_are_named_with_how_to_raise_them():
    with pytest.raises(BodyTooLargeError, match=r"2,000,000 bytes.*1,048,576.*raise the size"):
        parse_json_body(b" " * 2_000_000, LIMITS)
    with pytest.raises(InvalidInputError, match="more than 8 levels.*raise the depth"):
        parse_json_body(b"[" * 100_000 + b"]" * 100_000, LIMITS)
    with pytest.raises(InvalidInputError, match="more than 8 levels"):
        parse_json_body(b"[" * 9 + b"]" * 9, LIMITS)
    assert parse_json_body(b"[" * 8 + b"]" * 8, LIMITS) == [[[[[[[[]]]]]]]]
    with pytest.raises(JsonSyntaxError, match="line 1 column 2"):
        parse_json_body(b"{,}", LIMITS)


def test_brackets_in_strings_and_escapes_do_not_count():
    deep_text = '"' + "[" * 50 + '\\"' + "{" * 50 + "\\\\" + '"'
    assert parse_json_body(f'{{"a": {deep_text}}}'.encode(), LIMITS) == {
        "a": "[" * 50 + '"' + "{" * 50 + "\\"}


def test_fields_are_named_and_long_or_odd_keys_are_cut():
    with pytest.raises(InvalidInputError, match=r"^tags\.note is not UTF-8"):
        parse_json_body(b'{"tags": {"note": "\\udcff"}}', LIMITS)
    with pytest.raises(InvalidInputError, match=r"^ids\[2\] is 18446744073709551616"):
        parse_json_body(b'{"ids": [1, 2, 18446744073709551616]}', LIMITS)
    with pytest.raises(InvalidInputError, match=r"^x\ufffdy\.z is NaN"):
        parse_json_body(b'{"x\\ny": {"z": NaN}}', LIMITS)
    with pytest.raises(InvalidInputError) as info:
        parse_json_body(b'{"' + b"k" * 500 + b'": 1e999}', LIMITS)
    assert str(info.value).startswith("k" * 64 + "… is a number too large")


def test_nan_passes_where_allowed():
    limits = BodyLimits(1 << 20, 8, "", "", allow_nan=True)
    out = parse_json_body(b"[NaN, Infinity, -Infinity, 1e999]", limits)
    assert math.isnan(out[0]) and out[1:] == [math.inf, -math.inf, math.inf]
    with pytest.raises(InvalidInputError, match=r"^\[0\] is"):
        parse_json_body(b"[" + b"9" * 30 + b"]", limits)
