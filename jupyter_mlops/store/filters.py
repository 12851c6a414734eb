"""The ``search_runs`` filter language: tokenizer, recursive-descent parser, public API.

Example::

    metrics.acc > 0.9 and (params.model = 'svc' or params.model in ('lr', 'rf'))
        and tags.team != 'x' and status = 'FINISHED' and name like 'cv-%'

Grammar (keywords case-insensitive; ``not`` binds tighter than ``and``, ``and`` than ``or``)::

    filter     := or_expr EOF
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | "(" or_expr ")" | comparison
    comparison := operand ( ("=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">=") value
                          | ["not"] ("like" | "ilike") string
                          | ["not"] "in" "(" value ("," value)* ")"
                          | "is" ["not"] "null" )
    operand    := ("metrics" | "params" | "tags") "." key | ["attributes" "."] attribute
                  (singular metric./param./tag./attribute. work too)
    attribute  := status | name | user | start_time | end_time | run_id | id | experiment
    key        := `back-ticked` | "double-quoted" | bare     (bare: [A-Za-z0-9_/-]+, dot-joined)
    value      := 'string' | "string" | number               (-1, 2.5, .5, 1e-3)

Strings escape their quote by doubling it or with a backslash (which makes any next character
literal), so a literal ``_`` in a LIKE pattern is written ``'cv\\\\_%'``.  What each
comparison means is documented in :mod:`jupyter_mlops.store.filter_sql`.  Errors are
:class:`~jupyter_mlops.errors.FilterSyntaxError` carrying the 0-based position of the
offending token.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, Sequence

from jupyter_mlops.errors import FilterSyntaxError, InvalidInputError
# The nodes come from filter_ast, which has no SQLAlchemy: parsing a filter must not import
# it (the SQLite first-search path, lite_search, compiles the AST to SQL text itself). The
# SQLAlchemy compiler (filter_sql) is imported by the two functions that return its clauses.
from jupyter_mlops.store.filter_ast import (
    ATTRIBUTES,
    NULL_OPS,
    SET_OPS,
    And,
    Comparison,
    Node,
    Not,
    Number,
    Operand,
    Or,
    type_error,
)

if TYPE_CHECKING:
    from sqlalchemy.sql.elements import ColumnElement

__all__ = [
    "And", "Comparison", "Node", "Not", "Number", "Operand", "Or",
    "compile_filter", "parse_filter", "parse_order_by", "parse_order_terms",
    "MAX_FILTER_LENGTH", "MAX_NESTING_DEPTH",
]

#: Longer filters are refused before tokenizing: they are a mistake or an attack.
MAX_FILTER_LENGTH = 10_000
#: Parentheses plus ``not``s; keeps parser and SQL compiler far from Python's recursion limit.
MAX_NESTING_DEPTH = 100

_PREFIXES = {
    "metrics": "metric", "metric": "metric", "params": "param", "param": "param",
    "tags": "tag", "tag": "tag", "attributes": "attribute", "attribute": "attribute",
    "attr": "attribute", "run": "attribute",
}
_ALIASES = {"id": "run_id"}
_KEYWORDS = frozenset({"and", "or", "not", "like", "ilike", "in", "is", "null", "asc", "desc"})
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BARE_KEY = re.compile(r"[A-Za-z0-9_/-]+(?:\.[A-Za-z0-9_/-]+)*")
_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_SYMBOLS = ("==", "!=", "<>", "<=", ">=", "=", "<", ">")  # longest first
_CANONICAL = {"==": "=", "<>": "!="}


@dataclass(frozen=True)
class _Token:
    kind: str  # word, field, string, number, op, "(", ")", ",", eof
    value: Any
    pos: int


def _check_text(text: Any, what: str) -> str:
    if not isinstance(text, str):
        raise InvalidInputError(f"A {what} must be a string, not {type(text).__name__}.")
    if len(text) > MAX_FILTER_LENGTH:
        # No echo of the text: a 10k-character pointer line helps nobody.
        raise FilterSyntaxError(
            f"{what} is longer than {MAX_FILTER_LENGTH} characters; narrow it down",
            "", MAX_FILTER_LENGTH)
    for pos, ch in enumerate(text):
        # NUL is rejected by PostgreSQL and lone surrogates cannot be encoded for any driver.
        if ch == "\x00" or "\ud800" <= ch <= "\udfff":
            raise FilterSyntaxError(f"character U+{ord(ch):04X} is not allowed", text, pos)
    return text


def _read_quoted(text: str, start: int) -> tuple[str, int]:
    quote, out, i = text[start], [], start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        elif ch == quote and text.startswith(quote * 2, i):
            out.append(quote)
            i += 2
        elif ch == quote:
            return "".join(out), i + 1
        else:
            out.append(ch)
            i += 1
    raise FilterSyntaxError(f"unterminated string: add the closing {quote}", text, start)


def _read_key(text: str, start: int, prefix: str) -> tuple[str, int]:
    if start < len(text) and text[start] in "`\"":
        key, end = _read_quoted(text, start)
        if not key:
            raise FilterSyntaxError("empty key", text, start)
        return key, end
    match = _BARE_KEY.match(text, start)
    if match is None:
        raise FilterSyntaxError(
            f"expected a key after '{prefix}.'; quote keys with other characters in "
            f"backticks, e.g. {prefix}.`val loss`", text, start)
    return match.group(), match.end()


def _tokenize(text: str) -> list[_Token]:
    tokens, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in "(),":
            tokens.append(_Token(ch, ch, i))
            i += 1
            continue
        symbol = next((s for s in _SYMBOLS if text.startswith(s, i)), None)
        if symbol:
            tokens.append(_Token("op", _CANONICAL.get(symbol, symbol), i))
            i += len(symbol)
            continue
        if ch in "'\"":
            value, end = _read_quoted(text, i)
            tokens.append(_Token("string", value, i))
            i = end
            continue
        match = _NUMBER.match(text, i)
        if match:
            value = float(match.group())
            if not math.isfinite(value):
                raise FilterSyntaxError("number out of range", text, i)
            tokens.append(_Token("number", Number(value, match.group()), i))
            i = match.end()
            continue
        match = _WORD.match(text, i)
        if match is None:
            hint = "; backticks quote keys, e.g. metrics.`val.loss`" if ch == "`" else ""
            raise FilterSyntaxError(f"unexpected character {ch!r}{hint}", text, i)
        if match.end() < len(text) and text[match.end()] == ".":
            key, end = _read_key(text, match.end() + 1, match.group())
            tokens.append(_Token("field", (match.group(), key), i))
            i = end
            continue
        tokens.append(_Token("word", match.group(), i))
        i = match.end()
    tokens.append(_Token("eof", None, len(text)))
    return tokens


def _describe(token: _Token) -> str:
    if token.kind == "eof":
        return "end of filter"
    if token.kind == "field":
        return f"'{token.value[0]}.{token.value[1]}'"
    if token.kind == "number":
        return f"number {token.value.text}"
    return f"string {token.value!r}" if token.kind == "string" else f"'{token.value}'"


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0
        self.depth = 0

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        token = self.tokens[self.i]
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return token

    def fail(self, message: str, token: _Token) -> NoReturn:
        raise FilterSyntaxError(message, self.text, token.pos)

    def word(self, *words: str) -> bool:
        token = self.peek()
        return token.kind == "word" and token.value.lower() in words

    def expect(self, kind: str, message: str) -> _Token:
        if self.peek().kind != kind:
            self.fail(f"{message}, found {_describe(self.peek())}", self.peek())
        return self.take()

    def enter(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING_DEPTH:
            self.fail(f"filter nests deeper than {MAX_NESTING_DEPTH} levels", token)

    def parse(self) -> Node:
        node = self.or_expr()
        if self.peek().kind != "eof":
            self.fail(f"unexpected {_describe(self.peek())}; expected 'and', 'or', ')' "
                      "or the end of the filter", self.peek())
        return node

    def or_expr(self) -> Node:
        items = [self.and_expr()]
        while self.word("or"):
            self.take()
            items.append(self.and_expr())
        # Flattened n-ary nodes keep long chains shallow for the SQL compiler.
        flat = tuple(x for it in items for x in (it.items if isinstance(it, Or) else (it,)))
        return flat[0] if len(flat) == 1 else Or(flat)

    def and_expr(self) -> Node:
        items = [self.not_expr()]
        while self.word("and"):
            self.take()
            items.append(self.not_expr())
        flat = tuple(x for it in items for x in (it.items if isinstance(it, And) else (it,)))
        return flat[0] if len(flat) == 1 else And(flat)

    def not_expr(self) -> Node:
        token = self.peek()
        if self.word("not"):
            self.take()
            self.enter(token)
            node = self.not_expr()
            self.depth -= 1
            # Every compiled comparison is two-valued (see filter_sql), so not-not is identity.
            return node.item if isinstance(node, Not) else Not(node)
        if token.kind == "(":
            self.take()
            self.enter(token)
            node = self.or_expr()
            self.expect(")", f"expected ')' to close the '(' at position {token.pos}")
            self.depth -= 1
            return node
        return self.comparison()

    def operand(self) -> Operand:
        token = self.take()
        if token.kind == "field":
            prefix, key = token.value
            kind = _PREFIXES.get(prefix.lower())
            if kind is None:
                self.fail(f"unknown prefix '{prefix}'; use metrics., params., tags. "
                          "or attributes.", token)
            if kind != "attribute":
                return Operand(kind, key, token.pos)
            name = key
        elif token.kind == "word" and token.value.lower() not in _KEYWORDS:
            name = token.value
        else:
            self.fail(f"expected a field such as metrics.acc, params.model, tags.team or "
                      f"status, found {_describe(token)}", token)
        canonical = _ALIASES.get(name.lower(), name.lower())
        if canonical not in ATTRIBUTES:
            self.fail(f"unknown attribute '{name}'; use metrics.{name}, params.{name} or "
                      f"tags.{name}, or one of: {', '.join(sorted(ATTRIBUTES))}, id", token)
        return Operand("attribute", canonical, token.pos)

    def operator(self) -> tuple[str, _Token]:
        token = self.take()
        if token.kind == "op":
            return token.value, token
        word = token.value.lower() if token.kind == "word" else ""
        if word in ("like", "ilike", "in"):
            return word, token
        if word == "not" and self.word("like", "ilike", "in"):
            return f"not {self.take().value.lower()}", token
        if word == "is":
            negated = self.word("not")
            if negated:
                self.take()
            if not self.word("null"):
                self.fail(f"expected 'null' or 'not null' after 'is', found "
                          f"{_describe(self.peek())}", self.peek())
            self.take()
            return ("is not null" if negated else "is null"), token
        hint = " (use 'not like' or 'not in')" if word == "not" else ""
        self.fail(f"expected an operator (=, !=, <, <=, >, >=, like, ilike, in, is null), "
                  f"found {_describe(token)}{hint}", token)

    def value(self) -> tuple[Any, int]:
        token = self.take()
        if token.kind in ("string", "number"):
            return token.value, token.pos
        hint = "; test for missing values with 'is null'" if (
            token.kind == "word" and token.value.lower() == "null") else ""
        self.fail(f"expected a value (a quoted string or a number), found "
                  f"{_describe(token)}{hint}", token)

    def comparison(self) -> Comparison:
        operand = self.operand()
        op, op_token = self.operator()
        if op in NULL_OPS:
            pairs = []
        elif op in SET_OPS:
            self.expect("(", f"expected '(' after '{op}'")
            if self.peek().kind == ")":
                self.fail(f"'{op} ()' needs at least one value", self.peek())
            pairs = [self.value()]
            while self.peek().kind == ",":
                self.take()
                pairs.append(self.value())
            self.expect(")", "expected ',' or ')' in the value list")
        else:
            pairs = [self.value()]
        values = tuple(v for v, _ in pairs)
        problem = type_error(operand, op, values)
        if problem:
            message, index = problem
            raise FilterSyntaxError(message, self.text,
                                    op_token.pos if index < 0 else pairs[index][1])
        value = None if op in NULL_OPS else values if op in SET_OPS else values[0]
        return Comparison(operand, op, value, operand.position)


def parse_filter(text: str | None) -> Node | None:
    """Parse a ``search_runs`` filter into an AST.

    Parameters
    ----------
    text : str or None
        The filter, e.g. ``"metrics.acc > 0.9 and params.model = 'svc'"``.

    Returns
    -------
    Node or None
        The AST, or None for a missing, empty or all-whitespace filter (every run matches).

    Raises
    ------
    FilterSyntaxError
        If the text is not a valid filter, longer than :data:`MAX_FILTER_LENGTH` or nested
        deeper than :data:`MAX_NESTING_DEPTH`; ``position`` points at the offending token.
    InvalidInputError
        If ``text`` is not a string.
    """
    if text is None:
        return None
    text = _check_text(text, "filter")
    if not text.strip():
        return None
    return _Parser(text).parse()


def compile_filter(node: Node | None) -> ColumnElement[bool]:
    """Compile a parsed filter into a SQLAlchemy boolean expression over :class:`Run`.

    Use it as ``select(Run).where(compile_filter(node))``; keys and values are bound parameters.

    Parameters
    ----------
    node : Node or None
        From :func:`parse_filter`; None compiles to ``true()``.

    Returns
    -------
    ColumnElement[bool]

    Raises
    ------
    InvalidInputError
        If a hand-built node is invalid (e.g. a metric compared with a string).
    """
    from jupyter_mlops.store.filter_sql import compile_node

    return compile_node(node)


def parse_order_terms(items: Sequence[str] | str | None) -> list[tuple[Operand, bool]]:
    """Parse ``order_by`` strings into ``(operand, descending)`` terms, no SQL involved.

    Same input, rules and errors as :func:`parse_order_by`, which compiles these terms;
    tie-breakers are not added here.
    """
    if items is None:
        return []
    if isinstance(items, str):
        items = [items]
    if not isinstance(items, (list, tuple)):
        raise InvalidInputError("order_by must be a string or a list of strings.")
    terms = []
    for item in items:
        if not _check_text(item, "order_by item").strip():
            continue
        parser = _Parser(item)
        while True:
            operand = parser.operand()
            descending = False
            if parser.word("asc", "desc"):
                descending = parser.take().value.lower() == "desc"
            if parser.peek().kind not in (",", "eof"):
                parser.fail(f"expected ASC, DESC or ',', found {_describe(parser.peek())}",
                            parser.peek())
            terms.append((operand, descending))
            if parser.take().kind == "eof":
                break
    return terms


def tie_breakers(terms: Sequence[tuple[Operand, bool]]) -> tuple[bool, bool]:
    """Whether ``start_time DESC`` and ``run_id ASC`` still follow ``terms``.

    The default order (newest first, then run id) ends every order so offset paging is
    stable; a term already naming the field drops its tie-breaker.
    """
    named = {(operand.kind, operand.key) for operand, _ in terms}
    return (("attribute", "start_time") not in named, ("attribute", "run_id") not in named)


def parse_order_by(items: Sequence[str] | str | None) -> list:
    """Turn ``order_by`` strings into SQLAlchemy ``ORDER BY`` clauses.

    Parameters
    ----------
    items : list of str, str or None
        Terms like ``"metrics.acc DESC"``, ``"params.lr"``, ``"start_time ASC"`` or ``"name"``;
        a string may hold several, comma-separated. Direction defaults to ASC. Metric, param
        and tag terms sort by the run's latest metric / the param or tag *string*; runs without
        the key sort last in either direction.

    Returns
    -------
    list
        The requested clauses followed by ``start_time DESC`` and run id as tie-breakers (just
        those two when nothing is requested), so pagination with offsets is stable.

    Raises
    ------
    FilterSyntaxError
        For an unknown field or direction; ``position`` is relative to the offending item.
    InvalidInputError
        If ``items`` is not a string or a list of strings.
    """
    from jupyter_mlops.store.filter_sql import default_order, order_clause

    terms = parse_order_terms(items)
    clauses = [order_clause(operand, descending) for operand, descending in terms]
    start_time, run_id = default_order()
    keep_start, keep_id = tie_breakers(terms)
    return clauses + ([start_time] if keep_start else []) + ([run_id] if keep_id else [])
