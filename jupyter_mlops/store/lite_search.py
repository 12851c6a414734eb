"""``search_runs`` as SQL text for a driver's own connection (``sqlite3``, psycopg): no SQLAlchemy.

Why: a fresh process's first filtered search spent ~1 s CPU importing SQLAlchemy, its ORM and
declaring the ORM classes, for one query (issue 14). For a plain SQLite file store
(:func:`jupyter_mlops.store.lite.sqlite_path`) :meth:`LiteRunStore.search_runs
<jupyter_mlops.store.lite.LiteRunStore.search_runs>` parses the filter
(:mod:`jupyter_mlops.store.filters`, SQLAlchemy-free) and compiles the AST here, then runs the
statement on lite's plain connection; a ``postgresql+psycopg`` store does the same on psycopg
(:mod:`~jupyter_mlops.store.pg_lite`). What the two databases write differently — placeholders,
``like``, the numeric-text test, constants, the run view, the metric walk's joins — is the
``dialect`` argument (:mod:`~jupyter_mlops.store.sql_dialects`); the rest is one compiler.

The statement has the shape :mod:`jupyter_mlops.store.filter_sql` renders on that database, term
for term, so the plans ``tests/store/test_planner_stats.py`` (SQLite) and
``tests/store/test_search_plans_pg.py`` (PostgreSQL) verified hold: a correlated
``EXISTS (SELECT * FROM <table> WHERE run_id = runs.id AND key = ? AND …)`` per metric, param
or tag comparison, ``runs.experiment_id IN (SELECT id FROM experiments WHERE …)`` for the
experiment, on SQLite ``GLOB`` for the case-sensitive ``like`` and ``lower(x) LIKE lower(?)
ESCAPE '\\'`` for ``ilike`` (PostgreSQL: ``LIKE``/``ILIKE … ESCAPE '\\'``), the same ``CASE
WHEN value REGEXP ? THEN CAST(value AS FLOAT)`` for a param compared as a number (lite
registers the same ``regexp`` function SQLAlchemy does; PostgreSQL: ``~``), the same
``ORDER BY`` scalar subqueries with ``NULLS LAST`` and the ``start_time DESC, id ASC``
tie-breakers. Keys and values are always bound parameters; only fixed table and column names
are ever written into the text.

Supported: comparisons of metrics, params, tags and run attributes (every operator of the
filter language), ``and``/``or``/``not`` up to :data:`~jupyter_mlops.store.filter_ast.INLINE_DEPTH`
levels, every ``order_by`` term, ``experiment``, ``max_results`` and ``offset``. Not
supported, so :class:`Unsupported` is raised and the caller uses the SQLAlchemy path: a filter
nesting deeper than ``INLINE_DEPTH`` (SQLAlchemy moves such a subtree into a CTE) and a node the
parser never builds (a hand-built AST). ``tests/store/test_lite_search.py`` (SQLite) and
``tests/store/test_pg_lite_search.py`` (PostgreSQL) compare the answers with the SQLAlchemy
path's on random filters and orders.

A search ordered by a metric first is several statements (:class:`MetricSearch`): a walk of
``ix_latest_metrics_key_value`` in the metric's order that stops once the page is full, see
:mod:`jupyter_mlops.store.metric_order`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from jupyter_mlops.store.filter_ast import (
    INLINE_DEPTH, LIKE_OPS, NULLABLE, NUMERIC_TEXT, ORDER_OPS, And, Comparison, Node, Not,
    Number, Operand, Or, like_pieces, render_glob, render_like,
)
from jupyter_mlops.store.sql_dialects import SQLITE, Dialect


class Unsupported(Exception):
    """This filter or order is not compiled here: the SQLAlchemy path answers it."""


#: Run columns as a SQLite search selects them (``Dialect.run_columns``; ``Dialect.run_row``
#: puts any dialect's rows in this order for ``text_runs.TextRunReads._records``).
RUN_COLUMNS = SQLITE.run_columns

# Fixed names only: never built from user input.
_TABLES = {"metric": "latest_metrics", "param": "params", "tag": "tags"}
_COLUMNS = {"status": "runs.status", "name": "runs.name", "user": 'runs."user"',
            "run_id": "runs.id", "start_time": "runs.start_time", "end_time": "runs.end_time"}
_OPS = {"=": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_RUNS = "FROM runs JOIN experiments ON experiments.id = runs.experiment_id"


def _apply(column: str, op: str, values: list, args: list, d: Dialect) -> str:
    """``filter_sql._apply`` as text; ``values`` are bound (appended to ``args``)."""
    if op == "is null":
        return f"{column} IS NULL"
    if op == "is not null":
        return f"{column} IS NOT NULL"
    if op in ("in", "not in"):
        return f"({column} {'NOT IN' if op == 'not in' else 'IN'} ({d.marks(values, args)}))"
    if op in LIKE_OPS:
        pieces = like_pieces(values[0])
        expr = d.like(column, render_like(pieces), render_glob(pieces), op.endswith("ilike"),
                      args)
        return f"NOT ({expr})" if op.startswith("not") else expr
    if op not in _OPS:
        raise Unsupported(op)
    return f"{column} {_OPS[op]} {d.bind(values[0], args)}"


def _in_experiment(op: str, names: list, args: list, d: Dialect) -> str:
    return ("runs.experiment_id IN (SELECT experiments.id FROM experiments WHERE "
            f"{_apply('experiments.name', op, names, args, d)})")


def _comparison(node: Comparison, args: list, d: Dialect) -> str:
    op, operand = node.op, node.operand
    values = node.value if isinstance(node.value, tuple) else (node.value,)
    if operand.kind == "attribute":
        bound = [v.value if isinstance(v, Number) else v for v in values]
        if operand.key == "experiment":
            return _in_experiment(op, bound, args, d)
        column = _COLUMNS.get(operand.key)
        if column is None:
            raise Unsupported(operand.key)
        expr = _apply(column, op, bound, args, d)
        if operand.key in NULLABLE and op not in ("is null", "is not null"):
            expr = f"({column} IS NOT NULL AND {expr})"
        return expr
    table = _TABLES.get(operand.kind)
    if table is None:
        raise Unsupported(operand.kind)
    where = f"{table}.run_id = runs.id AND {table}.\"key\" = {d.bind(operand.key, args)}"
    if op == "is null":
        return f"NOT (EXISTS (SELECT * FROM {table} WHERE {where}))"
    if op != "is not null":
        column = f"{table}.value"
        if operand.kind == "metric":
            bound = [v.value for v in values]
        elif op in ORDER_OPS and isinstance(values[0], Number):
            column = (f"CASE WHEN {d.matches(f'{table}.value', NUMERIC_TEXT, args)} "
                      f"THEN CAST({table}.value AS FLOAT) ELSE NULL END")
            bound = [values[0].value]
        else:
            bound = [v.text if isinstance(v, Number) else v for v in values]
        where += " AND " + _apply(column, op, bound, args, d)
    return f"EXISTS (SELECT * FROM {table} WHERE {where})"


def compile_where(node: Node | None, args: list, depth: int = 0, *,
                  dialect: Dialect = SQLITE) -> str:
    """The filter as a boolean expression over ``runs``; bound values go to ``args``.

    Raises
    ------
    Unsupported
        For a filter nested deeper than INLINE_DEPTH or a node the parser never builds.
    """
    if node is None:
        return dialect.true
    if isinstance(node, (And, Or, Not)) and depth >= INLINE_DEPTH:
        raise Unsupported("nested deeper than INLINE_DEPTH (the SQLAlchemy path uses a CTE)")
    depth += 1
    if isinstance(node, (And, Or)):
        if not node.items:
            return dialect.true if isinstance(node, And) else dialect.false
        joiner = " AND " if isinstance(node, And) else " OR "
        return "(" + joiner.join(compile_where(i, args, depth, dialect=dialect)
                                 for i in node.items) + ")"
    if isinstance(node, Not):
        return f"NOT ({compile_where(node.item, args, depth, dialect=dialect)})"
    if isinstance(node, Comparison) and isinstance(node.operand, Operand):
        return _comparison(node, args, dialect)
    raise Unsupported(repr(node))


def _order_term(operand: Operand, descending: bool, args: list, d: Dialect) -> str:
    """``filter_sql.order_clause`` as text."""
    table = _TABLES.get(operand.kind)
    if table is not None:
        expr = (f"(SELECT {table}.value FROM {table} WHERE {table}.run_id = runs.id "
                f"AND {table}.\"key\" = {d.bind(operand.key, args)})")
    elif operand.key == "experiment":
        expr = ("(SELECT experiments.name FROM experiments "
                "WHERE experiments.id = runs.experiment_id)")
    else:
        expr = _COLUMNS[operand.key]
    return f"{expr} {'DESC' if descending else 'ASC'} NULLS LAST"


def _order(terms, args: list, d: Dialect) -> list[str]:
    """``terms`` as ORDER BY text, then the tie-breakers they leave in place."""
    from jupyter_mlops.store.filters import tie_breakers

    order = [_order_term(operand, descending, args, d) for operand, descending in terms]
    keep_start, keep_id = tie_breakers(terms)
    return order + (["runs.start_time DESC"] if keep_start else []) + (
        ["runs.id ASC"] if keep_id else [])


def _page(limit: int, offset: int, args: list, d: Dialect) -> str:
    return f" LIMIT {d.bind(limit, args)} OFFSET {d.bind(offset, args)}"


def _scope(filter: str | None, experiment: str | None, lifecycle: str, args: list,
           d: Dialect, node: Node | None = None) -> list[str]:
    """The conditions of a search: its filter (``node`` when given, already parsed), its
    experiment and its run view, in RunStore._filtered's order."""
    where = []
    if node is None and filter:
        node = _parsed(filter)
    if node is not None:
        where.append(compile_where(node, args, dialect=d))
    if experiment:
        where.append(_in_experiment("=", [experiment], args, d))
    view = d.run_view(lifecycle, args)
    if view:
        where.append(view)
    return where


@functools.lru_cache(maxsize=256)
def _parsed(text: str | None):
    from jupyter_mlops.store.filters import parse_filter

    return parse_filter(text) if text else None


def build_search(filter: str | None, experiment: str | None,
                 order_by: Sequence[str] | str | None, max_results: int, offset: int,
                 lifecycle: str = "active", dialect: Dialect = SQLITE) -> tuple[str, list]:
    """The statement of ``RunStore.search_runs`` as text for ``dialect``, and its bound values.

    Raises
    ------
    FilterSyntaxError, InvalidInputError
        As the SQLAlchemy path, for an invalid filter or order.
    Unsupported
        When the SQLAlchemy path must answer (see the module's docstring).
    """
    from jupyter_mlops.store.filters import parse_order_terms

    args: list = []
    where = _scope(filter, experiment, lifecycle, args, dialect)
    order = _order(parse_order_terms(order_by), args, dialect)
    sql = (f"SELECT {dialect.run_columns} {_RUNS}"
           + (" WHERE " + " AND ".join(where) if where else "")
           + " ORDER BY " + ", ".join(order) + _page(max_results, offset, args, dialect))
    return sql, args


_RANGE = {"=": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


class MetricSearch:
    """A search whose first ``order_by`` term is a metric, as the statements
    :func:`jupyter_mlops.store.metric_order.page` runs; each method returns ``(sql, args)``.

    The walk reads ``latest_metrics`` (aliased ``lm``, so a filter's own ``latest_metrics``
    subqueries never resolve to it) through ``ix_latest_metrics_key_value`` in the metric's
    order and joins each entry to its run. ASC/DESC carry no ``NULLS LAST``: NULLs are
    excluded, and only the index's own order lets the database stop once the page is full.
    """

    def __init__(self, filter: str | None, experiment: str | None, terms: list,
                 key: str, descending: bool, lifecycle: str = "active",
                 dialect: Dialect = SQLITE):
        from jupyter_mlops.store.metric_order import split_filter

        d = self.dialect = dialect
        self.descending = descending
        pushed, rest = split_filter(_parsed(filter) if filter else None, key)
        #: No run without the metric can match: a pushed comparison needs a value.
        self.empty_without = bool(pushed)
        self._range_args: list = []
        self._range = f'lm."key" = {d.bind(key, self._range_args)} AND lm.value IS NOT NULL'
        for op, value in pushed:
            self._range += f" AND lm.value {_RANGE[op]} {d.bind(value, self._range_args)}"
        self._where_args: list = []
        self._where = _scope(None, experiment, lifecycle, self._where_args, d,
                             node=rest)
        # The full filter, for the runs without a value (the pushed terms included).
        self._all_args: list = []
        self._all = _scope(filter, experiment, lifecycle, self._all_args, d)
        self._lacking_args: list = []
        self._lacking = ("NOT (EXISTS (SELECT 1 FROM latest_metrics AS lm WHERE lm.run_id = "
                         f'runs.id AND lm."key" = {d.bind(key, self._lacking_args)} '
                         "AND lm.value IS NOT NULL))")
        self._order_args: list = []
        # The later terms, then the tie-breakers (a metric term never names start_time or id).
        self._rest = _order(terms[1:], self._order_args, d)

    def bound(self, n: int) -> tuple[str, list]:
        """The value of the ``n``-th entry of the walk (no row: there are fewer)."""
        args = list(self._range_args)
        return (f"SELECT lm.value FROM latest_metrics AS lm WHERE {self._range} ORDER BY "
                f"lm.value {'DESC' if self.descending else 'ASC'} LIMIT 1 OFFSET "
                f"{self.dialect.bind(n - 1, args)}", args)

    def _joined(self, bound: object | None) -> tuple[str, list]:
        where, args = self._range, list(self._range_args)
        if bound is not None:
            where += f" AND lm.value {'>=' if self.descending else '<='} "
            where += self.dialect.bind(bound, args)
        return (f"FROM {self.dialect.walk_from} WHERE {where}"
                + "".join(" AND " + w for w in self._where), args + self._where_args)

    def with_value(self, limit: int, offset: int, bound: object | None) -> tuple[str, list]:
        joined, args = self._joined(bound)
        order = [f"lm.value {'DESC' if self.descending else 'ASC'}", *self._rest]
        args += self._order_args
        return (f"SELECT {self.dialect.run_columns} {joined} ORDER BY {', '.join(order)}"
                + _page(limit, offset, args, self.dialect), args)

    def count(self) -> tuple[str, list]:
        joined, args = self._joined(None)
        return f"SELECT count(*) {joined}", args

    def without_value(self, limit: int, offset: int) -> tuple[str, list]:
        args = [*self._all_args, *self._lacking_args, *self._order_args]
        return (f"SELECT {self.dialect.run_columns} {_RUNS} WHERE "
                + " AND ".join([*self._all, self._lacking]) + " ORDER BY "
                + ", ".join(self._rest) + _page(limit, offset, args, self.dialect), args)


def build_metric_search(filter: str | None, experiment: str | None,
                        order_by: Sequence[str] | str | None, lifecycle: str = "active",
                        dialect: Dialect = SQLITE) -> MetricSearch | None:
    """The statements of a search whose first ``order_by`` term is a metric (else None).

    Raises as :func:`build_search` does.
    """
    from jupyter_mlops.store.filters import parse_order_terms
    from jupyter_mlops.store.metric_order import leading_metric

    terms = parse_order_terms(order_by)
    lead = leading_metric(terms)
    if lead is None:
        return None
    if filter:
        compile_where(_parsed(filter), [], dialect=dialect)  # Unsupported before anything runs
    return MetricSearch(filter, experiment, terms, *lead, lifecycle=lifecycle, dialect=dialect)


def regexp(pattern: str, value: str | None) -> bool | None:
    """SQLite's ``REGEXP`` as SQLAlchemy's pysqlite dialect registers it (``value REGEXP pattern``)."""
    import re

    if value is None:
        return None
    return re.search(pattern, value) is not None


__all__ = ["RUN_COLUMNS", "MetricSearch", "Unsupported", "build_metric_search", "build_search",
           "compile_where", "regexp"]
