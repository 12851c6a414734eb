"""How a ``%mlops`` line is read: the one place that decides its words, keys and values.

Python users write magic lines the way they write Python, so the rules follow Python:

- ``# …`` outside quotes is a comment and is dropped; a ``#`` inside quotes is kept
  (``%mlops param note="a # b"``);
- spacing never changes a word: ``C=0.5``, ``C = 0.5`` and ``C  =0.5`` are the same pair;
- quotes only group: ``"C"=0.5``, ``C="0.5"`` and ``C=0.5`` are the same pair; :func:`pair`
  drops blanks around a key (``" C "=1`` is ``C``), never inside a value.

The splitting is the stdlib's :mod:`shlex` (POSIX rules, ``comments=True``), not a lexer of
our own. The magic parses what :func:`split_line` returns, and the pipeline cache key hashes
what :func:`canonical_line` returns, so two lines that mean the same run the same and share a
cache entry. Only the standard library is imported here: both a front door (the magic) and a
component (the step cache) read it.
"""

from __future__ import annotations

import ast
import io
import shlex
import tokenize
from typing import Any

def split_line(line: str) -> list[str]:
    """The words of a magic line, comments dropped and ``K = V`` joined into ``K=V``.

    Raises
    ------
    ValueError
        Unbalanced quotes (from :func:`shlex.split`); the magic turns it into a UsageError.
    """
    words = shlex.split(line, comments=True)
    return _join_equals(words)


def _join_equals(words: list[str]) -> list[str]:
    """``K = V``, ``K =V`` and ``K= V`` become ``K=V`` (never for ``--options``)."""
    out: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        nxt = words[i + 1] if i + 1 < len(words) else None
        after = words[i + 2] if i + 2 < len(words) else None
        if _is_key(word) and nxt == "=" and after is not None and not after.startswith("-"):
            out.append(f"{word}={after}")  # K = V
            i += 3
        elif _is_key(word) and nxt is not None and nxt.startswith("=") and len(nxt) > 1:
            out.append(word + nxt)  # K =V
            i += 2
        elif (word.endswith("=") and _is_key(word[:-1]) and nxt is not None
              and "=" not in nxt and not nxt.startswith("-")):
            out.append(word + nxt)  # K= V
            i += 2
        else:
            out.append(word)
            i += 1
    return out


def _is_key(word: str) -> bool:
    return bool(word.strip()) and "=" not in word and not word.startswith("-")


def canonical_line(line: str) -> str:
    """One spelling of a magic line: equal for every line :func:`split_line` reads the same.

    A line that does not split (unbalanced quotes) is returned unchanged: it fails when run,
    and its exact text is then the only honest key.
    """
    try:
        return shlex.join(split_line(line))
    except ValueError:
        return line


def pair(word: str) -> tuple[str, str] | None:
    """``"k=v"`` -> ``("k", "v")``; a word without ``=`` (a variable name) -> None.

    Blanks around the key are dropped (they can only come from quotes); the value is kept
    exactly as written.
    """
    key, sep, value = word.partition("=")
    return (key.strip(), value) if sep else None


def literal(text: str) -> Any:
    """``'0.01'`` -> 0.01, ``'true'`` -> True; anything else (``'a # b'``, ``'svc'``) stays text.

    :func:`ast.literal_eval` alone would read ``'1 # note'`` as 1, silently dropping what
    the user quoted; a value with a comment token is therefore always text.
    """
    try:
        if any(tok.type == tokenize.COMMENT
               for tok in tokenize.generate_tokens(io.StringIO(text).readline)):
            return text
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError,
            tokenize.TokenError):
        return {"true": True, "false": False}.get(text.lower(), text)


__all__ = ["canonical_line", "literal", "pair", "split_line"]
