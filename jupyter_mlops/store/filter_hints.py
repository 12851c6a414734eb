"""Help for a filter that names a key no run has: the closest keys the store does know.

A misspelt key is not an error (``metrics.acc_val > 0.9`` is a valid filter that matches
nothing), so the search still answers; this module says why it is empty. Every comparison on
a key a run lacks is false — ``tags.team != 'x'`` included, as in MLflow — so the hint says
that too, with the filter that does find runs without the key (``tags.team is null``).
"""

from __future__ import annotations

import contextlib
import functools
import threading

# No SQLAlchemy at import: a SQLite file store is asked through lite's sqlite3 connection, so
# a fresh process's first filtered search never imports it (issue 14; lite_search).
from jupyter_mlops.store.filter_ast import And, Comparison, Node, Not, Or

_PREFIX = {"metric": "metrics", "param": "params", "tag": "tags"}
_KEYED = {"metric": "latest_metrics", "param": "params", "tag": "tags"}  # fixed names
#: How many known keys a hint names at most.
MAX_SUGGESTIONS = 3
#: Keys remembered as existing, per store, before the memory starts over.
MAX_CONFIRMED = 10_000

# Keys a store was seen to have: a search repeated with the same good keys (the panel pages,
# widgets refresh) then costs no query. Only presence is remembered: a key deleted later at
# worst loses its hint, a missing key is never taken for a present one.
_confirmed: dict[str, set[tuple[str, str]]] = {}
_confirmed_lock = threading.Lock()


def keyed_operands(node: Node | None) -> dict[str, set[str]]:
    """``{"metric": {"acc"}, "tag": {"team"}}``: the keys a filter compares, by kind."""
    out: dict[str, set[str]] = {}
    stack = [node] if node is not None else []
    while stack:  # iterative: filters may nest up to MAX_NESTING_DEPTH
        item = stack.pop()
        if isinstance(item, Comparison):
            if item.operand.kind in _KEYED:
                out.setdefault(item.operand.kind, set()).add(item.operand.key)
        elif isinstance(item, (And, Or)):
            stack.extend(item.items)
        elif isinstance(item, Not):
            stack.append(item.item)
    return out


@functools.lru_cache(maxsize=256)
def _keys_of_text(text: str) -> tuple[tuple[str, frozenset[str]], ...]:
    from jupyter_mlops.store.filters import parse_filter

    return tuple((kind, frozenset(keys))
                 for kind, keys in keyed_operands(parse_filter(text)).items())


def filter_text_hint(url: str, text: str | None) -> str | None:
    """:func:`unknown_key_hint` of a filter's text (parsed once per distinct text)."""
    if not text:
        return None
    return unknown_key_hint(url, {kind: set(keys) for kind, keys in _keys_of_text(text)})


def unknown_key_hint(url: str, node: Node | dict[str, set[str]] | None) -> str | None:
    """One sentence naming each key of the filter that no run in the store has, or None.

    One index probe per key of the filter, and only when a key does not exist, the store's
    known keys of that kind to suggest from.
    """
    wanted = node if isinstance(node, dict) else keyed_operands(node)
    with _confirmed_lock:
        seen = _confirmed.get(url, set())
        wanted = {kind: {k for k in keys if (kind, k) not in seen}
                  for kind, keys in wanted.items()}
    wanted = {kind: keys for kind, keys in wanted.items() if keys}
    if not wanted:
        return None
    parts = []
    with _key_reader(url) as read:
        for kind in ("metric", "param", "tag"):
            keys = wanted.get(kind)
            if not keys:
                continue
            found = set(read(kind, sorted(keys)))
            _remember(url, kind, found)
            missing = sorted(keys - found)
            if not missing:
                continue
            known = read(kind, None)
            for key in missing:
                parts.append(_sentence(kind, key, known))
    if not parts:
        return None
    return " ".join(parts) + (
        " A run without a key matches no comparison on it, not even != "
        "(use `… is null` to find such runs).")


@contextlib.contextmanager
def _key_reader(url: str):
    """``read(kind, keys)``: the distinct keys of ``kind`` among ``keys`` (all when None)."""
    from jupyter_mlops.store import _pg_lite_serves
    from jupyter_mlops.store.lite import _connection, sqlite_path
    from jupyter_mlops.store.sql_dialects import POSTGRES, SQLITE

    path = sqlite_path(url)
    if path is not None or _pg_lite_serves(url):
        # On the driver's own connection (lite's sqlite3, pg_lite's psycopg): no SQLAlchemy.
        # PostgreSQL plans each probe with its key (prepare=False: see below).
        if path is not None:
            db_read, dialect = _connection(path).read, SQLITE
        else:
            from jupyter_mlops.store.pg_lite import connection

            db_read = functools.partial(connection(url).read, prepare=False)
            dialect = POSTGRES

        def read(kind, keys):
            table = _KEYED[kind]
            if keys is None:
                return [k for (k,) in db_read(f"SELECT DISTINCT {table}.key FROM {table}")]
            # One index probe per key (LIMIT 1): a DISTINCT over `key IN (…)` reads every
            # row holding the key (100,000 at 100 k runs).
            found = []
            for k in keys:
                args: list = []
                if db_read(f"SELECT {table}.key FROM {table} WHERE {table}.key = "
                           f"{dialect.bind(k, args)} LIMIT {dialect.bind(1, args)}", args):
                    found.append(k)
            return found

        yield read
        return
    from sqlalchemy import select

    from jupyter_mlops.store.engine import read_connection
    from jupyter_mlops.store.filter_sql import custom_plans
    from jupyter_mlops.store.orm import LatestMetric, Param, Tag

    columns = {"metric": LatestMetric.key, "param": Param.key, "tag": Tag.key}
    # Planned with the key each time: a generic plan of `key = $1 LIMIT 1` cannot tell a
    # key most rows hold (a scan stops at once) from a misspelt one (an index probe).
    with read_connection(url) as conn, custom_plans(conn):
        def read(kind, keys):
            column = columns[kind]
            if keys is None:
                return list(conn.execute(select(column).distinct()).scalars())
            # One index probe per key (see above): on PostgreSQL the DISTINCT form was a
            # sequential scan of latest_metrics, 73 ms at 100 k runs, in a first search.
            return [k for k in keys
                    if conn.execute(select(column).where(column == k).limit(1)).first()]

        yield read


def _remember(url: str, kind: str, keys: set[str]) -> None:
    with _confirmed_lock:
        seen = _confirmed.setdefault(url, set())
        if len(seen) + len(keys) > MAX_CONFIRMED:
            seen.clear()
        seen.update((kind, k) for k in keys)


def _sentence(kind: str, key: str, known: list[str]) -> str:
    import difflib  # here: only a key no run has needs it, not every first search

    prefix = _PREFIX[kind]
    close = difflib.get_close_matches(key, known, n=MAX_SUGGESTIONS, cutoff=0.6)
    if not close:  # case slips and prefixes difflib's ratio misses: 'ACC', 'val'
        folded = key.casefold()
        close = [k for k in sorted(known) if folded in k.casefold()
                 or k.casefold() in folded][:MAX_SUGGESTIONS]
    if close:
        return (f"No run has {prefix}.{key}; did you mean "
                + ", ".join(f"{prefix}.{k}" for k in close) + "?")
    if known:
        shown = sorted(known)[:10]
        more = f" (and {len(known) - len(shown)} more)" if len(known) > len(shown) else ""
        return (f"No run has {prefix}.{key}; the {kind} keys are "
                + ", ".join(shown) + more + ".")
    return f"No run has {prefix}.{key}: no run has logged any {kind} yet."


__all__ = ["MAX_SUGGESTIONS", "filter_text_hint", "keyed_operands", "unknown_key_hint"]
