"""The ``search_runs`` filter AST and its compilation into SQLAlchemy expressions.

:mod:`jupyter_mlops.store.filters` parses text into the frozen nodes declared here; this module
turns them into SQLAlchemy ``ColumnElement[bool]`` / order-by clauses over the ORM. No SQL text is
ever assembled from user input: keys and values only ever reach the database as bound
parameters. The nodes live here (not in ``filters``) so the parser can import the compiler
without an import cycle.

Semantics (MLflow's, where MLflow has one):

* ``metrics.k``, ``params.k`` and ``tags.k`` each compile to a correlated ``EXISTS`` over their
  table, so a run without the key matches no comparison — not even ``params.k != 'a'`` — while
  ``not (...)`` and ``or`` stay ordinary two-valued logic.  ``metrics.k is null`` means the run
  never logged ``k``.  Metrics compare against ``latest_metrics`` (the newest point).
* Params and tags are strings.  ``=``, ``!=``, ``in`` and ``like`` compare text (a number
  literal is compared as written, so ``params.depth = 5`` matches the string ``"5"``); ``<``,
  ``<=``, ``>``, ``>=`` with a number literal compare numerically, and a value that does not look
  like a number (``"auto"``) matches nothing rather than casting to 0 or failing on PostgreSQL.
* ``like`` is case-sensitive on every backend (SQLite's own ``LIKE`` is not, so there it becomes
  ``GLOB``); ``ilike`` is not.  Patterns use ``%`` and ``_``; a backslash makes the next
  character literal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from sqlalchemy import (
    Boolean, Float, and_, case, cast, exists, false, not_, null, or_, select, true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.store.orm import Experiment, LatestMetric, Param, Run, Tag


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

_KEYED = {"metric": LatestMetric, "param": Param, "tag": Tag}
_COLUMNS = {"status": Run.status, "name": Run.name, "user": Run.user, "run_id": Run.id,
            "start_time": Run.start_time, "end_time": Run.end_time}
_NULLABLE = frozenset({"end_time"})
# Bounded digit counts keep every match inside double precision, so PostgreSQL's CAST never
# raises "out of range"; POSIX ERE and Python's re both read this pattern the same way.
_NUMERIC_TEXT = r"^[-+]?([0-9]{1,30}(\.[0-9]{0,30})?|\.[0-9]{1,30})([eE][-+]?[0-9]{1,2})?$"


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


def compile_node(node: Node | None, depth: int = 0) -> ColumnElement[bool]:
    """Compile a filter AST (None means "every run") into a boolean SQL expression.

    Raises
    ------
    InvalidInputError
        If a hand-built node is not a valid filter.
    """
    if node is None:
        return true()
    if isinstance(node, (And, Or, Not)) and depth >= INLINE_DEPTH:
        matching = select(Run.id).where(compile_node(node)).correlate(None).cte()
        return Run.id.in_(select(matching.c.id))
    depth += 1
    if isinstance(node, And):
        # Seeding with true()/false() keeps a hand-built And(()) / Or(()) meaningful (and_()
        # of nothing is deprecated); SQLAlchemy drops the seed otherwise.
        return and_(true(), *(compile_node(item, depth) for item in node.items))
    if isinstance(node, Or):
        return or_(false(), *(compile_node(item, depth) for item in node.items))
    if isinstance(node, Not):
        return not_(compile_node(node.item, depth))
    if isinstance(node, Comparison):
        return _comparison(node)
    raise InvalidInputError(f"{node!r} is not a filter node; build filters with parse_filter().")


def _comparison(node: Comparison) -> ColumnElement[bool]:
    op, operand = node.op, node.operand
    values = node.value if isinstance(node.value, tuple) else (node.value,)
    if op in SET_OPS and not values:
        raise InvalidInputError(f"{op} needs at least one value.")
    if operand.kind not in _KEYED and operand.kind != "attribute":
        raise InvalidInputError(f"unknown operand kind {operand.kind!r}")
    if operand.kind == "attribute" and operand.key not in ATTRIBUTES:
        raise InvalidInputError(f"unknown run attribute {operand.key!r}")
    problem = type_error(operand, op, () if op in NULL_OPS else values)
    if problem:
        raise InvalidInputError(problem[0])

    if operand.kind == "attribute":
        return _attribute(node, values)
    table = _KEYED[operand.kind]
    where = [table.run_id == Run.id, table.key == operand.key]
    if op == "is null":
        return ~exists().where(*where).correlate(Run)
    if op != "is not null":
        column = table.value
        if operand.kind == "metric":
            bound = [v.value for v in values]
        elif op in ORDER_OPS and isinstance(values[0], Number):
            column = case((table.value.regexp_match(_NUMERIC_TEXT), cast(table.value, Float)),
                          else_=null())
            bound = [values[0].value]
        else:
            bound = [v.text if isinstance(v, Number) else v for v in values]
        where.append(_apply(column, op, bound))
    return exists().where(*where).correlate(Run)


def _attribute(node: Comparison, values: tuple[Value, ...]) -> ColumnElement[bool]:
    key, op = node.operand.key, node.op
    bound = [v.value if isinstance(v, Number) else v for v in values]
    if key == "experiment":
        # Never correlated: callers such as search_runs join experiments themselves.
        return Run.experiment_id.in_(
            select(Experiment.id).where(_apply(Experiment.name, op, bound)).correlate(None))
    column = _COLUMNS[key]
    expr = _apply(column, op, bound)
    if key in _NULLABLE and op not in NULL_OPS:
        # NULL compared with anything is NULL, and NOT NULL is still NULL; the guard keeps
        # `not (end_time > 5)` true for a run still running, as for a missing metric.
        expr = and_(column.is_not(None), expr)
    return expr


def _apply(column, op: str, values: list) -> ColumnElement[bool]:
    if op == "is null":
        return column.is_(None)
    if op == "is not null":
        return column.is_not(None)
    if op == "in":
        return column.in_(values)
    if op == "not in":
        return column.not_in(values)
    if op in LIKE_OPS:
        pieces = _like_pieces(values[0])
        if op.endswith("ilike"):
            expr = column.ilike(_render_like(pieces), escape="\\")
            return not_(expr) if op.startswith("not") else expr
        return _CaseSensitiveLike(column, pieces, negate=op.startswith("not"))
    value = values[0]
    return {"=": column.__eq__, "!=": column.__ne__, "<": column.__lt__, "<=": column.__le__,
            ">": column.__gt__, ">=": column.__ge__}[op](value)


_ANY, _ONE = object(), object()


def _like_pieces(pattern: str) -> list:
    """Split a LIKE pattern into literal characters and the ``%``/``_`` wildcards."""
    pieces, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            pieces.append(pattern[i + 1])
            i += 2
            continue
        pieces.append(_ANY if ch == "%" else _ONE if ch == "_" else ch)
        i += 1
    return pieces


def _render_like(pieces: list) -> str:
    # A trailing lone backslash became a literal above; PostgreSQL would reject it as a pattern.
    return "".join("%" if p is _ANY else "_" if p is _ONE
                   else "\\" + p if p in "%_\\" else p for p in pieces)


def _render_glob(pieces: list) -> str:
    return "".join("*" if p is _ANY else "?" if p is _ONE
                   else f"[{p}]" if p in "*?[" else p for p in pieces)


class _CaseSensitiveLike(ColumnElement[bool]):
    """``LIKE`` that is case-sensitive everywhere; on SQLite it is rendered as ``GLOB``.

    Both forms are built up front and listed in ``_traverse_internals`` so the statement cache
    keys on them and each execution extracts the current bound values.
    """

    inherit_cache = True
    type = Boolean()
    _traverse_internals = [
        ("like", InternalTraversal.dp_clauseelement),
        ("glob", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column, pieces: list, negate: bool = False):
        like = column.like(_render_like(pieces), escape="\\")
        glob = column.op("GLOB", is_comparison=True)(_render_glob(pieces))
        self.like = not_(like) if negate else like
        self.glob = not_(glob) if negate else glob

    @property
    def _from_objects(self):
        return self.like._from_objects


@compiles(_CaseSensitiveLike)
def _like_default(element, compiler, **kw):
    return compiler.process(element.like, **kw)


@compiles(_CaseSensitiveLike, "sqlite")
def _like_sqlite(element, compiler, **kw):
    return compiler.process(element.glob, **kw)


def order_clause(operand: Operand, descending: bool):
    """One ``ORDER BY`` term for ``operand``, nulls (runs without the key) last either way."""
    if operand.kind in _KEYED:
        table = _KEYED[operand.kind]
        expr = (select(table.value).where(table.run_id == Run.id, table.key == operand.key)
                .correlate(Run).scalar_subquery())
    elif operand.key == "experiment":
        # Correlating only runs: auto-correlation would also take a joined experiments table
        # and leave no FROM ("returned no FROM clauses due to auto-correlation").
        expr = (select(Experiment.name).where(Experiment.id == Run.experiment_id)
                .correlate(Run).scalar_subquery())
    else:
        expr = _COLUMNS[operand.key]
    return (expr.desc() if descending else expr.asc()).nulls_last()


def default_order() -> list:
    """Newest first, then run id: a total order, so offset pagination never repeats a run."""
    return [Run.start_time.desc(), Run.id.asc()]
