"""MLflow's ``search_experiments`` filter and order: parsed and applied to experiment records.

Experiments are few per store, so filtering happens here on the listed records. The grammar is
MLflow's (``mlflow.utils.search_utils.SearchExperimentsUtils``): comparisons joined by
``AND``; ``name`` with ``= != LIKE ILIKE``; ``creation_time`` and ``last_update_time`` (epoch
ms) with ``= != < <= > >=``; ``tags.<key>`` (the key bare, backquoted or double-quoted) with
the string comparators. ``order_by`` takes ``name``, ``experiment_id``, ``creation_time`` and
``last_update_time``, each optionally ``ASC``/``DESC``; the default order is MLflow's,
newest first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from jupyter_mlops.mlflow_api.errors import invalid

_STRING_OPS = ("=", "!=", "LIKE", "ILIKE")
_NUMBER_OPS = ("=", "!=", "<", "<=", ">", ">=")
_CLAUSE = re.compile(
    r"\s*(?P<field>(?:attributes?\.)?(?:name|creation_time|last_update_time)"
    r"|tags?\.(?:`[^`]{1,250}`|\"[^\"]{1,250}\"|[\w.\-]{1,250}))"
    r"\s*(?P<op>!=|<=|>=|=|<|>|\bNOT\s+ILIKE\b|\bNOT\s+LIKE\b|\bILIKE\b|\bLIKE\b)\s*"
    r"(?P<value>'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|-?\d{1,19})\s*", re.IGNORECASE)
_AND = re.compile(r"\s+AND\s+", re.IGNORECASE)
_ORDER = re.compile(r"\s*(?:attributes?\.)?(name|experiment_id|creation_time|last_update_time)"
                    r"(?:\s+(ASC|DESC))?\s*", re.IGNORECASE)

Getter = Callable[[dict], Any]


def like(pattern: str, text: str, ignore_case: bool) -> bool:
    """SQL ``LIKE``: ``%`` any run of characters, ``_`` one character."""
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL) \
        is not None


def split_clauses(flt: str) -> list[str]:
    """``AND``-joined clauses, not splitting inside quotes (``name = 'a AND b'`` is one).

    Every MLflow-filter route here splits with it (experiments, registered models, model
    versions, logged models).
    """
    parts, quote, start = [], None, 0
    i = 0
    while i < len(flt):
        c = flt[i]
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"`":
            quote = c
        else:
            m = _AND.match(flt, i)
            if m and (i == 0 or flt[i].isspace()):
                parts.append(flt[start:i])
                start = i = m.end()
                continue
        i += 1
    parts.append(flt[start:])
    return parts


def compile_filter(flt: str | None) -> Callable[[dict], bool]:
    """A predicate over an experiment's MLflow JSON; INVALID_PARAMETER_VALUE if unparsable."""
    if not flt or not flt.strip():
        return lambda exp: True
    tests = [_clause(part) for part in split_clauses(flt)]
    return lambda exp: all(t(exp) for t in tests)


def _clause(text: str) -> Callable[[dict], bool]:
    m = _CLAUSE.fullmatch(text)
    if not m:
        raise invalid(
            f"Invalid experiment filter clause {text.strip()[:80]!r}: compare name, "
            "creation_time, last_update_time or tags.<key> (e.g. name LIKE 'exp%' AND "
            "tags.team = 'blue'), joined by AND.")
    field, op = m["field"], re.sub(r"\s+", " ", m["op"].upper())
    raw = m["value"]
    name = field.split(".", 1)[1] if field.lower().startswith(("attribute", "tag")) else field
    if field.lower().startswith("tag"):
        key = name.strip("`\"")
        return _string_test(lambda exp: next((t["value"] for t in exp["tags"]
                                             if t["key"] == key), None), op, raw, field)
    name = name.lower()
    if name == "name":
        return _string_test(lambda exp: exp["name"], op, raw, field)
    if raw[0] in "'\"" or op not in _NUMBER_OPS:
        raise invalid(f"Invalid experiment filter: {name} compares with = != < <= > >= and "
                      "a number (epoch milliseconds).")
    number = int(raw)
    compare = {"=": int.__eq__, "!=": int.__ne__, "<": int.__lt__, "<=": int.__le__,
               ">": int.__gt__, ">=": int.__ge__}[op]
    return lambda exp: compare(int(exp[name]), number)


def _string_test(get: Getter, op: str, raw: str, field: str) -> Callable[[dict], bool]:
    if raw[0] not in "'\"" or op not in (*_STRING_OPS, "NOT LIKE", "NOT ILIKE"):
        raise invalid(f"Invalid experiment filter: {field} compares with = != LIKE ILIKE and "
                      "a quoted string.")
    value = raw[1:-1].replace(raw[0] * 2, raw[0])

    def test(exp: dict) -> bool:
        have = get(exp)
        if have is None:
            return False
        if op == "=":
            return have == value
        if op == "!=":
            return have != value
        hit = like(value, have, "ILIKE" in op)
        return not hit if op.startswith("NOT") else hit

    return test


def order(experiments: list[dict], order_by: list[str]) -> list[dict]:
    """Sorted by ``order_by`` (MLflow's default: creation_time DESC, then experiment_id)."""
    keys: list[tuple[str, bool]] = []
    for text in order_by:
        m = _ORDER.fullmatch(text) if isinstance(text, str) else None
        if not m:
            raise invalid(f"Invalid order_by clause {str(text)[:80]!r}: name, experiment_id, "
                          "creation_time or last_update_time, then ASC or DESC.")
        keys.append((m[1].lower(), (m[2] or "ASC").upper() == "DESC"))
    if not keys:
        keys = [("creation_time", True)]
    if "experiment_id" not in [k for k, _ in keys]:
        keys.append(("experiment_id", False))
    out = list(experiments)
    for field, desc in reversed(keys):  # stable sorts, last key first
        out.sort(key=lambda e: int(e[field]) if field != "name" else e[field], reverse=desc)
    return out
