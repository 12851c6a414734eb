"""One JSON body parser for every untrusted request body: the REST handlers and the model server.

``json.loads`` alone lets one request hurt the server: a 100,000-deep array exhausts the
parser's recursion (``RecursionError`` → 500), ``"\\udcff"`` decodes to a lone surrogate that
no database driver can encode (so the write fails later, far from the request), an integer
of 30 digits overflows a 64-bit column, and a megabyte of digits costs quadratic time to
convert. :func:`parse_json_body` refuses all of these at the door, with an error that names
the field (``tags.note``, ``ids[3]``) or the limit and how to raise it:

* **size** in bytes, checked before anything is decoded (:class:`BodyTooLargeError`, 413);
* **nesting depth**, counted without recursion (and without parsing) on the raw bytes;
* **text**: strict UTF-8, and no lone surrogates in any string or object key;
* **numbers**: integers within int64; with ``allow_nan=False`` no ``NaN``/``Infinity``
  literals and no float that overflows to infinity (``1e999``).

Well-formed bodies pay for a few C-level scans (``bytes.count``, one regex search); the
field-by-field walk runs only when a scan saw something suspicious. It sits below both front
doors that read bodies (``server/`` and ``serving/``, which may not import each other) and
needs only the standard library, :mod:`jupyter_mlops.errors` and the int64 bounds of
:mod:`jupyter_mlops.validation` (NumPy for very bracket-heavy bodies).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from typing import Any

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.validation import INT64_MAX, INT64_MIN

#: Structure only: brackets become ``{``/``}``, quotes stay, every other byte goes.
_BRACKETS = bytes.maketrans(b"[]", b"{}")
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')
#: A string's remains once only structure bytes are left.
_QUOTED = re.compile(rb'"[^"]*"')
#: Digits become ``0`` and ``E`` becomes ``e`` (signs are deleted), so one substring search
#: finds a run of 19+ digits (int64 has 19) or a 3-digit exponent.
_DIGITS = bytes.maketrans(b"0123456789E", b"0000000000e")
_LONG_DIGITS = b"0" * 19
_BIG_EXPONENT = b"e000"
#: A surrogate written as a JSON escape (a valid pair decodes to one astral character; only
#: lone halves survive into strings, and the walk tells them apart).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
#: Depth is summed over this many bytes at a time (bounded scratch memory).
_CHUNK = 1 << 20


class BodyTooLargeError(InvalidInputError):
    """The request body is larger than the configured limit (HTTP 413)."""


class JsonSyntaxError(InvalidInputError):
    """The body is not JSON; ``detail`` is the decoder's own account (line and column)."""

    def __init__(self, detail: str):
        self.detail = detail
        super().__init__(f"The request body is not valid JSON: {detail}.")


@dataclasses.dataclass(frozen=True)
class BodyLimits:
    """Limits of one front door, with the advice each error gives to raise them.

    ``raise_bytes`` / ``raise_depth`` complete "… to accept more, …": e.g.
    ``"set c.MlopsExtension.max_body_bytes"``.
    """

    max_bytes: int
    max_depth: int
    raise_bytes: str
    raise_depth: str
    #: Accept Python's ``NaN``/``Infinity`` literals (the model server: Python clients send them).
    allow_nan: bool = False


def parse_json_body(body: bytes, limits: BodyLimits) -> Any:
    """Decode ``body`` as JSON within ``limits``.

    Returns
    -------
    The decoded value (any JSON type; callers check the shape they expect).

    Raises
    ------
    BodyTooLargeError
        More than ``limits.max_bytes`` bytes.
    InvalidInputError
        Not JSON, not UTF-8, nested deeper than ``limits.max_depth``, or holding a lone
        surrogate, an integer outside int64 or (unless ``allow_nan``) a non-finite number;
        the message names the field where it can.
    """
    if len(body) > limits.max_bytes:
        raise BodyTooLargeError(
            f"The request body is {len(body):,} bytes; the limit is {limits.max_bytes:,} "
            f"bytes. Send less per request, or to accept more, {limits.raise_bytes}.")
    depth = nesting_exceeds(body, limits.max_depth)
    if depth:
        raise InvalidInputError(
            f"The request body nests JSON arrays/objects more than {limits.max_depth} levels "
            f"deep (the nesting-depth limit). Flatten it, or to accept deeper, "
            f"{limits.raise_depth}.")
    try:
        text = body.decode("utf-8")
        bad_bytes = False
    except UnicodeDecodeError:
        # Keep going with the bad bytes as lone surrogates, so the walk can name the field.
        text = body.decode("utf-8", "surrogateescape")
        bad_bytes = True
    suspicious_text = bad_bytes or _SURROGATE_ESCAPE.search(body) is not None
    probe = body.translate(_DIGITS, b"+-")
    big = _LONG_DIGITS in probe or _BIG_EXPONENT in probe
    constants = not limits.allow_nan and (b"NaN" in body or b"Infinity" in body)
    hooks: dict[str, Any] = {}
    if big:
        hooks["parse_int"] = _checked_int
    if constants:
        hooks["parse_constant"] = _Refused
    try:
        value = json.loads(text, **hooks)
    except RecursionError:  # only if a caller set max_depth above Python's recursion limit
        raise InvalidInputError(
            "The request body nests JSON too deeply to decode; flatten it.") from None
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        if bad_bytes:  # the invalid bytes stand outside any string
            raise _not_utf8("the body") from None
        raise JsonSyntaxError(str(exc)) from None
    if suspicious_text or big or constants:
        _walk(value, check_text=suspicious_text, check_numbers=big or constants,
              allow_nan=limits.allow_nan)
    return value


def nesting_exceeds(body: bytes, limit: int) -> bool:
    """Whether ``body``'s arrays/objects nest more than ``limit`` deep (no recursion).

    Brackets inside strings do not count. Linear in the body's size with C-level passes:
    strings are cut out, the brackets left are summed (+1 opening, -1 closing) and the
    running maximum compared with ``limit``. For a malformed body the count can only be too
    high, never too low, so the parser never sees more depth than allowed.
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # the common case: a body with few brackets cannot be deep
    structure = _structure(body)
    if b"{" * (limit + 1) in structure:
        return True  # a plain chain (the usual attack) needs no arithmetic
    import numpy as np  # lazily: only bodies with many brackets get here

    steps = 124 - np.frombuffer(structure, dtype=np.uint8).astype(np.int16)  # "{"→1, "}"→-1
    level = 0
    for start in range(0, len(steps), _CHUNK):
        running = np.cumsum(steps[start:start + _CHUNK], dtype=np.int64)
        if level + int(running.max()) > limit:
            return True
        level += int(running[-1])
    return False


def _structure(body: bytes) -> bytes:
    """The body's brackets outside strings, as ``{`` and ``}``.

    Escaped backslashes and quotes are removed first (left to right, as JSON reads them), so
    every quote left opens or closes a string; then everything but quotes and brackets goes,
    and quoted runs are cut. Removing ``""`` pairs first is safe (an empty string, or the end
    of one string and the start of the next) and leaves the regex little to do.
    """
    if b"\\" in body:
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    structure = body.translate(_BRACKETS, _NOT_STRUCTURE)
    if b'"' in structure:
        structure = structure.replace(b'""', b"")
        if b'"' in structure:
            structure = _QUOTED.sub(b"", structure).replace(b'"', b"")
    return structure


def field_name(path: list[str | int]) -> str:
    """``["tags", "note"]`` → ``tags.note``; ``["ids", 3]`` → ``ids[3]``; ``[]`` → the body."""
    if not path:
        return "the body"
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:  # a key is the client's text: no control characters or surrogates, bounded
            shown = _UNPRINTABLE.sub("\ufffd", part[:64]) + ("…" if len(part) > 64 else "")
            out += f".{shown}" if out else shown
    return out


def _check_int64(value: int, field: str) -> int:
    if not INT64_MIN <= value <= INT64_MAX:
        raise InvalidInputError(
            f"{field!s} is {_short(value)}, outside the 64-bit integer range "
            f"[{INT64_MIN}, {INT64_MAX}]; send a smaller number (or a string).")
    return value


# ---------------------------------------------------------------------- internals
class _BigInt:
    """An integer literal too long to convert cheaply: kept as text until the walk names it."""

    __slots__ = ("digits",)

    def __init__(self, digits: str):
        self.digits = digits


class _Refused:
    """A ``NaN``/``Infinity`` literal where they are not allowed."""

    __slots__ = ("literal",)

    def __init__(self, literal: str):
        self.literal = literal


def _checked_int(text: str) -> int | _BigInt:
    # 20 characters cover every int64 with its sign; longer literals would cost quadratic
    # time to convert (and past 4,300 digits Python refuses them with a ValueError).
    return int(text) if len(text) <= 20 else _BigInt(text)


def _walk(value: Any, *, check_text: bool, check_numbers: bool, allow_nan: bool) -> None:
    """Depth-first over the decoded value with an explicit stack; raise at the first bad leaf."""
    stack: list[tuple[Any, list[str | int]]] = [(value, [])]
    while stack:
        item, path = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if check_text and _SURROGATE.search(key):
                    raise _not_utf8(f"a key in {field_name(path)}")
                stack.append((child, [*path, key]))
        elif isinstance(item, list):
            stack.extend((child, [*path, i]) for i, child in enumerate(item))
        elif isinstance(item, str):
            if check_text and _SURROGATE.search(item):
                raise _not_utf8(field_name(path))
        elif check_numbers:
            if isinstance(item, _BigInt):
                raise InvalidInputError(
                    f"{field_name(path)} is an integer of {len(item.digits.lstrip('-'))} "
                    f"digits, outside the 64-bit integer range [{INT64_MIN}, {INT64_MAX}]; "
                    "send a smaller number (or a string).")
            if isinstance(item, _Refused):
                raise InvalidInputError(
                    f"{field_name(path)} is {item.literal}, which is not JSON; send a finite "
                    "number or null.")
            if type(item) is int:
                _check_int64(item, field_name(path))
            elif type(item) is float and not allow_nan and not math.isfinite(item):
                raise InvalidInputError(
                    f"{field_name(path)} is a number too large for a 64-bit float; send a "
                    "finite number.")


def _not_utf8(field: str) -> InvalidInputError:
    return InvalidInputError(
        f"{field} is not UTF-8 text: it holds invalid bytes or a lone surrogate such as "
        "\\udcff, which no database can store; send valid UTF-8.")


def _short(value: int) -> str:
    if value.bit_length() > 100:  # str() of a huge int is slow, and refused past 4,300 digits
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    return str(value)
