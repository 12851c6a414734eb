"""The ``search_runs`` filter AST, its type rules and LIKE-pattern helpers: no SQLAlchemy.

:mod:`jupyter_mlops.store.filters` parses text into these frozen nodes; two compilers read
them: :mod:`jupyter_mlops.store.filter_sql` (SQLAlchemy, every backend) and
:mod:`jupyter_mlops.store.lite_search` (SQL text for SQLite files on the stdlib ``sqlite3``, so
a first filtered search does not import SQLAlchemy). What each comparison means is documented
in ``filter_sql``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union


@dataclass(frozen=True)
class Number:
    """A number literal; ``text`` is kept because params compare as the text the user wrote."""

    value: float
    text: str


Value = Union[str, Number]


@dataclass(frozen=True)
class Operand:
    """``kind`` is ``metric``, ``param``, ``tag`` or ``attribute`` (then ``key`` is canonical)."""

    kind: str
    key: str
    position: int = 0


@dataclass(frozen=True)
class Comparison:
    """``operand op value``; ``value`` is a tuple for ``in``/``not in`` and None for null tests."""

    operand: Operand
    op: str
    value: Value | tuple[Value, ...] | None = None
    position: int = 0


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


Node = Union[Comparison, And, Or, Not]

#: Run attributes a filter may name, and the type of value they compare with.
ATTRIBUTES = {
    "status": "string", "name": "string", "user": "string", "run_id": "string",
    "experiment": "string", "start_time": "number", "end_time": "number",
}
ORDER_OPS = frozenset({"<", "<=", ">", ">="})
LIKE_OPS = frozenset({"like", "ilike", "not like", "not ilike"})
SET_OPS = frozenset({"in", "not in"})
NULL_OPS = frozenset({"is null", "is not null"})
OPERATORS = ORDER_OPS | LIKE_OPS | SET_OPS | NULL_OPS | {"=", "!="}

#: Run columns that may be NULL (a run still running has no end_time).
NULLABLE = frozenset({"end_time"})
# Bounded digit counts keep every match inside double precision, so PostgreSQL's CAST never
# raises "out of range"; POSIX ERE and Python's re both read this pattern the same way.
NUMERIC_TEXT = r"^[-+]?([0-9]{1,30}(\.[0-9]{0,30})?|\.[0-9]{1,30})([eE][-+]?[0-9]{1,2})?$"


def label(operand: Operand) -> str:
    """How ``operand`` is written in a filter, for error messages."""
    return operand.key if operand.kind == "attribute" else f"{operand.kind}s.{operand.key}"


def type_error(operand: Operand, op: str, values: tuple[Value, ...]) -> tuple[str, int] | None:
    """Say why ``values`` cannot be compared with ``operand`` using ``op``, or return None.

    Returns
    -------
    tuple[str, int] or None
        The message and the index of the offending value; index ``-1`` blames the operator.
    """
    if op not in OPERATORS:
        return f"unknown operator {op!r}", -1
    if op in NULL_OPS:
        return None
    kind = {"metric": "number"}.get(operand.kind) or ATTRIBUTES.get(operand.key, "text")
    if op in LIKE_OPS:
        if kind == "number":
            return f"{label(operand)} is a number; {op} needs a text field", -1
        if not isinstance(values[0], str):
            return f"{op} needs a quoted pattern such as 'cv-%'", 0
    for index, value in enumerate(values):
        if kind == "number" and not isinstance(value, Number):
            return f"{label(operand)} is a number; compare it with a number, not a string", index
        if kind == "string" and not isinstance(value, str):
            return f"{label(operand)} is text; quote the value, e.g. '{value.text}'", index
    return None


#: And/Or/Not levels compiled inline; a deeper subtree becomes a CTE of matching run ids.
#: SQLite's parser stack (before 3.46) overflows at ~25-35 nested AND/OR levels, and a CTE is
#: parsed beside the query rather than inside it, so any depth the parser allows still runs.
INLINE_DEPTH = 12

ANY, ONE = object(), object()


def like_pieces(pattern: str) -> list:
    """Split a LIKE pattern into literal characters and the ``%``/``_`` wildcards."""
    pieces, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            pieces.append(pattern[i + 1])
            i += 2
            continue
        pieces.append(ANY if ch == "%" else ONE if ch == "_" else ch)
        i += 1
    return pieces


def render_like(pieces: list) -> str:
    # A trailing lone backslash became a literal above; PostgreSQL would reject it as a pattern.
    return "".join("%" if p is ANY else "_" if p is ONE
                   else "\\" + p if p in "%_\\" else p for p in pieces)


def render_glob(pieces: list) -> str:
    return "".join("*" if p is ANY else "?" if p is ONE
                   else f"[{p}]" if p in "*?[" else p for p in pieces)
