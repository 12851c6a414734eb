"""Evaluate a parsed ``search_runs`` filter over the in-memory run index with numpy.

The twin of :mod:`jupyter_mlops.store.filter_sql` for :mod:`jupyter_mlops.store.run_index`:
same AST, same meaning, answered from columns in memory instead of SQL. The meaning is the one
SQLite gives the compiled SQL (the index only serves SQLite stores), and a differential test
(tests/store/test_run_index.py) runs random filters both ways and demands identical answers:

* a metric/param/tag comparison is false for a run without the key (the SQL's ``EXISTS``), and
  a metric whose latest value is NaN (stored as NULL) matches no comparison;
* params and tags are text: ``=``/``!=``/``in``/``like`` compare the text (a number literal as
  written), ``<``/``>``… with a number compare numerically and skip values that are not numbers;
* ``like`` is case-sensitive (SQLite runs it as ``GLOB``); ``ilike`` folds ASCII letters only,
  as SQLite's ``lower()`` and ``LIKE`` do;
* text orders by code point, which is SQLite's BINARY collation of UTF-8.

Text columns are dictionary-encoded (:class:`TextColumn`): a comparison is evaluated once per
distinct value, then spread to every run with one numpy gather.
"""

from __future__ import annotations

import operator
import re
from typing import TYPE_CHECKING, Callable

import numpy as np

from jupyter_mlops.store.filter_sql import (
    _ANY,
    _NUMERIC_TEXT,
    _ONE,
    LIKE_OPS,
    NULL_OPS,
    ORDER_OPS,
    And,
    Comparison,
    Node,
    Not,
    Number,
    Or,
    _like_pieces,
)

if TYPE_CHECKING:  # pragma: no cover
    from jupyter_mlops.store.run_index import RunIndex

_COMPARE: dict[str, Callable] = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge,
}
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_NUMERIC = re.compile(_NUMERIC_TEXT)


class TextColumn:
    """One text field of every run, dictionary-encoded: ``codes[pos]`` indexes ``values``.

    ``-1`` means the run has no such key; a gather through a per-value mask with a trailing
    ``False`` maps it to "no match" without a branch.
    """

    __slots__ = ("codes", "values", "_lookup", "_numbers")

    def __init__(self, capacity: int):
        self.codes = np.full(capacity, -1, dtype=np.int32)
        self.values: list[str] = []
        self._lookup: dict[str, int] = {}
        self._numbers: np.ndarray | None = None

    def grow(self, capacity: int) -> None:
        if capacity > len(self.codes):
            extra = np.full(capacity - len(self.codes), -1, dtype=np.int32)
            self.codes = np.concatenate([self.codes, extra])

    def set(self, pos: int, value: str | None) -> None:
        if value is None:
            self.codes[pos] = -1
            return
        code = self._lookup.get(value)
        if code is None:
            code = self._lookup[value] = len(self.values)
            self.values.append(value)
        self.codes[pos] = code

    def code_of(self, value: str) -> int:
        return self._lookup.get(value, -2)  # -2 matches no run (missing is -1)

    def numbers(self) -> np.ndarray:
        """Each distinct value as a float, NaN where the text is not a number (SQL's NULL)."""
        known = 0 if self._numbers is None else len(self._numbers)
        if known < len(self.values):
            more = np.array([float(v) if _NUMERIC.search(v) else np.nan
                             for v in self.values[known:]], dtype=np.float64)
            self._numbers = more if self._numbers is None else np.concatenate([self._numbers, more])
        return self._numbers if self._numbers is not None else np.empty(0)

    def spread(self, per_value: np.ndarray) -> np.ndarray:
        """Per-value booleans → per-run booleans (runs without the key: False)."""
        return np.append(per_value.astype(bool, copy=False), False)[self.codes]

    def where(self, test: Callable[[str], bool]) -> np.ndarray:
        return self.spread(np.fromiter((test(v) for v in self.values), dtype=bool,
                                       count=len(self.values)))


def evaluate(node: Node | None, index: RunIndex) -> np.ndarray:
    """Boolean mask over index positions (dead positions included; the caller masks them)."""
    if node is None:
        return np.ones(index.capacity, dtype=bool)
    if isinstance(node, And):
        mask = np.ones(index.capacity, dtype=bool)
        for item in node.items:
            mask &= evaluate(item, index)
        return mask
    if isinstance(node, Or):
        mask = np.zeros(index.capacity, dtype=bool)
        for item in node.items:
            mask |= evaluate(item, index)
        return mask
    if isinstance(node, Not):
        return ~evaluate(node.item, index)
    if isinstance(node, Comparison):
        return _comparison(node, index)
    raise TypeError(f"not a filter node: {node!r}")


def _comparison(node: Comparison, index: RunIndex) -> np.ndarray:
    op, operand = node.op, node.operand
    values = node.value if isinstance(node.value, tuple) else (node.value,)
    if operand.kind == "metric":
        return _metric(index.metric_column(operand.key), op, values)
    if operand.kind in ("param", "tag"):
        return _text(index.text_column(operand.kind, operand.key), op, values, keyed=True)
    key = operand.key
    if key in ("start_time", "end_time"):
        return _number(index.time_column(key), op, values)
    if key == "experiment":
        if op in ("is null", "is not null"):  # every run has an experiment
            return np.full(index.capacity, op == "is not null")
        names = index.experiment_names()
        ids = np.fromiter(names.keys(), dtype=np.int64, count=len(names))
        hit = _text_test(op, values)
        matching = ids[np.fromiter((hit(n) for n in names.values()), dtype=bool,
                                   count=len(names))]
        return np.isin(index.experiment_ids(), matching)
    return _text(index.text_column("attribute", key), op, values, keyed=False)


def _metric(column: tuple[np.ndarray, np.ndarray], op: str, values: tuple) -> np.ndarray:
    present, numbers = column
    # `is null` means "never logged" (a NaN latest value was logged); comparisons skip NaN.
    usable = present if op in NULL_OPS else present & ~np.isnan(numbers)
    return _number((numbers, usable), op, values)


def _number(column: tuple[np.ndarray, np.ndarray], op: str, values: tuple) -> np.ndarray:
    """``column`` is (values, usable): unusable entries (NULL) match nothing but ``is null``."""
    numbers, usable = column
    if op == "is null":
        return ~usable
    if op == "is not null":
        return usable.copy()
    bound = [v.value for v in values]
    with np.errstate(invalid="ignore"):
        if op == "in":
            hit = np.isin(numbers, bound)
        elif op == "not in":
            hit = ~np.isin(numbers, bound)
        else:
            hit = _COMPARE[op](numbers, bound[0])
    return usable & hit


def _text(column: TextColumn, op: str, values: tuple, *, keyed: bool) -> np.ndarray:
    if op == "is null":
        return column.codes < 0
    if op == "is not null":
        return column.codes >= 0
    if keyed and op in ORDER_OPS and isinstance(values[0], Number):
        with np.errstate(invalid="ignore"):
            return column.spread(_COMPARE[op](column.numbers(), values[0].value))
    texts = [v.text if isinstance(v, Number) else v for v in values]
    if op == "=":
        return column.codes == column.code_of(texts[0])
    if op == "in":
        return np.isin(column.codes, [column.code_of(t) for t in texts])
    return column.where(_text_test(op, texts))


def _text_test(op: str, values) -> Callable[[str], bool]:
    """A predicate on one text value (also used for experiment names)."""
    texts = [v.text if isinstance(v, Number) else v for v in values]
    if op in LIKE_OPS:
        negate = op.startswith("not")
        if op.endswith("ilike"):
            pattern = _like_regex(texts[0].translate(_ASCII_LOWER))
            return lambda s: (pattern.fullmatch(s.translate(_ASCII_LOWER)) is None) == negate
        pattern = _like_regex(texts[0])
        return lambda s: (pattern.fullmatch(s) is None) == negate
    if op == "in":
        allowed = frozenset(texts)
        return allowed.__contains__
    if op == "not in":
        refused = frozenset(texts)
        return lambda s: s not in refused
    compare, bound = _COMPARE[op], texts[0]
    return lambda s: compare(s, bound)


def _like_regex(pattern: str) -> re.Pattern:
    pieces = _like_pieces(pattern)
    return re.compile("".join(".*" if p is _ANY else "." if p is _ONE else re.escape(p)
                              for p in pieces), re.DOTALL)
