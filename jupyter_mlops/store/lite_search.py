"""Filtered ``search_runs`` on a SQLite file as SQL text for the stdlib ``sqlite3``: no SQLAlchemy.

Why: a fresh process's first filtered search spent ~1 s CPU importing SQLAlchemy, its ORM and
declaring the ORM classes, for one query (issue 14). For a plain SQLite file store
(:func:`jupyter_mlops.store.lite.sqlite_path`) :meth:`LiteRunStore.search_runs
<jupyter_mlops.store.lite.LiteRunStore.search_runs>` parses the filter
(:mod:`jupyter_mlops.store.filters`, SQLAlchemy-free) and compiles the AST here, then runs the
statement on lite's plain connection.

The statement has the shape :mod:`jupyter_mlops.store.filter_sql` renders on SQLite, term for
term, so the plans ``tests/store/test_planner_stats.py`` verified hold: a correlated
``EXISTS (SELECT * FROM <table> WHERE run_id = runs.id AND key = ? AND …)`` per metric, param
or tag comparison, ``runs.experiment_id IN (SELECT id FROM experiments WHERE …)`` for the
experiment, ``GLOB`` for the case-sensitive ``like``, ``lower(x) LIKE lower(?) ESCAPE '\\'``
for ``ilike``, the same ``CASE WHEN value REGEXP ? THEN CAST(value AS FLOAT)`` for a param
compared as a number (lite registers the same ``regexp`` function SQLAlchemy does), the same
``ORDER BY`` scalar subqueries with ``NULLS LAST`` and the ``start_time DESC, id ASC``
tie-breakers. Keys and values are always bound parameters; only fixed table and column names
are ever written into the text.

Supported: comparisons of metrics, params, tags and run attributes (every operator of the
filter language), ``and``/``or``/``not`` up to :data:`~jupyter_mlops.store.filter_ast.INLINE_DEPTH`
levels, every ``order_by`` term, ``experiment``, ``max_results`` and ``offset``. Not
supported, so :class:`Unsupported` is raised and the caller uses the SQLAlchemy path: a filter
nesting deeper than ``INLINE_DEPTH`` (SQLAlchemy moves such a subtree into a CTE) and a node the
parser never builds (a hand-built AST). ``tests/store/test_lite_search.py`` compares both paths'
run ids and order on random filters.

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
from jupyter_mlops.store.lite import run_view_sql


class Unsupported(Exception):
    """This filter or order is not compiled here: the SQLAlchemy path answers it."""


#: Run columns as SELECT lists them; ``lite._records`` reads rows in this order.
RUN_COLUMNS = ('runs.id, runs.experiment_id, experiments.name, runs.name, runs.status, '
               'runs."user", runs.start_time, runs.end_time, runs.parent_run_id, '
               "runs.reproducible, runs.not_reproducible_reason")

# Fixed names only: never built from user input.
_TABLES = {"metric": "latest_metrics", "param": "params", "tag": "tags"}
_COLUMNS = {"status": "runs.status", "name": "runs.name", "user": 'runs."user"',
            "run_id": "runs.id", "start_time": "runs.start_time", "end_time": "runs.end_time"}
_OPS = {"=": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def _apply(column: str, op: str, values: list, args: list) -> str:
    """``filter_sql._apply`` as SQLite text; ``values`` are appended to ``args``."""
    if op == "is null":
        return f"{column} IS NULL"
    if op == "is not null":
        return f"{column} IS NOT NULL"
    if op in ("in", "not in"):
        args.extend(values)
        marks = ", ".join("?" * len(values))
        return f"({column} {'NOT IN' if op == 'not in' else 'IN'} ({marks}))"
    if op in LIKE_OPS:
        pieces = like_pieces(values[0])
        if op.endswith("ilike"):
            args.append(render_like(pieces))
            expr = f"lower({column}) LIKE lower(?) ESCAPE '\\'"
        else:  # case-sensitive like: GLOB on SQLite (filter_sql._CaseSensitiveLike)
            args.append(render_glob(pieces))
            expr = f"{column} GLOB ?"
        return f"NOT ({expr})" if op.startswith("not") else expr
    if op not in _OPS:
        raise Unsupported(op)
    args.append(values[0])
    return f"{column} {_OPS[op]} ?"


def _comparison(node: Comparison, args: list) -> str:
    op, operand = node.op, node.operand
    values = node.value if isinstance(node.value, tuple) else (node.value,)
    if operand.kind == "attribute":
        bound = [v.value if isinstance(v, Number) else v for v in values]
        if operand.key == "experiment":
            return ("runs.experiment_id IN (SELECT experiments.id FROM experiments WHERE "
                    f"{_apply('experiments.name', op, bound, args)})")
        column = _COLUMNS.get(operand.key)
        if column is None:
            raise Unsupported(operand.key)
        expr = _apply(column, op, bound, args)
        if operand.key in NULLABLE and op not in ("is null", "is not null"):
            expr = f"({column} IS NOT NULL AND {expr})"
        return expr
    table = _TABLES.get(operand.kind)
    if table is None:
        raise Unsupported(operand.kind)
    args.append(operand.key)
    where = f"{table}.run_id = runs.id AND {table}.\"key\" = ?"
    if op == "is null":
        return f"NOT (EXISTS (SELECT * FROM {table} WHERE {where}))"
    if op != "is not null":
        column = f"{table}.value"
        if operand.kind == "metric":
            bound = [v.value for v in values]
        elif op in ORDER_OPS and isinstance(values[0], Number):
            args.append(NUMERIC_TEXT)
            column = (f"CASE WHEN ({table}.value REGEXP ?) "
                      f"THEN CAST({table}.value AS FLOAT) ELSE NULL END")
            bound = [values[0].value]
        else:
            bound = [v.text if isinstance(v, Number) else v for v in values]
        where += " AND " + _apply(column, op, bound, args)
    return f"EXISTS (SELECT * FROM {table} WHERE {where})"


def compile_where(node: Node | None, args: list, depth: int = 0) -> str:
    """The filter as a SQLite boolean expression over ``runs``; bound values go to ``args``.

    Raises
    ------
    Unsupported
        For a filter nested deeper than INLINE_DEPTH or a node the parser never builds.
    """
    if node is None:
        return "1"
    if isinstance(node, (And, Or, Not)) and depth >= INLINE_DEPTH:
        raise Unsupported("nested deeper than INLINE_DEPTH (the SQLAlchemy path uses a CTE)")
    depth += 1
    if isinstance(node, (And, Or)):
        if not node.items:
            return "1" if isinstance(node, And) else "0"
        joiner = " AND " if isinstance(node, And) else " OR "
        return "(" + joiner.join(compile_where(i, args, depth) for i in node.items) + ")"
    if isinstance(node, Not):
        return f"NOT ({compile_where(node.item, args, depth)})"
    if isinstance(node, Comparison) and isinstance(node.operand, Operand):
        return _comparison(node, args)
    raise Unsupported(repr(node))


def _order_term(operand: Operand, descending: bool, args: list) -> str:
    """``filter_sql.order_clause`` as SQLite text."""
    table = _TABLES.get(operand.kind)
    if table is not None:
        args.append(operand.key)
        expr = (f"(SELECT {table}.value FROM {table} "
                f"WHERE {table}.run_id = runs.id AND {table}.\"key\" = ?)")
    elif operand.key == "experiment":
        expr = ("(SELECT experiments.name FROM experiments "
                "WHERE experiments.id = runs.experiment_id)")
    else:
        expr = _COLUMNS[operand.key]
    return f"{expr} {'DESC' if descending else 'ASC'} NULLS LAST"


@functools.lru_cache(maxsize=256)
def _parsed(text: str | None):
    from jupyter_mlops.store.filters import parse_filter

    return parse_filter(text) if text else None


def build_search(filter: str | None, experiment: str | None,
                 order_by: Sequence[str] | str | None, max_results: int, offset: int,
                 lifecycle: str = "active") -> tuple[str, list]:
    """The statement of ``RunStore.search_runs`` as SQLite text and its bound values.

    Raises
    ------
    FilterSyntaxError, InvalidInputError
        As the SQLAlchemy path, for an invalid filter or order.
    Unsupported
        When the SQLAlchemy path must answer (see the module's docstring).
    """
    from jupyter_mlops.store.filters import parse_order_terms, tie_breakers

    args: list = []
    where = []
    if filter:
        node = _parsed(filter)
        if node is not None:
            where.append(compile_where(node, args))
    terms = parse_order_terms(order_by)
    if experiment:
        where.append("runs.experiment_id IN (SELECT experiments.id FROM experiments "
                     "WHERE experiments.name = ?)")
        args.append(experiment)
    view = run_view_sql(lifecycle, "experiments")
    if view:  # the run view (lite.run_view_sql): constant text, nothing bound
        where.append(view)
    order = [_order_term(operand, descending, args) for operand, descending in terms]
    keep_start, keep_id = tie_breakers(terms)
    order += (["runs.start_time DESC"] if keep_start else []) + (
        ["runs.id ASC"] if keep_id else [])
    args += [max_results, offset]
    sql = (f"SELECT {RUN_COLUMNS} FROM runs JOIN experiments "
           "ON experiments.id = runs.experiment_id"
           + (" WHERE " + " AND ".join(where) if where else "")
           + " ORDER BY " + ", ".join(order) + " LIMIT ? OFFSET ?")
    return sql, args


def _order(terms, args: list) -> list[str]:
    """``terms`` as ORDER BY text, then the tie-breakers they leave in place."""
    from jupyter_mlops.store.filters import tie_breakers

    order = [_order_term(operand, descending, args) for operand, descending in terms]
    keep_start, keep_id = tie_breakers(terms)
    return order + (["runs.start_time DESC"] if keep_start else []) + (
        ["runs.id ASC"] if keep_id else [])


_RANGE = {"=": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


class MetricSearch:
    """A search whose first ``order_by`` term is a metric, as the SQLite statements
    :func:`jupyter_mlops.store.metric_order.page` runs; each method returns ``(sql, args)``.

    The walk reads ``latest_metrics`` (aliased ``lm``, so a filter's own ``latest_metrics``
    subqueries never resolve to it) through ``ix_latest_metrics_key_value`` in the metric's
    order and joins each entry to its run. ASC/DESC carry no ``NULLS LAST``: NULLs are
    excluded, and only the index's own order lets the database stop once the page is full.
    """

    def __init__(self, filter: str | None, experiment: str | None, terms: list,
                 key: str, descending: bool, view: str | None = None):
        from jupyter_mlops.store.metric_order import split_filter

        self.descending = descending
        pushed, rest = split_filter(_parsed(filter) if filter else None, key)
        #: No run without the metric can match: a pushed comparison needs a value.
        self.empty_without = bool(pushed)
        self._range_args: list = [key]
        self._range = 'lm."key" = ? AND lm.value IS NOT NULL'
        for op, value in pushed:
            self._range += f" AND lm.value {_RANGE[op]} ?"
            self._range_args.append(value)
        self._where_args: list = []
        self._where = ([] if rest is None else [compile_where(rest, self._where_args)])
        if experiment:
            self._where.append("runs.experiment_id IN (SELECT experiments.id FROM experiments "
                               "WHERE experiments.name = ?)")
            self._where_args.append(experiment)
        if view:  # constant text on the joined experiments (lite.run_view_sql)
            self._where.append(view)
        # The full filter, for the runs without a value (the pushed terms included).
        self._all_args: list = []
        self._all = [] if not filter else [compile_where(_parsed(filter), self._all_args)]
        if experiment:
            self._all.append("runs.experiment_id IN (SELECT experiments.id FROM experiments "
                             "WHERE experiments.name = ?)")
            self._all_args.append(experiment)
        if view:
            self._all.append(view)
        self._order_args: list = []
        # The later terms, then the tie-breakers (a metric term never names start_time or id).
        self._rest = _order(terms[1:], self._order_args)
        self._key = key

    def bound(self, n: int) -> tuple[str, list]:
        """The value of the ``n``-th entry of the walk (no row: there are fewer)."""
        return (f"SELECT lm.value FROM latest_metrics AS lm WHERE {self._range} ORDER BY "
                f"lm.value {'DESC' if self.descending else 'ASC'} LIMIT 1 OFFSET ?",
                [*self._range_args, n - 1])

    def _joined(self, bound: object | None) -> tuple[str, list]:
        where, args = self._range, list(self._range_args)
        if bound is not None:
            where += f" AND lm.value {'>=' if self.descending else '<='} ?"
            args.append(bound)
        return ("FROM latest_metrics AS lm JOIN runs ON runs.id = lm.run_id "
                "JOIN experiments ON experiments.id = runs.experiment_id "
                f"WHERE {where}" + "".join(" AND " + w for w in self._where),
                args + self._where_args)

    def with_value(self, limit: int, offset: int, bound: object | None) -> tuple[str, list]:
        joined, args = self._joined(bound)
        order = [f"lm.value {'DESC' if self.descending else 'ASC'}", *self._rest]
        return (f"SELECT {RUN_COLUMNS} {joined} ORDER BY {', '.join(order)} LIMIT ? OFFSET ?",
                [*args, *self._order_args, limit, offset])

    def count(self) -> tuple[str, list]:
        joined, args = self._joined(None)
        return f"SELECT count(*) {joined}", args

    def without_value(self, limit: int, offset: int) -> tuple[str, list]:
        lacking = ("NOT (EXISTS (SELECT 1 FROM latest_metrics AS lm WHERE lm.run_id = runs.id "
                   'AND lm."key" = ? AND lm.value IS NOT NULL))')
        return (f"SELECT {RUN_COLUMNS} FROM runs JOIN experiments "
                "ON experiments.id = runs.experiment_id WHERE "
                + " AND ".join([*self._all, lacking]) + " ORDER BY " + ", ".join(self._rest)
                + " LIMIT ? OFFSET ?",
                [*self._all_args, self._key, *self._order_args, limit, offset])


def build_metric_search(filter: str | None, experiment: str | None,
                        order_by: Sequence[str] | str | None, view: str | None = None
                        ) -> MetricSearch | None:
    """The statements of a search whose first ``order_by`` term is a metric (else None).

    ``view`` is a constant condition on the joined ``experiments`` (the run view). Raises as
    :func:`build_search` does.
    """
    from jupyter_mlops.store.filters import parse_order_terms
    from jupyter_mlops.store.metric_order import leading_metric

    terms = parse_order_terms(order_by)
    lead = leading_metric(terms)
    if lead is None:
        return None
    if filter:
        compile_where(_parsed(filter), [])  # Unsupported before anything runs
    return MetricSearch(filter, experiment, terms, *lead, view=view)


def regexp(pattern: str, value: str | None) -> bool | None:
    """SQLite's ``REGEXP`` as SQLAlchemy's pysqlite dialect registers it (``value REGEXP pattern``)."""
    import re

    if value is None:
        return None
    return re.search(pattern, value) is not None


__all__ = ["RUN_COLUMNS", "MetricSearch", "Unsupported", "build_metric_search", "build_search",
           "compile_where", "regexp"]
