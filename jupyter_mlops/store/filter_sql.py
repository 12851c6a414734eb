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

import contextlib

from sqlalchemy import (
    Boolean, Float, and_, case, cast, exists, false, not_, null, or_, select, true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from jupyter_mlops.errors import InvalidInputError
# The nodes and type rules live in filter_ast (no SQLAlchemy) so the parser and the SQLite
# text compiler (lite_search) never import SQLAlchemy; re-exported here for existing callers.
from jupyter_mlops.store.filter_ast import (  # noqa: F401
    ATTRIBUTES, INLINE_DEPTH, LIKE_OPS, NULL_OPS, NULLABLE, NUMERIC_TEXT, OPERATORS, ORDER_OPS,
    ANY, ONE, SET_OPS, And, Comparison, Node, Not, Number, Operand, Or, Value, label,
    like_pieces, render_glob, render_like, type_error,
)
from jupyter_mlops.store.orm import Experiment, LatestMetric, Param, Run, Tag

_KEYED = {"metric": LatestMetric, "param": Param, "tag": Tag}
_COLUMNS = {"status": Run.status, "name": Run.name, "user": Run.user, "run_id": Run.id,
            "start_time": Run.start_time, "end_time": Run.end_time}
_NULLABLE = NULLABLE
_NUMERIC_TEXT = NUMERIC_TEXT
_like_pieces, _render_like, _render_glob = like_pieces, render_like, render_glob
_ANY, _ONE = ANY, ONE  # filter_mask imports these names


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


def metric_range(key: str, descending: bool, pushed: list[tuple[str, float]]):
    """The walk of a search ordered by metric ``key`` first (:mod:`~jupyter_mlops.store.
    metric_order`): ``(lm, conditions, order)`` — an alias of ``latest_metrics`` (a filter's
    own metric subqueries never resolve to it), the range of ``ix_latest_metrics_key_value``
    it reads (the key, a value, the ``pushed`` comparisons) and the index's order. Plain
    ASC/DESC, no NULLS LAST: NULLs are excluded, and PostgreSQL only walks a btree backwards
    for ``DESC NULLS FIRST``.
    """
    lm = LatestMetric.__table__.alias("lm")
    ops = {"=": "__eq__", "!=": "__ne__", "<": "__lt__", "<=": "__le__", ">": "__gt__",
           ">=": "__ge__"}
    conditions = [lm.c.key == key, lm.c.value.is_not(None),
                  *(getattr(lm.c.value, ops[op])(value) for op, value in pushed)]
    return lm, conditions, (lm.c.value.desc() if descending else lm.c.value.asc())


def default_order() -> list:
    """Newest first, then run id: a total order, so offset pagination never repeats a run."""
    return [Run.start_time.desc(), Run.id.asc()]


@contextlib.contextmanager
def custom_plans(conn):
    """Execute the statements inside planned for their values each time (PostgreSQL).

    psycopg prepares a statement once a connection has run it 5 times, and PostgreSQL plans
    a prepared statement generically (without its values) from its 6th execution on when
    that plan looks no costlier. A filter's plan depends on its values: the generic plan of
    ``metrics.acc > 0.9 and params.model = 'svc'`` took ``model = $4`` for a rare value and
    read all 20,000 'svc' params, probed each run's metric and sorted (100,848 buffers,
    60-240 ms at 100,000 runs) instead of walking runs newest first (14,293 buffers, 9 ms):
    from a process's ~11th identical search on, each took 70 ms instead of 16 ms. Unprepared,
    the statement costs ~1 ms more to plan and keeps the plan its values call for. Other
    statements on the connection (and other drivers) are untouched.
    """
    raw = conn.connection.driver_connection
    was = getattr(raw, "prepare_threshold", None)
    if was is None:  # not psycopg 3, or it prepares nothing already
        yield conn
        return
    raw.prepare_threshold = None
    try:
        yield conn
    finally:
        raw.prepare_threshold = was
